// Discovery of unknown C&C servers.
//
// From the destinations hosts contact (address:port, FQDN, NXDOMAIN name)
// and which hosts are suspected (have any finding), rank destinations by how
// much more often suspected hosts contact them than the population explains:
// for a destination contacted by n of N hosts, k of them among the K
// suspected, the p-value is the hypergeometric upper tail P(X >= k), and the
// Benjamini-Hochberg procedure controls the false discovery rate over all
// destinations tested. Popular destinations (contacted by more than a share
// of all hosts), allowlisted names/addresses and infrastructure (resolvers,
// NTP, CDN prefixes; DNS and NTP ports) are never candidates.
//
// State, compact and bounded (no allocation per event):
//  - destinations are interned to 32-bit ids: IPv4 address:port/proto as a
//    packed 64-bit key, names and IPv6 addresses as bytes in one arena, found
//    by string_view without building a string; per destination a 24-byte
//    record (first/last contact, distinct hosts n, last host);
//  - hosts are 32-bit keys: an IPv4 host is its own address, any other host
//    an interned id; a set of host keys gives N;
//  - the distinct (destination, host) contacts are 64-bit keys appended to a
//    buffer, which is sorted and merged now and then into a sorted,
//    de-duplicated, delta-varint-coded store (~3 bytes per contact); n is
//    counted at the merge, k (suspected hosts per destination) only when
//    candidates are ranked;
//  - max_destinations, max_contacts and max_hosts bound it (the contact
//    buffer adds at most max(16384, contacts / 8) pending keys). When a limit
//    is reached, an eighth of it is freed by evicting destinations, those
//    that can least become a candidate first: fewer hosts than min_suspected
//    and idle longer than idle_ms; then, for max_destinations, single-host
//    ones, oldest first, then the least recently contacted; for
//    max_contacts, the most hosts (nearest to popular, and frees the most). Evictions, dropped
//    contacts and untracked hosts are counted (counters()); evicted
//    destinations still count as tests in the Benjamini-Hochberg correction
//    (one seen again after its eviction counts twice: conservative).
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/counters.hpp"
#include "core/ip.hpp"
#include "core/lpm.hpp"
#include "core/time.hpp"
#include "detect/finding.hpp"
#include "detect/linear_table.hpp"

namespace omamori::c2 {

enum class DestKind : uint8_t { AddrPort, Domain, NxDomain };
std::string_view dest_kind_name(DestKind k);

struct Config {
  double max_popularity = 0.05;   // contacted by more than this share of unsuspected hosts: popular
  uint32_t min_suspected = 3;     // at least this many suspected hosts must share it
  double fdr = 0.01;              // Benjamini-Hochberg false discovery rate
  std::vector<std::string> allow_domains;  // label-wise suffix match
  std::vector<Prefix> infrastructure;      // resolvers, NTP, CDNs, own services
  std::vector<uint16_t> infrastructure_ports{53, 123, 67, 68, 853};
  size_t max_hosts_per_dest = 1 << 16;     // distinct hosts kept per destination; beyond, counted
  // Memory bounds (about 50-60 bytes per destination, 3-4 per contact with the merge buffer, 8 per IPv4 host).
  // Defaults sized for ~1 M active hosts: ~75 MB in all (bench/pipeline_bench: 1 M hosts, 40 M flows keep
  // 461 k destinations and 7.3 M contacts; the planted unlisted C&C is still found). Raise them for more.
  size_t max_destinations = 500'000;
  size_t max_contacts = 8'000'000;   // distinct (destination, host) pairs
  size_t max_hosts = 1 << 24;
  TimeMs idle_ms = 3600000;  // destinations idle this long with < min_suspected hosts are evicted first
};

struct Candidate {
  DestKind kind;
  std::string dest;        // "203.0.113.7:6667/tcp", "evil.example", "xkjq.example"
  uint32_t suspected_hosts = 0;  // k
  uint32_t hosts = 0;            // n
  uint32_t population = 0;       // N
  uint32_t suspected_population = 0;  // K
  double p_value = 1;
  double q_value = 1;      // BH-adjusted
  double enrichment = 0;   // (k/n) / (K/N)
  TimeMs first = 0, last = 0;
  std::vector<IpAddr> example_hosts;  // up to 5 suspected hosts that contacted it (IPv4 by address first)
  std::string explanation;
};

// Distinct 64-bit keys: an append buffer, sorted and merged into blocks of
// delta-varint-coded sorted keys. Exposed for tests.
class ContactStore {
 public:
  void add(uint64_t key) { buf_.push_back(key); }
  void reserve(size_t pending) { buf_.reserve(pending); }
  size_t pending() const { return buf_.size(); }
  size_t size() const { return count_; }  // keys in the merged store
  // Sorts and de-duplicates the buffer and merges it into the store.
  // keep(key, is_new) decides for every key (stored ones too) whether it
  // stays; is_new = not in the store before.
  template <typename Keep>
  void merge(Keep&& keep);
  // Stored keys in ascending order (call merge() first for pending ones).
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& b : blocks_) {
      uint64_t k = b.first;
      f(k);
      const uint8_t* p = b.bytes.get();
      const uint8_t* end = p + b.size;
      while (p < end) {
        k += read_varint(p);
        f(k);
      }
    }
  }
  size_t memory_bytes() const;
  // Sorts v ascending (LSD radix, 11-bit digits; passes over digits all keys share are skipped).
  static void radix_sort(std::vector<uint64_t>& v, std::vector<uint64_t>& tmp);

 private:
  struct Writer;
  static constexpr uint32_t kBlockBytes = 4096;
  struct Block {
    uint64_t first = 0;  // the block's first key; deltas follow
    uint32_t size = 0;   // bytes used
    uint32_t count = 0;  // keys
    std::unique_ptr<uint8_t[]> bytes;
  };
  static uint64_t read_varint(const uint8_t*& p) {
    uint64_t v = 0;
    for (int s = 0;; s += 7) {
      uint8_t c = *p++;
      v |= uint64_t(c & 0x7f) << s;
      if (!(c & 0x80)) return v;
    }
  }
  std::vector<uint64_t> buf_, tmp_;
  std::vector<Block> blocks_;
  size_t count_ = 0;
};

// Writes ascending keys into new blocks.
struct ContactStore::Writer {
  std::vector<Block> out;
  size_t count = 0;
  uint64_t prev = 0;
  void put(uint64_t k) {
    ++count;
    if (out.empty() || out.back().size + 10 > kBlockBytes) {
      Block b;
      b.first = k;
      b.count = 1;
      b.bytes.reset(new uint8_t[kBlockBytes]);
      out.push_back(std::move(b));
      prev = k;
      return;
    }
    Block& b = out.back();
    uint64_t d = k - prev;
    prev = k;
    uint8_t* p = b.bytes.get() + b.size;
    while (d >= 0x80) {
      *p++ = static_cast<uint8_t>(d | 0x80);
      d >>= 7;
    }
    *p++ = static_cast<uint8_t>(d);
    b.size = static_cast<uint32_t>(p - b.bytes.get());
    ++b.count;
  }
};

template <typename Keep>
void ContactStore::merge(Keep&& keep) {
  radix_sort(buf_, tmp_);
  tmp_ = {};
  buf_.erase(std::unique(buf_.begin(), buf_.end()), buf_.end());
  Writer w;
  w.out.reserve(blocks_.size() + buf_.size() / 1024 + 1);
  size_t bi = 0;
  const size_t nb = buf_.size();
  for (auto& b : blocks_) {
    uint64_t k = b.first;
    const uint8_t* p = b.bytes.get();
    const uint8_t* end = p + b.size;
    for (;;) {
      while (bi < nb && buf_[bi] < k) {
        if (keep(buf_[bi], true)) w.put(buf_[bi]);
        ++bi;
      }
      if (bi < nb && buf_[bi] == k) ++bi;  // known already
      if (keep(k, false)) w.put(k);
      if (p >= end) break;
      k += read_varint(p);
    }
    b.bytes.reset();  // freed as soon as it is read: the peak is one store plus the buffer
  }
  for (; bi < nb; ++bi)
    if (keep(buf_[bi], true)) w.put(buf_[bi]);
  blocks_ = std::move(w.out);
  count_ = w.count;
  buf_.clear();
}

inline constexpr uint64_t kGolden = kGoldenMul;

class Discovery {
 public:
  explicit Discovery(Config cfg);
  // Records that host contacted dest at time t. dest is normalised by the caller
  // (lower-case names; "addr:port/proto" for flows: use flow_dest()).
  void add_contact(const IpAddr& host, DestKind kind, std::string_view dest, TimeMs t);
  void add_flow(const IpAddr& host, const IpAddr& dst, uint16_t dport, uint8_t proto, TimeMs t);
  void set_suspected(const IpAddr& host);
  // Starts loading the destination record add_flow() will update (after prefetch_flow()).
  void prefetch_dest(const IpAddr& dst, uint16_t dport, uint8_t proto) const {
    if (!dst.is_v4()) return;
    const uint64_t k = uint64_t{dst.v4_host_order()} << 24 | uint64_t{dport} << 8 | proto;
    const uint32_t lo = static_cast<uint32_t>(k), hi = static_cast<uint32_t>(k >> 32);
    if (const PackedSlot* s =
            packed4_.find(k * kGolden, [&](const PackedSlot& x) { return x.lo == lo && x.hi == hi; }))
      prefetch_line(&dests_[s->id]);
  }
  // Starts loading the table slots add_flow() with these arguments will look up.
  void prefetch_flow(const IpAddr& host, const IpAddr& dst, uint16_t dport, uint8_t proto) const {
    if (host.is_v4()) hosts4_.prefetch(host.v4_host_order() * kGolden);
    if (dst.is_v4()) packed4_.prefetch((uint64_t{dst.v4_host_order()} << 24 | uint64_t{dport} << 8 | proto) * kGolden);
  }
  // Destinations explained already (listed by a threat feed, allowlisted) are
  // never candidates: the function says which (addr/port/proto for kind
  // AddrPort, name otherwise).
  using KnownFn = std::function<bool(DestKind kind, const IpAddr& addr, uint16_t port, uint8_t proto,
                                     std::string_view name)>;
  void set_known(KnownFn f) { known_ = std::move(f); }
  // Destinations significant at the configured FDR, best first. Merges the
  // pending contacts first.
  std::vector<Candidate> candidates(size_t max = 100);
  size_t destinations() const { return live_dests_; }  // tracked now
  size_t hosts() const { return hosts4_.size() + hosts_other_.size(); }
  size_t suspected() const { return suspected_.size(); }
  size_t contacts() const { return contacts_.size() + contacts_.pending(); }  // pending ones may repeat
  uint64_t evicted_destinations() const { return evicted_dests_; }
  uint64_t dropped_contacts() const { return dropped_contacts_; }
  // Heap bytes of the state (tables, destination records, names, contacts).
  size_t memory_bytes() const;
  const ReasonCounters& counters() const { return counters_; }  // evictions, drops, untracked hosts

  // log P(X >= k) for X ~ Hypergeometric(N, K, n).
  static double log_hypergeom_tail(uint32_t N, uint32_t K, uint32_t n, uint32_t k);

 private:
  // 24 bytes per destination. Times are ms from epoch_, saturated to int32
  // (+-24.8 days around the first contact).
  struct Dest {
    int32_t first = 0, last = 0;
    uint32_t n = 0;          // distinct hosts, as of the last merge
    uint32_t key = 0;        // arena offset of the name / IPv6 key; unused for IPv4 address:port
    uint32_t last_host = 0;  // the last host key appended (skips repeats)
    uint16_t len = 0;        // key bytes in the arena
    uint8_t kind = 0;        // DestKind | kPacked4 / kBinary6
    uint8_t flags = 0;
  };
  static_assert(sizeof(Dest) == 24);
  // kind: DestKind | kPacked4 (IPv4 address:port/proto, key in packed4_) or
  // | kBinary6 (IPv6 address:port/proto: 16 + 2 + 1 bytes in the arena).
  static constexpr uint8_t kPacked4 = 0x80, kBinary6 = 0x40, kKindMask = 0x0f;
  static constexpr uint8_t kFree = 1, kEvicted = 2, kOverflow = 4;
  // Hosts by IPv4 address (never in 240.0.0.0/4, so ~0 is free).
  struct HostSlot {
    uint32_t key = UINT32_MAX;
    bool is_empty() const { return key == UINT32_MAX; }
    uint64_t pos_hash() const { return key * kGolden; }
  };
  // IPv4 address:port/proto (56 bits) -> destination id, 12 bytes.
  struct PackedSlot {
    uint32_t lo = 0, hi = UINT32_MAX, id = 0;
    uint64_t key() const { return uint64_t{hi} << 32 | lo; }
    bool is_empty() const { return hi == UINT32_MAX; }
    uint64_t pos_hash() const { return key() * kGolden; }
  };
  // Arena-keyed destinations: the id and 32 bits of the key's hash (which
  // also place the slot, so a rebuild needs no key).
  struct NameSlot {
    uint32_t id = UINT32_MAX, tag = 0;
    bool is_empty() const { return id == UINT32_MAX; }
    uint64_t pos_hash() const { return tag * kGolden; }
  };
  std::string_view key_bytes(const Dest& d) const { return {arena_.data() + d.key, d.len}; }

  uint32_t host_key(const IpAddr& host);  // UINT32_MAX: untracked (max_hosts)
  IpAddr host_addr(uint32_t key) const;
  void add_packed4(uint32_t host, uint64_t packed, TimeMs t);
  void add_arena(uint32_t host, uint8_t kind, std::string_view bytes, TimeMs t);
  uint32_t new_dest(uint8_t kind, TimeMs t);  // UINT32_MAX when no room even after eviction
  void touch(uint32_t id, uint32_t host, TimeMs t);
  int32_t rel(TimeMs t);  // also sets the epoch (first contact) and now_
  void buf_reserve();
  TimeMs abs_time(int32_t r) const { return epoch_ + r; }
  void merge();
  void evict(size_t want_dests, size_t want_contacts);
  void merge_pending();
  // The address, port and protocol of an address destination (packed = its packed4_ key).
  void addr_of(const Dest& d, uint64_t packed, IpAddr& a, uint16_t& port, uint8_t& proto) const;
  bool excluded(const Dest& d, uint64_t packed) const;
  std::string dest_text(const Dest& d, uint64_t packed) const;

  Config cfg_;
  KnownFn known_;
  LpmTable<uint8_t> infra_;
  std::vector<uint64_t> infra_ports_;  // bitset over 65536 ports
  bool have_epoch_ = false;
  TimeMs epoch_ = 0, now_ = 0;
  // Hosts: IPv4 (outside 240.0.0.0/4) by address; others interned with the top nibble 0xF.
  LinearTable<HostSlot> hosts4_;
  absl::flat_hash_map<IpAddr, uint32_t> hosts_other_;
  std::vector<IpAddr> other_addrs_;
  absl::flat_hash_set<uint32_t> suspected_;
  // Destinations.
  std::vector<Dest> dests_;
  std::vector<uint32_t> free_;
  size_t live_dests_ = 0;
  LinearTable<PackedSlot> packed4_;  // addr<<24 | port<<8 | proto -> id
  LinearTable<NameSlot> by_bytes_;
  std::vector<char> arena_;
  size_t arena_live_ = 0;
  ContactStore contacts_;
  size_t merge_at_ = 1 << 14;
  uint64_t evicted_dests_ = 0, dropped_contacts_ = 0;
  ReasonCounters counters_;
};

std::string flow_dest(const IpAddr& dst, uint16_t dport, uint8_t proto);

// Findings of type c2-candidate, one per candidate (host = the destination
// address when it is one, else unset; indicator = the destination).
void candidate_findings(const std::vector<Candidate>& cands, FindingSink& sink);

}  // namespace omamori::c2
