#include "detect/scan/scan.hpp"

#include <gtest/gtest.h>
#include <xxhash.h>

using namespace omamori;
using namespace omamori::scan;

namespace {
FlowRecord tcp(const char* src, uint32_t dst, uint16_t dport, uint8_t flags, TimeMs t) {
  FlowRecord r;
  r.src = *IpAddr::parse(src);
  r.dst = IpAddr::v4(dst);
  r.sport = 40000;
  r.dport = dport;
  r.proto = 6;
  r.tcp_flags = flags;
  r.start = r.end = t;
  r.packets = 1;
  r.bytes = 60;
  return r;
}
}  // namespace

TEST(LinearCount, EstimatesDistinctCounts) {
  for (uint32_t n : {10u, 64u, 300u, 1000u}) {
    std::array<uint64_t, 8> bits{};
    for (uint32_t i = 0; i < n; ++i) {
      uint64_t h = XXH3_64bits(&i, sizeof(i));
      bits[(h % 512) / 64] |= uint64_t(1) << (h % 512 % 64);
    }
    uint32_t est = linear_count(bits.data(), bits.size());
    EXPECT_NEAR(est, n, n * 0.15 + 2) << n;
  }
}

TEST(ScanDetector, TelnetScannerFoundBenignHostsNot) {
  Config c;
  c.darknet.push_back(*Prefix::parse("198.18.0.0/15"));
  Detector d(c);
  // Mirai-like: SYNs to 500 random addresses on 23 and 2323 within 2 minutes.
  for (uint32_t i = 0; i < 500; ++i)
    d.on_flow(tcp("192.0.2.66", 0x2d000000 + i * 7919, i % 10 ? 23 : 2323, tcpflag::SYN, 1000 + i * 200));
  // A busy benign host: completed web connections to 300 servers.
  for (uint32_t i = 0; i < 300; ++i)
    d.on_flow(tcp("192.0.2.10", 0x5d000000 + i * 31, 80, tcpflag::SYN | tcpflag::ACK | tcpflag::FIN, 1000 + i * 300));
  // A host that fails to reach a handful of ssh servers.
  for (uint32_t i = 0; i < 10; ++i) d.on_flow(tcp("192.0.2.11", 0x5e000000 + i, 22, tcpflag::SYN, 5000 + i));
  // Darknet: one host probes 20 unused addresses on a non-IoT port.
  for (uint32_t i = 0; i < 20; ++i) d.on_flow(tcp("192.0.2.12", 0xc6120000 + i, 445, tcpflag::SYN, 7000 + i));
  d.finish();
  FindingCollector fc;
  d.findings(fc);
  ASSERT_EQ(fc.findings.size(), 2u);
  const Finding* scan = nullptr;
  const Finding* dark = nullptr;
  for (auto& f : fc.findings) (f.type == "scan" ? scan : dark) = &f;
  ASSERT_TRUE(scan && dark);
  EXPECT_EQ(scan->host.str(), "192.0.2.66");
  EXPECT_EQ(scan->family, "telnet-scan");
  EXPECT_EQ(scan->events, 500u);
  EXPECT_NE(scan->indicator.find("23"), std::string::npos);
  EXPECT_EQ(dark->host.str(), "192.0.2.12");
  EXPECT_EQ(dark->type, "darknet");
}

TEST(ScanDetector, OnlySubscriberSourcesAndBoundedTable) {
  Config c;
  c.subscribers.push_back(*Prefix::parse("192.0.2.0/24"));
  c.max_hosts = 8;
  Detector d(c);
  for (uint32_t i = 0; i < 500; ++i) d.on_flow(tcp("203.0.113.1", 0x2d000000 + i, 23, tcpflag::SYN, i));
  for (uint32_t h = 0; h < 20; ++h) {
    std::string src = "192.0.2." + std::to_string(h + 1);
    d.on_flow(tcp(src.c_str(), 0x2d000000 + h, 23, tcpflag::SYN, 1000));
  }
  EXPECT_LE(d.hosts(), 8u);
  EXPECT_GT(d.errors().count("scan host table full: evicted an active host"), 0u);
  d.finish();
  FindingCollector fc;
  d.findings(fc);
  EXPECT_TRUE(fc.findings.empty());  // the outside scanner is not ours to judge
}
