// CaseStore: construction and ingest (finding + attribution -> case).
#include <algorithm>

#include "cases/case_store.hpp"
#include "cases/schema.hpp"
#include "store/text.hpp"

namespace omamori::cases {

using detail::str;

CaseStore::CaseStore(store::Db& db, const subscribers::Directory& directory, Policy policy)
    : db_(db), dir_(directory), policy_(policy) {
  store::migrate(db_, "cases", detail::migrations());
}

CaseStore::Queue CaseStore::queue_for(const std::string& subscriber) const {
  auto s = dir_.find(subscriber);
  if (!s) return {"manual", "subscriber not in the directory"};
  if (!s->warnings_allowed) return {"manual", "contract terms do not allow warnings"};
  return {"auto", ""};
}

namespace {

// Text fields of a finding made storable (names from the wire may hold any bytes).
Finding clean(const Finding& in) {
  Finding f = in;
  for (std::string* s : {&f.type, &f.indicator, &f.feed, &f.category, &f.family, &f.explanation})
    *s = store::clean_text(*s);
  for (auto& [k, v] : f.details) {
    k = store::clean_text(k);
    v = store::clean_text(v);
  }
  return f;
}

TimeMs evidence_time(const Finding& f, TimeMs now) { return f.last ? f.last : (f.first ? f.first : now); }

}  // namespace

IngestResult CaseStore::ingest_unattributed(const Finding& f, TimeMs now) {
  std::string json = finding_to_json(f), host = f.host.empty() ? "" : f.host.str();
  return store::with_transaction(db_, [&] {
    int64_t n = db_.exec(
        "UPDATE unattributed_findings SET occurrences = occurrences + 1, finding_json = ?, updated_at = ?, "
        "first_seen = CASE WHEN first_seen < ? THEN first_seen ELSE ? END, "
        "last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END "
        "WHERE type = ? AND indicator = ? AND host = ?",
        {json, now, f.first, f.first, f.last, f.last, f.type, f.indicator, host});
    if (n == 0)
      db_.exec(
          "INSERT INTO unattributed_findings(type, indicator, host, first_seen, last_seen, occurrences, "
          "finding_json, received_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)",
          {f.type, f.indicator, host, f.first, f.last, json, now, now});
    return IngestResult{IngestOutcome::kUnattributed, 0};
  });
}

IngestResult CaseStore::ingest(const Finding& raw, const Attribution& a, TimeMs now) {
  Severity sev = severity_of(raw);
  if (sev == Severity::kNone) {
    ignored_.add("not a subscriber finding");
    return {IngestOutcome::kIgnored, 0};
  }
  Finding f = clean(raw);
  if (a.subscriber.empty()) return ingest_unattributed(f, now);
  const std::string subscriber = store::clean_text(a.subscriber);
  const std::string session = store::clean_text(a.session_id);
  const Queue q = queue_for(subscriber);
  const std::string json = finding_to_json(f), host = f.host.empty() ? "" : f.host.str();
  const TimeMs seen = evidence_time(f, now);
  const TimeMs first = f.first ? f.first : seen, last = seen;
  const int64_t sev_i = static_cast<int64_t>(sev);

  return store::with_transaction(db_, [&]() -> IngestResult {
    // Lock the subscriber's open case (if any) before reading it, so that
    // concurrent ingests for one subscriber take turns.
    db_.exec("UPDATE cases SET updated_at = ? WHERE subscriber_id = ? AND state <> 'closed'", {now, subscriber});
    store::Rows c = db_.query(
        "SELECT id, state, resolved_at FROM cases WHERE subscriber_id = ? AND state <> 'closed'", {subscriber});
    int64_t id = 0;
    IngestOutcome outcome = IngestOutcome::kAdded;
    bool reinfected = false;
    if (!c.empty()) {
      id = c.integer(0, 0);
      State st = parse_state(c.text(0, 1)).value_or(State::kDetected);
      TimeMs resolved_at = c.integer(0, 2);
      if (st == State::kResolved && seen > resolved_at) {
        if (seen - resolved_at <= policy_.reinfection_window) {
          reinfected = true;
        } else {  // the old case is over; this is a new infection
          db_.exec("UPDATE cases SET state = 'closed', closed_at = ? WHERE id = ?", {now, id});
          detail::add_history(db_, id, now, "resolved", "closed", "system", "re-infection window passed");
          id = 0;
        }
      }
    }
    if (id == 0) {
      store::Rows ins = db_.query(
          "INSERT INTO cases(subscriber_id, state, queue, queue_reason, severity, opened_at, updated_at, "
          "first_seen, last_seen) VALUES (?, 'detected', ?, ?, ?, ?, ?, ?, ?) RETURNING id",
          {subscriber, q.queue, q.reason, sev_i, now, now, first, last});
      id = ins.integer(0, 0);
      detail::add_history(db_, id, now, "", "detected", "system", f.type + " " + f.indicator);
      outcome = IngestOutcome::kNewCase;
    }

    store::Rows have = db_.query("SELECT id FROM case_findings WHERE case_id = ? AND type = ? AND indicator = ?",
                                 {id, f.type, f.indicator});
    if (have.empty()) {
      db_.exec(
          "INSERT INTO case_findings(case_id, type, indicator, host, severity, confidence, session_id, first_seen, "
          "last_seen, events, occurrences, finding_json, added_at, updated_at) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
          {id, f.type, f.indicator, host, sev_i, int64_t{f.confidence}, session, first, last,
           static_cast<int64_t>(std::min<uint64_t>(f.events, INT64_MAX)), json, now, now});
    } else {
      // Dedup: the same indicator again merges into its row; it makes no
      // new warning unless this is a re-infection.
      db_.exec(
          "UPDATE case_findings SET occurrences = occurrences + 1, events = events + ?, finding_json = ?, "
          "host = ?, session_id = ?, updated_at = ?, "
          "severity = CASE WHEN severity > ? THEN severity ELSE ? END, "
          "confidence = CASE WHEN confidence > ? THEN confidence ELSE ? END, "
          "first_seen = CASE WHEN first_seen < ? THEN first_seen ELSE ? END, "
          "last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END, "
          "warned_at = CASE WHEN ? = 1 THEN 0 ELSE warned_at END WHERE id = ?",
          {static_cast<int64_t>(std::min<uint64_t>(f.events, INT64_MAX / 4)), json, host, session, now, sev_i, sev_i,
           int64_t{f.confidence}, int64_t{f.confidence}, first, first, last, last, int64_t{reinfected ? 1 : 0},
           have.integer(0, 0)});
      if (outcome != IngestOutcome::kNewCase) outcome = IngestOutcome::kDuplicate;
    }

    db_.exec(
        "UPDATE cases SET updated_at = ?, queue = ?, queue_reason = ?, "
        "severity = CASE WHEN severity > ? THEN severity ELSE ? END, "
        "first_seen = CASE WHEN first_seen < ? THEN first_seen ELSE ? END, "
        "last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END WHERE id = ?",
        {now, q.queue, q.reason, sev_i, sev_i, first, first, last, last, id});
    if (reinfected) {
      db_.exec("UPDATE cases SET state = 'reinfected', reinfections = reinfections + 1 WHERE id = ?", {id});
      detail::add_history(db_, id, now, "resolved", "reinfected", "system", f.type + " " + f.indicator);
      outcome = IngestOutcome::kReinfected;
    }
    return IngestResult{outcome, id};
  });
}

}  // namespace omamori::cases
