// The normalised flow record: what every flow input produces (NetFlow v5/v9,
// IPFIX, sFlow, the pcap flow meter) and every flow detector consumes.
//
// Packets and bytes are as exported (not multiplied by the sampling rate);
// `renormalise()` scales them when the operator asks for estimated totals.
#pragma once

#include <cstdint>

#include "core/ip.hpp"
#include "core/time.hpp"

namespace omamori {

struct FlowRecord {
  TimeMs start = 0;  // first packet, UTC ms
  TimeMs end = 0;    // last packet, UTC ms
  IpAddr src;
  IpAddr dst;
  IpAddr exporter;  // router/agent that exported it; empty for the flow meter on a pcap
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint32_t in_if = 0;
  uint32_t out_if = 0;
  uint32_t src_as = 0;
  uint32_t dst_as = 0;
  uint32_t sampling_rate = 1;  // 1 in N packets; 1 = unsampled
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint8_t proto = 0;
  uint8_t tcp_flags = 0;  // OR of all packets' TCP flags
  uint8_t ip_version = 4;

  void renormalise() {
    if (sampling_rate > 1) {
      packets *= sampling_rate;
      bytes *= sampling_rate;
    }
  }
};
static_assert(sizeof(FlowRecord) <= 128, "FlowRecord must stay compact");

// Receives decoded flow records, one call per record; implementations must
// not keep the reference.
class FlowSink {
 public:
  virtual ~FlowSink() = default;
  virtual void on_flow(const FlowRecord& r) = 0;
};

// TCP flag bits as in the TCP header.
namespace tcpflag {
inline constexpr uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20, ECE = 0x40,
                         CWR = 0x80;
}

}  // namespace omamori
