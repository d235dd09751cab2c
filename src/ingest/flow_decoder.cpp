#include "ingest/flow_decoder.hpp"

#include "core/bytes.hpp"
#include "ingest/pcap/pcap_file.hpp"

#include <algorithm>

namespace omamori {

void FlowDatagramDecoder::decode(const IpAddr& sender, TimeMs received, std::span<const uint8_t> d,
                                 FlowSink& sink) {
  if (d.size() < 4) {
    errors_.add(sender, "datagram too short for any flow format");
    return;
  }
  uint16_t version = load_be16(d.data());
  switch (version) {
    case 5:
    case 9:
    case 10:
      netflow_.decode(sender, received, d, sink);
      return;
    case 0:
      if (load_be32(d.data()) == 5) {
        sflow_.decode(sender, received, d, sink);
        return;
      }
      break;
    default:
      break;
  }
  errors_.add(sender, "unknown flow export version");
}

ReasonCounters FlowDatagramDecoder::all_errors() const {
  ReasonCounters all;
  all.merge(errors_);
  all.merge(netflow_.errors());
  all.merge(sflow_.errors());
  return all;
}

bool read_export_pcap(const std::string& path, FlowDatagramDecoder& dec, UdpExtractor& udp,
                      std::span<const uint16_t> ports, FlowSink& sink, ExportPcapCounts& counts, std::string& err) {
  auto f = PcapFile::open(path, err);
  if (!f) return false;
  CapturedPacket pkt;
  UdpDatagram d;
  while (f->next(pkt)) {
    ++counts.packets;
    if (!udp.extract(f->linktype(), pkt.data, pkt.caplen, pkt.ts, d)) continue;
    if (!ports.empty() && std::find(ports.begin(), ports.end(), d.dport) == ports.end()) continue;
    ++counts.datagrams;
    dec.decode(d.src, d.ts, d.payload, sink);
  }
  if (!f->error().empty()) {
    err = f->error();
    return false;
  }
  return true;
}

}  // namespace omamori
