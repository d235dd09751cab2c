// `omamori flows`: read flow exports from pcaps, meter raw traffic, collect over UDP.
#include <fmt/format.h>

#include "cli/common.hpp"
#include "cli/flows_commands.hpp"

namespace omamori::cli {

void register_flows(CLI::App& app) {
  auto* flows = app.add_subcommand("flows", "Flow telemetry: decode, meter, collect, filter and aggregate flows");
  flows->require_subcommand(1);
  register_flows_read(*flows);
  register_flows_meter(*flows);
  register_flows_collect(*flows);
}

}  // namespace omamori::cli
