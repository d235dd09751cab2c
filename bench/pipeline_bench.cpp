// Throughput and memory of the whole detector pipeline (src/analyze/pipeline)
// with a realistic ISP load: N active subscriber hosts (default 1,000,000 in
// 10.0.0.0/12), flow records of web, DNS, NTP, QUIC/P2P traffic in both
// directions, a few percent of hosts scanning IoT ports, DDoS attacks on
// subscribers and from subscribers, and resolver DNS events (NOERROR,
// typo NXDOMAIN, DGA hosts' NXDOMAIN bursts, a few listed C&C names).
//
//   pipeline_bench [--hosts N] [--flows M] [--dns-per-flow X] [--seconds S]
//                  [--no-c2] [--only-flows] [--seed K]
//                  [--c2-max-destinations N] [--c2-max-contacts N]   (C&C discovery's limits)
//                  [--ddos-sketch-rows N] [--ddos-sketch-width N] [--ddos-promote-fraction F]
//
// Records are generated in batches outside the timed region; the timed
// region is the pipeline's on_flow/on_dns calls (thread CPU time). Memory:
// the heap bytes in use (mallinfo2) and the RSS before and after, per active
// host, next to the detectors' own accounting. Not a test: nothing asserts a
// timing. It does check that the planted scanners, attacks and DGA hosts
// were found, so that a fast but blind pipeline does not look good: every
// 8000th flow record is one of the DGA hosts talking to an unlisted C&C
// (198.51.100.77:8080/tcp, from its own random stream so the rest of the load
// is the same with or without it), which C&C discovery must rank.
#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "analyze/pipeline.hpp"
#include "bench_util.hpp"
#include "intel/indicator.hpp"
#include "intel/match.hpp"

using namespace omamori;

namespace {

double wall() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
size_t rss_bytes() {
  long pages = 0, rss = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    std::fclose(f);
  }
  return static_cast<size_t>(rss) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}
size_t heap_bytes() { return mallinfo2().uordblks + mallinfo2().hblkhd; }

struct Rng {  // xoshiro-style, cheap
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9e3779b97f4a7c15ull + 1) {}
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>((next() >> 32) * n >> 32); }
  double unit() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
};

struct Options {
  uint32_t hosts = 1000000;
  uint64_t flows = 40000000;
  double dns_per_flow = 0.25;
  double seconds = 120;  // traffic time the flows span
  bool c2 = true;
  bool dns = true;
  uint64_t seed = 1;
  size_t c2_max_destinations = 0, c2_max_contacts = 0;  // 0 = the defaults
  size_t ddos_sketch_rows = 0, ddos_sketch_width = 0;    // 0 = the defaults
  double ddos_promote_fraction = -1;                     // < 0 = the default
};

constexpr uint32_t kSubBase = 0x0a000000;   // 10.0.0.0/12: subscribers
constexpr uint32_t kServerBase = 0xc6120000;  // servers: 198.18.0.0/15 and up
constexpr uint32_t kServers = 200000;
constexpr uint32_t kResolvers[2] = {0xc0000235, 0xc0000236};  // 192.0.2.53/54
constexpr uint32_t kNtp = 0xc0000201;
constexpr uint32_t kC2 = 0xcb007107;  // 203.0.113.7, listed (address:port)
constexpr uint32_t kTargetHost = 7;   // subscriber index under inbound attack
constexpr uint32_t kAttackerHost = 11;  // subscriber index that sends a flood
constexpr uint32_t kUnlistedC2 = 0xc633644d;  // 198.51.100.77:8080/tcp, listed nowhere

struct Plan {
  uint32_t hosts;
  uint32_t scanners;  // the first `scanners` hosts after 100 scan (2 %)
  uint32_t dga;       // hosts 100000.. receive DGA NXDOMAIN bursts
  uint32_t infected_c2;
};

IpAddr sub(uint32_t i) { return IpAddr::v4(kSubBase + i); }
uint32_t server_index(Rng& r) {  // popularity skew: a few servers get most flows
  double u = r.unit();
  return static_cast<uint32_t>(u * u * u * kServers);
}
IpAddr server(uint32_t i) { return IpAddr::v4(kServerBase + i); }

// One flow record; `t` in ms. Returns the number of records written (1 or 2).
int make_flow(Rng& r, const Plan& p, TimeMs t, FlowRecord* out) {
  FlowRecord f;
  f.start = t;
  f.end = t + r.below(20000);
  f.ip_version = 4;
  uint32_t k = r.below(1000);
  uint32_t h = r.below(p.hosts);
  if (k < 10) {  // inbound UDP reflection flood on one subscriber (DNS/NTP/memcached sources)
    f.src = IpAddr::v4(0x2d000000 + r.below(1 << 20));
    f.dst = sub(kTargetHost);
    f.proto = 17;
    static const uint16_t kRefl[4] = {53, 123, 11211, 389};
    f.sport = kRefl[r.below(4)];
    f.dport = static_cast<uint16_t>(1024 + r.below(60000));
    f.packets = 200 + r.below(400);
    f.bytes = f.packets * 1400;
    f.end = f.start + 1000;
    out[0] = f;
    return 1;
  }
  if (k < 15) {  // one subscriber device in a SYN flood against a remote victim
    f.src = sub(kAttackerHost);
    f.dst = IpAddr::v4(0x64400001);  // 100.64.0.1
    f.proto = 6;
    f.tcp_flags = tcpflag::SYN;
    f.sport = static_cast<uint16_t>(1024 + r.below(60000));
    f.dport = 80;
    f.packets = 100 + r.below(200);
    f.bytes = f.packets * 60;
    f.end = f.start + 1000;
    out[0] = f;
    return 1;
  }
  if (k < 45) {  // IoT scanning: 2 % of hosts, telnet and friends, mostly unanswered
    uint32_t s = 100 + r.below(p.scanners);
    static const uint16_t kPorts[6] = {23, 23, 23, 2323, 37215, 52869};
    f.src = sub(s);
    f.dst = IpAddr::v4(static_cast<uint32_t>(r.next() >> 32) | 0x01000000u);
    f.proto = 6;
    f.tcp_flags = tcpflag::SYN;
    f.sport = static_cast<uint16_t>(1024 + r.below(60000));
    f.dport = kPorts[r.below(6)];
    f.packets = 1 + r.below(2);
    f.bytes = 60 * f.packets;
    f.end = f.start;
    out[0] = f;
    return 1;
  }
  if (k < 47 && p.infected_c2) {  // infected hosts talking to a listed C&C
    f.src = sub(200000 + r.below(p.infected_c2));
    f.dst = IpAddr::v4(kC2);
    f.proto = 6;
    f.tcp_flags = tcpflag::SYN | tcpflag::ACK | tcpflag::PSH;
    f.sport = static_cast<uint16_t>(1024 + r.below(60000));
    f.dport = 6667;
    f.packets = 5 + r.below(20);
    f.bytes = f.packets * 90;
    out[0] = f;
    return 1;
  }
  // Ordinary traffic, both directions of one conversation.
  FlowRecord& o = out[0];
  o = f;
  o.src = sub(h);
  o.sport = static_cast<uint16_t>(1024 + r.below(60000));
  if (k < 800) {  // web: TCP 443 (most), 80
    o.dst = server(server_index(r));
    o.proto = 6;
    o.dport = r.below(10) ? 443 : 80;
    o.tcp_flags = tcpflag::SYN | tcpflag::ACK | tcpflag::PSH | tcpflag::FIN;
    o.packets = 5 + r.below(60);
    o.bytes = o.packets * 200;
  } else if (k < 880) {  // QUIC
    o.dst = server(server_index(r));
    o.proto = 17;
    o.dport = 443;
    o.packets = 10 + r.below(100);
    o.bytes = o.packets * 1000;
  } else if (k < 950) {  // DNS to the ISP resolvers
    o.dst = IpAddr::v4(kResolvers[r.below(2)]);
    o.proto = 17;
    o.dport = 53;
    o.packets = 1;
    o.bytes = 70;
  } else if (k < 970) {  // NTP
    o.dst = IpAddr::v4(kNtp);
    o.proto = 17;
    o.dport = 123;
    o.sport = 123;
    o.packets = 1;
    o.bytes = 76;
  } else {  // P2P / games: random peers, high ports
    o.dst = IpAddr::v4(static_cast<uint32_t>(r.next() >> 32) | 0x01000000u);
    o.proto = r.below(2) ? 6 : 17;
    o.dport = static_cast<uint16_t>(1024 + r.below(60000));
    o.tcp_flags = o.proto == 6 ? tcpflag::SYN | tcpflag::ACK | tcpflag::PSH : 0;
    o.packets = 2 + r.below(30);
    o.bytes = o.packets * 300;
  }
  FlowRecord& b = out[1];  // the reply
  b = o;
  b.src = o.dst;
  b.dst = o.src;
  b.sport = o.dport;
  b.dport = o.sport;
  b.packets = o.packets + r.below(8);
  b.bytes = b.packets * (o.proto == 6 && o.dport == 443 ? 1200 : 300);
  return 2;
}

// A DGA-infected host's conversation with the unlisted C&C.
void make_unlisted_c2(Rng& r, const Plan& p, TimeMs t, FlowRecord& f) {
  f = FlowRecord{};
  f.start = t;
  f.end = t + r.below(20000);
  f.ip_version = 4;
  f.src = sub(100000 + r.below(p.dga));
  f.dst = IpAddr::v4(kUnlistedC2);
  f.proto = 6;
  f.tcp_flags = tcpflag::SYN | tcpflag::ACK | tcpflag::PSH;
  f.sport = static_cast<uint16_t>(1024 + r.below(60000));
  f.dport = 8080;
  f.packets = 4 + r.below(10);
  f.bytes = f.packets * 120;
}

struct DnsSpec {
  TimeMs t;
  uint32_t client;
  uint8_t rcode;
  uint8_t len;
  char name[48];
};

const char* kTlds[8] = {"com", "net", "org", "jp", "co.jp", "info", "io", "de"};

void make_dns(Rng& r, const Plan& p, TimeMs t, DnsSpec& d) {
  d.t = t;
  uint32_t k = r.below(1000);
  int n = 0;
  if (k < 20) {  // DGA-infected hosts: random-looking NXDOMAIN names
    d.client = 100000 + r.below(p.dga);
    d.rcode = 3;
    char lbl[20];
    int L = 10 + static_cast<int>(r.below(8));
    for (int i = 0; i < L; ++i) lbl[i] = static_cast<char>('a' + r.below(26));
    n = std::snprintf(d.name, sizeof d.name, "%.*s.%s", L, lbl, r.below(2) ? "com" : "net");
  } else if (k < 25 && p.infected_c2) {  // C&C name lookups (listed domain)
    d.client = 200000 + r.below(p.infected_c2);
    d.rcode = 0;
    n = std::snprintf(d.name, sizeof d.name, "cnc%u.evil-botnet.example", r.below(4));
  } else if (k < 90) {  // ordinary NXDOMAIN: typos, search-list suffixes
    d.client = r.below(p.hosts);
    d.rcode = 3;
    n = std::snprintf(d.name, sizeof d.name, "wwww.site%u.%s.home", r.below(50000), kTlds[r.below(8)]);
  } else {  // popular names
    d.client = r.below(p.hosts);
    d.rcode = 0;
    uint32_t s = server_index(r) % 60000;
    static const char* kPre[4] = {"www", "api", "cdn", "img"};
    n = std::snprintf(d.name, sizeof d.name, "%s.site%u.%s", kPre[r.below(4)], s, kTlds[s & 7]);
  }
  d.len = static_cast<uint8_t>(std::min<int>(n, sizeof d.name - 1));
}

std::shared_ptr<const intel::IntelSnapshot> make_intel() {
  intel::SnapshotBuilder b;
  auto add = [&](intel::Kind kind, std::string v, intel::Category c) {
    intel::Indicator ind;
    ind.kind = kind;
    ind.value = std::move(v);
    ind.category = c;
    ind.feed = "bench";
    ind.family = "mirai";
    ind.confidence = 80;
    b.add(ind);
  };
  add(intel::Kind::kAddrPort, "203.0.113.7:6667/tcp", intel::Category::kC2);
  add(intel::Kind::kDomain, "evil-botnet.example", intel::Category::kC2);
  // A realistic list size: 100k listed addresses and 100k listed domains nobody here contacts.
  for (uint32_t i = 0; i < 100000; ++i) {
    uint32_t a = 0x50000000u + i * 7919u;
    add(intel::Kind::kIpv4, IpAddr::v4(a).str(), intel::Category::kMalware);
    add(intel::Kind::kDomain, "bad" + std::to_string(i) + ".example", intel::Category::kMalwareDownload);
  }
  return b.build();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    auto val = [&] { return (v = bench::arg_value(argc, argv, i)).c_str(); };
    if (a == "--hosts") o.hosts = static_cast<uint32_t>(std::strtoul(val(), nullptr, 10));
    else if (a == "--flows") o.flows = std::strtoull(val(), nullptr, 10);
    else if (a == "--dns-per-flow") o.dns_per_flow = std::strtod(val(), nullptr);
    else if (a == "--seconds") o.seconds = std::strtod(val(), nullptr);
    else if (a == "--no-c2") o.c2 = false;
    else if (a == "--only-flows") o.dns = false;
    else if (a == "--seed") o.seed = std::strtoull(val(), nullptr, 10);
    else if (a == "--c2-max-destinations") o.c2_max_destinations = std::strtoull(val(), nullptr, 10);
    else if (a == "--c2-max-contacts") o.c2_max_contacts = std::strtoull(val(), nullptr, 10);
    else if (a == "--ddos-sketch-rows") o.ddos_sketch_rows = std::strtoull(val(), nullptr, 10);
    else if (a == "--ddos-sketch-width") o.ddos_sketch_width = std::strtoull(val(), nullptr, 10);
    else if (a == "--ddos-promote-fraction") o.ddos_promote_fraction = std::strtod(val(), nullptr);
    else {
      std::fprintf(stderr,
                   "usage: pipeline_bench [--hosts N] [--flows M] [--dns-per-flow X] [--seconds S] [--no-c2] "
                   "[--only-flows] [--seed K] [--c2-max-destinations N] [--c2-max-contacts N] [--ddos-sketch-rows N] "
                   "[--ddos-sketch-width N] [--ddos-promote-fraction F]\n");
      return 2;
    }
  }
  if (o.hosts < 300000 || o.hosts > (1u << 20)) {
    std::fprintf(stderr, "--hosts must be between 300000 and 1048576 (the plan places hosts by index)\n");
    return 2;
  }
  Plan plan{o.hosts, o.hosts / 200, 1000, 500};

  // Batches are allocated before the baseline so they do not count as detector state.
  constexpr size_t kBatch = 8192;
  std::vector<FlowRecord> flows(kBatch + 2);
  std::vector<DnsSpec> dns(kBatch);
  auto snap = make_intel();
  Rng rng(o.seed);
  Rng rng_c2(o.seed + 7);

  PipelineConfig cfg;
  cfg.subscribers = {*Prefix::parse("10.0.0.0/12")};
  cfg.discover_c2 = o.c2;
  cfg.c2.infrastructure = {*Prefix::parse("192.0.2.0/24")};
  if (o.c2_max_destinations) cfg.c2.max_destinations = o.c2_max_destinations;
  if (o.c2_max_contacts) cfg.c2.max_contacts = o.c2_max_contacts;
  cfg.ddos.groups.push_back(ddos::HostGroup{"subscribers", cfg.subscribers, cfg.ddos.default_host, {}});
  cfg.nxdomain.memory_limit = 256u << 20;
  // The DDoS detector keeps entities only for hosts near a threshold (the default max_entities, 2^18,
  // is plenty); room for every subscriber in and out when all are tracked (--ddos-promote-fraction 0).
  cfg.ddos.max_entities = 1u << 23;
  if (o.ddos_sketch_rows) cfg.ddos.sketch_rows = o.ddos_sketch_rows;
  if (o.ddos_sketch_width) cfg.ddos.sketch_width = o.ddos_sketch_width;
  if (o.ddos_promote_fraction >= 0) cfg.ddos.promote_fraction = o.ddos_promote_fraction;
  malloc_trim(0);
  size_t heap0 = heap_bytes(), rss0 = rss_bytes();
  auto pipe = std::make_unique<Pipeline>(cfg, snap);
  size_t heap_empty = heap_bytes();

  const TimeMs t0 = 1700000000000;
  const double span_ms = o.seconds * 1000.0;
  double gen_cpu = 0, flow_cpu = 0, dns_cpu = 0, w0 = wall();
  uint64_t nflows = 0, ndns = 0;
  double dns_acc = 0;
  DnsEvent ev;
  while (nflows < o.flows) {
    double g0 = bench::thread_cpu();
    size_t nf = 0;
    while (nf < kBatch && nflows + nf < o.flows) {
      TimeMs t = t0 + static_cast<TimeMs>(span_ms * static_cast<double>(nflows + nf) / static_cast<double>(o.flows));
      if ((nflows + nf) % 8000 == 7999) {
        make_unlisted_c2(rng_c2, plan, t, flows[nf++]);
        continue;
      }
      nf += static_cast<size_t>(make_flow(rng, plan, t, &flows[nf]));
    }
    size_t nd = 0;
    if (o.dns) {
      dns_acc += o.dns_per_flow * static_cast<double>(nf);
      TimeMs tb = flows[0].start;
      while (dns_acc >= 1 && nd < kBatch) {
        make_dns(rng, plan, tb, dns[nd++]);
        dns_acc -= 1;
      }
    }
    double g1 = bench::thread_cpu();
    for (size_t i = 0; i < nf; ++i) pipe->on_flow(flows[i]);
    double g2 = bench::thread_cpu();
    for (size_t i = 0; i < nd; ++i) {
      const DnsSpec& d = dns[i];
      ev.clear();
      ev.time = d.t;
      ev.client = sub(d.client);
      ev.resolver = IpAddr::v4(kResolvers[d.client & 1]);
      ev.client_port = static_cast<uint16_t>(1024 + (d.client & 0x7fff));
      ev.resolver_port = 53;
      ev.qtype = dnstype::A;
      ev.qclass = 1;
      ev.id = static_cast<uint16_t>(i);
      ev.rcode = d.rcode;
      ev.set_flag(DnsEvent::kResponse, true);
      ev.set_qname(std::string_view(d.name, d.len));
      if (d.rcode == 0) ev.add_address(dnstype::A, 300, server(d.client % kServers));
      pipe->on_dns(ev);
    }
    double g3 = bench::thread_cpu();
    gen_cpu += g1 - g0;
    flow_cpu += g2 - g1;
    dns_cpu += g3 - g2;
    nflows += nf;
    ndns += nd;
  }
  pipe->flush();  // the last few queued flow records
  double w1 = wall();
  size_t heap1 = heap_bytes(), rss1 = rss_bytes();
  const auto& ddos = pipe->ddos();
  size_t ddos_before_finish = ddos.entities(), scan_before_finish = pipe->scan().hosts();
  size_t scan_state = pipe->scan().memory_bytes();  // finish() closes and clears the scan windows
  size_t c2_b = pipe->c2().memory_bytes(), c2_contacts = pipe->c2().contacts();
  double f0 = bench::thread_cpu();
  pipe->finish();
  double fin_cpu = bench::thread_cpu() - f0;

  // Did it see what was planted?
  size_t scan_found = 0, dga_found = 0, nx_found = 0, rep_found = 0, ddos_in = 0, ddos_out = 0, c2_found = 0;
  bool unlisted_found = false;
  for (const auto& f : pipe->findings()) {
    if (f.type == finding_type::kScan) ++scan_found;
    else if (f.type == finding_type::kDga) ++dga_found;
    else if (f.type == finding_type::kNxdomain) ++nx_found;
    else if (f.type == finding_type::kReputationFlow || f.type == finding_type::kReputationDns) ++rep_found;
    else if (f.type == finding_type::kDdosTarget) ddos_in += f.host == sub(kTargetHost);
    else if (f.type == finding_type::kDdosSource) ddos_out += f.host == sub(kAttackerHost);
    else if (f.type == finding_type::kC2Candidate) {
      ++c2_found;
      unlisted_found |= f.indicator == "198.51.100.77:8080/tcp";
    }
  }

  // A digest of every finding (sorted), so that a change can be checked to find exactly the same things.
  std::vector<std::string> canon;
  for (const auto& f : pipe->findings())
    canon.push_back(f.type + "|" + f.host.str() + "|" + std::to_string(f.first) + "|" + std::to_string(f.last) + "|" +
                    f.indicator + "|" + std::to_string(f.events) + "|" + std::to_string(f.confidence) + "|" +
                    f.explanation);
  std::sort(canon.begin(), canon.end());
  uint64_t digest = 1469598103934665603ull;
  for (const auto& c : canon)
    for (char ch : c + "\n") digest = (digest ^ static_cast<unsigned char>(ch)) * 1099511628211ull;

  double total = static_cast<double>(o.hosts);
  std::printf("pipeline_bench: %u active subscriber hosts, %" PRIu64 " flow records and %" PRIu64
              " DNS events over %.0f s of traffic time (%.0f flows/s traffic rate)\n",
              o.hosts, nflows, ndns, o.seconds, static_cast<double>(nflows) / o.seconds);
  std::printf("mix: 80%% web/QUIC, 7%% DNS, 2%% NTP, 3%% P2P (both directions), 3%% IoT-port scans from %u hosts (0.5%%), "
              "1.5%% DDoS flows, C&C contacts from %u hosts; DNS: 91%% NOERROR, 6.5%% NXDOMAIN, 2%% DGA from %u hosts\n",
              plan.scanners, plan.infected_c2, plan.dga);
  std::printf("c2 discovery: %s\n", o.c2 ? "on" : "off (--no-c2)");
  std::printf("CPU: flows %.2f s -> %.2f M flows/s per core; DNS %.2f s -> %.2f M events/s per core; "
              "flows+DNS %.2f M records/s; generator %.2f s (not counted); finish %.2f s; wall %.1f s\n",
              flow_cpu, static_cast<double>(nflows) / flow_cpu / 1e6, dns_cpu,
              ndns ? static_cast<double>(ndns) / dns_cpu / 1e6 : 0.0,
              static_cast<double>(nflows + ndns) / (flow_cpu + dns_cpu) / 1e6, gen_cpu, fin_cpu, w1 - w0);
  const auto* nx = pipe->nxdomain();
  size_t ddos_b = ddos.memory_bytes(), scan_b = pipe->scan().memory_bytes(), nx_b = nx ? nx->memory_bytes() : 0;
  std::printf("state: ddos %zu entities (%" PRIu64 " promoted from the sketch), scan %zu hosts, nxdomain %zu hosts (max %zu), c2 %zu hosts / %zu destinations "
              "(+%" PRIu64 " evicted) / %zu contacts\n",
              ddos_before_finish, ddos.promotions(), scan_before_finish, nx ? nx->hosts() : 0, nx ? nx->max_hosts() : 0,
              pipe->c2().hosts(), pipe->c2().destinations(), pipe->c2().evicted_destinations(), c2_contacts);
  std::printf("detectors' own accounting (heap): ddos %.1f MB, scan %.1f MB, nxdomain %.1f MB, c2 discovery %.1f MB -> "
              "%.0f bytes per active host (%.0f without c2)\n",
              static_cast<double>(ddos_b) / 1e6, static_cast<double>(scan_state) / 1e6, static_cast<double>(nx_b) / 1e6,
              static_cast<double>(c2_b) / 1e6, static_cast<double>(ddos_b + scan_state + nx_b + c2_b) / total,
              static_cast<double>(ddos_b + scan_state + nx_b) / total);
  std::printf("heap in use: %.1f MB after setup (intel snapshot, tables), +%.1f MB after the load = %.0f bytes "
              "per active host; RSS +%.1f MB = %.0f bytes per active host\n",
              static_cast<double>(heap_empty - heap0) / 1e6, static_cast<double>(heap1 - heap_empty) / 1e6,
              static_cast<double>(heap1 - heap_empty) / total, static_cast<double>(rss1 - rss0) / 1e6,
              static_cast<double>(rss1 - rss0) / total);
  auto counters = [](const char* what, const ReasonCounters& c) {
    for (const auto& row : c.snapshot(false)) std::printf("  %s: %s: %" PRIu64 "\n", what, row.reason.c_str(), row.count);
  };
  std::printf("limits hit (evictions, untracked):%s\n",
              ddos.errors().total() + pipe->scan().errors().total() + (nx ? nx->counters().total() : 0) +
                      pipe->c2().counters().total()
                  ? ""
                  : " none");
  counters("ddos", ddos.errors());
  counters("scan", pipe->scan().errors());
  if (nx) counters("nxdomain", nx->counters());
  counters("c2", pipe->c2().counters());
  (void)scan_b;
  std::printf("found: scanners %zu of %u, DGA hosts %zu of %u (+%zu nxdomain), reputation %zu, ddos target %s, ddos "
              "source %s, c2 candidates %zu (unlisted C&C %s), findings %zu\n",
              scan_found, plan.scanners, dga_found, plan.dga, nx_found, rep_found, ddos_in ? "yes" : "NO",
              ddos_out ? "yes" : "NO", c2_found, !o.c2 ? "off" : unlisted_found ? "found" : "NOT found",
              pipe->findings().size());
  std::printf("findings digest (FNV-1a of the sorted findings): %016" PRIx64 "\n", digest);
  double fps = static_cast<double>(nflows) / flow_cpu;
  double per_host = static_cast<double>(heap1 - heap_empty) / total;
  std::printf("goals: 2 M flows/s per core: %s (%.2f M); <= 256 bytes of state per active host: %s (%.0f by heap)\n",
              fps >= 2e6 ? "met" : "NOT met", fps / 1e6, per_host <= 256 ? "met" : "NOT met", per_host);
  return 0;
}
