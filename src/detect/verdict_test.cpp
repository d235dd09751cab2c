#include "detect/verdict.hpp"

#include <gtest/gtest.h>

using namespace omamori;

namespace {
Finding f(const char* host, std::string_view type, uint8_t conf, std::string cat = {}) {
  Finding x;
  x.host = *IpAddr::parse(host);
  x.type = std::string(type);
  x.confidence = conf;
  x.category = std::move(cat);
  x.indicator = "i";
  return x;
}
}  // namespace

TEST(HostVerdict, IndependentEvidenceCombinesRepeatsDoNot) {
  std::vector<Finding> fs = {f("10.0.0.1", finding_type::kReputationDns, 70, "c2"),
                             f("10.0.0.1", finding_type::kScan, 70),
                             f("10.0.0.2", finding_type::kReputationDns, 70, "c2"),
                             f("10.0.0.2", finding_type::kReputationDns, 70, "c2"),
                             f("10.0.0.3", finding_type::kNxdomain, 40),
                             f("10.0.0.4", finding_type::kC2Candidate, 99)};
  auto v = host_verdicts(fs);
  ASSERT_EQ(v.size(), 3u);  // the c2 candidate is a destination, not a host verdict
  EXPECT_EQ(v[0].host.str(), "10.0.0.1");
  EXPECT_GT(v[0].score, v[1].score);
  EXPECT_EQ(v[1].host.str(), "10.0.0.2");
  EXPECT_NEAR(v[1].score, 70.0, 1e-9);  // two of the same kind count once
  EXPECT_EQ(v[0].level, "infected");
  EXPECT_EQ(v[2].level, "watch");
  EXPECT_EQ(v[0].evidence.size(), 2u);
  EXPECT_NE(v[0].explanation.find("reputation-dns"), std::string::npos);
}
