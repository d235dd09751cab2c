// The outbox with the real CSV channel: its file's directory missing makes
// deliveries fail until the test creates it.
#include "notify/outbox.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "notify/channels.hpp"

using namespace omamori;
using namespace omamori::notify;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("notify-outbox-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

RetryPolicy policy(int max_attempts) {
  RetryPolicy p;
  p.max_attempts = max_attempts;
  p.base_ms = 60000;
  p.max_ms = 3600000;
  return p;
}

}  // namespace

TEST(Outbox, FailedDeliveryIsRetriedWithBackoffThenSent) {
  fs::path d = temp_dir();
  NotifyConfig cfg;
  cfg.csv.path = (d / "later" / "w.csv").string();
  CsvSender csv(cfg, TemplateSet::bundled());
  std::map<std::string, WarningSender*> senders{{"csv", &csv}};
  Outbox box((d / "outbox").string(), policy(5));
  TimeMs t0 = 1714564800000;
  std::string id = box.enqueue(sample_request(), "csv", t0);

  auto st = box.run(senders, t0);
  EXPECT_EQ(st.attempted, 1u);
  EXPECT_EQ(st.deferred, 1u);
  auto pending = box.list("pending");
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].id, id);
  EXPECT_EQ(pending[0].attempts, 1);
  EXPECT_EQ(pending[0].next_attempt, t0 + 60000);
  EXPECT_NE(pending[0].last_error.find("w.csv"), std::string::npos) << pending[0].last_error;
  EXPECT_EQ(pending[0].request.case_id, 42);

  // Not due yet: nothing is attempted.
  fs::create_directories(d / "later");
  st = box.run(senders, t0 + 59999);
  EXPECT_EQ(st.attempted, 0u);
  EXPECT_FALSE(fs::exists(d / "later" / "w.csv"));

  st = box.run(senders, t0 + 60000);
  EXPECT_EQ(st.sent, 1u);
  EXPECT_TRUE(box.list("pending").empty());
  auto sent = box.list("sent");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].attempts, 2);
  EXPECT_EQ(sent[0].state, "sent");
  EXPECT_FALSE(sent[0].message_id.empty());
  EXPECT_TRUE(fs::exists(d / "later" / "w.csv"));
  fs::remove_all(d);
}

TEST(Outbox, GivesUpAfterMaxAttemptsVisiblyAndCanBeRetried) {
  fs::path d = temp_dir();
  NotifyConfig cfg;
  cfg.csv.path = (d / "never" / "w.csv").string();
  CsvSender csv(cfg, TemplateSet::bundled());
  std::map<std::string, WarningSender*> senders{{"csv", &csv}};
  Outbox box((d / "outbox").string(), policy(3));
  TimeMs t = 1000;
  std::string id = box.enqueue(sample_request(), "csv", t);
  // Items of a channel without a sender wait.
  box.enqueue(sample_request(), "smtp", t);
  for (int i = 0; i < 3; ++i) {
    auto st = box.run(senders, t);
    EXPECT_EQ(st.attempted, 1u);
    t += 3600000;
  }
  auto failed = box.list("failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].id, id);
  EXPECT_EQ(failed[0].attempts, 3);
  EXPECT_EQ(failed[0].state, "failed");
  EXPECT_FALSE(failed[0].last_error.empty());
  ASSERT_EQ(box.list("pending").size(), 1u);
  EXPECT_EQ(box.list("pending")[0].channel, "smtp");

  EXPECT_FALSE(box.retry("no-such-id", t));
  EXPECT_FALSE(box.retry("../../etc/passwd", t));
  fs::create_directories(d / "never");
  ASSERT_TRUE(box.retry(id, t));
  auto st = box.run(senders, t);
  EXPECT_EQ(st.sent, 1u);
  EXPECT_TRUE(box.list("failed").empty());
  fs::remove_all(d);
}

TEST(Outbox, CorruptItemIsSetAsideNotLost) {
  fs::path d = temp_dir();
  Outbox box((d / "outbox").string(), policy(3));
  std::ofstream(d / "outbox" / "pending" / "1-1-deadbeef.json") << "{not json";
  std::map<std::string, WarningSender*> senders;
  auto st = box.run(senders, 0);
  EXPECT_EQ(st.unreadable, 1u);
  EXPECT_TRUE(fs::exists(d / "outbox" / "failed" / "1-1-deadbeef.json.bad"));
  fs::remove_all(d);
}
