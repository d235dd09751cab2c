#include "privacy/pseudonym.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "privacy/fileutil.hpp"

namespace omamori::privacy {

struct Pseudonymiser::Cipher {
  EVP_CIPHER_CTX* ctx = nullptr;
  explicit Cipher(const uint8_t* key) {
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), nullptr, key, nullptr) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
      EVP_CIPHER_CTX_free(ctx);
      throw std::runtime_error("OpenSSL: cannot set up AES-128-ECB");
    }
  }
  ~Cipher() { EVP_CIPHER_CTX_free(ctx); }
  Cipher(const Cipher&) = delete;
  Cipher& operator=(const Cipher&) = delete;
  // ECB over whole blocks: out and in hold n*16 bytes.
  void encrypt(const uint8_t* in, uint8_t* out, size_t blocks) {
    int len = 0;
    if (EVP_EncryptUpdate(ctx, out, &len, in, static_cast<int>(blocks * 16)) != 1 ||
        len != static_cast<int>(blocks * 16))
      throw std::runtime_error("OpenSSL: AES-128-ECB failed");
  }
};

namespace {

void hmac_sha256(std::span<const uint8_t> key, std::string_view data, uint8_t out[32]) {
  unsigned len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const uint8_t*>(data.data()),
            data.size(), out, &len) ||
      len != 32)
    throw std::runtime_error("OpenSSL: HMAC-SHA256 failed");
}

}  // namespace

Pseudonymiser::Pseudonymiser() = default;
Pseudonymiser::~Pseudonymiser() = default;
Pseudonymiser::Pseudonymiser(Pseudonymiser&&) noexcept = default;
Pseudonymiser& Pseudonymiser::operator=(Pseudonymiser&&) noexcept = default;

Pseudonymiser::Pseudonymiser(const Pseudonymiser& o)
    : sub_key_(o.sub_key_), aes_key_(o.aes_key_), pad_(o.pad_), cipher_(std::make_unique<Cipher>(aes_key_.data())) {}

Pseudonymiser& Pseudonymiser::operator=(const Pseudonymiser& o) {
  if (this != &o) {
    sub_key_ = o.sub_key_;
    aes_key_ = o.aes_key_;
    pad_ = o.pad_;
    cipher_ = std::make_unique<Cipher>(aes_key_.data());
  }
  return *this;
}

void Pseudonymiser::init(std::span<const uint8_t> key) {
  if (key.size() < kMinKeyBytes)
    throw std::invalid_argument(fmt::format("pseudonymisation key too short: {} bytes, need at least {}", key.size(),
                                            kMinKeyBytes));
  // Independent subkeys, one label each.
  uint8_t buf[32];
  hmac_sha256(key, "omamori/v1/subscriber", sub_key_.data());
  hmac_sha256(key, "omamori/v1/cryptopan-aes-key", buf);
  std::memcpy(aes_key_.data(), buf, 16);
  hmac_sha256(key, "omamori/v1/cryptopan-pad", buf);
  cipher_ = std::make_unique<Cipher>(aes_key_.data());
  // As in Crypto-PAn, the pad is the encryption of the second secret.
  cipher_->encrypt(buf, pad_.data(), 1);
  OPENSSL_cleanse(buf, sizeof buf);
}

Pseudonymiser Pseudonymiser::from_key(std::span<const uint8_t> key) {
  Pseudonymiser p;
  p.init(key);
  return p;
}

Pseudonymiser Pseudonymiser::from_cryptopan_key(std::span<const uint8_t, 32> key) {
  Pseudonymiser p;
  p.init(key);
  std::memcpy(p.aes_key_.data(), key.data(), 16);
  p.cipher_ = std::make_unique<Cipher>(p.aes_key_.data());
  p.cipher_->encrypt(key.data() + 16, p.pad_.data(), 1);
  return p;
}

Pseudonymiser Pseudonymiser::from_key_file(const std::string& path) {
  std::vector<uint8_t> key = read_or_create_secret(path, kKeyBytes, "pseudonymisation key");
  if (key.size() < kMinKeyBytes)
    throw std::runtime_error(fmt::format("pseudonymisation key {}: {} bytes, need at least {}", path, key.size(),
                                         kMinKeyBytes));
  Pseudonymiser p;
  p.init(key);
  OPENSSL_cleanse(key.data(), key.size());
  return p;
}

std::string Pseudonymiser::subscriber(std::string_view id) const {
  uint8_t mac[32];
  hmac_sha256(sub_key_, id, mac);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sub-";
  out.resize(4 + 16);
  for (size_t i = 0; i < 8; ++i) {
    out[4 + 2 * i] = kHex[mac[i] >> 4];
    out[5 + 2 * i] = kHex[mac[i] & 15];
  }
  return out;
}

IpAddr Pseudonymiser::address(const IpAddr& a) const {
  // The n address bits lead the 128-bit block: all 32 bits of IPv4, all 128 of IPv6.
  const bool v4 = a.is_v4();
  const unsigned n = v4 ? 32 : 128;
  const uint8_t* x = a.bytes() + (v4 ? 12 : 0);
  // Block i = the first i bits of the address followed by the pad's bits i..127.
  alignas(16) uint8_t in[128 * 16];
  alignas(16) uint8_t out[128 * 16];
  for (unsigned i = 0; i < n; ++i) {
    uint8_t* b = in + i * 16;
    const unsigned full = i / 8, rem = i % 8;
    std::memcpy(b, x, full);
    std::memcpy(b + full, pad_.data() + full, 16 - full);
    if (rem) {
      const uint8_t hi = static_cast<uint8_t>(0xff00u >> rem);
      b[full] = static_cast<uint8_t>((x[full] & hi) | (pad_[full] & ~hi));
    }
  }
  cipher_->encrypt(in, out, n);
  IpAddr r = a;
  uint8_t* y = r.bytes() + (v4 ? 12 : 0);
  // Bit i of the result = bit i of the address XOR the first bit of block i's ciphertext.
  for (unsigned i = 0; i < n; ++i) y[i / 8] ^= static_cast<uint8_t>((out[i * 16] >> 7) << (7 - i % 8));
  return r;
}

Prefix Pseudonymiser::prefix(const Prefix& p) const { return Prefix(address(p.addr()), p.len()); }

}  // namespace omamori::privacy
