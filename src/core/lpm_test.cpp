#include <gtest/gtest.h>

#include <random>

#include "core/lpm.hpp"

using namespace omamori;

namespace {
IpAddr A(const char* s) { return *IpAddr::parse(s); }
Prefix P(const char* s) { return *Prefix::parse(s); }
}  // namespace

TEST(Lpm, LongestPrefixWinsInBothFamilies) {
  LpmTable<int>::Builder b;
  b.add(P("10.0.0.0/8"), 1);
  b.add(P("10.1.0.0/16"), 2);
  b.add(P("10.1.2.0/24"), 3);
  b.add(P("10.1.2.128/25"), 4);
  b.add(P("0.0.0.0/0"), 0);
  b.add(P("2001:db8::/32"), 6);
  b.add(P("2001:db8:1::/48"), 7);
  b.add(P("255.255.255.255/32"), 9);
  auto t = b.build();
  EXPECT_EQ(*t.lookup(A("10.1.2.3")), 3);
  EXPECT_EQ(*t.lookup(A("10.1.2.200")), 4);
  EXPECT_EQ(*t.lookup(A("10.1.3.1")), 2);
  EXPECT_EQ(*t.lookup(A("10.2.0.0")), 1);
  EXPECT_EQ(*t.lookup(A("11.0.0.0")), 0);
  EXPECT_EQ(*t.lookup(A("255.255.255.255")), 9);
  EXPECT_EQ(*t.lookup(A("255.255.255.254")), 0);
  EXPECT_EQ(*t.lookup(A("2001:db8:1::5")), 7);
  EXPECT_EQ(*t.lookup(A("2001:db8:2::5")), 6);
  EXPECT_EQ(t.lookup(A("2001:db9::1")), nullptr);
  EXPECT_EQ(t.size(), 8u);
}

TEST(Lpm, DuplicatePrefixLastAddedWins) {
  LpmTable<int>::Builder b;
  b.add(P("192.0.2.0/24"), 1);
  b.add(P("192.0.2.0/24"), 2);
  auto t = b.build();
  EXPECT_EQ(*t.lookup(A("192.0.2.9")), 2);
  EXPECT_EQ(t.lookup(A("192.0.3.9")), nullptr);
}

TEST(Lpm, EmptyTableFindsNothing) {
  LpmTable<int> t;
  EXPECT_EQ(t.lookup(A("1.2.3.4")), nullptr);
  EXPECT_EQ(t.lookup(A("::1")), nullptr);
}

// Compare against a brute-force scan over random nested prefixes.
TEST(Lpm, AgreesWithBruteForce) {
  std::mt19937 rng(42);
  std::vector<std::pair<Prefix, int>> ps;
  LpmTable<int>::Builder b;
  for (int i = 0; i < 3000; ++i) {
    uint32_t a = (rng() & 0x0fffffff) | 0x0a000000;  // concentrate so prefixes nest
    unsigned len = 8 + rng() % 25;
    Prefix p(IpAddr::v4(a), static_cast<uint8_t>(len));
    ps.emplace_back(p, i);
    b.add(p, i);
    uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
    for (int k = 4; k < 16; ++k) v6[k] = static_cast<uint8_t>(rng() % 4);
    Prefix p6(IpAddr::v6_bytes(v6), static_cast<uint8_t>(32 + rng() % 97));
    ps.emplace_back(p6, 100000 + i);
    b.add(p6, 100000 + i);
  }
  auto t = b.build();
  for (int q = 0; q < 20000; ++q) {
    IpAddr addr;
    if (q % 2) {
      addr = IpAddr::v4((rng() & 0x0fffffff) | 0x0a000000);
    } else {
      uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
      for (int k = 4; k < 16; ++k) v6[k] = static_cast<uint8_t>(rng() % 4);
      addr = IpAddr::v6_bytes(v6);
    }
    int best = -1;
    int best_len = -1;
    for (auto& [p, v] : ps) {
      // Later duplicates win, so use >= on equal length.
      if (p.contains(addr) && static_cast<int>(p.len()) >= best_len) {
        best_len = p.len();
        best = v;
      }
    }
    const int* got = t.lookup(addr);
    if (best < 0) {
      EXPECT_EQ(got, nullptr) << addr.str();
    } else {
      ASSERT_NE(got, nullptr) << addr.str();
      EXPECT_EQ(*got, best) << addr.str();
    }
  }
}
