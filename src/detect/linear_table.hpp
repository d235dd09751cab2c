// An open-addressing hash table with linear probing over a power-of-two slot
// array, at most 3/4 full, for the detectors' per-record lookups: one cache
// miss for most lookups, where a Swiss table (absl::flat_hash_map) takes two
// (its control bytes, then the slot). The slot type carries the key (or
// enough of it) and says:
//   bool is_empty() const;       a default-constructed slot is empty
//   uint64_t pos_hash() const;   a mixed 64-bit hash: its high bits pick the slot
// Lookups pass the same hash and a predicate. There is no single erase:
// rebuild_if() keeps the slots a predicate keeps (bulk eviction; the
// predicate may change a slot's value, never its key).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace omamori {

inline constexpr uint64_t kGoldenMul = 0x9e3779b97f4a7c15ull;

// A 64-bit mix of two words whose high bits are usable as a slot index.
inline uint64_t mix64(uint64_t a, uint64_t b) {
  uint64_t h = (a ^ (b * kGoldenMul)) * 0xbf58476d1ce4e5b9ull;
  h ^= h >> 31;
  return h * kGoldenMul;
}

// Starts loading the cache line at p (a hint; never faults).
inline void prefetch_line(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));  // GCC 12 drops some __builtin_prefetch
#else
  __builtin_prefetch(p);
#endif
}

template <typename Slot>
class LinearTable {
 public:
  template <typename Match>
  Slot* find(uint64_t pos_hash, Match&& match) {
    if (slots_.empty()) return nullptr;
    for (size_t i = pos_hash >> shift_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.is_empty()) return nullptr;
      if (match(s)) return &s;
    }
  }
  template <typename Match>
  const Slot* find(uint64_t pos_hash, Match&& match) const {
    return const_cast<LinearTable*>(this)->find(pos_hash, std::forward<Match>(match));
  }
  // Starts loading the slot a lookup with this hash begins at.
  void prefetch(uint64_t pos_hash) const {
    if (!slots_.empty()) prefetch_line(slots_.data() + (pos_hash >> shift_));
  }
  void insert(const Slot& s) {  // s must not be in the table
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    place(s);
    ++size_;
  }
  template <typename Keep>
  void rebuild_if(Keep&& keep) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.size(), Slot{});
    size_ = 0;
    for (Slot& s : old)  // keep() may change what a slot holds
      if (!s.is_empty() && keep(s)) {
        place(s);
        ++size_;
      }
  }
  template <typename F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_)
      if (!s.is_empty()) f(s);
  }
  size_t size() const { return size_; }
  size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  void place(const Slot& s) {
    size_t i = s.pos_hash() >> shift_;
    while (!slots_[i].is_empty()) i = (i + 1) & mask_;
    slots_[i] = s;
  }
  void grow() {
    size_t n = slots_.empty() ? 1024 : slots_.size() * 2;
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(n, Slot{});
    mask_ = n - 1;
    shift_ = 64 - std::countr_zero(n);
    for (const Slot& s : old)
      if (!s.is_empty()) place(s);
  }
  std::vector<Slot> slots_;
  size_t size_ = 0, mask_ = 0;
  int shift_ = 64;
};

}  // namespace omamori
