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
  CollectorConfig cfg;
  FlowOutputOptions out;
  bool stats = false;
  double template_timeout = 1800;  // seconds
  std::string metrics;
};

Collector* g_collector = nullptr;

// (Internal linkage: another command has an extern "C" handler of its own.)
void on_collect_stop_signal(int) {
  if (g_collector) g_collector->stop();
}

void run_collect(CollectOptions& o) {
  if (o.stats && o.cfg.stats_interval <= 0) o.cfg.stats_interval = 10;
  o.cfg.netflow.template_timeout_ms = static_cast<TimeMs>(o.template_timeout * 1000);
  Collector col(o.cfg);
  std::string err;
  if (!col.open(err)) throw CommandError(kUsage, "flows collect: " + err);
  auto exporter = start_metrics(o.metrics, "flows collect");
  if (exporter) exporter->add_source([&col](std::vector<metrics::Sample>& out) { collector_samples(col, out); });
  FlowSink& sink = o.out.open();
  col.set_idle_hook([&o] { o.out.flush(); });

  g_collector = &col;
  struct sigaction sa {};
  sa.sa_handler = on_collect_stop_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  std::string ports;
  auto p = col.ports();
  for (size_t i = 0; i < p.size(); ++i)
    ports += fmt::format("{}{}->{}", i ? " " : "", o.cfg.listen[i], p[i]);
  spdlog::info("collector: listening {} with {} worker(s) each", ports, o.cfg.workers);
  // Tests and scripts that listen on port 0 read the port from here.
  if (o.stats) fmt::print(stderr, "collector: listening {}\n", ports);

  col.run(sink, o.stats ? stderr : nullptr);

  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  g_collector = nullptr;
  o.out.finish();

  if (o.stats) fmt::print(stderr, "{}", col.format_stats(false));
  auto errors = col.all_errors();
  auto drops = col.all_drops();
  report_errors("decode", errors, true);
  report_errors("drop", drops, false);
  if (errors.total() > 0 || drops.total() > 0) exit_code() = kDataErrors;
}

}  // namespace

std::unique_ptr<metrics::Exporter> start_metrics(const std::string& listen, const char* command) {
  if (listen.empty()) return nullptr;
  try {
    auto ex = std::make_unique<metrics::Exporter>(listen);
    // Scripts and tests that ask for port 0 read the port from here.
    fmt::print(stderr, "{}: metrics on {} (port {})\n", command, listen, ex->port());
    return ex;
  } catch (const std::exception& e) {
    throw CommandError(kUsage, fmt::format("{}: {}", command, e.what()));
  }
}

void add_collector_options(CLI::App* cmd, CollectorConfig& c, double& template_timeout, std::string& metrics) {
  cmd->add_option("--metrics", metrics,
                  "Serve Prometheus metrics (GET /metrics) on ADDR:PORT, e.g. 127.0.0.1:9464; port 0 lets the "
                  "kernel choose");
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
  cmd->add_option("--stats-interval", c.stats_interval, "Seconds between periodic counters (implies --stats; default 10)")
      ->check(CLI::Range(0.0, 86400.0));
  cmd->add_option("--count", c.count, "Stop after this many records");
  cmd->add_option("--duration", c.duration, "Stop after this many seconds")->check(CLI::Range(0.0, 1e9));
}

void register_flows_collect(CLI::App& flows) {
  auto o = std::make_shared<CollectOptions>();
  auto* cmd = flows.add_subcommand(
      "collect",
      "Receive NetFlow v5/v9, IPFIX and sFlow v5 exports over UDP (SO_REUSEPORT workers, one output stream)");
  add_collector_options(cmd, o->cfg, o->template_timeout, o->metrics);
  cmd->add_flag("--stats", o->stats, "Print counters to stderr periodically (see --stats-interval) and at exit");
  o->out.add_to(cmd);
  cmd->callback([o] {
    if (o->cfg.stats_interval > 0) o->stats = true;
    run_collect(*o);
  });
}

}  // namespace omamori::cli
