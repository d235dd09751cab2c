// DNS messages out of packet captures: UDP and TCP on port 53 (or chosen ports),
// IPv4 and IPv6, IP fragments reassembled, GRE/IP-in-IP/VXLAN decapsulated.
//
// DNS over TCP is reassembled per connection and direction: segments are put in
// sequence order (a few out-of-order segments are held), retransmitted bytes are
// dropped, and each 2-byte length-prefixed message becomes an event when its last
// byte arrives. Whatever cannot be reassembled (gaps, capture truncation, streams
// that end inside a message, table overflow) is counted by reason.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <vector>

#include "core/counters.hpp"
#include "ingest/dns/event.hpp"
#include "ingest/dns/wire.hpp"
#include "ingest/pcap/udp_stream.hpp"

namespace omamori {

struct DnsPcapOptions {
  std::vector<uint16_t> ports{53};
  size_t max_tcp_streams = 16384;  // connection directions tracked at once
  size_t max_out_of_order = 16;    // segments held per direction while waiting for a gap
  size_t max_out_of_order_bytes = 256 * 1024;
  TimeMs tcp_idle_ms = 120000;  // of capture time
  bool decapsulate = true;      // follow GRE, IP-in-IP, VXLAN
};

struct DnsPcapStats {
  uint64_t packets = 0;
  uint64_t dns_packets = 0;  // UDP/TCP packets on a DNS port
  uint64_t udp_messages = 0;
  uint64_t tcp_messages = 0;
  uint64_t tcp_segments = 0;  // with payload
  uint64_t tcp_retransmitted = 0;
  uint64_t tcp_out_of_order = 0;
  uint64_t tcp_midstream = 0;  // directions first seen without their SYN
  uint64_t fragments = 0;
  uint64_t events = 0;
};

class DnsPacketDecoder {
 public:
  explicit DnsPacketDecoder(DnsPcapOptions opt = {});

  // Decodes one captured packet; calls sink.on_dns for each DNS message it completes.
  void packet(int link, const uint8_t* p, size_t caplen, TimeMs ts, DnsSink& sink);
  // End of input: TCP streams that stopped inside a message are counted.
  void finish();

  // DNS-level problems: malformed messages, TCP data that could not be reassembled.
  const ReasonCounters& errors() const { return errors_; }
  // Frames that could not be decoded to IP at all (not DNS specific: ARP, truncated frames...).
  const ReasonCounters& packet_errors() const { return packet_errors_; }
  const DnsPcapStats& stats() const { return stats_; }
  const DnsWireStats& wire_stats() const { return wire_; }
  size_t tcp_streams() const { return tcp_.size(); }

 private:
  struct TcpKey {
    IpAddr src, dst;
    uint16_t sport, dport;
    bool operator==(const TcpKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const TcpKey& k) {
      return H::combine(std::move(h), k.src, k.dst, k.sport, k.dport);
    }
  };
  struct Segment {
    uint32_t seq;
    std::vector<uint8_t> data;
  };
  struct TcpDir {
    uint32_t next_seq = 0;
    bool broken = false;  // gave up until the next SYN
    TimeMs last = 0;
    std::vector<uint8_t> buf;  // bytes not yet consumed as messages
    size_t start = 0;          // consumed prefix of buf
    std::vector<Segment> held;
    size_t held_bytes = 0;
  };

  bool is_dns_port(uint16_t p) const;
  void message(const uint8_t* m, size_t n, const IpAddr& src, const IpAddr& dst, uint16_t sport, uint16_t dport,
               TimeMs ts, DnsTransport tr, DnsSink& sink);
  void udp(const uint8_t* l4, size_t caplen, size_t len, const IpAddr& src, const IpAddr& dst, TimeMs ts,
           DnsSink& sink);
  void tcp(const uint8_t* l4, size_t caplen, size_t len, const IpAddr& src, const IpAddr& dst, TimeMs ts,
           DnsSink& sink);
  void tcp_data(TcpDir& d, const TcpKey& k, uint32_t seq, const uint8_t* p, size_t n, TimeMs ts, DnsSink& sink);
  void tcp_append(TcpDir& d, const TcpKey& k, const uint8_t* p, size_t n, TimeMs ts, DnsSink& sink);
  void tcp_close(const TcpKey& k);
  void expire(TimeMs now);
  void sweep(TimeMs now);

  DnsPcapOptions opt_;
  bool port_map_[65536] = {};
  Defragmenter defrag_;
  absl::flat_hash_map<TcpKey, TcpDir> tcp_;
  TimeMs last_expire_ = 0;
  DnsEvent ev_;
  ReasonCounters errors_;
  ReasonCounters packet_errors_;
  DnsPcapStats stats_;
  DnsWireStats wire_;
};

}  // namespace omamori
