// Training and evaluation of the DGA model.
//
// Split: a name belongs to the held-out test part when XXH64(name, seed
// "omamori") % 10 >= 7 (30%), otherwise to the training part (70%). Names
// are lower-cased and stripped of a trailing dot first, and duplicates (also
// across the two files) are dropped, so the split is a pure function of the
// name and anyone can reproduce it.
//
// Training: the n-gram models and the suffix table are fitted 5 times on 4/5
// of the training part to compute out-of-fold features for the other 1/5
// (so that the logistic regression never sees a name scored by a model that
// has memorised it); the logistic regression (Newton's method, L2) is fitted
// on those; the threshold is the out-of-fold benign score quantile that
// gives the target false-positive rate; the shipped n-gram models and suffix
// table are finally fitted on the whole training part. Deterministic: the
// same input files give a byte-identical model file.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "detect/dga/model.hpp"

namespace omamori::dga {

struct Sample {
  std::string name;
  bool dga = false;
};

struct Dataset {
  std::vector<Sample> train, test;
  size_t duplicates = 0;  // dropped
  size_t invalid = 0;     // empty lines, names with spaces, lines longer than 253
};

bool in_test_part(std::string_view normalised_name);
// Reads the two files (one name a line; a CSV's first column) and splits them.
bool load_dataset(const std::string& dga_path, const std::string& benign_path, Dataset& out, std::string& err);

struct TrainParams {
  uint32_t order = 4;
  uint32_t min_count = 2;    // n-grams of order >= 4 seen fewer times are pruned
  double l2 = 1.0;           // on standardised features
  double target_fpr = 0.01;  // on the out-of-fold training scores
  int hashed_bits = 20;      // hashed n-gram logistic regression: 2^bits weights
  int hashed_epochs = 8;
  double hashed_rate = 0.1;
  double hashed_l2 = 1e-6;
};

std::unique_ptr<Model> train(const std::vector<Sample>& samples, const TrainParams& p);

struct Evaluation {
  uint64_t tp = 0, fp = 0, tn = 0, fn = 0;
  uint64_t skipped = 0;  // not scored (IDN, service labels); counted as "benign" verdicts
  double precision() const { return tp + fp ? double(tp) / double(tp + fp) : 0.0; }
  double recall() const { return tp + fn ? double(tp) / double(tp + fn) : 0.0; }
  double f1() const {
    double p = precision(), r = recall();
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
  }
  double fpr() const { return fp + tn ? double(fp) / double(fp + tn) : 0.0; }
};
Evaluation evaluate(const Model& m, const std::vector<Sample>& samples, std::vector<const Sample*>* errors = nullptr);

}  // namespace omamori::dga
