// Unit tests of the flow meter on hand-built packets: TCP FIN/RST, timeouts,
// fragments, IPv6, table limits, malformed input.
#include "ingest/meter/meter.hpp"

#include <gtest/gtest.h>

#include <random>

#include "ingest/meter/meter_test_util.hpp"

using namespace omamori;
using namespace omamori::metertest;

namespace {

constexpr TimeMs kT0 = 1'600'000'000'000;  // 2020-09-13T12:26:40Z

struct Rig {
  Collect out;
  FlowMeter meter;
  explicit Rig(MeterConfig cfg = {}) : meter(cfg, out) {}
  // Feeds one Ethernet frame at kT0 + ms, the way a file reader does: expire, then meter.
  void feed(TimeMs ms, const std::vector<uint8_t>& frame, uint32_t caplen = 0) {
    CapturedPacket p;
    p.ts = kT0 + ms;
    p.ts_us = p.ts * 1000;
    p.data = frame.data();
    p.caplen = caplen ? caplen : static_cast<uint32_t>(frame.size());
    p.len = static_cast<uint32_t>(frame.size());
    meter.advance(p.ts);
    meter.add_packet(linktype::ETHERNET, p);
  }
  void check_conservation() {
    const auto& s = meter.stats();
    EXPECT_EQ(s.packets, s.ip_packets + s.non_ip + s.decode_errors);
    EXPECT_EQ(out.packets(), s.exported_packets);
    EXPECT_EQ(out.bytes(), s.exported_bytes);
  }
};

const char* A = "192.0.2.1";
const char* B = "198.51.100.7";

TEST(FlowMeter, TcpFinEndsFlowRightAfterThePacket) {
  Rig r;
  r.feed(0, ether(ipv4(A, B, 6, tcp_hdr(40000, 80, tcpflag::SYN))));
  r.feed(10, ether(ipv4(A, B, 6, tcp_hdr(40000, 80, tcpflag::ACK, 100))));
  EXPECT_TRUE(r.out.flows.empty());
  r.feed(20, ether(ipv4(A, B, 6, tcp_hdr(40000, 80, tcpflag::FIN | tcpflag::ACK))));
  ASSERT_EQ(r.out.flows.size(), 1u);  // exported at the FIN, before any flush
  const FlowRecord& f = r.out.flows[0];
  EXPECT_EQ(f.packets, 3u);
  EXPECT_EQ(f.bytes, 40u + 140u + 40u);
  EXPECT_EQ(f.tcp_flags, tcpflag::SYN | tcpflag::ACK | tcpflag::FIN);
  EXPECT_EQ(f.start, kT0);
  EXPECT_EQ(f.end, kT0 + 20);
  EXPECT_EQ(f.src.str(), A);
  EXPECT_EQ(f.dst.str(), B);
  EXPECT_EQ(f.sport, 40000);
  EXPECT_EQ(f.dport, 80);
  EXPECT_EQ(f.proto, 6);
  EXPECT_EQ(f.ip_version, 4);
  EXPECT_EQ(f.sampling_rate, 1u);
  EXPECT_TRUE(f.exporter.empty());
  // A late ACK of the same connection starts a new flow.
  r.feed(30, ether(ipv4(A, B, 6, tcp_hdr(40000, 80, tcpflag::ACK))));
  r.meter.flush();
  ASSERT_EQ(r.out.flows.size(), 2u);
  EXPECT_EQ(r.out.flows[1].packets, 1u);
  EXPECT_EQ(r.out.flows[1].tcp_flags, tcpflag::ACK);
  EXPECT_EQ(r.meter.stats().ended_tcp, 1u);
  EXPECT_EQ(r.meter.stats().flushed, 1u);
  r.check_conservation();
}

TEST(FlowMeter, TcpRstEndsFlowUnlessDisabled) {
  for (bool end : {true, false}) {
    MeterConfig cfg;
    cfg.tcp_end_on_fin_rst = end;
    Rig r(cfg);
    r.feed(0, ether(ipv4(A, B, 6, tcp_hdr(1234, 443, tcpflag::SYN))));
    r.feed(5, ether(ipv4(A, B, 6, tcp_hdr(1234, 443, tcpflag::RST))));
    EXPECT_EQ(r.out.flows.size(), end ? 1u : 0u);
    r.feed(6, ether(ipv4(A, B, 6, tcp_hdr(1234, 443, tcpflag::RST))));
    r.feed(7, ether(ipv4(A, B, 6, tcp_hdr(1234, 443, tcpflag::ACK))));
    r.meter.flush();
    if (end) {
      ASSERT_EQ(r.out.flows.size(), 3u);
      EXPECT_EQ(r.out.flows[0].packets, 2u);
      EXPECT_EQ(r.out.flows[0].tcp_flags, tcpflag::SYN | tcpflag::RST);
      EXPECT_EQ(r.out.flows[1].packets, 1u);
      EXPECT_EQ(r.out.flows[1].tcp_flags, tcpflag::RST);
      EXPECT_EQ(r.out.flows[2].packets, 1u);
      EXPECT_EQ(r.meter.stats().ended_tcp, 2u);
    } else {
      ASSERT_EQ(r.out.flows.size(), 1u);
      EXPECT_EQ(r.out.flows[0].packets, 4u);
      EXPECT_EQ(r.out.flows[0].tcp_flags, tcpflag::SYN | tcpflag::RST | tcpflag::ACK);
    }
    r.check_conservation();
  }
}

TEST(FlowMeter, InactiveTimeout) {
  MeterConfig cfg;
  cfg.inactive_timeout_ms = 60'000;
  cfg.active_timeout_ms = 300'000;
  Rig r(cfg);
  auto a = ether(ipv4(A, B, 17, udp_hdr(5000, 123, 20)));
  auto b = ether(ipv4(B, A, 17, udp_hdr(123, 5000, 20)));
  r.feed(0, a);
  r.feed(0, b);
  r.feed(30'000, a);
  r.meter.advance(kT0 + 60'000);  // b idle exactly 60 s: not yet (strictly longer is required)
  EXPECT_TRUE(r.out.flows.empty());
  r.meter.advance(kT0 + 60'001);
  ASSERT_EQ(r.out.flows.size(), 1u);
  EXPECT_EQ(r.out.flows[0].src.str(), B);
  // a idle 70 s when its next packet comes: the old flow is exported, a new one starts.
  r.feed(100'000, a);
  ASSERT_EQ(r.out.flows.size(), 2u);
  EXPECT_EQ(r.out.flows[1].packets, 2u);
  EXPECT_EQ(r.out.flows[1].start, kT0);
  EXPECT_EQ(r.out.flows[1].end, kT0 + 30'000);
  // Without advance(): the packet itself finds its flow timed out.
  CapturedPacket p;
  auto late = a;
  p.ts = kT0 + 200'000;
  p.data = late.data();
  p.caplen = p.len = static_cast<uint32_t>(late.size());
  r.meter.add_packet(linktype::ETHERNET, p);
  ASSERT_EQ(r.out.flows.size(), 3u);
  EXPECT_EQ(r.out.flows[2].start, kT0 + 100'000);
  EXPECT_EQ(r.meter.stats().ended_inactive, 3u);
  r.meter.flush();
  EXPECT_EQ(r.out.flows.size(), 4u);
  r.check_conservation();
}

TEST(FlowMeter, ActiveTimeoutSplitsLongFlows) {
  MeterConfig cfg;
  cfg.active_timeout_ms = 30'000;
  cfg.inactive_timeout_ms = 15'000;
  Rig r(cfg);
  auto a = ether(ipv4(A, B, 17, udp_hdr(5000, 9000, 10)));
  for (TimeMs t = 0; t <= 100'000; t += 10'000) r.feed(t, a);
  r.meter.flush();
  ASSERT_EQ(r.out.flows.size(), 3u);
  EXPECT_EQ(r.out.flows[0].packets, 4u);  // 0, 10, 20, 30 s: 30 s is not longer than 30 s
  EXPECT_EQ(r.out.flows[0].end, kT0 + 30'000);
  EXPECT_EQ(r.out.flows[1].packets, 4u);  // 40..70
  EXPECT_EQ(r.out.flows[1].start, kT0 + 40'000);
  EXPECT_EQ(r.out.flows[2].packets, 3u);  // 80..100, flushed
  EXPECT_EQ(r.meter.stats().ended_active, 2u);
  EXPECT_EQ(r.meter.stats().flushed, 1u);
  // advance() alone expires by age, too.
  Rig q(cfg);
  q.feed(0, a);
  q.feed(10'000, a);
  q.feed(20'000, a);
  q.feed(29'000, a);
  q.meter.advance(kT0 + 30'001);
  ASSERT_EQ(q.out.flows.size(), 1u);
  EXPECT_EQ(q.out.flows[0].packets, 4u);
  EXPECT_EQ(q.meter.stats().ended_active, 1u);
}

// A 48-byte UDP datagram (8 header + 40 data) cut into fragments of 24, 16 and 8 bytes.
struct Frags {
  std::vector<uint8_t> first, middle, last;
  explicit Frags(uint16_t id, const char* src = A, uint16_t sport = 53, uint16_t dport = 4444) {
    auto dgram = udp_hdr(sport, dport, 40);
    first = ether(ipv4(src, B, 17, slice(dgram, 0, 24), id, 0, true));
    middle = ether(ipv4(src, B, 17, slice(dgram, 24, 40), id, 24, true));
    last = ether(ipv4(src, B, 17, slice(dgram, 40, 48), id, 40, false));
  }
};

TEST(FlowMeter, FragmentsInOrderJoinTheFirstFragmentsFlow) {
  Rig r;
  Frags d(77);
  r.feed(0, d.first);
  r.feed(1, d.middle);
  r.feed(2, d.last);
  r.meter.flush();
  ASSERT_EQ(r.out.flows.size(), 1u);
  const auto& f = r.out.flows[0];
  EXPECT_EQ(f.sport, 53);
  EXPECT_EQ(f.dport, 4444);
  EXPECT_EQ(f.packets, 3u);
  EXPECT_EQ(f.bytes, 44u + 36u + 28u);  // each fragment's own IP total length
  const auto& s = r.meter.stats();
  EXPECT_EQ(s.fragments, 3u);
  EXPECT_EQ(s.first_fragments, 1u);
  EXPECT_EQ(s.later_fragments, 2u);
  EXPECT_EQ(s.later_matched, 2u);
  EXPECT_EQ(s.later_held, 0u);
  EXPECT_EQ(s.orphan_fragments, 0u);
  r.check_conservation();
}

TEST(FlowMeter, FragmentsBeforeTheirFirstFragmentAreHeldThenJoined) {
  Rig r;
  Frags d(78);
  r.feed(0, d.last);
  r.feed(1, d.middle);
  EXPECT_EQ(r.meter.stats().active_flows, 0u);  // nothing to key them on yet
  r.feed(2, d.first);
  r.meter.flush();
  ASSERT_EQ(r.out.flows.size(), 1u);
  const auto& f = r.out.flows[0];
  EXPECT_EQ(f.sport, 53);
  EXPECT_EQ(f.packets, 3u);
  EXPECT_EQ(f.bytes, 108u);
  EXPECT_EQ(f.start, kT0);  // the earliest fragment
  EXPECT_EQ(f.end, kT0 + 2);
  EXPECT_EQ(r.meter.stats().later_held, 2u);
  EXPECT_EQ(r.meter.stats().held_matched, 2u);
  r.check_conservation();
}

TEST(FlowMeter, FragmentsWithoutFirstFragmentAreCountedWithPortsZero) {
  MeterConfig cfg;
  cfg.fragment_timeout_ms = 30'000;
  Rig r(cfg);
  Frags d(79);
  r.feed(0, d.middle);
  r.feed(5, d.last);
  r.meter.advance(kT0 + 30'000);
  EXPECT_TRUE(r.out.flows.empty());
  EXPECT_EQ(r.meter.stats().active_fragment_entries, 1u);
  r.meter.advance(kT0 + 30'001);  // the id is forgotten: held fragments go to a ports-0 flow
  EXPECT_EQ(r.meter.stats().active_fragment_entries, 0u);
  EXPECT_EQ(r.meter.stats().orphan_fragments, 2u);
  r.meter.flush();
  ASSERT_EQ(r.out.flows.size(), 1u);
  EXPECT_EQ(r.out.flows[0].sport, 0);
  EXPECT_EQ(r.out.flows[0].dport, 0);
  EXPECT_EQ(r.out.flows[0].proto, 17);
  EXPECT_EQ(r.out.flows[0].packets, 2u);
  EXPECT_EQ(r.out.flows[0].bytes, 36u + 28u);
  EXPECT_EQ(r.out.flows[0].start, kT0);
  EXPECT_EQ(r.out.flows[0].end, kT0 + 5);
  r.check_conservation();

  // The same at flush() time, without advance().
  Rig q;
  q.feed(0, d.last);
  q.meter.flush();
  ASSERT_EQ(q.out.flows.size(), 1u);
  EXPECT_EQ(q.out.flows[0].dport, 0);
  EXPECT_EQ(q.meter.stats().orphan_fragments, 1u);
  q.check_conservation();
}

TEST(FlowMeter, FullFragmentTableDropsOldestIdAndCountsIt) {
  MeterConfig cfg;
  cfg.max_fragments = 2;
  Rig r(cfg);
  Frags d1(1, A, 1001), d2(2, A, 1002), d3(3, A, 1003);
  r.feed(0, d1.first);
  r.feed(1, d2.first);
  r.feed(2, d3.first);  // table holds 2 ids: id 1 goes
  EXPECT_EQ(r.meter.stats().fragment_table_evicted, 1u);
  r.feed(3, d1.last);  // no longer known: held, then orphaned at flush
  r.feed(4, d3.last);
  r.meter.flush();
  uint64_t ports0 = 0, with_ports = 0;
  for (const auto& f : r.out.flows) (f.sport == 0 ? ports0 : with_ports) += f.packets;
  EXPECT_EQ(ports0, 1u);
  EXPECT_EQ(with_ports, 4u);
  EXPECT_EQ(r.meter.stats().orphan_fragments, 1u);
  r.check_conservation();
}

TEST(FlowMeter, FragmentIdReuseStartsAfresh) {
  Rig r;
  Frags d1(9, A, 1001), d2(9, A, 2002);  // same id, different datagram
  r.feed(0, d1.first);
  r.feed(1, d1.last);
  r.feed(2, d2.first);
  r.feed(3, d2.last);
  r.meter.flush();
  ASSERT_EQ(r.out.flows.size(), 2u);
  for (const auto& f : r.out.flows) EXPECT_EQ(f.packets, 2u);
  EXPECT_EQ(r.meter.stats().fragment_ids_reused, 1u);
}

TEST(FlowMeter, Ipv6ExtensionHeadersAndFragments) {
  Rig r;
  const char* S = "2001:db8::1";
  const char* D = "2001:db8:ffff::2";
  // Hop-by-hop options header (8 bytes, next = TCP) then a SYN.
  std::vector<uint8_t> hbh = {6, 0, 1, 4, 0, 0, 0, 0};
  r.feed(0, ether(ipv6(S, D, 0, cat(hbh, tcp_hdr(50000, 443, tcpflag::SYN)))));
  r.feed(1, ether(ipv6(S, D, 6, tcp_hdr(50000, 443, tcpflag::ACK, 10))));
  // A UDP datagram of 8 + 24 bytes in two fragments (fragment header: next 17, offset, M, id).
  auto dgram = udp_hdr(53, 5353, 24);
  auto fraghdr = [](uint16_t off, bool more) {
    std::vector<uint8_t> h = {17, 0};
    put16(h, static_cast<uint16_t>(off | (more ? 1 : 0)));
    put32(h, 0xdeadbeef);
    return h;
  };
  r.feed(2, ether(ipv6(S, D, 44, cat(fraghdr(0, true), slice(dgram, 0, 16)))));
  r.feed(3, ether(ipv6(S, D, 44, cat(fraghdr(16, false), slice(dgram, 16, 32)))));
  r.meter.flush();
  ASSERT_EQ(r.out.flows.size(), 2u);
  const FlowRecord* tcp = nullptr;
  const FlowRecord* udp = nullptr;
  for (const auto& f : r.out.flows) (f.proto == 6 ? tcp : udp) = &f;
  ASSERT_TRUE(tcp && udp);
  EXPECT_EQ(tcp->ip_version, 6);
  EXPECT_EQ(tcp->src.str(), S);
  EXPECT_EQ(tcp->dst.str(), D);
  EXPECT_EQ(tcp->packets, 2u);
  EXPECT_EQ(tcp->bytes, (40u + 8 + 20) + (40u + 30));  // 40 + payload length
  EXPECT_EQ(tcp->tcp_flags, tcpflag::SYN | tcpflag::ACK);
  EXPECT_EQ(udp->sport, 53);
  EXPECT_EQ(udp->dport, 5353);
  EXPECT_EQ(udp->packets, 2u);
  EXPECT_EQ(udp->bytes, (40u + 8 + 16) + (40u + 8 + 16));
  EXPECT_EQ(r.meter.stats().later_matched, 1u);
  r.check_conservation();
}

TEST(FlowMeter, IcmpTypeAndCodeInDestinationPort) {
  Rig r;
  for (int i = 0; i < 3; ++i) r.feed(i, ether(ipv4(A, B, 1, icmp_hdr(8, 0, 56))));
  r.feed(4, ether(ipv4(B, A, 1, icmp_hdr(3, 3, 28))));
  r.meter.flush();
  ASSERT_EQ(r.out.flows.size(), 2u);
  EXPECT_EQ(r.out.flows[0].dport, 0x0800);
  EXPECT_EQ(r.out.flows[0].packets, 3u);
  EXPECT_EQ(r.out.flows[1].dport, 0x0303);
}

TEST(FlowMeter, MaxFlowsEvictsLeastRecentlySeenAndCounts) {
  MeterConfig cfg;
  cfg.max_flows = 4;
  Rig r(cfg);
  auto pkt = [](uint16_t port) { return ether(ipv4(A, B, 17, udp_hdr(port, 9, 1))); };
  for (uint16_t i = 0; i < 4; ++i) r.feed(i, pkt(static_cast<uint16_t>(1000 + i)));
  r.feed(10, pkt(1000));  // 1000 is now the most recently seen
  r.feed(11, pkt(2000));  // full: 1001 goes, not 1000
  ASSERT_EQ(r.out.flows.size(), 1u);
  EXPECT_EQ(r.out.flows[0].sport, 1001);
  for (uint16_t i = 0; i < 6; ++i) r.feed(20 + i, pkt(static_cast<uint16_t>(3000 + i)));
  EXPECT_EQ(r.meter.stats().evicted, 7u);
  EXPECT_EQ(r.meter.stats().active_flows, 4u);
  EXPECT_EQ(r.meter.stats().peak_flows, 4u);
  r.meter.flush();
  EXPECT_EQ(r.out.flows.size(), 11u);
  EXPECT_EQ(r.meter.stats().flows_created, 11u);
  r.check_conservation();
}

TEST(FlowMeter, ManyFlowsGrowTheTableAndSurviveChurn) {
  // Exercises table growth, backward-shift deletion and the free list under churn.
  MeterConfig cfg;
  cfg.max_flows = 10'000;
  cfg.inactive_timeout_ms = 1'000;
  Rig r(cfg);
  std::mt19937 rng(7);
  auto frame = ether(ipv4("10.0.0.0", B, 6, tcp_hdr(0, 25565, tcpflag::SYN)));
  const uint64_t kPackets = 150'000;
  for (uint64_t i = 0; i < kPackets; ++i) {
    // 80,000 sources for 5 s (the table fills: eviction), then 3,000 (idle flows expire).
    uint32_t host = rng() % (i < 100'000 ? 80'000 : 3'000);
    frame[14 + 13] = static_cast<uint8_t>(host >> 16);
    frame[14 + 14] = static_cast<uint8_t>(host >> 8);
    frame[14 + 15] = static_cast<uint8_t>(host);
    frame[14 + 20] = static_cast<uint8_t>(host >> 8);  // source port
    frame[14 + 21] = static_cast<uint8_t>(host);
    r.feed(static_cast<TimeMs>(i / 20), frame);
  }
  r.meter.flush();
  EXPECT_EQ(r.meter.stats().ip_packets, kPackets);
  EXPECT_GT(r.meter.stats().evicted, 0u);
  EXPECT_GT(r.meter.stats().ended_inactive, 0u);
  EXPECT_EQ(r.meter.stats().peak_flows, 10'000u);
  EXPECT_EQ(r.meter.stats().flows_created, r.out.flows.size());
  r.check_conservation();
}

TEST(FlowMeter, MalformedPacketsAreCountedByReasonNeverMetered) {
  Rig r;
  auto good = ipv4(A, B, 6, tcp_hdr(1, 2, tcpflag::SYN));
  r.feed(0, std::vector<uint8_t>(10, 0xaa));              // shorter than an Ethernet header
  r.feed(1, ether(std::vector<uint8_t>(28, 0), 0x0806));  // ARP: not IP, not an error
  r.feed(2, ether(slice(good, 0, 12)));                   // IPv4 header cut
  auto badver = good;
  badver[0] = 0x55;
  r.feed(3, ether(badver));                                                 // IP version 5
  r.feed(4, ether(slice(ipv6("::1", "::2", 6, tcp_hdr(1, 2, 2)), 0, 30)));  // IPv6 header cut
  auto e = ether(good);
  r.feed(5, e, 14 + 20 + 10);  // TCP header cut by the snap length: metered with ports 0
  const auto& s = r.meter.stats();
  EXPECT_EQ(s.non_ip, 1u);
  EXPECT_EQ(s.decode_errors, 4u);
  EXPECT_EQ(r.meter.errors().count("truncated ethernet header"), 1u);
  EXPECT_EQ(r.meter.errors().count("truncated ipv4 header"), 1u);
  EXPECT_EQ(r.meter.errors().count("bad ip version"), 1u);
  EXPECT_EQ(r.meter.errors().count("truncated ipv6 header"), 1u);
  EXPECT_EQ(r.meter.errors().count("truncated transport header (metered with ports 0)"), 1u);
  EXPECT_EQ(s.truncated_l4, 1u);
  r.meter.flush();
  ASSERT_EQ(r.out.flows.size(), 1u);
  EXPECT_EQ(r.out.flows[0].sport, 0);
  EXPECT_EQ(r.out.flows[0].bytes, 40u);  // IP total length from the header, not the captured length
  r.check_conservation();
}

TEST(FlowMeter, RandomGarbageNeverCrashesAndEverythingIsAccounted) {
  MeterConfig cfg;
  cfg.max_flows = 64;
  cfg.max_fragments = 8;
  cfg.inactive_timeout_ms = 50;
  Rig r(cfg);
  std::mt19937 rng(12345);
  auto base = ether(ipv4(A, B, 17, udp_hdr(1, 2, 30), 5, 0, true));
  for (int i = 0; i < 20'000; ++i) {
    std::vector<uint8_t> f = (i % 3 == 0) ? std::vector<uint8_t>(rng() % 120) : base;
    for (auto& c : f)
      if (i % 3 == 0 || rng() % 8 == 0) c = static_cast<uint8_t>(rng());
    if (i % 3 != 0) {  // keep an IP ethertype so that the IP decoder sees the damage
      bool v6 = rng() % 2;
      f[12] = v6 ? 0x86 : 0x08;
      f[13] = v6 ? 0xDD : 0x00;
    }
    r.feed(i, f);
  }
  r.meter.flush();
  EXPECT_GT(r.meter.stats().ip_packets, 1000u);
  EXPECT_GT(r.meter.stats().decode_errors, 1000u);
  EXPECT_GT(r.meter.stats().fragments, 100u);
  r.check_conservation();
  EXPECT_EQ(r.meter.stats().active_flows, 0u);
  EXPECT_EQ(r.meter.stats().active_fragment_entries, 0u);
}

TEST(FlowMeter, GreDecapsulationIsOptional) {
  // GRE (proto 47, type 0x0800) carrying UDP between inner hosts.
  auto inner = ipv4("10.1.1.1", "10.2.2.2", 17, udp_hdr(7000, 8000, 12));
  std::vector<uint8_t> gre = {0, 0, 0x08, 0x00};
  auto outer = ether(ipv4(A, B, 47, cat(gre, inner)));
  for (bool decap : {true, false}) {
    MeterConfig cfg;
    cfg.decapsulate = decap;
    Rig r(cfg);
    r.feed(0, outer);
    r.meter.flush();
    ASSERT_EQ(r.out.flows.size(), 1u);
    const auto& f = r.out.flows[0];
    if (decap) {
      EXPECT_EQ(f.src.str(), "10.1.1.1");
      EXPECT_EQ(f.proto, 17);
      EXPECT_EQ(f.dport, 8000);
      EXPECT_EQ(f.bytes, inner.size());
    } else {
      EXPECT_EQ(f.src.str(), A);
      EXPECT_EQ(f.proto, 47);
      EXPECT_EQ(f.bytes, 20u + 4 + inner.size());
    }
  }
}

}  // namespace
