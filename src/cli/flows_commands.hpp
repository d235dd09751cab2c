#pragma once

#include <CLI/CLI.hpp>

#include "ingest/collector/collector.hpp"

namespace omamori::cli {
void register_flows_read(CLI::App& flows);     // flows_read.cpp
void register_flows_meter(CLI::App& flows);    // flows_meter.cpp
void register_flows_collect(CLI::App& flows);  // flows_collect.cpp
// The UDP collector's options (listen addresses, workers, buffers, queues,
// template state), shared by `flows collect` and `ddos watch`.
void add_collector_options(CLI::App* cmd, CollectorConfig& c, double& template_timeout);  // flows_collect.cpp
}  // namespace omamori::cli
