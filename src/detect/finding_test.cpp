// finding_from_json: round trip with finding_to_json, and rejection by reason.
#include <gtest/gtest.h>

#include "detect/finding.hpp"

namespace omamori {
namespace {

Finding sample() {
  Finding f;
  f.type = "reputation-dns";
  f.host = *IpAddr::parse("192.0.2.7");
  f.first = 1700000000123;
  f.last = 1700000060456;
  f.indicator = "cnc.example.net";
  f.feed = "abuse-ch";
  f.category = "c2";
  f.family = "mirai";
  f.events = 12;
  f.confidence = 90;
  f.explanation = "queried a listed C&C name";
  f.details = {{"match", "exact"}, {"answer", "203.0.113.9"}};
  return f;
}

TEST(FindingJson, RoundTrip) {
  Finding f = sample();
  Finding g;
  const char* why = nullptr;
  ASSERT_TRUE(finding_from_json(finding_to_json(f), g, &why)) << why;
  EXPECT_EQ(g.type, f.type);
  EXPECT_EQ(g.host, f.host);
  EXPECT_EQ(g.first, f.first);
  EXPECT_EQ(g.last, f.last);
  EXPECT_EQ(g.indicator, f.indicator);
  EXPECT_EQ(g.feed, f.feed);
  EXPECT_EQ(g.category, f.category);
  EXPECT_EQ(g.family, f.family);
  EXPECT_EQ(g.events, f.events);
  EXPECT_EQ(g.confidence, f.confidence);
  EXPECT_EQ(g.explanation, f.explanation);
  EXPECT_EQ(g.details, f.details);  // order kept
  EXPECT_EQ(finding_to_json(g), finding_to_json(f));
}

TEST(FindingJson, EmptyHostAndUnknownKeysAccepted) {
  Finding g;
  ASSERT_TRUE(finding_from_json(R"({"type":"c2-candidate","host":"","indicator":"x.example","new_key":[1,2]})", g,
                                nullptr));
  EXPECT_TRUE(g.host.empty());
  EXPECT_EQ(g.indicator, "x.example");
}

TEST(FindingJson, RejectsByReason) {
  struct Case {
    const char* json;
    const char* reason;
  } cases[] = {
      {"{", "invalid json"},
      {"[1]", "not an object"},
      {R"({"host":"192.0.2.1"})", "missing type"},
      {R"({"type":""})", "missing type"},
      {R"({"type":7})", "wrong value type"},
      {R"({"type":"scan","host":"999.1.1.1"})", "bad host"},
      {R"({"type":"scan","first":"yesterday"})", "bad time"},
      {R"({"type":"scan","events":-1})", "bad number"},
      {R"({"type":"scan","confidence":101})", "bad number"},
      {R"({"type":"scan","details":{"a":1}})", "bad details"},
      {"{\"type\":\"scan\",\"indicator\":\"\xff\"}", "invalid json"},
  };
  for (const auto& c : cases) {
    Finding g;
    const char* why = nullptr;
    EXPECT_FALSE(finding_from_json(c.json, g, &why)) << c.json;
    EXPECT_STREQ(why, c.reason) << c.json;
  }
}

}  // namespace
}  // namespace omamori
