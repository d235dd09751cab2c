// Prometheus metrics for the long-running commands (`flows collect`, `ddos
// watch`): GET /metrics on --metrics ADDR:PORT, served by prometheus-cpp's
// exposer on its own thread.
//
// Components keep their own counters (atomics, ReasonCounters published by
// their owning thread); a component hands the exporter a function that turns
// them into samples, called at scrape time on the exposer's thread. Nothing
// is added to any hot path.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/counters.hpp"

namespace omamori::metrics {

struct Sample {
  std::string name;  // omamori_<component>_<what>[_total]
  std::string help;
  bool counter = true;  // else a gauge
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

// Appends one counter sample per reason of c (label "reason", all sources
// summed) under `name`; with by_source_name also one per (source, reason)
// under that second name (labels "source", "reason"; bounded by
// ReasonCounters::kMaxSourceRows).
void add_reasons(std::vector<Sample>& out, const std::string& name, const std::string& help, const ReasonCounters& c,
                 const std::vector<std::pair<std::string, std::string>>& labels = {},
                 const std::string& by_source_name = "");

class Exporter {
 public:
  using Source = std::function<void(std::vector<Sample>&)>;

  // Serves on `listen` ("127.0.0.1:9464", "[::1]:9464", port 0 = any free
  // port). Throws std::runtime_error when it cannot listen.
  explicit Exporter(const std::string& listen);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  // Adds a source of samples (before or while serving; sources must outlive
  // the exporter or be removed by destroying it first).
  void add_source(Source s);
  uint16_t port() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace omamori::metrics
