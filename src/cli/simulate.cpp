// `omamori simulate`: generates a small ISP's data (subscribers, RADIUS
// accounting, border capture with infected subscribers, feeds, ground truth).
#include <fmt/format.h>

#include <cstdlib>

#include "cli/common.hpp"
#include "simulate/simulate.hpp"

namespace omamori::cli {

void register_simulate(CLI::App& app) {
  auto o = std::make_shared<sim::Options>();
  const char* env = std::getenv("OMAMORI_SHARED_DATA");
  o->shared_data = env && *env ? env : "../shared/data";
  auto* cmd = app.add_subcommand(
      "simulate",
      "Generate a small ISP deterministically: subscribers, RADIUS accounting, border traffic with infected "
      "subscribers and real captures woven in, feeds and the ground truth (the demo bundle)");
  cmd->add_option("--out", o->out, "Output directory")->required();
  cmd->add_option("--seed", o->seed, "Seed: the same seed gives byte-identical output")->capture_default_str();
  cmd->add_option("--subscribers", o->subscribers, "Number of subscribers (40-500)")
      ->check(CLI::Range(40, 500))
      ->capture_default_str();
  cmd->add_option("--hours", o->hours, "Length of the simulated window in hours (6-168)")
      ->check(CLI::Range(6, 168))
      ->capture_default_str();
  cmd->add_option("--start", o->start, "Start of the window (RFC 3339, UTC)")->capture_default_str();
  cmd->add_option("--data", o->shared_data,
                  "The real data to weave in (names, DGA lists, Maltrail trails, DDoS and DNS captures); default "
                  "$OMAMORI_SHARED_DATA or ../shared/data")
      ->capture_default_str();
  cmd->callback([o] {
    sim::Summary s;
    try {
      s = sim::simulate(*o);
    } catch (const std::invalid_argument& e) {
      throw CommandError(kUsage, e.what());
    } catch (const std::exception& e) {
      throw CommandError(kFailure, e.what());
    }
    fmt::print("{}: {} subscribers, {} sessions, {} frames, {} ground-truth entries; {} files\n", o->out,
               s.subscribers, s.sessions, s.frames, s.infections, s.files.size());
  });
}

}  // namespace omamori::cli
