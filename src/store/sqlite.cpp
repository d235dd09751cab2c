// The SQLite driver: WAL journal, a busy timeout, foreign keys on.
#include <sqlite3.h>

#include <unordered_map>

#include "store/drivers.hpp"
#include "store/text.hpp"

namespace omamori::store {

namespace {

DbError::Kind kind_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: return DbError::Kind::kConstraint;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return DbError::Kind::kBusy;
    default: return DbError::Kind::kOther;
  }
}

class SqliteDb final : public Db {
 public:
  explicit SqliteDb(const std::string& path) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      db_ = nullptr;
      throw DbError(DbError::Kind::kConnect, "cannot open sqlite database " + path + ": " + msg);
    }
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    try {
      exec_script("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON");
    } catch (const DbError& e) {
      sqlite3_close(db_);
      db_ = nullptr;
      throw DbError(DbError::Kind::kConnect, "cannot open sqlite database " + path + ": " + e.what());
    }
  }
  ~SqliteDb() override {
    for (auto& [sql, st] : cache_) sqlite3_finalize(st);
    if (in_tx_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
  }

  Backend backend() const override { return Backend::kSqlite; }

  int64_t exec(std::string_view sql, std::span<const Value> params) override {
    run(sql, params, nullptr);
    return sqlite3_changes64(db_);
  }

  Rows query(std::string_view sql, std::span<const Value> params) override {
    Rows rows;
    run(sql, params, &rows);
    return rows;
  }

  void exec_script(std::string_view sql) override {
    std::string s(sql);
    char* err = nullptr;
    int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      throw DbError(kind_of(rc), "sqlite: " + msg);
    }
  }

  void begin() override {
    exec_script("BEGIN IMMEDIATE");
    in_tx_ = true;
  }
  void commit() override {
    exec_script("COMMIT");
    in_tx_ = false;
  }
  void rollback() override {
    in_tx_ = false;
    exec_script("ROLLBACK");
  }
  void lock_for_migration() override {}  // BEGIN IMMEDIATE already holds the write lock

  std::string dialect(std::string_view sql) const override {
    std::string s(sql);
    static constexpr std::string_view kId = "{{id}}";
    for (size_t p; (p = s.find(kId)) != std::string::npos;)
      s.replace(p, kId.size(), "INTEGER PRIMARY KEY AUTOINCREMENT");
    return s;
  }

 private:
  static constexpr int kBusyTimeoutMs = 30000;

  void run(std::string_view sql, std::span<const Value> params, Rows* out) {
    sqlite3_stmt* st = prepare(sql);
    struct Reset {  // leaves the cached statement ready for its next use
      sqlite3_stmt* s;
      ~Reset() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } reset{st};
    int rc;
    if (static_cast<size_t>(sqlite3_bind_parameter_count(st)) != params.size())
      throw DbError(DbError::Kind::kOther, "sqlite: parameter count mismatch in: " + std::string(sql));
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      const Value& v = params[i];
      if (std::holds_alternative<std::nullptr_t>(v)) {
        sqlite3_bind_null(st, idx);
      } else if (auto* n = std::get_if<int64_t>(&v)) {
        sqlite3_bind_int64(st, idx, *n);
      } else {
        const auto& s = std::get<std::string>(v);
        if (!storable_text(s)) throw DbError(DbError::Kind::kOther, "text parameter is not valid UTF-8 (or holds NUL)");
        sqlite3_bind_text64(st, idx, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      }
    }
    if (out) out->set_columns(static_cast<size_t>(sqlite3_column_count(st)));
    for (;;) {
      rc = sqlite3_step(st);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) throw DbError(kind_of(rc), std::string("sqlite: ") + sqlite3_errmsg(db_));
      if (!out) continue;
      auto& row = out->add_row();
      for (size_t c = 0; c < row.size(); ++c) {
        int ci = static_cast<int>(c);
        if (sqlite3_column_type(st, ci) == SQLITE_NULL) continue;
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, ci));
        row[c] = std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, ci)));
      }
    }
  }

  // Statements are prepared once per connection and reused.
  sqlite3_stmt* prepare(std::string_view sql) {
    std::string key(sql);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &st, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(st);
      throw DbError(kind_of(rc), std::string("sqlite prepare: ") + sqlite3_errmsg(db_) + " in: " + key);
    }
    cache_.emplace(std::move(key), st);
    return st;
  }

  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace

std::unique_ptr<Db> open_sqlite(const std::string& path) { return std::make_unique<SqliteDb>(path); }

}  // namespace omamori::store
