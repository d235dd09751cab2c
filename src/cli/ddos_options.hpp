// The DDoS detection options that `omamori analyze` and `omamori ddos watch`
// share: protected prefixes, per-host thresholds, when an attack ends.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "detect/ddos/ddos.hpp"

namespace omamori::cli {

struct DdosOptions {
  std::vector<std::string> protect;
  uint64_t pps = 0, bps = 0, fps = 0;
  double end_after = 30;  // seconds

  void add_to(CLI::App* cmd);
  // --protect prefixes become the host group "protected" with the thresholds;
  // without them every destination is watched with the thresholds (or the
  // defaults). Throws CommandError on a bad prefix.
  void apply(ddos::Config& cfg) const;
};

}  // namespace omamori::cli
