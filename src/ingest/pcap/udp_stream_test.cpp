#include "ingest/pcap/udp_stream.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "ingest/pcap/pcap_file.hpp"
#include "test_support/run.hpp"

using namespace omamori;

namespace {
// UDP payload lengths (udp.length - 8) histogram, as omamori reassembles them.
std::map<size_t, int> omamori_udp_sizes(const std::string& path, UdpExtractor& x) {
  std::string err;
  auto f = PcapFile::open(path, err);
  EXPECT_TRUE(f) << err;
  std::map<size_t, int> sizes;
  if (!f) return sizes;
  CapturedPacket pkt;
  UdpDatagram d;
  while (f->next(pkt))
    if (x.extract(f->linktype(), pkt.data, pkt.caplen, pkt.ts, d)) ++sizes[d.payload.size() + 8];
  return sizes;
}
std::map<size_t, int> tshark_udp_sizes(const std::string& path) {
  std::map<size_t, int> sizes;
  for (auto& l : test::lines(test::run("tshark -r '" + path +
                                       "' -Y 'udp and not icmp and not icmpv6 and not gre' -T fields -e udp.length")))
    if (!l.empty()) ++sizes[std::stoul(l)];
  return sizes;
}
}  // namespace

// Fragmented DNS responses: the reassembled datagrams agree with tshark's (UDP headers quoted inside ICMP errors and
// UDP inside GRE tunnels are not datagrams a collector socket would receive).
TEST(UdpExtractor, ReassemblesFragmentsLikeTshark) {
  for (const char* rel : {"dns/pcap/dns_fragmented.pcap", "ddos/amp.dns.RRSIG.fragmented.pcap"}) {
    auto path = test::shared_data(rel);
    UdpExtractor x;
    auto ours = omamori_udp_sizes(path, x);
    EXPECT_EQ(ours, tshark_udp_sizes(path)) << rel;
    EXPECT_GT(x.fragments(), 0u) << rel;
  }
}

TEST(Defragmenter, OutOfOrderAndIncompleteFragments) {
  ReasonCounters errors;
  Defragmenter d(Defragmenter::Limits{4, 1000});
  uint8_t a[16], b[8];
  for (int i = 0; i < 16; ++i) a[i] = static_cast<uint8_t>(i);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(100 + i);
  PacketInfo first, last;
  first.src = last.src = *IpAddr::parse("192.0.2.1");
  first.dst = last.dst = *IpAddr::parse("192.0.2.2");
  first.frag_id = last.frag_id = 7;
  first.proto = last.proto = 17;
  first.fragment = last.fragment = true;
  first.more_fragments = true;
  first.ip_payload = a;
  first.ip_payload_caplen = 16;
  last.frag_offset = 16;
  last.ip_payload = b;
  last.ip_payload_caplen = 8;
  EXPECT_TRUE(d.add(last, 0, errors).empty());  // last first: waits
  auto whole = d.add(first, 1, errors);
  ASSERT_EQ(whole.size(), 24u);
  EXPECT_EQ(whole[15], 15);
  EXPECT_EQ(whole[16], 100);
  EXPECT_EQ(d.pending(), 0u);
  // A lone first fragment times out and is counted.
  EXPECT_TRUE(d.add(first, 10, errors).empty());
  PacketInfo other = first;
  other.frag_id = 8;
  EXPECT_TRUE(d.add(other, 5000, errors).empty());
  EXPECT_EQ(errors.count("fragment reassembly timeout"), 1u);
}

// Found by fuzz_dns_pcap: a first fragment whose capture ends at the IP header carries no bytes. It is counted, not
// stored, and does not disturb reassembly of the same datagram.
TEST(Defragmenter, EmptyFragmentIsCountedAndIgnored) {
  ReasonCounters errors;
  Defragmenter d(Defragmenter::Limits{4, 1000});
  uint8_t a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  PacketInfo empty;
  empty.src = *IpAddr::parse("192.0.2.1");
  empty.dst = *IpAddr::parse("192.0.2.2");
  empty.frag_id = 9;
  empty.proto = 17;
  empty.fragment = true;
  empty.more_fragments = true;
  empty.ip_payload = a;  // captured length zero: pointer at the end of the header
  empty.ip_payload_caplen = 0;
  EXPECT_TRUE(d.add(empty, 0, errors).empty());
  EXPECT_EQ(errors.count("empty fragment"), 1u);
  EXPECT_EQ(d.pending(), 0u);
  PacketInfo whole = empty;
  whole.more_fragments = false;
  whole.frag_offset = 0;
  whole.ip_payload_caplen = 8;
  auto out = d.add(whole, 1, errors);
  ASSERT_EQ(out.size(), 8u);
  EXPECT_EQ(out[7], 8);
}

// The exact packet the fuzzer produced (raw IPv4, more-fragments set, total length 89, 20 bytes captured): counted as
// an empty fragment, no crash.
TEST(UdpExtractor, FuzzerFoundHeaderOnlyFragment) {
  const uint8_t pkt[] = {0x45, 0x00, 0x00, 0x59, 0xb1, 0x11, 0x20, 0x00, 0x40, 0x11,
                         0x0e, 0x10, 0x00, 0x27, 0x10, 0x13, 0x00, 0x00, 0x00, 0x27};
  UdpExtractor x;
  UdpDatagram dg;
  EXPECT_FALSE(x.extract(linktype::RAW, pkt, sizeof pkt, 0, dg));
  EXPECT_EQ(x.fragments(), 1u);
  EXPECT_EQ(x.errors().count("empty fragment"), 1u);
}

// The fast path for plain Ethernet/IPv4/UDP packets gives what the general
// packet decoder gives, on randomly varied lengths, flags and headers.
TEST(UdpExtractor, FastPathAgreesWithThePacketDecoder) {
  std::mt19937 rng(7);
  const uint8_t base[] = {0,    1,    2,    3,    4,    5,    6, 7, 8,  9,  10, 11, 0x08, 0x00,  // Ethernet, IPv4
                          0x45, 0,    0,    60,   0x12, 0x34, 0, 0, 64, 17, 0,  0,  192,  0,
                          2,    1,    198,  51,   100,  7,            // IPv4
                          0x13, 0x88, 0x08, 0x07, 0,    40,   0, 0};  // UDP 5000 -> 2055, length 40
  size_t fast_taken = 0;
  for (int i = 0; i < 200000; ++i) {
    std::vector<uint8_t> pkt(base, base + sizeof base);
    pkt.resize(42 + rng() % 80, 0xAB);
    auto put16 = [&](size_t off, uint16_t v) {
      pkt[off] = uint8_t(v >> 8);
      pkt[off + 1] = uint8_t(v);
    };
    switch (rng() % 8) {
      case 0:
        put16(16, uint16_t(rng() % 140));
        break;  // IP total length, often wrong
      case 1:
        put16(38, uint16_t(rng() % 140));
        break;  // UDP length, often wrong
      case 2:
        put16(20, uint16_t(rng() % 3 == 0 ? 0x2000 : rng() % 3 == 1 ? 0x0004 : 0x4000));
        break;  // MF, offset, DF
      case 3:
        pkt[14] = uint8_t(0x40 | (rng() % 16));
        break;  // header length
      case 4:
        pkt[23] = uint8_t(rng() % 2 ? 6 : 17);
        break;
      case 5:
        put16(12, rng() % 2 ? 0x86dd : 0x0800);
        break;
      default:
        break;
    }
    if (rng() % 2) put16(16, uint16_t(pkt.size() - 14 - rng() % 4));  // a consistent total, or a trailer
    if (rng() % 2) put16(38, uint16_t(pkt.size() - 34 - rng() % 6));
    size_t caplen = pkt.size() - (rng() % 4 == 0 ? rng() % 20 : 0);

    // What the general decoder makes of it.
    PacketInfo info;
    DecodeOptions opt;
    opt.decapsulate = false;
    const char* err = decode_packet(linktype::ETHERNET, pkt.data(), caplen, info, opt);
    bool want = !err && info.proto == 17 && !info.fragment && info.has_ports;

    UdpExtractor x;
    UdpDatagram d;
    bool got = x.extract(linktype::ETHERNET, pkt.data(), caplen, 1000, d);
    bool plain = caplen >= 42 && pkt[12] == 0x08 && pkt[13] == 0 && pkt[14] == 0x45 && pkt[23] == 17 &&
                 !(pkt[20] & 0x3f) && !pkt[21] && ((pkt[16] << 8) | pkt[17]) >= 28;
    fast_taken += plain;
    if (info.fragment) continue;  // reassembly: the general path, tested above
    ASSERT_EQ(got, want) << "packet " << i;
    if (!got) continue;
    EXPECT_EQ(d.src, info.src);
    EXPECT_EQ(d.dst, info.dst);
    EXPECT_EQ(d.sport, info.sport);
    EXPECT_EQ(d.dport, info.dport);
    EXPECT_EQ(d.payload.data(), info.l4_payload);
    ASSERT_EQ(d.payload.size(), std::min(info.l4_payload_caplen, info.l4_payload_len)) << "packet " << i;
    EXPECT_EQ(x.errors().total(), info.l4_payload_caplen < info.l4_payload_len ? 1u : 0u) << "packet " << i;
  }
  EXPECT_GT(fast_taken, 50000u);  // both paths were exercised
  EXPECT_LT(fast_taken, 190000u);
}
