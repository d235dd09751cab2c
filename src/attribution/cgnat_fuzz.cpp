// libFuzzer: CGNAT port-block log reader (generic CSV and JSERVICES syslog
// lines); every event read is also put through an index build and lookups.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "attribution/readers.hpp"
#include "attribution/session_index.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omamori;
  ReadErrors err;
  IndexBuilder b;
  std::vector<PortBlockEvent> ev;
  read_cgnat(std::string_view(reinterpret_cast<const char*>(data), size), {}, [&](const PortBlockEvent& e) {
    PortBlockRow r;
    r.inside = e.inside;
    r.outside = e.outside;
    r.port_lo = e.port_lo;
    r.port_hi = e.port_hi;
    r.start = e.time;
    b.add(r);
    ev.push_back(e);
  }, err);
  auto idx = b.build();
  AttributionRef ref;
  for (const auto& e : ev) idx->lookup(e.outside, e.port_lo, e.time, ref);
  return 0;
}
