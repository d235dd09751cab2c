// DGA scoring: is a domain name algorithmically generated?
//
// The score is computed from the registered-domain label (libpsl): "k2j4x9q"
// for "www.k2j4x9q.co.uk". Features: the label's log-likelihood under a
// character n-gram model of benign names and under one of DGA names (their
// difference is the strongest single feature), entropy, length, digit ratio,
// vowel ratio, longest consonant and digit runs, hyphens, hex-likeness,
// digit/letter alternation, distinct-character ratio, the log-odds of the
// public suffix, and the output of a logistic regression over hashed
// character n-grams (a discriminative counterpart of the n-gram models). A logistic regression combines them; the model
// (n-gram tables, suffix table, weights) is trained by `omamori dga train` and shipped as data/dga/model.bin, which is
// embedded into the binary.
//
// The score is the logistic output shifted so that the decision threshold
// (chosen on the training part for a false-positive rate <= 1%) is 0.5:
// score >= 0.5 means verdict "dga".
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "detect/dga/ngram.hpp"

namespace omamori::dga {

// Why a name is not scored (score 0, verdict benign).
enum class Skip : uint8_t {
  kNone = 0,
  kEmpty,     // no label (empty name, "..")
  kReverse,   // in-addr.arpa / ip6.arpa
  kService,   // the label starts with '_' (SRV/mDNS service labels)
  kIdn,       // punycode label (xn--): not modelled
  kTooLong,   // longer than 253 characters
  kPlatform,  // under a cloud/CDN platform suffix whose labels are generated IDs (cloudfront.net, ...)
};
// The platform suffixes (public suffixes of the PSL's private section whose
// customer labels are machine-made IDs by design).
bool is_platform_suffix(std::string_view suffix);
std::string_view skip_name(Skip s);

// Splits a name into its registered-domain label and public suffix, with a
// small per-instance cache of public-suffix answers (libpsl is slow: ~1.7 us
// a call). Not thread-safe: one per thread. No allocation per name after the
// cache has seen the suffix.
class NameSplitter {
 public:
  NameSplitter();
  struct Parts {
    std::string_view label;   // registered-domain label (or the first label when there is none)
    std::string_view suffix;  // public suffix after it ("co.uk"), may be empty
    std::string_view rd;      // registered domain ("example.co.uk"), empty when none
    std::string_view name;    // the whole name, normalised
    Skip skip = Skip::kNone;
  };
  // name is copied (lower-cased, trailing dot removed) into an internal
  // buffer; the views point into it and stay valid until the next call.
  Parts split(std::string_view name);

 private:
  bool public_suffix(std::string_view s);
  struct Entry {
    uint64_t hash = 0;
    uint8_t len = 0;
    bool ps = false;
    char text[62] = {};
  };
  static constexpr size_t kCacheSize = 2048;
  std::unique_ptr<Entry[]> cache_;
  char buf_[256];
};

inline constexpr int kBaseFeatures = 16;
inline constexpr int kLengthBuckets = 4;  // label length <= 7, 8-10, 11-14, >= 15: one set of weights each
inline constexpr int kFeatures = kBaseFeatures * kLengthBuckets + kLengthBuckets;
int length_bucket(size_t label_length);
using Features = std::array<double, kFeatures>;
extern const char* const kFeatureNames[kBaseFeatures];

struct ModelInfo {
  uint32_t order = 4;
  uint32_t min_count = 2;
  uint32_t train_benign = 0;
  uint32_t train_dga = 0;
  double target_fpr = 0.0;
  double train_fpr = 0.0;     // out-of-fold, at the chosen threshold
  double train_recall = 0.0;  // out-of-fold
};

class Model {
 public:
  // Parses a model file's bytes; returns nullptr and sets err when invalid.
  static std::unique_ptr<Model> parse(std::span<const uint8_t> bytes, std::string& err);
  static std::unique_ptr<Model> load(const std::string& path, std::string& err);
  // The model embedded at build time (data/dga/model.bin), or nullptr (err set) when the binary has none.
  static const Model* builtin(std::string& err);
  std::vector<uint8_t> serialize() const;

  // Features of a split label. syms/n: the label as symbols.
  void features(std::string_view label, std::string_view suffix, Features& f) const;
  // The decision value: >= 0 means "dga". score = 1 / (1 + exp(-z)).
  double decision(const Features& f) const;
  double tld_log_odds(std::string_view suffix) const;

  const ModelInfo& info() const { return info_; }
  const NgramModel& benign_model() const { return benign_; }
  const NgramModel& dga_model() const { return dga_; }
  size_t bytes() const { return benign_.bytes() + dga_.bytes() + tld_.bytes() + hlr_.bytes(); }

  // Training fills these (see train.cpp).
  ModelInfo info_;
  NgramModel benign_, dga_;
  KeyTable tld_;  // key: tld_key(suffix) -> quantised log-odds
  HashedNgramLr hlr_;
  std::array<double, kFeatures> weights_{};
  double bias_ = 0;  // includes the threshold shift
};

uint32_t tld_key(std::string_view suffix);

// Scores names with a model. Not thread-safe (one per thread); no allocation per name.
class Scorer {
 public:
  explicit Scorer(const Model& m) : m_(m) {}
  struct Result {
    double score = 0;  // 0..1, >= 0.5 is "dga"
    bool dga = false;
    Skip skip = Skip::kNone;
  };
  Result score(std::string_view name);
  // Also returns the features and the split (for explanations and tests).
  Result score(std::string_view name, Features* f, NameSplitter::Parts* parts);
  const Model& model() const { return m_; }

 private:
  const Model& m_;
  NameSplitter split_;
};

}  // namespace omamori::dga
