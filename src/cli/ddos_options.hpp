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
  std::vector<std::string> groups;  // NAME=PREFIX[,PREFIX...][;KEY=VALUE...] (detect/ddos/group_spec.hpp)
  uint64_t pps = 0, bps = 0, fps = 0;
  uint64_t out_pps = 0, out_bps = 0, out_fps = 0;  // outbound (subscriber hosts attacking); 0 = default
  double baseline = 0;    // learned-baseline factor (0 = off)
  double end_after = 30;  // seconds

  void add_to(CLI::App* cmd);
  // --protect prefixes become the host group "protected" with the thresholds,
  // each --ddos-group its own group (starting from the same thresholds);
  // without either, every destination is watched with the thresholds (or the
  // defaults). Throws CommandError on a bad prefix or group.
  void apply(ddos::Config& cfg) const;
};

}  // namespace omamori::cli
