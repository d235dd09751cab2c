#include <gtest/gtest.h>

#include "core/bytes.hpp"

using namespace omamori;

TEST(ByteReader, ReadsBigEndianAndFailsPastEnd) {
  const uint8_t buf[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
  ByteReader r(buf, sizeof(buf));
  EXPECT_EQ(r.u16(), 0x0102);
  EXPECT_EQ(r.u32(), 0x03040506u);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.u16(), 0);
  EXPECT_TRUE(r.failed());
  EXPECT_EQ(r.u8(), 0);  // stays failed
  ByteReader s(buf, sizeof(buf));
  auto sub = s.sub(3);
  EXPECT_EQ(sub.size(), 3u);
  EXPECT_EQ(s.offset(), 3u);
  auto bad = s.sub(10);
  EXPECT_TRUE(bad.failed());
  EXPECT_TRUE(s.failed());
  EXPECT_EQ(load_be_n(buf, 3), 0x010203u);
}
