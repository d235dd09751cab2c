// CaseStore: analyst actions (state transitions) and reads.
#include <algorithm>

#include "cases/case_store.hpp"
#include "cases/schema.hpp"

namespace omamori::cases {

using detail::str;

void CaseStore::transition(int64_t id, State to, std::initializer_list<State> from, const std::string& actor,
                           const std::string& note, TimeMs now) {
  store::with_transaction(db_, [&] {
    // Touch first: locks the row (PostgreSQL) before reading its state.
    if (db_.exec("UPDATE cases SET updated_at = ? WHERE id = ?", {now, id}) != 1)
      throw CaseError("no case " + std::to_string(id));
    store::Rows r = db_.query("SELECT state FROM cases WHERE id = ?", {id});
    State cur = parse_state(r.text(0, 0)).value_or(State::kDetected);
    if (std::find(from.begin(), from.end(), cur) == from.end())
      throw CaseError("case " + std::to_string(id) + " is " + str(state_name(cur)) + ": cannot move it to " +
                      str(state_name(to)));
    const char* extra = to == State::kResolved ? ", resolved_at = ?" : to == State::kClosed ? ", closed_at = ?" : "";
    std::string sql = std::string("UPDATE cases SET state = ?") + extra + " WHERE id = ?";
    if (*extra)
      db_.exec(sql, {str(state_name(to)), now, id});
    else
      db_.exec(sql, {str(state_name(to)), id});
    detail::add_history(db_, id, now, state_name(cur), state_name(to), actor, note);
  });
}

void CaseStore::acknowledge(int64_t id, const std::string& actor, const std::string& note, TimeMs now) {
  transition(id, State::kAcknowledged, {State::kNotified}, actor, note, now);
}

void CaseStore::resolve(int64_t id, const std::string& actor, const std::string& note, TimeMs now) {
  transition(id, State::kResolved, {State::kDetected, State::kNotified, State::kAcknowledged, State::kReinfected},
             actor, note, now);
}

void CaseStore::close(int64_t id, const std::string& actor, const std::string& note, TimeMs now) {
  transition(id, State::kClosed,
             {State::kDetected, State::kNotified, State::kAcknowledged, State::kResolved, State::kReinfected}, actor,
             note, now);
}

int64_t CaseStore::close_expired(TimeMs now) {
  store::Rows r = db_.query("SELECT id FROM cases WHERE state = 'resolved' AND resolved_at < ?",
                            {now - policy_.reinfection_window});
  int64_t n = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    int64_t id = r.integer(i, 0);
    n += store::with_transaction(db_, [&]() -> int64_t {
      if (db_.exec("UPDATE cases SET state = 'closed', closed_at = ?, updated_at = ? WHERE id = ? AND "
                   "state = 'resolved'",
                   {now, now, id}) != 1)
        return 0;
      detail::add_history(db_, id, now, "resolved", "closed", "system", "re-infection window passed");
      return 1;
    });
  }
  return n;
}

std::vector<CaseSummary> CaseStore::list(const ListFilter& f) const {
  std::string sql = std::string("SELECT ") + detail::kCaseColumns + " FROM cases WHERE 1 = 1";
  std::vector<store::Value> p;
  if (f.state) {
    sql += " AND state = ?";
    p.emplace_back(str(state_name(*f.state)));
  } else if (!f.include_closed) {
    sql += " AND state <> 'closed'";
  }
  if (!f.queue.empty()) {
    sql += " AND queue = ? AND state NOT IN ('resolved', 'closed')";
    p.emplace_back(f.queue);
  }
  if (!f.subscriber_id.empty()) {
    sql += " AND subscriber_id = ?";
    p.emplace_back(f.subscriber_id);
  }
  sql += " ORDER BY severity DESC, updated_at DESC, id DESC";
  if (f.limit) sql += " LIMIT " + std::to_string(f.limit);
  store::Rows r = db_.query(sql, p);
  std::vector<CaseSummary> out;
  for (size_t i = 0; i < r.size(); ++i) out.push_back(detail::summary_from_row(r, i));
  return out;
}

std::optional<CaseDetail> CaseStore::get(int64_t id) const {
  store::Rows r = db_.query(std::string("SELECT ") + detail::kCaseColumns + " FROM cases WHERE id = ?", {id});
  if (r.empty()) return std::nullopt;
  CaseDetail d;
  d.summary = detail::summary_from_row(r, 0);
  store::Rows fs = db_.query(
      "SELECT id, finding_json, severity, session_id, first_seen, last_seen, events, occurrences, added_at, "
      "warned_at FROM case_findings WHERE case_id = ? ORDER BY severity DESC, first_seen, id",
      {id});
  for (size_t i = 0; i < fs.size(); ++i) {
    CaseFinding cf;
    cf.id = fs.integer(i, 0);
    finding_from_json(fs.text(i, 1), cf.finding, nullptr);
    cf.severity = detail::severity_from_int(fs.integer(i, 2));
    cf.session_id = fs.text(i, 3);
    cf.first_seen = fs.integer(i, 4);
    cf.last_seen = fs.integer(i, 5);
    cf.events = fs.integer(i, 6);
    cf.occurrences = fs.integer(i, 7);
    cf.added_at = fs.integer(i, 8);
    cf.warned_at = fs.integer(i, 9);
    d.findings.push_back(std::move(cf));
  }
  store::Rows hs = db_.query(
      "SELECT at, from_state, to_state, actor, note FROM case_history WHERE case_id = ? ORDER BY id", {id});
  for (size_t i = 0; i < hs.size(); ++i)
    d.history.push_back({hs.integer(i, 0), hs.text(i, 1), hs.text(i, 2), hs.text(i, 3), hs.text(i, 4)});
  store::Rows ds = db_.query(
      "SELECT at, channel, ok, error, message_id, severity, findings FROM case_deliveries WHERE case_id = ? "
      "ORDER BY id",
      {id});
  for (size_t i = 0; i < ds.size(); ++i)
    d.deliveries.push_back({ds.integer(i, 0), ds.text(i, 1), ds.integer(i, 2) != 0, ds.text(i, 3), ds.text(i, 4),
                            detail::severity_from_int(ds.integer(i, 5)), ds.integer(i, 6)});
  return d;
}

std::vector<UnattributedRow> CaseStore::unattributed(size_t limit) const {
  std::string sql =
      "SELECT id, finding_json, occurrences, received_at, updated_at FROM unattributed_findings "
      "ORDER BY updated_at DESC, id DESC";
  if (limit) sql += " LIMIT " + std::to_string(limit);
  store::Rows r = db_.query(sql);
  std::vector<UnattributedRow> out;
  for (size_t i = 0; i < r.size(); ++i) {
    UnattributedRow u;
    u.id = r.integer(i, 0);
    finding_from_json(r.text(i, 1), u.finding, nullptr);
    u.occurrences = r.integer(i, 2);
    u.received_at = r.integer(i, 3);
    u.updated_at = r.integer(i, 4);
    out.push_back(std::move(u));
  }
  return out;
}

Stats CaseStore::stats() const {
  Stats s;
  store::Rows r = db_.query("SELECT state, count(*) FROM cases GROUP BY state ORDER BY state");
  for (size_t i = 0; i < r.size(); ++i) s.by_state.emplace_back(r.text(i, 0), r.integer(i, 1));
  s.manual_queue = db_.query("SELECT count(*) FROM cases WHERE queue = 'manual' AND state NOT IN "
                             "('resolved', 'closed')")
                       .integer(0, 0);
  s.failing = db_.query("SELECT count(*) FROM cases WHERE failed_attempts > 0 AND state <> 'closed'").integer(0, 0);
  store::Rows u = db_.query("SELECT count(*), COALESCE(SUM(occurrences), 0) FROM unattributed_findings");
  s.unattributed = u.integer(0, 0);
  s.unattributed_occurrences = u.integer(0, 1);
  return s;
}

}  // namespace omamori::cases
