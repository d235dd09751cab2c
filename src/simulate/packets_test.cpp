// The simulator's frame builder, DNS encoder and address rewriting.
#include "simulate/packets.hpp"

#include <gtest/gtest.h>

#include "core/counters.hpp"
#include "ingest/dns/wire.hpp"
#include "simulate/sources.hpp"

using namespace omamori;
using namespace omamori::sim;

namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

// Verifies the IPv4 header checksum and the TCP/UDP checksum of a whole frame.
void expect_valid(const std::vector<uint8_t>& f) {
  ASSERT_GE(f.size(), 34u);
  size_t ihl = static_cast<size_t>(f[14] & 0x0f) * 4;
  EXPECT_EQ(checksum_fold(checksum_add(0, {f.data() + 14, ihl})), 0) << "IPv4 header checksum";
  size_t total = static_cast<size_t>(f[16] << 8 | f[17]);
  uint32_t sum = checksum_add(0, {f.data() + 26, 8});
  sum += f[23];
  sum += static_cast<uint32_t>(total - ihl);
  EXPECT_EQ(checksum_fold(checksum_add(sum, {f.data() + 14 + ihl, total - ihl})), 0) << "L4 checksum";
}

}  // namespace

TEST(SimulatePackets, DnsMessagesDecodeWithOmamorisParser) {
  auto resp = dns::response(0x1234, "www.example.jp", dns::A, 0, {ip("198.18.1.2"), ip("198.18.1.3")}, 300,
                            "edge.cdn.example.net");
  DnsEvent ev;
  ReasonCounters errs;
  ASSERT_EQ(parse_dns_message(resp.data(), resp.size(), ev, errs), DnsParse::Ok);
  EXPECT_EQ(ev.qname(), "www.example.jp");
  EXPECT_EQ(ev.rcode, 0);
  ASSERT_EQ(ev.answers().size(), 3u);
  EXPECT_EQ(ev.answer_name(ev.answers()[0]), "edge.cdn.example.net");
  EXPECT_EQ(ev.answers()[2].addr, ip("198.18.1.3"));

  auto nx = dns::response(7, "kq0qw6o2siwq.org", dns::AAAA, 3, {}, 0);
  DnsEvent ev2;
  ASSERT_EQ(parse_dns_message(nx.data(), nx.size(), ev2, errs), DnsParse::Ok);
  EXPECT_EQ(ev2.rcode, 3);
  EXPECT_TRUE(ev2.answers().empty());
  EXPECT_EQ(errs.total(), 0u);
}

TEST(SimulatePackets, RewriteKeepsChecksumsRightWholeAndTruncated) {
  auto f = tcp_frame(Dir::Down, ip("203.0.113.9"), ip("10.10.10.10"), {443, 50000}, 1000, 2000,
                     tcp::ACK | tcp::PSH, {}, 900);
  expect_valid(f);
  const std::pair<IpAddr, IpAddr> map[] = {{ip("10.10.10.10"), ip("192.0.2.195")}};
  auto whole = f, cut = f;
  cut.resize(96);
  EXPECT_EQ(rewrite_ipv4(whole, map), 1);
  EXPECT_EQ(rewrite_ipv4(cut, map), 1);
  expect_valid(whole);
  // The truncated frame's incremental update gives the same checksums.
  EXPECT_TRUE(std::equal(cut.begin(), cut.end(), whole.begin()));
  EXPECT_EQ(IpAddr::v4_bytes(&whole[30]), ip("192.0.2.195"));

  // A placeholder UDP checksum (offload) is recomputed for whole datagrams.
  auto u = udp_frame(Dir::Up, ip("10.10.10.10"), ip("8.8.8.8"), {5353, 53}, std::vector<uint8_t>(40, 7));
  u[14 + 20 + 6] ^= 0x5a;
  EXPECT_EQ(rewrite_ipv4(u, map), 1);
  expect_valid(u);
  // Not IPv4: untouched.
  auto v6 = udp_frame(Dir::Up, ip("2001:db8::1"), ip("2001:db8::53"), {5353, 53}, std::vector<uint8_t>(4, 1));
  auto copy = v6;
  EXPECT_EQ(rewrite_ipv4(v6, map), -1);
  EXPECT_EQ(v6, copy);
}

TEST(SimulateSources, TrailSectionGivesTheCommandAndControl) {
  std::string trail =
      "# Copyright (c) Maltrail developers\n\n"
      "# Reference: https://example.org/a\n\nold.example.com\n198.51.100.7:23\n\n"
      "# Reference: https://example.org/b\n\n/bins/x86\n203.0.113.5:6667\n203.0.113.5:81\nnew-cnc.example.net\n\n"
      "# Reference: https://example.org/c\n\nonly-a-name.example.org\n";
  auto t = scan_trail(trail);
  EXPECT_EQ(t.c2_domain, "new-cnc.example.net");
  EXPECT_EQ(t.c2_addr, ip("203.0.113.5"));
  EXPECT_EQ(t.c2_port, 6667);
  EXPECT_EQ(t.names.size(), 3u);
  std::string cut = trail_cut(trail, 4);
  EXPECT_TRUE(cut.starts_with("# Copyright (c) Maltrail developers\n"));
  EXPECT_NE(cut.find("only-a-name.example.org"), std::string::npos);
  EXPECT_EQ(cut.find("old.example.com"), std::string::npos);
}
