#include "detect/c2/discovery.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace omamori;
using namespace omamori::c2;

TEST(Hypergeometric, TailMatchesDirectComputation) {
  // N=20, K=5, n=4: P(X>=3) = [C(5,3)C(15,1) + C(5,4)C(15,0)] / C(20,4) = (150+5)/4845
  EXPECT_NEAR(std::exp(Discovery::log_hypergeom_tail(20, 5, 4, 3)), 155.0 / 4845.0, 1e-12);
  EXPECT_DOUBLE_EQ(Discovery::log_hypergeom_tail(20, 5, 4, 0), 0.0);
  EXPECT_EQ(Discovery::log_hypergeom_tail(20, 5, 4, 5), -INFINITY);
  // Large populations stay finite.
  // All 10 of 10 contacts among 100 suspected in a million: prod (100-i)/(1e6-i).
  double expect = 0;
  for (int i = 0; i < 10; ++i) expect += std::log((100.0 - i) / (1e6 - i));
  EXPECT_NEAR(Discovery::log_hypergeom_tail(1000000, 100, 10, 10), expect, 1e-6);
}

TEST(Discovery, SharedUnlistedDestinationRanksFirstPopularNever) {
  Config cfg;
  cfg.infrastructure.push_back(*Prefix::parse("192.0.2.53/32"));
  Discovery d(cfg);
  // 2000 hosts; all use the resolver and a popular CDN; each visits a few random sites.
  for (uint32_t h = 0; h < 2000; ++h) {
    IpAddr host = IpAddr::v4(0x0a000000 + h);
    d.add_flow(host, *IpAddr::parse("192.0.2.53"), 443, 6, h);
    d.add_flow(host, *IpAddr::parse("198.51.100.80"), 443, 6, h);
    d.add_contact(host, DestKind::Domain, "popular.example", h);
    for (uint32_t j = 0; j < 3; ++j) d.add_contact(host, DestKind::Domain, "site" + std::to_string((h * 7 + j * 13) % 500) + ".example", h);
  }
  // Eight infected hosts (with findings) share one unlisted destination; two clean hosts too.
  for (uint32_t h = 0; h < 8; ++h) {
    IpAddr host = IpAddr::v4(0x0a000000 + h * 200);
    d.set_suspected(host);
    d.add_flow(host, *IpAddr::parse("203.0.113.66"), 6667, 6, 5000 + h);
    d.add_flow(host, *IpAddr::parse("198.51.100.80"), 443, 6, 5000 + h);
  }
  d.add_flow(IpAddr::v4(0x0a000001), *IpAddr::parse("203.0.113.66"), 6667, 6, 9000);
  d.add_flow(IpAddr::v4(0x0a000002), *IpAddr::parse("203.0.113.66"), 6667, 6, 9001);
  auto c = d.candidates();
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c[0].dest, "203.0.113.66:6667/tcp");
  EXPECT_EQ(c[0].suspected_hosts, 8u);
  EXPECT_EQ(c[0].hosts, 10u);
  EXPECT_LT(c[0].q_value, 1e-6);
  for (const auto& x : c) {
    EXPECT_NE(x.dest, "198.51.100.80:443/tcp");
    EXPECT_NE(x.dest, "popular.example");
    EXPECT_NE(x.dest, "192.0.2.53:443/tcp");
  }
  FindingCollector fc;
  candidate_findings(c, fc);
  EXPECT_EQ(fc.findings[0].host.str(), "203.0.113.66");
  EXPECT_EQ(fc.findings[0].type, "c2-candidate");
}

TEST(Discovery, AllowlistedNamesAndTooFewHostsAreNotCandidates) {
  Config cfg;
  cfg.allow_domains = {"update.example"};
  Discovery d(cfg);
  for (uint32_t h = 0; h < 500; ++h) d.add_contact(IpAddr::v4(h), DestKind::Domain, "noise" + std::to_string(h), 0);
  for (uint32_t h = 0; h < 6; ++h) {
    d.set_suspected(IpAddr::v4(h));
    d.add_contact(IpAddr::v4(h), DestKind::Domain, "cdn.update.example", 0);
  }
  for (uint32_t h = 0; h < 2; ++h) d.add_contact(IpAddr::v4(h), DestKind::NxDomain, "qwxkzj.example", 0);
  EXPECT_TRUE(d.candidates().empty());
}
