// The case tests' fixture: the same suite on SQLite and on a real PostgreSQL
// server (started once per test process, see store/pg_test_server.hpp).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "cases/case_store.hpp"
#include "store/pg_test_server.hpp"

namespace omamori::cases::testing {

inline constexpr TimeMs T0 = 1'700'000'000'000;
inline constexpr TimeMs kDay = 86'400'000;

// The test's own sink for warnings: records what it is handed.
class RecordingSender final : public WarningSender {
 public:
  DeliveryResult send(const WarningRequest& r) override {
    sent.push_back(r);
    if (on_send) on_send(r);
    if (fail) return {false, "test", error, ""};
    return {true, "test", "", "msg-" + std::to_string(sent.size())};
  }
  std::vector<WarningRequest> sent;
  bool fail = false;
  std::string error = "connection refused";
  std::function<void(const WarningRequest&)> on_send;
};

inline Finding make_finding(std::string type, std::string indicator, std::string category, uint8_t confidence,
                            TimeMs t) {
  Finding f;
  f.type = std::move(type);
  f.host = *IpAddr::parse("198.51.100.23");
  f.first = t;
  f.last = t + 60'000;
  f.indicator = std::move(indicator);
  f.feed = "test-feed";
  f.category = std::move(category);
  f.events = 3;
  f.confidence = confidence;
  f.explanation = "test finding";
  return f;
}

inline Finding c2(const std::string& name, TimeMs t) { return make_finding("reputation-dns", name, "c2", 90, t); }
inline Finding dga(const std::string& name, TimeMs t) { return make_finding("dga", name, "dga", 80, t); }

inline Attribution attr(std::string subscriber) {
  Attribution a;
  a.subscriber = std::move(subscriber);
  a.session_id = "sess-1";
  return a;
}

inline std::string pseudo(const std::string& s) { return "sub-" + s; }

class CasesTest : public ::testing::TestWithParam<store::Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == store::Backend::kSqlite) {
      static int n = 0;
      auto dir = std::filesystem::temp_directory_path() /
                 ("omamori-cases-" + std::to_string(getpid()) + "-" + std::to_string(n++));
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
      url_ = "sqlite:" + (dir / "cases.db").string();
    } else {
      url_ = test::PgTestServer::shared().create_database("cases");
    }
    db_ = store::open(url_);
    dir_ = std::make_unique<subscribers::Directory>(*db_);
    import(
        "alice,alice@example.jp,ja,true,2023-04,ftth\n"
        "bob,bob@example.com,en,true,2023-04,mobile\n"
        "carol,carol@example.jp,ja,false,,business\n");
    store_ = std::make_unique<CaseStore>(*db_, *dir_, policy_);
  }

  void import(const std::string& rows) {
    auto r = subscribers::parse_csv(std::string(subscribers::kCsvHeader) + "\n" + rows);
    ASSERT_TRUE(r.error.empty() && r.rejected.empty());
    dir_->upsert(r.rows, T0);
  }

  CaseDetail detail(int64_t id) {
    auto d = store_->get(id);
    EXPECT_TRUE(d.has_value());
    return d.value_or(CaseDetail{});
  }

  Policy policy_;
  std::string url_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<subscribers::Directory> dir_;
  std::unique_ptr<CaseStore> store_;
};

inline std::string engine_name(const ::testing::TestParamInfo<store::Backend>& i) {
  return i.param == store::Backend::kSqlite ? "sqlite" : "postgres";
}

}  // namespace omamori::cases::testing
