// Fuzz the DGA scorer (name splitting with the public-suffix cache, features,
// n-gram and hashed-model lookups) and the NXDOMAIN detector on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "detect/dga/model.hpp"
#include "detect/dga/nxdomain.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omamori;
  using namespace omamori::dga;
  std::string err;
  static const Model* model = Model::builtin(err);
  if (!model) __builtin_trap();
  static Scorer scorer(*model);
  static NxDetector det(*model, [] {
    NxConfig c;
    c.memory_limit = 64 * NxDetector::bytes_per_host();
    return c;
  }());
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // Each line is a name; the first byte of a line picks the client and the time step.
  size_t start = 0;
  static int64_t t = 1700000000000;
  while (start <= in.size()) {
    size_t nl = in.find('\n', start);
    std::string_view line = in.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    auto r = scorer.score(line);
    if (!(r.score >= 0.0 && r.score <= 1.0)) __builtin_trap();
    if (r.dga != (r.score >= 0.5) && r.skip == Skip::kNone && r.score != 0.5) __builtin_trap();
    DnsObservation o;
    uint8_t k = line.empty() ? 0 : static_cast<uint8_t>(line[0]);
    t += k * 1000;
    o.time = t;
    o.client = IpAddr::v4(0x0a000000u + k);
    o.qname = line;
    o.rcode = 3;
    o.is_response = true;
    det.on_dns(o);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  // Model parsing on arbitrary bytes must fail cleanly.
  if (size > 8 && data[0] == 'O') {
    auto m = Model::parse(std::span<const uint8_t>(data, size), err);
    (void)m;
  }
  return 0;
}
