// The directory CSV parser, and import (upsert) on SQLite and a real PostgreSQL server.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "store/pg_test_server.hpp"
#include "subscribers/subscriber.hpp"

namespace omamori::subscribers {
namespace {

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(SubscriberCsv, ValidRowsAndRejectsWithLineNumbers) {
  auto r = parse_csv(slurp(OMAMORI_TESTDATA "/subscribers.csv"));
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.lines, 11u);
  ASSERT_EQ(r.rows.size(), 4u);
  EXPECT_EQ(r.rows[0].id, "alice@isp");
  EXPECT_TRUE(r.rows[0].warnings_allowed);
  EXPECT_EQ(r.rows[1].language, "en");  // normalised
  EXPECT_FALSE(r.rows[2].warnings_allowed);
  EXPECT_EQ(r.rows[2].terms_version, "");
  EXPECT_EQ(r.rows[3].id, "dave, jr@isp");  // quoted comma
  EXPECT_EQ(r.rows[3].terms_version, "v7");
  std::vector<std::pair<uint64_t, std::string>> want = {
      {6, "bad email"},          {7, "bad language"},           {8, "bad warnings_allowed"},
      {9, "missing terms_version"}, {10, "wrong number of fields"}, {11, "duplicate subscriber id"},
      {12, "bad service"}};
  ASSERT_EQ(r.rejected.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(r.rejected[i].line, want[i].first);
    EXPECT_EQ(r.rejected[i].reason, want[i].second);
  }
  EXPECT_EQ(r.rejects.count("bad email"), 1u);
  EXPECT_EQ(r.rejects.total(), 7u);
}

TEST(SubscriberCsv, QuotingCrlfBomAndMultilineFields) {
  std::string csv =
      "\xef\xbb\xbfsubscriber_id,email,language,warnings_allowed,terms_version,service\r\n"
      "\"q\"\"uote\",a@b.cd,en,0,,ftth\r\n"
      "\"multi\nline\",a@b.cd,ja,1,x,mobile\r\n"
      "ok,a@b.cd,ja,1,x,mobile\r\n"
      "\"bad\"x,a@b.cd,ja,1,x,mobile\r\n"
      "\"open,a@b.cd\n";
  auto r = parse_csv(csv);
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].id, "q\"uote");
  EXPECT_EQ(r.rows[1].id, "ok");
  ASSERT_EQ(r.rejected.size(), 3u);
  EXPECT_STREQ(r.rejected[0].reason, "bad subscriber id");  // control character (newline) in the id
  EXPECT_EQ(r.rejected[0].line, 3u);
  EXPECT_EQ(r.rejected[1].line, 6u);  // the multi-line record took lines 3-4
  EXPECT_STREQ(r.rejected[1].reason, "bad quoting");
  EXPECT_STREQ(r.rejected[2].reason, "unterminated quote");
}

TEST(SubscriberCsv, HeaderIsRequired) {
  EXPECT_FALSE(parse_csv("alice,a@b.cd,ja,1,x,ftth\n").error.empty());
  EXPECT_FALSE(parse_csv("").error.empty());
  EXPECT_TRUE(parse_csv("Subscriber_ID, email,language,warnings_allowed,terms_version,service\n").error.empty());
}

TEST(SubscriberCsv, InvalidUtf8IsRejected) {
  auto r = parse_csv(std::string(kCsvHeader) + "\nx\xff,a@b.cd,ja,1,x,ftth\n");
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_STREQ(r.rejected[0].reason, "invalid utf-8");
}

class DirectoryTest : public ::testing::TestWithParam<store::Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == store::Backend::kSqlite) {
      auto dir = std::filesystem::temp_directory_path() / ("omamori-subs-" + std::to_string(getpid()));
      std::filesystem::create_directories(dir);
      std::filesystem::remove(dir / "d.db");
      url_ = "sqlite:" + (dir / "d.db").string();
    } else {
      url_ = test::PgTestServer::shared().create_database("subs");
    }
    db_ = store::open(url_);
  }
  std::string url_;
  std::unique_ptr<store::Db> db_;
};

TEST_P(DirectoryTest, ImportThenReimportUpdates) {
  Directory dir(*db_);
  auto r = parse_csv(slurp(OMAMORI_TESTDATA "/subscribers.csv"));
  auto st = dir.upsert(r.rows, 1000, "subscribers.csv", r.rejected.size());
  EXPECT_EQ(st.inserted, 4u);
  EXPECT_EQ(dir.count(), 4u);
  EXPECT_EQ(dir.count_warnings_allowed(), 3u);
  auto a = dir.find("alice@isp");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->email, "alice@example.jp");
  EXPECT_EQ(a->updated_at, 1000);

  // Re-import: alice withdraws consent and moves to English; bob unchanged.
  auto r2 = parse_csv(std::string(kCsvHeader) +
                      "\nalice@isp,alice@example.jp,en,false,2024-01,ftth\n"
                      "bob@isp,bob@example.com,en,yes,2023-04,mobile\n"
                      "new@isp,new@example.jp,ja,true,2024-01,ftth\n");
  auto st2 = dir.upsert(r2.rows, 2000, "update.csv");
  EXPECT_EQ(st2.inserted, 1u);
  EXPECT_EQ(st2.updated, 1u);
  EXPECT_EQ(st2.unchanged, 1u);
  a = dir.find("alice@isp");
  EXPECT_FALSE(a->warnings_allowed);
  EXPECT_EQ(a->language, "en");
  EXPECT_EQ(a->updated_at, 2000);
  EXPECT_EQ(dir.find("bob@isp")->updated_at, 1000);
  EXPECT_FALSE(dir.find("nobody").has_value());
  // A second Directory on the same database does not re-run migrations.
  Directory again(*db_);
  EXPECT_EQ(again.count(), 5u);
  EXPECT_EQ(db_->query("SELECT count(*) FROM subscriber_imports").integer(0, 0), 2);
}

INSTANTIATE_TEST_SUITE_P(Engines, DirectoryTest, ::testing::Values(store::Backend::kSqlite, store::Backend::kPostgres),
                         [](const auto& i) { return i.param == store::Backend::kSqlite ? "sqlite" : "postgres"; });

}  // namespace
}  // namespace omamori::subscribers
