// libFuzzer target: Maltrail trail files.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "intel/feeds/feeds.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  omamori::intel::FeedConfig cfg;
  cfg.name = "fuzz";
  const char* name = size && (data[0] & 1) ? "sinkhole_conficker.txt" : "elf_mirai.txt";
  auto r = omamori::intel::parse_maltrail(std::string_view(reinterpret_cast<const char*>(data), size), cfg, name, 1);
  if (r.indicators.size() + r.skipped.total() > r.records) std::abort();
  return 0;
}
