// Scanning detection: how Mirai-style bots spread.
//
// Per source host: the distinct destinations it contacts on IoT ports (telnet
// 23/2323, ssh 22, TR-069 7547, adb 5555, Huawei 37215, Realtek 52869, web
// 80/8080/81, MikroTik 8291, ...) within a window, and how many of those
// attempts were never answered (SYN without ACK); and any traffic to
// configured darknet (unused) prefixes. State per host is a fixed ~128-byte
// record (distinct counts by linear-counting bitmaps), kept only for hosts
// that made an unanswered IoT-port attempt or sent to the darknet in the
// window; the host table is bounded and evictions are counted.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <array>
#include <cstdint>
#include <vector>

#include "core/counters.hpp"
#include "core/lpm.hpp"
#include "detect/finding.hpp"
#include "flow/record.hpp"

namespace omamori::scan {

struct Config {
  std::vector<uint16_t> iot_ports{23, 2323, 22, 7547, 5555, 37215, 52869, 80, 8080, 81, 8291, 8443, 2222, 60001, 5358,
                                  9000, 49152, 8000, 8081, 8888};
  std::vector<Prefix> subscribers;  // only sources inside these are judged; empty = every source
  std::vector<Prefix> darknet;      // unused address space
  TimeMs window_ms = 300000;
  uint32_t min_destinations = 64;   // distinct IoT-port destinations in one window
  double min_unanswered = 0.5;      // fraction of IoT-port flows that were SYN without ACK
  uint32_t min_darknet_destinations = 4;
  size_t max_hosts = 1 << 22;       // bounded state; beyond, oldest idle hosts are evicted (counted)
};

class Detector final : public FlowSink {
 public:
  explicit Detector(Config cfg);
  void on_flow(const FlowRecord& r) override;
  void finish();
  void findings(FindingSink& sink) const;
  const ReasonCounters& errors() const { return errors_; }
  size_t hosts() const { return hosts_.size(); }
  // Heap bytes of the detector's state (host table, scanners and darknet hits found).
  size_t memory_bytes() const;

  struct HostState {
    TimeMs first = 0;       // first IoT-port or darknet flow in this window
    TimeMs last = 0;
    int32_t window = 0;     // window index
    uint32_t iot_flows = 0;
    uint32_t unanswered = 0;
    uint32_t darknet_flows = 0;
    uint16_t ports[4] = {};       // most frequent IoT ports (approximate)
    uint16_t port_hits[4] = {};
    std::array<uint64_t, 8> dst_bits{};  // 512-bit linear counter of IoT destinations
    std::array<uint64_t, 2> dark_bits{}; // 128-bit linear counter of darknet destinations
  };

 private:
  struct Hit {
    TimeMs first = 0, last = 0;
    uint64_t flows = 0;
    uint32_t max_destinations = 0;
    uint32_t unanswered = 0;
    uint32_t windows = 0;
    uint16_t ports[4] = {};
    uint16_t port_hits[4] = {};
  };
  void close_window(const IpAddr& host, HostState& s);
  void evict(TimeMs now);

  Config cfg_;
  std::array<uint64_t, 1024> iot_port_bits_{};  // bitset over 65536 ports
  LpmTable<uint8_t> subscribers_;
  LpmTable<uint8_t> darknet_;
  absl::flat_hash_map<IpAddr, HostState> hosts_;
  absl::flat_hash_map<IpAddr, Hit> scanners_;
  absl::flat_hash_map<IpAddr, Hit> darknet_hits_;
  ReasonCounters errors_;
};

// Distinct-count estimate from a linear-counting bitmap of `bits` bits.
uint32_t linear_count(const uint64_t* words, size_t nwords);

}  // namespace omamori::scan
