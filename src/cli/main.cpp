// omamori — one binary, subcommands per task. See docs/cli.md.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/common.hpp"
#include "core/log.hpp"

int main(int argc, char** argv) {
  using namespace omamori::cli;
  CLI::App app{
      "omamori: find botnet-infected devices, DDoS and C&C from an ISP's flow and DNS data, warn "
      "subscribers, share through a hub; privacy built in."};
  app.set_version_flag("--version", std::string("omamori ") + OMAMORI_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  // Settings come from a TOML file; command-line flags override it. Sections
  // name the subcommand path, e.g. [flows.collect] listen = ["0.0.0.0:2055"].
  app.set_config("-c,--config", "", "TOML configuration file (flags override its settings)");
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "Log level: trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.parse_complete_callback([&] { omamori::setup_logging(log_level); });

  register_flows(app);
  register_intel(app);
  register_dns(app);
  register_analyze(app);
  register_dga(app);
  register_cases(app);
  register_subscribers(app);
  register_c2(app);
  register_audit(app);
  register_notify(app);
  register_radius(app);
  register_who(app);
  register_cases_ingest(app);
  register_demo(app);
  register_retention(app);
  register_simulate(app);
  register_export(app);
  register_ddos(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kUsage;
  } catch (const CommandError& e) {
    fmt::print(stderr, "omamori: {}\n", e.what());
    return e.code;
  } catch (const std::exception& e) {
    fmt::print(stderr, "omamori: {}\n", e.what());
    return kFailure;
  }
  return exit_code();
}
