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

// Events one finding can add: keeps the per-row sum far from overflowing.
constexpr uint64_t kMaxEventsPerFinding = uint64_t{1} << 40;

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
    // The touch both locks and reads: one round trip.
    store::Rows c = db_.query(
        "UPDATE cases SET updated_at = ? WHERE subscriber_id = ? AND state <> 'closed' "
        "RETURNING id, state, resolved_at",
        {now, subscriber});
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

    // Dedup: the same (type, indicator) again merges into its row (one
    // upsert); it makes no new warning unless this is a re-infection.
    store::Rows up = db_.query(
        "INSERT INTO case_findings(case_id, type, indicator, host, severity, confidence, session_id, first_seen, "
        "last_seen, events, occurrences, finding_json, added_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?) "
        "ON CONFLICT (case_id, type, indicator) DO UPDATE SET "
        "occurrences = case_findings.occurrences + 1, events = case_findings.events + excluded.events, "
        "finding_json = excluded.finding_json, host = excluded.host, session_id = excluded.session_id, "
        "updated_at = excluded.updated_at, "
        "severity = CASE WHEN case_findings.severity > excluded.severity THEN case_findings.severity "
        "ELSE excluded.severity END, "
        "confidence = CASE WHEN case_findings.confidence > excluded.confidence THEN case_findings.confidence "
        "ELSE excluded.confidence END, "
        "first_seen = CASE WHEN case_findings.first_seen < excluded.first_seen THEN case_findings.first_seen "
        "ELSE excluded.first_seen END, "
        "last_seen = CASE WHEN case_findings.last_seen > excluded.last_seen THEN case_findings.last_seen "
        "ELSE excluded.last_seen END, "
        "warned_at = CASE WHEN ? = 1 THEN 0 ELSE case_findings.warned_at END "
        "RETURNING occurrences",
        {id, f.type, f.indicator, host, sev_i, int64_t{f.confidence}, session, first, last,
         static_cast<int64_t>(std::min<uint64_t>(f.events, kMaxEventsPerFinding)), json, now, now,
         int64_t{reinfected ? 1 : 0}});
    if (up.integer(0, 0) > 1 && outcome != IngestOutcome::kNewCase) outcome = IngestOutcome::kDuplicate;

    if (outcome != IngestOutcome::kNewCase)
      db_.exec(
          "UPDATE cases SET queue = ?, queue_reason = ?, "
          "severity = CASE WHEN severity > ? THEN severity ELSE ? END, "
          "first_seen = CASE WHEN first_seen < ? THEN first_seen ELSE ? END, "
          "last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END, "
          "state = CASE WHEN ? = 1 THEN 'reinfected' ELSE state END, reinfections = reinfections + ? WHERE id = ?",
          {q.queue, q.reason, sev_i, sev_i, first, first, last, last, int64_t{reinfected ? 1 : 0},
           int64_t{reinfected ? 1 : 0}, id});
    if (reinfected) {
      detail::add_history(db_, id, now, "resolved", "reinfected", "system", f.type + " " + f.indicator);
      outcome = IngestOutcome::kReinfected;
    }
    return IngestResult{outcome, id};
  });
}

}  // namespace omamori::cases
