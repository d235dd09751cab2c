// libFuzzer: FreeRADIUS detail file reader.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "attribution/readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omamori;
  ReadErrors err;
  ReaderOptions o;
  o.subscriber = size % 2 ? SubscriberAttr::kClass : SubscriberAttr::kUserName;
  read_detail(std::string_view(reinterpret_cast<const char*>(data), size), o, [](const AcctEvent&) {}, err);
  return 0;
}
