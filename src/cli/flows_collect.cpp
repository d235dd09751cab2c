// `omamori flows collect`: the UDP collector.
#include "cli/common.hpp"
#include "cli/flows_commands.hpp"

namespace omamori::cli {
void register_flows_collect(CLI::App& flows) {
  auto* cmd = flows.add_subcommand("collect", "Receive NetFlow/IPFIX/sFlow exports over UDP");
  cmd->callback([] { throw CommandError(kFailure, "flows collect: not built yet"); });
}
}  // namespace omamori::cli
