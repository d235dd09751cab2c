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
    // 10,000 packets: over the promotion level (a quarter of 20,000 packets/s), under the threshold.
    FlowRecord r = flow(i, 1, "10.0.0.1", 6, 1, 2, 0x02, 10000);
    r.dst = IpAddr::v4(0x0a000000 + i);
    d.on_flow(r);
  }
  EXPECT_EQ(d.entities(), 10u);
  EXPECT_EQ(d.errors().count("ddos entity table full"), 10u);
}

// A subscriber is tracked inbound and outbound in one index slot; entities
// below their promotion level for idle_ms (demoted) are evicted one
// direction at a time and counted.
TEST(DdosDetector, IdleEntitiesAreEvictedPerDirection) {
  Config c = protect("10.0.0.0/16", 1000000);  // inbound promotion level: 250,000 packets/s
  c.subscribers = {*Prefix::parse("10.0.0.0/16")};
  c.outbound = Thresholds{4000, 0, 0};  // outbound promotion level: 1,000 packets/s
  c.idle_ms = 60000;
  Detector d(c);
  // 2,000 subscribers send 2,000 packets to a server and get 300,000 back at t = 0: over the
  // promotion levels, under the thresholds: 2,000 inbound and 2,000 outbound entities.
  for (uint32_t i = 0; i < 2000; ++i) {
    d.on_flow(flow(0, 0x0a000000 + i, "198.51.100.1", 6, 40000, 443, 0x18, 2000));
    FlowRecord back = flow(0, 0xc6336401, "10.0.0.1", 6, 443, 40000, 0x18, 300000);
    back.dst = IpAddr::v4(0x0a000000 + i);
    d.on_flow(back);
  }
  EXPECT_EQ(d.entities(), 4000u);
  EXPECT_EQ(d.promotions(), 4000u);
  // Later the first 100 subscribers keep sending over the level (outbound), the next 100 under it
  // (traffic, but below the level: demoted all the same); nobody answers them.
  for (TimeMs t = 30000; t <= 200000; t += 10000)
    for (uint32_t i = 0; i < 200; ++i)
      d.on_flow(flow(t, 0x0a000000 + i, "198.51.100.1", 6, 40000, 443, 0x18, i < 100 ? 2000 : 500));
  EXPECT_EQ(d.errors().count("ddos idle entity evicted"), 3900u);
  EXPECT_EQ(d.entities(), 100u);
  EXPECT_TRUE(d.attacks().empty());
  // The evicted ones come back as new entities when over the level again; the kept ones are still the same.
  for (uint32_t i = 0; i < 200; ++i) {
    FlowRecord back = flow(200001, 0xc6336401, "10.0.0.1", 6, 443, 40000, 0x18, 300000);
    back.dst = IpAddr::v4(0x0a000000 + i);
    d.on_flow(back);
  }
  EXPECT_EQ(d.entities(), 300u);
  EXPECT_EQ(d.errors().count("ddos entity table full"), 0u);
}

namespace {
// The attacks two detectors found, field by field.
void expect_same_attacks(const Detector& want, const Detector& got) {
  ASSERT_EQ(got.attacks().size(), want.attacks().size());
  for (size_t i = 0; i < want.attacks().size(); ++i) {
    const Attack &w = want.attacks()[i], &g = got.attacks()[i];
    SCOPED_TRACE(w.target.str());
    EXPECT_EQ(g.target, w.target);
    EXPECT_EQ(g.outbound, w.outbound);
    EXPECT_EQ(g.trigger, w.trigger);
    EXPECT_EQ(g.start, w.start);
    EXPECT_EQ(g.detected, w.detected);
    EXPECT_EQ(g.end, w.end);
    EXPECT_EQ(g.packets, w.packets);
    EXPECT_EQ(g.bytes, w.bytes);
    EXPECT_EQ(g.flows, w.flows);
    EXPECT_EQ(g.peak_pps, w.peak_pps);
    EXPECT_EQ(g.peak_bps, w.peak_bps);
    EXPECT_EQ(g.peak_at, w.peak_at);
    EXPECT_EQ(g.vector(), w.vector());
    EXPECT_EQ(g.sources.size(), w.sources.size());
    auto ws = w.top_sources(20), gs = g.top_sources(20);
    ASSERT_EQ(gs.size(), ws.size());
    for (size_t j = 0; j < ws.size(); ++j) {
      EXPECT_EQ(gs[j].first, ws[j].first);
      EXPECT_EQ(gs[j].second.bytes, ws[j].second.bytes);
      EXPECT_EQ(gs[j].second.first, ws[j].second.first);
      EXPECT_EQ(gs[j].second.last, ws[j].second.last);
    }
  }
}

// Background: 3,000 hosts of 10.10.0.0/16 with a few small flows a second,
// records a little out of start order (flows end and are exported later than
// they start); a host that ramps from 50 to 4,000 packets/s over 20 s (an
// attack from 1,001 packets/s on); a subscriber that starts sending a flood;
// a UDP flood that stops and comes back; all fed to `dets` alike.
void ramp_traffic(std::vector<Detector*> dets, uint64_t seed) {
  uint64_t s = seed;
  auto rnd = [&](uint32_t n) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<uint32_t>((s >> 32) % n);
  };
  auto feed = [&](FlowRecord r) {
    for (Detector* d : dets) d->on_flow(r);
  };
  for (TimeMs t = 0; t < 40000; t += 10) {
    for (int k = 0; k < 3; ++k) {  // background, both directions
      uint32_t h = 0x0a0a0000 + 1 + rnd(3000);
      FlowRecord r = flow(t - rnd(1500), 0xc6336400 + rnd(200), "10.10.0.1", 6, 443, 40000, 0x18, 1 + rnd(20));
      r.dst = IpAddr::v4(h);
      r.end = t;
      feed(r);
      std::swap(r.src, r.dst);
      feed(r);
    }
    // The ramp: packets per 10 ms slice from 0.5 to 40 over 20 s, from 10.10.0.99's point of view.
    if (t >= 5000 && t < 25000) {
      int per = 1 + static_cast<int>((t - 5000) * 40 / 20000);
      FlowRecord r = flow(t - rnd(300), 0x50000000 + rnd(5000), "10.10.0.99", 17, 53, 4444, 0, per, per * 1400);
      r.end = t;
      feed(r);
    }
    // A subscriber (outbound) in a SYN flood from 12 s on.
    if (t >= 12000 && t < 16000) {
      FlowRecord r = flow(t, 0, "203.0.113.5", 6, 1024 + rnd(6000), 80, 0x02, 30, 1800);
      r.src = *IpAddr::parse("10.10.0.77");
      feed(r);
    }
    // A flood on 10.10.0.200 for 2 s, quiet 20 s, again for 2 s.
    if ((t >= 8000 && t < 10000) || (t >= 30000 && t < 32000)) {
      FlowRecord r = flow(t, 0x60000000 + rnd(100000), "10.10.0.200", 17, 123, 5555, 0, 20, 20 * 468);
      feed(r);
    }
  }
  for (Detector* d : dets) d->finish();
}

Config ramp_config() {
  Config c = protect("10.10.0.0/16", 1000);
  c.subscribers = {*Prefix::parse("10.10.0.0/16")};
  c.outbound = Thresholds{2000, 0, 0};
  return c;
}
}  // namespace

// A host that ramps from below the promotion level to an attack is detected
// at the same record, with the same start, counts, peak, vector and sources
// as when every host has an entity from its first record (promote_fraction
// 0, the behaviour before the sketch); so are the others. Only the hosts
// near a threshold get an entity.
TEST(DdosDetector, RampFromBelowPromotionLevelDetectedAsWithEveryHostTracked) {
  Config every = ramp_config();
  every.promote_fraction = 0;
  Detector reference(every), d(ramp_config());
  ramp_traffic({&reference, &d}, 1);
  ASSERT_EQ(reference.attacks().size(), 4u);
  expect_same_attacks(reference, d);
  const Attack& ramp = d.attacks()[1];
  EXPECT_EQ(ramp.target.str(), "10.10.0.99");
  EXPECT_EQ(ramp.vector(), "dns-amplification");
  EXPECT_GT(reference.promotions(), 4000u);  // every host in and out
  EXPECT_EQ(d.promotions(), 3u);             // the two attacked hosts and the flooding subscriber
  EXPECT_EQ(d.entities(), 3u);
  EXPECT_EQ(d.errors().count("ddos onset records overwritten (onset_records too small for the record rate)"), 0u);
}

// A sketch far too small for the traffic (every address in one cell, or a
// few cells in two rows) promotes hosts that are not near a threshold, but
// their entities count exactly: collisions never cause an alarm by
// themselves, and the attacks are the same.
TEST(DdosDetector, SketchCollisionsNeverCauseAnAlarm) {
  Config every = ramp_config();
  every.promote_fraction = 0;
  Config one_cell = ramp_config(), few = ramp_config();
  one_cell.sketch_rows = 1;
  one_cell.sketch_width = 1;
  few.sketch_rows = 2;
  few.sketch_width = 16;
  Detector reference(every), d1(one_cell), d16(few);
  ramp_traffic({&reference, &d1, &d16}, 2);
  ASSERT_EQ(reference.attacks().size(), 4u);
  expect_same_attacks(reference, d1);
  expect_same_attacks(reference, d16);
  EXPECT_GT(d1.promotions(), 1000u);  // the one cell is over the level every second
  EXPECT_GT(d16.promotions(), 4u);
}

// A promotion whose second cannot be rebuilt exactly (the onset ring, far
// smaller than a second of records, was overwritten since the host's first
// record of the second) is counted.
TEST(DdosDetector, PromotionPastTheOnsetRingIsCounted) {
  Config c = protect("10.0.0.0/8", 5000);  // promotion level 1,250 packets/s
  c.onset_records = 1;                     // rounded up to 4,096
  Detector d(c);
  for (int i = 0; i < 1000; ++i) d.on_flow(flow(i / 10, 0x0b000000 + i, "10.1.1.1", 17, 53, 4444, 0));
  for (int i = 0; i < 5000; ++i) {
    FlowRecord r = flow(100 + i / 10, 0x0b000000 + i, "10.1.1.1", 17, 53, 4444, 0);
    r.dst = IpAddr::v4(0x0a020000 + i);
    d.on_flow(r);
  }
  for (int i = 0; i < 300; ++i) d.on_flow(flow(700 + i, 0x0c000000 + i, "10.1.1.1", 17, 53, 4444, 0));
  EXPECT_EQ(d.promotions(), 1u);
  EXPECT_EQ(d.errors().count("ddos onset records overwritten (onset_records too small for the record rate)"), 1u);
  EXPECT_TRUE(d.attacks().empty());
}

// Many hosts with small flows create no entities: they are counted in the
// sketch only, whose memory does not grow with the number of hosts.
TEST(DdosDetector, ManySmallHostsNeedNoEntitiesAndMemoryStaysFlat) {
  auto run = [](uint32_t hosts) {
    Config c = protect("10.0.0.0/8", 20000);
    c.subscribers = {*Prefix::parse("10.0.0.0/8")};
    auto d = std::make_unique<Detector>(c);
    for (uint32_t i = 0; i < hosts; ++i) {
      FlowRecord r = flow(i / 50, 0xc6336401, "10.0.0.1", 6, 443, 40000, 0x18, 40, 40000);
      r.dst = IpAddr::v4(0x0a000000 + i);
      d->on_flow(r);
      std::swap(r.src, r.dst);
      d->on_flow(r);
    }
    EXPECT_EQ(d->entities(), 0u);
    EXPECT_EQ(d->promotions(), 0u);
    return d->memory_bytes();
  };
  size_t small = run(1000), large = run(200000);
  EXPECT_EQ(small, large);
  EXPECT_LT(large, size_t{64} << 20);  // sketch (4 MB) and onset ring (42 MB)
}

// A promoted host's baseline starts at its promotion level: with a 10x
// baseline and a floor of 40 packets/s (level 10), hosts at 8 packets/s for
// two minutes are not tracked; a burst of 90 packets/s is then no alarm (a
// learned baseline of 8 would have said 80), one of 150 packets/s is, from
// its 101st packet. Before the detector has run for the warm-up, no
// baseline alarm.
TEST(DdosDetector, BaselineAttackOnPromotedHost) {
  Config c = protect("10.0.0.0/8", 1000000);
  c.groups[0].host.baseline_factor = 10;
  c.groups[0].host.baseline_min_pps = 40;
  c.groups[0].host.baseline_warmup_ms = 60000;
  auto background = [](Detector& d, TimeMs until) {
    for (TimeMs t = 0; t < until; t += 125) {
      d.on_flow(flow(t, 0x0b000001, "10.1.1.1", 6, 443, 5000, 0x18));
      d.on_flow(flow(t, 0x0b000001, "10.1.1.2", 6, 443, 5000, 0x18));
    }
  };
  {
    Detector d(c);
    background(d, 120000);
    EXPECT_EQ(d.entities(), 0u);
    for (int i = 0; i < 150; ++i) {
      d.on_flow(flow(120000 + i * 5, 0x0b000002 + i, "10.1.1.1", 17, 5000, 80, 0));
      if (i < 90) d.on_flow(flow(120000 + i * 5, 0x0b000002 + i, "10.1.1.2", 17, 5000, 80, 0));
    }
    d.finish();
    EXPECT_EQ(d.promotions(), 2u);
    ASSERT_EQ(d.attacks().size(), 1u);
    const Attack& a = d.attacks()[0];
    EXPECT_EQ(a.target.str(), "10.1.1.1");
    EXPECT_EQ(a.trigger, "pps 101 > 10 x baseline 10.0");
    EXPECT_EQ(a.start, 120000);
    EXPECT_EQ(a.detected, 120000 + 100 * 5);
    EXPECT_EQ(a.sources.size(), 150u);
    EXPECT_EQ(a.packets, 150u);
  }
  {
    Detector d(c);  // the same burst 30 s after the detector started: not warmed up
    background(d, 30000);
    for (int i = 0; i < 150; ++i) d.on_flow(flow(30000 + i * 5, 0x0b000002 + i, "10.1.1.1", 17, 5000, 80, 0));
    d.finish();
    EXPECT_EQ(d.promotions(), 1u);
    EXPECT_TRUE(d.attacks().empty());
  }
}
