#include "detect/ddos/ddos.hpp"

#include <gtest/gtest.h>

using namespace omamori;
using namespace omamori::ddos;

namespace {
FlowRecord flow(TimeMs t, uint32_t src, const char* dst, uint8_t proto, uint16_t sport, uint16_t dport, uint8_t flags,
                uint64_t packets = 1, uint64_t bytes = 60) {
  FlowRecord r;
  r.start = r.end = t;
  r.src = IpAddr::v4(src);
  r.dst = *IpAddr::parse(dst);
  r.proto = proto;
  r.sport = sport;
  r.dport = dport;
  r.tcp_flags = flags;
  r.packets = packets;
  r.bytes = bytes;
  return r;
}
Config protect(const char* prefix, uint64_t pps) {
  Config c;
  HostGroup g;
  g.name = "customers";
  g.prefixes.push_back(*Prefix::parse(prefix));
  g.host.pps = pps;
  c.groups.push_back(g);
  c.end_after_ms = 10000;
  return c;
}
}  // namespace

TEST(DdosDetector, SynFloodOneAttackWithExactSourcesAndVector) {
  Detector d(protect("10.10.10.0/24", 1000));
  int started = 0;
  d.on_start = [&](const Attack& a) {
    ++started;
    EXPECT_EQ(a.target.str(), "10.10.10.10");
  };
  // Background below threshold, then 5000 spoofed SYNs/s for 3 s with a 4 s gap inside.
  for (int i = 0; i < 100; ++i) d.on_flow(flow(i * 10, 0x0b000000 + i, "10.10.10.10", 6, 40000, 443, 0x1a));
  TimeMs onset = 2000;
  uint32_t src = 0x50000000;
  for (int s : {0, 1, 6}) {
    for (int i = 0; i < 5000; ++i) d.on_flow(flow(onset + s * 1000 + i / 5, src++, "10.10.10.10", 6, 1024, 25565, 0x02));
  }
  d.finish();
  ASSERT_EQ(d.attacks().size(), 1u);
  const Attack& a = d.attacks()[0];
  EXPECT_EQ(started, 1);
  EXPECT_EQ(a.vector(), "syn-flood");
  EXPECT_EQ(a.start, onset);
  EXPECT_LE(a.detected - onset, 2000);
  EXPECT_EQ(a.sources.size(), 15000u);
  EXPECT_EQ(a.packets, 15000u);
  EXPECT_EQ(a.peak_pps, 5000u);
  EXPECT_FALSE(a.active);
  FindingCollector fc;
  d.findings(fc);
  ASSERT_EQ(fc.findings.size(), 1u);
  EXPECT_EQ(fc.findings[0].type, "ddos-target");
  EXPECT_NE(fc.findings[0].explanation.find("15000 source"), std::string::npos) << fc.findings[0].explanation;
}

TEST(DdosDetector, QuietLongerThanEndAfterSplitsAttacks) {
  Detector d(protect("10.10.10.0/24", 100));
  uint32_t src = 1;
  for (int i = 0; i < 500; ++i) d.on_flow(flow(i, src++, "10.10.10.1", 17, 123, 40000, 0, 1, 468));
  for (int i = 0; i < 500; ++i) d.on_flow(flow(60000 + i, src++, "10.10.10.1", 17, 123, 40000, 0, 1, 468));
  d.finish();
  ASSERT_EQ(d.attacks().size(), 2u);
  EXPECT_EQ(d.attacks()[0].vector(), "ntp-amplification");
  EXPECT_LT(d.attacks()[0].end, 1000);
}

TEST(DdosDetector, AmplificationWithFragmentsAndReflection) {
  Detector d(protect("10.10.10.0/24", 100));
  for (int i = 0; i < 300; ++i) {
    d.on_flow(flow(i, 0x01020300 + i % 50, "10.10.10.10", 17, 53, 4444, 0, 1, 1500));
    d.on_flow(flow(i, 0x01020300 + i % 50, "10.10.10.10", 17, 0, 0, 0, 1, 1500));  // later fragment
  }
  for (int i = 0; i < 300; ++i) d.on_flow(flow(i, 0x09000000 + i, "10.10.10.20", 6, 443, 5555, 0x12));
  d.finish();
  ASSERT_EQ(d.attacks().size(), 2u);
  EXPECT_EQ(d.attacks()[0].vector(), "dns-amplification");
  EXPECT_EQ(d.attacks()[0].sources.size(), 50u);
  EXPECT_EQ(d.attacks()[1].vector(), "synack-reflection");
  auto report = d.report_json(d.attacks()[0], 5);
  EXPECT_NE(report.find("\"target\":\"10.10.10.10\""), std::string::npos) << report;
  EXPECT_NE(report.find("\"sport\":53"), std::string::npos) << report;
}

TEST(DdosDetector, OutboundParticipantFromSubscriberSpace) {
  Config c;
  c.subscribers.push_back(*Prefix::parse("192.0.2.0/24"));
  c.outbound.pps = 1000;
  c.default_host = Thresholds{};  // no inbound tracking of random destinations
  c.groups.push_back(HostGroup{"none", {*Prefix::parse("198.18.0.0/32")}, {}, {}});
  Detector d(c);
  for (int i = 0; i < 3000; ++i) {
    FlowRecord r = flow(i / 2, 0, "203.0.113.5", 17, 33333, 80, 0, 1, 512);
    r.src = *IpAddr::parse("192.0.2.77");
    d.on_flow(r);
  }
  // A busy but benign subscriber below the threshold.
  for (int i = 0; i < 500; ++i) {
    FlowRecord r = flow(i * 2, 0, "203.0.113.9", 6, 5555, 443, 0x18);
    r.src = *IpAddr::parse("192.0.2.78");
    d.on_flow(r);
  }
  d.finish();
  ASSERT_EQ(d.attacks().size(), 1u);
  EXPECT_TRUE(d.attacks()[0].outbound);
  EXPECT_EQ(d.attacks()[0].target.str(), "192.0.2.77");
  EXPECT_EQ(d.attacks()[0].vector(), "udp-flood");
  FindingCollector fc;
  d.findings(fc);
  EXPECT_EQ(fc.findings.at(0).type, "ddos-source");
}

TEST(DdosDetector, LearnedBaselineCatchesAttackBelowStaticThreshold) {
  Config c = protect("10.0.0.0/8", 1000000);
  c.groups[0].host.baseline_factor = 10;
  c.groups[0].host.baseline_min_pps = 50;
  c.groups[0].host.baseline_warmup_ms = 60000;
  Detector d(c);
  // 10 packets/s for 5 minutes, then 500 packets/s.
  for (TimeMs t = 0; t < 300000; t += 100) d.on_flow(flow(t, 0x0b000001, "10.1.1.1", 6, 443, 5000, 0x18));
  EXPECT_TRUE(d.attacks().empty());
  for (TimeMs t = 300000; t < 302000; t += 2) d.on_flow(flow(t, 0x0b000002 + t % 97, "10.1.1.1", 17, 5000, 80, 0));
  d.finish();
  ASSERT_EQ(d.attacks().size(), 1u);
  EXPECT_NE(d.attacks()[0].trigger.find("baseline"), std::string::npos) << d.attacks()[0].trigger;
}

TEST(DdosDetector, EntityTableIsBoundedAndCounted) {
  Config c;
  c.max_entities = 10;
  Detector d(c);
  for (int i = 0; i < 20; ++i) {
    FlowRecord r = flow(i, 1, "10.0.0.1", 6, 1, 2, 0x02);
    r.dst = IpAddr::v4(0x0a000000 + i);
    d.on_flow(r);
  }
  EXPECT_EQ(d.entities(), 10u);
  EXPECT_EQ(d.errors().count("ddos entity table full"), 10u);
}

// A subscriber is tracked inbound and outbound in one index slot; idle
// entities are evicted one direction at a time and counted.
TEST(DdosDetector, IdleEntitiesAreEvictedPerDirection) {
  Config c = protect("10.0.0.0/16", 1000000);
  c.subscribers = {*Prefix::parse("10.0.0.0/16")};
  c.idle_ms = 60000;
  Detector d(c);
  // 2,000 subscribers talk to a server and hear back at t = 0: 2,000 inbound and 2,000 outbound entities.
  for (uint32_t i = 0; i < 2000; ++i) {
    d.on_flow(flow(0, 0x0a000000 + i, "198.51.100.1", 6, 40000, 443, 0x18));
    FlowRecord back = flow(0, 0xc6336401, "10.0.0.1", 6, 443, 40000, 0x18);
    back.dst = IpAddr::v4(0x0a000000 + i);
    d.on_flow(back);
  }
  EXPECT_EQ(d.entities(), 4000u);
  // Later only the first 100 subscribers keep sending (outbound); nobody answers them.
  for (TimeMs t = 30000; t <= 200000; t += 10000)
    for (uint32_t i = 0; i < 100; ++i) d.on_flow(flow(t, 0x0a000000 + i, "198.51.100.1", 6, 40000, 443, 0x18));
  EXPECT_EQ(d.errors().count("ddos idle entity evicted"), 3900u);
  EXPECT_EQ(d.entities(), 100u);
  // The evicted ones come back as new entities; the kept ones are still the same.
  for (uint32_t i = 0; i < 200; ++i) {
    FlowRecord back = flow(200001, 0xc6336401, "10.0.0.1", 6, 443, 40000, 0x18);
    back.dst = IpAddr::v4(0x0a000000 + i);
    d.on_flow(back);
  }
  EXPECT_EQ(d.entities(), 300u);
  EXPECT_EQ(d.errors().count("ddos entity table full"), 0u);
}
