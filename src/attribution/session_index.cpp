#include "attribution/session_index.hpp"

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <stdexcept>

namespace omamori {

using attribution_detail::BlockRec;
using attribution_detail::Piece;
using attribution_detail::SessionRec;
using attribution_detail::SpanTable;
using attribution_detail::u128;

namespace {

constexpr int64_t kOpenEnd = INT64_MAX;

u128 key128(const IpAddr& a) { return (u128(a.hi()) << 64) | a.lo(); }
uint64_t mask64(uint64_t v, unsigned len) { return len == 0 ? 0 : len >= 64 ? v : v & (~0ull << (64 - len)); }

}  // namespace

namespace attribution_detail {

template <typename Key>
void SpanTable<Key>::build(const std::vector<Slot>& entries) {
  size_ = entries.size();
  slots_.clear();
  if (entries.empty()) {
    mask_ = 0;
    return;
  }
  // Load factor at most 0.7: short probe runs, one cache line per hit.
  size_t cap = std::bit_ceil(std::max<size_t>(16, entries.size() * 10 / 7 + 1));
  slots_.assign(cap, Slot{Key{}, 0, 0});
  mask_ = cap - 1;
  for (const auto& e : entries) {
    uint64_t i = hash(e.key) & mask_;
    while (slots_[i].n != 0) i = (i + 1) & mask_;
    slots_[i] = e;
  }
}

template class SpanTable<uint32_t>;
template class SpanTable<uint64_t>;
template class SpanTable<u128>;

}  // namespace attribution_detail

// ---------------------------------------------------------------- lookups

uint32_t SessionIndex::find_in(uint32_t off, uint32_t n, TimeMs t) const {
  const Piece* p = pieces_.data() + off;
  // The last piece starting at or before t (pieces are disjoint and sorted).
  uint32_t lo = 0, hi = n;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (p[mid].start <= t)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0) return kNone;
  const Piece& x = p[lo - 1];
  return t < x.end ? x.session : kNone;
}

uint32_t SessionIndex::find_v4(uint32_t a, TimeMs t) const {
  const auto* s = v4_.find(a);
  return s ? find_in(s->off, s->n, t) : kNone;
}

uint32_t SessionIndex::find(const IpAddr& a, TimeMs t, AttributionMatch* match) const {
  if (match) *match = AttributionMatch::kAddress;
  if (a.is_v4()) return find_v4(a.v4_host_order(), t);
  uint64_t hi = a.hi();
  for (const auto& tab : v6_) {
    const SpanTable<uint64_t>::Slot* s64 = nullptr;
    const SpanTable<u128>::Slot* s128 = nullptr;
    uint32_t r = kNone;
    if (tab.len <= 64) {
      s64 = tab.short_.find(mask64(hi, tab.len));
      if (s64) r = find_in(s64->off, s64->n, t);
    } else {
      s128 = tab.long_.find(key128(mask_addr(a, tab.len)));
      if (s128) r = find_in(s128->off, s128->n, t);
    }
    if (r != kNone) {
      if (match) *match = tab.len == 128 ? AttributionMatch::kAddress : AttributionMatch::kPrefix;
      return r;
    }
  }
  return kNone;
}

TimeMs SessionIndex::end(uint32_t session) const {
  int64_t e = sessions_[session].end;
  return e == kOpenEnd ? 0 : e;
}

void SessionIndex::fill(uint32_t s, const IpAddr& a, AttributionMatch m, AttributionRef& out) const {
  const SessionRec& r = sessions_[s];
  out.subscriber = str(subscriber_off_[r.subscriber]);
  out.session_id = str(r.session_id);
  out.nas = nas_[r.nas];
  out.inside = a;
  out.start = r.start;
  out.end = r.end == kOpenEnd ? 0 : r.end;
  out.match = m;
  out.inner_session_id = {};
}

bool SessionIndex::lookup(const IpAddr& a, TimeMs t, AttributionRef& out) const {
  AttributionMatch m;
  uint32_t s = find(a, t, &m);
  if (s == kNone) return false;
  fill(s, a, m, out);
  return true;
}

bool SessionIndex::lookup(const IpAddr& a, uint16_t port, TimeMs t, AttributionRef& out) const {
  const auto* slot = cgnat_.find(key128(a));
  if (!slot) return lookup(a, t, out);
  const BlockRec* b = blocks_.data() + slot->off;
  // Blocks of this address sorted by (lo, start): scan back from the last
  // block starting at or below port, as far as the widest block reaches.
  uint32_t lo = 0, hi = slot->n;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (b[mid].lo <= port)
      lo = mid + 1;
    else
      hi = mid;
  }
  const BlockRec* best = nullptr;
  for (uint32_t i = lo; i > 0; --i) {
    const BlockRec& x = b[i - 1];
    if (uint32_t(port) - x.lo > max_block_span_) break;
    if (x.hi >= port && x.start <= t && t < x.end && (!best || x.start >= best->start)) best = &x;
  }
  if (!best) return false;
  out = AttributionRef{};
  uint32_t s = find(best->inside, t);
  if (s != kNone) {
    out.subscriber = subscriber(s);
    out.inner_session_id = session_id(s);
  }
  out.session_id = str(best->id);
  out.nas = nas_[best->box];
  out.inside = best->inside;
  out.start = best->start;
  out.end = best->end == kOpenEnd ? 0 : best->end;
  out.match = AttributionMatch::kAddressPort;
  return true;
}

size_t SessionIndex::keys() const {
  size_t n = v4_.size();
  for (const auto& t : v6_) n += t.short_.size() + t.long_.size();
  return n;
}

size_t SessionIndex::memory_bytes() const {
  size_t n = sessions_.capacity() * sizeof(SessionRec) + pieces_.capacity() * sizeof(Piece) +
             subscriber_off_.capacity() * 4 + nas_.capacity() * sizeof(IpAddr) + arena_.capacity() +
             v4_.memory_bytes() + blocks_.capacity() * sizeof(BlockRec) + cgnat_.memory_bytes();
  for (const auto& t : v6_) n += t.short_.memory_bytes() + t.long_.memory_bytes();
  return n;
}

Attribution AttributionRef::to_attribution() const {
  Attribution a;
  a.subscriber = std::string(subscriber);
  a.session_id = std::string(session_id);
  a.nas = nas;
  a.inside = inside;
  a.session_start = start;
  a.session_end = end;
  a.match = match;
  return a;
}

// ---------------------------------------------------------------- building

namespace {

// Subscriber names are interned: the map's keys are arena offsets, looked up
// by string_view (heterogeneous lookup).
struct ArenaHash {
  using is_transparent = void;
  const std::string* arena;
  std::string_view view(uint32_t off) const { return {arena->data() + off + 1, static_cast<unsigned char>((*arena)[off])}; }
  size_t operator()(uint32_t off) const { return absl::Hash<std::string_view>{}(view(off)); }
  size_t operator()(std::string_view s) const { return absl::Hash<std::string_view>{}(s); }
};
struct ArenaEq {
  using is_transparent = void;
  const std::string* arena;
  std::string_view v(uint32_t off) const { return {arena->data() + off + 1, static_cast<unsigned char>((*arena)[off])}; }
  std::string_view v(std::string_view s) const { return s; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return v(a) == v(b);
  }
};

// Disjoint pieces for the sessions of one address (sorted by start, then
// load order): at any time the session with the latest start that has not
// ended holds the address.
void sweep(const SessionRec* recs, const uint32_t* sess, size_t n, std::vector<Piece>& out,
           std::vector<uint32_t>& stack) {
  size_t base = out.size();
  stack.clear();
  int64_t cur = INT64_MIN;
  auto emit = [&](int64_t a, int64_t b, uint32_t s) {
    if (a >= b) return;
    if (out.size() > base && out.back().session == s && out.back().end == a)
      out.back().end = b;
    else
      out.push_back(Piece{a, b, s});
  };
  auto advance = [&](int64_t t) {
    while (!stack.empty() && cur < t) {
      uint32_t top = stack.back();
      int64_t e = recs[top].end;
      if (e <= cur) {
        stack.pop_back();
        continue;
      }
      int64_t seg = std::min(e, t);
      emit(cur, seg, top);
      cur = seg;
      if (e <= cur) stack.pop_back();
    }
    if (cur < t) cur = t;
  };
  for (size_t i = 0; i < n; ++i) {
    advance(recs[sess[i]].start);
    stack.push_back(sess[i]);
  }
  advance(kOpenEnd);
}

}  // namespace

struct IndexBuilder::State {
  explicit State(IndexPolicy p)
      : policy(p), idx(std::make_unique<SessionIndex>()), subs(0, ArenaHash{&idx->arena_}, ArenaEq{&idx->arena_}) {}

  uint32_t put(std::string_view s) {
    if (s.size() > 255) s = s.substr(0, 255);
    std::string& a = idx->arena_;
    if (a.size() + 1 + s.size() > UINT32_MAX) throw std::length_error("session index: string arena over 4 GiB");
    uint32_t off = static_cast<uint32_t>(a.size());
    a.push_back(static_cast<char>(s.size()));
    a.append(s);
    return off;
  }
  uint32_t subscriber(std::string_view s) {
    if (s.size() > 255) s = s.substr(0, 255);
    auto it = subs.find(s);
    if (it != subs.end()) return it->second;
    uint32_t off = put(s);
    uint32_t id = static_cast<uint32_t>(idx->subscriber_off_.size());
    idx->subscriber_off_.push_back(off);
    subs.emplace(off, id);
    return id;
  }
  uint32_t nas(const IpAddr& a) {
    auto [it, added] = nas_ids.try_emplace(a, static_cast<uint32_t>(idx->nas_.size()));
    if (added) idx->nas_.push_back(a);
    return it->second;
  }

  struct E4 {
    uint32_t key;
    uint32_t session;
  };
  struct E6 {
    u128 key;
    uint32_t session;
    uint8_t len;
  };
  struct B {
    u128 outside;
    BlockRec rec;
  };

  IndexPolicy policy;
  std::unique_ptr<SessionIndex> idx;
  absl::flat_hash_map<uint32_t, uint32_t, ArenaHash, ArenaEq> subs;
  absl::flat_hash_map<IpAddr, uint32_t> nas_ids;
  std::vector<E4> e4;
  std::vector<E6> e6;
  std::vector<B> blocks;
};

IndexBuilder::IndexBuilder(IndexPolicy p) : st_(std::make_unique<State>(p)) {}
IndexBuilder::~IndexBuilder() = default;
IndexBuilder::IndexBuilder(IndexBuilder&&) noexcept = default;

size_t IndexBuilder::sessions() const { return st_->idx->sessions_.size(); }

void IndexBuilder::add(const SessionRow& s) {
  State& st = *st_;
  if (st.idx->sessions_.size() >= SessionIndex::kNone - 1) throw std::length_error("session index: too many sessions");
  SessionRec r{};
  r.start = s.start;
  r.end = s.end != 0 ? s.end : kOpenEnd;
  if (s.end == 0 && st.policy.now > 0) {
    int64_t interval = s.interim_ms > 0 ? s.interim_ms : st.policy.default_interim_ms;
    TimeMs seen = std::max(s.last_seen, s.start);
    if (interval > 0 && static_cast<double>(st.policy.now - seen) > st.policy.interim_timeout_factor * interval)
      r.end = seen + interval;
  }
  if (r.end < r.start) r.end = r.start;  // holds no time at all
  r.subscriber = st.subscriber(s.subscriber);
  r.session_id = st.put(s.session_id);
  r.nas = st.nas(s.nas);
  uint32_t id = static_cast<uint32_t>(st.idx->sessions_.size());
  st.idx->sessions_.push_back(r);
  if (!s.framed_ip.empty()) {
    if (s.framed_ip.is_v4())
      st.e4.push_back({s.framed_ip.v4_host_order(), id});
    else
      st.e6.push_back({key128(s.framed_ip), id, 128});
  }
  for (const auto* p : {&s.framed_v6, &s.delegated}) {
    if (!*p || (*p)->is_v4()) continue;
    st.e6.push_back({key128((*p)->addr()), id, (*p)->len()});
  }
}

void IndexBuilder::add(const PortBlockRow& b) {
  State& st = *st_;
  BlockRec r{};
  r.start = b.start;
  r.end = b.end != 0 ? b.end : kOpenEnd;
  if (r.end < r.start) r.end = r.start;
  r.inside = b.inside;
  r.box = st.nas(b.box);
  r.lo = std::min(b.port_lo, b.port_hi);
  r.hi = std::max(b.port_lo, b.port_hi);
  r.id = st.put(fmt::format("pba:{}:{}-{}@{}", b.outside.str(), r.lo, r.hi, b.start));
  st.blocks.push_back({key128(b.outside), r});
}

std::unique_ptr<SessionIndex> IndexBuilder::build() {
  State& st = *st_;
  SessionIndex& idx = *st.idx;
  const SessionRec* recs = idx.sessions_.data();
  auto by_start = [recs](uint32_t a, uint32_t b) {
    return recs[a].start != recs[b].start ? recs[a].start < recs[b].start : a < b;
  };
  std::vector<uint32_t> group, stack;

  // IPv4.
  std::sort(st.e4.begin(), st.e4.end(), [&](const State::E4& a, const State::E4& b) {
    return a.key != b.key ? a.key < b.key : by_start(a.session, b.session);
  });
  std::vector<SpanTable<uint32_t>::Slot> slots4;
  for (size_t i = 0; i < st.e4.size();) {
    size_t j = i;
    group.clear();
    while (j < st.e4.size() && st.e4[j].key == st.e4[i].key) group.push_back(st.e4[j++].session);
    uint32_t off = static_cast<uint32_t>(idx.pieces_.size());
    sweep(recs, group.data(), group.size(), idx.pieces_, stack);
    uint32_t n = static_cast<uint32_t>(idx.pieces_.size() - off);
    if (n) slots4.push_back({st.e4[i].key, off, n});
    i = j;
  }
  idx.v4_.build(slots4);
  std::vector<State::E4>().swap(st.e4);

  // IPv6, one table per prefix length, longest first.
  std::sort(st.e6.begin(), st.e6.end(), [&](const State::E6& a, const State::E6& b) {
    if (a.len != b.len) return a.len > b.len;
    if (a.key != b.key) return a.key < b.key;
    return by_start(a.session, b.session);
  });
  for (size_t i = 0; i < st.e6.size();) {
    uint8_t len = st.e6[i].len;
    std::vector<SpanTable<uint64_t>::Slot> s64;
    std::vector<SpanTable<u128>::Slot> s128;
    while (i < st.e6.size() && st.e6[i].len == len) {
      size_t j = i;
      group.clear();
      while (j < st.e6.size() && st.e6[j].len == len && st.e6[j].key == st.e6[i].key)
        group.push_back(st.e6[j++].session);
      uint32_t off = static_cast<uint32_t>(idx.pieces_.size());
      sweep(recs, group.data(), group.size(), idx.pieces_, stack);
      uint32_t n = static_cast<uint32_t>(idx.pieces_.size() - off);
      if (n) {
        if (len <= 64)
          s64.push_back({static_cast<uint64_t>(st.e6[i].key >> 64), off, n});
        else
          s128.push_back({st.e6[i].key, off, n});
      }
      i = j;
    }
    SessionIndex::V6Table t;
    t.len = len;
    t.short_.build(s64);
    t.long_.build(s128);
    idx.v6_.push_back(std::move(t));
  }
  std::vector<State::E6>().swap(st.e6);
  idx.pieces_.shrink_to_fit();

  // CGNAT port blocks by outside address, then (lo, start, load order).
  std::stable_sort(st.blocks.begin(), st.blocks.end(), [](const State::B& a, const State::B& b) {
    if (a.outside != b.outside) return a.outside < b.outside;
    if (a.rec.lo != b.rec.lo) return a.rec.lo < b.rec.lo;
    return a.rec.start < b.rec.start;
  });
  std::vector<SpanTable<u128>::Slot> slotsb;
  for (size_t i = 0; i < st.blocks.size();) {
    size_t j = i;
    uint32_t off = static_cast<uint32_t>(idx.blocks_.size());
    while (j < st.blocks.size() && st.blocks[j].outside == st.blocks[i].outside) {
      const BlockRec& r = st.blocks[j++].rec;
      idx.max_block_span_ = std::max<uint32_t>(idx.max_block_span_, uint32_t(r.hi) - r.lo);
      idx.blocks_.push_back(r);
    }
    slotsb.push_back({st.blocks[i].outside, off, static_cast<uint32_t>(j - i)});
    i = j;
  }
  idx.cgnat_.build(slotsb);
  std::vector<State::B>().swap(st.blocks);

  idx.sessions_.shrink_to_fit();
  idx.arena_.shrink_to_fit();
  auto out = std::move(st.idx);
  st_ = std::make_unique<State>(st.policy);
  return out;
}

}  // namespace omamori
