// A finding: what a detector concluded about one host, with the evidence.
//
// The unit that later parts consume (attribution, cases, the hub); its JSON
// schema is documented in docs/findings.md and must stay stable. Findings
// are few compared with records, so they use ordinary strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/ip.hpp"
#include "core/time.hpp"

namespace omamori {

// Finding types (the `type` key). Strings, so that new detectors can add types
// without breaking consumers; these are the ones omamori emits.
namespace finding_type {
inline constexpr std::string_view kReputationDns = "reputation-dns";    // queried a listed name / got a listed address
inline constexpr std::string_view kReputationFlow = "reputation-flow";  // contacted a listed address (and port)
inline constexpr std::string_view kDga = "dga";                         // queried algorithmically generated names
inline constexpr std::string_view kNxdomain = "nxdomain";               // abnormal rate of non-existent-domain answers
inline constexpr std::string_view kScan = "scan";                       // scanned many hosts on IoT ports
inline constexpr std::string_view kDarknet = "darknet";                 // sent traffic to unused address space
inline constexpr std::string_view kDdosSource = "ddos-source";          // a subscriber host sending attack traffic
inline constexpr std::string_view kDdosTarget = "ddos-target";          // a protected host under attack
inline constexpr std::string_view kC2Candidate = "c2-candidate";        // destination contacted by suspected hosts
}  // namespace finding_type

struct Finding {
  std::string type;
  IpAddr host;  // the subscriber-side (or protected) address the finding is about
  TimeMs first = 0;
  TimeMs last = 0;
  std::string indicator;  // what was matched or seen: name, address, address:port, vector
  std::string feed;       // source of the indicator, or the detector name
  std::string category;   // c2, malware, sinkhole, phishing, scanner, dga, ddos, ...
  std::string family;     // malware family / attack vector when known
  uint64_t events = 0;    // number of supporting events (queries, flows, packets)
  uint8_t confidence = 0; // 0-100
  std::string explanation;  // one line in plain words
  std::vector<std::pair<std::string, std::string>> details;  // extra evidence, key -> value (JSON strings)
};

class FindingSink {
 public:
  virtual ~FindingSink() = default;
  virtual void on_finding(const Finding& f) = 0;
};

// JSON object (one line) with keys type, host, first, last, indicator, feed,
// category, family, events, confidence, explanation, and `details` when present.
std::string finding_to_json(const Finding& f);

// Parses one JSON line as written by finding_to_json (docs/findings.md).
// `type` is required; other keys are optional (absent = empty/zero); unknown
// keys are ignored (new keys may be added). On failure returns false and
// sets *reason to a static string for ReasonCounters ("invalid json", "not
// an object", "missing type", "bad host", "bad time", "bad number",
// "wrong value type", "bad details").
bool finding_from_json(std::string_view line, Finding& out, const char** reason);

// Collects findings in memory (batch analysis).
class FindingCollector final : public FindingSink {
 public:
  void on_finding(const Finding& f) override { findings.push_back(f); }
  std::vector<Finding> findings;
};

}  // namespace omamori
