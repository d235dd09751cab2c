// Fuzzes address, prefix and time parsing (used by every config and feed parser).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/ip.hpp"
#include "core/time.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  if (auto a = omamori::IpAddr::parse(s)) {
    auto back = omamori::IpAddr::parse(a->str());
    if (!back || *back != *a) __builtin_trap();
  }
  if (auto p = omamori::Prefix::parse(s)) {
    auto back = omamori::Prefix::parse(p->str());
    if (!back || *back != *p) __builtin_trap();
  }
  if (auto t = omamori::parse_time(s)) (void)omamori::format_rfc3339(*t);
  return 0;
}
