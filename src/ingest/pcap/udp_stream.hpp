// UDP datagrams out of a packet capture, with IPv4/IPv6 fragments reassembled.
//
// Exporters often send datagrams larger than the path MTU (IPFIX templates,
// sFlow with many samples), so a capture of exporter traffic holds fragments;
// this turns any pcap into the sequence of UDP payloads a collector socket
// would have received.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <span>
#include <vector>

#include "core/counters.hpp"
#include "core/ip.hpp"
#include "core/time.hpp"
#include "packet/decode.hpp"

namespace omamori {

struct UdpDatagram {
  TimeMs ts = 0;
  IpAddr src;
  IpAddr dst;
  uint16_t sport = 0;
  uint16_t dport = 0;
  std::span<const uint8_t> payload;
};

class Defragmenter {
 public:
  struct Limits {
    size_t max_pending = 4096;   // datagrams being reassembled
    TimeMs timeout_ms = 30000;  // of capture time
  };
  Defragmenter() = default;
  explicit Defragmenter(Limits l) : limits_(l) {}

  // Feed a fragment (info.fragment set). When it completes a datagram, returns
  // the reassembled IP payload (valid until the next call), else empty.
  std::span<const uint8_t> add(const PacketInfo& info, TimeMs ts, ReasonCounters& errors);
  size_t pending() const { return pending_.size(); }

 private:
  struct Key {
    IpAddr src, dst;
    uint32_t id;
    uint8_t proto;
    bool operator==(const Key&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.src, k.dst, k.id, k.proto);
    }
  };
  struct Pending {
    std::vector<uint8_t> data;
    std::vector<std::pair<uint32_t, uint32_t>> ranges;  // [begin, end)
    uint32_t total = 0;                                  // known once the last fragment arrived
    TimeMs first_seen = 0;
  };
  void expire(TimeMs now, ReasonCounters& errors);

  Limits limits_;
  absl::flat_hash_map<Key, Pending> pending_;
  std::vector<uint8_t> done_;
  TimeMs last_expire_ = 0;
};

// Pulls UDP datagrams out of captured packets.
class UdpExtractor {
 public:
  // Returns true and fills d when the packet is (or completes) a UDP datagram.
  // Non-UDP packets return false without counting; undecodable ones count a reason.
  bool extract(int link, const uint8_t* p, size_t caplen, TimeMs ts, UdpDatagram& d);
  ReasonCounters& errors() { return errors_; }
  const ReasonCounters& errors() const { return errors_; }
  uint64_t fragments() const { return fragments_; }

 private:
  Defragmenter defrag_;
  ReasonCounters errors_;
  uint64_t fragments_ = 0;
};

}  // namespace omamori
