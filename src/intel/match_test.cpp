#include "intel/match.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "intel/feeds/feeds.hpp"

using namespace omamori;
using namespace omamori::intel;

namespace {
const std::string kTrails = std::string(OMAMORI_SHARED_DATA) + "/intel/maltrail/";
const char* kFiles[] = {"conficker.txt",   "elf_gafgyt.txt", "elf_hajime.txt", "elf_mirai.txt",
                        "elf_xorddos.txt", "necurs.txt",     "ramnit.txt",     "sinkhole_conficker.txt"};

std::vector<Indicator> load_trails() {
  std::vector<Indicator> all;
  FeedConfig cfg;
  cfg.name = "maltrail";
  for (const char* f : kFiles) {
    std::string text, err;
    EXPECT_TRUE(read_text_file(kTrails + f, text, err)) << err;
    auto r = parse_maltrail(text, cfg, f, 1);
    for (auto& i : r.indicators) all.push_back(std::move(i));
  }
  return all;
}

Indicator ind(Kind k, std::string v, std::string feed = "f", Category c = Category::kC2, uint8_t conf = 50) {
  Indicator i;
  i.kind = k;
  i.value = std::move(v);
  i.feed = std::move(feed);
  i.category = c;
  i.confidence = conf;
  return i;
}
IpAddr A(const char* s) {
  return *IpAddr::parse(s);
}
}  // namespace

class MaltrailMatch : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    inds_ = new std::vector<Indicator>(load_trails());
    SnapshotBuilder b;
    for (const auto& i : *inds_) b.add(i);
    snap_ = new std::shared_ptr<const IntelSnapshot>(b.build());
    EXPECT_EQ(b.rejected().total(), 0u);
  }
  static void TearDownTestSuite() {
    delete snap_;
    delete inds_;
  }
  static const IntelSnapshot& S() { return **snap_; }
  static std::vector<Indicator>* inds_;
  static std::shared_ptr<const IntelSnapshot>* snap_;
};
std::vector<Indicator>* MaltrailMatch::inds_ = nullptr;
std::shared_ptr<const IntelSnapshot>* MaltrailMatch::snap_ = nullptr;

TEST_F(MaltrailMatch, EveryListedDomainAndItsSubdomainsMatch) {
  size_t n = 0;
  for (const auto& i : *inds_) {
    if (i.kind != Kind::kDomain) continue;
    ++n;
    Match m = S().match_domain(i.value);
    ASSERT_TRUE(m) << i.value;
    EXPECT_EQ(m.how, MatchType::kExact);
    EXPECT_EQ(S().value(m.id), i.value);
    Match sub = S().match_domain("a.b." + i.value + ".");
    ASSERT_TRUE(sub) << i.value;
    // The most specific listed parent wins; it must be a suffix at a label boundary.
    std::string listed(S().value(sub.id));
    EXPECT_TRUE(("a.b." + i.value).ends_with("." + listed)) << listed;
    EXPECT_EQ(sub.how, MatchType::kParent);
    // Upper case and trailing dot, as resolvers log them.
    std::string upper = i.value;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_TRUE(S().match_domain(upper + "."));
  }
  EXPECT_GT(n, 5000u);
  auto m = S().match_domain("btddc.com");
  ASSERT_TRUE(m);
  EXPECT_EQ(S().family(m.id), "conficker");
  EXPECT_EQ(S().category(m.id), Category::kC2);
  EXPECT_EQ(S().feed(m.id), "maltrail");
}

TEST_F(MaltrailMatch, BatchLookupAgreesWithSingle) {
  std::vector<std::string> names;
  for (const auto& i : *inds_)
    if (i.kind == Kind::kDomain) {
      names.push_back(i.value);
      names.push_back("www." + i.value);
      names.push_back("x" + i.value);
      names.push_back("a.b.c.d.e.f.g.h." + i.value);  // more suffixes than the batch path probes
    }
  names.push_back("");
  names.push_back(std::string(300, 'a'));
  std::vector<std::string_view> views(names.begin(), names.end());
  std::vector<Match> out(views.size());
  S().match_domains(views, out);
  size_t hits = 0;
  for (size_t i = 0; i < views.size(); ++i) {
    Match one = S().match_domain(views[i]);
    ASSERT_EQ(one.id, out[i].id) << views[i];
    ASSERT_EQ(one.how, out[i].how) << views[i];
    hits += static_cast<bool>(one);
  }
  EXPECT_GT(hits, names.size() / 2);
}

TEST_F(MaltrailMatch, NearMissesDoNotMatch) {
  EXPECT_FALSE(S().match_domain("xbtddc.com"));      // not at a label boundary
  EXPECT_FALSE(S().match_domain("btddc.com.evil"));  // listed name as a prefix
  EXPECT_FALSE(S().match_domain("btddc.co"));
  EXPECT_FALSE(S().match_domain("com"));
  EXPECT_FALSE(S().match_domain("other.com"));
  EXPECT_FALSE(S().match_domain(""));
  EXPECT_FALSE(S().match_domain("."));
  // nagwa.mooo.com is listed: neither its parent nor a sibling matches.
  EXPECT_TRUE(S().match_domain("nagwa.mooo.com"));
  EXPECT_FALSE(S().match_domain("other.mooo.com"));
  EXPECT_FALSE(S().match_domain("mooo.com"));
}

TEST_F(MaltrailMatch, AddressesPortsAndUrls) {
  size_t ips = 0, aps = 0, adjacent_misses = 0;
  std::set<uint32_t> listed;
  for (const auto& i : *inds_)
    if (i.kind == Kind::kIpv4) listed.insert(A(i.value.c_str()).v4_host_order());
  for (const auto& i : *inds_) {
    if (i.kind == Kind::kIpv4) {
      ++ips;
      auto a = A(i.value.c_str());
      Match m = S().match_addr(a);
      ASSERT_TRUE(m) << i.value;
      EXPECT_EQ(m.how, MatchType::kExact);
      // Adjacent address: no match unless it is listed too (the trails have no prefixes).
      uint32_t next = a.v4_host_order() + 1;
      if (!listed.contains(next)) {
        EXPECT_FALSE(S().match_addr(IpAddr::v4(next))) << i.value;
        ++adjacent_misses;
      }
      EXPECT_TRUE(S().match_addr_port(a, 80, 6));  // the address alone is listed
    } else if (i.kind == Kind::kAddrPort) {
      ++aps;
      size_t colon = i.value.rfind(':');
      auto a = A(i.value.substr(0, colon).c_str());
      uint16_t port = static_cast<uint16_t>(std::stoi(i.value.substr(colon + 1)));
      Match m = S().match_addr_port(a, port, 6);
      ASSERT_TRUE(m) << i.value;
      if (m.how == MatchType::kAddrPort) {
        EXPECT_EQ(S().value(m.id), i.value);
      } else {
        EXPECT_TRUE(S().match_addr(a)) << i.value;  // address itself listed elsewhere
      }
    }
  }
  EXPECT_GT(ips, 1000u);
  EXPECT_GT(adjacent_misses, 1000u);
  EXPECT_GT(aps, 40000u);
  // Hajime C2 listed as address:port: other ports and neighbours do not match.
  EXPECT_EQ(S().match_addr_port(A("123.194.235.37"), 49320, 6).how, MatchType::kAddrPort);
  EXPECT_EQ(S().match_addr_port(A("123.194.235.37"), 49320, 17).how, MatchType::kAddrPort);  // no protocol listed
  EXPECT_FALSE(S().match_addr_port(A("123.194.235.37"), 49321, 6));
  EXPECT_FALSE(S().match_addr_port(A("123.194.235.38"), 49320, 6));
  EXPECT_FALSE(S().match_addr(A("123.194.235.37")));
  EXPECT_EQ(S().match_addr(A("221.8.69.25")).how, MatchType::kExact);
  EXPECT_FALSE(S().match_addr(A("221.8.69.26")));
  EXPECT_FALSE(S().match_addr(A("221.8.69.24")));
  // URLs: host and path; host-less paths on any host; the host of an unlisted URL by its domain.
  EXPECT_EQ(S().match_url("http://icaterp.com/scripts/img2.php?x=1").how, MatchType::kUrl);
  EXPECT_FALSE(S().match_url("http://icaterp.com/scripts/img4.php"));
  EXPECT_EQ(S().match_url("http://198.51.100.1/izuku.arm7").how, MatchType::kUrlPath);
  EXPECT_FALSE(S().match_url("http://198.51.100.1/izuku.arm77"));
  EXPECT_EQ(S().match_url("http://www.btddc.com/anything").how, MatchType::kParent);
  EXPECT_EQ(S().match_url("http://45.11.181.37/x").how, MatchType::kExact);
  // URL hosts are not DNS indicators by default.
  EXPECT_FALSE(S().match_domain("icaterp.com"));
}

TEST_F(MaltrailMatch, AllowlistAlwaysWins) {
  SnapshotBuilder b;
  for (const auto& i : *inds_) b.add(i);
  EXPECT_TRUE(b.add_allow("btddc.com", "local-allow"));
  EXPECT_TRUE(b.add_allow("ok.hostasa.org", "local-allow"));
  EXPECT_TRUE(b.add_allow("221.8.69.0/24", "local-allow"));
  EXPECT_TRUE(b.add_allow("123.194.235.37", "local-allow"));
  EXPECT_FALSE(b.add_allow("co.uk", "local-allow"));
  auto s = b.build();
  EXPECT_EQ(b.rejected().count("public suffix"), 1u);
  EXPECT_FALSE(s->match_domain("btddc.com"));
  EXPECT_FALSE(s->match_domain("www.btddc.com"));
  EXPECT_TRUE(s->match_domain("hostasa.org"));
  EXPECT_TRUE(s->match_domain("www.hostasa.org"));
  EXPECT_FALSE(s->match_domain("ok.hostasa.org"));
  EXPECT_FALSE(s->match_domain("a.ok.hostasa.org"));
  EXPECT_FALSE(s->match_addr(A("221.8.69.25")));
  EXPECT_FALSE(s->match_addr_port(A("123.194.235.37"), 49320, 6));
  EXPECT_TRUE(s->allowed_domain("x.btddc.com"));
  EXPECT_TRUE(s->allowed_addr(A("221.8.69.1")));
  uint64_t allowlisted = 0;
  for (const auto& f : s->feed_stats()) allowlisted += f.allowlisted;
  EXPECT_GE(allowlisted, 3u);  // btddc.com, 221.8.69.25, 123.194.235.37:49320 left out of the snapshot
}

TEST_F(MaltrailMatch, MemoryIsReportedPerFeed) {
  const auto& fs = S().feed_stats();
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].indicators, S().size());
  EXPECT_GT(fs[0].bytes, S().size() * 8);
  EXPECT_LE(fs[0].bytes, S().memory_bytes());
  // Lean: well under 64 bytes per indicator on the real trails.
  EXPECT_LT(double(S().memory_bytes()) / double(S().size()), 64.0);
}

TEST(Match, PublicSuffixEntriesNeverFlagEverythingBelow) {
  SnapshotBuilder b;
  b.add(ind(Kind::kDomain, "co.jp"));
  b.add(ind(Kind::kDomain, "com"));
  b.add(ind(Kind::kDomain, "example.co.jp"));
  auto s = b.build();
  EXPECT_EQ(b.rejected().count("public suffix"), 1u);
  EXPECT_EQ(b.rejected().count("single-label domain"), 1u);
  EXPECT_EQ(s->size(), 1u);
  EXPECT_TRUE(s->match_domain("example.co.jp"));
  EXPECT_EQ(s->match_domain("www.example.co.jp").how, MatchType::kParent);
  EXPECT_FALSE(s->match_domain("co.jp"));
  EXPECT_FALSE(s->match_domain("other.co.jp"));
  EXPECT_FALSE(s->match_domain("jp"));
  EXPECT_FALSE(s->match_domain("xexample.co.jp"));
}

TEST(Match, CidrsIpv6AndLongestPrefix) {
  SnapshotBuilder b;
  b.add(ind(Kind::kCidr, "198.51.100.0/24", "a"));
  b.add(ind(Kind::kIpv4, "198.51.100.7", "b"));
  b.add(ind(Kind::kCidr, "2001:db8::/32", "a"));
  b.add(ind(Kind::kIpv6, "2001:db8::bad", "b"));
  b.add(ind(Kind::kAddrPort, "[2001:db8:1::1]:443/tcp", "c"));
  auto s = b.build();
  auto m = s->match_addr(A("198.51.100.9"));
  EXPECT_EQ(m.how, MatchType::kCidr);
  EXPECT_EQ(s->value(m.id), "198.51.100.0/24");
  EXPECT_EQ(s->match_addr(A("198.51.100.7")).how, MatchType::kExact);
  EXPECT_FALSE(s->match_addr(A("198.51.101.1")));
  EXPECT_EQ(s->match_addr(A("2001:db8::bad")).how, MatchType::kExact);
  EXPECT_EQ(s->match_addr(A("2001:db8:ffff::1")).how, MatchType::kCidr);
  EXPECT_FALSE(s->match_addr(A("2001:db9::1")));
  EXPECT_EQ(s->match_addr_port(A("2001:db8:1::1"), 443, 6).how, MatchType::kAddrPort);
  EXPECT_EQ(s->match_addr_port(A("2001:db8:1::1"), 443, 17).how, MatchType::kCidr);  // tcp only
  EXPECT_EQ(s->match_addr_port(A("2001:db8:1::1"), 443, 0).how, MatchType::kCidr);
}

TEST(Match, SameValueInSeveralFeedsAndExpiry) {
  SnapshotOptions opt;
  opt.now = 10'000;
  SnapshotBuilder b(opt);
  b.add(ind(Kind::kDomain, "evil.example", "low", Category::kMalware, 30));
  b.add(ind(Kind::kDomain, "evil.example", "high", Category::kC2, 90));
  Indicator old = ind(Kind::kDomain, "old.example", "low");
  old.expiry = 9'000;
  b.add(old);
  Indicator fresh = ind(Kind::kDomain, "fresh.example", "low");
  fresh.expiry = 20'000;
  b.add(fresh);
  auto s = b.build();
  auto m = s->match_domain("x.evil.example");
  ASSERT_TRUE(m);
  EXPECT_EQ(s->feed(m.id), "high");  // highest confidence first
  ASSERT_EQ(s->same_value(m.id).size(), 1u);
  EXPECT_EQ(s->feed(s->same_value(m.id)[0]), "low");
  EXPECT_FALSE(s->match_domain("old.example"));
  EXPECT_TRUE(s->match_domain("fresh.example"));
  for (const auto& f : s->feed_stats())
    if (f.name == "low") {
      EXPECT_EQ(f.expired, 1u);
    }
  Indicator full = s->indicator(m.id);
  EXPECT_EQ(full.value, "evil.example");
  EXPECT_EQ(full.category, Category::kC2);
  EXPECT_EQ(full.confidence, 90);
}

TEST(Match, ExactOnlyDomainsAndUrlHosts) {
  Indicator exact = ind(Kind::kDomain, "exact.example");
  exact.subdomains = false;
  SnapshotOptions opt;
  opt.url_hosts_match_dns = true;
  SnapshotBuilder b(opt);
  b.add(exact);
  b.add(ind(Kind::kUrl, "dl.host.example/bins/x86", "f", Category::kMalwareDownload));
  b.add(ind(Kind::kUrl, "github.io/x", "f", Category::kMalwareDownload));
  auto s = b.build();
  EXPECT_TRUE(s->match_domain("exact.example"));
  EXPECT_FALSE(s->match_domain("www.exact.example"));
  EXPECT_EQ(s->match_domain("dl.host.example").how, MatchType::kUrlHost);
  EXPECT_FALSE(s->match_domain("a.dl.host.example"));  // URL hosts match exactly
  EXPECT_FALSE(s->match_domain("host.example"));
  EXPECT_FALSE(s->match_domain("github.io"));  // a public-suffix host is never a DNS indicator
  EXPECT_EQ(s->match_url("https://dl.host.example/bins/x86").how, MatchType::kUrl);
}

// Readers match while another thread publishes new snapshots; every snapshot a reader
// holds stays internally consistent and alive.
TEST(IntelStoreTest, ReloadWhileMatching) {
  IntelStore store;
  auto make = [](int gen) {
    SnapshotBuilder b;
    Indicator marker = ind(Kind::kDomain, "marker.example");
    marker.family = "gen" + std::to_string(gen);
    b.add(marker);
    b.add(ind(Kind::kDomain, "gen" + std::to_string(gen) + ".example"));
    for (int i = 0; i < 500; ++i)
      b.add(ind(Kind::kIpv4, "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250)));
    return b.build();
  };
  store.publish(make(0));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> checks{0}, errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t)
    readers.emplace_back([&] {
      while (!stop.load()) {
        auto snap = store.snapshot();  // once per batch
        for (int k = 0; k < 200; ++k) {
          Match m = snap->match_domain("www.marker.example");
          if (!m) {
            ++errors;
            continue;
          }
          std::string fam(snap->family(m.id));
          int gen = std::stoi(fam.substr(3));
          if (!snap->match_domain("gen" + std::to_string(gen) + ".example")) ++errors;
          if (snap->match_domain("gen" + std::to_string(gen + 1) + ".example")) ++errors;
          if (!snap->match_addr(IpAddr::v4(0x0a000000u + 5))) ++errors;
          ++checks;
        }
      }
    });
  for (int gen = 1; gen <= 40; ++gen) store.publish(make(gen));
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(errors.load(), 0u);
  EXPECT_GT(checks.load(), 0u);
  EXPECT_EQ(store.generation(), 41u);
  EXPECT_EQ(store.snapshot()->family(store.snapshot()->match_domain("marker.example").id), "gen40");
}
