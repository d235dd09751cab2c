// Character n-gram language models of domain labels (Witten-Bell interpolated).
//
// Training counts n-grams of orders 1..N over labels padded with a boundary
// symbol; the compact form used for scoring holds, for orders 1-3, the full
// interpolated probability of every (2-symbol history, symbol) pair in a dense
// table, and for orders 4..N the interpolated log-probabilities of the seen
// n-grams plus the log back-off weight of each seen history in exact-key hash
// tables (keys are base-40 numbers, so no collisions). Log-probabilities are
// natural logs quantised to 1/1000 and held as int16.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"

namespace omamori::dga {

// Symbols: 0 boundary, 1-26 a-z, 27-36 0-9, 37 '-', 38 '_', 39 anything else.
inline constexpr int kSymbols = 40;
inline constexpr int kMaxOrder = 6;  // 40^6 < 2^32: every key fits a uint32
inline constexpr int kDenseOrder = 3;
inline constexpr double kLogScale = 1000.0;  // quantised value = round(ln p * 1000)

inline uint8_t symbol_of(char c) {
  if (c >= 'a' && c <= 'z') return static_cast<uint8_t>(1 + (c - 'a'));
  if (c >= 'A' && c <= 'Z') return static_cast<uint8_t>(1 + (c - 'A'));
  if (c >= '0' && c <= '9') return static_cast<uint8_t>(27 + (c - '0'));
  if (c == '-') return 37;
  if (c == '_') return 38;
  return 39;
}

// Counts of one class of labels.
class NgramCounts {
 public:
  explicit NgramCounts(int order) : order_(order) {}
  int order() const { return order_; }
  void add(std::string_view label);
  // Interpolated probability P_n(c | last n-1 symbols of hist[0..len)).
  double prob(int n, const uint8_t* hist, size_t len, uint8_t c) const;

  struct Ctx {
    uint32_t total = 0;     // C(h)
    uint32_t distinct = 0;  // T(h)
  };
  int order_;
  absl::flat_hash_map<uint32_t, uint32_t> grams[kMaxOrder + 1];  // key: base-40 code of h.c, + 1
  absl::flat_hash_map<uint32_t, Ctx> ctxs[kMaxOrder + 1];        // key: base-40 code of h, + 1
};

// Open-addressing table uint32 key -> int16 value (key 0 = empty), key and
// value side by side so that a probe touches one cache line.
class KeyTable {
 public:
  void build(const std::vector<std::pair<uint32_t, int16_t>>& items);
  void prefetch(uint32_t key) const {
    if (mask_) __builtin_prefetch(&slots_[slot(key)]);
  }
  bool find(uint32_t key, int16_t& v) const {
    if (mask_ == 0) return false;
    uint32_t i = slot(key);
    while (true) {
      const Slot& s = slots_[i];
      if (s.key == key) {
        v = s.val;
        return true;
      }
      if (s.key == 0) return false;
      i = (i + 1) & mask_;
    }
  }
  size_t size() const { return count_; }
  size_t bytes() const { return slots_.size() * sizeof(Slot); }
  void save(std::vector<uint8_t>& out) const;
  bool load(ByteReader& r);

 private:
  struct Slot {
    uint32_t key;
    int16_t val;
    int16_t pad;
  };
  uint32_t slot(uint32_t key) const { return static_cast<uint32_t>((key * 0x9E3779B97F4A7C15ull) >> 40) & mask_; }
  std::vector<Slot> slots_;
  uint32_t mask_ = 0;
  size_t count_ = 0;
};

// The compact scoring form of one class model.
class NgramModel {
 public:
  // min_count[n]: n-grams of order n >= 4 seen fewer times are left out (the
  // model backs off for them).
  static NgramModel build(const NgramCounts& c, uint32_t min_count);
  int order() const { return order_; }
  // Sum of quantised log-probabilities of the symbols and the end boundary
  // (syms[0..n) are symbol ids, without padding).
  int32_t logprob(const uint8_t* syms, size_t n) const;
  // Prefetches the first probe of every highest-order n-gram of the label.
  void prefetch(const uint8_t* syms, size_t n) const;
  size_t bytes() const;
  void save(std::vector<uint8_t>& out) const;
  bool load(ByteReader& r);

 private:
  int order_ = 0;
  std::vector<int16_t> dense_;     // [h1 * 40 * 40 + h2 * 40 + c], kSymbols^3
  std::vector<int16_t> ctx4_;      // order-4 back-off weights by 3-symbol history (0 = unseen), kSymbols^3
  KeyTable grams_[kMaxOrder + 1];  // orders 4..N
  KeyTable ctxs_[kMaxOrder + 1];   // orders 5..N
};

// A discriminative model: logistic regression over hashed character n-grams
// (orders 1..5 of the boundary-padded label), the public suffix and the
// length. Weights are quantised to int16 (1/2048 steps).
class HashedNgramLr {
 public:
  static constexpr int kMaxN = 5;
  static constexpr double kScale = 2048.0;
  static constexpr size_t kMaxBuckets = (kMaxN + 2) * 256 + 16;  // features of a label of <= 253 symbols
  explicit HashedNgramLr(int bits = 20) : bits_(bits) {}
  int bits() const { return bits_; }
  // Calls fn(bucket) for every feature of the label (symbols) and suffix key.
  template <typename Fn>
  void for_each_feature(const uint8_t* syms, size_t n, uint32_t suffix_key, Fn&& fn) const {
    const uint32_t shift = static_cast<uint32_t>(32 - bits_);
    // Positions -1 and n are the boundary symbol 0.
    for (size_t i = 0; i <= n + 1; ++i) {
      uint32_t h = 0x811c9dc5u;
      for (size_t k = 0; k < kMaxN && i + k <= n + 1; ++k) {
        size_t pos = i + k;  // index into the padded sequence
        uint32_t s = (pos == 0 || pos == n + 1) ? 0u : syms[pos - 1];
        h = (h ^ (s + 1)) * 0x01000193u;
        fn(((h ^ static_cast<uint32_t>(k)) * 0x9E3779B1u) >> shift);
      }
    }
    fn(((suffix_key ^ 0xa5a5a5a5u) * 0x9E3779B1u) >> shift);
    fn(((static_cast<uint32_t>(std::min<size_t>(n, 40)) + 0x5bd1e995u) * 0x85ebca6bu) >> shift);
    // The label's shape (consonant / vowel / digit / other per character), alone and with the suffix and length.
    uint32_t shape = 0x9747b28cu;
    for (size_t i = 0; i < n; ++i) {
      uint8_t s = syms[i];
      uint32_t cls = (s >= 27 && s <= 36)                                            ? 2u
                     : s > 36                                                        ? 3u
                     : (s == 1 || s == 5 || s == 9 || s == 15 || s == 21 || s == 25) ? 1u
                                                                                     : 0u;
      shape = (shape ^ (cls + 1)) * 0x01000193u;
    }
    fn(((shape ^ 0x3c6ef372u) * 0x9E3779B1u) >> shift);
    fn((((shape ^ suffix_key) + 0x7f4a7c15u) * 0x9E3779B1u) >> shift);
    fn((((suffix_key * 0x85ebca6bu) ^ static_cast<uint32_t>(std::min<size_t>(n, 40))) * 0x9E3779B1u) >> shift);
    // Bigrams of the padded label together with the suffix.
    for (size_t i = 0; i <= n; ++i) {
      uint32_t a = i == 0 ? 0u : syms[i - 1], b = i == n ? 0u : syms[i];
      fn((((a * 41u + b + 1u) * 0xcc9e2d51u ^ suffix_key) * 0x9E3779B1u) >> shift);
    }
    // Letters together with the length.
    for (size_t i = 0; i < n; ++i)
      fn((((syms[i] + 1u) * 0x27d4eb2du ^ (static_cast<uint32_t>(std::min<size_t>(n, 40)) * 0x165667b1u)) *
          0x9E3779B1u) >>
         shift);
  }
  // Feature buckets of a label into out (room for kMaxBuckets), prefetching their weights.
  size_t buckets(const uint8_t* syms, size_t n, uint32_t suffix_key, uint32_t* out) const {
    size_t k = 0;
    for_each_feature(syms, n, suffix_key, [&](uint32_t b) {
      __builtin_prefetch(&w_[b]);
      out[k++] = b;
    });
    return k;
  }
  double score_buckets(const uint32_t* b, size_t k) const {
    int32_t z = 0;
    for (size_t i = 0; i < k; ++i) z += w_[b[i]];
    return bias_ + z / kScale;
  }
  double score(const uint8_t* syms, size_t n, uint32_t suffix_key) const {
    int32_t z = 0;
    for_each_feature(syms, n, suffix_key, [&](uint32_t b) { z += w_[b]; });
    return bias_ + z / kScale;
  }
  // Trains on (label, suffix key, class) with AdaGrad, a fixed number of epochs in the given order.
  struct Example {
    std::string_view label;
    uint32_t suffix_key;
    bool dga;
  };
  void train(const std::vector<Example>& ex, int epochs, double rate, double l2);
  size_t bytes() const { return w_.size() * 2; }
  void save(std::vector<uint8_t>& out) const;
  bool load(ByteReader& r);

 private:
  int bits_;
  std::vector<int16_t> w_;
  double bias_ = 0;
};

inline int16_t quantise_log(double lp) {
  double q = lp * kLogScale;
  if (q < -32000) q = -32000;
  if (q > 0) q = 0;
  return static_cast<int16_t>(q < 0 ? q - 0.5 : q + 0.5);
}

}  // namespace omamori::dga
