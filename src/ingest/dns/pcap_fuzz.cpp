// libFuzzer target: DNS out of captured packets (UDP, TCP reassembly, fragments).
// The input is a sequence of packets, each prefixed by a 2-byte length; the first
// byte picks the link type (Ethernet or raw IP).
#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"
#include "ingest/dns/pcap_dns.hpp"
#include "packet/decode.hpp"

namespace {
struct NullSink final : omamori::DnsSink {
  size_t n = 0;
  void on_dns(const omamori::DnsEvent& ev) override { n += ev.qname().size(); }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  int link = (data[0] & 1) ? omamori::linktype::ETHERNET : omamori::linktype::RAW;
  omamori::DnsPcapOptions opt;
  opt.max_tcp_streams = 8;
  opt.max_out_of_order = 4;
  omamori::DnsPacketDecoder dec(opt);
  NullSink sink;
  size_t off = 1;
  omamori::TimeMs ts = 1000;
  while (size - off >= 2) {
    size_t n = omamori::load_be16(data + off);
    off += 2;
    if (n > size - off) n = size - off;
    dec.packet(link, data + off, n, ts, sink);
    ts += 700;
    off += n;
  }
  dec.finish();
  return 0;
}
