#include "detect/ddos/vector.hpp"

#include <algorithm>

namespace omamori::ddos {

const std::array<Reflector, 24>& reflectors() {
  static const std::array<Reflector, 24> k = {{
      {53, "dns"},        {123, "ntp"},       {161, "snmp"},      {389, "cldap"},     {500, "isakmp"},
      {1900, "ssdp"},     {3702, "ws-discovery"}, {11211, "memcached"}, {19, "chargen"}, {17, "qotd"},
      {37810, "dahua-dvr"}, {47808, "bacnet"}, {111, "portmap"},  {137, "netbios"},   {1434, "mssql"},
      {520, "rip"},       {69, "tftp"},       {5353, "mdns"},     {3283, "ard"},      {5683, "coap"},
      {1701, "l2tp"},     {10001, "ubiquiti"}, {27015, "steam"},  {3478, "stun"},
  }};
  return k;
}

int reflector_index(uint16_t sport) {
  const auto& r = reflectors();
  for (size_t i = 0; i < r.size(); ++i)
    if (r[i].port == sport) return static_cast<int>(i);
  return -1;
}

Class classify(const FlowRecord& r, int* reflector) {
  *reflector = -1;
  switch (r.proto) {
    case 6: {
      uint8_t f = r.tcp_flags;
      if (r.sport == 0 && r.dport == 0 && f == 0) return kFragment;
      if ((f & tcpflag::SYN) && (f & tcpflag::ACK)) return kSynAck;
      if (f & tcpflag::SYN) return kSyn;
      if (f & tcpflag::RST) return kRst;
      if ((f & tcpflag::ACK) && !(f & tcpflag::FIN)) return kAck;
      return kTcpOther;
    }
    case 17: {
      if (r.sport == 0 && r.dport == 0) return kFragment;
      int i = reflector_index(r.sport);
      if (i >= 0) {
        *reflector = i;
        return kAmplified;
      }
      return kUdp;
    }
    case 1:
    case 58:
      return kIcmp;
    default:
      return kOther;
  }
}

void VectorCounts::add(const FlowRecord& r, uint64_t n) {
  int refl;
  Class c = classify(r, &refl);
  packets[c] += n;
  if (refl >= 0) reflector_packets[static_cast<size_t>(refl)] += n;
}

void VectorCounts::merge(const VectorCounts& o) {
  for (size_t i = 0; i < packets.size(); ++i) packets[i] += o.packets[i];
  for (size_t i = 0; i < reflector_packets.size(); ++i) reflector_packets[i] += o.reflector_packets[i];
}

uint64_t VectorCounts::total() const {
  uint64_t t = 0;
  for (auto p : packets) t += p;
  return t;
}

std::string vector_name(const VectorCounts& c) {
  static const char* kNames[kClassCount] = {"syn-flood", "synack-reflection", "ack-flood", "rst-flood", "tcp-flood",
                                            "udp-flood", "amplification", "icmp-flood", "ip-fragments", "other"};
  uint64_t total = c.total();
  if (total == 0) return "none";
  // Fragments belong to the (UDP) datagrams they were cut from: an
  // amplification attack with large answers is mostly fragments.
  auto p = c.packets;
  uint64_t frag = p[kFragment];
  if (p[kAmplified] > 0 && p[kAmplified] >= p[kUdp]) {
    p[kAmplified] += frag;
    p[kFragment] = 0;
  } else if (p[kUdp] > 0) {
    p[kUdp] += frag;
    p[kFragment] = 0;
  }
  auto name_of = [&](int cls) -> std::string {
    if (cls != kAmplified) return kNames[cls];
    const auto& r = reflectors();
    size_t best = 0;
    for (size_t i = 1; i < r.size(); ++i)
      if (c.reflector_packets[i] > c.reflector_packets[best]) best = i;
    return std::string(r[best].name) + "-amplification";
  };
  int top = static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
  if (p[static_cast<size_t>(top)] * 100 >= total * 60) return name_of(top);
  std::string mixed = "mixed";
  char sep = ':';
  for (int i = 0; i < kClassCount; ++i)
    if (p[static_cast<size_t>(i)] * 100 >= total * 20) {
      mixed += sep;
      mixed += name_of(i);
      sep = '+';
    }
  return mixed;
}

}  // namespace omamori::ddos
