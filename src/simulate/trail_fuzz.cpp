// libFuzzer target: the simulator's reading of a Maltrail trail (the feed
// cut and the choice of the C&C section).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "simulate/sources.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto t = omamori::sim::scan_trail(text);
  // A C&C comes with its address and a port.
  if (!t.c2_domain.empty() && (t.c2_port == 0 || !t.c2_addr.is_v4())) std::abort();
  std::string cut = omamori::sim::trail_cut(text, 16);
  if (cut.size() > text.size() + 200) std::abort();
  return 0;
}
