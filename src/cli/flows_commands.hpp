#pragma once

#include <CLI/CLI.hpp>

namespace omamori::cli {
void register_flows_read(CLI::App& flows);     // flows_read.cpp
void register_flows_meter(CLI::App& flows);    // flows_meter.cpp
void register_flows_collect(CLI::App& flows);  // flows_collect.cpp
}  // namespace omamori::cli
