// Longest-prefix-match table for IPv4 and IPv6.
//
// Built once from a set of (prefix, value) pairs, then immutable: readers
// share it without locks and a reload builds a new table and swaps a pointer.
// The prefixes are flattened into disjoint address intervals, each holding the
// value of the longest prefix covering it; a lookup is a 16-bit direct index
// followed by a short binary search over a contiguous array of interval
// starts. Memory is about 8 bytes per interval for IPv4 and 20 for IPv6, plus
// the values themselves; a table of N prefixes has at most 2N+1 intervals.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/ip.hpp"

namespace omamori {

namespace lpm_detail {

using u128 = unsigned __int128;
inline constexpr uint32_t kNone = UINT32_MAX;

// One family's interval set. Key is uint32_t (IPv4) or u128 (IPv6).
template <typename Key>
class Intervals {
 public:
  struct Item {
    Key start;
    Key last;  // inclusive
    unsigned len;
    uint32_t value;
  };

  void build(std::vector<Item>& items);
  uint32_t find(Key k) const {
    if (starts_.empty()) return kNone;
    unsigned top = top16(k);
    uint32_t lo = index_[top];
    uint32_t hi = index_[top + 1];
    // The answer (last start <= k) lies in [lo, hi]: starts_[lo] <= k < next bucket.
    const Key* base = starts_.data();
    auto it = std::upper_bound(base + lo, base + hi + (hi < starts_.size() ? 1 : 0), k);
    return values_[static_cast<size_t>(it - base) - 1];
  }
  size_t intervals() const { return starts_.size(); }
  size_t memory_bytes() const {
    return starts_.capacity() * sizeof(Key) + values_.capacity() * sizeof(uint32_t) +
           index_.capacity() * sizeof(uint32_t);
  }

 private:
  static unsigned top16(Key k) { return static_cast<unsigned>(k >> (sizeof(Key) * 8 - 16)); }

  std::vector<Key> starts_;
  std::vector<uint32_t> values_;
  std::vector<uint32_t> index_;  // 65537 entries when non-empty
};

template <typename Key>
void Intervals<Key>::build(std::vector<Item>& items) {
  starts_.clear();
  values_.clear();
  index_.clear();
  if (items.empty()) return;
  // Outer (shorter) prefixes first at equal start; among duplicates the last added wins.
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.start != b.start ? a.start < b.start : a.len < b.len;
  });
  std::vector<Item> dedup;
  dedup.reserve(items.size());
  for (const auto& it : items) {
    if (!dedup.empty() && dedup.back().start == it.start && dedup.back().len == it.len)
      dedup.back() = it;
    else
      dedup.push_back(it);
  }
  auto emit = [&](Key pos, uint32_t v) {
    if (!starts_.empty() && starts_.back() == pos) {
      values_.back() = v;
      if (values_.size() >= 2 && values_[values_.size() - 2] == v) {
        starts_.pop_back();
        values_.pop_back();
      }
      return;
    }
    if (!values_.empty() && values_.back() == v) return;
    starts_.push_back(pos);
    values_.push_back(v);
  };
  starts_.push_back(0);
  values_.push_back(kNone);
  std::vector<std::pair<Key, uint32_t>> stack;  // (last, value)
  const Key kMax = static_cast<Key>(~Key(0));
  auto pop_until = [&](bool all, Key start) {
    while (!stack.empty() && (all || stack.back().first < start)) {
      Key e = stack.back().first;
      stack.pop_back();
      if (e == kMax) continue;
      emit(e + 1, stack.empty() ? kNone : stack.back().second);
    }
  };
  for (const auto& it : dedup) {
    pop_until(false, it.start);
    emit(it.start, it.value);
    stack.emplace_back(it.last, it.value);
  }
  pop_until(true, 0);
  starts_.shrink_to_fit();
  values_.shrink_to_fit();
  index_.assign(65537, 0);
  // index_[t] = position of the last interval starting at or before t<<shift.
  size_t pos = 0;
  for (unsigned t = 0; t <= 65535; ++t) {
    Key boundary = static_cast<Key>(Key(t) << (sizeof(Key) * 8 - 16));
    while (pos + 1 < starts_.size() && starts_[pos + 1] <= boundary) ++pos;
    index_[t] = static_cast<uint32_t>(pos);
  }
  index_[65536] = static_cast<uint32_t>(starts_.size() - 1);
}

inline uint32_t v4_key(const IpAddr& a) { return a.v4_host_order(); }
inline u128 v6_key(const IpAddr& a) { return (u128(a.hi()) << 64) | a.lo(); }

}  // namespace lpm_detail

template <typename V>
class LpmTable {
 public:
  class Builder {
   public:
    void add(const Prefix& p, V value) {
      uint32_t idx = static_cast<uint32_t>(values_.size());
      values_.push_back(std::move(value));
      if (p.is_v4()) {
        uint32_t s = lpm_detail::v4_key(p.addr());
        uint32_t last = p.len() == 0 ? UINT32_MAX : s | (p.len() == 32 ? 0 : (UINT32_MAX >> p.len()));
        v4_.push_back({s, last, p.len(), idx});
      } else {
        lpm_detail::u128 s = lpm_detail::v6_key(p.addr());
        lpm_detail::u128 ones = ~lpm_detail::u128(0);
        lpm_detail::u128 last = p.len() == 0 ? ones : s | (p.len() == 128 ? 0 : (ones >> p.len()));
        v6_.push_back({s, last, p.len(), idx});
      }
    }
    size_t size() const { return values_.size(); }
    LpmTable build() {
      LpmTable t;
      t.v4_.build(v4_);
      t.v6_.build(v6_);
      t.prefixes_ = values_.size();
      t.values_ = std::move(values_);
      t.values_.shrink_to_fit();
      v4_.clear();
      v6_.clear();
      values_.clear();
      return t;
    }

   private:
    std::vector<typename lpm_detail::Intervals<uint32_t>::Item> v4_;
    std::vector<typename lpm_detail::Intervals<lpm_detail::u128>::Item> v6_;
    std::vector<V> values_;
  };

  // The value of the longest prefix containing a, or nullptr.
  const V* lookup(const IpAddr& a) const {
    uint32_t i = a.is_v4() ? v4_.find(lpm_detail::v4_key(a)) : v6_.find(lpm_detail::v6_key(a));
    return i == lpm_detail::kNone ? nullptr : &values_[i];
  }

  size_t size() const { return prefixes_; }
  size_t intervals() const { return v4_.intervals() + v6_.intervals(); }
  // Bytes of the lookup structure plus sizeof(V) per value (not heap owned by V).
  size_t memory_bytes() const {
    return v4_.memory_bytes() + v6_.memory_bytes() + values_.capacity() * sizeof(V);
  }

 private:
  lpm_detail::Intervals<uint32_t> v4_;
  lpm_detail::Intervals<lpm_detail::u128> v6_;
  std::vector<V> values_;
  size_t prefixes_ = 0;
};

}  // namespace omamori
