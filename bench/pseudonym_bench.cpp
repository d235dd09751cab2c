// Pseudonymisation speed: addresses/s (Crypto-PAn, IPv4 and IPv6) and
// subscriber ids/s (HMAC-SHA256), as exports need them. Not a test.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "privacy/pseudonym.hpp"

using omamori::IpAddr;
using omamori::privacy::Pseudonymiser;

namespace {

Pseudonymiser make() {
  std::vector<uint8_t> key(32);
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i * 37 + 11);
  return Pseudonymiser::from_key(key);
}

std::vector<IpAddr> addrs(bool v4, size_t n) {
  std::mt19937_64 rng(1);
  std::vector<IpAddr> v;
  for (size_t i = 0; i < n; ++i) {
    uint8_t b[16];
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    b[0] = static_cast<uint8_t>(0x20 | (b[0] & 0x1f));
    v.push_back(v4 ? IpAddr::v4_bytes(b) : IpAddr::v6_bytes(b));
  }
  return v;
}

void BM_AddressV4(benchmark::State& st) {
  auto p = make();
  auto v = addrs(true, 4096);
  size_t i = 0;
  for (auto _ : st) benchmark::DoNotOptimize(p.address(v[i++ & 4095]));
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}
BENCHMARK(BM_AddressV4);

void BM_AddressV6(benchmark::State& st) {
  auto p = make();
  auto v = addrs(false, 4096);
  size_t i = 0;
  for (auto _ : st) benchmark::DoNotOptimize(p.address(v[i++ & 4095]));
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}
BENCHMARK(BM_AddressV6);

void BM_Subscriber(benchmark::State& st) {
  auto p = make();
  std::vector<std::string> ids;
  for (int i = 0; i < 4096; ++i) ids.push_back("CUST-" + std::to_string(1000000 + i));
  size_t i = 0;
  for (auto _ : st) benchmark::DoNotOptimize(p.subscriber(ids[i++ & 4095]));
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}
BENCHMARK(BM_Subscriber);

}  // namespace

BENCHMARK_MAIN();
