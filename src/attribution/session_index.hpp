// The session index: "who had this address (or IPv6 prefix) at time T" and
// "who had public address:port at time T" (through CGNAT port blocks).
//
// Built once from sessions and port blocks (IndexBuilder), then immutable:
// lookups take no lock and never allocate; a reload builds a new index and
// swaps a pointer (as core/lpm.hpp does). Layout, for 10 million sessions:
//  - a fixed 28-byte record per session (start, end, interned subscriber,
//    session id and NAS); strings live once in one arena (1-byte length
//    prefix, RADIUS values are at most 253 octets);
//  - per address (IPv4) or per prefix (one table per IPv6 prefix length
//    present), an open-addressing hash slot pointing at a contiguous run of
//    20-byte pieces: disjoint time intervals, each naming the session that
//    holds the address then. Overlapping sessions of one address are
//    resolved at build time: the latest start wins (ties: the later row).
//  - a lookup is one hash probe, one binary search over the address's
//    pieces, and (for the strings) one session record.
// IPv6 addresses match the longest prefix length present whose prefix held a
// session at T. Open sessions whose NAS stopped sending Interim-Updates end
// at last-seen + interval once k intervals have passed (IndexPolicy).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "attribution/attribution.hpp"
#include "attribution/session.hpp"

namespace omamori {

// What a lookup returns: views into the index (valid while it lives).
struct AttributionRef {
  std::string_view subscriber;  // empty for a CGNAT block whose inside address had no session at T
  std::string_view session_id;  // Acct-Session-Id, or the port block's id
  IpAddr nas;                   // NAS, or the CGNAT box
  IpAddr inside;                // the looked-up address, or the CGNAT inside address
  TimeMs start = 0;
  TimeMs end = 0;  // 0: open
  AttributionMatch match = AttributionMatch::kAddress;
  std::string_view inner_session_id;  // CGNAT: the inside address's session
  Attribution to_attribution() const;
};

struct IndexPolicy {
  TimeMs now = 0;                       // "now" for the interim timeout (0: never time out)
  int64_t default_interim_ms = 0;       // interval for sessions that carry none (0: unknown: no timeout)
  double interim_timeout_factor = 3.0;  // k: ended after k intervals without an update
};

namespace attribution_detail {

using u128 = unsigned __int128;

#pragma pack(push, 4)
struct Piece {
  int64_t start;
  int64_t end;  // exclusive; INT64_MAX while open
  uint32_t session;
};
struct SessionRec {
  int64_t start;
  int64_t end;  // INT64_MAX while open
  uint32_t subscriber;  // index into subscriber offsets
  uint32_t session_id;  // arena offset
  uint32_t nas;         // index into the NAS table
};
struct BlockRec {
  int64_t start;
  int64_t end;
  IpAddr inside;
  uint32_t id;  // arena offset
  uint32_t box;
  uint16_t lo, hi;
};
#pragma pack(pop)
static_assert(sizeof(Piece) == 20 && sizeof(SessionRec) == 28);

// Immutable open-addressing table: key -> run [off, off+n) of some array.
template <typename Key>
class SpanTable {
 public:
  struct Slot {
    Key key;
    uint32_t off;
    uint32_t n;  // 0: empty slot
  };
  void build(const std::vector<Slot>& entries);
  const Slot* find(Key k) const {
    if (slots_.empty()) return nullptr;
    for (uint64_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.n == 0) return nullptr;
      if (s.key == k) return &s;
    }
  }
  void prefetch(Key k) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash(k) & mask_]);
  }
  size_t size() const { return size_; }
  size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

  static uint64_t hash(Key k) {
    uint64_t x;
    if constexpr (sizeof(Key) > 8)
      x = static_cast<uint64_t>(k >> 64) * 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(k);
    else
      x = static_cast<uint64_t>(k);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
  }

 private:
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace attribution_detail

class SessionIndex {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // The session holding address a at time t, or kNone. IPv6: longest prefix.
  uint32_t find(const IpAddr& a, TimeMs t, AttributionMatch* match = nullptr) const;
  uint32_t find_v4(uint32_t host_order, TimeMs t) const;
  // Hints the cache for an upcoming find_v4 (batch lookups).
  void prefetch_v4(uint32_t host_order) const { v4_.prefetch(host_order); }

  bool lookup(const IpAddr& a, TimeMs t, AttributionRef& out) const;
  // Public address and port: through the CGNAT port block holding it at t,
  // then the session of the block's inside address. An address with no port
  // blocks at all is looked up as a plain address.
  bool lookup(const IpAddr& a, uint16_t port, TimeMs t, AttributionRef& out) const;

  std::string_view subscriber(uint32_t session) const { return str(subscriber_off_[sessions_[session].subscriber]); }
  std::string_view session_id(uint32_t session) const { return str(sessions_[session].session_id); }
  TimeMs start(uint32_t session) const { return sessions_[session].start; }
  TimeMs end(uint32_t session) const;  // 0 while open

  size_t sessions() const { return sessions_.size(); }
  size_t subscribers() const { return subscriber_off_.size(); }
  size_t port_blocks() const { return blocks_.size(); }
  size_t keys() const;  // addresses and prefixes indexed
  size_t pieces() const { return pieces_.size(); }
  size_t memory_bytes() const;

 private:
  friend class IndexBuilder;
  using u128 = attribution_detail::u128;
  std::string_view str(uint32_t off) const {
    return {arena_.data() + off + 1, static_cast<unsigned char>(arena_[off])};
  }
  uint32_t find_in(uint32_t off, uint32_t n, TimeMs t) const;
  void fill(uint32_t session, const IpAddr& a, AttributionMatch m, AttributionRef& out) const;

  std::vector<attribution_detail::SessionRec> sessions_;
  std::vector<attribution_detail::Piece> pieces_;
  std::vector<uint32_t> subscriber_off_;
  std::vector<IpAddr> nas_;
  std::string arena_;
  attribution_detail::SpanTable<uint32_t> v4_;
  struct V6Table {
    uint8_t len;
    attribution_detail::SpanTable<uint64_t> short_;  // len <= 64: key is the top 64 bits
    attribution_detail::SpanTable<u128> long_;       // len > 64
  };
  std::vector<V6Table> v6_;  // longest length first
  std::vector<attribution_detail::BlockRec> blocks_;  // per outside address, sorted by (lo, start)
  attribution_detail::SpanTable<u128> cgnat_;
  uint32_t max_block_span_ = 0;
};

class IndexBuilder {
 public:
  explicit IndexBuilder(IndexPolicy p = {});
  ~IndexBuilder();
  IndexBuilder(IndexBuilder&&) noexcept;
  void add(const SessionRow& s);
  void add(const PortBlockRow& b);
  size_t sessions() const;
  // Builds the index; the builder is empty afterwards.
  std::unique_ptr<SessionIndex> build();

 private:
  struct State;
  std::unique_ptr<State> st_;
};

}  // namespace omamori
