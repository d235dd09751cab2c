// libFuzzer target: plain indicator lists.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "intel/feeds/feeds.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  omamori::intel::FeedConfig cfg;
  cfg.name = "fuzz";
  auto r = omamori::intel::parse_plain(std::string_view(reinterpret_cast<const char*>(data), size), cfg, 1);
  for (const auto& i : r.indicators)
    if (i.value.empty()) std::abort();
  return 0;
}
