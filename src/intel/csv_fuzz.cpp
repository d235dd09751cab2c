// libFuzzer target: CSV feeds. The first byte picks the delimiter, header flag and mapping.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "intel/feeds/feeds.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* kMaps[] = {"value=1", "value=2,category=3,family=4", "value=1,kind=2,tags=3,confidence=4",
                                "value=3,first_seen=1,last_seen=2,expiry=4,reference=5"};
  static const char kDelims[] = {',', ';', '\t', '|'};
  omamori::intel::FeedConfig cfg;
  cfg.name = "fuzz";
  cfg.columns = kMaps[data[0] & 3];
  cfg.delimiter = kDelims[(data[0] >> 2) & 3];
  cfg.header = data[0] & 16;
  omamori::intel::ParseResult r;
  std::string err;
  if (!omamori::intel::parse_csv(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), cfg, 1, r, err))
    std::abort();  // the mappings above are valid
  return 0;
}
