// The built-in flow meter: raw packets (pcap files, live interfaces) in,
// unsampled omamori::FlowRecord out, so that attack captures can be analysed
// with the same detectors as router exports.
//
// A flow is keyed by (IP version, src, dst, sport, dport, proto); ICMP puts
// type << 8 | code in dport as NetFlow does. Bytes are the IP total length of
// each packet (IPv6: 40 + payload length), without link-layer headers, as
// NetFlow/IPFIX count octetDeltaCount. TCP flags are ORed over the flow.
//
// A flow ends when
//   - no packet was seen for `inactive_timeout_ms` (inactive timeout),
//   - it started more than `active_timeout_ms` ago (active timeout; a long
//     flow is reported in pieces),
//   - a TCP packet carries FIN or RST (exported right after that packet),
//   - the table is full and it is the least recently seen flow (eviction,
//     counted), or
//   - flush() is called at the end of the input.
// Time is whatever the caller says: packet time for files (the meter reads as
// fast as it can and a 30-minute capture expires flows as it would have live),
// the wall clock for live capture.
//
// IP fragments: every fragment is one packet and adds its own IP total length.
// Fragments after the first carry no ports, so a bounded fragment table maps
// (version, src, dst, proto, fragment id) to the ports of the first fragment;
// later fragments are counted in the first fragment's flow. A later fragment
// that arrives before its first fragment is held (as counts, not bytes of
// payload) in the same table and added to the flow when the first fragment
// comes; if it never comes within `fragment_timeout_ms`, or the entry is
// evicted from a full table, the held fragments are counted in a flow with
// ports 0, the way routers report non-first fragments. Nothing is dropped.
//
// Hot path: add_packet() does not allocate once the tables have grown to
// their working size: flows live in one slab indexed by an open-addressing
// hash table (linear probing, backward-shift deletion), linked into two
// intrusive lists, one by last-seen time (inactive expiry, LRU eviction) and
// one by creation time (active expiry), so expiry costs O(1) per flow.
#pragma once

#include <cstdint>
#include <vector>

#include "core/counters.hpp"
#include "core/ip.hpp"
#include "core/time.hpp"
#include "flow/record.hpp"
#include "ingest/pcap/pcap_file.hpp"
#include "packet/decode.hpp"

namespace omamori {

struct MeterConfig {
  // nfpcapd's defaults (-e 300,60), so that the two can be compared as they come.
  TimeMs active_timeout_ms = 300'000;
  TimeMs inactive_timeout_ms = 60'000;
  uint32_t max_flows = 1u << 20;        // flows held at once; the least recently seen is exported when full
  bool decapsulate = true;              // GRE, IP-in-IP, VXLAN: meter the inner packet
  bool tcp_end_on_fin_rst = true;       // export a TCP flow right after a packet with FIN or RST
  TimeMs fragment_timeout_ms = 30'000;  // how long a fragment id is remembered (Linux ipfrag_time)
  uint32_t max_fragments = 65'536;      // fragment table entries; the oldest is dropped when full
};

struct MeterStats {
  uint64_t packets = 0;        // handed to add_packet()
  uint64_t ip_packets = 0;     // IPv4/IPv6 packets metered (counted in a flow, or held as a fragment)
  uint64_t ip_bytes = 0;       // their IP total lengths
  uint64_t non_ip = 0;         // ARP, LLDP, ...: not IP, skipped (not an error)
  uint64_t decode_errors = 0;  // not metered: truncated or malformed below L4; by reason in errors()
  uint64_t truncated_l4 = 0;   // metered with ports 0: TCP/UDP/SCTP/ICMP header cut short (also in errors())
  uint64_t flows_created = 0;
  uint64_t flows_exported = 0;
  uint64_t exported_packets = 0;
  uint64_t exported_bytes = 0;
  uint64_t ended_inactive = 0;  // exports by cause
  uint64_t ended_active = 0;
  uint64_t ended_tcp = 0;  // FIN or RST
  uint64_t evicted = 0;    // table full
  uint64_t flushed = 0;    // flush() at the end
  uint64_t active_flows = 0;
  uint64_t peak_flows = 0;
  uint64_t fragments = 0;  // IP fragments seen (first and later)
  uint64_t first_fragments = 0;
  uint64_t later_fragments = 0;
  uint64_t later_matched = 0;           // counted in the first fragment's flow at once
  uint64_t later_held = 0;              // arrived before their first fragment and were held
  uint64_t held_matched = 0;            // held, then counted in the first fragment's flow
  uint64_t orphan_fragments = 0;        // held, first fragment never seen: counted with ports 0
  uint64_t fragment_table_evicted = 0;  // entries dropped from a full fragment table
  uint64_t fragment_ids_reused = 0;     // a first fragment for an id already in the table
  uint64_t active_fragment_entries = 0;
};

class FlowMeter {
 public:
  FlowMeter(MeterConfig cfg, FlowSink& sink);
  FlowMeter(const FlowMeter&) = delete;
  FlowMeter& operator=(const FlowMeter&) = delete;

  // Meters one captured packet of the given link type (pcap LINKTYPE_ value).
  // Flows of the packet's key that have timed out by the packet's time are
  // exported first. Does not run the expiry of other flows: call advance().
  void add_packet(int linktype, const CapturedPacket& pkt);
  // Meters an already-decoded packet (sFlow raw headers, tests).
  void add_decoded(const PacketInfo& pi, TimeMs ts);
  // Exports every flow that has timed out at `now` and forgets stale fragment ids.
  void advance(TimeMs now);
  // Exports everything still held (end of input).
  void flush();

  const MeterStats& stats() const { return stats_; }
  const ReasonCounters& errors() const { return errors_; }
  const MeterConfig& config() const { return cfg_; }

  // Approximate bytes held by the tables (grows with the working set, bounded by the config).
  size_t memory_bytes() const;

 private:
  static constexpr uint32_t kNone = 0xffffffffu;

  struct Key {
    IpAddr src;
    IpAddr dst;
    uint16_t sport = 0;
    uint16_t dport = 0;
    uint8_t proto = 0;
    uint8_t ip_version = 0;
    uint16_t zero = 0;  // padding, kept zero so the key can be hashed and compared as bytes
    bool operator==(const Key& o) const;
  };
  static_assert(sizeof(Key) == 40);

  struct Flow {
    Key key;
    uint64_t hash = 0;
    TimeMs start = 0;
    TimeMs last = 0;
    uint64_t packets = 0;
    uint64_t bytes = 0;
    uint32_t lru_prev = kNone, lru_next = kNone;  // by last-seen time; also the free list (lru_next)
    uint32_t age_prev = kNone, age_next = kNone;  // by creation time
    uint8_t tcp_flags = 0;
    bool used = false;
  };

  struct FragKey {
    IpAddr src;
    IpAddr dst;
    uint32_t id = 0;
    uint8_t proto = 0;
    uint8_t ip_version = 0;
    uint16_t zero = 0;
    bool operator==(const FragKey& o) const;
  };
  static_assert(sizeof(FragKey) == 40);

  struct Frag {
    FragKey key;
    uint64_t hash = 0;
    TimeMs created = 0;
    // Ports of the first fragment, once seen.
    uint16_t sport = 0, dport = 0;
    uint8_t tcp_flags = 0;
    bool has_first = false;
    bool live = false;
    // Later fragments held until the first fragment comes.
    uint64_t held_packets = 0;
    uint64_t held_bytes = 0;
    TimeMs held_first = 0, held_last = 0;
  };

  enum class End { Inactive, Active, Tcp, Evicted, Flushed };

  // Adds packets to the flow of `key`, creating it (and evicting) as needed; returns its index.
  uint32_t account(const Key& key, TimeMs first, TimeMs last, uint64_t packets, uint64_t bytes, uint8_t flags);
  uint32_t find(const Key& key, uint64_t h) const;
  uint32_t create(const Key& key, uint64_t h);
  void export_flow(uint32_t idx, End why);
  void bucket_insert(uint32_t idx);
  void bucket_erase(uint32_t idx);
  void grow();
  void lru_unlink(uint32_t i);
  void lru_push_back(uint32_t i);
  void age_unlink(uint32_t i);
  void age_push_back(uint32_t i);

  // Fragment table.
  uint32_t frag_find(const FragKey& k, uint64_t h) const;
  uint32_t frag_create(const FragKey& k, uint64_t h, TimeMs now);
  void frag_release(uint32_t slot);  // settles held fragments and frees the entry
  void frag_erase_bucket(uint32_t slot);
  void handle_fragment(const PacketInfo& pi, TimeMs ts, Key& key, bool& hold);

  MeterConfig cfg_;
  FlowSink& sink_;
  MeterStats stats_;
  ReasonCounters errors_;

  // A bucket holds the low 32 bits of the flow's hash next to its index, so
  // that probing and deletion read only the bucket array, not the flows.
  struct Bucket {
    uint32_t hash32 = 0;
    uint32_t idx = kNone;  // kNone = empty
  };

  std::vector<Flow> flows_;
  std::vector<Bucket> buckets_;
  uint64_t mask_ = 0;
  uint32_t free_head_ = kNone;
  uint32_t lru_head_ = kNone, lru_tail_ = kNone;
  uint32_t age_head_ = kNone, age_tail_ = kNone;

  // Fragment entries form a ring in creation order; the index maps keys to slots.
  std::vector<Frag> frags_;
  std::vector<uint32_t> frag_buckets_;
  uint64_t frag_mask_ = 0;
  uint32_t frag_head_ = 0;   // oldest slot
  uint32_t frag_count_ = 0;  // slots between head and tail, live or released

  TimeMs now_ = 0;
  FlowRecord rec_;  // reused for every export
};

}  // namespace omamori
