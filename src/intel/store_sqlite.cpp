#include "intel/store_sqlite.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace omamori::intel {

namespace {

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, "feeds, indicators, feed_skips",
     R"sql(
CREATE TABLE feeds(
  name TEXT PRIMARY KEY,
  format TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT '',
  allow INTEGER NOT NULL DEFAULT 0,
  category TEXT NOT NULL DEFAULT '',
  confidence INTEGER NOT NULL DEFAULT 50,
  family TEXT NOT NULL DEFAULT '',
  generation INTEGER NOT NULL DEFAULT 0,
  last_import INTEGER NOT NULL DEFAULT 0,
  indicators INTEGER NOT NULL DEFAULT 0,
  skipped INTEGER NOT NULL DEFAULT 0,
  added INTEGER NOT NULL DEFAULT 0,
  removed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE indicators(
  id INTEGER PRIMARY KEY,
  feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  category TEXT NOT NULL,
  family TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '[]',
  reference TEXT NOT NULL DEFAULT '',
  confidence INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  expiry INTEGER NOT NULL DEFAULT 0,
  subdomains INTEGER NOT NULL DEFAULT 1,
  generation INTEGER NOT NULL,
  UNIQUE(feed, kind, value)
);
CREATE TABLE feed_skips(
  feed TEXT NOT NULL REFERENCES feeds(name) ON DELETE CASCADE,
  reason TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY(feed, reason)
);
)sql"},
};

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
  // True while there is a row.
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw DbError(std::string("sqlite: ") + sqlite3_errmsg(db_));
  }
  void run() {
    step();
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  std::string text(int c) const {
    const unsigned char* t = sqlite3_column_text(s_, c);
    return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(s_, c)))
             : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

std::string tags_json(const std::vector<std::string>& tags) {
  return nlohmann::json(tags).dump();
}

std::vector<std::string> tags_from(const std::string& s) {
  std::vector<std::string> r;
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_array())
    for (const auto& t : j)
      if (t.is_string()) r.push_back(t.get<std::string>());
  return r;
}

}  // namespace

IntelDb::IntelDb(const std::string& path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw DbError("cannot open " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 10000);
  exec("PRAGMA foreign_keys = ON");
  {
    Stmt s(db_, "PRAGMA journal_mode = WAL");
    s.step();
  }
  exec("PRAGMA synchronous = NORMAL");
  migrate();
}

IntelDb::~IntelDb() {
  sqlite3_close(db_);
}

void IntelDb::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown error";
    sqlite3_free(err);
    throw DbError("sqlite: " + m);
  }
}

void IntelDb::migrate() {
  exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL, "
      "description TEXT NOT NULL)");
  int have = schema_version();
  if (have > kSchemaVersion)
    throw DbError("database schema version " + std::to_string(have) + " is newer than this omamori (" +
                  std::to_string(kSchemaVersion) + ")");
  for (const auto& m : kMigrations) {
    if (m.version <= have) continue;
    exec("BEGIN IMMEDIATE");
    try {
      exec(m.sql);
      Stmt s(db_, "INSERT INTO schema_migrations(version, applied_at, description) VALUES(?, ?, ?)");
      s.bind(1, int64_t{m.version}).bind(2, now_ms()).bind(3, m.description).run();
      exec("COMMIT");
    } catch (...) {
      exec("ROLLBACK");
      throw;
    }
  }
}

int IntelDb::schema_version() {
  Stmt s(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  return s.step() ? static_cast<int>(s.i64(0)) : 0;
}

std::string IntelDb::journal_mode() {
  Stmt s(db_, "PRAGMA journal_mode");
  return s.step() ? s.text(0) : "";
}

ImportStats IntelDb::replace_feed(const FeedConfig& cfg, const std::string& source, const std::vector<Indicator>& inds,
                                  const ReasonCounters& skipped, TimeMs now) {
  ImportStats st;
  st.read = inds.size();
  exec("BEGIN IMMEDIATE");
  try {
    {
      Stmt s(db_,
             "INSERT INTO feeds(name, format, source, allow, category, confidence, family, generation) "
             "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 1) ON CONFLICT(name) DO UPDATE SET format = excluded.format, "
             "source = excluded.source, allow = excluded.allow, category = excluded.category, "
             "confidence = excluded.confidence, family = excluded.family, generation = generation + 1");
      s.bind(1, cfg.name)
          .bind(2, cfg.format)
          .bind(3, source)
          .bind(4, int64_t{cfg.allow})
          .bind(5, cfg.category ? category_name(*cfg.category) : "")
          .bind(6, int64_t{cfg.confidence})
          .bind(7, cfg.family)
          .run();
    }
    int64_t gen = 0;
    {
      Stmt s(db_, "SELECT generation FROM feeds WHERE name = ?");
      s.bind(1, cfg.name);
      if (s.step()) gen = s.i64(0);
    }
    uint64_t before = count(cfg.name);
    {
      Stmt ins(db_,
               "INSERT INTO indicators(feed, kind, value, category, family, tags, reference, confidence, "
               "first_seen, last_seen, expiry, subdomains, generation) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
               "?10, ?11, ?12, ?13) ON CONFLICT(feed, kind, value) DO UPDATE SET category = excluded.category, "
               "family = excluded.family, tags = excluded.tags, reference = excluded.reference, "
               "confidence = excluded.confidence, first_seen = MIN(first_seen, excluded.first_seen), "
               "last_seen = MAX(last_seen, excluded.last_seen), expiry = excluded.expiry, "
               "subdomains = excluded.subdomains, generation = excluded.generation "
               "WHERE generation != excluded.generation");
      for (const auto& ind : inds) {
        ins.bind(1, cfg.name)
            .bind(2, kind_name(ind.kind))
            .bind(3, ind.value)
            .bind(4, category_name(ind.category))
            .bind(5, ind.family)
            .bind(6, tags_json(ind.tags))
            .bind(7, ind.reference)
            .bind(8, int64_t{ind.confidence})
            .bind(9, ind.first_seen ? ind.first_seen : now)
            .bind(10, ind.last_seen ? ind.last_seen : now)
            .bind(11, ind.expiry)
            .bind(12, int64_t{ind.subdomains})
            .bind(13, gen);
        ins.run();
        if (sqlite3_changes(db_) == 0) ++st.duplicates;  // already written in this import
      }
    }
    {
      Stmt del(db_, "DELETE FROM indicators WHERE feed = ? AND generation != ?");
      del.bind(1, cfg.name).bind(2, gen).run();
      st.removed = static_cast<uint64_t>(sqlite3_changes(db_));
    }
    st.total = count(cfg.name);
    st.added = st.total + st.removed - before;
    st.updated = st.read - st.duplicates - st.added;
    {
      Stmt s(db_, "DELETE FROM feed_skips WHERE feed = ?");
      s.bind(1, cfg.name).run();
      Stmt ins(db_, "INSERT INTO feed_skips(feed, reason, count) VALUES(?, ?, ?)");
      for (const auto& row : skipped.snapshot(false))
        ins.bind(1, cfg.name).bind(2, row.reason).bind(3, static_cast<int64_t>(row.count)).run();
      Stmt u(db_,
             "UPDATE feeds SET last_import = ?, indicators = ?, skipped = ?, added = ?, removed = ? WHERE name = ?");
      u.bind(1, now)
          .bind(2, static_cast<int64_t>(st.total))
          .bind(3, static_cast<int64_t>(skipped.total()))
          .bind(4, static_cast<int64_t>(st.added))
          .bind(5, static_cast<int64_t>(st.removed))
          .bind(6, cfg.name)
          .run();
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return st;
}

bool IntelDb::remove_feed(const std::string& name) {
  Stmt s(db_, "DELETE FROM feeds WHERE name = ?");
  s.bind(1, name).run();
  return sqlite3_changes(db_) > 0;
}

uint64_t IntelDb::count(const std::string& feed) {
  if (feed.empty()) {
    Stmt s(db_, "SELECT COUNT(*) FROM indicators");
    return s.step() ? static_cast<uint64_t>(s.i64(0)) : 0;
  }
  Stmt s(db_, "SELECT COUNT(*) FROM indicators WHERE feed = ?");
  s.bind(1, feed);
  return s.step() ? static_cast<uint64_t>(s.i64(0)) : 0;
}

std::vector<FeedRecord> IntelDb::feeds() {
  std::vector<FeedRecord> r;
  Stmt s(db_,
         "SELECT name, format, source, allow, category, confidence, family, last_import, "
         "(SELECT COUNT(*) FROM indicators i WHERE i.feed = feeds.name), skipped, added, removed FROM feeds "
         "ORDER BY name");
  while (s.step()) {
    FeedRecord f;
    f.name = s.text(0);
    f.format = s.text(1);
    f.source = s.text(2);
    f.allow = s.i64(3) != 0;
    f.category = s.text(4);
    f.confidence = static_cast<int>(s.i64(5));
    f.family = s.text(6);
    f.last_import = s.i64(7);
    f.indicators = static_cast<uint64_t>(s.i64(8));
    f.skipped = static_cast<uint64_t>(s.i64(9));
    f.added = static_cast<uint64_t>(s.i64(10));
    f.removed = static_cast<uint64_t>(s.i64(11));
    r.push_back(std::move(f));
  }
  Stmt k(db_, "SELECT reason, count FROM feed_skips WHERE feed = ? ORDER BY count DESC, reason");
  for (auto& f : r) {
    k.bind(1, f.name);
    while (k.step()) f.skip_reasons.emplace_back(k.text(0), static_cast<uint64_t>(k.i64(1)));
    k.reset();
  }
  return r;
}

void IntelDb::for_each(const IndicatorQuery& q, const std::function<void(const Indicator&, bool allow)>& f) {
  std::string sql =
      "SELECT i.kind, i.value, i.category, i.family, i.tags, i.reference, i.confidence, i.first_seen, i.last_seen, "
      "i.expiry, i.subdomains, i.feed, f.allow FROM indicators i JOIN feeds f ON f.name = i.feed WHERE 1";
  if (!q.feed.empty()) sql += " AND i.feed = ?1";
  if (q.kind) sql += " AND i.kind = ?2";
  if (!q.value.empty()) sql += " AND i.value = ?3";
  if (!q.include_expired) sql += " AND (i.expiry = 0 OR i.expiry > ?4)";
  sql += " ORDER BY i.feed, i.id";
  if (q.limit) sql += " LIMIT " + std::to_string(q.limit);
  Stmt s(db_, sql.c_str());
  if (!q.feed.empty()) s.bind(1, q.feed);
  if (q.kind) s.bind(2, kind_name(*q.kind));
  if (!q.value.empty()) s.bind(3, q.value);
  if (!q.include_expired) s.bind(4, q.now ? q.now : now_ms());
  Indicator ind;
  while (s.step()) {
    auto k = parse_kind(s.text(0));
    if (!k) continue;
    ind.kind = *k;
    ind.value = s.text(1);
    ind.category = parse_category(s.text(2)).value_or(Category::kUnknown);
    ind.family = s.text(3);
    ind.tags = tags_from(s.text(4));
    ind.reference = s.text(5);
    ind.confidence = static_cast<uint8_t>(std::clamp<int64_t>(s.i64(6), 0, 100));
    ind.first_seen = s.i64(7);
    ind.last_seen = s.i64(8);
    ind.expiry = s.i64(9);
    ind.subdomains = s.i64(10) != 0;
    ind.feed = s.text(11);
    f(ind, s.i64(12) != 0);
  }
}

std::shared_ptr<const IntelSnapshot> IntelDb::compile(const SnapshotOptions& opt, ReasonCounters* rejected) {
  SnapshotBuilder b(opt);
  TimeMs now = opt.now ? opt.now : now_ms();
  IndicatorQuery q;
  for_each(q, [&](const Indicator& ind, bool allow) {
    if (allow) {
      if (!ind.expired(now)) b.add_allow(ind.value, ind.feed);
    } else {
      b.add(ind);
    }
  });
  auto snap = b.build();
  if (rejected) rejected->merge(b.rejected());
  return snap;
}

}  // namespace omamori::intel
