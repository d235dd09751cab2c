// LPM table benchmark (Google Benchmark): builds LpmTable<uint32_t> (prefix ->
// origin ASN) from the full RouteViews-derived tables in ../shared/data/asn
// and measures lookups/s for random and for real (routed) addresses, IPv4 and
// IPv6, plus build time and bytes per prefix.
//
//   lpm_bench [--asn-dir DIR] [google benchmark flags]
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/lpm.hpp"

namespace {

using omamori::IpAddr;
using omamori::LpmTable;
using omamori::Prefix;

std::string g_asn_dir = OMAMORI_SHARED_DATA "/asn";

struct Entry {
  Prefix p;
  uint32_t asn;
};

// "prefix<TAB>asn" lines after ';' comment lines, gzip-compressed.
std::vector<Entry> load(const std::string& path, int family /*4, 6 or 0 = both*/) {
  std::vector<Entry> v;
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) {
    std::fprintf(stderr, "lpm_bench: cannot open %s\n", path.c_str());
    std::exit(1);
  }
  char line[512];
  while (gzgets(f, line, sizeof line)) {
    if (line[0] == ';' || line[0] == '\n') continue;
    char* tab = std::strchr(line, '\t');
    if (!tab) continue;
    auto p = Prefix::parse(std::string_view(line, static_cast<size_t>(tab - line)));
    if (!p) continue;
    if ((family == 4 && !p->is_v4()) || (family == 6 && p->is_v4())) continue;
    v.push_back({*p, static_cast<uint32_t>(std::strtoul(tab + 1, nullptr, 10))});
  }
  gzclose(f);
  return v;
}

struct Tables {
  std::vector<Entry> v4, v6;
  LpmTable<uint32_t> table;
  double build_seconds = 0;
  Tables() {
    v4 = load(g_asn_dir + "/ipasn_20140513.dat.gz", 4);
    v6 = load(g_asn_dir + "/ipasn6_20151101.dat.gz", 6);
    auto t0 = std::chrono::steady_clock::now();
    LpmTable<uint32_t>::Builder b;
    for (const auto& e : v4) b.add(e.p, e.asn);
    for (const auto& e : v6) b.add(e.p, e.asn);
    table = b.build();
    build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
};

Tables& tables() {
  static Tables t;
  return t;
}

constexpr size_t kAddrs = 1 << 20;

// Random addresses: IPv4 over the whole space, IPv6 within 2000::/3 (global unicast).
std::vector<IpAddr> random_addrs(bool v6) {
  std::mt19937_64 rng(1);
  std::vector<IpAddr> a(kAddrs);
  for (auto& x : a) {
    if (!v6) {
      x = IpAddr::v4(static_cast<uint32_t>(rng()));
    } else {
      uint8_t b[16];
      uint64_t h = rng(), l = rng();
      std::memcpy(b, &h, 8);
      std::memcpy(b + 8, &l, 8);
      b[0] = static_cast<uint8_t>(0x20 | (b[0] & 0x1f));
      x = IpAddr::v6_bytes(b);
    }
  }
  return a;
}

// Real addresses: a random host inside a random loaded prefix (what flow data looks like).
std::vector<IpAddr> real_addrs(const std::vector<Entry>& es) {
  std::mt19937_64 rng(2);
  std::vector<IpAddr> a(kAddrs);
  for (auto& x : a) {
    const Entry& e = es[rng() % es.size()];
    IpAddr r = e.p.addr();
    uint8_t* b = r.bytes();
    unsigned first = e.p.len128();
    for (unsigned bit = first; bit < 128; ++bit)
      if (rng() & 1) b[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
    x = r;
  }
  return a;
}

void run_lookups(benchmark::State& state, const std::vector<IpAddr>& addrs) {
  const auto& t = tables().table;
  size_t i = 0, hits = 0;
  for (auto _ : state) {
    const uint32_t* v = t.lookup(addrs[i++ & (kAddrs - 1)]);
    hits += v != nullptr;
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["hit_ratio"] = state.iterations() ? double(hits) / double(state.iterations()) : 0;
}

void BM_Lookup_v4_random(benchmark::State& s) {
  static auto a = random_addrs(false);
  run_lookups(s, a);
}
void BM_Lookup_v4_real(benchmark::State& s) {
  static auto a = real_addrs(tables().v4);
  run_lookups(s, a);
}
void BM_Lookup_v6_random(benchmark::State& s) {
  static auto a = random_addrs(true);
  run_lookups(s, a);
}
void BM_Lookup_v6_real(benchmark::State& s) {
  static auto a = real_addrs(tables().v6);
  run_lookups(s, a);
}

// Reports the table's size figures (one iteration; the work is done once).
void BM_Table(benchmark::State& state) {
  auto& t = tables();
  for (auto _ : state) benchmark::DoNotOptimize(t.table.size());
  state.counters["prefixes_v4"] = double(t.v4.size());
  state.counters["prefixes_v6"] = double(t.v6.size());
  state.counters["intervals"] = double(t.table.intervals());
  state.counters["bytes"] = double(t.table.memory_bytes());
  state.counters["bytes_per_prefix"] = double(t.table.memory_bytes()) / double(t.table.size());
  state.counters["build_s"] = t.build_seconds;
}

BENCHMARK(BM_Table)->Iterations(1);
BENCHMARK(BM_Lookup_v4_random);
BENCHMARK(BM_Lookup_v4_real);
BENCHMARK(BM_Lookup_v6_random);
BENCHMARK(BM_Lookup_v6_real);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--asn-dir") == 0 && i + 1 < argc) {
      g_asn_dir = argv[++i];
      continue;
    }
    rest.push_back(argv[i]);
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  tables();  // load before timing
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
