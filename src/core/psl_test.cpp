#include "core/psl.hpp"

#include <gtest/gtest.h>

using namespace omamori;

TEST(Psl, RegisteredDomainsAndSuffixes) {
  EXPECT_EQ(registered_domain("a.b.example.co.jp"), "example.co.jp");
  EXPECT_EQ(registered_domain("www.example.com"), "example.com");
  EXPECT_EQ(registered_domain("co.jp"), "");
  EXPECT_EQ(registered_domain("com"), "");
  EXPECT_TRUE(is_public_suffix("co.jp"));
  EXPECT_TRUE(is_public_suffix("com"));
  EXPECT_FALSE(is_public_suffix("example.co.jp"));
  EXPECT_EQ(registered_label("x.y.kq0qw6o2siwq.org"), "kq0qw6o2siwq");
  EXPECT_EQ(registered_label("blogspot.com"), "");  // a private public suffix
  EXPECT_EQ(registered_domain("user.blogspot.com"), "user.blogspot.com");
}
