// Warnings on SQLite and PostgreSQL: pacing, severity rise, dedup, request
// contents, failed deliveries (visible, retried with backoff), claims.
#include "cases/cases_fixture.hpp"

namespace omamori::cases::testing {
namespace {

TEST_P(CasesTest, SecondWarningWithinTheIntervalIsSuppressed) {
  RecordingSender sender;
  int64_t id = store_->ingest(dga("aaa.example", T0), attr("alice"), T0).case_id;
  EXPECT_EQ(store_->notify(sender, T0 + 1, "n", pseudo).sent, 1u);
  // New evidence of the same severity a day later: paced.
  store_->ingest(dga("bbb.example", T0 + kDay), attr("alice"), T0 + kDay);
  EXPECT_TRUE(store_->due(T0 + kDay + 1, pseudo).empty());
  EXPECT_EQ(store_->notify(sender, T0 + kDay + 1, "n", pseudo).sent, 0u);
  EXPECT_EQ(store_->notify(sender, T0 + 1 + policy_.warn_interval - 1, "n", pseudo).sent, 0u);
  // Once the interval has passed, only the evidence not yet warned about goes out.
  EXPECT_EQ(store_->notify(sender, T0 + 1 + policy_.warn_interval, "n", pseudo).sent, 1u);
  ASSERT_EQ(sender.sent.size(), 2u);
  ASSERT_EQ(sender.sent[1].findings.size(), 1u);
  EXPECT_EQ(sender.sent[1].findings[0].indicator, "bbb.example");
  auto d = detail(id);
  EXPECT_EQ(d.summary.warnings_sent, 2);
  EXPECT_EQ(d.summary.last_warning_at, T0 + 1 + policy_.warn_interval);
  // notified -> notified is recorded too.
  EXPECT_EQ(d.history.back().from, "notified");
  EXPECT_EQ(d.history.back().to, "notified");
}

TEST_P(CasesTest, RisingSeverityBypassesPacing) {
  RecordingSender sender;
  store_->ingest(dga("aaa.example", T0), attr("alice"), T0);
  store_->notify(sender, T0 + 1, "n", pseudo);
  store_->ingest(c2("cnc.example.net", T0 + kDay), attr("alice"), T0 + kDay);  // medium -> high
  auto due = store_->due(T0 + kDay + 1, pseudo);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].severity, "high");
  EXPECT_EQ(store_->notify(sender, T0 + kDay + 1, "n", pseudo).sent, 1u);
  // Another high finding the next day: no rise any more, paced again.
  store_->ingest(c2("cnc2.example.net", T0 + 2 * kDay), attr("alice"), T0 + 2 * kDay);
  EXPECT_EQ(store_->notify(sender, T0 + 2 * kDay + 1, "n", pseudo).sent, 0u);
}

TEST_P(CasesTest, RepeatedIndicatorDoesNotWarnAgain) {
  RecordingSender sender;
  store_->ingest(c2("cnc.example.net", T0), attr("alice"), T0);
  store_->notify(sender, T0 + 1, "n", pseudo);
  TimeMs later = T0 + 2 * policy_.warn_interval;
  store_->ingest(c2("cnc.example.net", later), attr("alice"), later);
  EXPECT_EQ(store_->notify(sender, later + 1, "n", pseudo).sent, 0u);
  EXPECT_EQ(sender.sent.size(), 1u);
}

TEST_P(CasesTest, RequestCarriesDirectoryContactAndEvidence) {
  store_->ingest(c2("cnc.example.net", T0), attr("bob"), T0);
  store_->ingest(dga("aaa.example", T0 + 5000), attr("bob"), T0 + 5000);
  auto due = store_->due(T0 + 10'000, pseudo);
  ASSERT_EQ(due.size(), 1u);
  const auto& r = due[0];
  EXPECT_EQ(r.subscriber_id, "bob");
  EXPECT_EQ(r.email, "bob@example.com");
  EXPECT_EQ(r.language, "en");
  EXPECT_EQ(r.pseudonym, "sub-bob");
  EXPECT_EQ(r.severity, "high");
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].type, "reputation-dns");
  EXPECT_EQ(r.findings[0].host.str(), "198.51.100.23");
  EXPECT_EQ(r.first_seen, T0);
  EXPECT_EQ(r.last_seen, T0 + 5000 + 60'000);
  // due() is a dry run: nothing recorded, same answer twice.
  EXPECT_EQ(store_->due(T0 + 10'000, pseudo).size(), 1u);
  EXPECT_TRUE(detail(r.case_id).deliveries.empty());
}

TEST_P(CasesTest, FailedDeliveryIsVisibleAndRetriedWithBackoff) {
  RecordingSender sender;
  sender.fail = true;
  int64_t id = store_->ingest(c2("cnc.example.net", T0), attr("alice"), T0).case_id;
  auto rep = store_->notify(sender, T0, "n", pseudo);
  EXPECT_EQ(rep.failed, 1u);
  ASSERT_EQ(rep.entries.size(), 1u);
  EXPECT_EQ(rep.entries[0].error, "connection refused");
  auto d = detail(id);
  EXPECT_EQ(d.summary.state, State::kDetected);
  EXPECT_EQ(d.summary.failed_attempts, 1);
  EXPECT_EQ(d.summary.next_attempt_at, T0 + policy_.retry_base);
  ASSERT_EQ(d.deliveries.size(), 1u);
  EXPECT_FALSE(d.deliveries[0].ok);
  EXPECT_EQ(d.deliveries[0].error, "connection refused");
  EXPECT_EQ(store_->stats().failing, 1);
  // Backing off: not retried before next_attempt_at.
  EXPECT_EQ(store_->notify(sender, T0 + policy_.retry_base - 1, "n", pseudo).due, 0u);
  EXPECT_EQ(sender.sent.size(), 1u);
  // Retried, fails again: the wait doubles.
  EXPECT_EQ(store_->notify(sender, T0 + policy_.retry_base, "n", pseudo).failed, 1u);
  EXPECT_EQ(detail(id).summary.next_attempt_at, T0 + 3 * policy_.retry_base);
  // The channel is back.
  sender.fail = false;
  EXPECT_EQ(store_->notify(sender, T0 + 3 * policy_.retry_base, "n", pseudo).sent, 1u);
  d = detail(id);
  EXPECT_EQ(d.summary.state, State::kNotified);
  EXPECT_EQ(d.summary.failed_attempts, 0);
  ASSERT_EQ(d.deliveries.size(), 3u);
  EXPECT_TRUE(d.deliveries[2].ok);
  EXPECT_EQ(d.deliveries[2].message_id, "msg-3");
  EXPECT_EQ(store_->stats().failing, 0);
}

TEST_P(CasesTest, BackoffIsCapped) {
  RecordingSender sender;
  sender.fail = true;
  int64_t id = store_->ingest(c2("cnc.example.net", T0), attr("alice"), T0).case_id;
  TimeMs t = T0;
  for (int i = 0; i < 12; ++i) {
    store_->notify(sender, t, "n", pseudo);
    t = detail(id).summary.next_attempt_at;
  }
  auto s = detail(id).summary;
  EXPECT_EQ(s.failed_attempts, 12);
  auto d = detail(id);
  EXPECT_EQ(d.deliveries.back().at + policy_.retry_max, s.next_attempt_at);
}

TEST_P(CasesTest, ACaseBeingSentIsNotSentByASecondNotifier) {
  RecordingSender sender, other_sender;
  store_->ingest(c2("cnc.example.net", T0), attr("alice"), T0);
  auto db2 = store::open(url_);
  subscribers::Directory dir2(*db2);
  CaseStore second(*db2, dir2, policy_);
  NotifyReport inner;
  // While the first notifier is sending, the second one runs.
  sender.on_send = [&](const WarningRequest&) { inner = second.notify(other_sender, T0 + 2, "n2", pseudo); };
  auto rep = store_->notify(sender, T0 + 1, "n1", pseudo);
  EXPECT_EQ(rep.sent, 1u);
  EXPECT_EQ(inner.sent, 0u);
  EXPECT_TRUE(other_sender.sent.empty());
  EXPECT_EQ(sender.sent.size(), 1u);
}

}  // namespace
}  // namespace omamori::cases::testing
