// `omamori flows collect`: the UDP collector (NetFlow v5/v9, IPFIX, sFlow v5).
// See docs/collector.md.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>

#include "cli/common.hpp"
#include "cli/flows_commands.hpp"
#include "ingest/collector/collector.hpp"
#include "ingest/collector/metrics.hpp"

namespace omamori::cli {

namespace {

struct CollectOptions {
  CollectorCommand collector;
  FlowOutputOptions out;
};

Collector* g_collector = nullptr;

// (Internal linkage: another command has an extern "C" handler of its own.)
void on_collect_stop_signal(int) {
  if (g_collector) g_collector->stop();
}

void run_collect(CollectOptions& o) {
  Collector col(o.collector.config());
  FlowSink& sink = o.out.open();
  col.set_idle_hook([&o] { o.out.flush(); });
  o.collector.run(col, sink, "collector");
  o.out.finish();
  if (o.collector.report(col)) exit_code() = kDataErrors;
}

}  // namespace

CollectorConfig CollectorCommand::config() const {
  CollectorConfig c = cfg;
  if (stats && c.stats_interval <= 0) c.stats_interval = 10;  // --stats alone: every 10 s
  c.netflow.template_timeout_ms = static_cast<TimeMs>(template_timeout * 1000);
  return c;
}

void CollectorCommand::run(Collector& col, FlowSink& sink, const char* label, metrics::Exporter::Source more) {
  std::string err;
  if (!col.open(err)) throw CommandError(kUsage, fmt::format("{}: {}", label, err));
  std::unique_ptr<metrics::Exporter> exporter;
  if (!metrics.empty()) {
    try {
      exporter = std::make_unique<metrics::Exporter>(metrics);
    } catch (const std::exception& e) {
      throw CommandError(kUsage, fmt::format("{}: {}", label, e.what()));
    }
    fmt::print(stderr, "{}: metrics on {} (port {})\n", label, metrics, exporter->port());
    exporter->add_source([&col](std::vector<metrics::Sample>& out) { collector_samples(col, out); });
    if (more) exporter->add_source(std::move(more));
  }

  g_collector = &col;
  struct sigaction sa {};
  sa.sa_handler = on_collect_stop_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  std::string ports;
  auto p = col.ports();
  for (size_t i = 0; i < p.size(); ++i) ports += fmt::format("{}{}->{}", i ? " " : "", cfg.listen[i], p[i]);
  spdlog::info("{}: listening {} with {} worker(s) each", label, ports, cfg.workers);
  fmt::print(stderr, "{}: listening {}\n", label, ports);

  col.run(sink, show_stats() ? stderr : nullptr);

  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  g_collector = nullptr;
}

bool CollectorCommand::report(const Collector& col) const {
  if (show_stats()) fmt::print(stderr, "{}", col.format_stats(false));
  auto errors = col.all_errors();
  auto drops = col.all_drops();
  report_errors("decode", errors, true);
  report_errors("drop", drops, false);
  return errors.total() > 0 || drops.total() > 0;
}

void CollectorCommand::add_to(CLI::App* cmd) {
  auto& c = cfg;
  cmd->add_option("-l,--listen", c.listen,
                  "ADDR:PORT to listen on, repeatable: 0.0.0.0:2055, [::]:4739, [::1]:9995, :6343 (all addresses, "
                  "IPv4 and IPv6); port 0 lets the kernel choose")
      ->required();
  cmd->add_option("-w,--workers", c.workers, "Worker threads (SO_REUSEPORT sockets) per listen address")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--rcvbuf", c.rcvbuf, "Socket receive buffer in bytes (SO_RCVBUFFORCE, else SO_RCVBUF)")
      ->check(CLI::Range(0, 1 << 30))
      ->capture_default_str();
  cmd->add_option("--batch", c.batch, "Datagrams per recvmmsg call")->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->add_option("--queue-records", c.queue_records, "Output queue capacity per worker, in records")
      ->check(CLI::Range(128, 1 << 26))
      ->capture_default_str();
  cmd->add_option("--queue-wait-us", c.queue_wait_us,
                  "How long a worker waits for output queue space before dropping records (microseconds)")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  cmd->add_option("--templates", c.templates,
                  "Template state file: loaded at start if present, saved periodically and on SIGINT/SIGTERM");
  cmd->add_option("--template-save-interval", c.template_save_interval,
                  "Seconds between template saves (0: only at stop)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->add_option("--template-timeout", template_timeout,
                  "Forget a NetFlow v9/IPFIX template not refreshed for this many seconds (0 = never)")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  cmd->add_option("--stats-interval", c.stats_interval,
                  "Seconds between periodic counters (implies --stats; default 10)")
      ->check(CLI::Range(0.0, 86400.0));
  cmd->add_option("--count", c.count, "Stop after this many records");
  cmd->add_option("--duration", c.duration, "Stop after this many seconds")->check(CLI::Range(0.0, 1e9));
  cmd->add_flag("--stats", stats, "Print counters to stderr periodically (see --stats-interval) and at exit");
  cmd->add_option("--metrics", metrics,
                  "Serve Prometheus metrics (GET /metrics) on ADDR:PORT, e.g. 127.0.0.1:9464; port 0 lets the "
                  "kernel choose");
}

void register_flows_collect(CLI::App& flows) {
  auto o = std::make_shared<CollectOptions>();
  auto* cmd = flows.add_subcommand(
      "collect",
      "Receive NetFlow v5/v9, IPFIX and sFlow v5 exports over UDP (SO_REUSEPORT workers, one output stream)");
  o->collector.add_to(cmd);
  o->out.add_to(cmd);
  cmd->callback([o] { run_collect(*o); });
}

}  // namespace omamori::cli
