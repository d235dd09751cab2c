// Compiled, immutable indicator sets and the matching API.
//
// An IntelSnapshot is built once from indicators (any number of feeds) and
// allowlist entries, then only read: any number of threads match against it
// without locks. A reload builds a new snapshot and IntelStore swaps a
// shared_ptr; readers take one pointer copy per batch of events.
//
// Layout (see docs/intel.md for the figures):
//  - every indicator is an 8-byte record {value offset, profile}; values live in
//    one byte arena; what many indicators share (feed, category, family, tags,
//    confidence, times) lives once in a deduplicated profile table;
//  - domains and URLs: an open-addressing table of 8-byte slots {32-bit hash
//    fingerprint, id} keyed by XXH3-64 of the value, verified against the arena;
//    a name is looked up by hashing each suffix at a label boundary, longest
//    first, so the most specific indicator wins; suffix lengths (in labels) that
//    no indicator has are skipped;
//  - addresses and CIDRs: the LPM table (core/lpm.hpp) of ids;
//  - address:port: hash maps keyed by (address, port, protocol).
// Lookups do not allocate. Allowlist entries always win: a match whose name or
// address is allowlisted is not returned.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <atomic>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/counters.hpp"
#include "core/ip.hpp"
#include "core/lpm.hpp"
#include "intel/indicator.hpp"

namespace omamori::intel {

inline constexpr uint32_t kNoId = UINT32_MAX;

enum class MatchType : uint8_t {
  kNone = 0,
  kExact,     // the name or address itself is listed
  kParent,    // a parent domain is listed (label-wise)
  kCidr,      // the address is inside a listed prefix
  kAddrPort,  // address and port listed
  kUrl,       // URL listed (host and path)
  kUrlPath,   // a host-less URL path indicator matched the path
  kUrlHost,   // a DNS name equals the host of a listed URL (only with SnapshotOptions::url_hosts_match_dns)
};
const char* match_type_name(MatchType t);

struct Match {
  uint32_t id = kNoId;
  MatchType how = MatchType::kNone;
  explicit operator bool() const { return id != kNoId; }
};

struct SnapshotOptions {
  // URL indicators' hosts also match DNS names (exactly, not their subdomains). Off by
  // default: a URL on a shared host says the path is bad, not the whole host.
  bool url_hosts_match_dns = false;
  TimeMs now = 0;  // expiry reference; 0 means the current time
};

struct FeedStats {
  std::string name;
  bool allow = false;
  uint64_t indicators = 0;  // in the snapshot
  uint64_t by_kind[kKindCount] = {};
  uint64_t by_category[kCategoryCount] = {};
  uint64_t expired = 0;      // left out: past their expiry
  uint64_t allowlisted = 0;  // left out: covered by an allowlist entry
  uint64_t rejected = 0;     // left out: invalid value (see SnapshotBuilder::rejected())
  uint64_t bytes = 0;        // memory of the compiled structures attributed to the feed
};

class IntelSnapshot;

class SnapshotBuilder {
 public:
  explicit SnapshotBuilder(SnapshotOptions opt = {});
  ~SnapshotBuilder();
  // A blocklist indicator. The value is checked again (public suffixes, syntax).
  void add(const Indicator& ind);
  // An allowlist entry: a domain (it and the names below it), an address or a prefix.
  // Returns false (and counts the reason) when the value is not usable.
  bool add_allow(std::string_view value, std::string_view source = "allowlist");
  size_t pending() const;
  std::shared_ptr<const IntelSnapshot> build();
  const ReasonCounters& rejected() const { return rejected_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ReasonCounters rejected_;
};

class IntelSnapshot {
 public:
  // name: a DNS name, any case, with or without the trailing dot.
  Match match_domain(std::string_view name) const;
  Match match_addr(const IpAddr& a) const;
  // proto: IP protocol number (6, 17) or 0 for any. An address:port indicator (without a
  // protocol or with this one) wins; else the address/CIDR match.
  Match match_addr_port(const IpAddr& a, uint16_t port, uint8_t proto) const;
  // A URL ("http://host/path?q", or "host/path"): a listed URL (host and path, with the
  // query, then without it), a listed host-less path, else the host's domain or address match.
  Match match_url(std::string_view url) const;

  // Many names at once (out.size() >= names.size()): the same answers as match_domain,
  // with the memory accesses of a group of names overlapped (prefetched); the faster
  // way for a detector that handles events in batches.
  void match_domains(std::span<const std::string_view> names, std::span<Match> out) const;

  bool allowed_domain(std::string_view name) const;
  bool allowed_addr(const IpAddr& a) const;

  // The full indicator (copies; not for the per-event path).
  Indicator indicator(uint32_t id) const;
  // Light accessors for the hot path.
  Kind kind(uint32_t id) const;
  Category category(uint32_t id) const;
  uint8_t confidence(uint32_t id) const;
  std::string_view value(uint32_t id) const;
  std::string_view feed(uint32_t id) const;
  std::string_view family(uint32_t id) const;
  // Other indicators (other feeds) with the same kind and value as id.
  std::span<const uint32_t> same_value(uint32_t id) const;

  size_t size() const { return recs_.size(); }
  size_t allow_size() const { return allow_count_; }
  size_t memory_bytes() const;
  const std::vector<FeedStats>& feed_stats() const { return feeds_; }
  TimeMs built_at() const { return built_at_; }

  // Opaque internals, public for the builder in match.cpp.
  struct Rec {
    uint32_t value_off;
    uint32_t profile;
  };
  struct Profile {
    uint16_t feed;
    Kind kind;
    Category category;
    uint8_t confidence;
    bool subdomains;
    uint32_t family;     // string id
    uint32_t tags;       // tag set id
    uint32_t reference;  // string id
    TimeMs first_seen, last_seen, expiry;
  };
  // Open addressing of 8-byte slots: high 32 bits fingerprint (never 0), low 32 bits payload.
  struct HashIndex {
    std::vector<uint64_t> slots;
    uint64_t cap = 0;
    void init(size_t n);
    void insert(uint64_t h, uint32_t payload);
    template <typename Eq>
    uint32_t find(uint64_t h, Eq&& eq) const {
      if (cap == 0) return kNoId;
      uint32_t fp = static_cast<uint32_t>(h >> 32) | 1u;
      uint64_t i = ((h & 0xffffffffu) * cap) >> 32;
      const uint64_t* s = slots.data();
      for (;;) {
        uint64_t v = s[i];
        if (v == 0) return kNoId;
        if (static_cast<uint32_t>(v >> 32) == fp && eq(static_cast<uint32_t>(v))) return static_cast<uint32_t>(v);
        if (++i == cap) i = 0;
      }
    }
    // The payload of the first slot with h's fingerprint, not verified.
    uint32_t find_fp(uint64_t h) const {
      if (cap == 0) return kNoId;
      uint32_t fp = static_cast<uint32_t>(h >> 32) | 1u;
      uint64_t i = ((h & 0xffffffffu) * cap) >> 32;
      for (;;) {
        uint64_t v = slots[i];
        if (v == 0) return kNoId;
        if (static_cast<uint32_t>(v >> 32) == fp) return static_cast<uint32_t>(v);
        if (++i == cap) i = 0;
      }
    }
    size_t bytes() const { return slots.capacity() * sizeof(uint64_t); }
  };
  // A blocked Bloom filter in front of the domain table: most lookups of unlisted
  // suffixes stop here, in a structure small enough for the L2 cache.
  struct Filter {
    std::vector<uint64_t> bits;
    uint64_t mask = 0;
    void init(size_t n);
    void add(uint64_t h);
    static uint64_t word_bits(uint64_t h) {
      return (uint64_t(1) << ((h >> 8) & 63)) | (uint64_t(1) << ((h >> 14) & 63));
    }
    bool may_contain(uint64_t h) const {
      if (bits.empty()) return false;
      uint64_t b = word_bits(h);
      return (bits[(h >> 20) & mask] & b) == b;
    }
    size_t bytes() const { return bits.capacity() * sizeof(uint64_t); }
  };
  struct AddrPortKey {
    IpAddr addr;
    uint16_t port;
    uint8_t proto;
    bool operator==(const AddrPortKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const AddrPortKey& k) {
      return H::combine(std::move(h), k.addr, k.port, k.proto);
    }
  };

 private:
  friend class SnapshotBuilder;

  std::string_view arena_str(uint32_t off) const;
  bool domain_eq(uint32_t payload, std::string_view s) const;
  Match find_domain(const char* name, size_t len, bool allow) const;

  std::vector<Rec> recs_;
  std::string arena_;
  std::vector<Profile> profiles_;
  std::vector<std::string> strings_;            // families, references, feed names
  std::vector<std::vector<uint32_t>> tagsets_;  // string ids
  HashIndex domains_;
  Filter domain_filter_;
  uint64_t domain_labels_ = 0;  // bit n: some domain indicator has n labels (63: 63 or more)
  HashIndex urls_;
  bool url_paths_ = false;  // any host-less path indicators
  LpmTable<uint32_t> addrs_;
  absl::flat_hash_map<uint64_t, uint32_t> addr_ports_v4_;  // (addr << 24 | port << 8 | proto) -> id
  absl::flat_hash_map<AddrPortKey, uint32_t> addr_ports_v6_;
  absl::flat_hash_map<uint32_t, std::vector<uint32_t>> same_value_;
  // Allowlist.
  HashIndex allow_domains_;
  uint64_t allow_labels_ = 0;
  std::string allow_arena_;
  std::vector<uint32_t> allow_offs_;
  LpmTable<uint32_t> allow_addrs_;
  size_t allow_count_ = 0;
  std::vector<FeedStats> feeds_;
  TimeMs built_at_ = 0;
};

// Holds the current snapshot; publish() swaps it atomically while readers match.
class IntelStore {
 public:
  IntelStore();
  std::shared_ptr<const IntelSnapshot> snapshot() const { return snap_.load(std::memory_order_acquire); }
  void publish(std::shared_ptr<const IntelSnapshot> s) {
    snap_.store(std::move(s), std::memory_order_release);
    gen_.fetch_add(1, std::memory_order_relaxed);
  }
  // How many snapshots were published.
  uint64_t generation() const { return gen_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::shared_ptr<const IntelSnapshot>> snap_;
  std::atomic<uint64_t> gen_{0};
};

}  // namespace omamori::intel
