// sFlow v5 decoder tests.
//
// 1. Every bundled sFlow capture is decoded and compared, sample by sample,
//    with tshark's dissection of the same file: sample counts, agent,
//    sampling rate, interfaces, frame length, AS numbers, and the
//    addresses/ports/protocol of the sampled packet. For the raw packet
//    headers tshark is asked independently: the header bytes of every sample
//    are written to a pcap and tshark decodes them; its innermost IP layer
//    (after VLAN, MPLS, GRE, VXLAN...) is what the decoder must report.
// 2. Known facts about specific captures (QinQ, VXLAN, ICMP, expanded samples,
//    discard/local/multiple interfaces, extended gateway).
// 3. Hand-built malformed datagrams: each one must be counted under its
//    reason without losing the well-formed samples around it; every prefix
//    and many bit-flipped copies of the real datagrams decode without harm.
#include "ingest/sflow/sflow.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ingest/pcap/pcap_file.hpp"
#include "ingest/pcap/udp_stream.hpp"

using namespace omamori;
using ojson = nlohmann::ordered_json;

namespace {

const std::string kData = OMAMORI_SHARED_DATA;
const std::string kAkvorado = kData + "/flows/akvorado/sflow/";
const std::string kNdpi = kData + "/flows/ndpi/sflow.pcap";

std::vector<std::string> all_captures() {
  std::vector<std::string> v;
  for (const auto& e : std::filesystem::directory_iterator(kAkvorado))
    if (e.path().extension() == ".pcap") v.push_back(e.path().string());
  std::sort(v.begin(), v.end());
  v.push_back(kNdpi);
  return v;
}

struct Collect : FlowSink {
  std::vector<FlowRecord> flows;
  void on_flow(const FlowRecord& r) override { flows.push_back(r); }
};

struct Decoded {
  std::vector<FlowRecord> flows;
  SflowStats stats;
  ReasonCounters errors;
  ReasonCounters pcap_errors;
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<IpAddr> senders;
};

Decoded decode_file(const std::string& path) {
  Decoded out;
  std::string err;
  auto f = PcapFile::open(path, err);
  EXPECT_TRUE(f) << err;
  if (!f) return out;
  UdpExtractor udp;
  SflowDecoder dec;
  Collect sink;
  CapturedPacket pkt;
  UdpDatagram d;
  while (f->next(pkt)) {
    if (!udp.extract(f->linktype(), pkt.data, pkt.caplen, pkt.ts, d)) continue;
    if (d.dport != 6343) continue;
    out.payloads.emplace_back(d.payload.begin(), d.payload.end());
    out.senders.push_back(d.src);
    dec.decode(d.src, d.ts, d.payload, sink);
  }
  EXPECT_EQ(f->error(), "") << path;
  out.flows = std::move(sink.flows);
  out.stats = dec.stats();
  out.errors = dec.errors();
  out.pcap_errors = udp.errors();
  return out;
}

std::string describe(const ReasonCounters& c) {
  std::string s;
  for (const auto& row : c.snapshot(true)) s += row.source + " " + row.reason + " " + std::to_string(row.count) + "\n";
  return s;
}

// Runs a shell command and returns its standard output; the command must succeed.
std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    ADD_FAILURE() << "cannot run " << cmd;
    return out;
  }
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "failed: " << cmd;
  return out;
}

void require_tshark() {
  ASSERT_EQ(std::system("command -v tshark >/dev/null 2>&1"), 0)
      << "tshark is required (scripts/packages.txt; run scripts/setup.sh)";
}

std::string tmp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("omamori-sflow-" + std::to_string(getpid()) + "-" + name)).string();
}

// ---- tshark's view of an sFlow capture ------------------------------------

struct TsSample {
  bool expanded = false;
  uint32_t rate = 0;
  uint32_t in_fmt = 0, in_val = 0, out_fmt = 0, out_val = 0;
  bool has_header = false;
  uint32_t header_proto = 0, frame_len = 0;
  std::vector<uint8_t> header;
  bool has_ip = false;  // "IPv4 data" / "IPv6 data" record
  std::string ip_src, ip_dst;
  uint32_t ip_len = 0, ip_proto = 0, ip_sport = 0, ip_dport = 0;
  bool has_gateway = false;
  uint32_t router_as = 0, src_as = 0;
  std::vector<uint32_t> path;
};

// With --no-duplicate-keys, repeated keys become arrays; take the first.
const ojson& first(const ojson& v) {
  return v.is_array() && !v.empty() ? v.front() : v;
}
std::string field(const ojson& o, const char* key) {
  if (!o.is_object() || !o.contains(key)) return "";
  const ojson& v = first(o[key]);
  return v.is_string() ? v.get<std::string>() : "";
}
uint32_t num(const ojson& o, const char* key) {
  std::string s = field(o, key);
  return s.empty() ? 0 : static_cast<uint32_t>(std::stoul(s, nullptr, 0));
}
std::vector<uint8_t> hex_bytes(const std::string& s) {
  std::vector<uint8_t> b;
  for (size_t i = 0; i + 2 <= s.size(); i += 3)
    b.push_back(static_cast<uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
  return b;
}
void collect_numbers(const ojson& v, std::vector<uint32_t>& out) {
  if (v.is_array())
    for (const auto& e : v) collect_numbers(e, out);
  else if (v.is_string())
    out.push_back(static_cast<uint32_t>(std::stoul(v.get<std::string>())));
}

TsSample parse_sample(const ojson& s, bool expanded) {
  TsSample t;
  t.expanded = expanded;
  t.rate = num(s, "sflow.flow_sample.sampling_rate");
  if (expanded) {
    t.in_fmt = num(s, "sflow.flow_sample.input_interface_format");
    t.in_val = num(s, "sflow.flow_sample.input_interface_value");
    t.out_fmt = num(s, "sflow.flow_sample.output_interface.format");
    t.out_val = num(s, "sflow.flow_sample.output_interface_value");
  } else {
    uint32_t in = num(s, "sflow.flow_sample.input_interface");
    uint32_t out = num(s, "sflow.flow_sample.output_interface");
    t.in_fmt = in >> 30;
    t.in_val = in & 0x3fffffff;
    t.out_fmt = out >> 30;
    t.out_val = out & 0x3fffffff;
  }
  for (const auto& [key, val] : s.items()) {
    const ojson& r = first(val);
    if (key == "Raw packet header" && !t.has_header) {
      t.has_header = true;
      t.header_proto = num(r, "sflow_245.header_protocol");
      t.frame_len = num(r, "sflow_245.header.frame_length");
      t.header = hex_bytes(field(r, "sflow_245.header"));
    } else if ((key == "IPv4 data" || key == "IPv6 data") && !t.has_ip) {
      bool v6 = key == "IPv6 data";
      t.has_ip = true;
      t.ip_src = field(r, v6 ? "sflow_245.ipv6_src" : "sflow_245.ipv4_src");
      t.ip_dst = field(r, v6 ? "sflow_245.ipv6_dst" : "sflow_245.ipv4_dst");
      t.ip_len = num(r, "sflow_245.ip.length");
      t.ip_proto = num(r, "sflow.ip_protocol");
      t.ip_sport = num(r, "sflow_245.ip.source_port");
      t.ip_dport = num(r, "sflow.ip.destination_port");
    } else if (key == "Extended gateway data") {
      t.has_gateway = true;
      t.router_as = num(r, "sflow_245.as");
      t.src_as = num(r, "sflow_245.srcAS");
      if (r.contains("sflow.as_type_tree")) collect_numbers(r["sflow.as_type_tree"]["sflow_245.dstAS"], t.path);
    }
  }
  return t;
}

struct TsDatagram {
  std::string agent;
  size_t counter_samples = 0;
  std::vector<TsSample> samples;  // flow samples, in order
};

std::vector<TsDatagram> tshark_sflow(const std::string& path) {
  std::vector<TsDatagram> out;
  std::string js = run("tshark -n -r '" + path + "' -d udp.port==6343,sflow -T json --no-duplicate-keys 2>/dev/null");
  ojson frames = ojson::parse(js);
  for (const auto& fr : frames) {
    const ojson& layers = fr["_source"]["layers"];
    if (!layers.contains("sflow")) continue;
    const ojson& sf = first(layers["sflow"]);
    TsDatagram d;
    d.agent = field(sf, "sflow_245.agent");
    if (d.agent.empty()) d.agent = field(sf, "sflow_245.agent.v6");
    for (const auto& [key, val] : sf.items()) {
      bool flow = key.rfind("Flow sample", 0) == 0, exp = key.rfind("Expanded flow sample", 0) == 0;
      bool counters = key.find("ounters sample") != std::string::npos;
      size_t n = val.is_array() ? val.size() : 1;
      if (counters) d.counter_samples += n;
      if (!flow && !exp) continue;
      if (val.is_array())
        for (const auto& s : val) d.samples.push_back(parse_sample(s, exp));
      else
        d.samples.push_back(parse_sample(val, exp));
    }
    out.push_back(std::move(d));
  }
  return out;
}

// ---- tshark's decode of the sampled headers -------------------------------

struct TsPacket {
  bool has_ip = false;
  std::string src, dst;
  int proto = -1;  // -1: not compared (unknown L4 after an IPv6 header)
  bool has_ports = false;
  uint32_t sport = 0, dport = 0;
  int tcp_flags = -1;
};

void put_le32(std::ofstream& f, uint32_t v) {
  char b[4] = {char(v), char(v >> 8), char(v >> 16), char(v >> 24)};
  f.write(b, 4);
}

// Writes the sampled headers as Ethernet frames (IP and MPLS headers get an
// Ethernet header in front) and lets tshark decode them.
std::vector<TsPacket> tshark_headers(const std::vector<TsSample>& samples, std::vector<int>& index) {
  std::string path = tmp_path("headers.pcap");
  std::ofstream f(path, std::ios::binary);
  put_le32(f, 0xa1b2c3d4);
  f.write("\x02\x00\x04\x00", 4);
  put_le32(f, 0);
  put_le32(f, 0);
  put_le32(f, 65535);
  put_le32(f, 1);  // Ethernet
  int n = 0;
  index.assign(samples.size(), -1);
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    if (!s.has_header) continue;
    std::vector<uint8_t> frame;
    if (s.header_proto == 1) {
      frame = s.header;
    } else {
      uint16_t type = s.header_proto == 13 ? 0x8847 : (!s.header.empty() && (s.header[0] >> 4) == 6 ? 0x86dd : 0x0800);
      frame.assign(12, 0x02);
      frame.push_back(static_cast<uint8_t>(type >> 8));
      frame.push_back(static_cast<uint8_t>(type));
      frame.insert(frame.end(), s.header.begin(), s.header.end());
    }
    put_le32(f, 0);
    put_le32(f, 0);
    put_le32(f, static_cast<uint32_t>(frame.size()));
    put_le32(f, static_cast<uint32_t>(frame.size()));
    f.write(reinterpret_cast<const char*>(frame.data()), static_cast<std::streamsize>(frame.size()));
    index[i] = n++;
  }
  f.close();
  std::vector<TsPacket> out;
  if (n == 0) {
    std::filesystem::remove(path);
    return out;
  }
  static const char* kFields[] = {"frame.protocols", "ip.src",      "ip.dst",      "ipv6.src",    "ipv6.dst",
                                  "ip.proto",        "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
                                  "icmp.type",       "icmp.code",   "icmpv6.type", "icmpv6.code", "tcp.flags",
                                  "sctp.srcport",    "sctp.dstport"};
  std::string cmd = "tshark -n -r '" + path + "' -T fields -E separator=/t -E occurrence=a -E aggregator=,";
  for (const char* fl : kFields) cmd += std::string(" -e ") + fl;
  std::string text = run(cmd + " 2>/dev/null");
  std::filesystem::remove(path);
  auto split = [](const std::string& s, char sep) {
    std::vector<std::string> v;
    size_t b = 0;
    for (size_t e; (e = s.find(sep, b)) != std::string::npos; b = e + 1) v.push_back(s.substr(b, e - b));
    v.push_back(s.substr(b));
    return v;
  };
  for (const auto& line : split(text, '\n')) {
    if (line.empty()) continue;
    auto cols = split(line, '\t');
    cols.resize(std::size(kFields));
    auto col = [&](const char* name) {
      for (size_t i = 0; i < std::size(kFields); ++i)
        if (std::string(kFields[i]) == name) return split(cols[i], ',');
      return std::vector<std::string>{};
    };
    // Innermost IP layer: the last ip/ipv6 before any ICMP (whose payload
    // quotes the offending packet's headers).
    auto protos = split(cols[0], ':');
    size_t stop = protos.size();
    for (size_t i = 0; i < protos.size(); ++i)
      if (protos[i] == "icmp" || protos[i] == "icmpv6") {
        stop = i + 1;
        break;
      }
    TsPacket p;
    int ipk = -1;
    for (size_t i = 0; i < stop; ++i)
      if (protos[i] == "ip" || protos[i] == "ipv6") ipk = static_cast<int>(i);
    auto occurrence = [&](size_t upto) {  // how many layers named like protos[upto] up to it
      return static_cast<size_t>(std::count(protos.begin(), protos.begin() + upto + 1, protos[upto]));
    };
    auto nth = [](const std::vector<std::string>& v, size_t k) { return k >= 1 && k <= v.size() ? v[k - 1] : ""; };
    if (ipk >= 0) {
      p.has_ip = true;
      bool v6 = protos[ipk] == "ipv6";
      size_t occ = occurrence(ipk);
      p.src = nth(col(v6 ? "ipv6.src" : "ip.src"), occ);
      p.dst = nth(col(v6 ? "ipv6.dst" : "ip.dst"), occ);
      if (!v6 && !nth(col("ip.proto"), occ).empty()) p.proto = std::stoi(nth(col("ip.proto"), occ));
      if (static_cast<size_t>(ipk) + 1 < protos.size()) {
        size_t l4 = ipk + 1;
        const std::string& name = protos[l4];
        size_t o = occurrence(l4);
        if (name == "tcp" || name == "udp" || name == "sctp") {
          p.proto = name == "tcp" ? 6 : name == "udp" ? 17 : 132;
          std::string sp = nth(col((name + ".srcport").c_str()), o), dp = nth(col((name + ".dstport").c_str()), o);
          if (!sp.empty() && !dp.empty()) {
            p.has_ports = true;
            p.sport = std::stoul(sp);
            p.dport = std::stoul(dp);
          }
          if (name == "tcp" && !nth(col("tcp.flags"), o).empty())
            p.tcp_flags = static_cast<int>(std::stoul(nth(col("tcp.flags"), o), nullptr, 16) & 0xff);
        } else if (name == "icmp" || name == "icmpv6") {
          p.proto = name == "icmp" ? 1 : 58;
          std::string t = nth(col((name + ".type").c_str()), o), c = nth(col((name + ".code").c_str()), o);
          if (!t.empty() && !c.empty()) {
            p.has_ports = true;
            p.dport = (std::stoul(t) << 8) | std::stoul(c);
          }
        }
      }
    }
    out.push_back(p);
  }
  EXPECT_EQ(out.size(), static_cast<size_t>(n)) << "tshark decoded a different number of headers";
  return out;
}

// The interface mapping the decoder documents (docs/sflow.md).
uint32_t expected_if(uint32_t format, uint32_t value) {
  return format == 0 && value != 0x3fffffff ? value : 0;
}

}  // namespace

TEST(Sflow, EveryCaptureDecodesWithoutErrors) {
  auto files = all_captures();
  ASSERT_EQ(files.size(), 12u);
  for (const auto& f : files) {
    Decoded d = decode_file(f);
    EXPECT_FALSE(d.payloads.empty()) << f;
    EXPECT_EQ(d.errors.total(), 0u) << f << "\n" << describe(d.errors);
    EXPECT_EQ(d.pcap_errors.total(), 0u) << f << "\n" << describe(d.pcap_errors);
    EXPECT_EQ(d.stats.datagrams, d.payloads.size()) << f;
    // One record per flow sample: no sample in these captures is non-IP.
    EXPECT_EQ(d.stats.records, d.stats.flow_samples) << f;
    EXPECT_EQ(d.stats.non_ip_samples, 0u) << f;
    for (const auto& r : d.flows) {
      EXPECT_EQ(r.packets, 1u);
      EXPECT_GT(r.bytes, 0u);
      EXPECT_GE(r.sampling_rate, 1u);
      EXPECT_EQ(r.start, r.end);
      EXPECT_FALSE(r.src.empty());
      EXPECT_FALSE(r.dst.empty());
    }
  }
}

TEST(Sflow, MatchesTshark) {
  require_tshark();
  // One tshark run over all captures (concatenated) keeps the test fast.
  auto files = all_captures();
  std::string merged = tmp_path("all.pcapng");
  std::string cmd = "mergecap -a -w '" + merged + "'";
  for (const auto& f : files) cmd += " '" + f + "'";
  run(cmd + " 2>/dev/null");
  std::vector<TsDatagram> ts = tshark_sflow(merged);
  std::filesystem::remove(merged);
  std::vector<TsSample> all_samples;
  for (const auto& d : ts) all_samples.insert(all_samples.end(), d.samples.begin(), d.samples.end());
  std::vector<int> index;
  std::vector<TsPacket> pk = tshark_headers(all_samples, index);

  size_t next_datagram = 0, next_sample = 0, total_samples = 0, total_headers = 0;
  for (const auto& file : files) {
    SCOPED_TRACE(file);
    Decoded d = decode_file(file);
    ASSERT_LE(next_datagram + d.payloads.size(), ts.size());
    size_t counters = 0, flow_samples = 0, expanded = 0;
    std::vector<std::pair<const TsSample*, const TsPacket*>> samples;
    std::vector<std::string> agents;
    for (size_t i = 0; i < d.payloads.size(); ++i) {
      const TsDatagram& td = ts[next_datagram++];
      counters += td.counter_samples;
      for (const auto& s : td.samples) {
        int hi = index[next_sample++];
        samples.emplace_back(&s, hi >= 0 && hi < static_cast<int>(pk.size()) ? &pk[hi] : nullptr);
        agents.push_back(td.agent);
        ++flow_samples;
        expanded += s.expanded;
      }
    }
    EXPECT_EQ(counters, d.stats.counter_samples);
    ASSERT_EQ(flow_samples, d.stats.flow_samples);
    EXPECT_EQ(expanded, d.stats.expanded_flow_samples);
    size_t k = 0;  // next decoded record
    for (size_t i = 0; i < samples.size(); ++i) {
      const TsSample& s = *samples[i].first;
      const TsPacket* p = samples[i].second;
      SCOPED_TRACE("flow sample " + std::to_string(i));
      bool from_header = p && p->has_ip;
      if (!from_header && !s.has_ip) continue;  // non-IP sample: no record expected
      ASSERT_LT(k, d.flows.size());
      const FlowRecord& r = d.flows[k++];
      ++total_samples;
      EXPECT_EQ(r.exporter, *IpAddr::parse(agents[i]));
      EXPECT_EQ(r.sampling_rate, s.rate);
      EXPECT_EQ(r.in_if, expected_if(s.in_fmt, s.in_val));
      EXPECT_EQ(r.out_if, expected_if(s.out_fmt, s.out_val));
      if (s.has_gateway) {
        EXPECT_EQ(r.src_as, s.src_as ? s.src_as : s.router_as);
        EXPECT_EQ(r.dst_as, s.path.empty() ? s.router_as : s.path.back());
      } else {
        EXPECT_EQ(r.src_as, 0u);
        EXPECT_EQ(r.dst_as, 0u);
      }
      if (from_header) {
        ++total_headers;
        EXPECT_EQ(r.bytes, s.frame_len);
        EXPECT_EQ(r.src, *IpAddr::parse(p->src)) << p->src;
        EXPECT_EQ(r.dst, *IpAddr::parse(p->dst)) << p->dst;
        if (p->proto >= 0) {
          EXPECT_EQ(r.proto, p->proto);
        }
        if (p->has_ports) {
          EXPECT_EQ(r.sport, p->sport);
          EXPECT_EQ(r.dport, p->dport);
        }
        if (p->tcp_flags >= 0) {
          EXPECT_EQ(r.tcp_flags, p->tcp_flags);
        }
      } else {
        EXPECT_EQ(r.bytes, s.ip_len);
        EXPECT_EQ(r.src, *IpAddr::parse(s.ip_src));
        EXPECT_EQ(r.dst, *IpAddr::parse(s.ip_dst));
        EXPECT_EQ(r.proto, s.ip_proto);
        EXPECT_EQ(r.sport, s.ip_sport);
        EXPECT_EQ(r.dport, s.ip_dport);
      }
      // When the sample also carries a sampled IPv4/IPv6 record, it must
      // describe the same packet as the header (no tunnel in these captures).
      if (from_header && s.has_ip) {
        EXPECT_EQ(r.src, *IpAddr::parse(s.ip_src));
        EXPECT_EQ(r.dst, *IpAddr::parse(s.ip_dst));
        EXPECT_EQ(r.sport, s.ip_sport);
        EXPECT_EQ(r.dport, s.ip_dport);
      }
    }
    EXPECT_EQ(k, d.flows.size()) << "decoder emitted records tshark has no sample for";
  }
  EXPECT_EQ(next_datagram, ts.size()) << "tshark saw sFlow datagrams the decoder was not given";
  EXPECT_EQ(total_samples, 17u);
  EXPECT_EQ(total_headers, 17u);
}

namespace {
Decoded decode_one(const std::string& name) {
  Decoded d = decode_file(kAkvorado + name);
  EXPECT_EQ(d.errors.total(), 0u) << describe(d.errors);
  return d;
}
IpAddr ip(const char* s) {
  return *IpAddr::parse(s);
}
}  // namespace

TEST(Sflow, Data1140GatewayAndRouter) {
  Decoded d = decode_one("data-1140.pcap");
  ASSERT_EQ(d.flows.size(), 5u);
  EXPECT_EQ(d.stats.flow_samples, 5u);
  const auto& a = d.flows[0];
  EXPECT_EQ(a.src, ip("2a0c:8880:2:0:185:21:130:38"));
  EXPECT_EQ(a.dst, ip("2a0c:8880:2:0:185:21:130:39"));
  EXPECT_EQ(a.ip_version, 6);
  EXPECT_EQ(a.proto, 6);
  EXPECT_EQ(a.sport, 46026);
  EXPECT_EQ(a.dport, 22);
  EXPECT_EQ(a.tcp_flags, 0x10);
  EXPECT_EQ(a.in_if, 27u);
  EXPECT_EQ(a.out_if, 28u);
  EXPECT_EQ(a.bytes, 1518u);  // frame length: 1500 bytes of IPv6 + Ethernet header + FCS
  EXPECT_EQ(a.sampling_rate, 1024u);
  EXPECT_EQ(a.exporter, ip("172.16.0.3"));  // the agent, not the UDP sender 192.0.2.100
  EXPECT_NE(d.senders[0], a.exporter);
  const auto& b = d.flows[1];
  EXPECT_EQ(b.src, ip("104.26.8.24"));
  EXPECT_EQ(b.dst, ip("45.90.161.46"));
  EXPECT_EQ(b.sport, 443);
  EXPECT_EQ(b.dport, 56876);
  EXPECT_EQ(b.in_if, 49001u);
  EXPECT_EQ(b.out_if, 25u);
  EXPECT_EQ(b.src_as, 13335u);
  EXPECT_EQ(b.dst_as, 39421u);  // empty AS path: the router's own AS
  const auto& c = d.flows[3];
  EXPECT_EQ(c.src, ip("45.90.161.148"));
  EXPECT_EQ(c.dst, ip("191.87.91.27"));
  EXPECT_EQ(c.tcp_flags, 0x02);
  EXPECT_EQ(c.src_as, 39421u);  // source AS 0: the router's own AS
  EXPECT_EQ(c.dst_as, 26615u);  // last AS of the path 203698 6762 26615
  EXPECT_EQ(c.bytes, 64u);
}

TEST(Sflow, QinQIsStripped) {
  Decoded d = decode_one("data-qinq.pcap");
  ASSERT_EQ(d.flows.size(), 1u);
  const auto& r = d.flows[0];
  EXPECT_EQ(r.src, ip("49.49.49.2"));
  EXPECT_EQ(r.dst, ip("49.49.49.109"));
  EXPECT_EQ(r.proto, 6);
  EXPECT_EQ(r.sport, 32017);
  EXPECT_EQ(r.dport, 443);
  EXPECT_EQ(r.sampling_rate, 4096u);
  EXPECT_EQ(r.in_if, 369098852u);
  EXPECT_EQ(r.out_if, 369098851u);
  EXPECT_EQ(r.exporter, ip("172.17.128.58"));
}

TEST(Sflow, VxlanReportsInnerFlow) {
  Decoded d = decode_one("data-encap-vxlan.pcap");
  ASSERT_EQ(d.flows.size(), 1u);
  const auto& r = d.flows[0];
  // Outer: 192.168.108.40 -> 192.168.15.14 UDP 4789; inner: ICMPv6 echo request.
  EXPECT_EQ(r.src, ip("2001:db8:4::1"));
  EXPECT_EQ(r.dst, ip("2001:db8:4::3"));
  EXPECT_EQ(r.ip_version, 6);
  EXPECT_EQ(r.proto, 58);
  EXPECT_EQ(r.sport, 0);
  EXPECT_EQ(r.dport, 128 << 8);
  EXPECT_EQ(r.bytes, 172u);  // the frame as sampled on the wire, tunnel headers included
  EXPECT_EQ(d.stats.decapsulated, 1u);
  EXPECT_EQ(r.in_if, 0u);  // 0x3fffffff: the device itself
  EXPECT_EQ(r.out_if, 0u);
  EXPECT_EQ(d.stats.local_interfaces, 2u);
}

TEST(Sflow, IcmpTypeCodeInDport) {
  Decoded v4 = decode_one("data-icmpv4.pcap");
  ASSERT_EQ(v4.flows.size(), 1u);
  EXPECT_EQ(v4.flows[0].src, ip("203.0.113.4"));
  EXPECT_EQ(v4.flows[0].dst, ip("203.0.113.5"));
  EXPECT_EQ(v4.flows[0].proto, 1);
  EXPECT_EQ(v4.flows[0].sport, 0);
  EXPECT_EQ(v4.flows[0].dport, 8 << 8);  // echo request, code 0
  Decoded v6 = decode_one("data-icmpv6.pcap");
  ASSERT_EQ(v6.flows.size(), 1u);
  EXPECT_EQ(v6.flows[0].src, ip("fe80::d05b:45ff:feee:5ecf"));
  EXPECT_EQ(v6.flows[0].dst, ip("2001:db8::"));
  EXPECT_EQ(v6.flows[0].proto, 58);
  EXPECT_EQ(v6.flows[0].dport, 135 << 8);  // neighbour solicitation
}

TEST(Sflow, ExpandedSampleInterfaces) {
  Decoded d = decode_one("data-sflow-expanded-sample.pcap");
  ASSERT_EQ(d.flows.size(), 1u);
  EXPECT_EQ(d.stats.expanded_flow_samples, 1u);
  const auto& r = d.flows[0];
  EXPECT_EQ(r.in_if, 29001u);
  EXPECT_EQ(r.out_if, 1285816721u);  // > 30 bits: only an expanded sample can carry it
  EXPECT_EQ(r.sampling_rate, 1000u);
  EXPECT_EQ(r.src, ip("52.52.52.52"));
  EXPECT_EQ(r.dst, ip("53.53.53.53"));
  EXPECT_EQ(r.sport, 22);
  EXPECT_EQ(r.dport, 52237);
  EXPECT_EQ(r.tcp_flags, 0x18);
  EXPECT_EQ(r.src_as, 203476u);
  EXPECT_EQ(r.dst_as, 203361u);
  EXPECT_EQ(r.bytes, 126u);
  EXPECT_EQ(r.exporter, ip("49.49.49.49"));
}

TEST(Sflow, HeaderAndSampledIpv4) {
  Decoded d = decode_one("data-sflow-ipv4-data.pcap");
  ASSERT_EQ(d.flows.size(), 1u);
  const auto& r = d.flows[0];
  EXPECT_EQ(r.src, ip("50.50.50.50"));
  EXPECT_EQ(r.dst, ip("51.51.51.51"));
  EXPECT_EQ(r.proto, 17);
  EXPECT_EQ(r.sport, 46622);
  EXPECT_EQ(r.dport, 58631);
  EXPECT_EQ(r.sampling_rate, 256u);
  EXPECT_EQ(r.in_if, 0u);
  EXPECT_EQ(r.out_if, 182u);
  EXPECT_EQ(r.bytes, 1390u);  // raw header's frame length wins over the IPv4 record's 1344
  EXPECT_EQ(d.stats.from_ip_records, 0u);
}

TEST(Sflow, RawIpv4Header) {
  Decoded d = decode_one("data-sflow-raw-ipv4.pcap");
  ASSERT_EQ(d.flows.size(), 2u);
  EXPECT_EQ(d.flows[0].src, ip("69.58.92.107"));
  EXPECT_EQ(d.flows[0].dst, ip("92.222.186.1"));
  EXPECT_EQ(d.flows[1].dst, ip("92.222.184.1"));
  for (const auto& r : d.flows) {
    EXPECT_EQ(r.proto, 1);
    EXPECT_EQ(r.sampling_rate, 1u);
    EXPECT_EQ(r.out_if, 2u);
    EXPECT_EQ(r.bytes, 50u);
  }
}

TEST(Sflow, OutputInterfaceFormats) {
  Decoded local = decode_one("data-local-interface.pcap");
  ASSERT_EQ(local.flows.size(), 1u);
  EXPECT_EQ(local.flows[0].in_if, 27u);
  EXPECT_EQ(local.flows[0].out_if, 0u);
  EXPECT_EQ(local.stats.local_interfaces, 1u);
  Decoded discard = decode_one("data-discard-interface.pcap");
  ASSERT_EQ(discard.flows.size(), 1u);
  EXPECT_EQ(discard.flows[0].out_if, 0u);
  EXPECT_EQ(discard.stats.discarded_packets, 1u);
  Decoded multi = decode_one("data-multiple-interfaces.pcap");
  ASSERT_EQ(multi.flows.size(), 1u);
  EXPECT_EQ(multi.flows[0].out_if, 0u);
  EXPECT_EQ(multi.stats.multiple_outputs, 1u);
  // These three are data-1140 edited to announce one sample: the other four
  // (964 bytes) are still in the datagram, ignored and counted as trailing bytes.
  for (const auto* d : {&local, &discard, &multi}) EXPECT_EQ(d->stats.trailing_bytes, 964u);
}

TEST(Sflow, NdpiCounterSamples) {
  Decoded d = decode_file(kNdpi);
  EXPECT_EQ(d.errors.total(), 0u);
  EXPECT_EQ(d.stats.datagrams, 9u);
  EXPECT_EQ(d.stats.counter_samples, 8u);
  ASSERT_EQ(d.flows.size(), 1u);
  EXPECT_EQ(d.flows[0].sampling_rate, 2048u);
  EXPECT_EQ(d.flows[0].src, ip("172.21.32.254"));
  EXPECT_EQ(d.flows[0].in_if, 1048u);
  EXPECT_EQ(d.flows[0].out_if, 1043u);
}

// ---- hand-built datagrams ---------------------------------------------------

namespace {

struct Xdr {
  std::vector<uint8_t> b;
  Xdr& u32(uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
    return *this;
  }
  Xdr& raw(const std::vector<uint8_t>& d) {
    b.insert(b.end(), d.begin(), d.end());
    while (b.size() % 4) b.push_back(0);
    return *this;
  }
  Xdr& v4(const char* a) {
    IpAddr x = *IpAddr::parse(a);
    b.insert(b.end(), x.bytes() + 12, x.bytes() + 16);
    return *this;
  }
  Xdr& v6(const char* a) {
    IpAddr x = *IpAddr::parse(a);
    b.insert(b.end(), x.bytes(), x.bytes() + 16);
    return *this;
  }
  // A length-prefixed element (sample or flow record): format, length, body.
  Xdr& element(uint32_t format, const Xdr& body) {
    u32(format).u32(static_cast<uint32_t>(body.b.size()));
    b.insert(b.end(), body.b.begin(), body.b.end());
    return *this;
  }
};

std::vector<uint8_t> eth_ipv4_tcp(uint16_t ethertype = 0x0800, size_t cut = 0) {
  std::vector<uint8_t> f = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, uint8_t(ethertype >> 8), uint8_t(ethertype)};
  std::vector<uint8_t> ipt = {0x45, 0,    0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 10,   0,    0, 1, 10, 0, 0, 2,
                              0x30, 0x39, 0, 80, 0, 0, 0, 0, 0,  0, 0, 0, 0x50, 0x02, 0, 0, 0,  0, 0, 0};
  f.insert(f.end(), ipt.begin(), ipt.end());
  if (cut) f.resize(f.size() - cut);
  return f;
}

Xdr raw_header(const std::vector<uint8_t>& h, uint32_t proto = 1, uint32_t frame_len = 64) {
  Xdr r;
  r.u32(proto).u32(frame_len).u32(4).u32(static_cast<uint32_t>(h.size())).raw(h);
  return r;
}

Xdr flow_sample(const std::vector<std::pair<uint32_t, Xdr>>& records, uint32_t rate = 100, uint32_t in = 3,
                uint32_t out = 4) {
  Xdr s;
  s.u32(7).u32(3).u32(rate).u32(1000).u32(0).u32(in).u32(out).u32(static_cast<uint32_t>(records.size()));
  for (const auto& [fmt, body] : records) s.element(fmt, body);
  return s;
}

Xdr expanded_sample(const std::vector<std::pair<uint32_t, Xdr>>& records, uint32_t in_fmt, uint32_t in_val,
                    uint32_t out_fmt, uint32_t out_val, uint32_t rate = 100) {
  Xdr s;
  s.u32(7).u32(0).u32(3).u32(rate).u32(1000).u32(0).u32(in_fmt).u32(in_val).u32(out_fmt).u32(out_val);
  s.u32(static_cast<uint32_t>(records.size()));
  for (const auto& [fmt, body] : records) s.element(fmt, body);
  return s;
}

std::vector<uint8_t> datagram(const std::vector<std::pair<uint32_t, Xdr>>& samples, const char* agent = "192.0.2.1",
                              int nsamples = -1) {
  Xdr d;
  d.u32(5);
  if (std::string(agent).find(':') != std::string::npos)
    d.u32(2).v6(agent);
  else
    d.u32(1).v4(agent);
  d.u32(0).u32(1).u32(1000).u32(nsamples >= 0 ? nsamples : static_cast<uint32_t>(samples.size()));
  for (const auto& [fmt, body] : samples) d.element(fmt, body);
  return d.b;
}

struct Harness {
  SflowDecoder dec;
  Collect sink;
  const IpAddr sender = *IpAddr::parse("198.51.100.9");
  void operator()(const std::vector<uint8_t>& d) { dec.decode(sender, 1700000000000, d, sink); }
  uint64_t err(const char* reason) const { return dec.errors().count(reason); }
};

const std::pair<uint32_t, Xdr> good_sample() {
  return {1, flow_sample({{1, raw_header(eth_ipv4_tcp())}})};
}

}  // namespace

TEST(SflowSynthetic, WellFormedBaseline) {
  Harness t;
  t(datagram({good_sample()}));
  ASSERT_EQ(t.sink.flows.size(), 1u);
  const auto& r = t.sink.flows[0];
  EXPECT_EQ(r.src, ip("10.0.0.1"));
  EXPECT_EQ(r.dst, ip("10.0.0.2"));
  EXPECT_EQ(r.sport, 12345);
  EXPECT_EQ(r.dport, 80);
  EXPECT_EQ(r.tcp_flags, 0x02);
  EXPECT_EQ(r.bytes, 64u);
  EXPECT_EQ(r.sampling_rate, 100u);
  EXPECT_EQ(r.in_if, 3u);
  EXPECT_EQ(r.out_if, 4u);
  EXPECT_EQ(r.start, 1700000000000);
  EXPECT_EQ(r.exporter, ip("192.0.2.1"));
  EXPECT_EQ(t.dec.errors().total(), 0u);
}

TEST(SflowSynthetic, DatagramHeaderErrors) {
  Harness t;
  auto good = datagram({good_sample()});
  for (size_t n = 0; n < 28; ++n) t({good.begin(), good.begin() + n});
  EXPECT_EQ(t.err("sflow: truncated datagram header"), 28u);
  auto v4 = good;
  v4[3] = 4;
  t(v4);
  EXPECT_EQ(t.err("sflow: unsupported version"), 1u);
  auto badaddr = good;
  badaddr[7] = 7;
  t(badaddr);
  EXPECT_EQ(t.err("sflow: bad agent address type"), 1u);
  // Counted against the UDP sender since there is no agent address.
  bool by_sender = false;
  for (const auto& row : t.dec.errors().snapshot(true))
    if (row.reason == "sflow: bad agent address type" && row.source == "198.51.100.9") by_sender = true;
  EXPECT_TRUE(by_sender);
  t(datagram({good_sample()}, "192.0.2.1", 5000));
  EXPECT_EQ(t.err("sflow: too many samples"), 1u);
  EXPECT_TRUE(t.sink.flows.empty());
}

TEST(SflowSynthetic, AgentAddresses) {
  Harness t;
  t(datagram({good_sample()}, "2001:db8::5"));
  ASSERT_EQ(t.sink.flows.size(), 1u);
  EXPECT_EQ(t.sink.flows[0].exporter, ip("2001:db8::5"));
  // Address type 0 (unknown): the UDP sender names the exporter.
  auto d = datagram({good_sample()});
  d.erase(d.begin() + 8, d.begin() + 12);
  d[7] = 0;
  t(d);
  ASSERT_EQ(t.sink.flows.size(), 2u);
  EXPECT_EQ(t.sink.flows[1].exporter, t.sender);
  EXPECT_EQ(t.dec.errors().total(), 0u);
}

TEST(SflowSynthetic, SampleLengthErrorsKeepEarlierSamples) {
  Harness t;
  auto d = datagram({good_sample(), good_sample()});
  // Grow the second sample's length past the end of the datagram.
  size_t second = 28 + 8 + good_sample().second.b.size();
  d[second + 7] = 0xff;
  t(d);
  EXPECT_EQ(t.sink.flows.size(), 1u);
  EXPECT_EQ(t.err("sflow: sample length past datagram end"), 1u);
  // Fewer samples than announced: the present ones are decoded.
  t(datagram({good_sample()}, "192.0.2.1", 3));
  EXPECT_EQ(t.sink.flows.size(), 2u);
  EXPECT_EQ(t.err("sflow: fewer samples than announced"), 1u);
}

TEST(SflowSynthetic, RecordErrorsSkipOnlyTheirSample) {
  Harness t;
  Xdr bad = flow_sample({{1, raw_header(eth_ipv4_tcp())}});
  bad.b[8 * 4 + 7] = 0xf0;  // first record's length: past the sample end
  t(datagram({{1, bad}, good_sample()}));
  EXPECT_EQ(t.sink.flows.size(), 1u);
  EXPECT_EQ(t.err("sflow: flow record length past sample end"), 1u);

  Xdr many = flow_sample({});
  many.b[7 * 4 + 3] = 0;
  many.b[7 * 4 + 2] = 0x10;  // 4096 records announced
  t(datagram({{1, many}, good_sample()}));
  EXPECT_EQ(t.sink.flows.size(), 2u);
  EXPECT_EQ(t.err("sflow: too many flow records"), 1u);

  Xdr fewer = flow_sample({{1, raw_header(eth_ipv4_tcp())}});
  fewer.b[7 * 4 + 3] = 2;  // two records announced, one present
  t(datagram({{1, fewer}}));
  EXPECT_EQ(t.err("sflow: fewer flow records than announced"), 1u);

  Xdr shortsample;
  shortsample.u32(1).u32(2);
  t(datagram({{1, shortsample}}));
  EXPECT_EQ(t.err("sflow: truncated flow sample"), 1u);
  EXPECT_EQ(t.sink.flows.size(), 2u);
}

TEST(SflowSynthetic, SampledHeaderProblems) {
  Harness t;
  // IPv4 header cut short: no flow, counted.
  t(datagram({{1, flow_sample({{1, raw_header(eth_ipv4_tcp(0x0800, 30))}})}}));
  EXPECT_EQ(t.err("sflow: sampled header: truncated ipv4 header"), 1u);
  EXPECT_TRUE(t.sink.flows.empty());
  // Same, but a sampled IPv4 record describes the packet: it is used.
  Xdr v4rec;
  v4rec.u32(1500).u32(17).v4("10.9.9.9").v4("10.8.8.8").u32(53).u32(5353).u32(0).u32(0);
  t(datagram({{1, flow_sample({{1, raw_header(eth_ipv4_tcp(0x0800, 30))}, {3, v4rec}})}}));
  ASSERT_EQ(t.sink.flows.size(), 1u);
  EXPECT_EQ(t.sink.flows[0].src, ip("10.9.9.9"));
  EXPECT_EQ(t.sink.flows[0].dport, 5353);
  EXPECT_EQ(t.sink.flows[0].bytes, 1500u);
  EXPECT_EQ(t.dec.stats().from_ip_records, 1u);
  // Header length field larger than its record.
  Xdr h = raw_header(eth_ipv4_tcp());
  h.b[15] = 200;
  t(datagram({{1, flow_sample({{1, h}})}}));
  EXPECT_EQ(t.err("sflow: sampled header length past record end"), 1u);
  Xdr hs;
  hs.u32(1).u32(64);
  t(datagram({{1, flow_sample({{1, hs}})}}));
  EXPECT_EQ(t.err("sflow: truncated raw packet header record"), 1u);
  // ARP is not malformed: no flow, no error, counted as non-IP.
  uint64_t before = t.dec.errors().total();
  t(datagram({{1, flow_sample({{1, raw_header(eth_ipv4_tcp(0x0806))}})}}));
  EXPECT_EQ(t.dec.errors().total(), before);
  EXPECT_EQ(t.dec.stats().non_ip_samples, 1u);
  EXPECT_EQ(t.sink.flows.size(), 1u);
}

TEST(SflowSynthetic, HeaderProtocols) {
  Harness t;
  auto frame = eth_ipv4_tcp();
  std::vector<uint8_t> ipv4(frame.begin() + 14, frame.end());
  t(datagram({{1, flow_sample({{1, raw_header(ipv4, 11)}})}}));
  // MPLS (header protocol 13): two labels, then IPv4.
  std::vector<uint8_t> mpls = {0, 1, 0, 64, 0, 2, 1, 64};
  mpls.insert(mpls.end(), ipv4.begin(), ipv4.end());
  t(datagram({{1, flow_sample({{1, raw_header(mpls, 13)}})}}));
  // GRE over IPv4 in Ethernet: the inner packet is reported.
  std::vector<uint8_t> gre = {0, 1, 2, 3,  4,  5, 6, 7,   8,  9, 10, 11,  0x08, 0x00, 0x45, 0, 0, 64,   0,
                              1, 0, 0, 64, 47, 0, 0, 172, 16, 0, 1,  172, 16,   0,    2,    0, 0, 0x08, 0x00};
  gre.insert(gre.end(), ipv4.begin(), ipv4.end());
  t(datagram({{1, flow_sample({{1, raw_header(gre, 1, 90)}})}}));
  ASSERT_EQ(t.sink.flows.size(), 3u);
  for (const auto& r : t.sink.flows) {
    EXPECT_EQ(r.src, ip("10.0.0.1"));
    EXPECT_EQ(r.dst, ip("10.0.0.2"));
    EXPECT_EQ(r.dport, 80);
  }
  EXPECT_EQ(t.sink.flows[2].bytes, 90u);
  EXPECT_EQ(t.dec.stats().decapsulated, 1u);
  // Token ring (2): not decoded, not an error.
  t(datagram({{1, flow_sample({{1, raw_header(frame, 2)}})}}));
  EXPECT_EQ(t.sink.flows.size(), 3u);
  EXPECT_EQ(t.dec.stats().non_ip_samples, 1u);
  EXPECT_EQ(t.dec.errors().total(), 0u);
}

TEST(SflowSynthetic, SampledIpv6Record) {
  Harness t;
  Xdr v6rec;
  v6rec.u32(1280).u32(6).v6("2001:db8::1").v6("2001:db8::2").u32(443).u32(50000).u32(0x12).u32(0);
  t(datagram({{3, expanded_sample({{4, v6rec}}, 0, 0x12345678, 0, 9, 512)}}));
  ASSERT_EQ(t.sink.flows.size(), 1u);
  const auto& r = t.sink.flows[0];
  EXPECT_EQ(r.src, ip("2001:db8::1"));
  EXPECT_EQ(r.ip_version, 6);
  EXPECT_EQ(r.proto, 6);
  EXPECT_EQ(r.sport, 443);
  EXPECT_EQ(r.tcp_flags, 0x12);
  EXPECT_EQ(r.bytes, 1280u);
  EXPECT_EQ(r.sampling_rate, 512u);
  EXPECT_EQ(r.in_if, 0x12345678u);
  EXPECT_EQ(r.out_if, 9u);
  Xdr cut;
  cut.u32(1280).u32(6);
  t(datagram({{1, flow_sample({{4, cut}})}}));
  EXPECT_EQ(t.err("sflow: truncated sampled ipv6 record"), 1u);
}

TEST(SflowSynthetic, InterfaceFormats) {
  Harness t;
  auto rec = std::vector<std::pair<uint32_t, Xdr>>{{1, raw_header(eth_ipv4_tcp())}};
  t(datagram({{1, flow_sample(rec, 10, 0x3fffffff, 0x40000102)}}));  // local in, discarded out
  t(datagram({{1, flow_sample(rec, 10, 5, 0x80000003)}}));           // three output interfaces
  t(datagram({{3, expanded_sample(rec, 0, 0x3fffffff, 1, 258)}}));   // expanded: local, discard
  t(datagram({{3, expanded_sample(rec, 0, 7, 2, 0)}}));              // expanded: multiple (unknown count)
  ASSERT_EQ(t.sink.flows.size(), 4u);
  EXPECT_EQ(t.sink.flows[0].in_if, 0u);
  EXPECT_EQ(t.sink.flows[0].out_if, 0u);
  EXPECT_EQ(t.sink.flows[1].in_if, 5u);
  EXPECT_EQ(t.sink.flows[1].out_if, 0u);
  EXPECT_EQ(t.sink.flows[2].in_if, 0u);
  EXPECT_EQ(t.sink.flows[3].in_if, 7u);
  EXPECT_EQ(t.sink.flows[3].out_if, 0u);
  EXPECT_EQ(t.dec.stats().local_interfaces, 2u);
  EXPECT_EQ(t.dec.stats().discarded_packets, 2u);
  EXPECT_EQ(t.dec.stats().multiple_outputs, 2u);
  EXPECT_EQ(t.dec.stats().expanded_flow_samples, 2u);
}

TEST(SflowSynthetic, PaddingUnknownRecordsAndSamples) {
  Harness t;
  // A 61-byte header is padded to 64 in the record; the gateway record after it must still parse.
  auto h = eth_ipv4_tcp();
  h.resize(61);
  Xdr gw;
  gw.u32(1).v4("192.0.2.254").u32(64500).u32(64501).u32(64502).u32(2);
  gw.u32(2).u32(2).u32(64510).u32(64511).u32(1).u32(1).u32(64999);  // sequence, then a set
  gw.u32(1).u32(0x12345678).u32(100);
  Xdr unknown;
  unknown.u32(1).u32(2).u32(3);
  Xdr sw;
  sw.u32(10).u32(0).u32(20).u32(0);
  Xdr router;
  router.u32(2).v6("2001:db8::ff").u32(24).u32(48);
  t(datagram({{1, flow_sample({{(4413u << 12) | 5, unknown},
                               {1, raw_header(h)},
                               {999, unknown},
                               {1001, sw},
                               {1002, router},
                               {1003, gw}})}}));
  ASSERT_EQ(t.sink.flows.size(), 1u);
  EXPECT_EQ(t.sink.flows[0].dport, 80);
  EXPECT_EQ(t.sink.flows[0].src_as, 64501u);
  EXPECT_EQ(t.sink.flows[0].dst_as, 64999u);
  EXPECT_EQ(t.dec.stats().unknown_flow_records, 2u);
  // Unknown sample formats (drop notification, enterprise sample) and counter samples are skipped.
  Xdr blob;
  blob.u32(1).u32(2);
  t(datagram({{5, blob}, {(9u << 12) | 1, blob}, {2, blob}, {4, blob}, good_sample()}));
  EXPECT_EQ(t.sink.flows.size(), 2u);
  EXPECT_EQ(t.dec.stats().other_samples, 2u);
  EXPECT_EQ(t.dec.stats().counter_samples, 2u);
  EXPECT_EQ(t.dec.errors().total(), 0u);
}

TEST(SflowSynthetic, GatewayAndRouterErrors) {
  Harness t;
  auto with = [&](uint32_t fmt, const Xdr& body) {
    t(datagram({{1, flow_sample({{1, raw_header(eth_ipv4_tcp())}, {fmt, body}})}}));
  };
  Xdr empty_path;
  empty_path.u32(1).v4("192.0.2.254").u32(64500).u32(0).u32(0).u32(0).u32(0).u32(100);
  with(1003, empty_path);
  ASSERT_EQ(t.sink.flows.size(), 1u);
  EXPECT_EQ(t.sink.flows[0].src_as, 64500u);
  EXPECT_EQ(t.sink.flows[0].dst_as, 64500u);
  Xdr badnh;
  badnh.u32(9).u32(0);
  with(1003, badnh);
  with(1002, badnh);
  EXPECT_EQ(t.err("sflow: bad next hop address type"), 2u);
  Xdr hugepath;
  hugepath.u32(1).v4("192.0.2.254").u32(1).u32(2).u32(3).u32(0x7fffffff).u32(2).u32(1);
  with(1003, hugepath);
  Xdr hugeseg;
  hugeseg.u32(1).v4("192.0.2.254").u32(1).u32(2).u32(3).u32(1).u32(2).u32(0x40000000);
  with(1003, hugeseg);
  EXPECT_EQ(t.err("sflow: as path longer than its record"), 2u);
  Xdr hugecomm;
  hugecomm.u32(1).v4("192.0.2.254").u32(1).u32(2).u32(3).u32(0).u32(0xffffffff);
  with(1003, hugecomm);
  Xdr nolocalpref;
  nolocalpref.u32(1).v4("192.0.2.254").u32(1).u32(2).u32(3).u32(0).u32(0);
  with(1003, nolocalpref);
  EXPECT_EQ(t.err("sflow: truncated extended gateway"), 2u);
  Xdr shortrouter;
  shortrouter.u32(1).v4("192.0.2.254").u32(24);
  with(1002, shortrouter);
  EXPECT_EQ(t.err("sflow: truncated extended router"), 1u);
  Xdr shortswitch;
  shortswitch.u32(1).u32(2);
  with(1001, shortswitch);
  EXPECT_EQ(t.err("sflow: truncated extended switch"), 1u);
  // A broken extended record does not cost the flow: the packet itself was fine.
  EXPECT_EQ(t.sink.flows.size(), 9u);
  for (size_t i = 1; i < t.sink.flows.size(); ++i) EXPECT_EQ(t.sink.flows[i].dst_as, 0u);
}

TEST(SflowSynthetic, ZeroSamplingRate) {
  Harness t;
  t(datagram({{1, flow_sample({{1, raw_header(eth_ipv4_tcp())}}, 0)}}));
  ASSERT_EQ(t.sink.flows.size(), 1u);
  EXPECT_EQ(t.sink.flows[0].sampling_rate, 1u);
  EXPECT_EQ(t.err("sflow: zero sampling rate"), 1u);
}

TEST(SflowSynthetic, TooManyRecordsAndSamplesLimits) {
  Harness t;
  std::vector<std::pair<uint32_t, Xdr>> recs(SflowDecoder::kMaxRecords, {1001, Xdr{}.u32(1).u32(0).u32(2).u32(0)});
  recs[0] = {1, raw_header(eth_ipv4_tcp())};
  t(datagram({{1, flow_sample(recs)}}));
  EXPECT_EQ(t.sink.flows.size(), 1u);  // exactly at the limit: fine
  recs.push_back(recs[1]);
  t(datagram({{1, flow_sample(recs)}}));
  EXPECT_EQ(t.err("sflow: too many flow records"), 1u);
  std::vector<std::pair<uint32_t, Xdr>> samples(SflowDecoder::kMaxSamples, {2, Xdr{}});
  t(datagram(samples));
  EXPECT_EQ(t.dec.stats().counter_samples, SflowDecoder::kMaxSamples);
  samples.push_back(samples[0]);
  t(datagram(samples));
  EXPECT_EQ(t.err("sflow: too many samples"), 1u);
}

TEST(SflowRobustness, PrefixesAndBitFlipsOfRealDatagrams) {
  std::vector<std::vector<uint8_t>> payloads;
  for (const auto& f : all_captures()) {
    auto d = decode_file(f);
    payloads.insert(payloads.end(), d.payloads.begin(), d.payloads.end());
  }
  ASSERT_EQ(payloads.size(), 20u);
  Harness t;
  for (const auto& p : payloads) {
    // Some akvorado captures announce fewer samples than the datagram holds
    // (edited copies of data-1140): those bytes are ignored, so cutting them is harmless.
    Harness whole;
    whole(p);
    size_t used = p.size() - whole.dec.stats().trailing_bytes;
    for (size_t n = 0; n < used; ++n) {
      uint64_t before = t.dec.errors().total();
      std::vector<uint8_t> cut(p.begin(), p.begin() + n);  // own buffer so ASan sees overreads
      t(cut);
      EXPECT_GT(t.dec.errors().total(), before)
          << "a prefix of " << n << " of " << p.size() << " bytes must be counted as malformed";
    }
  }
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    auto p = payloads[rng() % payloads.size()];
    int flips = 1 + rng() % 4;
    for (int k = 0; k < flips; ++k) p[rng() % p.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    t(p);
  }
  for (const auto& r : t.sink.flows) {
    EXPECT_EQ(r.packets, 1u);
    EXPECT_GE(r.sampling_rate, 1u);
  }
}

TEST(SflowRobustness, SpoofedAgentsKeepErrorCountersBounded) {
  // The agent address is datagram content: a hostile sender can use a new one
  // in every datagram. The per-source error table must stay bounded.
  Harness t;
  std::vector<uint8_t> d = {0, 0, 0, 5, 0, 0, 0, 1, 10, 0, 0, 0, 0, 0, 0, 0};  // cut after the agent address
  const uint32_t n = ReasonCounters::kMaxSourceRows + 5000;
  for (uint32_t i = 0; i < n; ++i) {
    d[9] = static_cast<uint8_t>(i >> 16);
    d[10] = static_cast<uint8_t>(i >> 8);
    d[11] = static_cast<uint8_t>(i);
    t(d);
  }
  EXPECT_EQ(t.err("sflow: truncated datagram header"), n);
  auto rows = t.dec.errors().snapshot(true);
  EXPECT_LE(rows.size(), ReasonCounters::kMaxSourceRows + 1);
  uint64_t sum = 0, overflow = 0;
  for (const auto& r : rows) {
    sum += r.count;
    if (r.source == "::") overflow = r.count;
  }
  EXPECT_EQ(sum, n);
  EXPECT_EQ(overflow, 5000u);
}
