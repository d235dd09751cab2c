// The simulator's own pseudo-random numbers: xoshiro256** seeded through
// splitmix64. Only integer arithmetic, so the same seed gives the same
// numbers on every platform and standard library (std:: distributions are
// implementation-defined and would make the bundle differ between builds).
// Callers draw at most once per expression: the order in which C++
// evaluates function arguments or operands is unspecified, and two draws in
// one call made release and sanitizer builds generate different worlds.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace omamori::sim {

inline uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// FNV-1a, for deriving independent streams from names.
inline uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (auto& w : s_) w = splitmix64(x);
  }
  // An independent stream for one part of the simulation: tuning one part
  // does not change the numbers another part draws.
  Rng(uint64_t seed, std::string_view stream) : Rng(seed ^ fnv1a(stream)) {}

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n) (n > 0), without modulo bias (Lemire's method).
  uint64_t below(uint64_t n) {
    if (n <= 1) return 0;
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
    uint64_t l = static_cast<uint64_t>(m);
    if (l < n) {
      uint64_t t = (0 - n) % n;
      while (l < t) {
        m = static_cast<unsigned __int128>(next()) * n;
        l = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }
  // Uniform in [lo, hi] (inclusive).
  int64_t range(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1)); }
  // True with probability per_mille / 1000.
  bool chance(uint32_t per_mille) { return below(1000) < per_mille; }
  // Exponential-like waiting time with the given mean (integer units): a
  // geometric mixture that needs no floating-point library calls.
  int64_t wait(int64_t mean) {
    // Sum of two uniforms on [0, mean] has mean `mean`; a long tail comes
    // from an occasional x3 stretch.
    int64_t v = range(0, mean);  // one draw per statement: C++ leaves the order within one expression open
    v += range(0, mean) / 2;
    v += range(0, mean) / 2;
    if (chance(100)) v *= 3;
    return v;
  }
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Picks an index with probability proportional to integer weights.
class WeightedPicker {
 public:
  explicit WeightedPicker(const std::vector<uint64_t>& weights) {
    uint64_t sum = 0;
    for (uint64_t w : weights) cum_.push_back(sum += w);
  }
  size_t pick(Rng& r) const {
    uint64_t x = r.below(cum_.back());
    size_t lo = 0, hi = cum_.size() - 1;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (cum_[mid] > x)
        hi = mid;
      else
        lo = mid + 1;
    }
    return lo;
  }
  size_t size() const { return cum_.size(); }

 private:
  std::vector<uint64_t> cum_;
};

}  // namespace omamori::sim
