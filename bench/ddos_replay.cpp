// A NetFlow v9 exporter for the DDoS benchmark: meters a raw capture with
// omamori's flow meter (short timeouts, as a router tuned for DDoS detection
// is), encodes the exported flows as NetFlow v9 datagrams stamped with their
// export time, and
//   - writes them as an export capture (Ethernet/IPv4/UDP to 10.0.0.1:2055),
//     for `omamori analyze --flows`, and/or
//   - sends them over UDP to one or more loopback collectors at the capture's
//     pace (or faster, relative timing preserved), the same datagram to every
//     destination back to back.
//
//   ddos_replay [--active S] [--inactive S] [--pcap-out FILE] [--send 127.0.0.1:PORT]...
//               [--speed X] [--lead S] INPUT.pcap
//
// Prints "onset_wall_ms=T" (the wall-clock time the capture's first packet is
// mapped to: the attack onset, the captures being attack traffic only), then
// "datagrams=N records=M first_packet_ms=.. last_export_ms=.. ipv6_skipped=K".
// Only loopback destinations are accepted.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "flow/record.hpp"
#include "ingest/meter/meter.hpp"
#include "ingest/pcap/pcap_file.hpp"

using namespace omamori;

namespace {

struct Exported {
  TimeMs at;  // export time (traffic time)
  FlowRecord r;
};

class Collect final : public FlowSink {
 public:
  TimeMs now = 0;
  std::vector<Exported> out;
  void on_flow(const FlowRecord& r) override { out.push_back({now, r}); }
};

using bench::put16;
using bench::put32;
using bench::set16;

// Template 256: src, dst, sport, dport, proto, tcp flags, packets, bytes, first, last (30 bytes).
constexpr uint16_t kFields[][2] = {{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {6, 1}, {2, 4}, {1, 4}, {22, 4}, {21, 4}};
constexpr size_t kRecordLen = 30;
constexpr size_t kMaxRecords = 44;

struct Datagram {
  TimeMs at;
  std::vector<uint8_t> bytes;
  size_t records;
};

uint32_t v4(const IpAddr& a) {
  const uint8_t* b = a.bytes() + 12;
  return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3];
}

// sysUpTime is counted from `boot`; unix_secs is the export second and the
// uptime matches it exactly, so collectors recover the flow times to the ms.
Datagram encode(TimeMs at, const Exported* f, size_t n, TimeMs boot, uint32_t seq) {
  Datagram d{at, {}, n};
  auto& v = d.bytes;
  TimeMs sec_ms = at - at % 1000;
  put16(v, 9);
  put16(v, 0);  // count, patched
  put32(v, static_cast<uint32_t>(sec_ms - boot));
  put32(v, static_cast<uint32_t>(sec_ms / 1000));
  put32(v, seq);
  put32(v, 1);  // source id
  // Template flowset in every datagram (exporters repeat them; a collector started late still decodes).
  put16(v, 0);
  put16(v, 8 + 4 * std::size(kFields));
  put16(v, 256);
  put16(v, std::size(kFields));
  for (auto& fl : kFields) {
    put16(v, fl[0]);
    put16(v, fl[1]);
  }
  size_t set = v.size();
  put16(v, 256);
  put16(v, 0);
  for (size_t i = 0; i < n; ++i) {
    const FlowRecord& r = f[i].r;
    put32(v, v4(r.src));
    put32(v, v4(r.dst));
    put16(v, r.sport);
    put16(v, r.dport);
    v.push_back(r.proto);
    v.push_back(r.tcp_flags);
    put32(v, static_cast<uint32_t>(std::min<uint64_t>(r.packets, UINT32_MAX)));
    put32(v, static_cast<uint32_t>(std::min<uint64_t>(r.bytes, UINT32_MAX)));
    put32(v, static_cast<uint32_t>(r.start - boot));
    put32(v, static_cast<uint32_t>(r.end - boot));
  }
  while ((v.size() - set) % 4) v.push_back(0);
  set16(v, set + 2, static_cast<uint32_t>(v.size() - set));
  set16(v, 2, static_cast<uint32_t>(n + 1));  // records + the template
  return d;
}

int64_t wall_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}
void sleep_until_ms(int64_t t) {
  timespec ts{static_cast<time_t>(t / 1000), static_cast<long>((t % 1000) * 1000000)};
  while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, nullptr) != 0) {
  }
}

bool write_pcap(const std::string& path, const std::vector<Datagram>& ds) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
  std::fwrite(hdr, 4, 6, f);
  for (const auto& d : ds) {
    // Ethernet (14) + IPv4 (20) + UDP (8) headers, 10.100.0.1:40000 -> 10.0.0.1:2055.
    uint8_t h[42] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 8, 0,                            // Ethernet
                     0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 100, 0, 1, 10, 0, 0, 1,  // IPv4
                     0x9c, 0x40, 0x08, 0x07, 0, 0, 0, 0};                                 // UDP
    size_t len = 20 + 8 + d.bytes.size();
    h[16] = static_cast<uint8_t>(len >> 8);
    h[17] = static_cast<uint8_t>(len);
    uint32_t s = 0;
    for (size_t i = 14; i < 34; i += 2) s += (h[i] << 8) | h[i + 1];
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    h[24] = static_cast<uint8_t>(~s >> 8);
    h[25] = static_cast<uint8_t>(~s);
    size_t ulen = 8 + d.bytes.size();
    h[38] = static_cast<uint8_t>(ulen >> 8);
    h[39] = static_cast<uint8_t>(ulen);
    uint32_t total = static_cast<uint32_t>(sizeof h + d.bytes.size());
    uint32_t rec[4] = {static_cast<uint32_t>(d.at / 1000), static_cast<uint32_t>((d.at % 1000) * 1000), total, total};
    std::fwrite(rec, 4, 4, f);
    std::fwrite(h, 1, sizeof h, f);
    std::fwrite(d.bytes.data(), 1, d.bytes.size(), f);
  }
  return std::fclose(f) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  double active = 1, inactive = 1, speed = 1, lead = 1;
  std::string pcap_out, input;
  std::vector<sockaddr_in> dsts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&] { return bench::arg_value(argc, argv, i); };
    if (a == "--active") active = std::atof(val().c_str());
    else if (a == "--inactive") inactive = std::atof(val().c_str());
    else if (a == "--speed") speed = std::atof(val().c_str());
    else if (a == "--lead") lead = std::atof(val().c_str());
    else if (a == "--pcap-out") pcap_out = val();
    else if (a == "--send") {
      std::string d = val();
      size_t c = d.rfind(':');
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      if (c == std::string::npos || inet_pton(AF_INET, d.substr(0, c).c_str(), &sa.sin_addr) != 1 ||
          (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
        std::fprintf(stderr, "--send needs a loopback address 127.x.x.x:PORT\n");
        return 2;
      }
      sa.sin_port = htons(static_cast<uint16_t>(std::atoi(d.c_str() + c + 1)));
      dsts.push_back(sa);
    } else if (!a.empty() && a[0] != '-' && input.empty()) input = a;
    else {
      std::fprintf(stderr,
                   "usage: ddos_replay [--active S] [--inactive S] [--pcap-out FILE] [--send 127.0.0.1:PORT]... "
                   "[--speed X] [--lead S] INPUT.pcap\n");
      return 2;
    }
  }
  if (input.empty() || speed <= 0) {
    std::fprintf(stderr, "ddos_replay: an input capture is needed (and --speed > 0)\n");
    return 2;
  }
  std::string err;
  auto f = PcapFile::open(input, err);
  if (!f) {
    std::fprintf(stderr, "ddos_replay: %s\n", err.c_str());
    return 1;
  }
  MeterConfig mc;
  mc.active_timeout_ms = static_cast<TimeMs>(active * 1000);
  mc.inactive_timeout_ms = static_cast<TimeMs>(inactive * 1000);
  Collect sink;
  FlowMeter meter(mc, sink);
  CapturedPacket pkt;
  TimeMs first = -1, last = 0;
  while (f->next(pkt)) {
    if (first < 0) first = pkt.ts;
    last = pkt.ts;
    sink.now = pkt.ts;
    meter.advance(pkt.ts);
    meter.add_packet(f->linktype(), pkt);
  }
  // End of capture: the remaining flows go out when their inactive timeout passes.
  sink.now = last + mc.inactive_timeout_ms;
  meter.flush();
  if (first < 0) {
    std::fprintf(stderr, "ddos_replay: no packets in %s\n", input.c_str());
    return 1;
  }
  TimeMs boot = first - 3600000;
  std::vector<Datagram> ds;
  size_t v6 = 0, recs = 0;
  std::vector<Exported> v4flows;
  for (const auto& e : sink.out) {
    if (!e.r.src.is_v4() || !e.r.dst.is_v4()) {
      ++v6;
      continue;
    }
    v4flows.push_back(e);
  }
  for (size_t i = 0; i < v4flows.size();) {
    size_t j = i;
    while (j < v4flows.size() && j - i < kMaxRecords && v4flows[j].at == v4flows[i].at) ++j;
    ds.push_back(encode(v4flows[i].at, &v4flows[i], j - i, boot, static_cast<uint32_t>(ds.size())));
    recs += j - i;
    i = j;
  }
  if (!pcap_out.empty() && !write_pcap(pcap_out, ds)) {
    std::fprintf(stderr, "ddos_replay: cannot write %s\n", pcap_out.c_str());
    return 1;
  }
  if (!dsts.empty()) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
      std::perror("socket");
      return 1;
    }
    int64_t t0 = wall_ms() + static_cast<int64_t>(lead * 1000);
    std::printf("onset_wall_ms=%lld\n", static_cast<long long>(t0));
    std::fflush(stdout);
    uint64_t send_errors = 0;
    for (const auto& d : ds) {
      sleep_until_ms(t0 + static_cast<int64_t>(static_cast<double>(d.at - first) / speed));
      for (const auto& sa : dsts)
        if (sendto(fd, d.bytes.data(), d.bytes.size(), 0, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) < 0)
          ++send_errors;
    }
    std::printf("replay_end_wall_ms=%lld send_errors=%llu\n", static_cast<long long>(wall_ms()),
                static_cast<unsigned long long>(send_errors));
    close(fd);
  }
  std::printf("datagrams=%zu records=%zu first_packet_ms=%lld last_packet_ms=%lld last_export_ms=%lld ipv6_skipped=%zu\n",
              ds.size(), recs, static_cast<long long>(first), static_cast<long long>(last),
              static_cast<long long>(ds.empty() ? 0 : ds.back().at), v6);
  return 0;
}
