// libFuzzer: radacct CSV reader.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "attribution/readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omamori;
  ReadErrors err;
  read_radacct(std::string_view(reinterpret_cast<const char*>(data), size), {}, [](const SessionRow&) {}, err);
  return 0;
}
