// `omamori c2`: the analyst's side of C&C discovery. `analyze --c2-db`
// records candidates run after run; `c2 candidates` lists them with their
// evidence, `c2 confirm` / `c2 reject` record the decision (who, when, why)
// and keep the intel feed "local-discovery" in step, `c2 history` shows the
// decisions. See docs/c2.md.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "cli/store_options.hpp"
#include "detect/c2/store.hpp"
#include "intel/store_sqlite.hpp"
#include "privacy/audit.hpp"
#include "privacy/roles.hpp"
#include "privacy/settings.hpp"

namespace omamori::cli {

namespace {

struct C2Options {
  std::string db = "omamori.db";
  std::string intel_db;  // "" = the same file as --db
  std::string status = "open";
  double max_q = 1;
  size_t limit = 0;
  std::string format = "table";
  bool json = false;
  std::string target, reason, family;
  int confidence = -1;
  double ttl_days = 0;
  bool force = false;
  // Privacy settings (roles file, audit log) of `confirm` and of `reject`:
  // one each, as a Settings is bound to its subcommand.
  privacy::Settings confirm_privacy, reject_privacy;
};

constexpr std::string_view kActionConfirm = "c2.confirm";
constexpr std::string_view kActionReject = "c2.reject";

std::string time_or_dash(TimeMs t) {
  return t ? format_rfc3339(t) : "-";
}

template <typename F>
auto with_store(const std::string& path, F&& f) {
  try {
    c2::CandidateStore store(path);
    return f(store);
  } catch (const intel::DbError& e) {
    throw CommandError(kFailure, e.what());
  }
}

nlohmann::ordered_json candidate_json(const c2::StoredCandidate& c) {
  nlohmann::ordered_json j;
  j["dest"] = c.dest;
  j["kind"] = std::string(c2::dest_kind_name(c.kind));
  j["status"] = std::string(c2::status_name(c.status));
  j["reopened"] = c.reopened;
  j["suspected_hosts"] = c.suspected_hosts;
  j["hosts"] = c.hosts;
  j["population"] = c.population;
  j["suspected_population"] = c.suspected_population;
  j["p_value"] = c.p_value;
  j["q_value"] = c.q_value;
  j["enrichment"] = c.enrichment;
  j["max_suspected_hosts"] = c.max_suspected_hosts;
  j["best_q"] = c.best_q;
  j["runs"] = c.runs;
  j["first_seen"] = time_or_dash(c.first_seen);
  j["last_seen"] = time_or_dash(c.last_seen);
  j["first_run"] = time_or_dash(c.first_run);
  j["last_run"] = time_or_dash(c.last_run);
  j["example_hosts"] = c.example_hosts;
  if (c.decision) {
    j["decision"] = std::string(c2::status_name(*c.decision));
    j["decided_by"] = c.decided_by;
    j["decided_at"] = format_rfc3339(c.decided_at);
    j["reason"] = c.reason;
    j["decided_evidence"] = c.decided_evidence;
  }
  return j;
}

void cmd_candidates(const C2Options& o) {
  c2::ListQuery q;
  if (o.status == "all") {
    q.status.reset();
  } else {
    q.status = c2::parse_status(o.status);
  }
  q.max_q = o.max_q;
  q.limit = o.limit;
  auto rows = with_store(o.db, [&](c2::CandidateStore& s) { return s.list(q); });
  fmt::memory_buffer b;
  auto it = std::back_inserter(b);
  if (o.json || o.format == "jsonl") {
    for (const auto& c : rows) {
      b.append(candidate_json(c).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      b.push_back('\n');
    }
  } else {
    fmt::format_to(it, "{:<10} {:<30} {:<8} {:>9} {:>10} {:>9} {:>9} {:>4}  {:<24} {:<24} {}\n", "status", "dest",
                   "kind", "suspected", "hosts/pop", "p", "q", "runs", "first seen", "last seen", "example hosts");
    for (const auto& c : rows) {
      std::string st(c2::status_name(c.status));
      if (c.reopened) st += "*";
      fmt::format_to(it, "{:<10} {:<30} {:<8} {:>4}/{:<4} {:>10} {:>9.2g} {:>9.2g} {:>4}  {:<24} {:<24} {}\n", st,
                     c.dest, c2::dest_kind_name(c.kind), c.suspected_hosts, c.suspected_population,
                     fmt::format("{}/{}", c.hosts, c.population), c.p_value, c.q_value, c.runs,
                     time_or_dash(c.first_seen), time_or_dash(c.last_seen), fmt::join(c.example_hosts, ","));
      if (c.decision)
        fmt::format_to(it, "{:<10} {} by {} at {}: {} (evidence then: {} suspected hosts)\n", "",
                       c2::status_name(*c.decision), c.decided_by, format_rfc3339(c.decided_at), c.reason,
                       c.decided_evidence);
    }
    fmt::format_to(it, "{} candidate(s){}\n", rows.size(),
                   std::any_of(rows.begin(), rows.end(), [](const auto& c) { return c.reopened; })
                       ? "; * = rejected before, reopened because the evidence grew"
                       : "");
  }
  std::fwrite(b.data(), 1, b.size(), stdout);
  std::fflush(stdout);
}

void cmd_decide(C2Options& o, c2::Status decision) {
  std::string err;
  auto t = c2::parse_target(o.target, err);
  if (!t) throw CommandError(kUsage, err);
  if (o.reason.find_first_not_of(" \t\r\n") == std::string::npos) throw CommandError(kUsage, "--reason must say why");
  if (o.ttl_days < 0) throw CommandError(kUsage, "--ttl-days must not be negative");
  if (o.confidence > 100) throw CommandError(kUsage, "--confidence must be 0-100");
  // A decision changes what the detectors flag (confirmed destinations enter
  // the intel store): it needs manage-cases and is audited.
  const bool confirm = decision == c2::Status::Confirmed;
  privacy::Settings& ps = confirm ? o.confirm_privacy : o.reject_privacy;
  const std::string_view action = confirm ? kActionConfirm : kActionReject;
  privacy::Access access = authorize_command(ps, privacy::Permission::kManageCases, action, t->value);
  c2::DecideOptions d;
  d.actor = access.actor;
  d.reason = o.reason;
  d.now = now_ms();
  d.confidence = o.confidence;
  d.family = o.family;
  d.ttl = static_cast<TimeMs>(o.ttl_days * 86400000.0);
  d.force = o.force;
  const std::string& intel_path = o.intel_db.empty() ? o.db : o.intel_db;
  with_store(o.db, [&](c2::CandidateStore& s) {
    c2::Decision dec = s.decide(*t, decision, d);
    intel::IntelDb db(intel_path);
    auto st = c2::publish(s, db, d.now);
    audit_command(ps, access, action, dec.target, o.reason,
                  {{"candidates", dec.candidates},
                   {"feed", std::string(c2::CandidateStore::kFeed)},
                   {"feed_indicators", st.total},
                   {"forced", o.force}});
    fmt::print("{} {} by {} ({} recorded candidate(s): {}); feed {} now has {} indicator(s)\n",
               c2::status_name(decision), dec.target, dec.actor, dec.candidates.size(), fmt::join(dec.candidates, ", "),
               c2::CandidateStore::kFeed, st.total);
    return 0;
  });
}

void cmd_history(const C2Options& o) {
  std::string target = o.target, err;
  if (!target.empty())
    if (auto t = c2::parse_target(target, err)) target = t->value;
  auto rows = with_store(o.db, [&](c2::CandidateStore& s) { return s.history(target); });
  fmt::memory_buffer b;
  auto it = std::back_inserter(b);
  for (const auto& d : rows) {
    if (o.json || o.format == "jsonl") {
      nlohmann::ordered_json j{{"id", d.id},
                               {"target", d.target},
                               {"decision", std::string(c2::status_name(d.decision))},
                               {"actor", d.actor},
                               {"at", format_rfc3339(d.at)},
                               {"reason", d.reason},
                               {"candidates", d.candidates},
                               {"suspected_hosts", d.suspected_hosts},
                               {"confidence", d.confidence}};
      b.append(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      b.push_back('\n');
    } else {
      fmt::format_to(it, "{}  {:<9} {:<30} by {:<12} ({} suspected hosts; {}): {}\n", format_rfc3339(d.at),
                     c2::status_name(d.decision), d.target, d.actor, d.suspected_hosts, fmt::join(d.candidates, ","),
                     d.reason);
    }
  }
  std::fwrite(b.data(), 1, b.size(), stdout);
  std::fflush(stdout);
}

void add_common(CLI::App* cmd, C2Options& o) {
  cmd->add_option("--db", o.db, "The C&C candidate store (SQLite; may be the intel store's file)")
      ->capture_default_str();
}

void add_format(CLI::App* cmd, C2Options& o) {
  cmd->add_option("--format", o.format, "table or jsonl")
      ->check(CLI::IsMember({"table", "jsonl"}))
      ->capture_default_str();
  cmd->add_flag("--json", o.json, "Same as --format jsonl: one JSON object per line");
}

void add_decision(CLI::App* cmd, C2Options& o) {
  add_common(cmd, o);
  cmd->add_option("--intel-db", o.intel_db, "The intel store that receives feed local-discovery (default: --db)");
  cmd->add_option("dest", o.target, "A domain, an address, or address:port[/tcp|/udp]")->required();
  cmd->add_option("--reason", o.reason, "Why (kept with the decision)")->required();
  cmd->add_flag("--force", o.force, "Record the decision even if no recorded candidate is this destination");
}

}  // namespace

void register_c2(CLI::App& app) {
  auto o = std::make_shared<C2Options>();
  auto* c2 = app.add_subcommand("c2", "C&C discovery: review candidates, confirm or reject them");
  c2->require_subcommand(1);

  auto* cand = c2->add_subcommand("candidates", "List recorded C&C candidates with their evidence");
  add_common(cand, *o);
  add_format(cand, *o);
  cand->add_option("--status", o->status, "open, confirmed, rejected or all")
      ->check(CLI::IsMember({"open", "confirmed", "rejected", "all"}))
      ->capture_default_str();
  cand->add_option("--max-q,--min-q", o->max_q,
                   "Only candidates at least this significant: best q-value (false discovery rate) at most this")
      ->check(CLI::Range(0.0, 1.0));
  cand->add_option("--limit", o->limit, "At most this many");
  cand->callback([o] { cmd_candidates(*o); });

  auto* conf = c2->add_subcommand("confirm", "Confirm a C&C server: it enters the intel store as feed local-discovery");
  add_decision(conf, *o);
  o->confirm_privacy.add_to(conf);
  conf->add_option("--confidence", o->confidence, "Confidence of the indicator, 0-100 (default 90)")
      ->check(CLI::Range(0, 100));
  conf->add_option("--family", o->family, "Malware family, if known");
  conf->add_option("--ttl-days", o->ttl_days, "The indicator expires this many days from now (default: never)");
  conf->callback([o] { cmd_decide(*o, c2::Status::Confirmed); });

  auto* rej = c2->add_subcommand("reject", "Reject a candidate: not proposed again unless its evidence doubles");
  add_decision(rej, *o);
  o->reject_privacy.add_to(rej);
  rej->callback([o] { cmd_decide(*o, c2::Status::Rejected); });

  auto* hist = c2->add_subcommand("history", "Decisions taken, oldest first (who, when, why)");
  add_common(hist, *o);
  add_format(hist, *o);
  hist->add_option("dest", o->target, "Only decisions about this target or candidate");
  hist->callback([o] { cmd_history(*o); });
}

}  // namespace omamori::cli
