// The C&C candidate store: accumulation across runs, decisions, the
// local-discovery feed in the intel store.
#include "detect/c2/store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "intel/store_sqlite.hpp"

using namespace omamori;
using namespace omamori::c2;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "omamori-c2-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const char* name) const { return (path / name).string(); }
};

Candidate cand(const std::string& dest, DestKind kind, uint32_t k, uint32_t n, double q, TimeMs first, TimeMs last,
               std::vector<const char*> hosts) {
  Candidate c;
  c.kind = kind;
  c.dest = dest;
  c.suspected_hosts = k;
  c.hosts = n;
  c.population = 1000;
  c.suspected_population = 20;
  c.p_value = q / 10;
  c.q_value = q;
  c.enrichment = (double(k) / n) / (20.0 / 1000);
  c.first = first;
  c.last = last;
  for (auto* h : hosts) c.example_hosts.push_back(*IpAddr::parse(h));
  return c;
}

RunInfo run_at(TimeMs t) {
  return RunInfo{t, "tester", "test", 1000, 20};
}

Target target(const char* s) {
  std::string err;
  auto t = parse_target(s, err);
  EXPECT_TRUE(t) << err;
  return t.value_or(Target{});
}

intel::IndicatorQuery local_feed() {
  intel::IndicatorQuery q;
  q.feed = "local-discovery";
  return q;
}

DecideOptions by(const char* actor, const char* reason, TimeMs now) {
  DecideOptions o;
  o.actor = actor;
  o.reason = reason;
  o.now = now;
  return o;
}

}  // namespace

TEST(C2Target, ParsesAndCovers) {
  std::string err;
  EXPECT_FALSE(parse_target("192.0.2.0/24", err));
  EXPECT_NE(err.find("not a cidr"), std::string::npos) << err;
  EXPECT_FALSE(parse_target("not a name!", err));
  auto a = target("203.0.113.7");
  EXPECT_EQ(a.kind, intel::Kind::kIpv4);
  EXPECT_TRUE(covers(a, "203.0.113.7:6667/tcp", DestKind::AddrPort));
  EXPECT_TRUE(covers(a, "203.0.113.7/47", DestKind::AddrPort));
  EXPECT_FALSE(covers(a, "203.0.113.70:6667/tcp", DestKind::AddrPort));
  EXPECT_FALSE(covers(a, "203.0.113.7", DestKind::Domain));
  auto ap = target("203.0.113.7:6667");
  EXPECT_TRUE(covers(ap, "203.0.113.7:6667/tcp", DestKind::AddrPort));
  EXPECT_TRUE(covers(ap, "203.0.113.7:6667/udp", DestKind::AddrPort));
  EXPECT_FALSE(covers(ap, "203.0.113.7:666/tcp", DestKind::AddrPort));
  auto apt = target("203.0.113.7:6667/TCP");
  EXPECT_EQ(apt.value, "203.0.113.7:6667/tcp");
  EXPECT_TRUE(covers(apt, "203.0.113.7:6667/tcp", DestKind::AddrPort));
  EXPECT_FALSE(covers(apt, "203.0.113.7:6667/udp", DestKind::AddrPort));
  auto v6 = target("[2001:DB8::1]:443/tcp");
  EXPECT_TRUE(covers(v6, "[2001:db8::1]:443/tcp", DestKind::AddrPort));
  EXPECT_TRUE(covers(target("2001:db8::1"), "[2001:db8::1]:443/tcp", DestKind::AddrPort));
  auto d = target("Evil.Example.");
  EXPECT_EQ(d.value, "evil.example");
  EXPECT_TRUE(covers(d, "evil.example", DestKind::Domain));
  EXPECT_TRUE(covers(d, "x1.evil.example", DestKind::NxDomain));
  EXPECT_FALSE(covers(d, "notevil.example", DestKind::Domain));
}

TEST(C2Store, AccumulatesEvidenceAcrossRuns) {
  TempDir tmp;
  CandidateStore s(tmp.file("c2.db"));
  EXPECT_EQ(s.schema_version(), 1);
  auto st = s.record({cand("203.0.113.7:6667/tcp", DestKind::AddrPort, 5, 6, 1e-6, 1000, 2000, {"10.0.0.1", "10.0.0.2"}),
                      cand("evil.example", DestKind::Domain, 4, 4, 1e-4, 1500, 1600, {"10.0.0.3"})},
                     run_at(10'000));
  EXPECT_EQ(st.added, 2u);
  st = s.record({cand("203.0.113.7:6667/tcp", DestKind::AddrPort, 9, 12, 1e-9, 500, 5000, {"10.0.0.2", "10.0.0.4"})},
                run_at(20'000));
  EXPECT_EQ(st.added, 0u);
  EXPECT_EQ(st.updated, 1u);
  auto rows = s.list({});
  ASSERT_EQ(rows.size(), 2u);
  const auto& c = rows[0];  // best q first
  EXPECT_EQ(c.dest, "203.0.113.7:6667/tcp");
  EXPECT_EQ(c.status, Status::Open);
  EXPECT_EQ(c.runs, 2u);
  EXPECT_EQ(c.suspected_hosts, 9u);
  EXPECT_EQ(c.hosts, 12u);
  EXPECT_EQ(c.max_suspected_hosts, 9u);
  EXPECT_DOUBLE_EQ(c.best_q, 1e-9);
  EXPECT_EQ(c.first_seen, 500);
  EXPECT_EQ(c.last_seen, 5000);
  EXPECT_EQ(c.first_run, 10'000);
  EXPECT_EQ(c.last_run, 20'000);
  EXPECT_EQ(c.example_hosts, (std::vector<std::string>{"10.0.0.2", "10.0.0.4", "10.0.0.1"}));
  EXPECT_EQ(rows[1].dest, "evil.example");
  EXPECT_EQ(rows[1].kind, DestKind::Domain);
  // --max-q filters by the best q-value.
  ListQuery q;
  q.max_q = 1e-5;
  EXPECT_EQ(s.list(q).size(), 1u);
  // A second connection to the same file sees it (state persists).
  CandidateStore again(tmp.file("c2.db"));
  EXPECT_EQ(again.get("evil.example")->runs, 1u);
}

TEST(C2Store, ConfirmPublishesToIntelAndRejectWithdraws) {
  TempDir tmp;
  std::string path = tmp.file("omamori.db");  // candidates and indicators in one file
  CandidateStore s(path);
  s.record({cand("203.0.113.7:6667/tcp", DestKind::AddrPort, 5, 6, 1e-6, 1000, 2000, {"10.0.0.1"}),
            cand("203.0.113.7:8080/tcp", DestKind::AddrPort, 4, 5, 1e-5, 1500, 3000, {"10.0.0.1"}),
            cand("evil.example", DestKind::Domain, 4, 4, 1e-4, 1500, 1600, {"10.0.0.3"})},
           run_at(10'000));
  EXPECT_THROW(s.decide(target("198.51.100.1"), Status::Confirmed, by("alice", "x", 1)), intel::DbError);
  EXPECT_THROW(s.decide(target("203.0.113.7:6667"), Status::Open, by("alice", "x", 1)), intel::DbError);

  // Confirming the address covers both of its address:port candidates.
  Decision d = s.decide(target("203.0.113.7"), Status::Confirmed, by("alice", "sinkholed sample talks to it", 50'000));
  EXPECT_EQ(d.candidates, (std::vector<std::string>{"203.0.113.7:6667/tcp", "203.0.113.7:8080/tcp"}));
  EXPECT_EQ(d.confidence, 90);
  EXPECT_EQ(d.suspected_hosts, 5u);
  auto c = s.get("203.0.113.7:8080/tcp");
  EXPECT_EQ(c->status, Status::Confirmed);
  EXPECT_EQ(c->decided_by, "alice");
  EXPECT_EQ(c->decided_at, 50'000);
  EXPECT_EQ(c->reason, "sinkholed sample talks to it");
  EXPECT_TRUE(s.list({}).size() == 1);  // only evil.example is still open

  intel::IntelDb db(path);
  auto st = publish(s, db, 60'000);
  EXPECT_EQ(st.total, 1u);
  std::vector<intel::Indicator> got;
  db.for_each(local_feed(), [&](const intel::Indicator& i, bool) { got.push_back(i); });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].value, "203.0.113.7");
  EXPECT_EQ(got[0].kind, intel::Kind::kIpv4);
  EXPECT_EQ(got[0].category, intel::Category::kC2);
  EXPECT_EQ(got[0].confidence, 90);
  EXPECT_EQ(got[0].first_seen, 1000);  // traffic time of the first contact
  EXPECT_EQ(got[0].last_seen, 3000);
  auto snap = db.compile({});
  auto m = snap->match_addr_port(*IpAddr::parse("203.0.113.7"), 6667, 6);
  ASSERT_TRUE(m);
  EXPECT_EQ(snap->feed(m.id), "local-discovery");
  EXPECT_EQ(snap->category(m.id), intel::Category::kC2);

  // A domain confirmed with a family and expiry.
  DecideOptions o = by("bob", "DGA seed matches", 70'000);
  o.family = "mirai";
  o.confidence = 75;
  o.ttl = 86'400'000;
  s.decide(target("evil.example"), Status::Confirmed, o);
  publish(s, db, 70'000);
  got.clear();
  db.for_each(local_feed(), [&](const intel::Indicator& i, bool) { got.push_back(i); });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].value, "evil.example");
  EXPECT_EQ(got[1].family, "mirai");
  EXPECT_EQ(got[1].confidence, 75);
  EXPECT_EQ(got[1].expiry, 70'000 + 86'400'000);
  EXPECT_TRUE(db.compile({.now = 80'000})->match_domain("www.evil.example"));

  // The analyst changes their mind: rejecting withdraws the indicator.
  s.decide(target("203.0.113.7"), Status::Rejected, by("carol", "it is a shared hoster", 90'000));
  EXPECT_EQ(publish(s, db, 90'000).total, 1u);
  EXPECT_FALSE(db.compile({.now = 90'000})->match_addr(*IpAddr::parse("203.0.113.7")));
  auto h = s.history();
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].actor, "alice");
  EXPECT_EQ(h[0].decision, Status::Confirmed);
  EXPECT_EQ(h[2].actor, "carol");
  EXPECT_EQ(h[2].decision, Status::Rejected);
  EXPECT_EQ(h[2].reason, "it is a shared hoster");
  EXPECT_EQ(s.history("203.0.113.7:6667/tcp").size(), 2u);  // by the candidate it covered
  EXPECT_EQ(s.history("evil.example").size(), 1u);
}

TEST(C2Store, RejectedNotProposedAgainUnlessEvidenceDoubles) {
  TempDir tmp;
  CandidateStore s(tmp.file("c2.db"));
  s.record({cand("198.51.100.9:443/tcp", DestKind::AddrPort, 4, 6, 1e-4, 1000, 2000, {"10.0.0.1"})}, run_at(1));
  s.decide(target("198.51.100.9:443/tcp"), Status::Rejected, by("alice", "a game server", 2));
  EXPECT_TRUE(s.list({}).empty());
  // Same or somewhat more evidence: still rejected, counted as suppressed.
  auto st = s.record({cand("198.51.100.9:443/tcp", DestKind::AddrPort, 7, 9, 1e-5, 3000, 4000, {"10.0.0.5"})},
                     run_at(3));
  EXPECT_EQ(st.suppressed, 1u);
  EXPECT_TRUE(s.list({}).empty());
  auto c = s.get("198.51.100.9:443/tcp");
  EXPECT_EQ(c->status, Status::Rejected);
  EXPECT_EQ(c->runs, 2u);  // evidence is still kept
  EXPECT_EQ(c->decided_evidence, 4u);
  // Twice the suspected hosts it had when rejected: proposed again.
  st = s.record({cand("198.51.100.9:443/tcp", DestKind::AddrPort, 8, 10, 1e-6, 5000, 6000, {"10.0.0.6"})},
                run_at(4));
  EXPECT_EQ(st.reopened, 1u);
  auto open = s.list({});
  ASSERT_EQ(open.size(), 1u);
  EXPECT_TRUE(open[0].reopened);
  EXPECT_EQ(open[0].decided_by, "alice");  // the old decision stays visible
  EXPECT_EQ(open[0].decision, Status::Rejected);
  EXPECT_EQ(open[0].suspected_hosts, 8u);
  // --force records a decision about a destination discovery never proposed.
  DecideOptions o = by("bob", "reported by a partner", 7);
  o.force = true;
  Decision d = s.decide(target("partner-report.example"), Status::Confirmed, o);
  EXPECT_TRUE(d.candidates.empty());
  auto inds = s.confirmed_indicators();
  ASSERT_EQ(inds.size(), 1u);
  EXPECT_EQ(inds[0].value, "partner-report.example");
  EXPECT_EQ(inds[0].first_seen, 7);
}
