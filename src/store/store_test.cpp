// The Db interface on both engines: the same tests against SQLite and a real PostgreSQL server.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "store/db.hpp"
#include "store/pg_test_server.hpp"
#include "store/text.hpp"

namespace omamori::store {
namespace {

std::string sqlite_url() {
  static int n = 0;
  auto dir = std::filesystem::temp_directory_path() /
             ("omamori-store-" + std::to_string(getpid()) + "-" + std::to_string(n++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return "sqlite:" + (dir / "t.db").string();
}

class DbTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    url_ = GetParam() == Backend::kSqlite ? sqlite_url() : test::PgTestServer::shared().create_database("store");
    db_ = open(url_);
  }
  std::string url_;
  std::unique_ptr<Db> db_;
};

constexpr Migration kMigs[] = {
    {1, "items", "CREATE TABLE items(id {{id}}, name TEXT NOT NULL UNIQUE, n BIGINT NOT NULL DEFAULT 0);"},
    {2, "notes", "CREATE TABLE notes(item BIGINT NOT NULL REFERENCES items(id), body TEXT);"
                 "CREATE INDEX notes_item ON notes(item);"},
};

TEST_P(DbTest, MigrationsApplyOnceAndRecordVersions) {
  EXPECT_EQ(schema_version(*db_, "demo"), 0);
  EXPECT_EQ(migrate(*db_, "demo", std::span(kMigs).first(1)), 1);
  EXPECT_EQ(schema_version(*db_, "demo"), 1);
  EXPECT_EQ(migrate(*db_, "demo", kMigs), 1);  // only the new one
  EXPECT_EQ(migrate(*db_, "demo", kMigs), 0);  // idempotent
  auto other = open(url_);
  EXPECT_EQ(migrate(*other, "demo", kMigs), 0);
  EXPECT_EQ(schema_version(*other, "demo"), 2);
  Rows r = db_->query("SELECT component, version, description FROM schema_migrations ORDER BY version");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r.text(1, 2), "notes");
}

TEST_P(DbTest, BoundParametersRoundTripAndReturningIds) {
  migrate(*db_, "demo", kMigs);
  std::string tricky = "it's \"quoted\" ? -- not a comment; 日本語";
  Rows ins = db_->query("INSERT INTO items(name, n) VALUES (?, ?) RETURNING id", {tricky, int64_t{1} << 40});
  ASSERT_EQ(ins.size(), 1u);
  int64_t id = ins.integer(0, 0);
  EXPECT_GT(id, 0);
  db_->exec("INSERT INTO notes(item, body) VALUES (?, ?)", {id, nullptr});
  Rows r = db_->query("SELECT i.name, i.n, n.body FROM items i JOIN notes n ON n.item = i.id WHERE i.name = ?",
                      {tricky});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r.text(0, 0), tricky);
  EXPECT_EQ(r.integer(0, 1), int64_t{1} << 40);
  EXPECT_TRUE(r.is_null(0, 2));
  // The '?' inside a string literal is not a placeholder.
  Rows lit = db_->query("SELECT count(*) FROM items WHERE name <> 'x?y' AND n > ?", {int64_t{0}});
  EXPECT_EQ(lit.integer(0, 0), 1);
  EXPECT_EQ(db_->exec("UPDATE items SET n = n + 1 WHERE id = ?", {id}), 1);
  EXPECT_EQ(db_->exec("UPDATE items SET n = n + 1 WHERE id = ?", {id + 1000}), 0);
}

TEST_P(DbTest, UniqueViolationIsAConstraintError) {
  migrate(*db_, "demo", kMigs);
  db_->exec("INSERT INTO items(name) VALUES (?)", {std::string("a")});
  try {
    db_->exec("INSERT INTO items(name) VALUES (?)", {std::string("a")});
    FAIL() << "no error";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind, DbError::Kind::kConstraint) << e.what();
  }
}

TEST_P(DbTest, RollbackDiscardsAndCommitKeeps) {
  migrate(*db_, "demo", kMigs);
  {
    Transaction tx(*db_);
    db_->exec("INSERT INTO items(name) VALUES (?)", {std::string("gone")});
  }
  {
    Transaction tx(*db_);
    db_->exec("INSERT INTO items(name) VALUES (?)", {std::string("kept")});
    tx.commit();
  }
  auto other = open(url_);
  Rows r = other->query("SELECT name FROM items");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r.text(0, 0), "kept");
}

TEST_P(DbTest, InvalidTextIsRejectedAlikeOnBothEngines) {
  migrate(*db_, "demo", kMigs);
  for (std::string bad : {std::string("a\xff"), std::string("a\0b", 3), std::string("\xc0\xaf")}) {
    EXPECT_THROW(db_->exec("INSERT INTO items(name) VALUES (?)", {bad}), DbError);
    EXPECT_TRUE(storable_text(clean_text(bad)));
    db_->exec("INSERT INTO items(name) VALUES (?)", {clean_text(bad)});
  }
}

TEST_P(DbTest, ConcurrentWritersOnTwoConnectionsAllLand) {
  migrate(*db_, "demo", kMigs);
  db_->exec("INSERT INTO items(name) VALUES (?)", {std::string("counter")});
  auto worker = [&] {
    auto db = open(url_);
    for (int i = 0; i < 50; ++i)
      with_transaction(*db, [&] {
        Rows r = db->query("SELECT n FROM items WHERE name = ?", {std::string("counter")});
        db->exec("UPDATE items SET n = n + 1 WHERE name = ?", {std::string("counter")});
        (void)r;
      });
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  EXPECT_EQ(db_->query("SELECT n FROM items WHERE name = 'counter'").integer(0, 0), 100);
}

INSTANTIATE_TEST_SUITE_P(Engines, DbTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& i) { return i.param == Backend::kSqlite ? "sqlite" : "postgres"; });

TEST(Url, Schemes) {
  EXPECT_EQ(parse_url("sqlite:/x/y.db")->second, "/x/y.db");
  EXPECT_EQ(parse_url("/x/y.db")->first, Backend::kSqlite);
  EXPECT_EQ(parse_url("postgresql://u@h:5/d")->first, Backend::kPostgres);
  EXPECT_FALSE(parse_url("mysql://x").has_value());
  EXPECT_THROW(open("sqlite:/nonexistent-dir/x/y.db"), DbError);
  EXPECT_THROW(open("postgresql://nobody@127.0.0.1:1/x?connect_timeout=2"), DbError);
}

TEST(Placeholders, NumberedOutsideQuotesAndComments) {
  EXPECT_EQ(number_placeholders("a = ? AND b = '?' AND c = ? -- ?\n AND d = ?"),
            "a = $1 AND b = '?' AND c = $2 -- ?\n AND d = $3");
}

}  // namespace
}  // namespace omamori::store
