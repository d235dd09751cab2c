// libFuzzer target: rewriting addresses in captured frames (the real
// captures woven into the demo bundle may be anything).
#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

#include "simulate/packets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using omamori::IpAddr;
  std::vector<uint8_t> frame(data, data + size);
  const std::pair<IpAddr, IpAddr> map[] = {{IpAddr::v4(0x0a0a0a0a), IpAddr::v4(0xc00002c3)},
                                           {IpAddr::v4(0xc0a80001), IpAddr::v4(0xc0000235)}};
  int n = omamori::sim::rewrite_ipv4(frame, map);
  if (n > 2 || frame.size() != size) std::abort();
  if (n < 0 && !std::equal(frame.begin(), frame.end(), data)) std::abort();
  omamori::sim::set_macs(frame, omamori::sim::Dir::Up);
  return 0;
}
