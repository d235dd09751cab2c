#include "store/db.hpp"

#include <algorithm>
#include <charconv>

#include "core/time.hpp"
#include "store/drivers.hpp"

namespace omamori::store {

const std::string& Rows::text(size_t r, size_t c) const {
  static const std::string kEmpty;
  const auto& v = rows_.at(r).at(c);
  return v ? *v : kEmpty;
}

int64_t Rows::integer(size_t r, size_t c) const {
  const auto& v = rows_.at(r).at(c);
  if (!v || v->empty()) return 0;
  int64_t out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || p != v->data() + v->size())
    throw DbError(DbError::Kind::kOther, "not an integer: '" + *v + "'");
  return out;
}

std::optional<std::pair<Backend, std::string>> parse_url(const std::string& url) {
  auto starts = [&](std::string_view p) { return url.compare(0, p.size(), p) == 0; };
  if (starts("postgresql://") || starts("postgres://")) return std::pair{Backend::kPostgres, url};
  if (starts("sqlite://")) return std::pair{Backend::kSqlite, url.substr(9)};
  if (starts("sqlite:")) return std::pair{Backend::kSqlite, url.substr(7)};
  auto colon = url.find(':');
  auto slash = url.find('/');
  // "scheme:..." with an unknown scheme; a path may contain ':' after a '/'.
  if (colon != std::string::npos && (slash == std::string::npos || colon < slash)) return std::nullopt;
  if (url.empty()) return std::nullopt;
  return std::pair{Backend::kSqlite, url};
}

std::unique_ptr<Db> open(const std::string& url) {
  auto u = parse_url(url);
  if (!u) throw DbError(DbError::Kind::kConnect, "unknown database URL '" + url + "' (sqlite:PATH or postgresql://...)");
  if (u->second.empty()) throw DbError(DbError::Kind::kConnect, "empty database path in '" + url + "'");
  return u->first == Backend::kSqlite ? open_sqlite(u->second) : open_postgres(u->second);
}

std::string number_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (quote) {
      out += c;
      if (c == quote) quote = 0;  // a doubled quote re-enters at the next char: same result
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      out += c;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      size_t e = sql.find('\n', i);
      if (e == std::string_view::npos) e = sql.size();
      out.append(sql.substr(i, e - i));
      i = e - 1;
    } else if (c == '?') {
      out += '$';
      out += std::to_string(++n);
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

void ensure_migrations_table(Db& db) {
  db.exec_script(
      "CREATE TABLE IF NOT EXISTS schema_migrations("
      " component TEXT NOT NULL,"
      " version BIGINT NOT NULL,"
      " description TEXT NOT NULL,"
      " applied_at BIGINT NOT NULL,"
      " PRIMARY KEY(component, version))");
}

}  // namespace

int migrate(Db& db, std::string_view component, std::span<const Migration> migrations) {
  return with_transaction(db, [&] {
    db.lock_for_migration();
    ensure_migrations_table(db);
    Rows have = db.query("SELECT version FROM schema_migrations WHERE component = ?", {std::string(component)});
    std::vector<int64_t> applied;
    for (size_t r = 0; r < have.size(); ++r) applied.push_back(have.integer(r, 0));
    int n = 0;
    for (const auto& m : migrations) {
      if (std::find(applied.begin(), applied.end(), m.version) != applied.end()) continue;
      db.exec_script(db.dialect(m.sql));
      db.exec("INSERT INTO schema_migrations(component, version, description, applied_at) VALUES (?, ?, ?, ?)",
              {std::string(component), int64_t{m.version}, std::string(m.description), now_ms()});
      ++n;
    }
    return n;
  });
}

int schema_version(Db& db, std::string_view component) {
  Rows t = db.query(db.backend() == Backend::kSqlite
                        ? "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
                        : "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations' "
                          "AND table_schema = current_schema()");
  if (t.integer(0, 0) == 0) return 0;
  Rows r = db.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?",
                    {std::string(component)});
  return static_cast<int>(r.integer(0, 0));
}

}  // namespace omamori::store
