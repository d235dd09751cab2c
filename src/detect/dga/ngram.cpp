#include "detect/dga/ngram.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace omamori::dga {

namespace {

// Base-40 code of the last k symbols of hist[0..len), padded on the left with 0.
uint32_t tail_code(const uint8_t* hist, size_t len, int k) {
  uint32_t code = 0;
  for (int j = k; j >= 1; --j) {
    uint8_t s = static_cast<size_t>(j) <= len ? hist[len - static_cast<size_t>(j)] : 0;
    code = code * kSymbols + s;
  }
  return code;
}

void put_u32(std::vector<uint8_t>& o, uint32_t v) {
  o.push_back(static_cast<uint8_t>(v >> 24));
  o.push_back(static_cast<uint8_t>(v >> 16));
  o.push_back(static_cast<uint8_t>(v >> 8));
  o.push_back(static_cast<uint8_t>(v));
}
void put_u16(std::vector<uint8_t>& o, uint16_t v) {
  o.push_back(static_cast<uint8_t>(v >> 8));
  o.push_back(static_cast<uint8_t>(v));
}
}  // namespace

void NgramCounts::add(std::string_view label) {
  uint8_t hist[256];
  size_t len = 0;
  size_t n = std::min<size_t>(label.size(), 255);
  for (size_t i = 0; i <= n; ++i) {
    uint8_t c = i < n ? symbol_of(label[i]) : 0;
    for (int k = 1; k <= order_; ++k) {
      uint32_t h = tail_code(hist, len, k - 1);
      uint32_t& g = grams[k][h * kSymbols + c + 1];
      Ctx& x = ctxs[k][h + 1];
      if (g == 0) ++x.distinct;
      ++g;
      ++x.total;
    }
    if (i < n) hist[len++] = c;
  }
}

double NgramCounts::prob(int n, const uint8_t* hist, size_t len, uint8_t c) const {
  if (n == 0) return 1.0 / kSymbols;
  double lower = prob(n - 1, hist, len, c);
  uint32_t h = tail_code(hist, len, n - 1);
  auto it = ctxs[n].find(h + 1);
  if (it == ctxs[n].end()) return lower;
  auto g = grams[n].find(h * kSymbols + c + 1);
  double cnt = g == grams[n].end() ? 0.0 : g->second;
  double t = it->second.distinct, tot = it->second.total;
  return (cnt + t * lower) / (tot + t);
}

void KeyTable::build(const std::vector<std::pair<uint32_t, int16_t>>& items) {
  uint32_t cap = 16;
  while (cap < items.size() * 2) cap <<= 1;  // load factor <= 0.5
  slots_.assign(cap, Slot{0, 0, 0});
  mask_ = cap - 1;
  count_ = items.size();
  for (const auto& [k, v] : items) {
    uint32_t i = slot(k);
    while (slots_[i].key != 0) i = (i + 1) & mask_;
    slots_[i] = Slot{k, v, 0};
  }
}

void KeyTable::save(std::vector<uint8_t>& out) const {
  put_u32(out, static_cast<uint32_t>(slots_.size()));
  for (const Slot& s : slots_) put_u32(out, s.key);
  for (const Slot& s : slots_) put_u16(out, static_cast<uint16_t>(s.val));
}

bool KeyTable::load(ByteReader& r) {
  uint32_t cap = r.u32();
  if (!r.ok() || cap < 16 || cap > (1u << 24) || (cap & (cap - 1)) != 0) return false;
  if (!r.has(static_cast<size_t>(cap) * 6)) return false;
  slots_.assign(cap, Slot{0, 0, 0});
  count_ = 0;
  for (auto& s : slots_) {
    s.key = r.u32();
    if (s.key != 0) ++count_;
  }
  for (auto& s : slots_) s.val = static_cast<int16_t>(r.u16());
  mask_ = cap - 1;
  // A full table would make find() loop: require empty slots.
  return r.ok() && count_ < cap;
}

NgramModel NgramModel::build(const NgramCounts& c, uint32_t min_count) {
  NgramModel m;
  m.order_ = c.order();
  m.dense_.resize(static_cast<size_t>(kSymbols) * kSymbols * kSymbols);
  for (int h1 = 0; h1 < kSymbols; ++h1)
    for (int h2 = 0; h2 < kSymbols; ++h2) {
      uint8_t hist[2] = {static_cast<uint8_t>(h1), static_cast<uint8_t>(h2)};
      for (int s = 0; s < kSymbols; ++s)
        m.dense_[(static_cast<size_t>(h1) * kSymbols + h2) * kSymbols + s] =
            quantise_log(std::log(c.prob(std::min(kDenseOrder, m.order_), hist, 2, static_cast<uint8_t>(s))));
    }
  for (int n = kDenseOrder + 1; n <= m.order_; ++n) {
    std::vector<std::pair<uint32_t, int16_t>> grams, ctxs;
    uint8_t hist[kMaxOrder];
    for (const auto& [key, cnt] : c.grams[n]) {
      if (cnt < min_count) continue;
      uint32_t code = key - 1;
      uint8_t sym = static_cast<uint8_t>(code % kSymbols);
      uint32_t h = code / kSymbols;
      for (int j = n - 2; j >= 0; --j) {
        hist[j] = static_cast<uint8_t>(h % kSymbols);
        h /= kSymbols;
      }
      grams.emplace_back(key, quantise_log(std::log(c.prob(n, hist, static_cast<size_t>(n - 1), sym))));
    }
    for (const auto& [key, x] : c.ctxs[n])
      ctxs.emplace_back(key, quantise_log(std::log(double(x.distinct) / (double(x.total) + x.distinct))));
    if (n == kDenseOrder + 1) {
      // Dense: every 3-symbol history has a slot; 0 (log 1) for an unseen one means "no back-off penalty",
      // which is what an unseen history gives (a seen one has weight T/(C+T) < 1).
      m.ctx4_.assign(static_cast<size_t>(kSymbols) * kSymbols * kSymbols, 0);
      for (const auto& [key, v] : ctxs) m.ctx4_[key - 1] = v;
      ctxs.clear();
    }
    // Sorted, so that the table layout (and the model file) does not depend on hash-map order.
    std::sort(grams.begin(), grams.end());
    std::sort(ctxs.begin(), ctxs.end());
    m.grams_[n].build(grams);
    m.ctxs_[n].build(ctxs);
  }
  return m;
}

int32_t NgramModel::logprob(const uint8_t* syms, size_t n) const {
  int32_t total = 0;
  // codes[k]: base-40 code of the last k symbols (padded with 0).
  uint32_t codes[kMaxOrder] = {0, 0, 0, 0, 0, 0};
  for (size_t i = 0; i <= n; ++i) {
    uint8_t c = i < n ? syms[i] : 0;
    int32_t lp = 0;
    bool done = false;
    for (int k = order_; k > kDenseOrder; --k) {
      uint32_t h = codes[k - 1];
      int16_t v;
      if (grams_[k].find(h * kSymbols + c + 1, v)) {
        lp += v;
        done = true;
        break;
      }
      if (k == kDenseOrder + 1)
        lp += ctx4_[h];
      else if (ctxs_[k].find(h + 1, v))
        lp += v;
    }
    if (!done) lp += dense_[codes[2] * kSymbols + c];
    total += lp;
    // Shift c into the history codes.
    for (int k = kMaxOrder - 1; k >= 1; --k) codes[k] = (codes[k - 1]) * kSymbols + c;
    codes[0] = 0;
  }
  return total;
}

void NgramModel::prefetch(const uint8_t* syms, size_t n) const {
  if (order_ <= kDenseOrder) return;
  const size_t k = static_cast<size_t>(order_ - 1);  // history length of the highest order
  uint32_t top = 1;                                  // weight of the oldest history symbol
  for (size_t i = 1; i < k; ++i) top *= kSymbols;
  uint32_t h = 0;
  for (size_t i = 0; i <= n; ++i) {
    uint8_t c = i < n ? syms[i] : 0;
    grams_[order_].prefetch(h * kSymbols + c + 1);
    uint32_t out = i >= k ? syms[i - k] : 0;  // the symbol leaving the history (padding is 0)
    h = (h - out * top) * kSymbols + c;
  }
}

size_t NgramModel::bytes() const {
  size_t b = dense_.size() * 2 + ctx4_.size() * 2;
  for (int n = 0; n <= kMaxOrder; ++n) b += grams_[n].bytes() + ctxs_[n].bytes();
  return b;
}

void NgramModel::save(std::vector<uint8_t>& out) const {
  out.push_back(static_cast<uint8_t>(order_));
  for (int16_t v : dense_) put_u16(out, static_cast<uint16_t>(v));
  for (int16_t v : ctx4_) put_u16(out, static_cast<uint16_t>(v));
  for (int n = kDenseOrder + 1; n <= order_; ++n) {
    grams_[n].save(out);
    if (n > kDenseOrder + 1) ctxs_[n].save(out);
  }
}

bool NgramModel::load(ByteReader& r) {
  order_ = r.u8();
  if (!r.ok() || order_ < kDenseOrder || order_ > kMaxOrder) return false;
  size_t nd = static_cast<size_t>(kSymbols) * kSymbols * kSymbols;
  if (!r.has(nd * 2)) return false;
  dense_.resize(nd);
  for (auto& v : dense_) v = static_cast<int16_t>(r.u16());
  if (order_ > kDenseOrder) {
    if (!r.has(nd * 2)) return false;
    ctx4_.resize(nd);
    for (auto& v : ctx4_) v = static_cast<int16_t>(r.u16());
  }
  for (int n = kDenseOrder + 1; n <= order_; ++n)
    if (!grams_[n].load(r) || (n > kDenseOrder + 1 && !ctxs_[n].load(r))) return false;
  return r.ok();
}

void HashedNgramLr::train(const std::vector<Example>& ex, int epochs, double rate, double l2) {
  size_t size = size_t{1} << bits_;
  std::vector<float> w(size, 0.0f), g2(size, 1e-8f);
  double bias = 0, gb = 1e-8;
  std::vector<uint32_t> feats;
  uint8_t syms[256];
  for (int ep = 0; ep < epochs; ++ep) {
    for (const auto& e : ex) {
      size_t n = std::min<size_t>(e.label.size(), 253);
      for (size_t i = 0; i < n; ++i) syms[i] = symbol_of(e.label[i]);
      feats.clear();
      for_each_feature(syms, n, e.suffix_key, [&](uint32_t b) { feats.push_back(b); });
      double z = bias;
      for (uint32_t b : feats) z += w[b];
      double p = 1.0 / (1.0 + std::exp(-z));
      double g = p - (e.dga ? 1.0 : 0.0);
      for (uint32_t b : feats) {
        double gi = g + l2 * w[b];
        g2[b] = static_cast<float>(g2[b] + gi * gi);
        w[b] = static_cast<float>(w[b] - rate * gi / std::sqrt(static_cast<double>(g2[b])));
      }
      gb += g * g;
      bias -= rate * g / std::sqrt(gb);
    }
  }
  w_.resize(size);
  for (size_t i = 0; i < size; ++i) {
    double q = std::clamp(static_cast<double>(w[i]), -15.9, 15.9) * kScale;
    w_[i] = static_cast<int16_t>(q < 0 ? q - 0.5 : q + 0.5);
  }
  bias_ = bias;
}

void HashedNgramLr::save(std::vector<uint8_t>& out) const {
  out.push_back(static_cast<uint8_t>(bits_));
  uint64_t b;
  std::memcpy(&b, &bias_, 8);
  put_u32(out, static_cast<uint32_t>(b >> 32));
  put_u32(out, static_cast<uint32_t>(b));
  for (int16_t v : w_) put_u16(out, static_cast<uint16_t>(v));
}

bool HashedNgramLr::load(ByteReader& r) {
  bits_ = r.u8();
  if (!r.ok() || bits_ < 10 || bits_ > 24) return false;
  uint64_t b = r.u64();
  std::memcpy(&bias_, &b, 8);
  if (!std::isfinite(bias_)) return false;
  size_t size = size_t{1} << bits_;
  if (!r.has(size * 2)) return false;
  w_.resize(size);
  for (auto& v : w_) v = static_cast<int16_t>(r.u16());
  return r.ok();
}

}  // namespace omamori::dga
