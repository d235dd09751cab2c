// libFuzzer target: classic pcap files read by PcapFile's block reader, and
// the UDP datagrams in their packets. The input is the file. PcapFile must
// give exactly what libpcap gives for the same file (packets, times, the end
// or an error); any difference aborts. Every packet then goes through the
// UdpExtractor (its Ethernet/IPv4/UDP fast path, the general decoder and
// fragment reassembly).
#include <pcap/pcap.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "ingest/pcap/pcap_file.hpp"
#include "ingest/pcap/udp_stream.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = memfd_create("pcap_fuzz", 0);
  if (fd < 0) return 0;
  if (size > 0 && write(fd, data, size) != ssize_t(size)) {
    close(fd);
    return 0;
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  char eb[PCAP_ERRBUF_SIZE];
  pcap_t* h = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, eb);
  std::string err;
  auto f = omamori::PcapFile::open(path, err, 1);  // the smallest block buffer: the most block ends
  if (!h || !f) {
    if (bool(h) != bool(f)) __builtin_trap();  // opened by one and not the other
    if (h) pcap_close(h);
    close(fd);
    return 0;
  }
  omamori::UdpExtractor udp;
  omamori::CapturedPacket p;
  omamori::UdpDatagram d;
  pcap_pkthdr* hdr;
  const u_char* want;
  for (;;) {
    int rc = pcap_next_ex(h, &hdr, &want);
    bool got = f->next(p);
    if (got != (rc == 1)) __builtin_trap();
    if (!got) {
      if ((rc == PCAP_ERROR) == f->error().empty()) __builtin_trap();  // both report an error, or neither
      break;
    }
    if (p.caplen != hdr->caplen || p.len != hdr->len ||
        p.ts_us != int64_t(hdr->ts.tv_sec) * 1000000 + hdr->ts.tv_usec || std::memcmp(p.data, want, p.caplen) != 0)
      __builtin_trap();
    if (udp.extract(f->linktype(), p.data, p.caplen, p.ts, d) && d.payload.size() > 0) {
      volatile uint8_t sink = d.payload[d.payload.size() - 1];
      (void)sink;
    }
  }
  pcap_close(h);
  close(fd);
  return 0;
}
