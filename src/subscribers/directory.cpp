// The subscriber directory tables: subscribers (one row per id) and
// subscriber_imports (when, from where, what changed).
#include "subscribers/subscriber.hpp"

namespace omamori::subscribers {

namespace {

constexpr store::Migration kMigrations[] = {
    {1, "subscribers, subscriber_imports",
     R"sql(
CREATE TABLE subscribers(
  subscriber_id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  language TEXT NOT NULL,
  warnings_allowed INTEGER NOT NULL,
  terms_version TEXT NOT NULL,
  service TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE subscriber_imports(
  id {{id}},
  at BIGINT NOT NULL,
  source TEXT NOT NULL,
  inserted BIGINT NOT NULL,
  updated BIGINT NOT NULL,
  unchanged BIGINT NOT NULL,
  rejected BIGINT NOT NULL
);
)sql"},
};

constexpr const char* kSelect =
    "SELECT subscriber_id, email, language, warnings_allowed, terms_version, service, updated_at "
    "FROM subscribers WHERE subscriber_id = ?";

Subscriber from_row(const store::Rows& r, size_t i) {
  Subscriber s;
  s.id = r.text(i, 0);
  s.email = r.text(i, 1);
  s.language = r.text(i, 2);
  s.warnings_allowed = r.integer(i, 3) != 0;
  s.terms_version = r.text(i, 4);
  s.service = r.text(i, 5);
  s.updated_at = r.integer(i, 6);
  return s;
}

}  // namespace

Directory::Directory(store::Db& db) : db_(db) { store::migrate(db_, "subscribers", kMigrations); }

ImportStats Directory::upsert(const std::vector<Subscriber>& rows, TimeMs now, std::string_view source,
                              uint64_t rejected) {
  return store::with_transaction(db_, [&] {
    ImportStats st;
    for (const auto& s : rows) {
      store::Rows cur = db_.query(kSelect, {s.id});
      int64_t allowed = s.warnings_allowed ? 1 : 0;
      if (cur.empty()) {
        db_.exec(
            "INSERT INTO subscribers(subscriber_id, email, language, warnings_allowed, terms_version, service, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            {s.id, s.email, s.language, allowed, s.terms_version, s.service, now, now});
        ++st.inserted;
        continue;
      }
      Subscriber old = from_row(cur, 0);
      Subscriber cmp = s;
      cmp.updated_at = old.updated_at;
      if (cmp == old) {
        ++st.unchanged;
        continue;
      }
      db_.exec(
          "UPDATE subscribers SET email = ?, language = ?, warnings_allowed = ?, terms_version = ?, service = ?, "
          "updated_at = ? WHERE subscriber_id = ?",
          {s.email, s.language, allowed, s.terms_version, s.service, now, s.id});
      ++st.updated;
    }
    db_.exec(
        "INSERT INTO subscriber_imports(at, source, inserted, updated, unchanged, rejected) VALUES (?, ?, ?, ?, ?, ?)",
        {now, std::string(source), static_cast<int64_t>(st.inserted), static_cast<int64_t>(st.updated),
         static_cast<int64_t>(st.unchanged), static_cast<int64_t>(rejected)});
    return st;
  });
}

std::optional<Subscriber> Directory::find(std::string_view id) const {
  store::Rows r = db_.query(kSelect, {std::string(id)});
  if (r.empty()) return std::nullopt;
  return from_row(r, 0);
}

uint64_t Directory::count() const {
  return static_cast<uint64_t>(db_.query("SELECT count(*) FROM subscribers").integer(0, 0));
}

uint64_t Directory::count_warnings_allowed() const {
  return static_cast<uint64_t>(
      db_.query("SELECT count(*) FROM subscribers WHERE warnings_allowed = 1").integer(0, 0));
}

}  // namespace omamori::subscribers
