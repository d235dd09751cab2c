#include "cases/schema.hpp"

namespace omamori::cases::detail {

namespace {

constexpr store::Migration kMigrations[] = {
    {1, "cases, case_findings, case_history, case_deliveries, unattributed_findings",
     R"sql(
CREATE TABLE cases(
  id {{id}},
  subscriber_id TEXT NOT NULL,
  state TEXT NOT NULL,
  queue TEXT NOT NULL,
  queue_reason TEXT NOT NULL,
  severity INTEGER NOT NULL,
  opened_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  resolved_at BIGINT NOT NULL DEFAULT 0,
  closed_at BIGINT NOT NULL DEFAULT 0,
  reinfections BIGINT NOT NULL DEFAULT 0,
  last_warning_at BIGINT NOT NULL DEFAULT 0,
  last_warning_severity INTEGER NOT NULL DEFAULT 0,
  warnings_sent BIGINT NOT NULL DEFAULT 0,
  failed_attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX cases_one_open ON cases(subscriber_id) WHERE state <> 'closed';
CREATE INDEX cases_subscriber ON cases(subscriber_id);
CREATE INDEX cases_state ON cases(state);
CREATE TABLE case_findings(
  id {{id}},
  case_id BIGINT NOT NULL REFERENCES cases(id),
  type TEXT NOT NULL,
  indicator TEXT NOT NULL,
  host TEXT NOT NULL,
  severity INTEGER NOT NULL,
  confidence INTEGER NOT NULL,
  session_id TEXT NOT NULL,
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  events BIGINT NOT NULL,
  occurrences BIGINT NOT NULL,
  finding_json TEXT NOT NULL,
  added_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  warned_at BIGINT NOT NULL DEFAULT 0,
  UNIQUE(case_id, type, indicator)
);
CREATE TABLE case_history(
  id {{id}},
  case_id BIGINT NOT NULL REFERENCES cases(id),
  at BIGINT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  actor TEXT NOT NULL,
  note TEXT NOT NULL
);
CREATE INDEX case_history_case ON case_history(case_id);
CREATE TABLE case_deliveries(
  id {{id}},
  case_id BIGINT NOT NULL REFERENCES cases(id),
  at BIGINT NOT NULL,
  channel TEXT NOT NULL,
  ok INTEGER NOT NULL,
  error TEXT NOT NULL,
  message_id TEXT NOT NULL,
  severity INTEGER NOT NULL,
  findings BIGINT NOT NULL
);
CREATE INDEX case_deliveries_case ON case_deliveries(case_id);
CREATE TABLE unattributed_findings(
  id {{id}},
  type TEXT NOT NULL,
  indicator TEXT NOT NULL,
  host TEXT NOT NULL,
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  occurrences BIGINT NOT NULL,
  finding_json TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE(type, indicator, host)
);
)sql"},
};

}  // namespace

std::span<const store::Migration> migrations() { return kMigrations; }

CaseSummary summary_from_row(const store::Rows& r, size_t i) {
  CaseSummary s;
  s.id = r.integer(i, 0);
  s.subscriber_id = r.text(i, 1);
  s.state = parse_state(r.text(i, 2)).value_or(State::kDetected);
  s.queue = r.text(i, 3);
  s.queue_reason = r.text(i, 4);
  s.severity = severity_from_int(r.integer(i, 5));
  s.opened_at = r.integer(i, 6);
  s.updated_at = r.integer(i, 7);
  s.first_seen = r.integer(i, 8);
  s.last_seen = r.integer(i, 9);
  s.resolved_at = r.integer(i, 10);
  s.closed_at = r.integer(i, 11);
  s.reinfections = r.integer(i, 12);
  s.last_warning_at = r.integer(i, 13);
  s.last_warning_severity = severity_from_int(r.integer(i, 14));
  s.warnings_sent = r.integer(i, 15);
  s.failed_attempts = r.integer(i, 16);
  s.next_attempt_at = r.integer(i, 17);
  s.findings = r.integer(i, 18);
  return s;
}

void add_history(store::Db& db, int64_t case_id, TimeMs at, std::string_view from, std::string_view to,
                 const std::string& actor, const std::string& note) {
  db.exec("INSERT INTO case_history(case_id, at, from_state, to_state, actor, note) VALUES (?, ?, ?, ?, ?, ?)",
          {case_id, at, str(from), str(to), actor, note});
}

}  // namespace omamori::cases::detail
