#include "core/ip.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace omamori {

namespace {
uint64_t load_be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
}  // namespace

uint64_t IpAddr::hi() const { return load_be64(b_.data()); }
uint64_t IpAddr::lo() const { return load_be64(b_.data() + 8); }

std::optional<IpAddr> IpAddr::parse(std::string_view s) {
  char buf[64];
  if (s.empty() || s.size() >= sizeof(buf)) return std::nullopt;
  // Accept "[v6]" as written in URLs and host:port pairs.
  if (s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = 0;
  uint8_t out[16];
  if (s.find(':') == std::string_view::npos) {
    if (inet_pton(AF_INET, buf, out) == 1) return v4_bytes(out);
    return std::nullopt;
  }
  if (inet_pton(AF_INET6, buf, out) == 1) return v6_bytes(out);
  return std::nullopt;
}

size_t IpAddr::format(char* buf) const {
  if (is_v4()) {
    inet_ntop(AF_INET, b_.data() + 12, buf, 46);
  } else {
    inet_ntop(AF_INET6, b_.data(), buf, 46);
  }
  return std::strlen(buf);
}

std::string IpAddr::str() const {
  char buf[64];
  size_t n = format(buf);
  return std::string(buf, n);
}

IpAddr mask_addr(const IpAddr& a, unsigned len128) {
  IpAddr r = a;
  uint8_t* b = r.bytes();
  for (unsigned i = 0; i < 16; ++i) {
    unsigned bit = i * 8;
    if (bit >= len128) {
      b[i] = 0;
    } else if (bit + 8 > len128) {
      b[i] &= static_cast<uint8_t>(0xff00u >> (len128 - bit));
    }
  }
  return r;
}

Prefix::Prefix(IpAddr addr, uint8_t len) {
  unsigned max = addr.is_v4() ? 32 : 128;
  if (len > max) len = static_cast<uint8_t>(max);
  len_ = len;
  addr_ = mask_addr(addr, addr.is_v4() ? len + 96u : len);
}

bool Prefix::contains(const IpAddr& a) const {
  if (a.is_v4() != addr_.is_v4()) return false;
  return mask_addr(a, len128()) == addr_;
}

std::optional<Prefix> Prefix::parse(std::string_view s) {
  auto slash = s.find('/');
  auto addr = IpAddr::parse(s.substr(0, slash));
  if (!addr) return std::nullopt;
  unsigned max = addr->is_v4() ? 32 : 128;
  unsigned len = max;
  if (slash != std::string_view::npos) {
    auto rest = s.substr(slash + 1);
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), len);
    if (ec != std::errc() || p != rest.data() + rest.size() || rest.empty() || len > max) return std::nullopt;
  }
  return Prefix(*addr, static_cast<uint8_t>(len));
}

std::string Prefix::str() const { return addr_.str() + "/" + std::to_string(len_); }

}  // namespace omamori
