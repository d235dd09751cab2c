#include "ingest/collector/metrics.hpp"

#include <string>

namespace omamori {

void collector_samples(const Collector& c, std::vector<metrics::Sample>& out) {
  for (const auto& w : c.worker_stats()) {
    std::vector<std::pair<std::string, std::string>> l{
        {"listen", w.listen}, {"port", std::to_string(w.port)}, {"worker", std::to_string(w.worker)}};
    auto add = [&](const char* name, const char* help, uint64_t v) {
      out.push_back({name, help, true, l, static_cast<double>(v)});
    };
    add("omamori_collector_datagrams_total", "Datagrams received", w.datagrams);
    add("omamori_collector_bytes_total", "Bytes received (UDP payload)", w.bytes);
    add("omamori_collector_records_total", "Flow records decoded", w.records);
    add("omamori_collector_decode_errors_total", "Malformed input counted by the decoders", w.decode_errors);
    add("omamori_collector_kernel_drops_total", "Datagrams dropped by the kernel (socket buffer full)", w.kernel_drops);
    add("omamori_collector_queue_full_drops_total", "Records dropped: output queue full", w.queue_full_drops);
    add("omamori_collector_truncated_drops_total", "Datagrams longer than the receive buffer (not decoded)",
        w.truncated_drops);
    add("omamori_collector_receive_errors_total", "recvmmsg failures other than timeouts", w.receive_errors);
    add("omamori_collector_templates_expired_total", "NetFlow v9/IPFIX templates aged out", w.templates_expired);
  }
  metrics::add_reasons(out, "omamori_collector_decode_errors_by_reason_total", "Malformed input by reason",
                       c.all_errors(), {}, "omamori_collector_decode_errors_by_exporter_total");
  metrics::add_reasons(out, "omamori_collector_drops_by_reason_total", "Drops by reason", c.all_drops());
}

}  // namespace omamori
