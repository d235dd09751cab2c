#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "intel/feeds/feeds.hpp"
#include "intel/store_sqlite.hpp"

using namespace omamori;
using namespace omamori::intel;

namespace {
struct TempDb {
  std::string dir;
  std::string path;
  TempDb() {
    char tmpl[] = "/tmp/omamori-intel-XXXXXX";
    dir = mkdtemp(tmpl);
    path = dir + "/intel.db";
  }
  ~TempDb() { std::filesystem::remove_all(dir); }
};

Indicator ind(Kind k, std::string v, Category c = Category::kC2) {
  Indicator i;
  i.kind = k;
  i.value = std::move(v);
  i.category = c;
  return i;
}
}  // namespace

TEST(IntelDb, SchemaAndWal) {
  TempDb t;
  IntelDb db(t.path);
  EXPECT_EQ(db.schema_version(), IntelDb::kSchemaVersion);
  EXPECT_EQ(db.journal_mode(), "wal");
  // Reopening applies nothing twice.
  IntelDb again(t.path);
  EXPECT_EQ(again.schema_version(), IntelDb::kSchemaVersion);
}

TEST(IntelDb, ImportReplacesAtomicallyAndKeepsFirstSeen) {
  TempDb t;
  FeedConfig cfg;
  cfg.name = "feed1";
  cfg.format = "plain";
  ReasonCounters skipped;
  skipped.add("invalid port", 2);
  {
    IntelDb db(t.path);
    std::vector<Indicator> v = {ind(Kind::kDomain, "a.example"), ind(Kind::kDomain, "b.example"),
                                ind(Kind::kIpv4, "192.0.2.1"), ind(Kind::kDomain, "a.example")};
    for (auto& i : v) apply_feed_defaults(i, cfg, 1000);
    auto st = db.replace_feed(cfg, "f.txt", v, skipped, 1000);
    EXPECT_EQ(st.read, 4u);
    EXPECT_EQ(st.added, 3u);
    EXPECT_EQ(st.duplicates, 1u);
    EXPECT_EQ(st.updated, 0u);
    EXPECT_EQ(st.removed, 0u);
    EXPECT_EQ(st.total, 3u);
  }
  {
    IntelDb db(t.path);  // persisted
    std::vector<Indicator> v = {ind(Kind::kDomain, "a.example"), ind(Kind::kIpv4, "192.0.2.1"),
                                ind(Kind::kDomain, "c.example")};
    for (auto& i : v) apply_feed_defaults(i, cfg, 2000);
    auto st = db.replace_feed(cfg, "f.txt", v, ReasonCounters{}, 2000);
    EXPECT_EQ(st.added, 1u);
    EXPECT_EQ(st.updated, 2u);
    EXPECT_EQ(st.removed, 1u);  // b.example no longer listed
    EXPECT_EQ(st.total, 3u);
    std::map<std::string, Indicator> got;
    db.for_each({}, [&](const Indicator& i, bool) { got[i.value] = i; });
    ASSERT_EQ(got.size(), 3u);
    EXPECT_FALSE(got.contains("b.example"));
    EXPECT_EQ(got["a.example"].first_seen, 1000);
    EXPECT_EQ(got["a.example"].last_seen, 2000);
    EXPECT_EQ(got["c.example"].first_seen, 2000);
    EXPECT_EQ(got["a.example"].feed, "feed1");
    auto feeds = db.feeds();
    ASSERT_EQ(feeds.size(), 1u);
    EXPECT_EQ(feeds[0].last_import, 2000);
    EXPECT_EQ(feeds[0].indicators, 3u);
    EXPECT_EQ(feeds[0].removed, 1u);
    EXPECT_EQ(feeds[0].skipped, 0u);
  }
}

TEST(IntelDb, OtherConnectionsSeeWholeImports) {
  TempDb t;
  IntelDb db(t.path);
  FeedConfig cfg;
  cfg.name = "f";
  cfg.format = "plain";
  std::vector<Indicator> v = {ind(Kind::kDomain, "a.example")};
  apply_feed_defaults(v[0], cfg, 1);
  db.replace_feed(cfg, "", v, {}, 1);
  IntelDb other(t.path);
  ASSERT_EQ(other.count(), 1u);
  std::vector<Indicator> w = {ind(Kind::kDomain, "b.example")};
  apply_feed_defaults(w[0], cfg, 2);
  // A reader on another connection sees the old or the new feed, never a mix.
  db.replace_feed(cfg, "", w, {}, 2);
  uint64_t n = 0;
  other.for_each({}, [&](const Indicator& i, bool) {
    ++n;
    EXPECT_EQ(i.value, "b.example");
  });
  EXPECT_EQ(n, 1u);
}

TEST(IntelDb, CompileExcludesExpiredAndAppliesAllowFeeds) {
  TempDb t;
  IntelDb db(t.path);
  FeedConfig cfg;
  cfg.name = "maltrail";
  cfg.format = "maltrail";
  std::string text, err;
  ASSERT_TRUE(read_text_file(std::string(OMAMORI_SHARED_DATA) + "/intel/maltrail/conficker.txt", text, err));
  TimeMs now = now_ms();
  auto r = parse_maltrail(text, cfg, "conficker.txt", now);
  Indicator expired = ind(Kind::kDomain, "expired-c2.example");
  expired.expiry = now - 1000;
  r.indicators.push_back(expired);
  for (auto& i : r.indicators) apply_feed_defaults(i, cfg, now);
  db.replace_feed(cfg, "conficker.txt", r.indicators, r.skipped, now);

  FeedConfig allow;
  allow.name = "allow";
  allow.format = "plain";
  allow.allow = true;
  auto a = parse_plain("btddc.com\n", allow, now);
  db.replace_feed(allow, "allow.txt", a.indicators, a.skipped, now);

  auto snap = db.compile({});
  EXPECT_TRUE(snap->match_domain("aconklcn.net"));
  EXPECT_FALSE(snap->match_domain("expired-c2.example"));
  EXPECT_FALSE(snap->match_domain("btddc.com"));
  EXPECT_FALSE(snap->match_domain("www.btddc.com"));
  EXPECT_EQ(snap->allow_size(), 1u);
  bool seen = false;
  for (const auto& f : snap->feed_stats())
    if (f.name == "maltrail") {
      seen = true;
      EXPECT_EQ(f.expired, 1u);
      EXPECT_EQ(f.allowlisted, 1u);
      EXPECT_EQ(f.indicators + 2, r.indicators.size());
      EXPECT_GT(f.bytes, 0u);
    }
  EXPECT_TRUE(seen);
  // Round trip of every field.
  IndicatorQuery q;
  q.value = "aconklcn.net";
  int n = 0;
  db.for_each(q, [&](const Indicator& i, bool allow_feed) {
    ++n;
    EXPECT_FALSE(allow_feed);
    EXPECT_EQ(i.kind, Kind::kDomain);
    EXPECT_EQ(i.category, Category::kC2);
    EXPECT_EQ(i.family, "conficker");
    EXPECT_EQ(i.reference, "https://www.f-secure.com/v-descs/worm_w32_downadup.shtml");
    EXPECT_TRUE(i.subdomains);
    EXPECT_EQ(i.first_seen, now);
  });
  EXPECT_EQ(n, 1);
}
