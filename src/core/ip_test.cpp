#include <gtest/gtest.h>

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
