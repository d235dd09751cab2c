#include "detect/ddos/group_spec.hpp"

#include <gtest/gtest.h>

using namespace omamori;
using namespace omamori::ddos;

TEST(DdosGroupSpec, NamePrefixesAndKeys) {
  Thresholds defaults{20000, 1000000000, 3500};
  std::string err;
  auto g = parse_group_spec(
      "web = 192.0.2.0/25, 2001:db8:1::/48 ; pps=50000; bps=2e9; baseline=4; baseline-min-pps=500; warmup=60; "
      "prefix-pps=200000",
      defaults, err);
  ASSERT_TRUE(g) << err;
  EXPECT_EQ(g->name, "web");
  ASSERT_EQ(g->prefixes.size(), 2u);
  EXPECT_EQ(g->prefixes[0].str(), "192.0.2.0/25");
  EXPECT_EQ(g->prefixes[1].str(), "2001:db8:1::/48");
  EXPECT_EQ(g->host.pps, 50000u);
  EXPECT_EQ(g->host.bps, 2000000000u);
  EXPECT_EQ(g->host.fps, 3500u) << "a key not given keeps the default";
  EXPECT_DOUBLE_EQ(g->host.baseline_factor, 4.0);
  EXPECT_EQ(g->host.baseline_min_pps, 500u);
  EXPECT_EQ(g->host.baseline_warmup_ms, 60000);
  EXPECT_EQ(g->prefix.pps, 200000u);
  EXPECT_EQ(g->prefix.bps, 0u) << "prefix thresholds start at zero (off)";
}

TEST(DdosGroupSpec, DefaultsWhenNoKeysAndZeroTurnsOff) {
  Thresholds defaults{100, 0, 0};
  defaults.baseline_factor = 3;
  std::string err;
  auto g = parse_group_spec("dns=198.51.100.53/32", defaults, err);
  ASSERT_TRUE(g) << err;
  EXPECT_EQ(g->host.pps, 100u);
  EXPECT_DOUBLE_EQ(g->host.baseline_factor, 3.0);
  auto h = parse_group_spec("dns=198.51.100.53/32;pps=0", defaults, err);
  ASSERT_TRUE(h) << err;
  EXPECT_EQ(h->host.pps, 0u);
}

TEST(DdosGroupSpec, MalformedSpecsSayWhatIsWrong) {
  Thresholds d;
  std::string err;
  EXPECT_FALSE(parse_group_spec("192.0.2.0/24", d, err));
  EXPECT_NE(err.find("NAME=PREFIX"), std::string::npos) << err;
  EXPECT_FALSE(parse_group_spec("=192.0.2.0/24", d, err));
  EXPECT_FALSE(parse_group_spec("web=192.0.2.300/24", d, err));
  EXPECT_NE(err.find("192.0.2.300/24"), std::string::npos) << err;
  EXPECT_FALSE(parse_group_spec("web=192.0.2.0/24;pps", d, err));
  EXPECT_FALSE(parse_group_spec("web=192.0.2.0/24;pps=-5", d, err));
  EXPECT_FALSE(parse_group_spec("web=192.0.2.0/24;pps=1k", d, err));
  EXPECT_FALSE(parse_group_spec("web=192.0.2.0/24;pps=inf", d, err));
  EXPECT_FALSE(parse_group_spec("web=192.0.2.0/24;ppx=5", d, err));
  EXPECT_NE(err.find("unknown key 'ppx'"), std::string::npos) << err;
  EXPECT_FALSE(parse_group_spec("web=192.0.2.0/24;prefix-foo=5", d, err));
  EXPECT_NE(err.find("prefix-foo"), std::string::npos) << err;
}

// A group spec drives the detector: a per-group threshold and a carpet-bombing
// prefix threshold, each crossing its own.
TEST(DdosGroupSpec, GroupsDriveTheDetector) {
  std::string err;
  Config cfg;
  auto small = parse_group_spec("small=10.1.0.0/24;pps=100", cfg.default_host, err);
  auto big = parse_group_spec("big=10.2.0.0/24;pps=100000;prefix-pps=500", cfg.default_host, err);
  ASSERT_TRUE(small && big) << err;
  cfg.groups = {*small, *big};
  Detector d(cfg);
  FlowRecord r;
  r.proto = 17;
  r.packets = 1;
  r.bytes = 100;
  r.src = *IpAddr::parse("203.0.113.9");
  // 200 packets in one second to one host of "small": an attack on that host.
  for (int i = 0; i < 200; ++i) {
    r.start = r.end = 1000 + i;
    r.dst = *IpAddr::parse("10.1.0.7");
    d.on_flow(r);
  }
  // 600 packets spread over 200 hosts of "big" (3 each): no host attack, the /24 as a whole is one.
  for (int i = 0; i < 600; ++i) {
    r.start = r.end = 1500 + i / 2;
    r.dst = *IpAddr::parse("10.2.0." + std::to_string(i % 200));
    d.on_flow(r);
  }
  d.finish();
  ASSERT_EQ(d.attacks().size(), 2u);
  EXPECT_EQ(d.attacks()[0].target.str(), "10.1.0.7");
  EXPECT_EQ(d.attacks()[0].group, "small");
  EXPECT_EQ(d.attacks()[1].target.str(), "10.2.0.0");
  EXPECT_EQ(d.attacks()[1].prefix_len, 24);
  EXPECT_EQ(d.attacks()[1].group, "big");
}
