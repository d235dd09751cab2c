// The database access layer: one small interface over SQLite and PostgreSQL.
//
// Components (cases, the subscriber directory, ...) write one SQL dialect: a
// portable subset that both engines run unchanged, with `?` placeholders
// (translated to $1, $2 ... for PostgreSQL) and one schema token, `{{id}}`,
// for an auto-increment 64-bit primary key (see docs/storage.md). Values go
// in as bound parameters, never spliced into SQL text; results come back as
// text cells (NULL distinguished) with integer accessors.
//
// URLs: "sqlite:/path/file.db" (or a bare path) and
// "postgresql://user@host:port/dbname" (libpq connection URI; "postgres://"
// too). A Db is one connection: use it from one thread at a time; open
// another Db for another thread or process.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace omamori::store {

enum class Backend { kSqlite, kPostgres };

struct DbError : std::runtime_error {
  enum class Kind {
    kOther,
    kConstraint,  // unique / foreign-key / check violation
    kBusy,        // lock not obtained in time, serialization failure, deadlock: retry the transaction
    kConnect,     // cannot open / connect
  };
  DbError(Kind k, const std::string& m) : std::runtime_error(m), kind(k) {}
  Kind kind;
  bool retryable() const { return kind == Kind::kConstraint || kind == Kind::kBusy; }
};

// A bound parameter: NULL, a 64-bit integer or text.
using Value = std::variant<std::nullptr_t, int64_t, std::string>;

class Rows {
 public:
  size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }
  size_t columns() const { return cols_; }
  bool is_null(size_t r, size_t c) const { return !rows_[r][c].has_value(); }
  // Text of a cell ("" for NULL).
  const std::string& text(size_t r, size_t c) const;
  // Integer of a cell (0 for NULL); throws DbError on non-integer text.
  int64_t integer(size_t r, size_t c) const;

  // For the drivers.
  void set_columns(size_t n) { cols_ = n; }
  std::vector<std::optional<std::string>>& add_row() { return rows_.emplace_back(cols_); }

 private:
  size_t cols_ = 0;
  std::vector<std::vector<std::optional<std::string>>> rows_;
};

class Db {
 public:
  virtual ~Db() = default;
  virtual Backend backend() const = 0;
  // Runs one statement; returns the number of rows changed.
  virtual int64_t exec(std::string_view sql, std::span<const Value> params = {}) = 0;
  // Runs one statement that returns rows (SELECT, or INSERT ... RETURNING).
  virtual Rows query(std::string_view sql, std::span<const Value> params = {}) = 0;
  // Runs several statements without parameters (schema scripts).
  virtual void exec_script(std::string_view sql) = 0;

  // Write transactions. SQLite takes the write lock at begin (BEGIN
  // IMMEDIATE) so that two writers wait for each other instead of failing
  // at commit; PostgreSQL runs READ COMMITTED and locks rows as they are
  // updated. Not nested.
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() = 0;
  bool in_transaction() const { return in_tx_; }

  // Inside a transaction: serialises schema migrations between processes.
  virtual void lock_for_migration() = 0;

  // Rewrites the portable dialect for this backend ({{id}}; `?` -> $n).
  virtual std::string dialect(std::string_view sql) const = 0;

  // Convenience with an initializer list of parameters.
  int64_t exec(std::string_view sql, std::initializer_list<Value> p) { return exec(sql, std::span(p.begin(), p.size())); }
  Rows query(std::string_view sql, std::initializer_list<Value> p) { return query(sql, std::span(p.begin(), p.size())); }

 protected:
  bool in_tx_ = false;
};

// Opens a database from a URL (see above). Throws DbError (kConnect) on failure.
std::unique_ptr<Db> open(const std::string& url);

// "sqlite:/x.db" -> (kSqlite, "/x.db"); "postgresql://..." -> (kPostgres, url);
// a bare path is SQLite. nullopt for an unknown scheme.
std::optional<std::pair<Backend, std::string>> parse_url(const std::string& url);

// Commits on commit(); rolls back when destroyed without it.
class Transaction {
 public:
  explicit Transaction(Db& db) : db_(db) { db_.begin(); }
  ~Transaction() {
    if (!done_) {
      try {
        db_.rollback();
      } catch (...) {
      }
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    db_.commit();
    done_ = true;
  }

 private:
  Db& db_;
  bool done_ = false;
};

// Runs fn in a transaction, retrying (up to `attempts` times) when the
// database reports a retryable conflict — a concurrent writer created the
// same unique row first, or a lock/serialization conflict. fn must be
// idempotent up to its commit (it reruns from the start).
template <typename Fn>
auto with_transaction(Db& db, Fn&& fn, int attempts = 8) {
  for (int i = 1;; ++i) {
    try {
      Transaction tx(db);
      if constexpr (std::is_void_v<decltype(fn())>) {
        fn();
        tx.commit();
        return;
      } else {
        auto r = fn();
        tx.commit();
        return r;
      }
    } catch (const DbError& e) {
      if (!e.retryable() || i >= attempts) throw;
    }
  }
}

// A schema migration of one component. Versions start at 1 and only grow;
// an applied migration is never edited (add a new one).
struct Migration {
  int version;
  const char* description;
  const char* sql;  // portable dialect, several statements allowed
};

// Applies the component's migrations not yet recorded in schema_migrations
// (component, version, description, applied_at), each in its own
// transaction, serialised between processes. Idempotent. Returns the number
// applied.
int migrate(Db& db, std::string_view component, std::span<const Migration> migrations);

// The highest applied version of a component (0 when none).
int schema_version(Db& db, std::string_view component);

// Rewrites `?` placeholders outside quoted strings to $1, $2, ...
std::string number_placeholders(std::string_view sql);

}  // namespace omamori::store
