#include "cli/ddos_options.hpp"

#include "cli/common.hpp"
#include "detect/ddos/group_spec.hpp"

namespace omamori::cli {

void DdosOptions::add_to(CLI::App* cmd) {
  cmd->add_option("--protect", protect, "Protected prefixes for DDoS detection; default: every destination");
  cmd->add_option("--ddos-pps", pps, "DDoS threshold, packets/s per protected host (default 20000)");
  cmd->add_option("--ddos-bps", bps, "DDoS threshold, bits/s per protected host (default 1e9)");
  cmd->add_option("--ddos-fps", fps, "DDoS threshold, flows/s per protected host (default 3500)");
  cmd->add_option("--ddos-baseline", baseline,
                  "Learned-baseline factor: an attack also when a host's packet rate exceeds this many times its own "
                  "average (after a 300 s warm-up, never below 1000 packets/s); 0 = off")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  cmd->add_option("--ddos-group", groups,
                  "A host group with its own thresholds, repeatable: NAME=PREFIX[,PREFIX...][;KEY=VALUE...], keys "
                  "pps, bps, fps, baseline, baseline-min-pps, warmup, and prefix-pps/-bps/-fps/-baseline for each "
                  "prefix as a whole (carpet bombing); unset keys take --ddos-pps/-bps/-fps/--ddos-baseline");
  cmd->add_option("--ddos-out-pps", out_pps,
                  "Outbound: packets/s from one subscriber host that make it an attack participant (default 5000; "
                  "needs --subscribers)");
  cmd->add_option("--ddos-out-bps", out_bps, "Outbound: bits/s from one subscriber host (default 1e8)");
  cmd->add_option("--ddos-out-fps", out_fps, "Outbound: flow records/s from one subscriber host (default: not used)");
  cmd->add_option("--ddos-end-after", end_after, "Seconds below threshold before an attack ends")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
}

void DdosOptions::apply(ddos::Config& cfg) const {
  ddos::Thresholds th = cfg.default_host;
  if (pps || bps || fps) th = ddos::Thresholds{pps, bps, fps};
  th.baseline_factor = baseline;
  auto prot = parse_prefixes(protect, "--protect");
  if (!prot.empty()) cfg.groups.push_back(ddos::HostGroup{"protected", prot, th, {}});
  for (const auto& spec : groups) {
    std::string err;
    auto g = ddos::parse_group_spec(spec, th, err);
    if (!g) throw CommandError(kUsage, "--ddos-group: " + err);
    cfg.groups.push_back(std::move(*g));
  }
  if (cfg.groups.empty()) cfg.default_host = th;
  if (out_pps || out_bps || out_fps) cfg.outbound = ddos::Thresholds{out_pps, out_bps, out_fps};
  cfg.end_after_ms = static_cast<TimeMs>(end_after * 1000);
}

}  // namespace omamori::cli
