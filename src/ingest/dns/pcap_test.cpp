// DNS in pcaps, checked against tshark on every capture in ../shared/data/dns/pcap,
// plus synthetic TCP reassembly cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

#include "core/bytes.hpp"
#include "ingest/dns/pcap_dns.hpp"
#include "ingest/dns/test_util.hpp"
#include "ingest/pcap/pcap_file.hpp"
#include "packet/decode.hpp"

namespace omamori {
namespace {

using dnstest::run;
using dnstest::split;

// One DNS message as seen by either side.
struct Pdu {
  bool response = false;
  std::string qname;  // first question, in omamori's presentation form
  int rcode = -1;     // responses only
  int qtype = -1;
  std::vector<std::string> answers;  // answer-section A, AAAA, CNAME in order
  bool answers_known = true;         // false when tshark's fields could not be aligned
};

// tshark prints names with C-style escapes (\a \n \ooo octal, raw UTF-8) and does
// not escape dots inside labels; omamori prints them as dig does (\DDD decimal,
// "\." and "\\" inside labels, lower-case). This maps tshark's text to ours, which
// is exact for every name in the shared captures (none has a dot inside a label).
std::string tshark_name_to_ours(const std::string& s) {
  if (s == "<Root>") return ".";
  std::string out;
  auto put = [&](unsigned char c) {
    static const std::string special = "\"().;\\@$";
    if (c < 0x21 || c > 0x7e) {
      char b[8];
      std::snprintf(b, sizeof b, "\\%03u", c);
      out += b;
    } else if (special.find(static_cast<char>(c)) != std::string::npos) {
      out += '\\';
      out += static_cast<char>(c);
    } else {
      out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : static_cast<char>(c);
    }
  };
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.') {
      out += '.';
      continue;
    }
    if (c != '\\' || i + 1 >= s.size()) {
      put(static_cast<unsigned char>(c));
      continue;
    }
    char e = s[++i];
    switch (e) {
      case 'a':
        put(7);
        break;
      case 'b':
        put(8);
        break;
      case 'f':
        put(12);
        break;
      case 'n':
        put(10);
        break;
      case 'r':
        put(13);
        break;
      case 't':
        put(9);
        break;
      case 'v':
        put(11);
        break;
      case '\\':
        put('\\');
        break;
      default:
        if (e >= '0' && e <= '7') {
          unsigned v = 0;
          size_t k = 0;
          while (k < 3 && i < s.size() && s[i] >= '0' && s[i] <= '7') v = v * 8 + (s[i++] - '0'), ++k;
          --i;
          put(static_cast<unsigned char>(v));
        } else {
          put(static_cast<unsigned char>(e));
        }
    }
  }
  return out;
}

TEST(TsharkNames, Conversion) {
  EXPECT_EQ(tshark_name_to_ours("www.allyourba\\004\\005\\006arebelongto.cn"),
            "www.allyourba\\004\\005\\006arebelongto.cn");
  EXPECT_EQ(tshark_name_to_ours("x\\ny\\a\\177.Com"), "x\\010y\\007\\127.com");
  EXPECT_EQ(tshark_name_to_ours("a\"b;c.com"), "a\\\"b\\;c.com");
  EXPECT_EQ(tshark_name_to_ours("<Root>"), ".");
}

std::map<uint64_t, std::vector<Pdu>> tshark_pdus(const std::string& file) {
  const std::string agg = "\x1f";
  std::string cmd = "tshark -r '" + file +
                    "' -Y 'dns && (udp.port==53 || tcp.port==53)' -T fields -E 'aggregator=" + agg +
                    "' -e frame.number -e dns.flags.response -e dns.count.queries -e dns.qry.name -e dns.flags.rcode "
                    "-e dns.qry.type -e dns.count.answers -e dns.count.auth_rr -e dns.count.add_rr -e dns.resp.type "
                    "-e dns.a -e dns.aaaa -e dns.cname 2>/dev/null";
  std::map<uint64_t, std::vector<Pdu>> out;
  for (const auto& line : dnstest::lines(run(cmd))) {
    auto f = split(line, '\t');
    if (f.size() != 13) {
      ADD_FAILURE() << "unexpected tshark line: " << line;
      continue;
    }
    auto vals = [&](int i) {
      std::vector<std::string> v = f[i].empty() ? std::vector<std::string>{} : split(f[i], '\x1f');
      return v;
    };
    auto resp = vals(1), nq = vals(2), names = vals(3), rcodes = vals(4), qtypes = vals(5), an = vals(6), ns = vals(7),
         ar = vals(8), rtypes = vals(9), as = vals(10), aaaas = vals(11), cnames = vals(12);
    size_t ni = 0, ri = 0, ti = 0, rti = 0, ai = 0, a6i = 0, ci = 0;
    auto& pdus = out[std::stoull(f[0])];
    bool single = resp.size() == 1;
    for (size_t k = 0; k < resp.size(); ++k) {
      Pdu p;
      p.response = resp[k] == "1";
      size_t q = k < nq.size() ? std::stoul(nq[k]) : 0;
      for (size_t j = 0; j < q; ++j, ++ni) {
        if (j == 0 && ni < names.size()) p.qname = tshark_name_to_ours(names[ni]);
        if (j == 0 && ti < qtypes.size()) p.qtype = std::stoi(qtypes[ti]);
        if (ti < qtypes.size()) ++ti;
      }
      if (p.response && ri < rcodes.size()) p.rcode = std::stoi(rcodes[ri++]);
      size_t nan = k < an.size() ? std::stoul(an[k]) : 0;
      size_t total = nan + (k < ns.size() ? std::stoul(ns[k]) : 0) + (k < ar.size() ? std::stoul(ar[k]) : 0);
      // Answers can only be aligned when this frame holds one message whose records tshark all listed.
      p.answers_known = single && rtypes.size() == total;
      for (size_t j = 0; j < total && rti < rtypes.size(); ++j, ++rti) {
        int t = std::stoi(rtypes[rti]);
        std::string v;
        if (t == 1 && ai < as.size()) v = as[ai++];
        if (t == 28 && a6i < aaaas.size()) v = aaaas[a6i++];
        if (t == 5 && ci < cnames.size()) v = cnames[ci++];
        if (j < nan && !v.empty() && v[0] != '<') p.answers.push_back(t == 5 ? tshark_name_to_ours(v) : v);
      }
      pdus.push_back(p);
    }
  }
  return out;
}

struct FrameCollector final : DnsSink {
  uint64_t frame = 0;
  std::map<uint64_t, std::vector<Pdu>> pdus;
  void on_dns(const DnsEvent& ev) override {
    Pdu p;
    p.response = ev.is_response();
    p.qname = std::string(ev.qname());
    if (ev.qdcount == 0) p.qname.clear();
    if (p.response) p.rcode = ev.rcode & 0xf;  // tshark shows the header rcode
    p.qtype = ev.qdcount ? ev.qtype : -1;
    for (const auto& a : ev.answers()) {
      if (a.type == dnstype::A || a.type == dnstype::AAAA)
        p.answers.push_back(a.addr.str());
      else if (a.type == dnstype::CNAME)
        p.answers.push_back(std::string(ev.answer_name(a)));
    }
    pdus[frame].push_back(p);
  }
};

struct PcapRun {
  FrameCollector got;
  DnsPacketDecoder dec;
  uint64_t packets = 0;
};

std::unique_ptr<PcapRun> read_pcap(const std::string& file) {
  auto r = std::make_unique<PcapRun>();
  std::string err;
  auto f = PcapFile::open(file, err);
  EXPECT_TRUE(f) << err;
  if (!f) return r;
  CapturedPacket pkt;
  while (f->next(pkt)) {
    r->got.frame = ++r->packets;
    r->dec.packet(f->linktype(), pkt.data, pkt.caplen, pkt.ts, r->got);
  }
  EXPECT_EQ(f->error(), "");
  r->dec.finish();
  return r;
}

std::vector<std::string> shared_pcaps() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dnstest::shared_data("dns/pcap"))) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(DnsPcap, AgreesWithTsharkOnEverySharedCapture) {
  ASSERT_TRUE(dnstest::have_program("tshark"));
  auto files = shared_pcaps();
  ASSERT_GE(files.size(), 10u);
  uint64_t total_msgs = 0, answers_compared = 0;
  for (const auto& file : files) {
    SCOPED_TRACE(file);
    auto want = tshark_pdus(file);
    auto r = read_pcap(file);
    auto& got = r->got.pdus;
    ASSERT_FALSE(want.empty());
    // Same frames carry DNS, the same number of messages each, with the same header
    // fields, first question and (where tshark lists them) answer-section A/AAAA/CNAME.
    std::vector<uint64_t> wf, gf;
    for (auto& [k, v] : want) wf.push_back(k);
    for (auto& [k, v] : got) gf.push_back(k);
    EXPECT_EQ(gf, wf);
    for (auto& [frame, wp] : want) {
      SCOPED_TRACE("frame " + std::to_string(frame));
      auto it = got.find(frame);
      if (it == got.end()) continue;
      auto& gp = it->second;
      ASSERT_EQ(gp.size(), wp.size());
      for (size_t i = 0; i < wp.size(); ++i) {
        ++total_msgs;
        EXPECT_EQ(gp[i].response, wp[i].response);
        EXPECT_EQ(gp[i].qname, wp[i].qname);
        EXPECT_EQ(gp[i].qtype, wp[i].qtype);
        EXPECT_EQ(gp[i].rcode, wp[i].rcode);
        if (wp[i].answers_known) {
          ++answers_compared;
          EXPECT_EQ(gp[i].answers, wp[i].answers);
        }
      }
    }
  }
  std::printf("compared %llu messages, %llu answer lists\n", (unsigned long long)total_msgs,
              (unsigned long long)answers_compared);
  EXPECT_GE(total_msgs, 460u);
  EXPECT_GE(answers_compared, 400u);
}

TEST(DnsPcap, MalformedCapturesAreCountedNotFatal) {
  // malformed_dns.pcap: four responses whose second question and CNAME target are
  // names of more than 255 bytes. Each response still gives its event (first
  // question, the A answer) and counts two "name too long".
  auto r = read_pcap(dnstest::shared_data("dns/pcap/malformed_dns.pcap"));
  EXPECT_EQ(r->dec.errors().count("name too long"), 8u);
  EXPECT_EQ(r->dec.stats().events, 6u);
  // bad-dns-traffic.pcap is a dnscat2 tunnel over 4.2.2.4: odd but well-formed DNS.
  auto b = read_pcap(dnstest::shared_data("dns/pcap/bad-dns-traffic.pcap"));
  EXPECT_EQ(b->dec.stats().events, 382u);
  EXPECT_EQ(b->dec.errors().total(), 0u);
}

TEST(DnsPcap, TcpAndFragmentsAndPppoe) {
  // dns_tcp.pcapng: the ANY answer is too big for UDP (TC), the client retries over TCP.
  auto t = read_pcap(dnstest::shared_data("dns/pcap/dns_tcp.pcapng"));
  EXPECT_EQ(t->dec.stats().tcp_messages, 2u);
  EXPECT_EQ(t->dec.errors().total(), 0u);
  // dns_fragmented.pcap: DNSKEY answers in IPv4 and IPv6 fragments, and TCP.
  auto f = read_pcap(dnstest::shared_data("dns/pcap/dns_fragmented.pcap"));
  EXPECT_GT(f->dec.stats().fragments, 0u);
  EXPECT_GT(f->dec.stats().tcp_messages, 0u);
  EXPECT_EQ(f->dec.errors().total(), 0u);
  // dns.pcap frames 4 and 5 are DNS inside PPPoE inside QinQ.
  auto p = read_pcap(dnstest::shared_data("dns/pcap/dns.pcap"));
  EXPECT_EQ(p->dec.stats().events, 5u);
  EXPECT_EQ(p->dec.packet_errors().total(), 0u);
}

// ---------------------------------------------------------------- synthetic TCP

std::vector<uint8_t> dns_query(uint16_t id, const std::string& name) {
  std::vector<uint8_t> m = {uint8_t(id >> 8), uint8_t(id), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  for (const auto& l : split(name, '.')) {
    m.push_back(static_cast<uint8_t>(l.size()));
    m.insert(m.end(), l.begin(), l.end());
  }
  m.insert(m.end(), {0, 0, 1, 0, 1});
  return m;
}

// Raw IPv4 + TCP packet (link type RAW).
std::vector<uint8_t> tcp_packet(uint32_t seq, uint8_t flags, const std::vector<uint8_t>& payload,
                                uint16_t sport = 40000, uint16_t dport = 53) {
  size_t total = 40 + payload.size();
  std::vector<uint8_t> p(total, 0);
  p[0] = 0x45;
  p[2] = uint8_t(total >> 8);
  p[3] = uint8_t(total);
  p[8] = 64;
  p[9] = 6;
  uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 53};
  std::memcpy(&p[12], src, 4);
  std::memcpy(&p[16], dst, 4);
  p[20] = uint8_t(sport >> 8);
  p[21] = uint8_t(sport);
  p[22] = uint8_t(dport >> 8);
  p[23] = uint8_t(dport);
  p[24] = uint8_t(seq >> 24);
  p[25] = uint8_t(seq >> 16);
  p[26] = uint8_t(seq >> 8);
  p[27] = uint8_t(seq);
  p[32] = 0x50;
  p[33] = flags;
  std::copy(payload.begin(), payload.end(), p.begin() + 40);
  return p;
}

std::vector<uint8_t> framed(const std::vector<std::vector<uint8_t>>& msgs) {
  std::vector<uint8_t> s;
  for (const auto& m : msgs) {
    s.push_back(uint8_t(m.size() >> 8));
    s.push_back(uint8_t(m.size()));
    s.insert(s.end(), m.begin(), m.end());
  }
  return s;
}

struct NameSink final : DnsSink {
  std::vector<std::string> names;
  void on_dns(const DnsEvent& ev) override { names.emplace_back(ev.qname()); }
};

TEST(DnsPcapTcp, ReordersRetransmitsAndSplits) {
  DnsPacketDecoder dec;
  NameSink sink;
  auto stream = framed({dns_query(1, "one.example"), dns_query(2, "two.example"), dns_query(3, "three.example")});
  const uint32_t isn = 1000;
  auto seg = [&](size_t from, size_t to) {
    return tcp_packet(isn + 1 + static_cast<uint32_t>(from), 0x18,
                      std::vector<uint8_t>(stream.begin() + from, stream.begin() + to));
  };
  auto feed = [&](const std::vector<uint8_t>& p) { dec.packet(linktype::RAW, p.data(), p.size(), 1000, sink); };
  feed(tcp_packet(isn, 0x02, {}));  // SYN
  // Segments: [0,5) [5,20) then [40,end) out of order, a retransmission of [5,20), then [20,40).
  feed(seg(0, 5));
  feed(seg(5, 20));
  feed(seg(40, stream.size()));
  feed(seg(5, 20));
  EXPECT_EQ(sink.names, std::vector<std::string>{});
  feed(seg(20, 40));
  EXPECT_EQ(sink.names, (std::vector<std::string>{"one.example", "two.example", "three.example"}));
  EXPECT_EQ(dec.stats().tcp_retransmitted, 1u);
  EXPECT_EQ(dec.stats().tcp_out_of_order, 1u);
  feed(tcp_packet(isn + 1 + static_cast<uint32_t>(stream.size()), 0x11, {}));  // FIN
  EXPECT_EQ(dec.errors().total(), 0u);
  EXPECT_EQ(dec.tcp_streams(), 0u);
}

TEST(DnsPcapTcp, CountsWhatCannotBeReassembled) {
  DnsPacketDecoder dec;
  NameSink sink;
  auto feed = [&](const std::vector<uint8_t>& p) { dec.packet(linktype::RAW, p.data(), p.size(), 1000, sink); };
  auto stream = framed({dns_query(1, "one.example"), dns_query(2, "two.example")});
  feed(tcp_packet(5000, 0x02, {}));
  // Only the first half of the stream, then FIN: the second message never completes.
  feed(tcp_packet(5001, 0x18, std::vector<uint8_t>(stream.begin(), stream.begin() + 40)));
  feed(tcp_packet(5001 + 40, 0x11, {}));
  EXPECT_EQ(sink.names, std::vector<std::string>{"one.example"});
  EXPECT_EQ(dec.errors().count("tcp stream ended inside a message"), 1u);

  // A gap that is never filled: more out-of-order segments than are held.
  DnsPacketDecoder small({.ports = {53}, .max_out_of_order = 2});
  auto feed2 = [&](const std::vector<uint8_t>& p) { small.packet(linktype::RAW, p.data(), p.size(), 1000, sink); };
  feed2(tcp_packet(7000, 0x02, {}, 40001));
  for (uint32_t i = 0; i < 3; ++i) feed2(tcp_packet(7100 + i * 10, 0x18, std::vector<uint8_t>(10, 0), 40001));
  EXPECT_EQ(small.errors().count("tcp gap not filled (segments lost)"), 1u);

  // Segments cut by the capture length cannot be reassembled.
  DnsPacketDecoder cut;
  auto p = tcp_packet(9001, 0x18, stream, 40002);
  cut.packet(linktype::RAW, p.data(), p.size() - 10, 1000, sink);
  EXPECT_EQ(cut.errors().count("tcp segment truncated by capture length"), 1u);
}

TEST(DnsPcapTcp, MidstreamAndDnsPortChoice) {
  // No SYN seen: the first segment is taken as the start of a message.
  DnsPacketDecoder dec({.ports = {5300}});
  NameSink sink;
  auto stream = framed({dns_query(9, "mid.example")});
  auto p = tcp_packet(123456, 0x18, stream, 40000, 5300);
  dec.packet(linktype::RAW, p.data(), p.size(), 1000, sink);
  EXPECT_EQ(sink.names, std::vector<std::string>{"mid.example"});
  EXPECT_EQ(dec.stats().tcp_midstream, 1u);
  // Port 53 is not a DNS port for this decoder.
  auto q = tcp_packet(1, 0x18, stream, 40000, 53);
  dec.packet(linktype::RAW, q.data(), q.size(), 1000, sink);
  EXPECT_EQ(sink.names.size(), 1u);
}

}  // namespace
}  // namespace omamori
