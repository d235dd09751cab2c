#include "detect/c2/discovery.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
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

TEST(ContactStore, RadixSortMatchesStdSort) {
  std::vector<uint64_t> v, tmp;
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 20000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    // Mixed widths: some passes have a single digit value, some not.
    v.push_back(i % 3 == 0 ? x : i % 3 == 1 ? (x & 0xffffffff) : (x >> 20) << 32 | (x & 0xff));
  }
  auto expect = v;
  std::sort(expect.begin(), expect.end());
  ContactStore::radix_sort(v, tmp);
  EXPECT_EQ(v, expect);
}

TEST(ContactStore, MergesDistinctKeysAcrossRounds) {
  ContactStore s;
  std::vector<uint64_t> news;
  auto keep_all = [&](uint64_t k, bool is_new) {
    if (is_new) news.push_back(k);
    return true;
  };
  for (uint64_t i = 0; i < 5000; ++i) s.add((i % 50 + 1) << 32 | (i * 7919 % 1000));
  s.merge(keep_all);
  size_t first = s.size();
  EXPECT_EQ(news.size(), first);
  news.clear();
  // Again the same keys plus 3 new ones, one below and one above everything.
  for (uint64_t i = 0; i < 5000; ++i) s.add((i % 50 + 1) << 32 | (i * 7919 % 1000));
  s.add(5);
  s.add(uint64_t{7} << 32 | 123456);
  s.add(uint64_t{1} << 60);
  s.merge(keep_all);
  EXPECT_EQ(s.size(), first + 3);
  EXPECT_EQ(news, (std::vector<uint64_t>{5, uint64_t{7} << 32 | 123456, uint64_t{1} << 60}));
  std::vector<uint64_t> all;
  s.for_each([&](uint64_t k) { all.push_back(k); });
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  EXPECT_EQ(all.size(), s.size());
  // Dropping every key of one prefix.
  s.merge([](uint64_t k, bool) { return (k >> 32) != 7; });
  size_t left = 0;
  s.for_each([&](uint64_t k) { left += (k >> 32) == 7; });
  EXPECT_EQ(left, 0u);
}

namespace {
IpAddr h4(uint32_t i) { return IpAddr::v4(0x0a000000 + i); }
// 8 suspected hosts share one unlisted destination at time t0; 2000 hosts make the population.
void plant(Discovery& d, TimeMs t0) {
  for (uint32_t h = 0; h < 2000; ++h) d.add_contact(h4(h), DestKind::Domain, "popular.example", t0);
  for (uint32_t h = 0; h < 8; ++h) {
    d.set_suspected(h4(h * 100));
    d.add_flow(h4(h * 100), *IpAddr::parse("203.0.113.66"), 6667, 6, t0 + h);
  }
}
}  // namespace

TEST(Discovery, DestinationLimitEvictsSingleHostOnesAndKeepsTheCandidate) {
  Config cfg;
  cfg.max_destinations = 1000;
  Discovery d(cfg);
  plant(d, 0);
  // 20,000 one-off destinations (P2P peers, typos) from random hosts.
  for (uint32_t i = 0; i < 20000; ++i)
    d.add_flow(h4(i % 2000), IpAddr::v4(0x50000000 + i), static_cast<uint16_t>(1024 + i % 50000), 17, 1000 + i);
  EXPECT_LE(d.destinations(), 1000u);
  EXPECT_GE(d.evicted_destinations(), 19000u);
  EXPECT_EQ(d.counters().count("c2 destination evicted (max_destinations/max_contacts reached)"),
            d.evicted_destinations());
  EXPECT_EQ(d.counters().count("c2 destination not tracked (max_destinations)"), 0u);
  auto c = d.candidates();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].dest, "203.0.113.66:6667/tcp");
  EXPECT_EQ(c[0].suspected_hosts, 8u);
  EXPECT_EQ(c[0].hosts, 8u);
  EXPECT_EQ(c[0].first, 0);
  EXPECT_EQ(c[0].last, 7);
  // Evicted destinations still count as tests: q = p x m with m = tracked + evicted.
  const double m = static_cast<double>(d.destinations() + d.evicted_destinations());
  EXPECT_NEAR(c[0].q_value, std::min(1.0, c[0].p_value * m), c[0].q_value * 1e-9);
}

TEST(Discovery, IdleDestinationsWithFewHostsAreEvictedFirst) {
  Config cfg;
  cfg.max_destinations = 100;
  cfg.idle_ms = 60000;
  Discovery d(cfg);
  // 40 destinations with two hosts each at time 0: idle an hour later, below min_suspected.
  for (uint32_t i = 0; i < 40; ++i)
    for (uint32_t h = 0; h < 2; ++h)
      d.add_contact(h4(h), DestKind::NxDomain, "old" + std::to_string(i) + ".example", 0);
  // 60 recent single-host destinations fill the table, the 101st needs room.
  for (uint32_t i = 0; i < 61; ++i)
    d.add_contact(h4(5), DestKind::Domain, "new" + std::to_string(i) + ".example", 3600000);
  EXPECT_EQ(d.counters().count("c2 destination evicted (idle, fewer hosts than min_suspected)"), 40u);
  EXPECT_EQ(d.counters().count("c2 destination evicted (max_destinations/max_contacts reached)"), 0u);
  EXPECT_EQ(d.destinations(), 61u);
  EXPECT_EQ(d.dropped_contacts(), 80u);
  EXPECT_EQ(d.counters().count("c2 contacts dropped with evicted destinations"), 80u);
}

TEST(Discovery, ContactLimitIsKept) {
  Config cfg;
  cfg.max_contacts = 20000;
  Discovery d(cfg);
  plant(d, 0);
  // 300 destinations, each contacted by 200 hosts: 60,000 contacts.
  for (uint32_t i = 0; i < 300; ++i)
    for (uint32_t h = 0; h < 200; ++h)
      d.add_flow(h4((i * 7 + h * 13) % 2000), IpAddr::v4(0x60000000 + i), 443, 6, 100 + i);
  auto c = d.candidates();
  EXPECT_LE(d.contacts(), 20000u);
  EXPECT_GT(d.dropped_contacts(), 0u);
  EXPECT_GT(d.evicted_destinations(), 0u);
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c[0].dest, "203.0.113.66:6667/tcp");
}

TEST(Discovery, MemoryStaysBoundedUnderTheLimits) {
  Config cfg;
  cfg.max_destinations = 4096;
  cfg.max_contacts = 1 << 16;
  Discovery d(cfg);
  size_t peak = 0;
  for (uint32_t i = 0; i < 400000; ++i) {
    d.add_contact(h4(i % 50000), DestKind::NxDomain, "x" + std::to_string(i) + ".example", i);
    if (i % 10000 == 0) peak = std::max(peak, d.memory_bytes());
  }
  EXPECT_LE(d.destinations(), 4096u);
  // Hosts (50,000) are never evicted: ~10 bytes each; destinations and contacts are bounded.
  EXPECT_LT(peak, 4u << 20) << peak;
  EXPECT_GT(d.evicted_destinations(), 390000u);
}

TEST(Discovery, HostsPerDestinationCapIsCounted) {
  Config cfg;
  cfg.max_hosts_per_dest = 4;
  Discovery d(cfg);
  for (uint32_t h = 0; h < 10; ++h) {
    d.set_suspected(h4(h));
    d.add_contact(h4(h), DestKind::Domain, "busy.example", h);
  }
  for (uint32_t h = 10; h < 1000; ++h) d.add_contact(h4(h), DestKind::Domain, "other" + std::to_string(h), h);
  auto c = d.candidates();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].hosts, 4u);
  EXPECT_EQ(c[0].suspected_hosts, 4u);
  EXPECT_EQ(d.counters().count("c2 contact beyond max_hosts_per_dest (not kept)"), 6u);
}

TEST(Discovery, Ipv6AndExamplesLowestFirst) {
  Discovery d(Config{});
  for (uint32_t h = 0; h < 1000; ++h) d.add_contact(h4(h), DestKind::Domain, "n" + std::to_string(h), 0);
  std::vector<IpAddr> sus;
  for (uint32_t i = 0; i < 6; ++i) sus.push_back(*IpAddr::parse(fmt::format("2001:db8::{}", 9 - i)));
  sus.push_back(h4(500));
  for (const auto& h : sus) {
    d.set_suspected(h);
    d.add_flow(h, *IpAddr::parse("2001:db8:beef::1"), 8443, 6, 1);
    d.add_flow(h, *IpAddr::parse("2001:db8:beef::1"), 8443, 6, 2);  // repeats count once
  }
  auto c = d.candidates();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].dest, "[2001:db8:beef::1]:8443/tcp");
  EXPECT_EQ(c[0].hosts, 7u);
  EXPECT_EQ(c[0].suspected_hosts, 7u);
  ASSERT_EQ(c[0].example_hosts.size(), 5u);
  EXPECT_EQ(c[0].example_hosts[0], h4(500));  // IPv4 hosts sort before the others
  for (const auto& e : c[0].example_hosts) EXPECT_NE(std::find(sus.begin(), sus.end(), e), sus.end());
  FindingCollector fc;
  candidate_findings(c, fc);
  EXPECT_EQ(fc.findings[0].host.str(), "2001:db8:beef::1");
}

TEST(Discovery, BothLimitsHoldUnderChurnAndAnActiveDestinationSurvives) {
  Config cfg;
  cfg.max_destinations = 2000;
  cfg.max_contacts = 30000;
  Discovery d(cfg);
  for (uint32_t h = 0; h < 10; ++h) d.set_suspected(h4(h * 150));
  size_t peak_dests = 0;
  for (uint32_t i = 0; i < 150000; ++i) {
    TimeMs t = i;
    // Churn: a one-off destination per step (P2P peers, typos)...
    d.add_flow(h4(i % 1500), IpAddr::v4(0x50000000 + i), 6881, 17, t);
    // ...300 busy services that 1,500 hosts share (up to 450,000 contacts)...
    d.add_flow(h4((i * 7) % 1500), IpAddr::v4(0x60000000 + (i * 13) % 300), 443, 6, t);
    // ...and the suspected hosts keep talking to one unlisted server.
    if (i % 50 == 0) d.add_flow(h4((i / 50) % 10 * 150), *IpAddr::parse("203.0.113.66"), 6667, 6, t);
    peak_dests = std::max(peak_dests, d.destinations());
  }
  auto c = d.candidates();
  EXPECT_LE(peak_dests, 2000u);
  EXPECT_LE(d.contacts(), 30000u);
  EXPECT_GT(d.counters().count("c2 contacts dropped with evicted destinations"), 0u);
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c[0].dest, "203.0.113.66:6667/tcp");
  EXPECT_EQ(c[0].suspected_hosts, 10u);
}
