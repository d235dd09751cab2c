// `omamori ddos watch`: live DDoS detection. The UDP collector (NetFlow v5/v9,
// IPFIX, sFlow) feeds the DDoS detector as records arrive; each attack is
// reported when it starts and when it ends, its report written for sharing
// and its finding appended for `omamori cases ingest`. See docs/cli.md.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/common.hpp"
#include "cli/ddos_options.hpp"
#include "cli/flows_commands.hpp"
#include "core/time.hpp"
#include "ingest/collector/metrics.hpp"
#include "sensor/ddos_watch.hpp"

namespace omamori::cli {

namespace {

struct WatchOptions {
  CollectorConfig collector;
  double template_timeout = 1800;
  std::string metrics;
  DdosOptions ddos;
  std::vector<std::string> subscribers;
  std::string format = "text";
  std::string reports_dir;
  std::string findings_file;
  size_t top_sources = 10;
  bool stats = false;
};

Collector* g_watch_collector = nullptr;

void on_watch_stop_signal(int) {
  if (g_watch_collector) g_watch_collector->stop();
}

// Writes the file whole or not at all (a reader never sees half a report).
bool write_atomically(const std::filesystem::path& path, const std::string& text) {
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text << '\n';
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

void run_watch(WatchOptions& o) {
  if (o.collector.stats_interval > 0) o.stats = true;
  o.collector.netflow.template_timeout_ms = static_cast<TimeMs>(o.template_timeout * 1000);
  ddos::Config dc;
  o.ddos.apply(dc);
  dc.subscribers = parse_prefixes(o.subscribers, "--subscribers");
  if (!o.reports_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.reports_dir, ec);
    if (ec) throw CommandError(kUsage, "--reports " + o.reports_dir + ": " + ec.message());
  }
  std::FILE* findings = nullptr;
  if (!o.findings_file.empty()) {
    findings = std::fopen(o.findings_file.c_str(), "a");
    if (!findings) throw CommandError(kUsage, "cannot append to " + o.findings_file);
  }

  sensor::DdosWatch watch(dc, [] { return now_ms(); });
  uint64_t started = 0, ended = 0, write_failures = 0;
  bool json = o.format == "jsonl";
  watch.on_event = [&](const ddos::Attack& a, bool start) {
    int64_t wall = now_ms();
    std::string line = json ? sensor::event_json(a, start, wall, o.top_sources) : sensor::event_text(a, start, wall);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (start) {
      ++started;
      spdlog::warn("ddos: attack on {} started ({}, {})", a.target.str(), a.vector(), a.trigger);
      return;
    }
    ++ended;
    if (!o.reports_dir.empty()) {
      auto path = std::filesystem::path(o.reports_dir) / sensor::report_file_name(a);
      if (!write_atomically(path, watch.detector().report_json(a, 0))) {
        ++write_failures;
        spdlog::error("ddos watch: cannot write {}", path.string());
      }
    }
    if (findings) {
      std::string f = finding_to_json(watch.detector().finding(a));
      std::fwrite(f.data(), 1, f.size(), findings);
      std::fputc('\n', findings);
      if (std::fflush(findings) != 0) {
        ++write_failures;
        spdlog::error("ddos watch: cannot append to {}", o.findings_file);
      }
    }
  };

  Collector col(o.collector);
  std::string err;
  if (!col.open(err)) throw CommandError(kUsage, "ddos watch: " + err);
  col.set_idle_hook([&watch] { watch.idle(); });
  auto exporter = start_metrics(o.metrics, "ddos watch");
  if (exporter)
    exporter->add_source([&col, &watch](std::vector<metrics::Sample>& out) {
      collector_samples(col, out);
      watch.samples(out);
    });
  g_watch_collector = &col;
  struct sigaction sa {};
  sa.sa_handler = on_watch_stop_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  std::string ports;
  auto p = col.ports();
  for (size_t i = 0; i < p.size(); ++i) ports += fmt::format("{}{}->{}", i ? " " : "", o.collector.listen[i], p[i]);
  spdlog::info("ddos watch: listening {}", ports);
  // Scripts and tests that listen on port 0 read the port from here.
  fmt::print(stderr, "ddos watch: listening {}\n", ports);

  col.run(watch, o.stats ? stderr : nullptr);
  watch.finish();

  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  g_watch_collector = nullptr;
  if (findings) std::fclose(findings);

  if (o.stats) fmt::print(stderr, "{}", col.format_stats(false));
  fmt::print(stderr, "ddos watch: {} records, {} attack(s) started, {} ended, {} host(s) tracked\n", watch.records(),
             started, ended, watch.detector().entities());
  report_errors("decode", col.all_errors(), true);
  report_errors("drop", col.all_drops(), false);
  report_errors("ddos", watch.detector().errors(), false);
  if (write_failures > 0) {
    fmt::print(stderr, "ddos watch: {} report/finding write(s) failed\n", write_failures);
    exit_code() = kFailure;
  } else if (col.all_errors().total() > 0 || col.all_drops().total() > 0) {
    exit_code() = kDataErrors;
  }
}

}  // namespace

void register_ddos(CLI::App& app) {
  auto* grp = app.add_subcommand("ddos", "Live DDoS detection from flow exports");
  grp->require_subcommand(1);
  auto o = std::make_shared<WatchOptions>();
  auto* cmd = grp->add_subcommand(
      "watch",
      "Receive NetFlow/IPFIX/sFlow over UDP and report each DDoS attack (inbound on protected hosts, outbound from "
      "subscribers) the moment it starts and when it ends");
  add_collector_options(cmd, o->collector, o->template_timeout, o->metrics);
  o->ddos.add_to(cmd);
  cmd->add_option("--subscribers", o->subscribers,
                  "Subscriber prefixes: their hosts sending attack traffic are reported too (outbound)");
  cmd->add_option("-f,--format", o->format, "Event lines on standard output: text or jsonl")
      ->check(CLI::IsMember({"text", "jsonl"}))
      ->capture_default_str();
  cmd->add_option("--top-sources", o->top_sources, "Sources (or destinations) listed per event")->capture_default_str();
  cmd->add_option("--reports", o->reports_dir,
                  "Directory for one JSON attack report per ended attack (every source with ports and times, "
                  "for the operators of the sending networks)");
  cmd->add_option("--findings", o->findings_file,
                  "Append each ended attack's finding (JSON line) to this file, for `omamori cases ingest`");
  cmd->add_flag("--stats", o->stats, "Print collector counters to stderr periodically and at exit");
  cmd->callback([o] { run_watch(*o); });
}

}  // namespace omamori::cli
