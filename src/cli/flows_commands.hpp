#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "ingest/collector/collector.hpp"
#include "metrics/exporter.hpp"

namespace omamori::cli {
void register_flows_read(CLI::App& flows);     // flows_read.cpp
void register_flows_meter(CLI::App& flows);    // flows_meter.cpp
void register_flows_collect(CLI::App& flows);  // flows_collect.cpp

// The UDP collector as a command runs it, shared by `flows collect` and
// `ddos watch` (flows_collect.cpp): its options (listen addresses, workers,
// buffers, queues, template state, counters, --metrics) and its lifecycle.
struct CollectorCommand {
  CollectorConfig cfg;
  double template_timeout = 1800;  // seconds
  std::string metrics;             // --metrics ADDR:PORT ("" = no Prometheus endpoint)
  bool stats = false;

  void add_to(CLI::App* cmd);
  // Opens the collector (CommandError when it cannot), serves --metrics (the
  // collector's counters plus `more`), announces the bound ports on stderr as
  // "<label>: listening ADDR->PORT ..." (scripts and tests that listen on
  // port 0 read them there), and runs it into `sink` until SIGINT/SIGTERM,
  // --count or --duration. `col` must have been made from cfg().
  void run(Collector& col, FlowSink& sink, const char* label, metrics::Exporter::Source more = {});
  // Prints the final counters (--stats), decode errors by reason and exporter
  // and drops by reason; true when any input was malformed or dropped.
  bool report(const Collector& col) const;
  // The collector's configuration with the command-line settings applied.
  CollectorConfig config() const;
  // --stats, or --stats-interval (which implies it).
  bool show_stats() const { return stats || cfg.stats_interval > 0; }
};
}  // namespace omamori::cli
