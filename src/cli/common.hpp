// Shared pieces of the command-line interface: exit codes, global options,
// and the flow output options (format, filter, aggregation) that every
// `flows` subcommand offers.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "core/counters.hpp"
#include "core/ip.hpp"
#include "flow/aggregate.hpp"
#include "flow/filter.hpp"
#include "flow/format.hpp"

namespace omamori::cli {

// Exit codes, documented in docs/cli.md.
enum Exit : int {
  kOk = 0,
  kFailure = 1,       // the command ran but failed (e.g. some input could not be read)
  kUsage = 2,         // bad arguments or configuration
  kDataErrors = 3,    // finished, but input had malformed records (counted, see stderr)
};

// The code main() returns once the command callback has run.
int& exit_code();

// Thrown by commands to exit with a message and a code.
struct CommandError : std::runtime_error {
  CommandError(int c, const std::string& m) : std::runtime_error(m), code(c) {}
  int code;
};

struct FlowOutputOptions {
  std::string format = "table";
  std::string filter;
  std::string aggregate;  // keys, e.g. "src,dport"
  std::string order = "bytes";
  size_t top = 0;
  double bin_seconds = 0;
  bool renormalise = false;
  std::string output = "-";

  void add_to(CLI::App* app);
  // Builds the sink chain: filter -> (renormalise) -> writer or aggregator.
  // Throws CommandError on bad options.
  FlowSink& open();
  // Flushes the writer or prints the aggregation; returns records output.
  uint64_t finish();
  // Writes out records buffered so far (live inputs); no-op when aggregating.
  void flush();

 private:
  std::FILE* out_ = nullptr;
  std::unique_ptr<FlowFilter> filter_;
  std::unique_ptr<FlowWriter> writer_;
  std::unique_ptr<FlowAggregator> agg_;
  std::unique_ptr<FlowSink> renorm_;
  std::unique_ptr<FilteringSink> filtering_;
  OutputFormat fmt_ = OutputFormat::Table;
};

// Parses address prefixes given to option `what`; throws CommandError (kUsage) naming the bad one.
std::vector<Prefix> parse_prefixes(const std::vector<std::string>& v, const char* what);

// Prints counters to stderr as "context: reason (source): count" lines.
void report_errors(const std::string& context, const ReasonCounters& c, bool per_source);

// Each command group registers its subcommands.
void register_flows(CLI::App& app);
void register_intel(CLI::App& app);
void register_dns(CLI::App& app);
void register_analyze(CLI::App& app);
void register_dga(CLI::App& app);  // dga.cpp
void register_cases(CLI::App& app);        // cases.cpp
void register_subscribers(CLI::App& app);  // subscribers.cpp
void register_c2(CLI::App& app);   // c2.cpp
void register_audit(CLI::App& app);  // audit.cpp (privacy)
void register_notify(CLI::App& app);  // notify.cpp
void register_radius(CLI::App& app);  // radius.cpp
void register_who(CLI::App& app);     // who.cpp (attribution)
void register_cases_ingest(CLI::App& app);  // cases_ingest.cpp (after register_cases)
void register_demo(CLI::App& app);          // demo.cpp
void register_retention(CLI::App& app);  // retention.cpp (privacy)
void register_simulate(CLI::App& app);  // simulate.cpp
void register_export(CLI::App& app);    // export.cpp (privacy)
void register_ddos(CLI::App& app);      // ddos.cpp (live DDoS detection)

}  // namespace omamori::cli
