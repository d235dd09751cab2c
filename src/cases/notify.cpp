// CaseStore: which warnings are due, sending them, recording each attempt.
#include <algorithm>

#include "cases/case_store.hpp"
#include "cases/schema.hpp"

namespace omamori::cases {

using detail::str;

std::vector<int64_t> CaseStore::candidates(TimeMs now) const {
  // Open, warnable states; evidence not yet in a warning (dedup); pacing: no
  // warning yet, or the last one is warn_interval old, or severity rose
  // since; and not waiting out a retry backoff.
  store::Rows r = db_.query(
      "SELECT c.id FROM cases c WHERE c.state IN ('detected', 'notified', 'acknowledged', 'reinfected') "
      "AND c.next_attempt_at <= ? "
      "AND EXISTS (SELECT 1 FROM case_findings f WHERE f.case_id = c.id AND f.warned_at = 0) "
      "AND (c.last_warning_at = 0 OR c.last_warning_at <= ? OR c.severity > c.last_warning_severity) "
      "ORDER BY c.severity DESC, c.id",
      {now, now - policy_.warn_interval});
  std::vector<int64_t> ids;
  for (size_t i = 0; i < r.size(); ++i) ids.push_back(r.integer(i, 0));
  return ids;
}

std::optional<WarningRequest> CaseStore::build_request(int64_t id, const PseudonymFn& pseudonym,
                                                       std::vector<int64_t>& finding_ids) {
  store::Rows c = db_.query("SELECT subscriber_id, severity FROM cases WHERE id = ?", {id});
  if (c.empty()) return std::nullopt;
  WarningRequest req;
  req.case_id = id;
  req.subscriber_id = c.text(0, 0);
  req.severity = str(severity_name(detail::severity_from_int(c.integer(0, 1))));
  auto sub = dir_.find(req.subscriber_id);
  if (!sub) return std::nullopt;
  req.email = sub->email;
  req.language = sub->language;
  req.pseudonym = pseudonym ? pseudonym(req.subscriber_id) : req.subscriber_id;
  store::Rows fs = db_.query(
      "SELECT id, finding_json, first_seen, last_seen FROM case_findings WHERE case_id = ? AND warned_at = 0 "
      "ORDER BY severity DESC, first_seen, id",
      {id});
  finding_ids.clear();
  for (size_t i = 0; i < fs.size(); ++i) {
    Finding f;
    if (!finding_from_json(fs.text(i, 1), f, nullptr)) continue;  // stored by us: always parses
    finding_ids.push_back(fs.integer(i, 0));
    req.findings.push_back(std::move(f));
    TimeMs a = fs.integer(i, 2), b = fs.integer(i, 3);
    req.first_seen = req.first_seen ? std::min(req.first_seen, a) : a;
    req.last_seen = std::max(req.last_seen, b);
  }
  if (req.findings.empty()) return std::nullopt;
  return req;
}

std::vector<WarningRequest> CaseStore::due(TimeMs now, const PseudonymFn& pseudonym) {
  std::vector<WarningRequest> out;
  std::vector<int64_t> ids;
  for (int64_t id : candidates(now)) {
    store::Rows c = db_.query("SELECT subscriber_id FROM cases WHERE id = ?", {id});
    if (c.empty() || queue_for(c.text(0, 0)).queue != "auto") continue;
    if (auto req = build_request(id, pseudonym, ids)) out.push_back(std::move(*req));
  }
  return out;
}

NotifyReport CaseStore::notify(WarningSender& sender, TimeMs now, const std::string& actor,
                               const PseudonymFn& pseudonym) {
  NotifyReport rep;
  std::vector<int64_t> finding_ids;
  for (int64_t id : candidates(now)) {
    ++rep.due;
    // The directory may have changed since ingest (consent withdrawn or given).
    store::Rows c = db_.query("SELECT subscriber_id, queue, queue_reason FROM cases WHERE id = ?", {id});
    if (c.empty()) continue;
    Queue q = queue_for(c.text(0, 0));
    if (q.queue != c.text(0, 1) || q.reason != c.text(0, 2))
      db_.exec("UPDATE cases SET queue = ?, queue_reason = ? WHERE id = ?", {q.queue, q.reason, id});
    if (q.queue != "auto") {
      ++rep.manual;
      continue;
    }
    // Claim the case for claim_lease so that two notifiers never send the same warning.
    if (db_.exec("UPDATE cases SET next_attempt_at = ? WHERE id = ? AND next_attempt_at <= ?",
                 {now + policy_.claim_lease, id, now}) != 1) {
      ++rep.claimed_elsewhere;
      continue;
    }
    auto req = build_request(id, pseudonym, finding_ids);
    if (!req) {
      db_.exec("UPDATE cases SET next_attempt_at = 0 WHERE id = ?", {id});
      continue;
    }
    DeliveryResult r;
    try {
      r = sender.send(*req);
    } catch (const std::exception& e) {  // a sender should report, not throw; record it all the same
      r.ok = false;
      r.error = e.what();
    }
    if (r.channel.empty()) r.channel = "unknown";
    record(*req, finding_ids, r, actor, now);
    rep.entries.push_back({id, req->pseudonym, r.channel, r.ok, r.error});
    ++(r.ok ? rep.sent : rep.failed);
  }
  return rep;
}

void CaseStore::record(const WarningRequest& req, const std::vector<int64_t>& finding_ids, const DeliveryResult& r,
                       const std::string& actor, TimeMs now) {
  const int64_t sev = static_cast<int64_t>(parse_severity(req.severity).value_or(Severity::kLow));
  store::with_transaction(db_, [&] {
    db_.exec(
        "INSERT INTO case_deliveries(case_id, at, channel, ok, error, message_id, severity, findings) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        {req.case_id, now, r.channel, int64_t{r.ok ? 1 : 0}, r.error, r.message_id, sev,
         static_cast<int64_t>(finding_ids.size())});
    if (!r.ok) {
      store::Rows c = db_.query("SELECT failed_attempts FROM cases WHERE id = ?", {req.case_id});
      int64_t n = (c.empty() ? 0 : c.integer(0, 0)) + 1;
      TimeMs wait = policy_.retry_base;
      for (int64_t i = 1; i < n && wait < policy_.retry_max; ++i) wait *= 2;
      wait = std::min(wait, policy_.retry_max);
      db_.exec("UPDATE cases SET failed_attempts = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?",
               {n, now + wait, now, req.case_id});
      return;
    }
    for (int64_t fid : finding_ids) db_.exec("UPDATE case_findings SET warned_at = ? WHERE id = ?", {now, fid});
    store::Rows c = db_.query("SELECT state FROM cases WHERE id = ?", {req.case_id});
    std::string from = c.empty() ? "" : c.text(0, 0);
    bool moves = from == "detected" || from == "notified" || from == "acknowledged" || from == "reinfected";
    db_.exec(
        "UPDATE cases SET last_warning_at = ?, last_warning_severity = ?, warnings_sent = warnings_sent + 1, "
        "failed_attempts = 0, next_attempt_at = 0, updated_at = ? WHERE id = ?",
        {now, sev, now, req.case_id});
    if (moves) {
      db_.exec("UPDATE cases SET state = 'notified' WHERE id = ?", {req.case_id});
      std::string note = "warning sent via " + r.channel;
      if (!r.message_id.empty()) note += " (" + r.message_id + ")";
      detail::add_history(db_, req.case_id, now, from, "notified", actor, note);
    }
  });
}

}  // namespace omamori::cases
