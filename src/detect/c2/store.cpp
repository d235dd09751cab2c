#include "detect/c2/store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>


namespace omamori::c2 {

using intel::DbError;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE c2_runs(
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  source TEXT NOT NULL,
  population INTEGER NOT NULL,
  suspected INTEGER NOT NULL,
  candidates INTEGER NOT NULL
);
CREATE TABLE c2_candidates(
  dest TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open',
  reopened INTEGER NOT NULL DEFAULT 0,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  first_run INTEGER NOT NULL,
  last_run INTEGER NOT NULL,
  runs INTEGER NOT NULL,
  suspected_hosts INTEGER NOT NULL,
  hosts INTEGER NOT NULL,
  population INTEGER NOT NULL,
  suspected_population INTEGER NOT NULL,
  p_value REAL NOT NULL,
  q_value REAL NOT NULL,
  enrichment REAL NOT NULL,
  max_suspected_hosts INTEGER NOT NULL,
  best_q REAL NOT NULL,
  examples TEXT NOT NULL DEFAULT '[]',
  decision TEXT NOT NULL DEFAULT '',
  decided_by TEXT NOT NULL DEFAULT '',
  decided_at INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '',
  decided_evidence INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE c2_observations(
  run INTEGER NOT NULL REFERENCES c2_runs(id),
  dest TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  suspected_hosts INTEGER NOT NULL,
  hosts INTEGER NOT NULL,
  population INTEGER NOT NULL,
  suspected_population INTEGER NOT NULL,
  p_value REAL NOT NULL,
  q_value REAL NOT NULL,
  enrichment REAL NOT NULL,
  PRIMARY KEY(run, dest)
);
CREATE TABLE c2_decisions(
  id INTEGER PRIMARY KEY,
  target TEXT NOT NULL,
  decision TEXT NOT NULL,
  actor TEXT NOT NULL,
  at INTEGER NOT NULL,
  reason TEXT NOT NULL,
  candidates TEXT NOT NULL,
  suspected_hosts INTEGER NOT NULL,
  confidence INTEGER NOT NULL
);
CREATE TABLE c2_indicators(
  value TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  confidence INTEGER NOT NULL,
  family TEXT NOT NULL DEFAULT '',
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  expiry INTEGER NOT NULL DEFAULT 0,
  decision INTEGER NOT NULL REFERENCES c2_decisions(id)
);
)sql";

constexpr const char* kCandidateColumns =
    "dest, kind, status, reopened, first_seen, last_seen, first_run, last_run, runs, suspected_hosts, hosts, "
    "population, suspected_population, p_value, q_value, enrichment, max_suspected_hosts, best_q, examples, "
    "decided_by, decided_at, reason, decided_evidence, decision";

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK)
      throw DbError(std::string("sqlite prepare: ") + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bindf(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw DbError(std::string("sqlite: ") + sqlite3_errmsg(db_));
  }
  void run() {
    step();
    reset();
  }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  uint32_t u32(int c) const { return static_cast<uint32_t>(std::clamp<int64_t>(i64(c), 0, UINT32_MAX)); }
  double f64(int c) const { return sqlite3_column_double(s_, c); }
  std::string text(int c) const {
    const unsigned char* t = sqlite3_column_text(s_, c);
    return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(s_, c)))
             : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

std::vector<std::string> strings_from(const std::string& s) {
  std::vector<std::string> r;
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_array())
    for (const auto& t : j)
      if (t.is_string()) r.push_back(t.get<std::string>());
  return r;
}

std::string strings_json(const std::vector<std::string>& v) {
  return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<DestKind> parse_kind(std::string_view s) {
  for (DestKind k : {DestKind::AddrPort, DestKind::Domain, DestKind::NxDomain})
    if (dest_kind_name(k) == s) return k;
  return std::nullopt;
}

StoredCandidate candidate_from(const Stmt& s) {
  StoredCandidate c;
  c.dest = s.text(0);
  c.kind = parse_kind(s.text(1)).value_or(DestKind::AddrPort);
  c.status = parse_status(s.text(2)).value_or(Status::Open);
  c.reopened = s.i64(3) != 0;
  c.first_seen = s.i64(4);
  c.last_seen = s.i64(5);
  c.first_run = s.i64(6);
  c.last_run = s.i64(7);
  c.runs = s.u32(8);
  c.suspected_hosts = s.u32(9);
  c.hosts = s.u32(10);
  c.population = s.u32(11);
  c.suspected_population = s.u32(12);
  c.p_value = s.f64(13);
  c.q_value = s.f64(14);
  c.enrichment = s.f64(15);
  c.max_suspected_hosts = s.u32(16);
  c.best_q = s.f64(17);
  c.example_hosts = strings_from(s.text(18));
  c.decided_by = s.text(19);
  c.decided_at = s.i64(20);
  c.reason = s.text(21);
  c.decided_evidence = s.u32(22);
  c.decision = parse_status(s.text(23));
  return c;
}

// Confidence of an analyst-confirmed destination unless given.
constexpr int kConfirmedConfidence = 90;

}  // namespace

std::string_view status_name(Status s) {
  switch (s) {
    case Status::Open: return "open";
    case Status::Confirmed: return "confirmed";
    case Status::Rejected: return "rejected";
  }
  return "?";
}

std::optional<Status> parse_status(std::string_view s) {
  for (Status st : {Status::Open, Status::Confirmed, Status::Rejected})
    if (status_name(st) == s) return st;
  return std::nullopt;
}

CandidateStore::CandidateStore(const std::string& path, double reopen_factor) : reopen_factor_(reopen_factor) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw DbError("cannot open " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 10000);
  try {
    exec("PRAGMA foreign_keys = ON");
    {
      Stmt s(db_, "PRAGMA journal_mode = WAL");
      s.step();
    }
    exec("PRAGMA synchronous = NORMAL");
    migrate();
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

CandidateStore::~CandidateStore() {
  sqlite3_close(db_);
}

void CandidateStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown error";
    sqlite3_free(err);
    throw DbError("sqlite: " + m);
  }
}

void CandidateStore::migrate() {
  exec(
      "CREATE TABLE IF NOT EXISTS c2_schema_migrations(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL, "
      "description TEXT NOT NULL)");
  int have = schema_version();
  if (have > kSchemaVersion)
    throw DbError("C&C candidate schema version " + std::to_string(have) + " is newer than this omamori (" +
                  std::to_string(kSchemaVersion) + ")");
  if (have >= 1) return;
  exec("BEGIN IMMEDIATE");
  try {
    if (schema_version() < 1) {  // another process may have migrated meanwhile
      exec(kSchema);
      Stmt s(db_, "INSERT INTO c2_schema_migrations(version, applied_at, description) VALUES(1, ?, ?)");
      s.bind(1, now_ms()).bind(2, "c2 runs, candidates, observations, decisions, indicators").run();
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

int CandidateStore::schema_version() {
  Stmt s(db_, "SELECT COALESCE(MAX(version), 0) FROM c2_schema_migrations");
  return s.step() ? static_cast<int>(s.i64(0)) : 0;
}

RecordStats CandidateStore::record(const std::vector<Candidate>& cands, const RunInfo& run) {
  RecordStats st;
  const TimeMs at = run.at ? run.at : now_ms();
  exec("BEGIN IMMEDIATE");
  try {
    {
      Stmt s(db_,
             "INSERT INTO c2_runs(at, actor, source, population, suspected, candidates) VALUES(?, ?, ?, ?, ?, ?)");
      s.bind(1, at)
          .bind(2, run.actor)
          .bind(3, run.source)
          .bind(4, int64_t{run.population})
          .bind(5, int64_t{run.suspected})
          .bind(6, static_cast<int64_t>(cands.size()))
          .run();
      st.run = sqlite3_last_insert_rowid(db_);
    }
    Stmt get(db_, (std::string("SELECT ") + kCandidateColumns + " FROM c2_candidates WHERE dest = ?").c_str());
    // New candidates are inserted; known ones get the merged evidence (their
    // first run and the decision columns stay).
    Stmt put(db_,
             "INSERT INTO c2_candidates(dest, kind, status, reopened, first_seen, last_seen, first_run, last_run, "
             "runs, max_suspected_hosts, best_q, examples, suspected_hosts, hosts, population, "
             "suspected_population, p_value, q_value, enrichment) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, "
             "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18) ON CONFLICT(dest) DO UPDATE SET status = excluded.status, "
             "reopened = excluded.reopened, first_seen = excluded.first_seen, last_seen = excluded.last_seen, "
             "last_run = excluded.last_run, runs = excluded.runs, max_suspected_hosts = excluded.max_suspected_hosts, "
             "best_q = excluded.best_q, examples = excluded.examples, suspected_hosts = excluded.suspected_hosts, "
             "hosts = excluded.hosts, population = excluded.population, "
             "suspected_population = excluded.suspected_population, p_value = excluded.p_value, "
             "q_value = excluded.q_value, enrichment = excluded.enrichment");
    Stmt obs(db_,
             "INSERT OR REPLACE INTO c2_observations(run, dest, first_seen, last_seen, suspected_hosts, hosts, "
             "population, suspected_population, p_value, q_value, enrichment) "
             "VALUES(?1, ?2, ?3, ?4, ?12, ?13, ?14, ?15, ?16, ?17, ?18)");
    // The run's evidence, parameters 12-18 of both statements.
    auto evidence = [](Stmt& s, const Candidate& c) -> Stmt& {
      return s.bind(12, int64_t{c.suspected_hosts})
          .bind(13, int64_t{c.hosts})
          .bind(14, int64_t{c.population})
          .bind(15, int64_t{c.suspected_population})
          .bindf(16, c.p_value)
          .bindf(17, c.q_value)
          .bindf(18, c.enrichment);
    };
    for (const auto& c : cands) {
      std::vector<std::string> ex;
      for (const auto& h : c.example_hosts) ex.push_back(h.str());
      get.bind(1, c.dest);
      StoredCandidate m;  // the merged record
      m.first_seen = c.first;
      m.last_seen = c.last;
      m.first_run = at;
      m.max_suspected_hosts = c.suspected_hosts;
      m.best_q = c.q_value;
      if (get.step()) {
        StoredCandidate old = candidate_from(get);
        m.status = old.status;
        m.reopened = old.reopened;
        if (m.status == Status::Rejected) {
          double need = reopen_factor_ * std::max<uint32_t>(old.decided_evidence, 1);
          if (static_cast<double>(c.suspected_hosts) >= need) {
            m.status = Status::Open;
            m.reopened = true;
            ++st.reopened;
          } else {
            ++st.suppressed;
          }
        } else {
          ++st.updated;
        }
        m.first_seen = std::min(old.first_seen, c.first);
        m.last_seen = std::max(old.last_seen, c.last);
        m.first_run = old.first_run;
        m.runs = old.runs;
        m.max_suspected_hosts = std::max(old.max_suspected_hosts, c.suspected_hosts);
        m.best_q = std::min(old.best_q, c.q_value);
        // Examples: the newest first, then older ones, at most 10.
        for (const auto& e : old.example_hosts)
          if (ex.size() < 10 && std::find(ex.begin(), ex.end(), e) == ex.end()) ex.push_back(e);
      } else {
        ++st.added;
      }
      get.reset();
      put.bind(1, c.dest)
          .bind(2, dest_kind_name(c.kind))
          .bind(3, status_name(m.status))
          .bind(4, int64_t{m.reopened})
          .bind(5, m.first_seen)
          .bind(6, m.last_seen)
          .bind(7, m.first_run)
          .bind(8, int64_t{m.runs} + 1)
          .bind(9, int64_t{m.max_suspected_hosts})
          .bindf(10, m.best_q)
          .bind(11, strings_json(ex));
      evidence(put, c).run();
      obs.bind(1, st.run).bind(2, c.dest).bind(3, c.first).bind(4, c.last);
      evidence(obs, c).run();
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return st;
}

std::vector<StoredCandidate> CandidateStore::list(const ListQuery& q) {
  std::string sql = std::string("SELECT ") + kCandidateColumns + " FROM c2_candidates WHERE best_q <= ?1";
  if (q.status) sql += " AND status = ?2";
  sql += " ORDER BY best_q, max_suspected_hosts DESC, dest";
  if (q.limit) sql += " LIMIT " + std::to_string(q.limit);
  Stmt s(db_, sql.c_str());
  s.bindf(1, q.max_q);
  if (q.status) s.bind(2, status_name(*q.status));
  std::vector<StoredCandidate> out;
  while (s.step()) out.push_back(candidate_from(s));
  return out;
}

std::optional<StoredCandidate> CandidateStore::get(const std::string& dest) {
  Stmt s(db_, (std::string("SELECT ") + kCandidateColumns + " FROM c2_candidates WHERE dest = ?").c_str());
  s.bind(1, dest);
  if (s.step()) return candidate_from(s);
  return std::nullopt;
}

Decision CandidateStore::decide(const Target& t, Status decision, const DecideOptions& o) {
  if (decision == Status::Open) throw DbError("a decision is confirm or reject");
  Decision d;
  d.target = t.value;
  d.decision = decision;
  d.actor = o.actor;
  d.reason = o.reason;
  d.at = o.now ? o.now : now_ms();
  exec("BEGIN IMMEDIATE");
  try {
    std::vector<StoredCandidate> hit;
    {
      Stmt s(db_, (std::string("SELECT ") + kCandidateColumns + " FROM c2_candidates").c_str());
      while (s.step()) {
        StoredCandidate c = candidate_from(s);
        if (covers(t, c.dest, c.kind)) hit.push_back(std::move(c));
      }
    }
    if (hit.empty() && !o.force)
      throw DbError("no recorded C&C candidate is " + t.value +
                    " (see `omamori c2 candidates --status all`; --force records the decision anyway)");
    TimeMs first = 0, last = 0;
    for (const auto& c : hit) {
      d.candidates.push_back(c.dest);
      d.suspected_hosts = std::max(d.suspected_hosts, c.suspected_hosts);
      first = first ? std::min(first, c.first_seen) : c.first_seen;
      last = std::max(last, c.last_seen);
    }
    if (!first) first = last = d.at;
    d.confidence = decision == Status::Confirmed ? (o.confidence >= 0 ? o.confidence : kConfirmedConfidence) : 0;
    {
      Stmt s(db_,
             "INSERT INTO c2_decisions(target, decision, actor, at, reason, candidates, suspected_hosts, confidence) "
             "VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
      s.bind(1, d.target)
          .bind(2, status_name(decision))
          .bind(3, d.actor)
          .bind(4, d.at)
          .bind(5, d.reason)
          .bind(6, strings_json(d.candidates))
          .bind(7, int64_t{d.suspected_hosts})
          .bind(8, int64_t{d.confidence})
          .run();
      d.id = sqlite3_last_insert_rowid(db_);
    }
    {
      Stmt s(db_,
             "UPDATE c2_candidates SET status = ?2, decision = ?2, reopened = 0, decided_by = ?3, decided_at = ?4, reason = ?5, "
             "decided_evidence = suspected_hosts WHERE dest = ?1");
      for (const auto& c : hit) s.bind(1, c.dest).bind(2, status_name(decision)).bind(3, d.actor).bind(4, d.at).bind(5, d.reason).run();
    }
    if (decision == Status::Confirmed) {
      Stmt s(db_,
             "INSERT INTO c2_indicators(value, kind, confidence, family, first_seen, last_seen, expiry, decision) "
             "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(value) DO UPDATE SET confidence = excluded.confidence, "
             "family = excluded.family, first_seen = MIN(first_seen, excluded.first_seen), "
             "last_seen = MAX(last_seen, excluded.last_seen), expiry = excluded.expiry, decision = excluded.decision");
      s.bind(1, t.value)
          .bind(2, intel::kind_name(t.kind))
          .bind(3, int64_t{d.confidence})
          .bind(4, o.family)
          .bind(5, first)
          .bind(6, last)
          .bind(7, o.ttl ? d.at + o.ttl : 0)
          .bind(8, d.id)
          .run();
    } else {
      // Rejecting withdraws a confirmation of the same target, or of what it covers.
      Stmt del(db_, "DELETE FROM c2_indicators WHERE value = ?");
      del.bind(1, t.value).run();
      for (const auto& c : hit) del.bind(1, c.dest).run();
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return d;
}

std::vector<Decision> CandidateStore::history(const std::string& target) {
  std::string sql =
      "SELECT id, target, decision, actor, at, reason, candidates, suspected_hosts, confidence FROM c2_decisions";
  if (!target.empty()) sql += " WHERE target = ?1 OR EXISTS (SELECT 1 FROM json_each(candidates) WHERE value = ?1)";
  sql += " ORDER BY id";
  Stmt s(db_, sql.c_str());
  if (!target.empty()) s.bind(1, target);
  std::vector<Decision> out;
  while (s.step()) {
    Decision d;
    d.id = s.i64(0);
    d.target = s.text(1);
    d.decision = parse_status(s.text(2)).value_or(Status::Open);
    d.actor = s.text(3);
    d.at = s.i64(4);
    d.reason = s.text(5);
    d.candidates = strings_from(s.text(6));
    d.suspected_hosts = s.u32(7);
    d.confidence = static_cast<int>(s.i64(8));
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<intel::Indicator> CandidateStore::confirmed_indicators() {
  Stmt s(db_, "SELECT value, kind, confidence, family, first_seen, last_seen, expiry FROM c2_indicators ORDER BY value");
  std::vector<intel::Indicator> out;
  while (s.step()) {
    intel::Indicator ind;
    ind.value = s.text(0);
    auto k = intel::parse_kind(s.text(1));
    if (!k) continue;
    ind.kind = *k;
    ind.category = intel::Category::kC2;
    ind.confidence = static_cast<uint8_t>(std::clamp<int64_t>(s.i64(2), 0, 100));
    ind.family = s.text(3);
    ind.first_seen = s.i64(4);
    ind.last_seen = s.i64(5);
    ind.expiry = s.i64(6);
    ind.feed = kFeed;
    ind.tags = {"analyst-confirmed"};
    ind.subdomains = true;
    out.push_back(std::move(ind));
  }
  return out;
}

intel::ImportStats publish(CandidateStore& store, intel::IntelDb& db, TimeMs now) {
  intel::FeedConfig cfg;
  cfg.name = CandidateStore::kFeed;
  cfg.format = "local";
  cfg.category = intel::Category::kC2;
  cfg.confidence = kConfirmedConfidence;
  return db.replace_feed(cfg, "omamori c2 confirm", store.confirmed_indicators(), ReasonCounters{}, now);
}

}  // namespace omamori::c2
