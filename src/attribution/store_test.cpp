// The SQLite session store: accounting events become sessions, applying an
// event twice changes nothing, Accounting-On closes only that NAS's open
// sessions, lost Starts are rebuilt from Acct-Session-Time, port blocks, and
// state survives reopening (a restart) and is readable by a second reader.
#include "attribution/store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace omamori {
namespace {

namespace fs = std::filesystem;

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

struct TempDir {
  TempDir() {
    path = fs::temp_directory_path() / ("omamori-store-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string db() const { return (path / "sessions.db").string(); }
  fs::path path;
};

AcctEvent ev(AcctKind k, TimeMs t, const char* nas, const char* sid, const char* sub = "", const char* addr = nullptr) {
  AcctEvent e;
  e.kind = k;
  e.time = t;
  e.nas = ip(nas);
  e.session_id = sid;
  e.subscriber = sub;
  if (addr) e.framed_ip = ip(addr);
  return e;
}

std::string who(const SessionIndex& idx, const char* addr, TimeMs t) {
  AttributionRef r;
  return idx.lookup(ip(addr), t, r) ? std::string(r.subscriber) : "-";
}

TEST(SessionStore, EventsBecomeSessions) {
  TempDir d;
  SessionStore s(d.db());
  s.begin();
  EXPECT_STREQ(s.apply(ev(AcctKind::kStart, 1000, "192.0.2.1", "a1", "alice", "100.64.0.7")), "start");
  EXPECT_STREQ(s.apply(ev(AcctKind::kStart, 1000, "192.0.2.1", "a1", "alice", "100.64.0.7")), "duplicate");
  AcctEvent in = ev(AcctKind::kInterim, 2000, "192.0.2.1", "a1", "alice");
  in.delegated = Prefix::parse("2001:db8:1100::/56");  // learnt at the interim
  EXPECT_STREQ(s.apply(in), "interim");
  EXPECT_STREQ(s.apply(ev(AcctKind::kStop, 5000, "192.0.2.1", "a1", "alice", "100.64.0.7")), "stop");
  EXPECT_STREQ(s.apply(ev(AcctKind::kStop, 5000, "192.0.2.1", "a1", "alice", "100.64.0.7")), "duplicate");
  // The same session id on another NAS is another session.
  EXPECT_STREQ(s.apply(ev(AcctKind::kStart, 6000, "192.0.2.2", "a1", "bob", "100.64.0.7")), "start");
  // Stop without Start: Acct-Session-Time gives the start.
  AcctEvent lost = ev(AcctKind::kStop, 20000, "192.0.2.1", "c3", "carol", "100.64.0.9");
  lost.session_time_s = 10;
  EXPECT_STREQ(s.apply(lost), "stop (no start)");
  s.commit();
  EXPECT_EQ(s.counts().sessions, 3);
  EXPECT_EQ(s.counts().open_sessions, 1);

  auto idx = s.load_index({});
  EXPECT_EQ(who(*idx, "100.64.0.7", 999), "-");
  EXPECT_EQ(who(*idx, "100.64.0.7", 1000), "alice");
  EXPECT_EQ(who(*idx, "100.64.0.7", 4999), "alice");
  EXPECT_EQ(who(*idx, "100.64.0.7", 5000), "-");
  EXPECT_EQ(who(*idx, "100.64.0.7", 6000), "bob");
  EXPECT_EQ(who(*idx, "2001:db8:1100:5::1", 3000), "alice");
  EXPECT_EQ(who(*idx, "100.64.0.9", 9999), "-");
  EXPECT_EQ(who(*idx, "100.64.0.9", 10000), "carol");
}

TEST(SessionStore, AccountingOnClosesThatNasOnly) {
  TempDir d;
  SessionStore s(d.db());
  s.begin();
  s.apply(ev(AcctKind::kStart, 1000, "192.0.2.1", "a", "alice", "10.0.0.1"));
  s.apply(ev(AcctKind::kStart, 1000, "192.0.2.1", "b", "bob", "10.0.0.2"));
  s.apply(ev(AcctKind::kStart, 1000, "192.0.2.2", "c", "carol", "10.0.0.3"));
  s.apply(ev(AcctKind::kNasOn, 3000, "192.0.2.1", ""));
  // After the reboot the NAS restarts its session counter: "a" again, a new session.
  EXPECT_STREQ(s.apply(ev(AcctKind::kStart, 4000, "192.0.2.1", "a", "dave", "10.0.0.1")), "start");
  s.commit();
  auto idx = s.load_index({});
  EXPECT_EQ(who(*idx, "10.0.0.1", 2999), "alice");
  EXPECT_EQ(who(*idx, "10.0.0.1", 3000), "-");
  EXPECT_EQ(who(*idx, "10.0.0.1", 4000), "dave");
  EXPECT_EQ(who(*idx, "10.0.0.2", 3000), "-");
  EXPECT_EQ(who(*idx, "10.0.0.3", 100000), "carol");
}

TEST(SessionStore, ReusedSessionIdWithoutStopReplacesOpenSession) {
  TempDir d;
  SessionStore s(d.db());
  s.begin();
  s.apply(ev(AcctKind::kStart, 1000, "192.0.2.1", "a", "alice", "10.0.0.1"));
  EXPECT_STREQ(s.apply(ev(AcctKind::kStart, 8000, "192.0.2.1", "a", "erin", "10.0.0.5")),
               "start (replaces open session)");
  s.commit();
  auto idx = s.load_index({});
  EXPECT_EQ(who(*idx, "10.0.0.1", 7999), "alice");
  EXPECT_EQ(who(*idx, "10.0.0.1", 8000), "-");
  EXPECT_EQ(who(*idx, "10.0.0.5", 8000), "erin");
}

TEST(SessionStore, PortBlocksAndRadacctRowsPersistAcrossReopen) {
  TempDir d;
  {
    SessionStore s(d.db());
    s.begin();
    SessionRow r;
    r.nas = ip("192.0.2.1");
    r.session_id = "x";
    r.subscriber = "alice";
    r.framed_ip = ip("100.64.0.7");
    r.start = 1000;
    r.end = 0;
    EXPECT_STREQ(s.put(r), "session");
    r.end = 9000;  // the export taken later has the stop time: merged into the same row
    s.put(r);
    PortBlockEvent pb;
    pb.box = ip("192.0.2.50");
    pb.outside = ip("203.0.113.5");
    pb.inside = ip("100.64.0.7");
    pb.port_lo = 1024;
    pb.port_hi = 2047;
    pb.time = 2000;
    EXPECT_STREQ(s.apply(pb), "alloc");
    EXPECT_STREQ(s.apply(pb), "duplicate");
    pb.alloc = false;
    pb.time = 3000;
    EXPECT_STREQ(s.apply(pb), "release");
    EXPECT_STREQ(s.apply(pb), "release (no open block)");
    s.commit();
    EXPECT_EQ(s.counts().sessions, 1);
  }
  SessionStore ro(d.db(), true);
  auto idx = ro.load_index({});
  EXPECT_EQ(idx->sessions(), 1u);
  EXPECT_EQ(idx->port_blocks(), 1u);
  AttributionRef a;
  ASSERT_TRUE(idx->lookup(ip("203.0.113.5"), 1500, 2500, a));
  EXPECT_EQ(a.subscriber, "alice");
  EXPECT_FALSE(idx->lookup(ip("203.0.113.5"), 1500, 3000, a));
  EXPECT_EQ(who(*idx, "100.64.0.7", 8999), "alice");
  EXPECT_EQ(who(*idx, "100.64.0.7", 9000), "-");
}

TEST(SessionStore, RetentionPurgesEndedAndStaleSessionsOnly) {
  TempDir d;
  SessionStore s(d.db());
  s.begin();
  s.apply(ev(AcctKind::kStart, 1000, "192.0.2.1", "ended-old", "alice", "100.64.0.1"));
  s.apply(ev(AcctKind::kStop, 5000, "192.0.2.1", "ended-old", "alice", "100.64.0.1"));
  s.apply(ev(AcctKind::kStart, 1000, "192.0.2.1", "ended-new", "bob", "100.64.0.2"));
  s.apply(ev(AcctKind::kStop, 90000, "192.0.2.1", "ended-new", "bob", "100.64.0.2"));
  AcctEvent lost = ev(AcctKind::kStart, 1000, "192.0.2.1", "lost-stop", "carol", "100.64.0.3");
  lost.interim_ms = 10000;  // interims every 10 s, last heard at 1 s: gone
  s.apply(lost);
  AcctEvent live = ev(AcctKind::kStart, 1000, "192.0.2.1", "live", "dave", "100.64.0.4");
  live.interim_ms = 10000;
  s.apply(live);
  AcctEvent in = ev(AcctKind::kInterim, 45000, "192.0.2.1", "live", "dave");
  in.interim_ms = 10000;
  s.apply(in);
  s.apply(ev(AcctKind::kStart, 1000, "192.0.2.1", "no-interims", "erin", "100.64.0.5"));  // may still be up
  PortBlockEvent a{};
  a.alloc = true;
  a.time = 1000;
  a.box = ip("192.0.2.9");
  a.outside = ip("203.0.113.1");
  a.port_lo = 1024;
  a.port_hi = 2047;
  a.inside = ip("100.64.0.1");
  s.apply(a);
  PortBlockEvent r = a;
  r.alloc = false;
  r.time = 6000;
  s.apply(r);
  s.commit();
  ASSERT_EQ(s.counts().sessions, 5);

  // Cutoff 60 s: ended-old (end 5 s), lost-stop (1 s + 3 x 10 s) and the
  // released block go; live (last interim 45 s + 30 s > 60 s) stays.
  EXPECT_EQ(s.purge_before(60000), 3u);
  EXPECT_EQ(s.counts().sessions, 3);
  EXPECT_EQ(s.counts().port_blocks, 0);
  auto idx = s.load_index(IndexPolicy{});
  EXPECT_EQ(who(*idx, "100.64.0.1", 2000), "-");
  EXPECT_EQ(who(*idx, "100.64.0.2", 2000), "bob");
  EXPECT_EQ(who(*idx, "100.64.0.3", 2000), "-");
  EXPECT_EQ(who(*idx, "100.64.0.4", 2000), "dave");
  EXPECT_EQ(who(*idx, "100.64.0.5", 2000), "erin");
  EXPECT_EQ(s.purge_before(60000), 0u);
}

TEST(SessionStore, MissingDatabaseReadOnlyIsAClearError) {
  TempDir d;
  try {
    SessionStore s((d.path / "nope.db").string(), true);
    FAIL() << "opened a missing database";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("nope.db"), std::string::npos);
  }
}

}  // namespace
}  // namespace omamori
