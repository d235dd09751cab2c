#include "detect/verdict.hpp"

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace omamori {

namespace {
double type_weight(std::string_view type, std::string_view category) {
  if (type == finding_type::kReputationDns || type == finding_type::kReputationFlow) {
    if (category == "sinkhole") return 1.0;  // talking to a sinkhole: the malware is running
    if (category == "c2") return 1.0;
    return 0.8;
  }
  if (type == finding_type::kScan) return 0.9;
  if (type == finding_type::kDdosSource) return 0.9;
  if (type == finding_type::kDga) return 0.8;
  if (type == finding_type::kDarknet) return 0.6;
  if (type == finding_type::kNxdomain) return 0.5;
  return 0.5;
}
}  // namespace

std::vector<HostVerdict> host_verdicts(const std::vector<Finding>& findings) {
  struct Acc {
    HostVerdict v;
    std::map<std::string, std::pair<double, std::string>> by_type;  // strongest finding per type
  };
  absl::flat_hash_map<IpAddr, Acc> acc;
  for (const auto& f : findings) {
    if (f.type == finding_type::kC2Candidate || f.type == finding_type::kDdosTarget || f.host.empty()) continue;
    Acc& a = acc[f.host];
    if (a.v.findings == 0) {
      a.v.host = f.host;
      a.v.first = f.first;
      a.v.last = f.last;
    }
    a.v.first = std::min(a.v.first, f.first);
    a.v.last = std::max(a.v.last, f.last);
    ++a.v.findings;
    double p = std::clamp(f.confidence / 100.0, 0.0, 1.0) * type_weight(f.type, f.category);
    auto& slot = a.by_type[f.type];
    if (p > slot.first) {
      std::string what = f.indicator.empty() ? f.type : f.type + " " + f.indicator;
      if (!f.family.empty() && f.family != f.indicator) what += " (" + f.family + ")";
      slot = {p, what};
    }
  }
  std::vector<HostVerdict> out;
  out.reserve(acc.size());
  for (auto& [host, a] : acc) {
    double miss = 1.0;
    std::vector<std::pair<double, std::string>> ev;
    for (auto& [type, s] : a.by_type) {
      miss *= 1.0 - s.first;
      ev.push_back(s);
    }
    std::sort(ev.begin(), ev.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
    HostVerdict v = std::move(a.v);
    v.score = 100.0 * (1.0 - miss);
    v.level = v.score >= 80 ? "infected" : v.score >= 50 ? "suspicious" : "watch";
    std::string list;
    for (auto& [p, what] : ev) {
      v.evidence.push_back(fmt::format("{} (strength {:.0f})", what, p * 100));
      list += (list.empty() ? "" : "; ") + v.evidence.back();
    }
    v.explanation = fmt::format("{}: {} (score {:.0f}) from {} finding(s) of {} kind(s): {}", v.host.str(), v.level,
                                v.score, v.findings, ev.size(), list);
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(), [](const HostVerdict& a, const HostVerdict& b) {
    return a.score != b.score ? a.score > b.score : a.host < b.host;
  });
  return out;
}

}  // namespace omamori
