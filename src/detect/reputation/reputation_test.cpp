#include "detect/reputation/reputation.hpp"

#include <gtest/gtest.h>

#include "intel/feeds/feeds.hpp"
#include "test_support/run.hpp"

using namespace omamori;

namespace {
std::shared_ptr<const intel::IntelSnapshot> trails(std::initializer_list<const char*> files,
                                                   std::initializer_list<const char*> allow = {}) {
  intel::SnapshotBuilder b;
  for (const char* file : files) {
    intel::FeedConfig fc;
    fc.name = std::string("maltrail-") + file;
    fc.format = "maltrail";
    std::string text, err;
    EXPECT_TRUE(intel::read_text_file(test::shared_data(std::string("intel/maltrail/") + file), text, err)) << err;
    intel::ParseResult res;
    EXPECT_TRUE(intel::parse_feed(text, fc, file, 0, res, err)) << err;
    for (const auto& ind : res.indicators) b.add(ind);
  }
  for (const char* a : allow) b.add_allow(a);
  return b.build();
}
std::unique_ptr<DnsEvent> dns(const char* client, const char* name, bool response, uint16_t id, TimeMs t) {
  auto ev = std::make_unique<DnsEvent>();
  ev->clear();
  ev->client = *IpAddr::parse(client);
  ev->client_port = 40000;
  ev->id = id;
  ev->time = t;
  ev->set_qname(name);
  ev->set_flag(DnsEvent::kResponse, response);
  return ev;
}
FlowRecord flow(const char* src, const char* dst, uint16_t sport, uint16_t dport) {
  FlowRecord r;
  r.src = *IpAddr::parse(src);
  r.dst = *IpAddr::parse(dst);
  r.sport = sport;
  r.dport = dport;
  r.proto = 6;
  r.packets = 3;
  r.bytes = 180;
  r.start = r.end = 5000;
  return r;
}
}  // namespace

// Real Maltrail trails: listed names, their subdomains, listed address:port and
// sinkhole addresses give findings; near misses and allowlisted names do not.
TEST(Reputation, MaltrailMatchesNearMissesAndAllowlist) {
  auto snap = trails({"elf_mirai.txt", "sinkhole_conficker.txt"}, {"fghdfth.club"});
  reputation::Detector d({}, snap);
  d.on_dns(*dns("192.0.2.1", "cloudflarecock.club", false, 7, 1000));
  d.on_dns(*dns("192.0.2.1", "cloudflarecock.club", true, 7, 1010));  // its response: same lookup
  d.on_dns(*dns("192.0.2.1", "cloudflarecock.club", false, 8, 61000));
  d.on_dns(*dns("192.0.2.2", "cnc.cloudflarecock.club", false, 9, 1000));  // subdomain
  d.on_dns(*dns("192.0.2.3", "xcloudflarecock.club", false, 1, 1000));     // near miss
  d.on_dns(*dns("192.0.2.3", "cloudflarecock.clubs", false, 2, 1000));     // near miss
  d.on_dns(*dns("192.0.2.4", "fghdfth.club", false, 3, 1000));             // allowlisted
  d.on_flow(flow("192.0.2.5", "34.67.138.200", 50000, 1791));  // listed address:port
  d.on_flow(flow("34.67.138.200", "192.0.2.6", 1791, 50001));  // the reply direction
  d.on_flow(flow("192.0.2.7", "34.67.138.200", 50000, 1792));  // other port
  d.on_flow(flow("192.0.2.7", "34.67.138.201", 50000, 1791));  // adjacent address
  FindingCollector fc;
  d.findings(fc);
  std::map<std::string, const Finding*> by_host;
  for (const auto& f : fc.findings) by_host[f.host.str()] = &f;
  ASSERT_EQ(fc.findings.size(), 4u);
  ASSERT_TRUE(by_host.count("192.0.2.1"));
  EXPECT_EQ(by_host["192.0.2.1"]->events, 2u);
  EXPECT_EQ(by_host["192.0.2.1"]->type, "reputation-dns");
  EXPECT_EQ(by_host["192.0.2.1"]->family, "mirai");
  EXPECT_NE(by_host["192.0.2.1"]->explanation.find("looked up cloudflarecock.club 2 times"), std::string::npos)
      << by_host["192.0.2.1"]->explanation;
  ASSERT_TRUE(by_host.count("192.0.2.2"));
  EXPECT_EQ(by_host["192.0.2.2"]->indicator, "cloudflarecock.club");
  ASSERT_TRUE(by_host.count("192.0.2.5"));
  EXPECT_EQ(by_host["192.0.2.5"]->type, "reputation-flow");
  ASSERT_TRUE(by_host.count("192.0.2.6"));
  EXPECT_FALSE(by_host.count("192.0.2.3"));
  EXPECT_FALSE(by_host.count("192.0.2.4"));
  EXPECT_FALSE(by_host.count("192.0.2.7"));
}

TEST(Reputation, SubscriberSpaceDecidesTheHost) {
  auto snap = trails({"elf_mirai.txt"});
  reputation::Config cfg;
  cfg.subscribers.push_back(*Prefix::parse("192.0.2.0/24"));
  reputation::Detector d(cfg, snap);
  d.on_dns(*dns("198.51.100.1", "cloudflarecock.club", false, 1, 0));  // not our subscriber
  d.on_flow(flow("34.67.138.200", "192.0.2.9", 1791, 40000));
  FindingCollector fc;
  d.findings(fc);
  ASSERT_EQ(fc.findings.size(), 1u);
  EXPECT_EQ(fc.findings[0].host.str(), "192.0.2.9");
}
