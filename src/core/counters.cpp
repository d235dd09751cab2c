#include "core/counters.hpp"

#include <map>

namespace omamori {

uint64_t ReasonCounters::count(std::string_view reason) const {
  uint64_t n = 0;
  for (const auto& [r, c] : by_reason_)
    if (reason == r) n += c;
  return n;
}

uint64_t ReasonCounters::total() const {
  uint64_t n = 0;
  for (const auto& [r, c] : by_reason_) n += c;
  return n;
}

std::vector<ReasonCounters::Row> ReasonCounters::snapshot(bool per_source) const {
  // The same reason text may live at several addresses (one per translation unit).
  std::map<std::pair<std::string, std::string>, uint64_t> agg;
  if (per_source) {
    for (const auto& [k, c] : by_source_) agg[{k.first.str(), k.second}] += c;
  } else {
    for (const auto& [r, c] : by_reason_) agg[{"", r}] += c;
  }
  std::vector<Row> rows;
  rows.reserve(agg.size());
  for (auto& [k, c] : agg) rows.push_back({k.first, k.second, c});
  return rows;
}

void ReasonCounters::merge(const ReasonCounters& o) {
  for (const auto& [r, c] : o.by_reason_) by_reason_[r] += c;
  for (const auto& [k, c] : o.by_source_) by_source_[k] += c;
}

}  // namespace omamori
