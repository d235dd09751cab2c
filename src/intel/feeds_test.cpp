#include "intel/feeds/feeds.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

using namespace omamori::intel;

namespace {
const std::string kTrails = std::string(OMAMORI_SHARED_DATA) + "/intel/maltrail/";
std::string slurp(const std::string& path) {
  std::string t, err;
  EXPECT_TRUE(read_text_file(path, t, err)) << err;
  return t;
}
const Indicator* find(const ParseResult& r, std::string_view v) {
  for (const auto& i : r.indicators)
    if (i.value == v) return &i;
  return nullptr;
}
}  // namespace

TEST(PlainFeed, KindsCommentsAndHostsLines) {
  FeedConfig cfg;
  cfg.name = "local";
  cfg.category = Category::kC2;
  cfg.confidence = 70;
  std::string text =
      "# a comment\n"
      "\n"
      "Evil.Example.\n"
      "192.0.2.1   # inline comment\n"
      "0.0.0.0 tracker.example\n"
      "198.51.100.0/24\n"
      "192.0.2.8:4444\n"
      "http://dl.evil.example/bins/x86\n"
      "co.jp\n"
      "not a value\n"
      "bad..name\n";
  auto r = parse_plain(text, cfg, 1000);
  EXPECT_EQ(r.records, 11u);
  ASSERT_EQ(r.indicators.size(), 6u);
  EXPECT_EQ(r.indicators[0].value, "evil.example");
  EXPECT_EQ(r.indicators[0].kind, Kind::kDomain);
  EXPECT_EQ(r.indicators[0].category, Category::kC2);
  EXPECT_EQ(r.indicators[0].confidence, 70);
  EXPECT_EQ(r.indicators[0].feed, "local");
  EXPECT_EQ(r.indicators[0].first_seen, 1000);
  EXPECT_EQ(r.indicators[1].kind, Kind::kIpv4);
  EXPECT_EQ(r.indicators[2].value, "tracker.example");
  EXPECT_EQ(r.indicators[3].kind, Kind::kCidr);
  EXPECT_EQ(r.indicators[4].kind, Kind::kAddrPort);
  EXPECT_EQ(r.indicators[5].kind, Kind::kUrl);
  EXPECT_EQ(r.skipped.count("public suffix"), 1u);
  EXPECT_EQ(r.skipped.count("single-label domain"), 1u);  // "not" (rest of the line ignored)
  EXPECT_EQ(r.skipped.count("empty label in domain"), 1u);
  EXPECT_EQ(r.skipped.total(), 3u);
  EXPECT_EQ(r.ignored.count("comment"), 1u);
  EXPECT_EQ(r.ignored.count("hosts-file line"), 1u);
}

TEST(CsvFeed, ColumnMappingAndQuoting) {
  FeedConfig cfg;
  cfg.name = "csvfeed";
  cfg.columns = "value=2,category=3,family=4,confidence=5,reference=6";
  cfg.header = true;
  ParseResult r;
  std::string err;
  ASSERT_TRUE(parse_csv(slurp(std::string(OMAMORI_TESTDATA) + "/feed.csv"), cfg, 5, r, err)) << err;
  ASSERT_EQ(r.indicators.size(), 3u);
  EXPECT_EQ(r.indicators[0].value, "evil-c2.example");
  EXPECT_EQ(r.indicators[0].category, Category::kC2);
  EXPECT_EQ(r.indicators[0].family, "mirai");
  EXPECT_EQ(r.indicators[0].confidence, 90);
  EXPECT_EQ(r.indicators[1].value, "198.51.100.23");
  EXPECT_EQ(r.indicators[1].category, Category::kC2);  // "botnet_cc"
  EXPECT_EQ(r.indicators[1].reference, "quoted, with comma");
  EXPECT_EQ(r.indicators[2].kind, Kind::kUrl);
  EXPECT_EQ(r.indicators[2].value, "dl.evil.example/x.sh");
  EXPECT_EQ(r.indicators[2].category, Category::kMalwareDownload);
  EXPECT_EQ(r.indicators[2].reference, "has \"quotes\" inside");
  EXPECT_EQ(r.skipped.count("public suffix"), 1u);
  EXPECT_EQ(r.skipped.count("malformed quoted field"), 1u);
  EXPECT_EQ(r.ignored.count("header row"), 1u);
  EXPECT_EQ(r.ignored.count("comment"), 1u);
}

TEST(CsvFeed, BadMappingIsAConfigurationError) {
  FeedConfig cfg;
  ParseResult r;
  std::string err;
  cfg.columns = "category=2";
  EXPECT_FALSE(parse_csv("a,b\n", cfg, 0, r, err));
  EXPECT_NE(err.find("value=N"), std::string::npos);
  cfg.columns = "value=0";
  EXPECT_FALSE(parse_csv("a,b\n", cfg, 0, r, err));
  cfg.columns = "value=1,colour=2";
  EXPECT_FALSE(parse_csv("a,b\n", cfg, 0, r, err));
  cfg.columns = "value=1;family=2";
  EXPECT_FALSE(parse_csv("a,b\n", cfg, 0, r, err));
}

TEST(CsvFeed, SemicolonDelimiterAndShortRows) {
  FeedConfig cfg;
  cfg.columns = "value=3,tags=1";
  cfg.delimiter = ';';
  ParseResult r;
  std::string err;
  ASSERT_TRUE(parse_csv("a|b;x;evil.example\r\nonly;two\n", cfg, 0, r, err));
  ASSERT_EQ(r.indicators.size(), 1u);
  EXPECT_EQ(r.indicators[0].tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.skipped.count("row without the value column"), 1u);
}

TEST(MaltrailFeed, FamilyNames) {
  EXPECT_EQ(maltrail_family("elf_mirai.txt"), "mirai");
  EXPECT_EQ(maltrail_family("/x/y/sinkhole_conficker.txt"), "conficker");
  EXPECT_EQ(maltrail_family("necurs.txt"), "necurs");
  EXPECT_EQ(maltrail_family("win_Emotet.txt"), "emotet");
}

// Every real trail file: each data line becomes an indicator or a counted skip.
TEST(MaltrailFeed, RealTrailsAccountForEveryLine) {
  const char* files[] = {"conficker.txt",   "elf_gafgyt.txt", "elf_hajime.txt", "elf_mirai.txt",
                         "elf_xorddos.txt", "necurs.txt",     "ramnit.txt",     "sinkhole_conficker.txt"};
  FeedConfig cfg;
  cfg.name = "maltrail";
  uint64_t total = 0;
  for (const char* f : files) {
    std::string text = slurp(kTrails + f);
    auto r = parse_maltrail(text, cfg, f, 0);
    // Count data lines independently: not blank, not starting with '#'.
    std::istringstream in(text);
    std::string line;
    uint64_t data = 0;
    while (std::getline(in, line)) {
      auto b = line.find_first_not_of(" \t\r");
      if (b != std::string::npos && line[b] != '#') ++data;
    }
    EXPECT_EQ(r.indicators.size() + r.skipped.total(), data) << f;
    EXPECT_GT(r.indicators.size(), 0u) << f;
    std::string fam = maltrail_family(f);
    for (const auto& i : r.indicators) {
      ASSERT_EQ(i.family, fam) << f;
      ASSERT_EQ(i.feed, "maltrail");
    }
    total += r.indicators.size();
  }
  EXPECT_GT(total, 100000u);
}

TEST(MaltrailFeed, MiraiAndGafgytDetails) {
  FeedConfig cfg;
  cfg.name = "maltrail";
  auto mirai = parse_maltrail(slurp(kTrails + "elf_mirai.txt"), cfg, "elf_mirai.txt", 0);
  const Indicator* path = find(mirai, "/izuku.arm7");
  ASSERT_NE(path, nullptr);
  EXPECT_EQ(path->kind, Kind::kUrl);
  EXPECT_EQ(path->category, Category::kMalwareDownload);
  EXPECT_EQ(path->reference, "https://www.virustotal.com/#/ip-address/77.87.77.250");
  EXPECT_NE(std::find(path->tags.begin(), path->tags.end(), "alias:moobot"), path->tags.end());
  size_t addr_ports = 0, hosts = 0;
  for (const auto& i : mirai.indicators) {
    addr_ports += i.kind == Kind::kAddrPort;
    hosts += i.kind == Kind::kIpv4 || i.kind == Kind::kDomain;
    if (i.kind != Kind::kUrl) {
      ASSERT_EQ(i.category, Category::kC2) << i.value;
    }
  }
  EXPECT_GT(addr_ports, 1000u);
  EXPECT_GT(hosts, 100u);
  // "http://45.11.181.37"-style lines become address indicators, counted as such.
  EXPECT_GT(mirai.ignored.count("url without path taken as host"), 0u);

  auto gafgyt = parse_maltrail(slurp(kTrails + "elf_gafgyt.txt"), cfg, "elf_gafgyt.txt", 0);
  EXPECT_EQ(gafgyt.skipped.count("invalid port"), 4u);  // e.g. 103.124.104.118:79548
  const Indicator* ap = find(gafgyt, "80.211.232.121:35883");
  ASSERT_NE(ap, nullptr);
  EXPECT_EQ(ap->kind, Kind::kAddrPort);
}

TEST(MaltrailFeed, SinkholeFileGivesSinkholeCategory) {
  FeedConfig cfg;
  cfg.name = "maltrail";
  auto r = parse_maltrail(slurp(kTrails + "sinkhole_conficker.txt"), cfg, "sinkhole_conficker.txt", 0);
  ASSERT_FALSE(r.indicators.empty());
  for (const auto& i : r.indicators) EXPECT_EQ(i.category, Category::kSinkhole) << i.value;
  ASSERT_NE(find(r, "conficker-sinkhole.org"), nullptr);
  EXPECT_NE(find(r, "38.229.70.125"), nullptr);
  // An explicit category overrides the file name rule.
  cfg.category = Category::kC2;
  auto r2 = parse_maltrail(slurp(kTrails + "sinkhole_conficker.txt"), cfg, "sinkhole_conficker.txt", 0);
  EXPECT_EQ(find(r2, "conficker-sinkhole.org")->category, Category::kC2);
}

TEST(StixFeed, MixedBundle) {
  FeedConfig cfg;
  cfg.name = "cert";
  cfg.confidence = 40;
  auto r = parse_stix(slurp(std::string(OMAMORI_TESTDATA) + "/mixed_bundle.json"), cfg, 0);
  std::set<std::string> values;
  for (const auto& i : r.indicators) values.insert(i.value);
  EXPECT_EQ(values, (std::set<std::string>{"198.51.100.7", "login-bank.example", "secure-login.example",
                                           "dl.bad.example/bins/x86", "2001:db8::bad", "203.0.113.0/24",
                                           "mixed.example", "192.0.2.9:23"}));
  const Indicator* ip = find(r, "198.51.100.7");
  ASSERT_NE(ip, nullptr);
  EXPECT_EQ(ip->kind, Kind::kIpv4);
  EXPECT_EQ(ip->category, Category::kC2);
  EXPECT_EQ(ip->confidence, 85);
  EXPECT_EQ(ip->family, "mirai");  // from the "indicates" relationship
  EXPECT_EQ(ip->first_seen, *omamori::parse_time("2024-01-01T00:00:00Z"));
  EXPECT_EQ(ip->expiry, *omamori::parse_time("2099-01-01T00:00:00Z"));
  EXPECT_EQ(find(r, "login-bank.example")->category, Category::kPhishing);
  EXPECT_EQ(find(r, "login-bank.example")->confidence, 40);
  EXPECT_EQ(find(r, "203.0.113.0/24")->kind, Kind::kCidr);
  EXPECT_EQ(find(r, "2001:db8::bad")->kind, Kind::kIpv6);
  EXPECT_EQ(r.skipped.count("comparison: object path not supported"), 2u);  // file hash, file:name in OR
  EXPECT_EQ(r.skipped.count("indicator: no supported comparison"), 3u);     // file hash, co.jp, not-an-ip.example
  EXPECT_EQ(find(r, "192.0.2.9:23")->kind, Kind::kAddrPort);  // network-traffic dst_ref.value AND dst_port
  EXPECT_EQ(r.skipped.count("indicator: pattern_type is not stix"), 1u);
  EXPECT_EQ(r.skipped.count("public suffix"), 1u);
  EXPECT_EQ(r.skipped.count("pattern: qualifiers not supported"), 1u);
  EXPECT_EQ(r.skipped.count("indicator: revoked"), 1u);
  EXPECT_EQ(r.skipped.count("comparison: value does not fit its object type"), 1u);  // 'not-an-ip' is a domain
  EXPECT_EQ(r.ignored.count("not an indicator object"), 3u);
  EXPECT_EQ(r.records, 15u);
}

TEST(StixFeed, BrokenInputIsCountedNotFatal) {
  FeedConfig cfg;
  EXPECT_EQ(parse_stix("{not json", cfg, 0).skipped.count("not valid JSON"), 1u);
  EXPECT_EQ(parse_stix("42", cfg, 0).skipped.count("JSON is not a STIX bundle or object"), 1u);
  auto r = parse_stix(R"({"type":"indicator","pattern":"[domain-name:value = 'x.example' OR","pattern_type":"stix"})",
                      cfg, 0);
  EXPECT_EQ(r.skipped.count("pattern: syntax error"), 1u);
  r = parse_stix(R"([{"type":"indicator","pattern":"[domain-name:value = 'unterminated]"}, 7])", cfg, 0);
  EXPECT_EQ(r.skipped.count("pattern: unterminated string"), 1u);
  EXPECT_EQ(r.skipped.count("object is not a JSON object"), 1u);
  r = parse_stix(
      R"({"type":"indicator","pattern":"[domain-name:value = 'a.example' AND domain-name:value = 'b.example']"})", cfg,
      0);
  EXPECT_EQ(r.skipped.count("pattern: AND of comparisons not supported"), 1u);
  r = parse_stix(
      R"({"type":"indicator","pattern":"[(domain-name:value = 'a.example' OR ipv4-addr:value = '192.0.2.1') AND network-traffic:dst_port = 80]"})",
      cfg, 0);
  EXPECT_EQ(r.skipped.count("pattern: AND with a parenthesised group not supported"), 1u);
  EXPECT_TRUE(r.indicators.empty());
  r = parse_stix(
      R"({"type":"indicator","pattern":"[network-traffic:dst_ref.type = 'ipv6-addr' AND network-traffic:dst_ref.value = '2001:db8::1' AND network-traffic:dst_port = 443 AND network-traffic:protocols[*] = 'TCP']"})",
      cfg, 0);
  ASSERT_EQ(r.indicators.size(), 1u);
  EXPECT_EQ(r.indicators[0].value, "[2001:db8::1]:443/tcp");
}
