// The session index: boundaries, address reuse, overlapping sessions (latest
// start wins), lost Stops (interim timeout), IPv6 longest prefix, CGNAT port
// blocks, and a randomised comparison with a straightforward reference.
#include "attribution/session_index.hpp"

#include <gtest/gtest.h>

#include <random>

namespace omamori {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

SessionRow row(const char* sub, const char* sid, const char* addr, TimeMs start, TimeMs end) {
  SessionRow r;
  r.nas = ip("192.0.2.1");
  r.subscriber = sub;
  r.session_id = sid;
  if (addr) r.framed_ip = ip(addr);
  r.start = start;
  r.end = end;
  r.last_seen = start;
  return r;
}

std::string who(const SessionIndex& idx, const char* addr, TimeMs t) {
  AttributionRef r;
  return idx.lookup(ip(addr), t, r) ? std::string(r.subscriber) : "-";
}

TEST(SessionIndex, BoundariesAreHalfOpen) {
  IndexBuilder b;
  b.add(row("alice", "s1", "100.64.0.7", 1000, 2000));
  auto idx = b.build();
  EXPECT_EQ(who(*idx, "100.64.0.7", 999), "-");
  EXPECT_EQ(who(*idx, "100.64.0.7", 1000), "alice");
  EXPECT_EQ(who(*idx, "100.64.0.7", 1999), "alice");
  EXPECT_EQ(who(*idx, "100.64.0.7", 2000), "-");
  EXPECT_EQ(who(*idx, "100.64.0.8", 1500), "-");
  AttributionRef r;
  ASSERT_TRUE(idx->lookup(ip("100.64.0.7"), 1500, r));
  Attribution a = r.to_attribution();
  EXPECT_EQ(a.session_id, "s1");
  EXPECT_EQ(a.nas, ip("192.0.2.1"));
  EXPECT_EQ(a.inside, ip("100.64.0.7"));
  EXPECT_EQ(a.session_start, 1000);
  EXPECT_EQ(a.session_end, 2000);
  EXPECT_EQ(a.match, AttributionMatch::kAddress);
}

TEST(SessionIndex, AddressReuseAndOpenSessions) {
  IndexBuilder b;
  b.add(row("bob", "s2", "100.64.0.7", 3000, 0));  // open, added before the older one
  b.add(row("alice", "s1", "100.64.0.7", 1000, 2000));
  auto idx = b.build();
  EXPECT_EQ(who(*idx, "100.64.0.7", 1500), "alice");
  EXPECT_EQ(who(*idx, "100.64.0.7", 2500), "-");
  EXPECT_EQ(who(*idx, "100.64.0.7", 3000), "bob");
  EXPECT_EQ(who(*idx, "100.64.0.7", 4'000'000'000'000), "bob");
  AttributionRef r;
  ASSERT_TRUE(idx->lookup(ip("100.64.0.7"), 3500, r));
  EXPECT_EQ(r.end, 0);  // open
}

TEST(SessionIndex, OverlapLatestStartWins) {
  // A long session, a nested one, and one that starts inside A and outlives it.
  IndexBuilder b;
  b.add(row("A", "a", "10.0.0.1", 0, 1000));
  b.add(row("B", "b", "10.0.0.1", 100, 200));
  b.add(row("C", "c", "10.0.0.1", 900, 1500));
  b.add(row("D", "d", "10.0.0.1", 900, 950));  // same start as C, later row: wins while it lasts
  auto idx = b.build();
  EXPECT_EQ(who(*idx, "10.0.0.1", 50), "A");
  EXPECT_EQ(who(*idx, "10.0.0.1", 100), "B");
  EXPECT_EQ(who(*idx, "10.0.0.1", 199), "B");
  EXPECT_EQ(who(*idx, "10.0.0.1", 200), "A");  // back to A after B ended
  EXPECT_EQ(who(*idx, "10.0.0.1", 900), "D");
  EXPECT_EQ(who(*idx, "10.0.0.1", 950), "C");
  EXPECT_EQ(who(*idx, "10.0.0.1", 1200), "C");
  EXPECT_EQ(who(*idx, "10.0.0.1", 1500), "-");
  // The reported bounds are the session's own, not the piece's.
  AttributionRef r;
  ASSERT_TRUE(idx->lookup(ip("10.0.0.1"), 500, r));
  EXPECT_EQ(r.start, 0);
  EXPECT_EQ(r.end, 1000);
}

TEST(SessionIndex, LostStopEndsAfterInterimTimeout) {
  IndexPolicy p;
  p.now = 100'000'000;
  p.interim_timeout_factor = 3;
  IndexBuilder b(p);
  SessionRow s = row("alice", "s1", "10.0.0.1", 1'000'000, 0);
  s.last_seen = 1'600'000;
  s.interim_ms = 300'000;
  b.add(s);
  SessionRow live = row("bob", "s2", "10.0.0.2", 1'000'000, 0);
  live.last_seen = p.now - 500'000;  // within 3 intervals
  live.interim_ms = 300'000;
  b.add(live);
  SessionRow unknown = row("carol", "s3", "10.0.0.3", 1'000'000, 0);  // no interval known: stays open
  b.add(unknown);
  auto idx = b.build();
  EXPECT_EQ(who(*idx, "10.0.0.1", 1'899'999), "alice");
  EXPECT_EQ(who(*idx, "10.0.0.1", 1'900'000), "-");  // last seen + one interval
  EXPECT_EQ(who(*idx, "10.0.0.2", p.now), "bob");
  EXPECT_EQ(who(*idx, "10.0.0.3", p.now), "carol");
}

TEST(SessionIndex, Ipv6LongestPrefix) {
  IndexBuilder b;
  SessionRow s = row("alice", "s1", nullptr, 1000, 5000);
  s.framed_v6 = Prefix::parse("2001:db8:0:100::/64");
  s.delegated = Prefix::parse("2001:db8:1100::/56");
  b.add(s);
  SessionRow t = row("bob", "s2", nullptr, 1000, 5000);
  t.delegated = Prefix::parse("2001:db8:1100:ff00::/56");
  t.framed_v6 = Prefix(ip("2001:db8:1100:ff00::1"), 128);
  b.add(t);
  auto idx = b.build();
  AttributionRef r;
  ASSERT_TRUE(idx->lookup(ip("2001:db8:0:100:abcd::1"), 2000, r));
  EXPECT_EQ(r.subscriber, "alice");
  EXPECT_EQ(r.match, AttributionMatch::kPrefix);
  EXPECT_EQ(who(*idx, "2001:db8:1100:12::1", 2000), "alice");
  EXPECT_EQ(who(*idx, "2001:db8:1100:ff00::1", 2000), "bob");
  ASSERT_TRUE(idx->lookup(ip("2001:db8:1100:ff00::1"), 2000, r));
  EXPECT_EQ(r.match, AttributionMatch::kAddress);  // the /128
  EXPECT_EQ(who(*idx, "2001:db8:1100:ff00::2", 2000), "bob");
  EXPECT_EQ(who(*idx, "2001:db8:1101::1", 2000), "-");
  EXPECT_EQ(who(*idx, "2001:db8:0:100::1", 5000), "-");
  // IPv4-mapped lookups do not reach IPv6 prefixes.
  EXPECT_EQ(who(*idx, "::ffff:10.0.0.1", 2000), "-");
}

TEST(SessionIndex, CgnatPortBlocks) {
  IndexBuilder b;
  b.add(row("alice", "s1", "100.64.0.7", 0, 100000));
  b.add(row("bob", "s2", "100.64.0.8", 0, 100000));
  PortBlockRow pb;
  pb.box = ip("192.0.2.50");
  pb.outside = ip("203.0.113.5");
  pb.inside = ip("100.64.0.7");
  pb.port_lo = 1024;
  pb.port_hi = 2047;
  pb.start = 1000;
  pb.end = 5000;
  b.add(pb);
  pb.inside = ip("100.64.0.8");
  pb.start = 5000;
  pb.end = 0;  // reallocated to bob, still open
  b.add(pb);
  pb.inside = ip("100.64.0.9");  // nobody's session
  pb.port_lo = 2048;
  pb.port_hi = 3071;
  pb.start = 1000;
  b.add(pb);
  auto idx = b.build();
  AttributionRef r;
  ASSERT_TRUE(idx->lookup(ip("203.0.113.5"), 1500, 2000, r));
  EXPECT_EQ(r.subscriber, "alice");
  EXPECT_EQ(r.match, AttributionMatch::kAddressPort);
  EXPECT_EQ(r.inside, ip("100.64.0.7"));
  EXPECT_EQ(r.nas, ip("192.0.2.50"));
  EXPECT_EQ(r.inner_session_id, "s1");
  EXPECT_EQ(r.start, 1000);
  EXPECT_EQ(r.end, 5000);
  ASSERT_TRUE(idx->lookup(ip("203.0.113.5"), 1024, 5000, r));
  EXPECT_EQ(r.subscriber, "bob");
  ASSERT_TRUE(idx->lookup(ip("203.0.113.5"), 2047, 4999, r));
  EXPECT_EQ(r.subscriber, "alice");
  EXPECT_FALSE(idx->lookup(ip("203.0.113.5"), 1023, 2000, r));  // below every block
  EXPECT_FALSE(idx->lookup(ip("203.0.113.5"), 3072, 2000, r));
  EXPECT_FALSE(idx->lookup(ip("203.0.113.5"), 1500, 999, r));
  ASSERT_TRUE(idx->lookup(ip("203.0.113.5"), 2048, 2000, r));
  EXPECT_EQ(r.subscriber, "");  // block found, inside address unattributed
  EXPECT_EQ(r.inside, ip("100.64.0.9"));
  // Addresses without port blocks fall back to sessions.
  ASSERT_TRUE(idx->lookup(ip("100.64.0.8"), 80, 10, r));
  EXPECT_EQ(r.subscriber, "bob");
  EXPECT_EQ(r.match, AttributionMatch::kAddress);
}

// Reference: among sessions covering t, the latest start, ties to the later row.
TEST(SessionIndex, MatchesReferenceOnRandomHistories) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 20; ++round) {
    std::vector<SessionRow> rows;
    IndexBuilder b;
    for (int i = 0; i < 300; ++i) {
      std::string a = "10.0.0." + std::to_string(rng() % 8);
      TimeMs s = static_cast<TimeMs>(rng() % 10000);
      TimeMs e = rng() % 5 == 0 ? 0 : s + static_cast<TimeMs>(rng() % 2000);
      SessionRow r = row("", "", a.c_str(), s, e);
      r.subscriber = "u" + std::to_string(i);
      rows.push_back(r);
      b.add(r);
    }
    auto idx = b.build();
    for (int q = 0; q < 3000; ++q) {
      IpAddr a = ip(("10.0.0." + std::to_string(rng() % 9)).c_str());
      TimeMs t = static_cast<TimeMs>(rng() % 13000) - 500;
      int best = -1;
      for (int i = 0; i < static_cast<int>(rows.size()); ++i) {
        const auto& r = rows[i];
        TimeMs end = r.end ? r.end : INT64_MAX;
        if (r.framed_ip == a && r.start <= t && t < end && (best < 0 || r.start >= rows[best].start)) best = i;
      }
      AttributionRef got;
      bool found = idx->lookup(a, t, got);
      ASSERT_EQ(found, best >= 0) << a.str() << " t=" << t;
      if (found) {
        ASSERT_EQ(got.subscriber, rows[best].subscriber) << a.str() << " t=" << t;
      }
    }
  }
}

}  // namespace
}  // namespace omamori
