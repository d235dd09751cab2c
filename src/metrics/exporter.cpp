#include "metrics/exporter.hpp"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include <map>
#include <mutex>
#include <stdexcept>

namespace omamori::metrics {

void add_reasons(std::vector<Sample>& out, const std::string& name, const std::string& help, const ReasonCounters& c,
                 const std::vector<std::pair<std::string, std::string>>& labels, const std::string& by_source_name) {
  for (const auto& row : c.snapshot(false)) {
    Sample s{name, help, true, labels, static_cast<double>(row.count)};
    s.labels.emplace_back("reason", row.reason);
    out.push_back(std::move(s));
  }
  if (by_source_name.empty()) return;
  for (const auto& row : c.snapshot(true)) {
    if (row.source.empty()) continue;
    Sample s{by_source_name, help + ", by source", true, labels, static_cast<double>(row.count)};
    s.labels.emplace_back("source", row.source);
    s.labels.emplace_back("reason", row.reason);
    out.push_back(std::move(s));
  }
}

struct Exporter::Impl final : prometheus::Collectable {
  mutable std::mutex mu;
  std::vector<Source> sources;
  std::unique_ptr<prometheus::Exposer> exposer;

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<Sample> samples;
    {
      std::lock_guard lk(mu);
      for (const auto& s : sources) s(samples);
    }
    std::map<std::string, prometheus::MetricFamily> families;
    for (auto& s : samples) {
      auto& f = families[s.name];
      if (f.name.empty()) {
        f.name = s.name;
        f.help = s.help;
        f.type = s.counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
      }
      prometheus::ClientMetric m;
      for (auto& [k, v] : s.labels) m.label.push_back({k, v});
      if (s.counter)
        m.counter.value = s.value;
      else
        m.gauge.value = s.value;
      f.metric.push_back(std::move(m));
    }
    std::vector<prometheus::MetricFamily> out;
    out.reserve(families.size());
    for (auto& [_, f] : families) out.push_back(std::move(f));
    return out;
  }
};

Exporter::Exporter(const std::string& listen) : impl_(std::make_shared<Impl>()) {
  // civetweb's listening_ports syntax: "127.0.0.1:9464", "[::1]:9464", "0" style ports.
  try {
    impl_->exposer = std::make_unique<prometheus::Exposer>(listen, 1);
  } catch (const std::exception& e) {
    throw std::runtime_error("metrics: cannot listen on " + listen + ": " + e.what());
  }
  impl_->exposer->RegisterCollectable(impl_);
}

Exporter::~Exporter() {
  // Stop serving before the sources (and what they read) go away.
  impl_->exposer.reset();
}

void Exporter::add_source(Source s) {
  std::lock_guard lk(impl_->mu);
  impl_->sources.push_back(std::move(s));
}

uint16_t Exporter::port() const {
  auto ports = impl_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : static_cast<uint16_t>(ports[0]);
}

}  // namespace omamori::metrics
