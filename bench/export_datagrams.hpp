// The UDP datagrams of a pcap of exporter traffic, one call each (fragments
// reassembled): what the benchmark input builders read their captures with.
#pragma once

#include <cstdio>
#include <string>

#include "ingest/pcap/pcap_file.hpp"
#include "ingest/pcap/udp_stream.hpp"

namespace bench {

// Calls fn(const omamori::UdpDatagram&) for every UDP datagram in the file;
// false (with the reason on stderr) when it cannot be opened.
template <typename Fn>
bool each_udp_datagram(const std::string& path, Fn&& fn) {
  std::string err;
  auto f = omamori::PcapFile::open(path, err);
  if (!f) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return false;
  }
  omamori::UdpExtractor udp;
  omamori::CapturedPacket pkt;
  omamori::UdpDatagram d;
  while (f->next(pkt))
    if (udp.extract(f->linktype(), pkt.data, pkt.caplen, pkt.ts, d)) fn(d);
  return true;
}

}  // namespace bench
