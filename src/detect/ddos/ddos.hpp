// DDoS detection over flow records.
//
// Inbound: per protected host (and, optionally, per protected prefix as a
// whole) packet, byte and flow rates per second against static thresholds
// and a learned baseline. Outbound: per subscriber host, the same against
// outbound thresholds (subscriber devices taking part in attacks).
//
// An attack starts the moment a threshold is crossed within a second of
// traffic time, ends when the rate has stayed below half the threshold for
// `end_after_ms`, and carries its start, detection time, peak, end, vector,
// exact distinct-source count and top sources. Time is the traffic's own
// time (record timestamps), so a replayed capture gives the same result.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/counters.hpp"
#include "core/lpm.hpp"
#include "detect/ddos/vector.hpp"
#include "detect/finding.hpp"
#include "flow/record.hpp"

namespace omamori::ddos {

struct Thresholds {
  uint64_t pps = 0;  // packets per second; 0 = not used
  uint64_t bps = 0;  // bits per second
  uint64_t fps = 0;  // flow records per second
  // Learned baseline: an attack also when a rate exceeds factor x the host's
  // own average (exponentially weighted, per second) and the floor below.
  double baseline_factor = 0;       // 0 = baseline detection off
  uint64_t baseline_min_pps = 1000; // never alarm on a baseline below this rate
  TimeMs baseline_warmup_ms = 300000;
};

struct HostGroup {
  std::string name;
  std::vector<Prefix> prefixes;
  Thresholds host;            // per address in the group
  Thresholds prefix;          // per listed prefix as a whole (carpet bombing); all zero = off
};

struct Config {
  std::vector<HostGroup> groups;  // protected networks; empty = every destination, with default_host
  Thresholds default_host{20000, 1000000000, 3500};
  std::vector<Prefix> subscribers;  // outbound detection for sources in these; empty = off
  Thresholds outbound{5000, 100000000, 0};
  TimeMs end_after_ms = 30000;            // quiet time before an attack is over
  size_t max_entities = 1 << 18;          // tracked hosts/prefixes; beyond, counted and skipped
  size_t max_sources_per_attack = 1 << 20;
  size_t top_sources = 20;
  bool renormalise = true;  // multiply sampled records by their sampling rate
};

struct SourceStat {
  TimeMs first = 0;
  TimeMs last = 0;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint16_t sport = 0;  // of the first record seen
  uint16_t dport = 0;
  uint8_t proto = 0;
};

struct Attack {
  IpAddr target;           // protected host, prefix base, or (outbound) the subscriber host
  uint8_t prefix_len = 0;  // family length: 32/128 for a host
  bool outbound = false;
  std::string group;
  std::string trigger;     // which threshold: "pps 23620 > 1000"
  TimeMs start = 0;        // first packet of the second the threshold was crossed in
  TimeMs detected = 0;     // traffic time when it was crossed
  TimeMs end = 0;          // last attack packet seen
  bool active = true;
  uint64_t packets = 0, bytes = 0, flows = 0;
  uint64_t peak_pps = 0, peak_bps = 0;
  TimeMs peak_at = 0;
  VectorCounts vectors;
  absl::flat_hash_map<IpAddr, SourceStat> sources;  // for outbound: the destinations
  uint64_t sources_dropped = 0;                     // beyond max_sources_per_attack

  std::string vector() const { return vector_name(vectors); }
  // The sources sorted by bytes, at most n.
  std::vector<std::pair<IpAddr, SourceStat>> top_sources(size_t n) const;
};

class Detector final : public FlowSink {
 public:
  explicit Detector(Config cfg);
  void on_flow(const FlowRecord& r) override;
  // Moves the clock (traffic time) forward: ends attacks that went quiet.
  void advance(TimeMs now);
  // End of input: closes every active attack at its last packet.
  void finish();

  // Called when an attack starts (live alerting) and when it ends.
  std::function<void(const Attack&)> on_start;
  std::function<void(const Attack&)> on_end;

  const std::vector<Attack>& attacks() const { return attacks_; }
  // One finding per attack: ddos-target (inbound) or ddos-source (outbound).
  void findings(FindingSink& sink) const;
  // The attack report for sharing (JSON): sources with ports and timestamps,
  // target, vector, rates. `max_sources` 0 = all.
  std::string report_json(const Attack& a, size_t max_sources) const;
  const ReasonCounters& errors() const { return errors_; }
  size_t entities() const { return entities_.size(); }

 private:
  struct PeerMap {
    absl::flat_hash_map<IpAddr, SourceStat> m;
  };
  struct Entity {
    const Thresholds* th = nullptr;
    const HostGroup* group = nullptr;
    bool outbound = false;
    bool track_peers = true;
    int64_t sec = INT64_MIN;  // current second (traffic time / 1000)
    uint64_t pkts = 0, bytes = 0, flows = 0;
    TimeMs sec_first = 0;
    double base_pps = 0, base_bps = 0;
    TimeMs first_seen = 0, last_seen = 0, last_above = 0;
    int attack = -1;
    PeerMap cur;  // peers of this second (seed the attack's sources at onset)
    VectorCounts vec;  // this second's traffic by class
  };
  struct Key {
    IpAddr addr;
    uint8_t len;
    bool outbound;
    bool operator==(const Key&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.addr, k.len, k.outbound);
    }
  };

  Entity* entity(const Key& k, const Thresholds* th, const HostGroup* g, bool track_peers, TimeMs now);
  void account(Entity& e, const Key& k, const FlowRecord& r, const IpAddr& peer, uint64_t pk, uint64_t by);
  void roll(Entity& e, int64_t sec);
  void start_attack(Entity& e, const Key& k, const std::string& why);
  void close_second(Entity& e);
  void end_attack(Entity& e);
  static void add_source(Attack& a, const IpAddr& peer, const SourceStat& s, size_t cap);
  void sweep(TimeMs now);
  bool above(const Entity& e, uint64_t div, std::string* why) const;

  Config cfg_;
  struct Protected {
    uint32_t group;
    Prefix prefix;
  };
  std::vector<Protected> protected_;
  LpmTable<uint32_t> groups_;      // protected prefix -> index into protected_
  LpmTable<uint8_t> subscribers_;  // subscriber space
  absl::flat_hash_map<Key, Entity> entities_;
  std::vector<Attack> attacks_;
  std::vector<Key> active_;  // entities with an attack in progress
  ReasonCounters errors_;
  TimeMs now_ = 0;
  TimeMs last_sweep_ = 0;
  TimeMs last_evict_ = 0;
};

}  // namespace omamori::ddos
