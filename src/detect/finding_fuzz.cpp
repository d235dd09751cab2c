// libFuzzer target: finding_from_json on arbitrary input; what parses must print and re-parse to the same JSON.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "detect/finding.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  omamori::Finding f;
  const char* why = nullptr;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (!omamori::finding_from_json(in, f, &why)) {
    if (!why) std::abort();
    return 0;
  }
  std::string once = omamori::finding_to_json(f);
  omamori::Finding g;
  if (!omamori::finding_from_json(once, g, &why)) std::abort();
  if (omamori::finding_to_json(g) != once) std::abort();
  return 0;
}
