// Keyed pseudonyms for everything that leaves the system (docs/privacy.md,
// "Pseudonymisation").
//
// subscriber(id): "sub-" + 16 hex digits of HMAC-SHA256(k_sub, id) — stable
// for one key, unlinkable without it.
// address(ip): Crypto-PAn prefix-preserving anonymisation with AES-128: two
// addresses sharing their first n bits map to addresses sharing exactly their
// first n bits; a bijection on IPv4 (the 32 bits of an IPv4-mapped address are
// anonymised, the result stays IPv4) and on IPv6 (all 128 bits).
// The three subkeys (k_sub, the AES key, the pad) are derived from one secret
// with HMAC-SHA256 under distinct labels.
//
// A Pseudonymiser is not thread-safe (it keeps one AES context); give each
// thread its own copy.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/ip.hpp"

namespace omamori::privacy {

class Pseudonymiser {
 public:
  static constexpr size_t kKeyBytes = 32;
  static constexpr size_t kMinKeyBytes = 16;

  // Reads the secret from the file; creates it (kKeyBytes random bytes from
  // OpenSSL RAND_bytes, mode 0600, parent directories 0700) when absent.
  // Refuses a key readable or writable by "others", or shorter than 16 bytes.
  // Throws std::runtime_error naming the file.
  static Pseudonymiser from_key_file(const std::string& path);
  // Throws std::invalid_argument when the key is shorter than kMinKeyBytes.
  static Pseudonymiser from_key(std::span<const uint8_t> key);
  // A raw 32-byte Crypto-PAn key as other Crypto-PAn tools take it (AES key =
  // bytes 0-15, pad = AES(bytes 16-31)): addresses then match theirs. The
  // subscriber key is derived from it as in from_key.
  static Pseudonymiser from_cryptopan_key(std::span<const uint8_t, 32> key);

  Pseudonymiser(const Pseudonymiser& o);
  Pseudonymiser& operator=(const Pseudonymiser& o);
  Pseudonymiser(Pseudonymiser&&) noexcept;
  Pseudonymiser& operator=(Pseudonymiser&&) noexcept;
  ~Pseudonymiser();

  // "sub-" + 16 lower-case hex digits.
  std::string subscriber(std::string_view id) const;
  // Prefix-preserving anonymisation of an address (IPv4 stays IPv4).
  IpAddr address(const IpAddr& a) const;
  // The same for a prefix: the anonymised network with the same length.
  Prefix prefix(const Prefix& p) const;

 private:
  Pseudonymiser();
  void init(std::span<const uint8_t> key);

  std::array<uint8_t, 32> sub_key_{};
  std::array<uint8_t, 16> aes_key_{};
  std::array<uint8_t, 16> pad_{};
  struct Cipher;
  std::unique_ptr<Cipher> cipher_;
};

}  // namespace omamori::privacy
