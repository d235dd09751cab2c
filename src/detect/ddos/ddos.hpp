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
//
// State, in two tiers, so that memory follows the hosts that come near a
// threshold, not all hosts:
//  1. Every (address, direction) without an entity is counted in a
//     count-min sketch of this second's packets, bytes and flows
//     (`sketch_rows` x `sketch_width` cells of 32 bytes, each stamped with
//     its second, so nothing is cleared in bulk): fixed memory.
//  2. An address whose estimate in the current second exceeds its promotion
//     level P (`promote_fraction` x the lowest applicable threshold, rate by
//     rate; the baseline floor counts for packets when baseline detection is
//     on) gets an entity: a 72-byte record of this second's counters and the
//     baseline, in a slab indexed by a linear-probing table of 28-byte slots
//     (a subscriber tracked inbound and outbound shares one). The sketch only
//     overestimates, so P is reached no later than with exact counting, and
//     the entity's counters for the current second are rebuilt exactly from
//     the onset ring (never taken from the sketch): detection is the same
//     record, with the same counts, as if every host had an entity (unless
//     an address's records are two or more seconds behind those of another
//     in all its cells, where the sketch could undercount). A
//     promoted host was below P while untracked, so its true baseline is at
//     most P: its baseline starts at P, warmed up if the detector has run
//     longer than the warm-up (baseline alarms can only be rarer than with
//     a learned value, never added). Once more than 1,024 entities exist,
//     entities below P for `idle_ms` (and not under attack) are evicted
//     (counted) and go back to the sketch.
//     Protected-prefix entities (carpet bombing) are always tracked.
// The last `onset_records` records that concern a protected host, prefix or
// subscriber (tracked or not) are kept in one ring shared by all, chained
// per row-0 sketch cell: a promotion rebuilds the current second from it,
// and when an attack starts, the sources and vector of the second it started
// in are rebuilt from it (exactly, unless the ring was overwritten within
// that second: then counted). The entity table is bounded (max_entities;
// refusals counted).
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/counters.hpp"
#include "core/lpm.hpp"
#include "detect/ddos/vector.hpp"
#include "detect/finding.hpp"
#include "detect/linear_table.hpp"
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
  size_t onset_records = 1 << 19;  // ring of recent records (80 bytes each; up to 2^28, rounded up to 4096)
  TimeMs idle_ms = 300000;  // entities below their promotion level this long (and not under attack) are evicted
  // Tier 1: rows and cells per row (rounded up to a power of two) of the
  // count-min sketch for addresses without an entity; 32 bytes a cell.
  size_t sketch_rows = 2;
  size_t sketch_width = 1 << 16;
  // An address gets an entity when its estimate in the current second
  // exceeds this fraction of the lowest applicable threshold (0, 1]; 0 =
  // every address gets an entity at its first record (no sketch).
  double promote_fraction = 0.25;
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
  // The target as shown: the address of a host, ADDRESS/LEN of a prefix.
  std::string target_str() const;
  // Sources (outbound: destinations) seen, including those beyond max_sources_per_attack.
  uint64_t distinct_sources() const { return sources.size() + sources_dropped; }
  // The sources sorted by bytes, at most n.
  std::vector<std::pair<IpAddr, SourceStat>> top_sources(size_t n) const;
};

class Detector final : public FlowSink {
 public:
  explicit Detector(Config cfg);
  void on_flow(const FlowRecord& r) override;
  // Starts loading the index slots on_flow(r) will look up (call a few records ahead).
  void prefetch(const FlowRecord& r) const {
    entities_.prefetch(slot_of(host_key(r.dst, false)).pos_hash());
    if (!cfg_.subscribers.empty()) entities_.prefetch(slot_of(host_key(r.src, true)).pos_hash());
  }
  // Starts loading the entity records, or for untracked addresses the sketch
  // cells, on_flow(r) will update (call after prefetch(r), when its index
  // slots have arrived).
  void prefetch_entities(const FlowRecord& r) const {
    prefetch_side(r.dst, false);
    if (!cfg_.subscribers.empty()) prefetch_side(r.src, true);
  }
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
  // The finding of one attack (what findings() emits for it).
  Finding finding(const Attack& a) const;
  // The attack report for sharing (JSON): sources with ports and timestamps,
  // target, vector, rates. `max_sources` 0 = all.
  std::string report_json(const Attack& a, size_t max_sources) const;
  const ReasonCounters& errors() const { return errors_; }
  size_t entities() const { return n_entities_; }
  uint64_t promotions() const { return promotions_; }  // entities created from the sketch
  // Heap bytes of the detector's state (sketch, entity table, onset ring, attacks).
  size_t memory_bytes() const;

 private:
  // 72 bytes per tracked host/prefix/outbound subscriber.
  struct Entity {
    int64_t sec = INT64_MIN;  // current second (traffic time / 1000)
    uint64_t pkts = 0, bytes = 0;
    uint64_t seq0 = 0;        // ring position where this second's records begin
    int32_t sec_first = 0;    // first packet of this second, ms from sec * 1000 (earlier records count too)
    TimeMs last_above = 0;
    float base_pps = 0, base_bps = 0;
    int32_t first_seen_s = 0;  // traffic second since the detector's epoch (warm-up)
    int32_t last_hot_s = 0;    // last second at or over the promotion level (prefixes: with traffic)
    uint32_t flows = 0;
    int32_t attack = -1;
    uint16_t group = 0;  // index + 1 into cfg_.groups; 0 = default_host / outbound
    uint8_t kind = 0;    // kHost, kPrefix, kOutbound
  };
  static constexpr uint8_t kHost = 0, kPrefix = 1, kOutbound = 2;
  // What a ring record counts for (roles whose entity is under attack are left out).
  static constexpr uint8_t kRoleIn = 1, kRoleOut = 2, kRolePrefix = 4;
  // One record in the onset ring (80 bytes).
  struct Rec {
    IpAddr src, dst;
    TimeMs start;
    uint64_t packets, bytes;  // renormalised
    uint32_t link[2];         // previous record in the same row-0 sketch cell, by direction (in, out)
    int32_t end_off;          // end - start, ms
    uint16_t sport, dport;
    uint8_t proto, tcp_flags, roles;
  };
  // A sketch cell: this second's and the previous second's counts
  // (saturating), stamped with the second; in row 0 also the head of the
  // chain of ring records hashed to it.
  struct Cell {
    int32_t sec = INT32_MIN;  // traffic second since the epoch
    uint32_t link = 0;        // row 0: newest ring record here (see link_seq)
    uint32_t pkts = 0, bytes = 0, flows = 0;
    uint32_t prev_pkts = 0, prev_bytes = 0, prev_flows = 0;  // second sec - 1
  };
  static_assert(sizeof(Cell) == 32);
  // Promotion level: an address gets an entity when a rate exceeds it (UINT64_MAX = rate not used).
  struct Level {
    uint64_t pkts = UINT64_MAX, bits = UINT64_MAX, flows = UINT64_MAX;
  };
  struct Key {
    IpAddr addr;
    uint8_t len;
    bool outbound;
  };
  static Key host_key(const IpAddr& a, bool outbound) {
    return Key{a, static_cast<uint8_t>(a.is_v4() ? 32 : 128), outbound};
  }
  // The entity index: one 28-byte slot per (address, length) holding the
  // slab ids of its inbound (host or prefix) and outbound entities, so a
  // subscriber tracked both ways takes one slot (one cache miss a lookup).
  struct Slot {
    uint32_t w[4] = {};  // the address's 16 bytes
    uint32_t in = UINT32_MAX, out = UINT32_MAX;
    uint8_t len = 0;
    bool used = false;
    bool is_empty() const { return !used; }
    uint64_t lo() const { return uint64_t{w[1]} << 32 | w[0]; }
    uint64_t hi() const { return uint64_t{w[3]} << 32 | w[2]; }
    uint64_t pos_hash() const { return mix64(lo() ^ len, hi()); }
    bool same(const Slot& o) const { return ((lo() ^ o.lo()) | (hi() ^ o.hi())) == 0 && len == o.len; }
    uint32_t& id(bool outbound) { return outbound ? out : in; }
  };
  static_assert(sizeof(Slot) == 28);
  static_assert(sizeof(Rec) == 80);
  static Slot slot_of(const Key& k) {
    Slot s;
    std::memcpy(s.w, k.addr.bytes(), 16);
    s.len = k.len;
    s.used = true;
    return s;
  }
  uint32_t find_id(const Key& k) const;  // UINT32_MAX when not tracked
  // Sketch hash of (address, direction) and its cell in a row.
  static uint64_t sketch_hash(const IpAddr& a, bool outbound) {
    uint64_t lo, hi;
    std::memcpy(&lo, a.bytes(), 8);
    std::memcpy(&hi, a.bytes() + 8, 8);
    return mix64(lo ^ (outbound ? 0x6a09e667f3bcc909ull : 0), hi);
  }
  size_t cell_index(uint64_t h, size_t row) const {
    uint64_t x = h + row * ((h << 32 | h >> 32) * kGoldenMul | 1);
    return row * sketch_w_ + (sketch_bits_ ? static_cast<size_t>(x >> (64 - sketch_bits_)) : 0);
  }
  void prefetch_side(const IpAddr& a, bool outbound) const {
    uint32_t id = find_id(host_key(a, outbound));
    if (cells_.empty()) return;
    uint64_t h = sketch_hash(a, outbound);
    prefetch_line(&cells_[cell_index(h, 0)]);  // the ring chain's head, tracked or not
    if (id != UINT32_MAX) {
      prefetch_line(&at(id));
      return;
    }
    for (size_t i = 1; i < sketch_rows_; ++i) prefetch_line(&cells_[cell_index(h, i)]);
  }
  static constexpr uint32_t kChunk = 4096;  // entities per slab chunk

  Entity& at(uint32_t id) { return chunks_[id / kChunk][id % kChunk]; }
  const Entity& at(uint32_t id) const { return chunks_[id / kChunk][id % kChunk]; }
  const Thresholds& thresholds(const Entity& e) const;
  const HostGroup* group_of(const Entity& e) const { return e.group ? &cfg_.groups[e.group - 1u] : nullptr; }
  int32_t rel_sec(TimeMs t) const;
  uint32_t entity(const Key& k, uint8_t kind, uint16_t group);
  const Level& level(uint8_t kind, uint16_t group) const {
    return levels_[kind == kOutbound ? levels_.size() - 1 : group];
  }
  void allocate();
  uint64_t write_rec(const FlowRecord& r, uint8_t roles, uint64_t h_in, uint64_t h_out, uint64_t pk, uint64_t by);
  bool link_seq(uint32_t link, uint64_t& seq) const;
  bool sketch_add(uint64_t h, int32_t sec, uint64_t pk, uint64_t by, uint32_t flows, const Level& lv);
  static void cell_to(Cell& c, int32_t sec);
  bool hot(const Entity& e) const;
  uint32_t promote(const Key& k, uint8_t kind, uint16_t group, uint64_t h, const FlowRecord& r, const IpAddr& peer,
                   uint64_t pk, uint64_t by, uint64_t seq);
  void fold(const IpAddr& a, bool outbound, const Entity& e);
  bool collect(const Key& k, uint64_t h, uint64_t from, std::vector<uint64_t>& seqs) const;
  bool ring_reaches(TimeMs t) const;
  void account(uint32_t id, const Key& k, const FlowRecord& r, const IpAddr& peer, uint64_t pk, uint64_t by,
               uint64_t seq);
  void roll(Entity& e, int64_t sec);
  void start_attack(uint32_t id, const Key& k, const std::string& why);
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
  LinearTable<Slot> entities_;  // -> entity ids (slab indices)
  size_t n_entities_ = 0;
  std::vector<std::unique_ptr<Entity[]>> chunks_;
  std::vector<uint32_t> free_;
  uint32_t next_id_ = 0;
  std::vector<Level> levels_;  // default_host, then one per group (host), then outbound
  std::vector<Cell> cells_;    // the sketch, sketch_rows_ x sketch_w_, allocated on first use
  size_t sketch_rows_ = 0, sketch_w_ = 1;
  int sketch_bits_ = 0;
  std::vector<Rec> ring_;          // allocated on first use, onset_records long (a multiple of kBlock)
  std::vector<TimeMs> ring_clock_;  // the clock when each kBlock of the ring was begun
  static constexpr uint64_t kBlock = 4096;
  uint64_t head_ = 0;  // records ever written to the ring
  std::vector<uint64_t> scratch_;  // ring positions of one address (promotion, attack start)
  uint64_t promotions_ = 0;
  bool have_epoch_ = false;
  int64_t epoch_s_ = 0;
  std::vector<Attack> attacks_;
  std::vector<Key> active_;  // entities with an attack in progress
  ReasonCounters errors_;
  TimeMs now_ = 0;
  TimeMs last_sweep_ = 0;
  TimeMs last_evict_ = 0;
};

}  // namespace omamori::ddos
