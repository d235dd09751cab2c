#include "cli/ddos_options.hpp"

#include "cli/common.hpp"

namespace omamori::cli {

void DdosOptions::add_to(CLI::App* cmd) {
  cmd->add_option("--protect", protect, "Protected prefixes for DDoS detection; default: every destination");
  cmd->add_option("--ddos-pps", pps, "DDoS threshold, packets/s per protected host (default 20000)");
  cmd->add_option("--ddos-bps", bps, "DDoS threshold, bits/s per protected host (default 1e9)");
  cmd->add_option("--ddos-fps", fps, "DDoS threshold, flows/s per protected host (default 3500)");
  cmd->add_option("--ddos-end-after", end_after, "Seconds below threshold before an attack ends")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
}

void DdosOptions::apply(ddos::Config& cfg) const {
  ddos::Thresholds th = cfg.default_host;
  if (pps || bps || fps) th = ddos::Thresholds{pps, bps, fps};
  auto prot = parse_prefixes(protect, "--protect");
  if (!prot.empty())
    cfg.groups.push_back(ddos::HostGroup{"protected", prot, th, {}});
  else
    cfg.default_host = th;
  cfg.end_after_ms = static_cast<TimeMs>(end_after * 1000);
}

}  // namespace omamori::cli
