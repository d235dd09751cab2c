#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "privacy/pseudonym.hpp"

using namespace omamori;
using namespace omamori::privacy;

namespace {

std::vector<uint8_t> key_of(uint8_t seed) {
  std::vector<uint8_t> k(32);
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(seed * 31 + i * 7);
  return k;
}

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

// Common prefix length in bits over the family's bits (32 or 128).
unsigned cpl(const IpAddr& a, const IpAddr& b) {
  unsigned off = a.is_v4() ? 12 : 0, n = a.is_v4() ? 32 : 128;
  for (unsigned i = 0; i < n; ++i) {
    unsigned byte = off + i / 8, bit = 7 - i % 8;
    if (((a.bytes()[byte] >> bit) & 1) != ((b.bytes()[byte] >> bit) & 1)) return i;
  }
  return n;
}

// A random address of the family, and one sharing exactly `len` leading bits with it.
IpAddr random_addr(std::mt19937_64& rng, bool v4) {
  uint8_t b[16];
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  if (v4) return IpAddr::v4_bytes(b);
  b[0] |= 0x20;  // keep clear of ::ffff:0:0/96
  return IpAddr::v6_bytes(b);
}
IpAddr sibling(std::mt19937_64& rng, const IpAddr& a, unsigned len) {
  IpAddr b = random_addr(rng, a.is_v4());
  unsigned off = a.is_v4() ? 12 : 0, n = a.is_v4() ? 32 : 128;
  for (unsigned i = 0; i < n; ++i) {
    unsigned byte = off + i / 8;
    uint8_t mask = static_cast<uint8_t>(0x80 >> (i % 8));
    bool bit = a.bytes()[byte] & mask;
    if (i == len) bit = !bit;
    else if (i > len) continue;
    b.bytes()[byte] = static_cast<uint8_t>(bit ? (b.bytes()[byte] | mask) : (b.bytes()[byte] & ~mask));
  }
  return b;
}

// Crypto-PAn written bit by bit as in its description: one AES call per bit.
IpAddr textbook(const std::array<uint8_t, 32>& key, const IpAddr& a) {
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), nullptr, key.data(), nullptr);
  EVP_CIPHER_CTX_set_padding(c, 0);
  uint8_t pad[16];
  int len = 0;
  EVP_EncryptUpdate(c, pad, &len, key.data() + 16, 16);
  bool v4 = a.is_v4();
  unsigned n = v4 ? 32 : 128, off = v4 ? 12 : 0;
  IpAddr r = a;
  for (unsigned i = 0; i < n; ++i) {
    uint8_t in[16] = {}, out[16];
    for (unsigned bit = 0; bit < 128; ++bit) {
      uint8_t src = bit < i ? a.bytes()[off + bit / 8] : pad[bit / 8];
      uint8_t m = static_cast<uint8_t>(0x80 >> (bit % 8));
      in[bit / 8] = static_cast<uint8_t>((src & m) ? (in[bit / 8] | m) : (in[bit / 8] & ~m));
    }
    EVP_EncryptUpdate(c, out, &len, in, 16);
    if (out[0] & 0x80) r.bytes()[off + i / 8] ^= static_cast<uint8_t>(0x80 >> (i % 8));
  }
  EVP_CIPHER_CTX_free(c);
  return r;
}

}  // namespace

TEST(Pseudonym, SubscriberIsStableKeyedAndWellFormed) {
  auto p = Pseudonymiser::from_key(key_of(1));
  auto q = Pseudonymiser::from_key(key_of(2));
  std::string s = p.subscriber("CUST-000123");
  ASSERT_EQ(s.size(), 20u);
  EXPECT_EQ(s.substr(0, 4), "sub-");
  EXPECT_EQ(s.find_first_not_of("0123456789abcdef", 4), std::string::npos) << s;
  EXPECT_EQ(p.subscriber("CUST-000123"), s);
  EXPECT_EQ(Pseudonymiser::from_key(key_of(1)).subscriber("CUST-000123"), s);
  EXPECT_NE(q.subscriber("CUST-000123"), s);
  EXPECT_NE(p.subscriber("CUST-000124"), s);
  EXPECT_NE(p.subscriber(""), p.subscriber(" "));
}

TEST(Pseudonym, RejectsShortKey) {
  std::vector<uint8_t> k(15, 1);
  EXPECT_THROW(Pseudonymiser::from_key(k), std::invalid_argument);
}

TEST(Pseudonym, AddressDeterministicKeyedFamilyKept) {
  auto p = Pseudonymiser::from_key(key_of(1));
  auto q = Pseudonymiser::from_key(key_of(2));
  for (const char* s : {"192.0.2.1", "10.1.2.3", "0.0.0.0", "255.255.255.255", "2001:db8::1", "fe80::1", "::1"}) {
    IpAddr a = ip(s);
    IpAddr x = p.address(a);
    EXPECT_EQ(x, p.address(a)) << s;
    EXPECT_EQ(x, Pseudonymiser(p).address(a)) << s;  // a copy gives the same
    EXPECT_NE(x, a) << s;
    EXPECT_NE(x, q.address(a)) << s;
    EXPECT_EQ(x.is_v4(), a.is_v4()) << s;
  }
}

TEST(Pseudonym, MatchesTextbookCryptoPAn) {
  std::array<uint8_t, 32> key{};
  for (size_t i = 0; i < 32; ++i) key[i] = static_cast<uint8_t>(i * 13 + 5);
  auto p = Pseudonymiser::from_cryptopan_key(key);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    IpAddr a = random_addr(rng, i % 2 == 0);
    EXPECT_EQ(p.address(a), textbook(key, a)) << a.str();
  }
}

TEST(Pseudonym, PrefixPreservingV4AndV6) {
  auto p = Pseudonymiser::from_key(key_of(3));
  std::mt19937_64 rng(42);
  for (bool v4 : {true, false}) {
    unsigned n = v4 ? 32 : 128;
    for (int i = 0; i < 3000; ++i) {
      IpAddr a = random_addr(rng, v4);
      unsigned len = static_cast<unsigned>(rng() % n);
      IpAddr b = sibling(rng, a, len);
      ASSERT_EQ(cpl(a, b), len);
      ASSERT_EQ(cpl(p.address(a), p.address(b)), len) << a.str() << " " << b.str();
    }
    // Fully random pairs too (mostly short common prefixes).
    for (int i = 0; i < 3000; ++i) {
      IpAddr a = random_addr(rng, v4), b = random_addr(rng, v4);
      ASSERT_EQ(cpl(p.address(a), p.address(b)), cpl(a, b)) << a.str() << " " << b.str();
    }
  }
  // Prefixes map to prefixes of the same length that contain the mapped addresses.
  Prefix net = *Prefix::parse("198.51.100.0/24");
  Prefix pn = p.prefix(net);
  EXPECT_EQ(pn.len(), 24);
  EXPECT_TRUE(pn.contains(p.address(ip("198.51.100.77"))));
  EXPECT_FALSE(pn.contains(p.address(ip("198.51.101.77"))));
}

TEST(Pseudonym, BijectiveOnSlash16) {
  auto p = Pseudonymiser::from_key(key_of(4));
  std::set<IpAddr> out;
  Prefix first16;
  for (uint32_t i = 0; i < 65536; ++i) {
    IpAddr x = p.address(IpAddr::v4(0x0a010000u | i));
    if (i == 0) first16 = Prefix(x, 16);
    ASSERT_TRUE(first16.contains(x));  // the whole /16 stays in one /16
    out.insert(x);
  }
  EXPECT_EQ(out.size(), 65536u);
  // IPv6: 65536 addresses under one /112.
  std::set<IpAddr> out6;
  IpAddr base = ip("2001:db8:1:2:3:4:5:0");
  for (uint32_t i = 0; i < 65536; ++i) {
    IpAddr a = base;
    a.bytes()[14] = static_cast<uint8_t>(i >> 8);
    a.bytes()[15] = static_cast<uint8_t>(i);
    out6.insert(p.address(a));
  }
  EXPECT_EQ(out6.size(), 65536u);
}

TEST(Pseudonym, KeyFileCreatedOnceWithMode0600) {
  char dir[] = "/tmp/omamori-key-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  std::string path = std::string(dir) + "/sub/dir/pseudonym.key";
  auto p = Pseudonymiser::from_key_file(path);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  ASSERT_EQ(stat((std::string(dir) + "/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // Read back: the same pseudonyms.
  auto q = Pseudonymiser::from_key_file(path);
  EXPECT_EQ(p.subscriber("x"), q.subscriber("x"));
  EXPECT_EQ(p.address(ip("192.0.2.1")), q.address(ip("192.0.2.1")));
  // Another key file, another key.
  auto r = Pseudonymiser::from_key_file(std::string(dir) + "/other.key");
  EXPECT_NE(p.subscriber("x"), r.subscriber("x"));
  // World-readable keys are refused; short keys too.
  chmod(path.c_str(), 0644);
  EXPECT_THROW(Pseudonymiser::from_key_file(path), std::runtime_error);
  std::string shortk = std::string(dir) + "/short.key";
  std::ofstream(shortk) << "0123456789";
  chmod(shortk.c_str(), 0600);
  EXPECT_THROW(Pseudonymiser::from_key_file(shortk), std::runtime_error);
  std::filesystem::remove_all(dir);
}

// The sample of the Crypto-PAn distribution (Xu, Fan, Ammar, Moon): key and
// the first addresses of its sample trace with their anonymised forms.
TEST(Pseudonym, CryptoPAnReferenceSample) {
  const std::array<uint8_t, 32> key = {21,  34,  23,  141, 51,  164, 207, 128, 19,  10, 91, 22, 73,  144, 125, 16,
                                       216, 152, 143, 131, 121, 121, 101, 39,  98,  87, 76, 45, 42,  132, 34,  2};
  auto p = Pseudonymiser::from_cryptopan_key(key);
  EXPECT_EQ(p.address(ip("128.11.68.132")).str(), "135.242.180.132");
  EXPECT_EQ(p.address(ip("129.118.74.4")).str(), "134.136.186.123");
  EXPECT_EQ(p.address(ip("130.132.252.244")).str(), "133.68.164.234");
}
