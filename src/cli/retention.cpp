// `omamori retention run`: purge data past its retention limit, audited.
// docs/privacy.md "Retention", docs/cli.md.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "attribution/store.hpp"
#include "cli/common.hpp"
#include "cli/store_options.hpp"
#include "privacy/audit.hpp"
#include "privacy/retention.hpp"
#include "privacy/settings.hpp"

namespace omamori::cli {

using namespace omamori::privacy;

namespace {

struct RetentionOptions {
  StoreOptions store;  // --state-dir (sessions.db), --db (cases), privacy settings
  RetentionPolicy policy;
  bool dry_run = false, list = false;
  std::string now;  // for tests and replays: pretend it is this time
};

// The stores this installation has get purge hooks: the session journal
// (STATE/sessions.db) and the case store (--db). A store that does not exist
// yet has nothing to purge and gets no hook; one that cannot be opened makes
// its hook fail, which the report shows and the exit code says.
void register_store_hooks(const RetentionOptions& o) {
  clear_purge_hooks();
  std::string sessions = (std::filesystem::path(o.store.privacy.state_dir) / "sessions.db").string();
  if (std::filesystem::exists(sessions))
    register_purge("sessions", DataKind::kSessions,
                   [sessions](TimeMs cutoff) { return SessionStore(sessions).purge_before(cutoff); });
  std::string url = o.store.db_url();
  auto parsed = store::parse_url(url);
  if (parsed && (parsed->first != store::Backend::kSqlite || std::filesystem::exists(parsed->second))) {
    StoreOptions so = o.store;
    auto with_cases = [so](auto fn) {
      Stores st = open_stores(so, true);
      return fn(*st.cases);
    };
    register_purge("cases (closed)", DataKind::kClosedCases, [with_cases](TimeMs cutoff) {
      return with_cases([cutoff](cases::CaseStore& c) { return c.purge_closed_before(cutoff); });
    });
    register_purge("findings (unattributed)", DataKind::kFindings, [with_cases](TimeMs cutoff) {
      return with_cases([cutoff](cases::CaseStore& c) { return c.purge_unattributed_before(cutoff); });
    });
  }
}

void cmd_run(RetentionOptions& o) {
  auto& settings = o.store.privacy;
  settings.resolve();
  try {
    o.policy.validate();
  } catch (const std::invalid_argument& e) {
    throw CommandError(kUsage, e.what());
  }
  TimeMs now = now_ms();
  if (!o.now.empty()) {
    auto t = parse_time(o.now);
    if (!t) throw CommandError(kUsage, "bad --now time: " + o.now);
    now = *t;
  }
  Access a;
  try {
    a = authorize(settings, Permission::kConfigure, std::string(kActionRetentionPurge));
  } catch (const AccessDenied& e) {
    throw CommandError(kFailure, fmt::format("access denied: {}", e.what()));
  }
  register_store_hooks(o);
  RetentionReport r = run_retention(o.policy, now, o.dry_run);

  nlohmann::json counts = nlohmann::json::array();
  for (const auto& c : r.counts) {
    fmt::print("{:<40} {:<14} cutoff {}  {} {}{}{}\n", c.what, data_kind_name(c.kind), format_rfc3339(c.cutoff),
               c.skipped ? "(not called in a dry run)" : fmt::format("{} items", c.items),
               c.bytes ? fmt::format("{} bytes", c.bytes) : "", o.dry_run && !c.skipped ? " (dry run)" : "",
               c.error.empty() ? "" : "  ERROR: " + c.error);
    nlohmann::json j = {{"what", c.what},   {"kind", data_kind_name(c.kind)}, {"cutoff", format_rfc3339(c.cutoff)},
                        {"items", c.items}, {"bytes", c.bytes}};
    if (!c.error.empty()) j["error"] = c.error;
    counts.push_back(std::move(j));
  }
  if (o.list)
    for (const auto& f : r.removed_files) fmt::print("{} {}\n", o.dry_run ? "would delete" : "deleted", f);
  if (!o.dry_run) {
    AuditEvent ev{a.actor, std::string(role_name(a.role)), std::string(kActionRetentionPurge), "retention", "policy",
                  {{"counts", counts},
                   {"policy",
                    {{"raw_telemetry_days", o.policy.raw_telemetry_days},
                     {"findings_days", o.policy.findings_days},
                     {"cases_closed_days", o.policy.cases_closed_days},
                     {"sessions_days", o.policy.sessions_days},
                     {"audit_days", o.policy.audit_days}}}}};
    AuditLog(settings.audit_log).append(ev);
  }
  if (r.errors()) exit_code() = kFailure;
}

}  // namespace

void register_retention(CLI::App& app) {
  auto o = std::make_shared<RetentionOptions>();
  auto* ret = app.add_subcommand("retention", "Purge data past its retention limit ([retention] in the config)");
  ret->require_subcommand(1);
  o->store.add_to(ret, false);
  auto& p = o->policy;
  const char* g = "Policy";
  ret->add_option("--raw-telemetry-days,--raw_telemetry_days", p.raw_telemetry_days,
                  "Days raw telemetry (pcaps, flow files, dnstap) is kept")
      ->capture_default_str()
      ->group(g);
  ret->add_option("--findings-days,--findings_days", p.findings_days, "Days findings are kept")
      ->capture_default_str()
      ->group(g);
  ret->add_option("--cases-closed-days,--cases_closed_days", p.cases_closed_days,
                  "Days closed cases are kept after closing")
      ->capture_default_str()
      ->group(g);
  ret->add_option("--sessions-days,--sessions_days", p.sessions_days, "Days address-subscriber sessions are kept")
      ->capture_default_str()
      ->group(g);
  ret->add_option("--audit-days,--audit_days", p.audit_days, "Days the audit log is kept (at least 180)")
      ->capture_default_str()
      ->group(g);
  ret->add_option("--spool", p.spool_dirs, "Raw-telemetry spool directory (repeatable; searched recursively)")
      ->expected(1)
      ->group(g);
  ret->add_option("--spool-pattern,--spool_pattern", p.spool_patterns,
                  "Only spool files matching this glob, e.g. '*.pcap' (repeatable; default every file)")
      ->expected(1)
      ->group(g);

  auto* run = ret->add_subcommand("run", "Delete spool files older than the raw-telemetry limit and call the "
                                         "components' purge hooks; audited as retention.purge (needs configure)");
  run->add_flag("--dry-run", o->dry_run, "Only report what would be deleted; hooks are not called");
  run->add_flag("--list", o->list, "List the files deleted (or, with --dry-run, to be deleted)");
  run->add_option("--now", o->now, "Pretend it is this time (RFC 3339), for replays and tests");
  run->callback([o] { cmd_run(*o); });
}

}  // namespace omamori::cli
