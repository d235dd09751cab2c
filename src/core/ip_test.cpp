#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <random>

#include "core/ip.hpp"

using namespace omamori;

TEST(IpAddr, ParsesAndPrintsBothFamilies) {
  auto a = IpAddr::parse("192.0.2.1");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(a->v4_host_order(), 0xC0000201u);
  EXPECT_EQ(a->str(), "192.0.2.1");
  auto b = IpAddr::parse("2001:db8::1");
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->is_v4());
  EXPECT_EQ(b->str(), "2001:db8::1");
  EXPECT_EQ(IpAddr::parse("[2001:db8::1]"), b);
  EXPECT_FALSE(IpAddr::parse("300.1.1.1"));
  EXPECT_FALSE(IpAddr::parse(""));
  EXPECT_FALSE(IpAddr::parse("1.2.3"));
  EXPECT_FALSE(IpAddr::parse("example.com"));
  EXPECT_LT(*IpAddr::parse("10.0.0.1"), *IpAddr::parse("10.0.0.2"));
}

// IpAddr::format is hand-rolled for speed; it must write what inet_ntop writes.
TEST(IpAddr, FormatMatchesInetNtop) {
  std::mt19937_64 rng(42);
  auto check = [](const uint8_t* b16) {
    IpAddr a = IpAddr::v6_bytes(b16);
    char want[64], got[64];
    if (a.is_v4())
      inet_ntop(AF_INET, b16 + 12, want, sizeof want);
    else
      inet_ntop(AF_INET6, b16, want, sizeof want);
    size_t n = a.format(got);
    ASSERT_EQ(std::string(got, n), std::string(want));
    ASSERT_EQ(got[n], 0);
  };
  uint8_t b[16];
  for (int iter = 0; iter < 200000; ++iter) {
    uint64_t r1 = rng(), r2 = rng(), shape = rng();
    for (int i = 0; i < 8; ++i) {
      b[i] = uint8_t(r1 >> (8 * i));
      b[8 + i] = uint8_t(r2 >> (8 * i));
    }
    // Zero groups in random places (runs, ties, single zeros), small values,
    // IPv4-mapped and IPv4-compatible prefixes.
    for (int g = 0; g < 8; ++g) {
      unsigned s = (shape >> (3 * g)) & 7;
      if (s < 3) b[2 * g] = b[2 * g + 1] = 0;
      else if (s == 3) b[2 * g] = 0;
      else if (s == 4) b[2 * g] = 0, b[2 * g + 1] &= 0x0f;
    }
    unsigned kind = (shape >> 40) & 7;
    if (kind == 0) std::memset(b, 0, 10), b[10] = b[11] = 0xff;            // mapped
    if (kind == 1) std::memset(b, 0, 12);                                  // compatible
    if (kind == 2) std::memset(b, 0, 10), b[10] = b[11] = 0, b[12] = 0;    // ::0.x.y.z
    if (kind == 3) std::memset(b, 0, 14);                                  // ::x
    check(b);
  }
  for (const char* s : {"::", "::1", "1::", "::ffff:1.2.3.4", "::1.2.3.4", "::ffff:0:1.2.3.4", "1:0:0:1::1",
                        "1::1:0:0:1", "0:0:1::", "fe80::1:2:3:4", "0.0.0.0", "255.255.255.255", "10.0.0.1",
                        "2001:db8:0:0:1:0:0:1", "::0.1.2.3", "::ffff:0.0.0.0"}) {
    auto a = IpAddr::parse(s);
    ASSERT_TRUE(a) << s;
    check(a->bytes());
  }
}

TEST(Prefix, ParsesMasksAndContains) {
  auto p = Prefix::parse("10.1.2.3/8");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->str(), "10.0.0.0/8");
  EXPECT_TRUE(p->contains(*IpAddr::parse("10.255.0.1")));
  EXPECT_FALSE(p->contains(*IpAddr::parse("11.0.0.1")));
  EXPECT_FALSE(p->contains(*IpAddr::parse("2001:db8::")));
  auto q = Prefix::parse("2001:db8:abcd::/33");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->str(), "2001:db8:8000::/33");
  EXPECT_FALSE(Prefix::parse("10.0.0.0/33"));
  EXPECT_FALSE(Prefix::parse("10.0.0.0/"));
  EXPECT_FALSE(Prefix::parse("10.0.0.0/8x"));
  EXPECT_EQ(Prefix::parse("192.0.2.7")->len(), 32);
  EXPECT_TRUE(Prefix::parse("10.0.0.0/8")->contains(*Prefix::parse("10.1.0.0/16")));
  EXPECT_FALSE(Prefix::parse("10.1.0.0/16")->contains(*Prefix::parse("10.0.0.0/8")));
}
