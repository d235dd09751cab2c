// NXDOMAIN/DGA host detector: synthetic hosts, family grouping, bounded state,
// and real background traffic (the Zeek dns.log) with injected DGA hosts.
#include "detect/dga/nxdomain.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "detect/dga/train.hpp"
#include "detect/dga/zeek_queries.hpp"

using namespace omamori;
using namespace omamori::dga;

namespace {
const std::string kData = OMAMORI_SHARED_DATA;

const Model& model() {
  std::string err;
  const Model* m = Model::builtin(err);
  if (!m) {
    ADD_FAILURE() << err;
    std::abort();
  }
  return *m;
}

// A toy DGA (random letters from a seeded LCG), as a family with a seed per day.
std::vector<std::string> family(uint32_t seed, int n) {
  std::vector<std::string> out;
  uint32_t x = seed;
  static const char* tlds[] = {".com", ".net", ".org", ".info"};
  for (int i = 0; i < n; ++i) {
    std::string s;
    x = x * 1664525u + 1013904223u;
    int len = 12 + static_cast<int>((x >> 24) % 6);
    for (int k = 0; k < len; ++k) {
      x = x * 1664525u + 1013904223u;
      s += static_cast<char>('a' + (x >> 16) % 26);
    }
    out.push_back(s + tlds[(x >> 8) % 4]);
  }
  return out;
}

DnsObservation nx(TimeMs t, const IpAddr& c, std::string_view name) {
  DnsObservation o;
  o.time = t;
  o.client = c;
  o.qname = name;
  o.rcode = 3;
  o.is_response = true;
  return o;
}

std::map<std::string, std::vector<Finding>> by_host(NxDetector& d) {
  FindingCollector fc;
  d.findings(fc);
  std::map<std::string, std::vector<Finding>> m;
  for (auto& f : fc.findings) m[f.host.str()].push_back(f);
  return m;
}

const Finding* find_type(const std::vector<Finding>& v, std::string_view type) {
  for (const auto& f : v)
    if (f.type == type) return &f;
  return nullptr;
}
}  // namespace

TEST(NxDetector, PerHostStateIsSmall) {
  EXPECT_LE(sizeof(NxDetector::Host), 96u);
  EXPECT_LE(NxDetector::bytes_per_host(), 130u);
}

TEST(NxDetector, DgaHostFlaggedTyposNotAndFamiliesGrouped) {
  NxDetector d(model());
  const TimeMs t0 = 1700000000000;
  auto a = *IpAddr::parse("192.0.2.10"), b = *IpAddr::parse("192.0.2.11"), c = *IpAddr::parse("192.0.2.12"),
       e = *IpAddr::parse("2001:db8::5"), typo = *IpAddr::parse("192.0.2.20");
  auto fam1 = family(1234, 60), fam2 = family(98765, 60);
  // a and b: the same family (same names, in a different order); e: another family.
  for (int i = 0; i < 60; ++i) {
    d.on_dns(nx(t0 + i * 2000, a, fam1[static_cast<size_t>(i)]));
    d.on_dns(nx(t0 + i * 2000 + 500, b, fam1[static_cast<size_t>(59 - i)]));
    d.on_dns(nx(t0 + i * 2000 + 700, e, fam2[static_cast<size_t>(i)]));
  }
  // c: ordinary traffic with a few typos and a misconfigured name asked again and again.
  for (const char* n : {"gooogle.com", "facebok.com", "wikipedai.org", "yotube.com"}) d.on_dns(nx(t0 + 1000, typo, n));
  for (int i = 0; i < 200; ++i) d.on_dns(nx(t0 + i * 900, c, "videosearch.ubuntu.com"));
  // Queries (not responses) and NOERROR answers do not count.
  DnsObservation q = nx(t0, typo, "qwzxkjhgfdsapoiu.com");
  q.is_response = false;
  d.on_dns(q);
  q.is_response = true;
  q.rcode = 0;
  d.on_dns(q);

  auto hosts = by_host(d);
  EXPECT_EQ(hosts.count("192.0.2.20"), 0u);
  EXPECT_EQ(hosts.count("192.0.2.12"), 0u);
  ASSERT_EQ(hosts.size(), 3u);
  const Finding* fa = find_type(hosts["192.0.2.10"], finding_type::kDga);
  const Finding* fb = find_type(hosts["192.0.2.11"], finding_type::kDga);
  const Finding* fe = find_type(hosts["2001:db8::5"], finding_type::kDga);
  ASSERT_TRUE(fa && fb && fe);
  EXPECT_EQ(fa->family, fb->family);
  EXPECT_NE(fa->family, fe->family);
  EXPECT_EQ(fa->family.rfind("dga-group-", 0), 0u);
  EXPECT_EQ(fa->category, "dga");
  EXPECT_GE(fa->events, 40u);
  EXPECT_LE(fa->events, 60u);
  EXPECT_GE(fa->confidence, 60);
  EXPECT_EQ(fa->first, t0);
  EXPECT_GE(fa->last, t0 + 100000);
  EXPECT_NE(fa->explanation.find("machine-generated"), std::string::npos) << fa->explanation;
  EXPECT_NE(fa->explanation.find("1 other host"), std::string::npos) << fa->explanation;
  EXPECT_TRUE(std::find(fam1.begin(), fam1.end(), fa->indicator) != fam1.end()) << fa->indicator;
  // 60 distinct NX names in 2 minutes is also an abnormal NXDOMAIN rate.
  const Finding* na = find_type(hosts["192.0.2.10"], finding_type::kNxdomain);
  ASSERT_TRUE(na);
  EXPECT_EQ(na->family, fa->family);
  EXPECT_GE(na->events, 20u);
  std::printf("%s\n%s\n", finding_to_json(*fa).c_str(), finding_to_json(*na).c_str());
}

TEST(NxDetector, NxRateAgainstOwnBaselineWithoutDgaNames) {
  // A host with a steady 3-5 distinct NX names per window, then a burst of 40
  // distinct ordinary-looking NX names (e.g. a random-subdomain attack): nxdomain, not dga.
  NxConfig cfg;
  cfg.window_ms = 60000;
  NxDetector d(model(), cfg);
  auto h = *IpAddr::parse("198.51.100.7");
  const TimeMs t0 = 1700000000000;
  std::vector<std::string> names;
  for (int w = 0; w < 10; ++w)
    for (int i = 0; i < 3 + w % 3; ++i) names.push_back("printer" + std::to_string(i) + ".office.example.com");
  size_t k = 0;
  for (int w = 0; w < 10; ++w)
    for (int i = 0; i < 3 + w % 3; ++i) d.on_dns(nx(t0 + w * 60000 + i * 1000, h, names[k++]));
  EXPECT_TRUE(by_host(d).empty());
  std::vector<std::string> burst;
  for (int i = 0; i < 40; ++i) burst.push_back("host" + std::to_string(i) + ".victim.example.net");
  for (int i = 0; i < 40; ++i) d.on_dns(nx(t0 + 10 * 60000 + i * 100, h, burst[static_cast<size_t>(i)]));
  auto hosts = by_host(d);
  ASSERT_EQ(hosts.size(), 1u);
  ASSERT_EQ(hosts.begin()->second.size(), 1u);
  const Finding& f = hosts.begin()->second[0];
  EXPECT_EQ(f.type, finding_type::kNxdomain);
  EXPECT_EQ(f.first, t0 + 10 * 60000);
  EXPECT_EQ(f.family, "");
  EXPECT_GE(f.events, 15u);
}

TEST(NxDetector, BoundedStateEvictsIdleHostsAndCountsUntracked) {
  NxConfig cfg;
  cfg.memory_limit = 100 * NxDetector::bytes_per_host();
  cfg.idle_ms = 600000;
  NxDetector d(model(), cfg);
  EXPECT_EQ(d.max_hosts(), 100u);
  const TimeMs t0 = 1700000000000;
  for (uint32_t i = 0; i < 300; ++i) d.on_dns(nx(t0 + i, IpAddr::v4(0x0a000000 + i), "typo-example.com"));
  EXPECT_EQ(d.hosts(), 100u);
  EXPECT_EQ(d.counters().count("nxdomain: host table full, host not tracked"), 200u);
  // An hour later the first hosts are idle: new hosts take their place.
  for (uint32_t i = 0; i < 50; ++i) d.on_dns(nx(t0 + 3600000 + i, IpAddr::v4(0x0b000000 + i), "typo-example.com"));
  EXPECT_EQ(d.counters().count("nxdomain: idle host evicted"), 100u);
  EXPECT_EQ(d.hosts(), 50u);
}

// Real background: the Zeek dns.log (53,615 queries of a competition network)
// replayed through the detector with three injected infected hosts that get
// NXDOMAIN for real DGA names from the held-out part of the DGA set; two of
// them run the same family (the same names).
TEST(NxDetector, ZeekBackgroundWithInjectedDgaHosts) {
  Dataset ds;
  std::string err;
  ASSERT_TRUE(load_dataset(kData + "/dga/dga_domains.csv", kData + "/dga/benign_domains.csv", ds, err)) << err;
  std::vector<std::string> fam_a, fam_b;
  for (const auto& s : ds.test) {
    if (!s.dga) continue;
    if (fam_a.size() < 40)
      fam_a.push_back(s.name);
    else if (fam_b.size() < 40)
      fam_b.push_back(s.name);
  }
  struct Row {
    TimeMs t;
    IpAddr c;
    std::string q;
    int rcode;
  };
  std::vector<Row> rows;
  ReasonCounters errors;
  ASSERT_TRUE(read_zeek_dns(
      kData + "/dns/zeek-dns.log.gz",
      [&](const ZeekDnsRow& r) {
        rows.push_back({r.ts, r.client, std::string(r.query), r.rcode});
      },
      errors, err))
      << err;
  ASSERT_EQ(rows.size(), 53615u);
  std::set<IpAddr> background_hosts;
  for (const auto& r : rows) background_hosts.insert(r.c);
  const TimeMs start = rows.front().t;
  auto inf1 = *IpAddr::parse("10.47.99.1"), inf2 = *IpAddr::parse("10.47.99.2"), inf3 = *IpAddr::parse("10.47.99.3");
  for (size_t i = 0; i < 40; ++i) {
    rows.push_back({start + 60000 + static_cast<TimeMs>(i) * 15000, inf1, fam_a[i], 3});
    rows.push_back({start + 90000 + static_cast<TimeMs>(i) * 15000, inf2, fam_a[39 - i], 3});
    rows.push_back({start + 30000 + static_cast<TimeMs>(i) * 15000, inf3, fam_b[i], 3});
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.t < b.t; });
  NxDetector d(model());
  for (const auto& r : rows) {
    DnsObservation o;
    o.time = r.t;
    o.client = r.c;
    o.qname = r.q;
    o.is_response = r.rcode >= 0;
    o.rcode = static_cast<uint8_t>(r.rcode >= 0 ? r.rcode : 0);
    d.on_dns(o);
  }
  auto hosts = by_host(d);
  for (const auto& [h, fs] : hosts)
    for (const auto& f : fs) std::printf("%s\n", finding_to_json(f).c_str());
  for (const char* h : {"10.47.99.1", "10.47.99.2", "10.47.99.3"}) {
    ASSERT_TRUE(hosts.count(h)) << h;
    EXPECT_TRUE(find_type(hosts[h], finding_type::kDga)) << h;
  }
  EXPECT_EQ(find_type(hosts["10.47.99.1"], finding_type::kDga)->family,
            find_type(hosts["10.47.99.2"], finding_type::kDga)->family);
  EXPECT_NE(find_type(hosts["10.47.99.1"], finding_type::kDga)->family,
            find_type(hosts["10.47.99.3"], finding_type::kDga)->family);
  size_t false_positive_hosts = 0;
  for (const auto& [h, fs] : hosts)
    if (h.rfind("10.47.99.", 0) != 0) ++false_positive_hosts;
  std::printf("background hosts %zu, flagged %zu; NX answers %lu, DGA-scored %lu\n", background_hosts.size(),
              false_positive_hosts, (unsigned long)d.nx_responses(), (unsigned long)d.dga_scored());
  EXPECT_LE(false_positive_hosts, 1u);
}
