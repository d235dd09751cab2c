// `omamori cases`: list, show and move cases; send the warnings that are due.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "cli/store_options.hpp"
#include "notify/channels.hpp"
#include "notify/file_sender.hpp"
#include "privacy/audit.hpp"

namespace omamori::cli {

using namespace omamori::cases;

namespace {

struct CasesOptions {
  StoreOptions store;
  std::string state, queue, note, channel = "smtp", reason;
  std::string to_dir;          // --channel file
  CLI::App* root = nullptr;    // for the -c configuration file
  int64_t id = 0;
  size_t limit = 0;
  bool json = false, open_only = false, dry_run = false;
};

using privacy::Permission;

std::string t_or_dash(TimeMs t) { return t ? format_rfc3339(t) : "-"; }

nlohmann::json summary_json(const CaseSummary& c, const PseudonymFn& ps) {
  return {{"id", c.id},
          {"subscriber", ps(c.subscriber_id)},
          {"state", state_name(c.state)},
          {"queue", c.queue},
          {"queue_reason", c.queue_reason},
          {"severity", severity_name(c.severity)},
          {"findings", c.findings},
          {"opened_at", t_or_dash(c.opened_at)},
          {"updated_at", t_or_dash(c.updated_at)},
          {"first_seen", t_or_dash(c.first_seen)},
          {"last_seen", t_or_dash(c.last_seen)},
          {"resolved_at", t_or_dash(c.resolved_at)},
          {"closed_at", t_or_dash(c.closed_at)},
          {"reinfections", c.reinfections},
          {"last_warning_at", t_or_dash(c.last_warning_at)},
          {"warnings_sent", c.warnings_sent},
          {"failed_attempts", c.failed_attempts},
          {"next_attempt_at", t_or_dash(c.next_attempt_at)}};
}

// Analysts see pseudonymous subscriber ids only (privacy::Pseudonymiser).
void cmd_list(CasesOptions& o) {
  o.store.authorize(Permission::kViewPseudonymous, "cases.list");
  Stores s = open_stores(o.store, true);
  ListFilter f;
  if (!o.state.empty()) f.state = parse_state(o.state);
  f.queue = o.queue;
  f.include_closed = !o.open_only;
  f.limit = o.limit;
  auto ps = o.store.pseudonymiser();
  auto rows = s.cases->list(f);
  if (o.json) {
    for (const auto& c : rows) fmt::print("{}\n", summary_json(c, ps).dump());
    return;
  }
  fmt::print("{:>6}  {:<22} {:<12} {:<7} {:<8} {:>8}  {:<24} {:>8}\n", "ID", "SUBSCRIBER", "STATE", "QUEUE",
             "SEVERITY", "FINDINGS", "LAST SEEN", "WARNINGS");
  for (const auto& c : rows)
    fmt::print("{:>6}  {:<22} {:<12} {:<7} {:<8} {:>8}  {:<24} {:>8}{}\n", c.id, ps(c.subscriber_id),
               state_name(c.state), c.queue, severity_name(c.severity), c.findings, t_or_dash(c.last_seen),
               c.warnings_sent, c.failed_attempts ? fmt::format("  ({} failed)", c.failed_attempts) : "");
}

void cmd_show(CasesOptions& o) {
  o.store.authorize(Permission::kViewPseudonymous, "cases.show", std::to_string(o.id));
  Stores s = open_stores(o.store, true);
  auto d = s.cases->get(o.id);
  if (!d) throw CommandError(kFailure, "no case " + std::to_string(o.id));
  auto ps = o.store.pseudonymiser();
  if (o.json) {
    nlohmann::json j = summary_json(d->summary, ps);
    auto& fs = j["evidence"] = nlohmann::json::array();
    for (const auto& f : d->findings)
      fs.push_back({{"finding", nlohmann::json::parse(finding_to_json(f.finding))},
                    {"severity", severity_name(f.severity)},
                    {"first_seen", t_or_dash(f.first_seen)},
                    {"last_seen", t_or_dash(f.last_seen)},
                    {"events", f.events},
                    {"occurrences", f.occurrences},
                    {"warned_at", t_or_dash(f.warned_at)}});
    auto& hs = j["history"] = nlohmann::json::array();
    for (const auto& h : d->history)
      hs.push_back({{"at", t_or_dash(h.at)}, {"from", h.from}, {"to", h.to}, {"actor", h.actor}, {"note", h.note}});
    auto& ds = j["deliveries"] = nlohmann::json::array();
    for (const auto& x : d->deliveries)
      ds.push_back({{"at", t_or_dash(x.at)},
                    {"channel", x.channel},
                    {"ok", x.ok},
                    {"error", x.error},
                    {"message_id", x.message_id},
                    {"severity", severity_name(x.severity)},
                    {"findings", x.findings}});
    fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  const auto& c = d->summary;
  fmt::print("case {}  subscriber {}  {}  severity {}\n", c.id, ps(c.subscriber_id), state_name(c.state),
             severity_name(c.severity));
  fmt::print("queue: {}{}\n", c.queue, c.queue_reason.empty() ? "" : " (" + c.queue_reason + ")");
  fmt::print("opened {}  evidence {} .. {}\n", t_or_dash(c.opened_at), t_or_dash(c.first_seen), t_or_dash(c.last_seen));
  fmt::print("warnings sent: {}  last: {}  failed attempts: {}  next attempt: {}\n", c.warnings_sent,
             t_or_dash(c.last_warning_at), c.failed_attempts, t_or_dash(c.next_attempt_at));
  fmt::print("\nevidence:\n");
  for (const auto& f : d->findings)
    fmt::print("  [{}] {} {} ({}x, {} events, {} .. {}){}\n      {}\n", severity_name(f.severity), f.finding.type,
               f.finding.indicator, f.occurrences, f.events, t_or_dash(f.first_seen), t_or_dash(f.last_seen),
               f.warned_at ? " warned " + format_rfc3339(f.warned_at) : "", f.finding.explanation);
  fmt::print("\nhistory:\n");
  for (const auto& h : d->history)
    fmt::print("  {}  {} -> {}  by {}{}\n", t_or_dash(h.at), h.from.empty() ? "(new)" : h.from, h.to, h.actor,
               h.note.empty() ? "" : ": " + h.note);
  if (!d->deliveries.empty()) fmt::print("\ndeliveries:\n");
  for (const auto& x : d->deliveries)
    fmt::print("  {}  {}  {}{}\n", t_or_dash(x.at), x.channel, x.ok ? "ok" : "FAILED",
               x.ok ? (x.message_id.empty() ? "" : " " + x.message_id) : ": " + x.error);
}

void cmd_move(CasesOptions& o, const char* what) {
  auto access = o.store.authorize(Permission::kManageCases, std::string("cases.") + what, std::to_string(o.id));
  Stores s = open_stores(o.store, true);
  const std::string& actor = access.actor;
  try {
    std::string_view w = what;
    if (w == "ack")
      s.cases->acknowledge(o.id, actor, o.note, now_ms());
    else if (w == "resolve")
      s.cases->resolve(o.id, actor, o.note, now_ms());
    else
      s.cases->close(o.id, actor, o.note, now_ms());
  } catch (const CaseError& e) {
    throw CommandError(kFailure, e.what());
  }
  auto d = s.cases->get(o.id);
  fmt::print("case {}: {}\n", o.id, d ? state_name(d->summary.state) : "?");
}

// The warning channels are wired by the notify component; none in this build yet.
// The channel's sender, configured from the [notify] tables of -c FILE
// (docs/notify.md); "file" renders into --to-dir and sends nothing.
std::unique_ptr<WarningSender> open_sender(const CasesOptions& o) {
  std::string path;
  if (auto* c = o.root ? o.root->get_config_ptr() : nullptr; c && c->count() > 0) path = c->as<std::string>();
  try {
    notify::NotifyConfig cfg = notify::load_notify_config(path);
    notify::TemplateSet t = notify::templates_for(cfg);
    if (o.channel == "file") {
      if (o.to_dir.empty()) throw std::invalid_argument("--channel file needs --to-dir DIR");
      return std::make_unique<notify::FileSender>(cfg, std::move(t), o.to_dir);
    }
    return notify::make_sender(o.channel, cfg, t);
  } catch (const std::exception& e) {
    throw CommandError(kUsage, fmt::format("cases notify: {}", e.what()));
  }
}

void cmd_notify(CasesOptions& o) {
  privacy::Access access;
  if (o.dry_run) {
    o.store.authorize(Permission::kViewPseudonymous, "cases.notify.dry-run");
  } else {
    try {
      privacy::require_reason(o.reason, "sending warnings");
    } catch (const std::invalid_argument& e) {
      throw CommandError(kUsage, std::string(e.what()) + " (--reason)");
    }
    access = o.store.authorize(Permission::kSendWarning, privacy::kActionWarningSend);
  }
  Stores s = open_stores(o.store, true);
  TimeMs now = now_ms();
  if (o.dry_run) {
    auto ps = o.store.pseudonymiser();
    auto due = s.cases->due(now, ps);
    for (const auto& r : due) {
      if (o.json) {
        nlohmann::json j = {{"case", r.case_id},   {"subscriber", r.pseudonym}, {"language", r.language},
                            {"severity", r.severity}, {"findings", r.findings.size()},
                            {"first_seen", t_or_dash(r.first_seen)}, {"last_seen", t_or_dash(r.last_seen)}};
        auto& ind = j["indicators"] = nlohmann::json::array();
        for (const auto& f : r.findings) ind.push_back(f.type + " " + f.indicator);
        fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      } else {
        fmt::print("would warn case {} ({}, {}, severity {}): {} finding(s)\n", r.case_id, r.pseudonym, r.language,
                   r.severity, r.findings.size());
        for (const auto& f : r.findings) fmt::print("    {} {}\n", f.type, f.indicator);
      }
    }
    if (!o.json) fmt::print("{} warning(s) due (dry run: nothing sent)\n", due.size());
    return;
  }
  auto ps = o.store.pseudonymiser();
  auto sender = open_sender(o);
  s.cases->close_expired(now);
  auto rep = s.cases->notify(*sender, now, access.actor, ps);
  for (const auto& e : rep.entries) {
    // Every attempt to reach a subscriber is in the audit trail.
    o.store.audit(access, privacy::kActionWarningSend, e.pseudonym, o.reason,
                  {{"case", e.case_id}, {"channel", e.channel}, {"ok", e.ok}, {"error", e.error}});
    fmt::print("case {} ({}): {} {}\n", e.case_id, e.pseudonym, e.channel, e.ok ? "sent" : "FAILED: " + e.error);
  }
  fmt::print("{} due, {} sent, {} failed, {} in the manual queue\n", rep.due, rep.sent, rep.failed, rep.manual);
  if (rep.failed) exit_code() = kFailure;
}

void cmd_unattributed(CasesOptions& o) {
  o.store.authorize(Permission::kViewPseudonymous, "cases.unattributed");
  Stores s = open_stores(o.store, true);
  auto rows = s.cases->unattributed(o.limit);
  for (const auto& u : rows) {
    if (o.json) {
      nlohmann::json j = nlohmann::json::parse(finding_to_json(u.finding));
      j["occurrences"] = u.occurrences;
      j["received_at"] = t_or_dash(u.received_at);
      fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
      fmt::print("{:<16} {:<40} {:<40} {:>6}x  last {}\n", u.finding.type, u.finding.host.str(), u.finding.indicator,
                 u.occurrences, t_or_dash(u.finding.last));
    }
  }
}

void cmd_stats(CasesOptions& o) {
  o.store.authorize(Permission::kViewPseudonymous, "cases.stats");
  Stores s = open_stores(o.store, true);
  auto st = s.cases->stats();
  if (o.json) {
    nlohmann::json by = nlohmann::json::object();
    for (const auto& [k, v] : st.by_state) by[k] = v;
    fmt::print("{}\n", nlohmann::json{{"by_state", by},
                                      {"manual_queue", st.manual_queue},
                                      {"failing", st.failing},
                                      {"unattributed", st.unattributed},
                                      {"unattributed_occurrences", st.unattributed_occurrences}}
                           .dump());
    return;
  }
  for (const auto& [k, v] : st.by_state) fmt::print("{:<14} {}\n", k, v);
  fmt::print("manual queue   {}\nfailing        {}\nunattributed   {} ({} occurrences)\n", st.manual_queue,
             st.failing, st.unattributed, st.unattributed_occurrences);
}

}  // namespace

void register_cases(CLI::App& app) {
  auto o = std::make_shared<CasesOptions>();
  o->root = &app;
  auto* grp = app.add_subcommand("cases", "Cases: infected subscribers, their evidence, warnings and follow-up");
  grp->require_subcommand(1);
  grp->fallthrough();
  o->store.add_to(grp, true);

  auto* list = grp->add_subcommand("list", "List cases (highest severity first)");
  list->add_option("--state", o->state, "Only cases in this state")
      ->check(CLI::IsMember({"detected", "notified", "acknowledged", "resolved", "reinfected", "closed"}));
  list->add_option("--queue", o->queue, "Only open cases in this queue: manual (cannot be warned automatically) or auto")
      ->check(CLI::IsMember({"manual", "auto"}));
  list->add_flag("--open", o->open_only, "Leave out closed cases");
  list->add_option("--limit", o->limit, "At most this many");
  list->add_flag("--json", o->json, "One JSON object per line");
  list->callback([o] { cmd_list(*o); });

  auto* show = grp->add_subcommand("show", "Show a case: evidence, history, delivery attempts");
  show->add_option("id", o->id, "Case id")->required();
  show->add_flag("--json", o->json, "As JSON");
  show->callback([o] { cmd_show(*o); });

  for (auto [name, help] : {std::pair{"ack", "Record that the subscriber acknowledged the warning"},
                            std::pair{"resolve", "Mark a case resolved (the device is clean)"},
                            std::pair{"close", "Close a case"}}) {
    auto* sc = grp->add_subcommand(name, help);
    sc->add_option("id", o->id, "Case id")->required();
    sc->add_option("--note", o->note, "Note for the case history");
    sc->callback([o, name = name] { cmd_move(*o, name); });
  }

  auto* notify = grp->add_subcommand("notify", "Send the warnings that are due (paced, deduplicated)");
  notify->add_flag("--dry-run", o->dry_run, "Print what would be sent; send and record nothing");
  notify->add_option("--channel", o->channel, "Warning channel: smtp, webhook, csv (settings: [notify] in -c FILE) or file")
      ->check(CLI::IsMember({"smtp", "webhook", "csv", "file"}))
      ->capture_default_str();
  notify->add_option("--to-dir", o->to_dir, "--channel file: render each warning into DIR (.txt and .eml); nothing is sent");
  notify->add_option("--reason", o->reason, "Why these warnings are sent (required to send; recorded in the audit log)");
  notify->add_flag("--json", o->json, "Dry run: one JSON object per warning");
  notify->callback([o] { cmd_notify(*o); });

  auto* un = grp->add_subcommand("unattributed", "Findings that no subscriber could be attributed to");
  un->add_option("--limit", o->limit, "At most this many");
  un->add_flag("--json", o->json, "One JSON object per line");
  un->callback([o] { cmd_unattributed(*o); });

  auto* st = grp->add_subcommand("stats", "Cases per state, manual queue, failing deliveries, unattributed");
  st->add_flag("--json", o->json, "As JSON");
  st->callback([o] { cmd_stats(*o); });
}

}  // namespace omamori::cli
