// `omamori cases ingest`: findings (JSON lines from `omamori analyze
// --format jsonl`) -> attribution through the RADIUS session index ->
// cases. The glue between detection, attribution and cases: each side is
// used through its plain data types (Finding, Attribution) only.
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "attribution/session_index.hpp"
#include "attribution/store.hpp"
#include "cli/common.hpp"
#include "cli/store_options.hpp"

namespace omamori::cli {

std::unique_ptr<SessionStore> open_session_store(const std::string& state_dir, bool read_only);  // radius.cpp

namespace {

struct IngestOptions {
  StoreOptions store;
  std::string findings = "-";
  double timeout_factor = 3;
  double default_interim = 0;
  bool json = false;
};

// The session that held the finding's host: at its first evidence, else at
// its last (a session may start during the finding's window).
bool attribute(const SessionIndex& index, const Finding& f, AttributionRef& r) {
  if (f.host.empty()) return false;
  if (index.lookup(f.host, f.first, r)) return true;
  return f.last != f.first && index.lookup(f.host, f.last, r);
}

void run_ingest(IngestOptions& o) {
  auto access = o.store.authorize(privacy::Permission::kManageCases, "cases.ingest");
  std::ifstream file;
  std::istream* in = &std::cin;
  if (o.findings != "-") {
    file.open(o.findings, std::ios::binary);
    if (!file) throw CommandError(kFailure, "cases ingest: cannot open " + o.findings);
    in = &file;
  }
  IndexPolicy policy;
  policy.now = now_ms();
  policy.interim_timeout_factor = o.timeout_factor;
  policy.default_interim_ms = static_cast<int64_t>(o.default_interim * 1000);
  auto sessions = open_session_store(o.store.privacy.state_dir, true);
  auto index = sessions->load_index(policy);
  Stores s = open_stores(o.store, true);

  std::map<std::string, uint64_t, std::less<>> outcomes;
  ReasonCounters bad;
  uint64_t lines = 0, attributed = 0;
  std::string line;
  TimeMs now = now_ms();
  while (std::getline(*in, line)) {
    ++lines;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Finding f;
    const char* reason = nullptr;
    if (!finding_from_json(line, f, &reason)) {
      bad.add(reason ? reason : "malformed finding");
      fmt::print(stderr, "cases ingest: {}:{}: {}\n", o.findings, lines, reason ? reason : "malformed finding");
      continue;
    }
    AttributionRef r;
    Attribution a;
    if (attribute(*index, f, r) && !r.subscriber.empty()) {
      a = r.to_attribution();
      ++attributed;
    }
    auto res = s.cases->ingest(f, a, now);
    ++outcomes[std::string(cases::outcome_name(res.outcome))];
  }
  o.store.audit(access, "cases.ingest", o.findings, "",
                {{"lines", lines}, {"attributed", attributed}, {"malformed", bad.total()}});
  if (o.json) {
    nlohmann::json j{{"lines", lines}, {"attributed", attributed}, {"malformed", bad.total()}};
    for (const auto& [k, v] : outcomes) j["outcomes"][k] = v;
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("{} finding(s) read, {} attributed to a subscriber\n", lines, attributed);
    for (const auto& [k, v] : outcomes) fmt::print("  {:<14} {}\n", k, v);
    for (const auto& row : s.cases->ignored().snapshot(false)) fmt::print("  ignored: {} ({})\n", row.reason, row.count);
    if (bad.total()) fmt::print("  malformed lines: {}\n", bad.total());
  }
  if (bad.total()) exit_code() = kDataErrors;
}

}  // namespace

void register_cases_ingest(CLI::App& app) {
  auto* grp = app.get_subcommand("cases");
  auto o = std::make_shared<IngestOptions>();
  auto* cmd = grp->add_subcommand(
      "ingest", "Attribute findings (JSON lines of `omamori analyze --format jsonl`) to subscribers and open cases");
  cmd->add_option("--findings", o->findings, "Findings file (- for standard input)")->capture_default_str();
  cmd->add_option("--interim-timeout", o->timeout_factor,
                  "A session without updates for this many interim intervals has ended")
      ->capture_default_str();
  cmd->add_option("--default-interim", o->default_interim, "Interim interval (s) for sessions that carry none")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Print the summary as JSON");
  o->store.add_to(cmd, true);
  cmd->callback([o] { run_ingest(*o); });
}

}  // namespace omamori::cli
