// Decodes any flow-export datagram: tells NetFlow v5/v9, IPFIX and sFlow v5
// apart by their version field and hands each to its decoder. Used by the
// pcap reader (`flows read`) and the UDP collector alike.
#pragma once

#include <span>
#include <string>

#include "core/counters.hpp"
#include "ingest/netflow/netflow.hpp"
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

}  // namespace omamori
