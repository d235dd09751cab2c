// `omamori flows meter FILE...`: the built-in flow meter over raw traffic.
#include "cli/common.hpp"
#include "cli/flows_commands.hpp"

namespace omamori::cli {
void register_flows_meter(CLI::App& flows) {
  auto* cmd = flows.add_subcommand("meter", "Turn raw traffic (pcap files or a live interface) into flows");
  cmd->callback([] { throw CommandError(kFailure, "flows meter: not built yet"); });
}
}  // namespace omamori::cli
