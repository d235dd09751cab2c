// `omamori audit`: verify the hash-chained audit log, show it, print its head
// for anchoring elsewhere, record a manual entry. docs/privacy.md, docs/cli.md.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/common.hpp"
#include "core/time.hpp"
#include "privacy/audit.hpp"
#include "privacy/settings.hpp"

namespace omamori::cli {

using namespace omamori::privacy;

namespace {

struct AuditOptions {
  Settings settings;
  std::string log;  // verify --log
  std::vector<std::string> anchors;
  bool json = false;
  // show
  std::string since, until, actor, action, format = "table";
  size_t limit = 0;
  // record
  std::string subject, reason, detail;
};

std::string log_path(AuditOptions& o) {
  o.settings.resolve();
  return o.log.empty() ? o.settings.audit_log : o.log;
}

void cmd_verify(AuditOptions& o) {
  std::string path = log_path(o);
  std::vector<AuditHead> anchors;
  for (const auto& a : o.anchors) {
    auto colon = a.find(':');
    AuditHead h;
    if (colon == std::string::npos || colon == 0) throw CommandError(kUsage, "--anchor wants SEQ:HASH, got " + a);
    try {
      h.seq = std::stoull(a.substr(0, colon));
    } catch (const std::exception&) {
      throw CommandError(kUsage, "--anchor wants SEQ:HASH, got " + a);
    }
    h.hash = a.substr(colon + 1);
    anchors.push_back(h);
  }
  VerifyResult r = verify_audit(path, anchors);
  if (o.json) {
    nlohmann::json j = {{"log", path}, {"ok", r.ok}, {"entries", r.entries}};
    if (!r.ok) {
      j["bad_seq"] = r.bad_seq;
      j["bad_line"] = r.bad_line;
      j["problem"] = r.problem;
    } else {
      j["last_hash"] = r.last_hash;
    }
    if (!r.note.empty()) j["note"] = r.note;
    fmt::print("{}\n", j.dump());
  } else if (r.ok) {
    fmt::print("audit log {}: OK, {} entries, chain intact{}\n", path, r.entries,
               r.entries ? ", last hash " + r.last_hash : "");
    if (!r.note.empty()) fmt::print("note: {}\n", r.note);
  } else {
    std::string where = r.bad_line ? fmt::format("line {} (seq {})", r.bad_line, r.bad_seq)
                                   : fmt::format("seq {}", r.bad_seq);
    fmt::print("audit log {}: FAILED at {}: {}\n", path, where, r.problem);
    fmt::print(stderr, "omamori: audit log {} does not verify: {}: {}\n", path, where, r.problem);
  }
  exit_code() = r.ok ? kOk : kFailure;
}

void cmd_head(AuditOptions& o) {
  std::string path = log_path(o);
  VerifyResult r = verify_audit(path);
  if (!r.ok) throw CommandError(kFailure, fmt::format("audit log {} does not verify: {}", path, r.problem));
  // The anchor to write down elsewhere; `audit verify --anchor SEQ:HASH` checks it later.
  fmt::print("{}:{}\n", r.entries, r.entries ? r.last_hash : std::string(64, '0'));
}

void cmd_show(AuditOptions& o) {
  o.settings.resolve();
  std::string path = o.log.empty() ? o.settings.audit_log : o.log;
  try {
    authorize(o.settings, Permission::kReadAudit, "audit.show", path);
  } catch (const AccessDenied& e) {
    throw CommandError(kFailure, fmt::format("access denied: {}", e.what()));
  }
  std::optional<TimeMs> since, until;
  if (!o.since.empty() && !(since = parse_time(o.since))) throw CommandError(kUsage, "bad --since time: " + o.since);
  if (!o.until.empty() && !(until = parse_time(o.until))) throw CommandError(kUsage, "bad --until time: " + o.until);
  VerifyResult v = verify_audit(path);
  if (!v.ok)
    fmt::print(stderr, "omamori: warning: audit log {} does not verify (line {}, seq {}: {})\n", path, v.bad_line,
               v.bad_seq, v.problem);
  if (o.format == "table") fmt::print("{:>6}  {:<24}  {:<12} {:<8}  {:<16}  {:<20}  {}\n", "seq", "time", "actor", "role", "action", "subject", "reason");
  size_t shown = 0;
  uint64_t skipped = 0;
  bool ok = read_audit(
      path,
      [&](const AuditEntry& e) {
        if (o.limit && shown >= o.limit) return;
        if (!o.actor.empty() && e.event.actor != o.actor) return;
        // --action identity matches identity.reveal and identity.*; an exact name matches itself.
        if (!o.action.empty() && e.event.action != o.action &&
            !(e.event.action.size() > o.action.size() && e.event.action.compare(0, o.action.size(), o.action) == 0 &&
              e.event.action[o.action.size()] == '.'))
          return;
        if (since || until) {
          auto t = parse_time(e.time);
          if (!t || (since && *t < *since) || (until && *t >= *until)) return;
        }
        ++shown;
        if (o.format == "jsonl") {
          nlohmann::json j = {{"seq", e.seq},           {"time", e.time},           {"actor", e.event.actor},
                              {"role", e.event.role},   {"action", e.event.action}, {"subject", e.event.subject},
                              {"reason", e.event.reason}, {"detail", e.event.detail}, {"hash", e.hash}};
          fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        } else {
          fmt::print("{:>6}  {:<24}  {:<12} {:<8}  {:<16}  {:<20}  {}{}\n", e.seq, e.time, e.event.actor,
                     e.event.role, e.event.action, e.event.subject, e.event.reason,
                     e.event.detail.is_null() ? "" : "  " + e.event.detail.dump(-1, ' ', false,
                                                                                nlohmann::json::error_handler_t::replace));
        }
      },
      &skipped);
  if (!ok) throw CommandError(kFailure, fmt::format("cannot read audit log {}: {}", path, std::strerror(errno)));
  if (skipped) fmt::print(stderr, "omamori: {} malformed lines skipped\n", skipped);
}

void cmd_record(AuditOptions& o) {
  o.settings.resolve();
  try {
    require_reason(o.reason, "audit record");
  } catch (const std::invalid_argument& e) {
    throw CommandError(kUsage, e.what());
  }
  // Any role may record a note (every role may view); the entry carries the
  // real actor and role and is marked manual.
  Access a;
  try {
    a = authorize(o.settings, Permission::kViewPseudonymous, "audit.record", o.subject);
  } catch (const AccessDenied& e) {
    throw CommandError(kFailure, fmt::format("access denied: {}", e.what()));
  }
  AuditEvent ev{a.actor, std::string(role_name(a.role)), o.action, o.subject, o.reason, nullptr};
  if (!o.detail.empty()) {
    try {
      ev.detail = nlohmann::json::parse(o.detail);
    } catch (const nlohmann::json::exception& e) {
      throw CommandError(kUsage, fmt::format("--detail is not JSON: {}", e.what()));
    }
  }
  if (!ev.detail.is_object()) ev.detail = ev.detail.is_null() ? nlohmann::json::object() : nlohmann::json{{"value", ev.detail}};
  ev.detail["manual"] = true;
  uint64_t seq = AuditLog(o.settings.audit_log).append(ev);
  fmt::print("recorded seq {}\n", seq);
}

}  // namespace

void register_audit(CLI::App& app) {
  auto o = std::make_shared<AuditOptions>();
  auto* audit = app.add_subcommand("audit", "The tamper-evident audit log: verify, show, head, record");
  audit->require_subcommand(1);
  o->settings.add_to(audit);

  auto* verify = audit->add_subcommand(
      "verify", "Check the hash chain and head file; exit 1 and name the first bad entry when anything was altered, "
                "removed, reordered, inserted or cut off (needs no role)");
  verify->add_option("--log", o->log, "Audit log to verify (default: --audit-log)");
  verify->add_option("--anchor", o->anchors, "SEQ:HASH from an earlier `audit head`; the entry must still match")
      ->expected(1);
  verify->add_flag("--json", o->json, "Print the result as one JSON object");
  verify->callback([o] { cmd_verify(*o); });

  auto* head = audit->add_subcommand("head", "Print SEQ:HASH of the last entry, to be kept elsewhere as an anchor");
  head->add_option("--log", o->log, "Audit log (default: --audit-log)");
  head->callback([o] { cmd_head(*o); });

  auto* show = audit->add_subcommand("show", "List audit entries (needs read-audit: auditor or admin)");
  show->add_option("--log", o->log, "Audit log (default: --audit-log)");
  show->add_option("--since", o->since, "Only entries at or after this time (RFC 3339 or epoch seconds)");
  show->add_option("--until", o->until, "Only entries before this time");
  show->add_option("--actor", o->actor, "Only this actor");
  show->add_option("--action", o->action, "Only this action, or actions under it (identity = identity.*)");
  show->add_option("--format", o->format, "table or jsonl")
      ->check(CLI::IsMember({"table", "jsonl"}))
      ->capture_default_str();
  show->add_option("--limit", o->limit, "At most this many entries");
  show->callback([o] { cmd_show(*o); });

  auto* record = audit->add_subcommand(
      "record", "Append a manual entry (e.g. a configuration change made by hand); marked manual, any role");
  record->add_option("--action", o->action, "Action, e.g. config.change")->required();
  record->add_option("--subject", o->subject, "What it concerns");
  record->add_option("--reason", o->reason, "Why (required)")->required();
  record->add_option("--detail", o->detail, "JSON object with details");
  record->callback([o] { cmd_record(*o); });
}

}  // namespace omamori::cli
