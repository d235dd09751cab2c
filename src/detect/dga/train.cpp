#include "detect/dga/train.hpp"

#include <absl/container/flat_hash_set.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

namespace omamori::dga {

namespace {
constexpr uint64_t kSplitSeed = 0x6f6d616d6f7269;  // "omamori"
constexpr uint64_t kFoldSeed = 0x666f6c6473;       // "folds"
constexpr int kFolds = 5;

int fold_of(std::string_view name) {
  return static_cast<int>(XXH64(name.data(), name.size(), kFoldSeed) % kFolds);
}

struct Prepared {
  std::string label, suffix;
  bool dga = false;
  int fold = 0;
  uint64_t order = 0;  // training order of the hashed model (a fixed shuffle)
};

int16_t quantise_signed(double v) {
  double q = std::clamp(v, -8.0, 8.0) * kLogScale;
  return static_cast<int16_t>(q < 0 ? q - 0.5 : q + 0.5);
}

// Fits the n-gram models and the suffix table on the prepared names not in
// fold `exclude` (-1: all).
void fit_tables(const std::vector<Prepared>& v, int exclude, const TrainParams& p, Model& m) {
  NgramCounts cb(static_cast<int>(p.order)), cd(static_cast<int>(p.order));
  std::map<std::string, std::pair<uint32_t, uint32_t>> tld;  // suffix -> (benign, dga)
  uint32_t nb = 0, nd = 0;
  for (const auto& s : v) {
    if (s.fold == exclude) continue;
    (s.dga ? cd : cb).add(s.label);
    auto& t = tld[s.suffix];
    (s.dga ? t.second : t.first)++;
    (s.dga ? nd : nb)++;
  }
  m.benign_ = NgramModel::build(cb, p.min_count);
  m.dga_ = NgramModel::build(cd, p.min_count);
  double S = static_cast<double>(tld.size());
  std::vector<std::pair<uint32_t, int16_t>> items;
  for (const auto& [suffix, c] : tld) {
    if (c.first + c.second < 3) continue;
    double lo = std::log((c.second + 1.0) / (nd + S)) - std::log((c.first + 1.0) / (nb + S));
    items.emplace_back(tld_key(suffix), quantise_signed(lo));
  }
  std::sort(items.begin(), items.end());
  // Distinct suffixes colliding on the 32-bit key: keep the first (deterministic).
  items.erase(std::unique(items.begin(), items.end(), [](auto& a, auto& b) { return a.first == b.first; }),
              items.end());
  m.tld_.build(items);
  std::vector<HashedNgramLr::Example> ex;
  for (const auto& s : v)
    if (s.fold != exclude) ex.push_back({s.label, tld_key(s.suffix), s.dga});
  m.hlr_ = HashedNgramLr(p.hashed_bits);
  m.hlr_.train(ex, p.hashed_epochs, p.hashed_rate, p.hashed_l2);
}

// Solves A x = b (n x n, row-major) by Gaussian elimination with partial pivoting.
bool solve(std::vector<double> a, std::vector<double> b, size_t n, std::vector<double>& x) {
  for (size_t c = 0; c < n; ++c) {
    size_t piv = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::fabs(a[r * n + c]) > std::fabs(a[piv * n + c])) piv = r;
    if (std::fabs(a[piv * n + c]) < 1e-12) return false;
    if (piv != c) {
      for (size_t k = 0; k < n; ++k) std::swap(a[c * n + k], a[piv * n + k]);
      std::swap(b[c], b[piv]);
    }
    for (size_t r = c + 1; r < n; ++r) {
      double f = a[r * n + c] / a[c * n + c];
      if (f == 0) continue;
      for (size_t k = c; k < n; ++k) a[r * n + k] -= f * a[c * n + k];
      b[r] -= f * b[c];
    }
  }
  x.assign(n, 0);
  for (size_t i = n; i-- > 0;) {
    double s = b[i];
    for (size_t k = i + 1; k < n; ++k) s -= a[i * n + k] * x[k];
    x[i] = s / a[i * n + i];
  }
  return true;
}

// L2-regularised logistic regression by Newton's method; w[0] is the bias.
std::vector<double> fit_logistic(const std::vector<Features>& x, const std::vector<uint8_t>& y, double l2) {
  const size_t d = kFeatures + 1;
  std::vector<double> w(d, 0.0);
  for (int iter = 0; iter < 100; ++iter) {
    std::vector<double> g(d, 0.0), h(d * d, 0.0);
    double row[kFeatures + 1];
    for (size_t i = 0; i < x.size(); ++i) {
      row[0] = 1.0;
      for (int j = 0; j < kFeatures; ++j) row[j + 1] = x[i][j];
      double z = 0;
      for (size_t j = 0; j < d; ++j) z += w[j] * row[j];
      double pr = 1.0 / (1.0 + std::exp(-z));
      double e = pr - y[i], v = std::max(pr * (1 - pr), 1e-12);
      for (size_t j = 0; j < d; ++j) {
        g[j] += e * row[j];
        for (size_t k = j; k < d; ++k) h[j * d + k] += v * row[j] * row[k];
      }
    }
    for (size_t j = 0; j < d; ++j)
      for (size_t k = 0; k < j; ++k) h[j * d + k] = h[k * d + j];
    for (size_t j = 1; j < d; ++j) {
      g[j] += l2 * w[j];
      h[j * d + j] += l2;
    }
    std::vector<double> step;
    if (!solve(h, g, d, step)) break;
    double mx = 0;
    for (size_t j = 0; j < d; ++j) {
      w[j] -= step[j];
      mx = std::max(mx, std::fabs(step[j]));
    }
    if (mx < 1e-9) break;
  }
  return w;
}
}  // namespace

bool in_test_part(std::string_view name) {
  return XXH64(name.data(), name.size(), kSplitSeed) % 10 >= 7;
}

bool load_dataset(const std::string& dga_path, const std::string& benign_path, Dataset& out, std::string& err) {
  absl::flat_hash_set<std::string> seen;
  for (int cls = 0; cls < 2; ++cls) {
    const std::string& path = cls == 0 ? dga_path : benign_path;
    std::ifstream in(path);
    if (!in) {
      err = "cannot open " + path;
      return false;
    }
    std::string line;
    while (std::getline(in, line)) {
      std::string_view s = line;
      s = s.substr(0, s.find(','));
      while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t' || s.back() == '.'))
        s.remove_suffix(1);
      while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
      if (s.empty() || s.size() > 253 || s.find_first_of(" \t") != std::string_view::npos) {
        ++out.invalid;
        continue;
      }
      std::string name(s);
      for (char& c : name)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (!seen.insert(name).second) {
        ++out.duplicates;
        continue;
      }
      bool test = in_test_part(name);
      (test ? out.test : out.train).push_back(Sample{std::move(name), cls == 0});
    }
  }
  return true;
}

std::unique_ptr<Model> train(const std::vector<Sample>& samples, const TrainParams& p) {
  std::vector<Prepared> prep;
  NameSplitter splitter;
  for (const auto& s : samples) {
    auto parts = splitter.split(s.name);
    if (parts.skip != Skip::kNone) continue;
    prep.push_back(Prepared{std::string(parts.label), std::string(parts.suffix), s.dga, fold_of(s.name),
                            XXH64(s.name.data(), s.name.size(), 7)});
  }
  std::sort(prep.begin(), prep.end(), [](const Prepared& a, const Prepared& b) {
    return a.order != b.order ? a.order < b.order : a.label + "." + a.suffix < b.label + "." + b.suffix;
  });
  // Out-of-fold features.
  std::vector<Features> x(prep.size());
  std::vector<uint8_t> y(prep.size());
  for (int k = 0; k < kFolds; ++k) {
    Model m;
    m.info_.order = p.order;
    fit_tables(prep, k, p, m);
    for (size_t i = 0; i < prep.size(); ++i)
      if (prep[i].fold == k) m.features(prep[i].label, prep[i].suffix, x[i]);
  }
  for (size_t i = 0; i < prep.size(); ++i) y[i] = prep[i].dga;
  // Standardise, fit, and fold the standardisation back into the weights.
  double mean[kFeatures] = {}, sd[kFeatures] = {};
  for (const auto& f : x)
    for (int j = 0; j < kFeatures; ++j) mean[j] += f[j];
  for (double& m : mean) m /= static_cast<double>(std::max<size_t>(x.size(), 1));
  for (const auto& f : x)
    for (int j = 0; j < kFeatures; ++j) sd[j] += (f[j] - mean[j]) * (f[j] - mean[j]);
  for (double& s : sd) {
    s = std::sqrt(s / static_cast<double>(std::max<size_t>(x.size(), 1)));
    if (s < 1e-9) s = 1.0;
  }
  std::vector<Features> xs = x;
  for (auto& f : xs)
    for (int j = 0; j < kFeatures; ++j) f[j] = (f[j] - mean[j]) / sd[j];
  auto w = fit_logistic(xs, y, p.l2);

  // Threshold on the out-of-fold benign decision values.
  std::vector<double> zb, zd;
  for (size_t i = 0; i < xs.size(); ++i) {
    double z = w[0];
    for (int j = 0; j < kFeatures; ++j) z += w[j + 1] * xs[i][j];
    (y[i] ? zd : zb).push_back(z);
  }
  std::sort(zb.begin(), zb.end(), std::greater<>());
  size_t allowed = static_cast<size_t>(std::floor(p.target_fpr * static_cast<double>(zb.size())));
  double t = 0;
  if (!zb.empty()) {
    if (allowed == 0)
      t = zb[0] + 1e-6;
    else if (allowed >= zb.size())
      t = zb.back() - 1e-6;
    else
      t = (zb[allowed - 1] + zb[allowed]) / 2;
  }
  auto model = std::make_unique<Model>();
  model->info_.order = p.order;
  model->info_.min_count = p.min_count;
  model->info_.target_fpr = p.target_fpr;
  size_t fp = 0, tp = 0;
  for (double z : zb) fp += z >= t;
  for (double z : zd) tp += z >= t;
  model->info_.train_fpr = zb.empty() ? 0 : double(fp) / double(zb.size());
  model->info_.train_recall = zd.empty() ? 0 : double(tp) / double(zd.size());
  model->info_.train_benign = static_cast<uint32_t>(zb.size());
  model->info_.train_dga = static_cast<uint32_t>(zd.size());
  double bias = w[0] - t;
  for (int j = 0; j < kFeatures; ++j) {
    model->weights_[j] = w[j + 1] / sd[j];
    bias -= w[j + 1] * mean[j] / sd[j];
  }
  model->bias_ = bias;
  fit_tables(prep, -1, p, *model);
  return model;
}

Evaluation evaluate(const Model& m, const std::vector<Sample>& samples, std::vector<const Sample*>* errors) {
  Evaluation e;
  Scorer sc(m);
  for (const auto& s : samples) {
    auto r = sc.score(s.name);
    if (r.skip != Skip::kNone) ++e.skipped;
    if (s.dga) {
      (r.dga ? e.tp : e.fn)++;
    } else {
      (r.dga ? e.fp : e.tn)++;
    }
    if (errors && r.dga != s.dga) errors->push_back(&s);
  }
  return e;
}

}  // namespace omamori::dga
