// `omamori ddos watch`: live DDoS detection. The UDP collector (NetFlow v5/v9,
// IPFIX, sFlow) feeds the DDoS detector as records arrive; each attack is
// reported when it starts and when it ends, its report written for sharing
// and its finding appended for `omamori cases ingest`. See docs/cli.md.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>

#include "cli/common.hpp"
#include "cli/ddos_options.hpp"
#include "cli/flows_commands.hpp"
#include "core/time.hpp"
#include "privacy/fileutil.hpp"
#include "sensor/ddos_watch.hpp"

namespace omamori::cli {

namespace {

struct WatchOptions {
  CollectorCommand collector;
  DdosOptions ddos;
  std::vector<std::string> subscribers;
  std::string format = "text";
  std::string reports_dir;
  std::string findings_file;
  size_t top_sources = 10;
};

void run_watch(WatchOptions& o) {
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
  uint64_t write_failures = 0;
  bool json = o.format == "jsonl";
  watch.on_event = [&](const ddos::Attack& a, bool start) {
    int64_t wall = now_ms();
    std::string line = json ? sensor::event_json(a, start, wall, o.top_sources) : sensor::event_text(a, start, wall);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (start) {
      spdlog::warn("ddos: attack on {} started ({}, {})", a.target_str(), a.vector(), a.trigger);
      return;
    }
    if (!o.reports_dir.empty()) {
      // Written whole or not at all: a reader never sees half a report.
      auto path = (std::filesystem::path(o.reports_dir) / sensor::report_file_name(a)).string();
      try {
        privacy::replace_file(path, watch.detector().report_json(a, 0) + "\n", 0644);
      } catch (const std::exception& e) {
        ++write_failures;
        spdlog::error("ddos watch: {}", e.what());
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

  Collector col(o.collector.config());
  col.set_idle_hook([&watch] { watch.idle(); });
  o.collector.run(col, watch, "ddos watch", [&watch](std::vector<metrics::Sample>& out) { watch.samples(out); });
  watch.finish();
  if (findings) std::fclose(findings);

  fmt::print(stderr, "ddos watch: {} records, {} attack(s) started, {} ended, {} host(s) tracked\n", watch.records(),
             watch.started(), watch.ended(), watch.detector().entities());
  bool input_errors = o.collector.report(col);
  report_errors("ddos", watch.detector().errors(), false);
  if (write_failures > 0) {
    fmt::print(stderr, "ddos watch: {} report/finding write(s) failed\n", write_failures);
    exit_code() = kFailure;
  } else if (input_errors) {
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
  o->collector.add_to(cmd);
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
  cmd->callback([o] { run_watch(*o); });
}

}  // namespace omamori::cli
