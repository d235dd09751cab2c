// Decodes any flow-export datagram: tells NetFlow v5/v9, IPFIX and sFlow v5
// apart by their version field and hands each to its decoder. Used by the
// pcap reader (`flows read`) and the UDP collector alike.
#pragma once

#include <span>
#include <string>

#include "core/counters.hpp"
#include "ingest/netflow/netflow.hpp"
#include "ingest/pcap/udp_stream.hpp"
#include "ingest/sflow/sflow.hpp"

namespace omamori {

class FlowDatagramDecoder {
 public:
  explicit FlowDatagramDecoder(NetflowConfig cfg = {}) : netflow_(cfg) {}

  void decode(const IpAddr& sender, TimeMs received, std::span<const uint8_t> d, FlowSink& sink);
  void finish() { netflow_.finish(); }

  NetflowDecoder& netflow() { return netflow_; }
  SflowDecoder& sflow() { return sflow_; }
  const NetflowDecoder& netflow() const { return netflow_; }
  const SflowDecoder& sflow() const { return sflow_; }
  // Datagrams that are no known export format.
  const ReasonCounters& errors() const { return errors_; }
  uint64_t records() const { return netflow_.stats().records + sflow_.stats().records; }
  // All error counters of all decoders, merged.
  ReasonCounters all_errors() const;

 private:
  NetflowDecoder netflow_;
  SflowDecoder sflow_;
  ReasonCounters errors_;
};

struct ExportPcapCounts {
  uint64_t packets = 0;
  uint64_t datagrams = 0;
};

// Decodes every flow-export datagram in a pcap/pcapng file (fragments
// reassembled by `udp`), optionally only those to the given UDP ports.
// Returns false with err set when the file cannot be opened or read.
bool read_export_pcap(const std::string& path, FlowDatagramDecoder& dec, UdpExtractor& udp,
                      std::span<const uint16_t> ports, FlowSink& sink, ExportPcapCounts& counts, std::string& err);

}  // namespace omamori
