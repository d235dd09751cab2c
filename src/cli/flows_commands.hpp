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
// The UDP collector's options (listen addresses, workers, buffers, queues,
// template state), shared by `flows collect` and `ddos watch`.
// Starts the Prometheus endpoint when listen is not empty (CommandError when it cannot listen).
std::unique_ptr<metrics::Exporter> start_metrics(const std::string& listen, const char* command);  // flows_collect.cpp
// `metrics` receives --metrics ADDR:PORT (Prometheus endpoint, "" = none).
void add_collector_options(CLI::App* cmd, CollectorConfig& c, double& template_timeout,
                           std::string& metrics);  // flows_collect.cpp
}  // namespace omamori::cli
