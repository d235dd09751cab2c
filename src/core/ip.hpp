// IPv4/IPv6 addresses and prefixes: parse, print, compare.
//
// An IpAddr is always 16 bytes in network order; IPv4 addresses are held as
// IPv4-mapped IPv6 (::ffff:a.b.c.d) so that one type, one hash and one
// comparison serve both families. Prefix lengths of IPv4 prefixes are stored
// as their IPv4 length (0-32) together with the family.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace omamori {

class IpAddr {
 public:
  constexpr IpAddr() = default;

  static IpAddr v4(uint32_t host_order) {
    IpAddr a;
    a.b_[10] = 0xff;
    a.b_[11] = 0xff;
    a.b_[12] = static_cast<uint8_t>(host_order >> 24);
    a.b_[13] = static_cast<uint8_t>(host_order >> 16);
    a.b_[14] = static_cast<uint8_t>(host_order >> 8);
    a.b_[15] = static_cast<uint8_t>(host_order);
    return a;
  }
  // From 4 bytes in network order.
  static IpAddr v4_bytes(const uint8_t* p) {
    IpAddr a;
    a.b_[10] = 0xff;
    a.b_[11] = 0xff;
    std::memcpy(&a.b_[12], p, 4);
    return a;
  }
  // From 16 bytes in network order.
  static IpAddr v6_bytes(const uint8_t* p) {
    IpAddr a;
    std::memcpy(a.b_.data(), p, 16);
    return a;
  }

  static std::optional<IpAddr> parse(std::string_view s);

  bool is_v4() const {
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint64_t a, ka;
    uint32_t b, kb;
    std::memcpy(&a, b_.data(), 8);
    std::memcpy(&b, b_.data() + 8, 4);
    std::memcpy(&ka, kMapped, 8);
    std::memcpy(&kb, kMapped + 8, 4);
    return a == ka && b == kb;
  }
  bool is_unspecified() const {
    for (auto c : b_)
      if (c) return false;
    return true;
  }
  // Zero value (no address): all 16 bytes zero.
  bool empty() const { return is_unspecified(); }
  uint32_t v4_host_order() const {
    return (uint32_t(b_[12]) << 24) | (uint32_t(b_[13]) << 16) | (uint32_t(b_[14]) << 8) | b_[15];
  }
  const uint8_t* bytes() const { return b_.data(); }
  uint8_t* bytes() { return b_.data(); }
  uint64_t hi() const;  // first 8 bytes as big-endian integer
  uint64_t lo() const;  // last 8 bytes as big-endian integer

  // Writes the textual form into buf (needs 46 bytes); returns length.
  size_t format(char* buf) const;
  std::string str() const;

  auto operator<=>(const IpAddr&) const = default;
  // Two 8-byte compares: the defaulted == calls memcmp, and every hash table
  // keyed by an address compares keys on each lookup.
  bool operator==(const IpAddr& o) const {
    uint64_t a[2], b[2];
    std::memcpy(a, b_.data(), 16);
    std::memcpy(b, o.b_.data(), 16);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0;
  }

  template <typename H>
  friend H AbslHashValue(H h, const IpAddr& a) {
    return H::combine_contiguous(std::move(h), a.b_.data(), a.b_.size());
  }

 private:
  std::array<uint8_t, 16> b_{};
};
static_assert(sizeof(IpAddr) == 16);

class Prefix {
 public:
  Prefix() = default;
  // len is the family's own length (0-32 for IPv4, 0-128 for IPv6). Host bits are cleared.
  Prefix(IpAddr addr, uint8_t len);

  static std::optional<Prefix> parse(std::string_view s);  // "a.b.c.d/n", "x::/n", bare address = host prefix

  const IpAddr& addr() const { return addr_; }
  uint8_t len() const { return len_; }                    // family length
  uint8_t len128() const { return addr_.is_v4() ? len_ + 96 : len_; }  // length in the 128-bit space
  bool is_v4() const { return addr_.is_v4(); }
  bool contains(const IpAddr& a) const;
  bool contains(const Prefix& p) const { return p.len128() >= len128() && contains(p.addr_); }
  std::string str() const;

  auto operator<=>(const Prefix&) const = default;
  bool operator==(const Prefix&) const = default;

  template <typename H>
  friend H AbslHashValue(H h, const Prefix& p) {
    return H::combine(std::move(h), p.addr_, p.len_);
  }

 private:
  IpAddr addr_{};
  uint8_t len_ = 0;
};

// Clears all bits after the first len128 bits.
IpAddr mask_addr(const IpAddr& a, unsigned len128);

}  // namespace omamori
