// Builds a large pcap of flow-export traffic for benchmarks by replaying the
// UDP datagrams of small real captures many times, with shifted timestamps.
//
//   make_export_pcap OUT.pcap REPEAT GROUP...
//
// A GROUP is a comma-separated list of pcaps replayed in that order (e.g. a
// template capture then its data capture). Each group's exporters get their
// own addresses (10.100.<group>.<n>), so that template IDs of unrelated
// captures never collide; every datagram goes to 10.0.0.1:2055 as one
// unfragmented Ethernet/IPv4/UDP packet (fragmented originals are reassembled
// first). Prints the number of datagrams written.
#include <pcap/pcap.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "export_datagrams.hpp"

namespace {

struct Datagram {
  uint32_t src;  // rewritten exporter address (host order)
  uint16_t sport;
  std::vector<uint8_t> payload;
};

uint16_t ip_checksum(const uint8_t* p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < n; i += 2) s += (p[i] << 8) | p[i + 1];
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s OUT.pcap REPEAT GROUP...  (GROUP = a.pcap[,b.pcap...])\n", argv[0]);
    return 2;
  }
  const char* out_path = argv[1];
  long repeat = std::strtol(argv[2], nullptr, 10);
  std::vector<Datagram> ds;
  for (int g = 3; g < argc; ++g) {
    std::map<omamori::IpAddr, uint32_t> exporters;
    std::stringstream files(argv[g]);
    std::string path;
    while (std::getline(files, path, ',')) {
      bool ok = bench::each_udp_datagram(path, [&](const omamori::UdpDatagram& d) {
        if (d.payload.size() > 65507) return;
        auto [it, fresh] = exporters.try_emplace(d.src, 0);
        if (fresh) it->second = (10u << 24) | (100u << 16) | (uint32_t(g - 3) << 8) | uint32_t(exporters.size());
        ds.push_back({it->second, d.sport, {d.payload.begin(), d.payload.end()}});
      });
      if (!ok) return 1;
    }
  }
  if (ds.empty()) {
    std::fprintf(stderr, "no UDP datagrams in the inputs\n");
    return 1;
  }
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535 + 64);
  pcap_dumper_t* dump = pcap_dump_open(dead, out_path);
  if (!dump) {
    std::fprintf(stderr, "%s: %s\n", out_path, pcap_geterr(dead));
    return 1;
  }
  std::vector<uint8_t> frame(14 + 20 + 8 + 65536);
  // Ethernet: fixed MACs, IPv4.
  const uint8_t eth[14] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00};
  std::memcpy(frame.data(), eth, 14);
  uint64_t n = 0;
  uint64_t t_us = 1700000000ull * 1000000ull;
  for (long r = 0; r < repeat; ++r) {
    for (const auto& d : ds) {
      uint8_t* ip = frame.data() + 14;
      size_t ulen = 8 + d.payload.size();
      size_t tlen = 20 + ulen;
      std::memset(ip, 0, 20);
      ip[0] = 0x45;
      ip[2] = static_cast<uint8_t>(tlen >> 8);
      ip[3] = static_cast<uint8_t>(tlen);
      ip[4] = static_cast<uint8_t>(n >> 8);
      ip[5] = static_cast<uint8_t>(n);
      ip[8] = 64;
      ip[9] = 17;
      ip[12] = static_cast<uint8_t>(d.src >> 24);
      ip[13] = static_cast<uint8_t>(d.src >> 16);
      ip[14] = static_cast<uint8_t>(d.src >> 8);
      ip[15] = static_cast<uint8_t>(d.src);
      ip[16] = 10;
      ip[19] = 1;
      uint16_t cs = ip_checksum(ip, 20);
      ip[10] = static_cast<uint8_t>(cs >> 8);
      ip[11] = static_cast<uint8_t>(cs);
      uint8_t* udp = ip + 20;
      udp[0] = static_cast<uint8_t>(d.sport >> 8);
      udp[1] = static_cast<uint8_t>(d.sport);
      udp[2] = 2055 >> 8;
      udp[3] = 2055 & 0xff;
      udp[4] = static_cast<uint8_t>(ulen >> 8);
      udp[5] = static_cast<uint8_t>(ulen);
      udp[6] = udp[7] = 0;  // no UDP checksum (allowed over IPv4)
      std::memcpy(udp + 8, d.payload.data(), d.payload.size());
      pcap_pkthdr h{};
      h.ts.tv_sec = static_cast<time_t>(t_us / 1000000);
      h.ts.tv_usec = static_cast<suseconds_t>(t_us % 1000000);
      h.caplen = h.len = static_cast<bpf_u_int32>(14 + tlen);
      pcap_dump(reinterpret_cast<u_char*>(dump), &h, frame.data());
      ++n;
      t_us += 10;  // 100k datagrams per second of capture time
    }
  }
  pcap_dump_close(dump);
  pcap_close(dead);
  std::printf("%llu\n", static_cast<unsigned long long>(n));
  return 0;
}
