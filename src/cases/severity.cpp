// State, severity and outcome names; the severity of a finding.
#include <array>

#include "cases/case.hpp"

namespace omamori::cases {

namespace {
constexpr std::array<std::string_view, 6> kStates = {"detected", "notified", "acknowledged",
                                                     "resolved", "reinfected", "closed"};
constexpr std::array<std::string_view, 4> kSeverities = {"none", "low", "medium", "high"};
}  // namespace

std::string_view state_name(State s) { return kStates[static_cast<size_t>(s)]; }

std::optional<State> parse_state(std::string_view s) {
  for (size_t i = 0; i < kStates.size(); ++i)
    if (kStates[i] == s) return static_cast<State>(i);
  return std::nullopt;
}

std::string_view severity_name(Severity s) { return kSeverities[static_cast<size_t>(s)]; }

std::optional<Severity> parse_severity(std::string_view s) {
  for (size_t i = 0; i < kSeverities.size(); ++i)
    if (kSeverities[i] == s) return static_cast<Severity>(i);
  return std::nullopt;
}

std::string_view outcome_name(IngestOutcome o) {
  static constexpr std::array<std::string_view, 6> k = {"new-case", "added",        "duplicate",
                                                        "reinfected", "unattributed", "ignored"};
  return k[static_cast<size_t>(o)];
}

Severity severity_of(const Finding& f) {
  namespace t = finding_type;
  Severity s;
  if (f.type == t::kDdosTarget || f.type == t::kC2Candidate) return Severity::kNone;
  if (f.type == t::kDdosSource || f.type == t::kScan) {
    s = Severity::kHigh;
  } else if (f.type == t::kReputationDns || f.type == t::kReputationFlow) {
    const auto& c = f.category;
    if (c == "c2" || c == "sinkhole" || c == "malware")
      s = Severity::kHigh;
    else if (c == "scanner" || c == "spam" || c == "suspicious")
      s = Severity::kLow;
    else  // malware-download, phishing, dga, unknown categories
      s = Severity::kMedium;
  } else if (f.type == t::kDga || f.type == t::kDarknet) {
    s = Severity::kMedium;
  } else {  // nxdomain, types added later
    s = Severity::kLow;
  }
  // Weak evidence lowers the severity one step, never below low.
  if (f.confidence < 50 && s > Severity::kLow) s = static_cast<Severity>(static_cast<int>(s) - 1);
  return s;
}

}  // namespace omamori::cases
