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

namespace {
// Dotted quad of p[0..3]; returns the end.
char* put_v4(const uint8_t* p, char* o) {
  for (int i = 0; i < 4; ++i) {
    unsigned v = p[i];
    if (v >= 100) {
      *o++ = char('0' + v / 100);
      *o++ = char('0' + v / 10 % 10);
    } else if (v >= 10) {
      *o++ = char('0' + v / 10);
    }
    *o++ = char('0' + v % 10);
    *o++ = '.';
  }
  return o - 1;
}
}  // namespace

// The same text as glibc's inet_ntop (checked against it in ip_test.cpp),
// without its sprintf calls: RFC 5952 (lowercase hex, no leading zeros, the
// first longest run of two or more zero groups as "::"), and "::a.b.c.d"
// for IPv4-compatible addresses as inet_ntop writes them.
size_t IpAddr::format(char* buf) const {
  char* o = buf;
  if (is_v4()) {
    o = put_v4(b_.data() + 12, o);
    *o = 0;
    return size_t(o - buf);
  }
  unsigned w[8];
  for (int i = 0; i < 8; ++i) w[i] = (unsigned(b_[2 * i]) << 8) | b_[2 * i + 1];
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (w[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && w[j] == 0) ++j;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best = -1;
  static const char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 8; ++i) {
    if (best >= 0 && i >= best && i < best + best_len) {
      if (i == best) *o++ = ':';
      continue;
    }
    if (i != 0) *o++ = ':';
    if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff))) {
      o = put_v4(b_.data() + 12, o);
      *o = 0;
      return size_t(o - buf);
    }
    unsigned v = w[i];
    if (v >= 0x1000) *o++ = kHex[v >> 12];
    if (v >= 0x100) *o++ = kHex[(v >> 8) & 15];
    if (v >= 0x10) *o++ = kHex[(v >> 4) & 15];
    *o++ = kHex[v & 15];
  }
  if (best >= 0 && best + best_len == 8) *o++ = ':';
  *o = 0;
  return size_t(o - buf);
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
