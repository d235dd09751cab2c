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

#include <cstdint>
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
  absl::flat_hash_map<uint32_t, Ctx> ctxs[kMaxOrder + 1];         // key: base-40 code of h, + 1
};

// Open-addressing table uint32 key -> int16 value (key 0 = empty).
class KeyTable {
 public:
  void build(const std::vector<std::pair<uint32_t, int16_t>>& items);
  bool find(uint32_t key, int16_t& v) const {
    if (mask_ == 0) return false;
    uint32_t i = slot(key);
    while (true) {
      uint32_t k = keys_[i];
      if (k == key) {
        v = vals_[i];
        return true;
      }
      if (k == 0) return false;
      i = (i + 1) & mask_;
    }
  }
  size_t size() const { return count_; }
  size_t bytes() const { return keys_.size() * 6; }
  void save(std::vector<uint8_t>& out) const;
  bool load(ByteReader& r);

 private:
  uint32_t slot(uint32_t key) const { return static_cast<uint32_t>((key * 0x9E3779B97F4A7C15ull) >> 40) & mask_; }
  std::vector<uint32_t> keys_;
  std::vector<int16_t> vals_;
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
  size_t bytes() const;
  void save(std::vector<uint8_t>& out) const;
  bool load(ByteReader& r);

 private:
  int order_ = 0;
  std::vector<int16_t> dense_;  // [h1 * 40 * 40 + h2 * 40 + c], kSymbols^3
  KeyTable grams_[kMaxOrder + 1];
  KeyTable ctxs_[kMaxOrder + 1];
};

inline int16_t quantise_log(double lp) {
  double q = lp * kLogScale;
  if (q < -32000) q = -32000;
  if (q > 0) q = 0;
  return static_cast<int16_t>(q < 0 ? q - 0.5 : q + 0.5);
}

}  // namespace omamori::dga
