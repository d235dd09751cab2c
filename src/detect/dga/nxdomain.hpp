// Per-host NXDOMAIN and DGA detection over DNS responses.
//
// For every client that receives NXDOMAIN answers, per time window (default
// 5 minutes): the number of distinct non-existent names (a 64-bit linear-
// counting bitmap), and how many of them the DGA scorer calls machine-
// generated. A host is flagged
//  - "nxdomain" when its distinct NX names in a window reach
//    max(min_distinct, factor x its own learned baseline, factor x the
//    population's mean + 3 standard deviations): an abnormal NXDOMAIN rate;
//  - "dga" when a window holds at least dga_min_distinct distinct NX names
//    that score as DGA, making up at least dga_min_fraction of its NX names.
// Each host keeps a bottom-k sketch (MinHash) of the registered domains of
// its DGA-scored NX names; flagged hosts whose sketches share at least
// group_min_shared names are grouped (union-find) into one family,
// "dga-group-N", reported with example names.
//
// State: a fixed-size record per host with NX answers (static_assert'ed to
// 96 bytes) in a chunked slab, indexed by a linear-probing table of 24-byte
// slots (address, record id), at most max_hosts of them (derived
// from memory_limit); when full, hosts idle longer than idle_ms are evicted
// (counted; flagged hosts are kept until their findings are out), and a
// host that cannot be tracked is counted.
// Reverse-lookup names (in-addr.arpa, ip6.arpa) and names without a public
// suffix (single labels, e.g. Chrome's random NXDOMAIN-hijack probes) are
// not DGA-scored; reverse names are not counted at all.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/counters.hpp"
#include "core/ip.hpp"
#include "core/time.hpp"
#include "detect/dga/model.hpp"
#include "detect/finding.hpp"
#include "detect/linear_table.hpp"

namespace omamori::dga {

// The detector's input: one DNS query or response as seen by the resolver or
// a sensor. The lead adapts the DNS event type to this.
struct DnsObservation {
  TimeMs time = 0;
  IpAddr client;
  std::string_view qname;
  uint8_t rcode = 0;  // 3 = NXDOMAIN
  bool is_response = false;
};

struct NxConfig {
  TimeMs window_ms = 300000;  // at least 1000
  // nxdomain
  uint32_t min_distinct = 20;   // distinct NX names in a window, at least
  double factor = 4.0;          // x the host's baseline and x the population's
  double baseline_alpha = 0.1;  // EWMA weight of a new window
  uint32_t warmup_windows = 3;  // host windows before its own baseline counts
  // dga
  uint32_t dga_min_distinct = 5;
  double dga_min_fraction = 0.25;
  bool require_public_suffix = true;  // single-label names are not DGA-scored
  // grouping
  uint32_t group_min_shared = 2;
  // memory
  size_t memory_limit = 64u << 20;  // bytes for host state; max_hosts = memory_limit / bytes_per_host()
  TimeMs idle_ms = 3600000;
  size_t max_example_names = 1 << 16;  // names kept for explanations
  size_t examples_per_finding = 5;
};

class NxDetector {
 public:
  NxDetector(const Model& model, NxConfig cfg = {});
  void on_dns(const DnsObservation& o);
  // Emits one "nxdomain" and/or one "dga" finding per flagged host (hosts
  // sorted by address), with the DGA families grouped.
  void findings(FindingSink& sink);

  static constexpr size_t bytes_per_host();
  size_t hosts() const { return index_.size(); }
  size_t max_hosts() const { return max_hosts_; }
  // Heap bytes of the detector's state (host table, example names).
  size_t memory_bytes() const;
  const ReasonCounters& counters() const { return counters_; }  // evictions, untracked hosts, ...
  uint64_t nx_responses() const { return nx_responses_; }
  uint64_t dga_scored() const { return dga_scored_; }
  double population_mean() const { return pop_mean_; }
  double population_sd() const;

  static constexpr int kSketch = 6;
  struct Host {
    TimeMs alert_first = 0;  // first and last NX answer of the flagged windows
    TimeMs alert_last = 0;
    TimeMs win_first = 0;        // first NX answer of the current window
    uint64_t win_bits = 0;       // distinct NX names in the current window (linear counting)
    uint64_t dga_bits = 0;       // distinct DGA-scored NX registered domains in the current window
    uint32_t win_index = 0;      // current window number = last activity
    float baseline = 0;          // EWMA of distinct NX names per (unflagged) window
    uint32_t nx_total = 0;       // NX answers
    uint32_t alert_nx = 0;       // NX answers in nxdomain-flagged windows
    uint32_t alert_dga = 0;      // DGA-scored NX answers in dga-flagged windows
    uint16_t win_nx = 0;         // NX answers in the current window
    uint16_t win_dga = 0;        // DGA-scored NX answers in the current window
    uint16_t windows = 0;        // windows with NX answers seen
    uint16_t peak_distinct = 0;  // most distinct NX names in a flagged window
    uint8_t flags = 0;
    uint8_t sketch_n = 0;
    uint32_t sketch[kSketch] = {};  // bottom-k hashes of DGA-scored NX registered domains, ascending
  };

 private:
  // flags: the host was flagged; the current window is flagged.
  static constexpr uint8_t kFlagNx = 1, kFlagDga = 2, kWinNx = 4, kWinDga = 8;
  void close_window(Host& h);
  void check(Host& h, TimeMs t);
  Host* host(const IpAddr& a, uint32_t window);
  // The host index: address and slab id, 24 bytes.
  struct Slot {
    uint64_t a = 0, b = 0;
    uint32_t id = UINT32_MAX;
    bool is_empty() const { return id == UINT32_MAX; }
    uint64_t pos_hash() const { return mix64(a, b); }
    IpAddr addr() const {
      uint8_t bytes[16];
      std::memcpy(bytes, &a, 8);
      std::memcpy(bytes + 8, &b, 8);
      return IpAddr::v6_bytes(bytes);
    }
  };
  static constexpr uint32_t kChunk = 4096;  // host records per slab chunk
  Host& at(uint32_t id) { return chunks_[id / kChunk][id % kChunk]; }
  const Host& at(uint32_t id) const { return chunks_[id / kChunk][id % kChunk]; }
  void evict_idle(uint32_t window);
  double threshold(const Host& h) const;

  const Model& model_;
  NxConfig cfg_;
  NameSplitter splitter_;
  size_t max_hosts_;
  LinearTable<Slot> index_;
  std::vector<std::unique_ptr<Host[]>> chunks_;
  std::vector<uint32_t> free_;
  uint32_t next_id_ = 0;
  absl::flat_hash_map<uint32_t, std::string> names_;  // sketch hash -> registered domain
  ReasonCounters counters_;
  double pop_mean_ = 0, pop_sq_ = 0;
  uint64_t pop_windows_ = 0;
  uint64_t nx_responses_ = 0, dga_scored_ = 0;
  uint32_t last_sweep_window_ = 0;

  void host_findings(const IpAddr& a, const Host& h, const std::string& family, size_t group_size,
                     std::vector<Finding>& out) const;
};

// A slab record plus its index slot at the index's maximum load of 3/4.
constexpr size_t NxDetector::bytes_per_host() {
  return sizeof(Host) + sizeof(Slot) * 4 / 3;
}
static_assert(sizeof(NxDetector::Host) <= 96, "keep the per-host NXDOMAIN state small");

}  // namespace omamori::dga
