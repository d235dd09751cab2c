#include <gtest/gtest.h>

#include "core/time.hpp"

using namespace omamori;

TEST(Time, FormatsRfc3339Utc) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(1700000000123), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(format_rfc3339(951782400000), "2000-02-29T00:00:00.000Z");
}

TEST(Time, ParsesCommonForms) {
  EXPECT_EQ(parse_time("2023-11-14T22:13:20.123Z"), 1700000000123);
  EXPECT_EQ(parse_time("2023-11-14T22:13:20Z"), 1700000000000);
  EXPECT_EQ(parse_time("2023-11-15T07:13:20+09:00"), 1700000000000);
  EXPECT_EQ(parse_time("2023-11-14 22:13:20"), 1700000000000);
  EXPECT_EQ(parse_time("1700000000"), 1700000000000);
  EXPECT_EQ(parse_time("1700000000.5"), 1700000000500);
  EXPECT_EQ(parse_time("2023-11-14"), 1699920000000);
  EXPECT_FALSE(parse_time("2023-13-14T00:00:00Z"));
  EXPECT_FALSE(parse_time("yesterday"));
  EXPECT_FALSE(parse_time("99999999999999999999999"));  // would overflow
  EXPECT_FALSE(parse_time("2023-11-14T22:13:20Zjunk"));
}
