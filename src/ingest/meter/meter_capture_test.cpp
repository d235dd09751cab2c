// The flow meter on real captures, against real peers:
//  - the three DDoS captures in shared/data/ddos, against nfdump's nfpcapd
//    (flow count, packets, bytes, per flow key), with every difference
//    derived from tshark's per-packet decode of the same file;
//  - the DNS captures in shared/data/dns/pcap, against tshark's packet and
//    byte counts per address pair;
//  - the `omamori flows meter` command on a file and on the loopback interface.
//
// How the two meters differ is written up in docs/flow-meter.md; the models
// below are that write-up in executable form. Each model is computed from
// tshark's decode alone and each meter's output must equal its model exactly.
#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "core/time.hpp"
#include "ingest/meter/meter.hpp"
#include "ingest/meter/meter_test_util.hpp"
#include "ingest/pcap/pcap_file.hpp"

using namespace omamori;
using namespace omamori::metertest;
namespace fs = std::filesystem;

namespace {

const std::string kData = OMAMORI_SHARED_DATA;

// (src, dst, sport, dport, proto) as text, the common ground of both tools' output.
struct FKey {
  IpAddr src, dst;
  uint32_t sport = 0, dport = 0, proto = 0;
  bool operator==(const FKey&) const = default;
  std::string str() const { return fmt::format("{} {}:{} > {}:{}", proto, src.str(), sport, dst.str(), dport); }
  template <typename H>
  friend H AbslHashValue(H h, const FKey& k) {
    return H::combine(std::move(h), k.src, k.dst, k.sport, k.dport, k.proto);
  }
};
struct Sums {
  uint64_t packets = 0, bytes = 0, flows = 0;
  bool operator==(const Sums&) const = default;
};
using PerKey = absl::flat_hash_map<FKey, Sums>;

struct Totals {
  uint64_t packets = 0, bytes = 0, flows = 0;
};
Totals totals(const PerKey& m) {
  Totals t;
  for (const auto& [k, s] : m) t.packets += s.packets, t.bytes += s.bytes, t.flows += s.flows;
  return t;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}
std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(' '), b = s.find_last_not_of(' ');
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}
uint64_t num(const std::string& s, int base = 10) {
  return s.empty() ? 0 : std::stoull(s, nullptr, base);
}
IpAddr addr(const std::string& s) {
  auto a = IpAddr::parse(s);
  EXPECT_TRUE(a) << s;
  return a ? *a : IpAddr{};
}

// ---------------------------------------------------------------- tshark's view

// One frame as tshark decodes it, without IP reassembly.
struct Pkt {
  uint64_t frame = 0;
  TimeMs ts = 0;
  uint32_t caplen = 0;
  bool ip = false;  // IPv4 or IPv6 (innermost, when tunnelled)
  int version = 0;
  IpAddr src, dst;
  uint32_t proto = 0, id = 0, ihl = 0, len = 0;  // len: IP total length
  bool mf = false;
  uint32_t frag_off = 0;  // bytes
  bool l4 = false;        // ports known (TCP/UDP header or ICMP type in this frame)
  uint32_t sport = 0, dport = 0;
  uint8_t tcp_flags = 0;
  bool tunnelled = false;
  IpAddr outer_src, outer_dst;  // when tunnelled
  uint32_t outer_proto = 0;
  uint32_t eth_type = 0;
  bool fragment() const { return mf || frag_off != 0; }
};

std::vector<Pkt> tshark_packets(const std::string& file) {
  static const char* kFields[] = {"frame.number", "frame.time_epoch", "frame.cap_len", "eth.type",    "ip.src",
                                  "ip.dst",       "ip.proto",         "ip.id",         "ip.flags.mf", "ip.frag_offset",
                                  "ip.len",       "ip.hdr_len",       "ipv6.src",      "ipv6.dst",    "ipv6.nxt",
                                  "ipv6.plen",    "tcp.srcport",      "tcp.dstport",   "tcp.flags",   "udp.srcport",
                                  "udp.dstport",  "icmp.type",        "icmp.code",     "icmpv6.type", "icmpv6.code"};
  std::string cmd =
      "tshark -n -r '" + file + "' -o ip.defragment:FALSE -o ipv6.defragment:FALSE -T fields -E separator='|'";
  for (auto* f : kFields) cmd += std::string(" -e ") + f;
  cmd += " 2>/dev/null";
  int st = 0;
  std::string out = run(cmd, &st);
  EXPECT_EQ(st, 0) << cmd;
  std::vector<Pkt> pkts;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto f = split(line, '|');
    if (f.size() != std::size(kFields)) {
      ADD_FAILURE() << "tshark line: " << line;
      continue;
    }
    Pkt p;
    p.frame = num(f[0]);
    // Microseconds, floored to ms, as the pcap reader does.
    auto dot = f[1].find('.');
    int64_t sec = std::stoll(f[1].substr(0, dot));
    int64_t us = std::stoll((f[1].substr(dot + 1) + "000000").substr(0, 6));
    p.ts = (sec * 1'000'000 + us) / 1000;
    p.caplen = static_cast<uint32_t>(num(f[2]));
    p.eth_type = static_cast<uint32_t>(num(split(f[3], ',')[0], 16));
    auto v4src = split(f[4], ','), v4dst = split(f[5], ','), v4proto = split(f[6], ',');
    if (!f[4].empty()) {
      // ICMP errors quote a header: the outer one is the packet. Tunnels: the inner one is.
      uint32_t outer = static_cast<uint32_t>(num(v4proto[0]));
      size_t i = 0;
      if (v4src.size() > 1 && (outer == 47 || outer == 4)) {
        i = v4src.size() - 1;
        p.tunnelled = true;
        p.outer_src = addr(v4src[0]);
        p.outer_dst = addr(v4dst[0]);
        p.outer_proto = outer;
      }
      p.ip = true;
      p.version = 4;
      p.src = addr(v4src[i]);
      p.dst = addr(v4dst[i]);
      p.proto = static_cast<uint32_t>(num(v4proto[i]));
      p.id = static_cast<uint32_t>(num(split(f[7], ',')[i], 16));
      p.mf = num(split(f[8], ',')[i]) != 0;
      p.frag_off = static_cast<uint32_t>(num(split(f[9], ',')[i])) * 8;
      p.len = static_cast<uint32_t>(num(split(f[10], ',')[i]));
      p.ihl = static_cast<uint32_t>(num(split(f[11], ',')[i]));
    } else if (!f[12].empty()) {
      p.ip = true;
      p.version = 6;
      p.src = addr(split(f[12], ',')[0]);
      p.dst = addr(split(f[13], ',')[0]);
      p.proto = static_cast<uint32_t>(num(split(f[14], ',')[0]));
      p.len = 40 + static_cast<uint32_t>(num(split(f[15], ',')[0]));
    }
    if (p.proto == 6 && !f[16].empty()) {
      p.l4 = true;
      p.sport = static_cast<uint32_t>(num(split(f[16], ',')[0]));
      p.dport = static_cast<uint32_t>(num(split(f[17], ',')[0]));
      p.tcp_flags = static_cast<uint8_t>(num(split(f[18], ',')[0], 16));
    } else if (p.proto == 17 && !f[19].empty()) {
      p.l4 = true;
      p.sport = static_cast<uint32_t>(num(split(f[19], ',')[0]));
      p.dport = static_cast<uint32_t>(num(split(f[20], ',')[0]));
    } else if (p.proto == 1 && !f[21].empty()) {
      p.l4 = true;
      p.dport = static_cast<uint32_t>(num(split(f[21], ',')[0]) << 8 | num(split(f[22], ',')[0]));
    } else if (p.proto == 58 && !f[23].empty()) {
      p.l4 = true;
      p.dport = static_cast<uint32_t>(num(split(f[23], ',')[0]) << 8 | num(split(f[24], ',')[0]));
    }
    pkts.push_back(p);
  }
  return pkts;
}

// ---------------------------------------------------------------- the two models

struct DgramKey {
  IpAddr src, dst;
  uint32_t proto, id;
  bool operator==(const DgramKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const DgramKey& k) {
    return H::combine(std::move(h), k.src, k.dst, k.proto, k.id);
  }
};
DgramKey dgram(const Pkt& p) {
  return {p.src, p.dst, p.proto, p.id};
}

// omamori: every IP packet counted once with its own IP total length; later
// fragments take the ports of the most recent first fragment of their datagram
// id, else of the next one (they are held until it comes), else ports 0; a TCP
// packet with FIN or RST ends its flow. Valid for captures shorter than the
// fragment and inactive timeouts (checked by the caller).
PerKey model_omamori(const std::vector<Pkt>& pkts, bool tcp_end) {
  absl::flat_hash_map<DgramKey, std::vector<size_t>> firsts;  // datagram -> indexes of its first fragments
  for (size_t i = 0; i < pkts.size(); ++i)
    if (pkts[i].ip && pkts[i].fragment() && pkts[i].frag_off == 0) firsts[dgram(pkts[i])].push_back(i);
  PerKey m;
  absl::flat_hash_map<FKey, bool> open;  // key -> a flow is open (for FIN/RST splitting)
  for (size_t i = 0; i < pkts.size(); ++i) {
    const Pkt& p = pkts[i];
    if (!p.ip) continue;
    FKey k{p.src, p.dst, p.sport, p.dport, p.proto};
    if (p.fragment() && p.frag_off != 0) {
      k.sport = k.dport = 0;
      auto it = firsts.find(dgram(p));
      if (it != firsts.end()) {
        const Pkt* pick = nullptr;
        for (size_t j : it->second) {
          if (j < i) pick = &pkts[j];
          if (j > i && !pick) {
            pick = &pkts[j];
            break;
          }
        }
        if (pick) k.sport = pick->sport, k.dport = pick->dport;
      }
    }
    Sums& s = m[k];
    s.packets++;
    s.bytes += p.len;
    if (!open[k]) {
      s.flows++;
      open[k] = true;
    }
    if (tcp_end && p.proto == 6 && p.frag_off == 0 && (p.tcp_flags & 0x05)) open[k] = false;
  }
  return m;
}

// nfpcapd 1.7.1 (-e 300,60 on a capture shorter than the inactive timeout):
//  - IPv4 fragments are reassembled: a first fragment opens a datagram (a
//    second first fragment for an open datagram is dropped), a fragment with
//    MF=0 closes an open one and the datagram counts as ONE packet of
//    ihl + offset + (captured bytes of the last fragment after its IP header);
//    fragments of datagrams that never close, and later fragments with no open
//    datagram, are not counted;
//  - UDP to or from port 53, ICMP and ICMPv6: one flow per packet;
//  - TCP FIN/RST does not end a flow; everything else is one flow per key;
//  - a GRE-tunnelled packet is metered by its inner header like omamori does,
//    and nfpcapd also writes a record of 0 packets and 0 bytes for the outer
//    header (proto 47, ports 0).
struct NfFigures {
  uint64_t fragments = 0;           // IPv4 fragments in the capture
  uint64_t fragment_bytes = 0;      // their IP total lengths
  uint64_t datagrams = 0;           // reassembled datagrams nfpcapd counts (one packet each)
  uint64_t datagram_fragments = 0;  // fragments that went into them
  uint64_t datagram_bytes = 0;      // what nfpcapd counts for them
  uint64_t per_packet_flows = 0;    // flows of UDP port 53 / ICMP (one per packet)
  uint64_t gre_records = 0;         // 0-packet records for tunnel headers
};

PerKey model_nfpcapd(const std::vector<Pkt>& pkts, uint32_t link_header, NfFigures* fig) {
  struct Open {
    const Pkt* first;
    uint64_t fragments = 0;
  };
  absl::flat_hash_map<DgramKey, Open> open;
  PerKey m;
  for (const Pkt& p : pkts) {
    if (!p.ip) continue;
    const Pkt* counted = &p;
    uint64_t bytes = p.len;
    if (p.fragment() && p.version == 4 && !p.tunnelled) {
      fig->fragments++;
      fig->fragment_bytes += p.len;
      auto k = dgram(p);
      auto it = open.find(k);
      if (p.frag_off == 0) {
        if (it == open.end()) open[k] = {&p, 1};
        continue;
      }
      if (it == open.end()) continue;
      it->second.fragments++;
      if (p.mf) continue;
      counted = it->second.first;
      bytes = p.ihl + p.frag_off + (p.caplen - link_header - p.ihl);
      fig->datagrams++;
      fig->datagram_fragments += it->second.fragments;
      fig->datagram_bytes += bytes;
      open.erase(it);
    }
    if (p.tunnelled && p.outer_proto == 47) {
      m[{p.outer_src, p.outer_dst, 0, 0, 47}].flows++;
      fig->gre_records++;
    }
    FKey k{p.src, p.dst, counted->sport, counted->dport, p.proto};
    Sums& s = m[k];
    s.packets++;
    s.bytes += bytes;
    bool per_packet = (p.proto == 17 && (k.sport == 53 || k.dport == 53)) || p.proto == 1 || p.proto == 58;
    if (per_packet || s.flows == 0) s.flows++;
    if (per_packet) fig->per_packet_flows++;
  }
  return m;
}

// ---------------------------------------------------------------- the tools

PerKey per_key(const std::vector<FlowRecord>& flows) {
  PerKey m;
  for (const auto& f : flows) {
    Sums& s = m[{f.src, f.dst, f.sport, f.dport, f.proto}];
    s.packets += f.packets;
    s.bytes += f.bytes;
    s.flows++;
  }
  return m;
}

struct MeterRun {
  Collect out;
  MeterStats stats;
  ReasonCounters errors;
};
std::unique_ptr<MeterRun> run_meter(const std::string& file, MeterConfig cfg) {
  auto r = std::make_unique<MeterRun>();
  FlowMeter meter(cfg, r->out);
  std::string err;
  auto f = PcapFile::open(file, err);
  EXPECT_TRUE(f) << err;
  if (!f) return r;
  CapturedPacket pkt;
  while (f->next(pkt)) {
    meter.advance(pkt.ts);
    meter.add_packet(f->linktype(), pkt);
  }
  EXPECT_EQ(f->error(), "");
  meter.flush();
  r->stats = meter.stats();
  r->errors = meter.errors();
  return r;
}

PerKey run_nfpcapd(const std::string& file, const std::string& timeouts) {
  PerKey m;
  char tmpl[] = "/tmp/omamori-nfpcapd-XXXXXX";
  char* dir = mkdtemp(tmpl);
  EXPECT_TRUE(dir);
  if (!dir) return m;
  int st = 0;
  std::string log = run("nfpcapd -r '" + file + "' -w " + dir + " -e " + timeouts + " 2>&1", &st);
  EXPECT_EQ(st, 0) << log;
  std::string out =
      run(std::string("TZ=UTC nfdump -R ") + dir + " -q -N -6 -o 'fmt:%pr|%sa|%sp|%da|%dp|%pkt|%byt' 2>&1", &st);
  EXPECT_EQ(st, 0) << out;
  fs::remove_all(dir);
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto f = split(line, '|');
    if (f.size() != 7) {
      ADD_FAILURE() << "nfdump line: " << line;
      continue;
    }
    FKey k;
    k.proto = static_cast<uint32_t>(num(trim(f[0])));
    k.src = addr(trim(f[1]));
    k.dst = addr(trim(f[3]));
    k.sport = static_cast<uint32_t>(num(trim(f[2])));
    std::string dp = trim(f[4]);
    auto dot = dp.find('.');  // ICMP: "type.code"
    k.dport = dot == std::string::npos ? static_cast<uint32_t>(num(dp))
                                       : static_cast<uint32_t>(num(dp.substr(0, dot)) << 8 | num(dp.substr(dot + 1)));
    Sums& s = m[k];
    s.packets += num(trim(f[5]));
    s.bytes += num(trim(f[6]));
    s.flows++;
  }
  return m;
}

void expect_same(const PerKey& got, const PerKey& want, const std::string& what) {
  size_t shown = 0;
  for (const auto& [k, w] : want) {
    auto it = got.find(k);
    Sums g = it == got.end() ? Sums{} : it->second;
    if (!(g == w) && shown++ < 10)
      ADD_FAILURE() << what << ": " << k.str() << " got " << g.packets << "p " << g.bytes << "B " << g.flows
                    << "f, model " << w.packets << "p " << w.bytes << "B " << w.flows << "f";
  }
  for (const auto& [k, g] : got)
    if (!want.count(k) && shown++ < 10) ADD_FAILURE() << what << ": unexpected " << k.str();
  EXPECT_EQ(shown, 0u) << what << ": keys differing from the model";
}

class DdosCapture : public ::testing::TestWithParam<const char*> {};

TEST_P(DdosCapture, AgreesWithNfpcapdUpToTheDocumentedDifferences) {
  ASSERT_TRUE(have_program("nfpcapd") && have_program("nfdump") && have_program("tshark"))
      << "nfdump (nfpcapd, nfdump) and tshark are required: scripts/setup.sh installs them";
  const std::string file = kData + "/ddos/" + GetParam();
  ASSERT_TRUE(fs::exists(file)) << file;

  auto pkts = tshark_packets(file);
  ASSERT_FALSE(pkts.empty());
  // The models assume no timeout fires: the capture is shorter than every timeout used.
  TimeMs t0 = pkts.front().ts, t1 = pkts.back().ts;
  ASSERT_LT(t1 - t0, MeterConfig{}.fragment_timeout_ms);
  uint64_t ip = 0, ip_bytes = 0;
  for (const auto& p : pkts) {
    ip += p.ip;
    if (!p.ip) continue;
    ip_bytes += p.len;
    // What the nfpcapd model covers: plain Ethernet, IPv6 without extension headers.
    ASSERT_TRUE(p.eth_type == 0x0800u || p.eth_type == 0x86DDu) << "frame " << p.frame;
    if (p.version == 6) {
      ASSERT_TRUE(p.proto == 6 || p.proto == 17 || p.proto == 58)
          << "frame " << p.frame << ": IPv6 next header " << p.proto;
    }
  }

  // omamori with its defaults (nfpcapd's 300 s / 60 s timeouts).
  auto om = run_meter(file, MeterConfig{});
  auto nf = run_nfpcapd(file, "300,60");

  // Nothing lost or invented: every IP packet of tshark's decode, with its IP total length.
  EXPECT_EQ(om->stats.exported_packets, ip);
  EXPECT_EQ(om->stats.exported_bytes, ip_bytes);
  EXPECT_EQ(om->stats.non_ip, pkts.size() - ip);
  EXPECT_EQ(om->stats.decode_errors, 0u);
  EXPECT_EQ(om->stats.evicted, 0u);

  PerKey om_keys = per_key(om->out.flows);
  PerKey nf_keys = nf;
  PerKey om_model = model_omamori(pkts, true);
  NfFigures fig;
  PerKey nf_model = model_nfpcapd(pkts, 14, &fig);
  expect_same(om_keys, om_model, std::string("omamori ") + GetParam());
  expect_same(nf_keys, nf_model, std::string("nfpcapd ") + GetParam());

  // Where neither fragments nor nfpcapd's per-packet flows nor FIN/RST are
  // involved, the two agree key for key: same packets, same bytes, same flows.
  uint64_t om_nofin_flows = 0, only_om = 0, only_nf = 0;
  {
    auto om_nofin = run_meter(file, [] {
      MeterConfig c;
      c.tcp_end_on_fin_rst = false;
      return c;
    }());
    PerKey om_nofin_keys = per_key(om_nofin->out.flows);
    om_nofin_flows = om_nofin->out.flows.size();
    expect_same(om_nofin_keys, model_omamori(pkts, false), std::string("omamori without FIN/RST end ") + GetParam());
    absl::flat_hash_set<DgramKey> fragmented;
    for (const auto& p : pkts)
      if (p.ip && p.fragment()) fragmented.insert(dgram(p));
    absl::flat_hash_set<std::pair<IpAddr, IpAddr>> frag_pairs;
    for (const auto& d : fragmented) frag_pairs.insert({d.src, d.dst});
    uint64_t compared = 0, compared_packets = 0;
    for (const auto& [k, n] : nf_keys) {
      bool per_packet = (k.proto == 17 && (k.sport == 53 || k.dport == 53)) || k.proto == 1 || k.proto == 58;
      if (per_packet || n.packets == 0 || frag_pairs.count({k.src, k.dst})) continue;
      auto it = om_nofin_keys.find(k);
      ASSERT_NE(it, om_nofin_keys.end()) << k.str();
      EXPECT_EQ(it->second, n) << k.str();
      ++compared;
      compared_packets += n.packets;
    }
    EXPECT_GT(compared, 0u);
    for (const auto& [k, v] : om_nofin_keys) only_om += !nf_keys.count(k);
    for (const auto& [k, v] : nf_keys) only_nf += v.packets > 0 && !om_nofin_keys.count(k);
    fmt::print("{}: {} flow keys with {} packets identical in both meters\n", GetParam(), compared, compared_packets);
  }

  Totals o = totals(om_keys), n = totals(nf_keys);
  uint64_t per_packet_keys = 0;
  for (const auto& [k, v] : nf_model)
    if ((k.proto == 17 && (k.sport == 53 || k.dport == 53)) || k.proto == 1 || k.proto == 58) ++per_packet_keys;
  // The differences, as docs/flow-meter.md states them.
  EXPECT_EQ(o.packets - n.packets, fig.fragments - fig.datagrams);
  EXPECT_EQ(o.bytes - n.bytes, fig.fragment_bytes - fig.datagram_bytes);
  EXPECT_EQ(om->stats.fragments, fig.fragments);
  EXPECT_EQ(n.flows, om_nofin_flows + (fig.per_packet_flows - per_packet_keys) + fig.gre_records - only_om + only_nf);
  fmt::print(
      "{}: frames {} ip {} | omamori flows {} packets {} bytes {}; without FIN/RST end: flows {} | fragments {} ({} "
      "bytes): first {} later {} held {} orphaned {} | nfpcapd flows {} packets {} bytes {} | reassembled datagrams {} "
      "from {} fragments, {} bytes; fragments not counted {} | port-53/ICMP flows {} over {} keys | GRE records {} | "
      "keys only omamori has {}, only nfpcapd has {}\n",
      GetParam(), pkts.size(), ip, o.flows, o.packets, o.bytes, om_nofin_flows, fig.fragments, fig.fragment_bytes,
      om->stats.first_fragments, om->stats.later_fragments, om->stats.later_held, om->stats.orphan_fragments, n.flows,
      n.packets, n.bytes, fig.datagrams, fig.datagram_fragments, fig.datagram_bytes,
      fig.fragments - fig.datagram_fragments, fig.per_packet_flows, per_packet_keys, fig.gre_records, only_om, only_nf);
}

INSTANTIATE_TEST_SUITE_P(Ddos, DdosCapture,
                         ::testing::Values("pkt.TCP.synflood.spoofed.pcap", "amp.TCP.reflection.SYNACK.pcap",
                                           "amp.dns.RRSIG.fragmented.pcap"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

// ---------------------------------------------------------------- DNS captures: a smoke test against tshark

TEST(MeterOnDnsCaptures, PacketsAndBytesPerAddressPairMatchTshark) {
  ASSERT_TRUE(have_program("tshark")) << "tshark is required: scripts/setup.sh installs it";
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(kData + "/dns/pcap")) {
    const std::string file = e.path().string();
    SCOPED_TRACE(file);
    ++files;
    auto om = run_meter(file, MeterConfig{});
    auto pkts = tshark_packets(file);
    std::map<std::pair<std::string, std::string>, std::pair<uint64_t, uint64_t>> want, got;  // printable on failure
    uint64_t frames = 0;
    for (const auto& p : pkts) {
      ++frames;
      if (!p.ip) continue;
      auto& w = want[{p.src.str(), p.dst.str()}];
      w.first++;
      w.second += p.len;
    }
    for (const auto& f : om->out.flows) {
      auto& g = got[{f.src.str(), f.dst.str()}];
      g.first += f.packets;
      g.second += f.bytes;
    }
    EXPECT_EQ(om->stats.packets, frames);
    EXPECT_EQ(got, want);
    EXPECT_EQ(om->stats.decode_errors, 0u);
    EXPECT_EQ(om->stats.exported_packets, om->stats.ip_packets);
  }
  EXPECT_GE(files, 10u);
}

// ---------------------------------------------------------------- the command

TEST(MeterCommand, FileToJsonLinesAndStats) {
  const std::string file = kData + "/ddos/amp.TCP.reflection.SYNACK.pcap";
  const std::string statfile = "/tmp/omamori-meter-stats-" + std::to_string(getpid()) + ".txt";
  int st = 0;
  std::string out =
      run(std::string(OMAMORI_BINARY) + " flows meter -f jsonl --stats '" + file + "' 2>" + statfile, &st);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
  auto lib = run_meter(file, MeterConfig{});
  size_t lines = 0;
  uint64_t packets = 0;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    ++lines;
    auto pos = line.find("\"packets\":");
    ASSERT_NE(pos, std::string::npos) << line;
    packets += std::stoull(line.substr(pos + 10));
  }
  EXPECT_EQ(lines, lib->out.flows.size());
  EXPECT_EQ(packets, lib->stats.exported_packets);
  std::ifstream statf(statfile);
  std::string stats((std::istreambuf_iterator<char>(statf)), {});
  fs::remove(statfile);
  EXPECT_NE(stats.find("packets 8000"), std::string::npos) << stats;

  // Shared output options: aggregate by proto; the filter; bad options exit 2.
  out = run(std::string(OMAMORI_BINARY) + " flows meter -f csv --aggregate proto '" + file + "'", &st);
  EXPECT_EQ(WEXITSTATUS(st), 0);
  EXPECT_NE(out.find("6,"), std::string::npos) << out;
  out = run(std::string(OMAMORI_BINARY) + " flows meter --filter 'proto udp' -f jsonl '" + file + "'", &st);
  EXPECT_EQ(WEXITSTATUS(st), 0);
  EXPECT_EQ(out.find("\"proto\":6"), std::string::npos);
  EXPECT_NE(out.find("\"proto\":17"), std::string::npos);
  run(std::string(OMAMORI_BINARY) + " flows meter --active -1 '" + file + "' 2>/dev/null", &st);
  EXPECT_EQ(WEXITSTATUS(st), 2);
  run(std::string(OMAMORI_BINARY) + " flows meter /nonexistent.pcap 2>/dev/null", &st);
  EXPECT_EQ(WEXITSTATUS(st), 1);
}

TEST(MeterCommand, LiveLoopbackCaptureFlushesOnSigterm) {
  // Captures on lo with a BPF filter, sends UDP datagrams to 127.0.0.1, then SIGTERM.
  const uint16_t port = static_cast<uint16_t>(40000 + getpid() % 20000);
  std::string outfile = "/tmp/omamori-meter-live-" + std::to_string(getpid()) + ".jsonl";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string bpf = "udp and dst port " + std::to_string(port);
    execl(OMAMORI_BINARY, OMAMORI_BINARY, "flows", "meter", "--interface", "lo", "--bpf", bpf.c_str(), "-f", "jsonl",
          "-o", outfile.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // capture opened
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int kSent = 25;
  char payload[100] = {0};
  for (int i = 0; i < kSent; ++i)
    ASSERT_EQ(sendto(s, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&to), sizeof to), 100);
  close(s);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(pid, SIGTERM);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
  std::ifstream in(outfile);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  fs::remove(outfile);
  EXPECT_NE(all.find("\"dport\":" + std::to_string(port)), std::string::npos) << all;
  EXPECT_NE(all.find("\"packets\":" + std::to_string(kSent)), std::string::npos) << all;
  EXPECT_NE(all.find("\"bytes\":" + std::to_string(kSent * 128)), std::string::npos) << all;  // 20 + 8 + 100
}

}  // namespace
