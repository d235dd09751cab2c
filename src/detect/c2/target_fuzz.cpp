// Fuzzes what an analyst types as a C&C decision target (parse_target) and
// the covering rule against candidate destination texts (covers), which
// split address, port and protocol out of text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "detect/c2/target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t cut = in.find('\n');
  std::string_view target = in.substr(0, cut);
  std::string_view dest = cut == std::string_view::npos ? in : in.substr(cut + 1);
  std::string err;
  if (auto t = omamori::c2::parse_target(target, err)) {
    for (auto k : {omamori::c2::DestKind::AddrPort, omamori::c2::DestKind::Domain, omamori::c2::DestKind::NxDomain})
      (void)omamori::c2::covers(*t, dest, k);
    (void)omamori::c2::covers(*t, t->value, omamori::c2::DestKind::AddrPort);
  }
  return 0;
}
