// Decoding of captured packet headers from layer 2 to layer 4.
//
// Used wherever omamori sees raw packets: pcap files of exporter traffic,
// sFlow raw-header samples, the flow meter, DNS in pcaps. Handles Ethernet,
// 802.1Q/QinQ VLAN tags, MPLS label stacks, PPPoE sessions, Linux cooked captures, raw IP,
// BSD loopback, IPv4 (options, fragments), IPv6 (extension headers, fragment
// header), and optionally decapsulates GRE, IP-in-IP and VXLAN to the inner
// packet. Never reads past `caplen`; every failure has a reason string.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/ip.hpp"

namespace omamori {

// Link types as numbered by libpcap (DLT_/LINKTYPE_ values).
namespace linktype {
inline constexpr int NULL_LOOP = 0, ETHERNET = 1, RAW = 101, RAW_OLD12 = 12, RAW_OLD14 = 14, LOOP = 108,
                     LINUX_SLL = 113, LINUX_SLL2 = 276, IPV4 = 228, IPV6 = 229;
}

struct PacketInfo {
  IpAddr src;
  IpAddr dst;
  uint32_t ip_len = 0;       // IP total length from the header (IPv6: 40 + payload length)
  uint32_t frag_id = 0;      // IPv4 identification or IPv6 fragment id
  uint16_t frag_offset = 0;  // in bytes
  uint16_t sport = 0;
  uint16_t dport = 0;        // for ICMP: type << 8 | code, the NetFlow convention
  uint16_t vlan = 0;         // innermost VLAN id
  uint8_t ip_version = 0;
  uint8_t proto = 0;
  uint8_t tcp_flags = 0;
  uint8_t ttl = 0;
  bool fragment = false;        // part of a fragmented datagram (first or later)
  bool more_fragments = false;
  bool has_ports = false;       // sport/dport valid (TCP/UDP/SCTP, or ICMP type/code)
  uint8_t tunnels = 0;          // how many encapsulations were removed
  uint8_t mpls_labels = 0;
  // The IP payload as captured (for reassembly) and the L4 payload (UDP/TCP data).
  const uint8_t* ip_payload = nullptr;
  uint32_t ip_payload_caplen = 0;
  const uint8_t* l4_payload = nullptr;
  uint32_t l4_payload_caplen = 0;
  uint32_t l4_payload_len = 0;  // from headers (UDP length / IP length), may exceed caplen
};

struct DecodeOptions {
  bool decapsulate = true;  // follow GRE, IP-in-IP and VXLAN (UDP 4789) to the inner packet
};

// Returns nullptr on success, or a static string naming why the packet could
// not be decoded to at least the IP layer ("truncated ethernet", ...).
// Partial L4 headers leave has_ports false but still succeed.
const char* decode_packet(int link, const uint8_t* p, size_t caplen, PacketInfo& out, DecodeOptions opt = {});

// Decode starting at an Ethernet frame / an IP header (sFlow headers give either).
const char* decode_ethernet(const uint8_t* p, size_t caplen, PacketInfo& out, DecodeOptions opt = {});
const char* decode_ip(const uint8_t* p, size_t caplen, PacketInfo& out, DecodeOptions opt = {});

}  // namespace omamori
