// The UDP collector's Prometheus metrics (see src/metrics/exporter.hpp),
// read from its published per-worker counters at scrape time.
#pragma once

#include <vector>

#include "ingest/collector/collector.hpp"
#include "metrics/exporter.hpp"

namespace omamori {

// omamori_collector_{datagrams,bytes,records,decode_errors,kernel_drops,
// queue_full_drops,truncated_drops,receive_errors,templates_expired}_total
// per worker (labels listen, port, worker), decode errors by reason and by
// (exporter, reason), drops by reason.
void collector_samples(const Collector& c, std::vector<metrics::Sample>& out);

}  // namespace omamori
