#include <gtest/gtest.h>

#include <vector>

#include "packet/decode.hpp"

using namespace omamori;

namespace {
std::vector<uint8_t> eth(uint16_t type) {
  std::vector<uint8_t> f(12, 0xaa);
  f.push_back(static_cast<uint8_t>(type >> 8));
  f.push_back(static_cast<uint8_t>(type));
  return f;
}
void ipv4(std::vector<uint8_t>& f, uint8_t proto, uint16_t payload_len, uint16_t frag = 0) {
  uint16_t total = static_cast<uint16_t>(20 + payload_len);
  uint8_t h[20] = {0x45, 0, static_cast<uint8_t>(total >> 8), static_cast<uint8_t>(total), 0x12, 0x34,
                   static_cast<uint8_t>(frag >> 8), static_cast<uint8_t>(frag), 64, proto, 0, 0, 192, 0, 2, 1,
                   198, 51, 100, 7};
  f.insert(f.end(), h, h + 20);
}
void tcp(std::vector<uint8_t>& f, uint16_t sp, uint16_t dp, uint8_t flags) {
  uint8_t h[20] = {static_cast<uint8_t>(sp >> 8), static_cast<uint8_t>(sp), static_cast<uint8_t>(dp >> 8),
                   static_cast<uint8_t>(dp), 0, 0, 0, 0, 0, 0, 0, 0, 0x50, flags, 0, 0, 0, 0, 0, 0};
  f.insert(f.end(), h, h + 20);
}
void udp(std::vector<uint8_t>& f, uint16_t sp, uint16_t dp, uint16_t payload_len) {
  uint16_t l = static_cast<uint16_t>(8 + payload_len);
  uint8_t h[8] = {static_cast<uint8_t>(sp >> 8), static_cast<uint8_t>(sp), static_cast<uint8_t>(dp >> 8),
                  static_cast<uint8_t>(dp), static_cast<uint8_t>(l >> 8), static_cast<uint8_t>(l), 0, 0};
  f.insert(f.end(), h, h + 8);
}
}  // namespace

TEST(PacketDecode, EthernetQinQIpv4Tcp) {
  auto f = eth(0x88A8);
  f.insert(f.end(), {0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00});
  ipv4(f, 6, 20);
  tcp(f, 40000, 23, 0x02);
  PacketInfo pi;
  ASSERT_EQ(decode_packet(linktype::ETHERNET, f.data(), f.size(), pi), nullptr);
  EXPECT_EQ(pi.vlan, 20);
  EXPECT_EQ(pi.src.str(), "192.0.2.1");
  EXPECT_EQ(pi.dst.str(), "198.51.100.7");
  EXPECT_EQ(pi.proto, 6);
  EXPECT_EQ(pi.sport, 40000);
  EXPECT_EQ(pi.dport, 23);
  EXPECT_EQ(pi.tcp_flags, 0x02);
  EXPECT_EQ(pi.ip_len, 40u);
}

TEST(PacketDecode, MplsStackToIpv4Udp) {
  auto f = eth(0x8847);
  f.insert(f.end(), {0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40});  // two labels, S bit on the second
  ipv4(f, 17, 12);
  udp(f, 53, 5353, 4);
  f.insert(f.end(), {1, 2, 3, 4});
  PacketInfo pi;
  ASSERT_EQ(decode_packet(linktype::ETHERNET, f.data(), f.size(), pi), nullptr);
  EXPECT_EQ(pi.mpls_labels, 2);
  EXPECT_EQ(pi.dport, 5353);
  EXPECT_EQ(pi.l4_payload_len, 4u);
  ASSERT_EQ(pi.l4_payload_caplen, 4u);
  EXPECT_EQ(pi.l4_payload[3], 4);
}

TEST(PacketDecode, VxlanIsDecapsulatedOnlyWhenAsked) {
  std::vector<uint8_t> inner = eth(0x0800);
  ipv4(inner, 6, 20);
  tcp(inner, 1234, 80, 0x12);
  auto f = eth(0x0800);
  ipv4(f, 17, static_cast<uint16_t>(8 + 8 + inner.size()));
  udp(f, 55555, 4789, static_cast<uint16_t>(8 + inner.size()));
  f.insert(f.end(), {0x08, 0, 0, 0, 0, 0, 0x64, 0});
  f.insert(f.end(), inner.begin(), inner.end());
  PacketInfo pi;
  ASSERT_EQ(decode_packet(linktype::ETHERNET, f.data(), f.size(), pi), nullptr);
  EXPECT_EQ(pi.tunnels, 1);
  EXPECT_EQ(pi.proto, 6);
  EXPECT_EQ(pi.dport, 80);
  DecodeOptions outer;
  outer.decapsulate = false;
  ASSERT_EQ(decode_packet(linktype::ETHERNET, f.data(), f.size(), pi, outer), nullptr);
  EXPECT_EQ(pi.tunnels, 0);
  EXPECT_EQ(pi.dport, 4789);
}

TEST(PacketDecode, Ipv6WithFragmentHeader) {
  std::vector<uint8_t> f = {0x60, 0, 0, 0, 0, 16, 44, 64};
  uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};
  f.insert(f.end(), a, a + 16);
  a[15] = 2;
  f.insert(f.end(), a, a + 16);
  f.insert(f.end(), {17, 0, 0x00, 0x01, 0, 0, 0, 9});  // next=UDP, offset 0, M=1, id 9
  udp(f, 53, 1000, 0);
  PacketInfo pi;
  ASSERT_EQ(decode_packet(linktype::RAW, f.data(), f.size(), pi), nullptr);
  EXPECT_EQ(pi.ip_version, 6);
  EXPECT_TRUE(pi.fragment);
  EXPECT_TRUE(pi.more_fragments);
  EXPECT_EQ(pi.frag_id, 9u);
  EXPECT_EQ(pi.proto, 17);
  EXPECT_EQ(pi.sport, 53);
}

TEST(PacketDecode, LaterFragmentHasNoPorts) {
  auto f = eth(0x0800);
  ipv4(f, 17, 8, 0x0003);  // offset 24 bytes
  f.insert(f.end(), 8, 0);
  PacketInfo pi;
  ASSERT_EQ(decode_packet(linktype::ETHERNET, f.data(), f.size(), pi), nullptr);
  EXPECT_TRUE(pi.fragment);
  EXPECT_EQ(pi.frag_offset, 24);
  EXPECT_FALSE(pi.has_ports);
}

TEST(PacketDecode, TruncationsAreReportedNotRead) {
  auto f = eth(0x0800);
  ipv4(f, 6, 20);
  tcp(f, 1, 2, 0);
  PacketInfo pi;
  for (size_t n = 0; n < 14 + 20; ++n) EXPECT_NE(decode_packet(linktype::ETHERNET, f.data(), n, pi), nullptr) << n;
  // IP header complete, TCP header cut: decodes without ports.
  ASSERT_EQ(decode_packet(linktype::ETHERNET, f.data(), 14 + 20 + 10, pi), nullptr);
  EXPECT_FALSE(pi.has_ports);
  EXPECT_STREQ(decode_packet(999, f.data(), f.size(), pi), "unsupported link type");
}
