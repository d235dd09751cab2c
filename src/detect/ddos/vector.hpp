// Classification of DDoS traffic into attack vectors.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "flow/record.hpp"

namespace omamori::ddos {

// Per-packet traffic classes an attack is made of.
enum Class : uint8_t {
  kSyn,         // TCP SYN without ACK
  kSynAck,      // TCP SYN+ACK (reflection of SYNs sent to third parties)
  kAck,         // TCP ACK without SYN/RST/FIN (ACK flood)
  kRst,         // TCP RST
  kTcpOther,
  kUdp,         // UDP not from a known reflector port
  kAmplified,   // UDP from a known reflector source port (see reflector())
  kIcmp,
  kFragment,    // IP fragment without L4 header (ports 0/0)
  kOther,
  kClassCount
};

struct Reflector {
  uint16_t port;
  const char* name;  // "dns", "ntp", ...
};
// The UDP services abused for reflection/amplification, by source port.
const std::array<Reflector, 24>& reflectors();
// Index into reflectors() for a UDP source port, or -1.
int reflector_index(uint16_t sport);

// Class of a flow record's packets.
Class classify(const FlowRecord& r, int* reflector);

// Counters of packets by class and by reflector.
struct VectorCounts {
  std::array<uint64_t, kClassCount> packets{};
  std::array<uint64_t, 24> reflector_packets{};
  void add(const FlowRecord& r, uint64_t packets);
  void merge(const VectorCounts& o);
  uint64_t total() const;
};

// Names the vector: the dominant class (>= 60% of packets, fragments counted
// with the UDP class they belong to), e.g. "syn-flood", "dns-amplification",
// "synack-reflection", "udp-flood"; otherwise "mixed:" + the classes >= 20%.
std::string vector_name(const VectorCounts& c);

}  // namespace omamori::ddos
