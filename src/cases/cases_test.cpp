// Cases on SQLite and PostgreSQL: one case per subscriber, dedup, states and
// history, re-infection, manual queue, unattributed findings, migrations,
// concurrent ingest from two connections.
#include <thread>

#include "cases/cases_fixture.hpp"

namespace omamori::cases::testing {
namespace {

TEST_P(CasesTest, OneOpenCasePerSubscriberGathersFindings) {
  auto a1 = store_->ingest(c2("cnc.example.net", T0), attr("alice"), T0);
  auto a2 = store_->ingest(dga("xkqjzvb.example", T0 + 1000), attr("alice"), T0 + 1000);
  auto b1 = store_->ingest(c2("cnc.example.net", T0), attr("bob"), T0);
  EXPECT_EQ(a1.outcome, IngestOutcome::kNewCase);
  EXPECT_EQ(a2.outcome, IngestOutcome::kAdded);
  EXPECT_EQ(a2.case_id, a1.case_id);
  EXPECT_NE(b1.case_id, a1.case_id);
  auto d = detail(a1.case_id);
  EXPECT_EQ(d.summary.subscriber_id, "alice");
  EXPECT_EQ(d.summary.state, State::kDetected);
  EXPECT_EQ(d.summary.queue, "auto");
  EXPECT_EQ(d.summary.severity, Severity::kHigh);  // max over findings: c2 high, dga medium
  EXPECT_EQ(d.summary.findings, 2);
  EXPECT_EQ(d.summary.first_seen, T0);
  ASSERT_EQ(d.findings.size(), 2u);
  EXPECT_EQ(d.findings[0].finding.indicator, "cnc.example.net");  // highest severity first
  EXPECT_EQ(d.findings[0].session_id, "sess-1");
  EXPECT_EQ(d.findings[1].severity, Severity::kMedium);
  ASSERT_EQ(d.history.size(), 1u);
  EXPECT_EQ(d.history[0].from, "");
  EXPECT_EQ(d.history[0].to, "detected");
  EXPECT_EQ(store_->list({}).size(), 2u);
  ListFilter only_alice;
  only_alice.subscriber_id = "alice";
  EXPECT_EQ(store_->list(only_alice).size(), 1u);
}

TEST_P(CasesTest, SameIndicatorIsMergedNotDuplicated) {
  auto r1 = store_->ingest(c2("cnc.example.net", T0), attr("alice"), T0);
  Finding again = c2("cnc.example.net", T0 + 5 * 60'000);
  again.events = 10;
  auto r2 = store_->ingest(again, attr("alice"), T0 + 400'000);
  EXPECT_EQ(r2.outcome, IngestOutcome::kDuplicate);
  auto d = detail(r1.case_id);
  ASSERT_EQ(d.findings.size(), 1u);
  EXPECT_EQ(d.findings[0].occurrences, 2);
  EXPECT_EQ(d.findings[0].events, 13);
  EXPECT_EQ(d.findings[0].first_seen, T0);
  EXPECT_EQ(d.findings[0].last_seen, T0 + 5 * 60'000 + 60'000);
  EXPECT_EQ(d.summary.last_seen, T0 + 5 * 60'000 + 60'000);
}

TEST_P(CasesTest, StateMachineWithFullHistory) {
  RecordingSender sender;
  int64_t id = store_->ingest(c2("cnc.example.net", T0), attr("alice"), T0).case_id;
  EXPECT_THROW(store_->acknowledge(id, "ana", "", T0), CaseError);  // not notified yet
  EXPECT_EQ(store_->notify(sender, T0 + 1, "notifier", pseudo).sent, 1u);
  store_->acknowledge(id, "ana", "customer called back", T0 + 2);
  store_->resolve(id, "ana", "device reset", T0 + 3);
  store_->close(id, "ana", "done", T0 + 4);
  EXPECT_THROW(store_->resolve(id, "ana", "", T0 + 5), CaseError);  // closed is final
  EXPECT_THROW(store_->close(id + 100, "ana", "", T0 + 5), CaseError);
  auto d = detail(id);
  EXPECT_EQ(d.summary.state, State::kClosed);
  EXPECT_EQ(d.summary.resolved_at, T0 + 3);
  EXPECT_EQ(d.summary.closed_at, T0 + 4);
  std::vector<std::tuple<TimeMs, std::string, std::string, std::string>> want = {
      {T0, "", "detected", "system"},
      {T0 + 1, "detected", "notified", "notifier"},
      {T0 + 2, "notified", "acknowledged", "ana"},
      {T0 + 3, "acknowledged", "resolved", "ana"},
      {T0 + 4, "resolved", "closed", "ana"}};
  ASSERT_EQ(d.history.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(d.history[i].at, std::get<0>(want[i]));
    EXPECT_EQ(d.history[i].from, std::get<1>(want[i]));
    EXPECT_EQ(d.history[i].to, std::get<2>(want[i]));
    EXPECT_EQ(d.history[i].actor, std::get<3>(want[i]));
  }
  EXPECT_EQ(d.history[2].note, "customer called back");
  EXPECT_EQ(d.history[1].note, "warning sent via test (msg-1)");
  // A new finding after close opens a new case.
  auto r = store_->ingest(c2("cnc.example.net", T0 + kDay), attr("alice"), T0 + kDay);
  EXPECT_EQ(r.outcome, IngestOutcome::kNewCase);
  EXPECT_NE(r.case_id, id);
}

TEST_P(CasesTest, NewEvidenceAfterResolveIsReinfection) {
  RecordingSender sender;
  int64_t id = store_->ingest(c2("cnc.example.net", T0), attr("alice"), T0).case_id;
  store_->notify(sender, T0 + 1000, "n", pseudo);
  store_->resolve(id, "ana", "", T0 + kDay);
  // Evidence from before the resolution does not re-open anything.
  auto old = store_->ingest(c2("cnc.example.net", T0 + 1000), attr("alice"), T0 + kDay + 1);
  EXPECT_EQ(old.outcome, IngestOutcome::kDuplicate);
  EXPECT_EQ(detail(id).summary.state, State::kResolved);
  // The same indicator seen again after the resolution, within the window.
  auto r = store_->ingest(c2("cnc.example.net", T0 + 10 * kDay), attr("alice"), T0 + 10 * kDay);
  EXPECT_EQ(r.outcome, IngestOutcome::kReinfected);
  EXPECT_EQ(r.case_id, id);
  auto d = detail(id);
  EXPECT_EQ(d.summary.state, State::kReinfected);
  EXPECT_EQ(d.summary.reinfections, 1);
  EXPECT_EQ(d.history.back().from, "resolved");
  EXPECT_EQ(d.history.back().to, "reinfected");
  // It is warned again (the re-seen indicator counts as new evidence).
  auto rep = store_->notify(sender, T0 + 10 * kDay + 1, "n", pseudo);
  EXPECT_EQ(rep.sent, 1u);
  EXPECT_EQ(detail(id).summary.state, State::kNotified);
  ASSERT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(sender.sent[1].findings.size(), 1u);
}

TEST_P(CasesTest, EvidenceAfterTheWindowOpensANewCase) {
  int64_t id = store_->ingest(c2("cnc.example.net", T0), attr("alice"), T0).case_id;
  store_->resolve(id, "ana", "", T0 + kDay);
  TimeMs late = T0 + kDay + policy_.reinfection_window + kDay;
  auto r = store_->ingest(dga("zzqx.example", late), attr("alice"), late);
  EXPECT_EQ(r.outcome, IngestOutcome::kNewCase);
  EXPECT_NE(r.case_id, id);
  auto d = detail(id);
  EXPECT_EQ(d.summary.state, State::kClosed);
  EXPECT_EQ(d.history.back().note, "re-infection window passed");
}

TEST_P(CasesTest, ResolvedCasesCloseWhenTheWindowPasses) {
  int64_t id = store_->ingest(c2("cnc.example.net", T0), attr("alice"), T0).case_id;
  store_->resolve(id, "ana", "", T0);
  EXPECT_EQ(store_->close_expired(T0 + policy_.reinfection_window - 1), 0);
  EXPECT_EQ(store_->close_expired(T0 + policy_.reinfection_window + 1), 1);
  EXPECT_EQ(detail(id).summary.state, State::kClosed);
  EXPECT_EQ(store_->close_expired(T0 + 2 * policy_.reinfection_window), 0);
}

TEST_P(CasesTest, SubscribersWithoutConsentGoToTheManualQueue) {
  RecordingSender sender;
  int64_t carol = store_->ingest(c2("cnc.example.net", T0), attr("carol"), T0).case_id;
  int64_t ghost = store_->ingest(c2("cnc.example.net", T0), attr("not-in-directory"), T0).case_id;
  int64_t alice = store_->ingest(c2("cnc.example.net", T0), attr("alice"), T0).case_id;
  ListFilter manual;
  manual.queue = "manual";
  auto q = store_->list(manual);
  ASSERT_EQ(q.size(), 2u);
  for (const auto& c : q) EXPECT_TRUE(c.id == carol || c.id == ghost);
  EXPECT_EQ(detail(carol).summary.queue_reason, "contract terms do not allow warnings");
  EXPECT_EQ(detail(ghost).summary.queue_reason, "subscriber not in the directory");
  auto rep = store_->notify(sender, T0 + 1, "n", pseudo);
  EXPECT_EQ(rep.sent, 1u);
  EXPECT_EQ(rep.manual, 2u);
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(sender.sent[0].case_id, alice);
  EXPECT_EQ(detail(carol).summary.state, State::kDetected);
  EXPECT_EQ(store_->stats().manual_queue, 2);
  // Consent given later (re-import): the next notify warns carol; alice
  // withdrawing consent moves her case to the manual queue.
  import("carol,carol@example.jp,ja,true,2024-01,business\nalice,alice@example.jp,ja,false,2024-01,ftth\n");
  store_->ingest(dga("qqq.example", T0 + 2), attr("alice"), T0 + 2);  // high > medium: no bypass; interval pending
  rep = store_->notify(sender, T0 + 3, "n", pseudo);
  EXPECT_EQ(rep.sent, 1u);
  EXPECT_EQ(sender.sent.back().case_id, carol);
  EXPECT_EQ(detail(carol).summary.state, State::kNotified);
  EXPECT_EQ(detail(alice).summary.queue, "manual");
}

TEST_P(CasesTest, UnattributedFindingsAreKeptCountedAndListable) {
  Attribution none;
  auto r = store_->ingest(c2("cnc.example.net", T0), none, T0);
  EXPECT_EQ(r.outcome, IngestOutcome::kUnattributed);
  EXPECT_EQ(r.case_id, 0);
  store_->ingest(c2("cnc.example.net", T0 + 1000), none, T0 + 1000);
  store_->ingest(dga("abc.example", T0), none, T0);
  auto u = store_->unattributed(0);
  ASSERT_EQ(u.size(), 2u);
  int64_t total = 0;
  for (const auto& x : u) total += x.occurrences;
  EXPECT_EQ(total, 3);
  auto st = store_->stats();
  EXPECT_EQ(st.unattributed, 2);
  EXPECT_EQ(st.unattributed_occurrences, 3);
  EXPECT_TRUE(store_->list({}).empty());
}

TEST_P(CasesTest, RetentionPurgesOldClosedCasesAndUnattributedFindingsOnly) {
  int64_t old_closed = store_->ingest(c2("cnc.example.net", T0), attr("alice"), T0).case_id;
  store_->resolve(old_closed, "ana", "", T0);
  store_->close(old_closed, "ana", "", T0 + kDay);
  int64_t open_old = store_->ingest(c2("cnc.example.net", T0), attr("bob"), T0).case_id;
  int64_t recent_closed = store_->ingest(dga("xkq.example", T0), attr("carol"), T0).case_id;
  store_->close(recent_closed, "ana", "", T0 + 100 * kDay);
  Attribution none;
  store_->ingest(c2("old.example", T0), none, T0);
  store_->ingest(c2("new.example", T0 + 100 * kDay), none, T0 + 100 * kDay);

  TimeMs cutoff = T0 + 50 * kDay;
  EXPECT_EQ(store_->purge_closed_before(cutoff), 1u);
  EXPECT_FALSE(store_->get(old_closed).has_value());
  EXPECT_EQ(db_->query("SELECT COUNT(*) FROM case_history WHERE case_id = ?", {store::Value(old_closed)}).integer(0, 0),
            0);
  EXPECT_EQ(db_->query("SELECT COUNT(*) FROM case_findings WHERE case_id = ?", {store::Value(old_closed)}).integer(0, 0),
            0);
  // An open case keeps its evidence however old; a recently closed one stays.
  EXPECT_EQ(detail(open_old).findings.size(), 1u);
  EXPECT_EQ(detail(recent_closed).summary.state, State::kClosed);
  EXPECT_EQ(store_->purge_unattributed_before(cutoff), 1u);
  auto u = store_->unattributed(0);
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].finding.indicator, "new.example");
  EXPECT_EQ(store_->purge_closed_before(cutoff), 0u);  // idempotent
}

TEST_P(CasesTest, NonSubscriberFindingsAreIgnoredAndCounted) {
  auto r = store_->ingest(make_finding("ddos-target", "udp-flood", "ddos", 90, T0), attr("alice"), T0);
  EXPECT_EQ(r.outcome, IngestOutcome::kIgnored);
  store_->ingest(make_finding("c2-candidate", "203.0.113.5", "", 90, T0), attr("alice"), T0);
  EXPECT_EQ(store_->ignored().count("not a subscriber finding"), 2u);
  EXPECT_TRUE(store_->list({}).empty());
}

TEST_P(CasesTest, HostileTextIsStoredCleaned) {
  Finding f = c2(std::string("bad\xff\0name", 9), T0);
  auto r = store_->ingest(f, attr("alice"), T0);
  auto d = detail(r.case_id);
  ASSERT_EQ(d.findings.size(), 1u);
  EXPECT_EQ(d.findings[0].finding.indicator, "bad\xef\xbf\xbd\xef\xbf\xbdname");
}

TEST_P(CasesTest, MigrationsAreIdempotent) {
  EXPECT_EQ(store::schema_version(*db_, "cases"), 1);
  EXPECT_EQ(store::schema_version(*db_, "subscribers"), 1);
  CaseStore again(*db_, *dir_);
  EXPECT_EQ(store::migrate(*db_, "cases", std::span<const store::Migration>()), 0);
  auto other = store::open(url_);
  subscribers::Directory dir2(*other);
  CaseStore third(*other, dir2);
  EXPECT_EQ(db_->query("SELECT count(*) FROM schema_migrations WHERE component = 'cases'").integer(0, 0), 1);
  store_->ingest(c2("cnc.example.net", T0), attr("alice"), T0);
  EXPECT_EQ(third.list({}).size(), 1u);
}

TEST_P(CasesTest, ConcurrentIngestFromTwoConnections) {
  constexpr int kSubscribers = 6, kIndicators = 8, kRounds = 2;
  auto worker = [&](int seed) {
    auto db = store::open(url_);
    subscribers::Directory dir(*db);
    CaseStore cs(*db, dir, policy_);
    for (int round = 0; round < kRounds; ++round)
      for (int i = 0; i < kIndicators; ++i)
        for (int s = 0; s < kSubscribers; ++s) {
          int ind = (i + seed * 3) % kIndicators;  // the two workers overlap on every indicator
          cs.ingest(c2("c" + std::to_string(ind) + ".example", T0 + i), attr("sub" + std::to_string(s)), T0);
        }
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  auto all = store_->list({});
  ASSERT_EQ(all.size(), static_cast<size_t>(kSubscribers));  // exactly one case each
  for (const auto& c : all) {
    auto d = detail(c.id);
    ASSERT_EQ(d.findings.size(), static_cast<size_t>(kIndicators));
    int64_t occ = 0;
    for (const auto& f : d.findings) occ += f.occurrences;
    EXPECT_EQ(occ, 2 * kRounds * kIndicators);  // nothing lost, nothing doubled
    EXPECT_EQ(d.history.size(), 1u);
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, CasesTest, ::testing::Values(store::Backend::kSqlite, store::Backend::kPostgres),
                         engine_name);

TEST(Severity, Mapping) {
  EXPECT_EQ(severity_of(c2("x", 0)), Severity::kHigh);
  EXPECT_EQ(severity_of(make_finding("reputation-flow", "x", "c2", 30, 0)), Severity::kMedium);  // weak evidence
  EXPECT_EQ(severity_of(make_finding("ddos-source", "udp-flood", "ddos", 90, 0)), Severity::kHigh);
  EXPECT_EQ(severity_of(make_finding("scan", "tcp/23", "scanner", 90, 0)), Severity::kHigh);
  EXPECT_EQ(severity_of(dga("x", 0)), Severity::kMedium);
  EXPECT_EQ(severity_of(make_finding("nxdomain", "x", "dga", 90, 0)), Severity::kLow);
  EXPECT_EQ(severity_of(make_finding("reputation-dns", "x", "spam", 90, 0)), Severity::kLow);
  EXPECT_EQ(severity_of(make_finding("reputation-dns", "x", "spam", 10, 0)), Severity::kLow);
  EXPECT_EQ(severity_of(make_finding("reputation-dns", "x", "phishing", 90, 0)), Severity::kMedium);
  EXPECT_EQ(severity_of(make_finding("ddos-target", "x", "ddos", 90, 0)), Severity::kNone);
}

}  // namespace
}  // namespace omamori::cases::testing
