// Host verdict: all findings about one host combined into one score with a
// readable explanation (which evidence, how strong).
//
// Each finding contributes its confidence times a weight for its type
// (reputation of a C&C name counts more than a single NXDOMAIN burst); the
// contributions combine like independent evidence (noisy-OR), so two
// medium findings of different kinds outweigh one, and repeats of the same
// kind add little.
#pragma once

#include <string>
#include <vector>

#include "detect/finding.hpp"

namespace omamori {

struct HostVerdict {
  IpAddr host;
  double score = 0;  // 0..100
  std::string level;  // "infected", "suspicious", "watch"
  TimeMs first = 0, last = 0;
  size_t findings = 0;
  std::vector<std::string> evidence;  // one line per finding type, strongest first
  std::string explanation;
};

// Verdicts for every host with findings (c2-candidate and ddos-target
// findings are about destinations, not infected hosts, and are left out),
// highest score first.
std::vector<HostVerdict> host_verdicts(const std::vector<Finding>& findings);

}  // namespace omamori
