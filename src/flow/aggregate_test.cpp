#include <gtest/gtest.h>

#include "flow/aggregate.hpp"

using namespace omamori;

TEST(FlowAggregator, TopTalkersByNetworkAndTimeBins) {
  AggregateSpec spec;
  std::string err;
  ASSERT_TRUE(spec.parse_keys("src/24,dport", err)) << err;
  spec.bin_ms = 60000;
  spec.top = 1;
  FlowAggregator agg(spec);
  auto add = [&](const char* src, uint16_t dport, TimeMs t, uint64_t bytes) {
    FlowRecord r;
    r.src = *IpAddr::parse(src);
    r.dport = dport;
    r.start = t;
    r.bytes = bytes;
    r.packets = 1;
    agg.on_flow(r);
  };
  add("10.0.0.1", 80, 1000, 100);
  add("10.0.0.2", 80, 2000, 100);   // same /24 and port: merged
  add("10.0.1.1", 80, 3000, 150);   // other /24, smaller
  add("10.0.1.1", 80, 61000, 5);    // next bin
  auto rows = agg.rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].bin, 0);
  EXPECT_EQ(rows[0].key.src.str(), "10.0.0.0");
  EXPECT_EQ(rows[0].flows, 2u);
  EXPECT_EQ(rows[0].bytes, 200u);
  EXPECT_EQ(rows[1].bin, 60000);
  EXPECT_EQ(rows[1].bytes, 5u);
}

TEST(FlowAggregator, RejectsUnknownKeys) {
  AggregateSpec spec;
  std::string err;
  EXPECT_FALSE(spec.parse_keys("src,colour", err));
  EXPECT_NE(err.find("colour"), std::string::npos);
  EXPECT_FALSE(spec.parse_keys("dport/8", err));
  EXPECT_FALSE(spec.parse_keys("dst/129", err));
}
