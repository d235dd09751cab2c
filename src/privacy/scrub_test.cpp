// Exports: the ISP's own addresses are replaced by their prefix-preserving
// pseudonyms wherever they appear, other addresses and non-addresses stay;
// `omamori export findings` needs the export permission and is audited.
#include "privacy/scrub.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "privacy/audit.hpp"
#include "privacy/fileutil.hpp"
#include "privacy/test_util.hpp"
#include "test_support/run.hpp"

using namespace omamori;
using namespace omamori::privacy;
using namespace omamori::privacy::testing;

namespace {

Pseudonymiser key() {
  std::vector<uint8_t> k(32);
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(i * 7 + 1);
  return Pseudonymiser::from_key(k);
}

std::string pseudo(const Pseudonymiser& p, const char* a) { return p.address(*IpAddr::parse(a)).str(); }

}  // namespace

TEST(Scrub, InternalAddressesReplacedEverywhereOthersKept) {
  auto p = key();
  AddressScrubber s(p, {*Prefix::parse("10.0.0.0/8"), *Prefix::parse("2001:db8:100::/40")});
  Finding f;
  f.type = "reputation-flow";
  f.host = *IpAddr::parse("10.1.2.3");
  f.indicator = "203.0.113.7:6667/tcp";
  f.explanation = "10.1.2.3 contacted 203.0.113.7:6667 and scanned 10.1.2.4:23, [2001:db8:100::5]:443 too; "
                  "at 2026-11-22T00:00:00Z from cafe1.example (deadbeef). Seen by 10.1.2.3.";
  f.details = {{"peer", "10.9.9.9"}, {"v6", "2001:db8:200::1"}};
  Finding o = s.finding(f);
  EXPECT_EQ(o.host.str(), pseudo(p, "10.1.2.3"));
  EXPECT_NE(o.host.str(), "10.1.2.3");
  EXPECT_EQ(o.indicator, "203.0.113.7:6667/tcp");  // the C&C server: what partners act on
  std::string want = pseudo(p, "10.1.2.3") + " contacted 203.0.113.7:6667 and scanned " + pseudo(p, "10.1.2.4") +
                     ":23, [" + pseudo(p, "2001:db8:100::5") +
                     "]:443 too; at 2026-11-22T00:00:00Z from cafe1.example (deadbeef). Seen by " +
                     pseudo(p, "10.1.2.3") + ".";
  EXPECT_EQ(o.explanation, want);
  EXPECT_EQ(o.details[0].second, pseudo(p, "10.9.9.9"));
  EXPECT_EQ(o.details[1].second, "2001:db8:200::1");  // outside 2001:db8:100::/40
  EXPECT_EQ(s.replaced(), 6u);
  // Prefix preservation: 10.1.2.3 and 10.1.2.4 share 29 leading bits, and so do their pseudonyms.
  auto a = p.address(*IpAddr::parse("10.1.2.3")), b = p.address(*IpAddr::parse("10.1.2.4"));
  EXPECT_EQ(Prefix(a, 29).str(), Prefix(b, 29).str());
  EXPECT_NE(Prefix(a, 30).str(), Prefix(b, 30).str());
}

TEST(Scrub, WithoutInternalPrefixesEveryAddressGoes) {
  auto p = key();
  AddressScrubber s(p, {});
  std::string t = "from 198.51.100.1 to 203.0.113.9, 2001:db8::1; version 1.2.3, 10.0.0.0.1, ::";
  EXPECT_EQ(s.text(t), 3u);
  EXPECT_EQ(t, "from " + pseudo(p, "198.51.100.1") + " to " + pseudo(p, "203.0.113.9") + ", " +
                   pseudo(p, "2001:db8::1") + "; version 1.2.3, 10.0.0.0.1, ::");
}

TEST(Scrub, ExportFindingsCommandPseudonymisesAndAudits) {
  TempDir d;
  const std::string state = d.path + "/state", in = d.path + "/findings.jsonl", out = d.path + "/out.jsonl";
  std::filesystem::create_directories(state);
  std::ofstream(state + "/roles.toml") << "[roles]\nalice = [\"analyst\"]\n";
  std::ofstream(in) << R"({"type":"scan","host":"10.1.2.3","first":"2026-11-22T00:00:00Z","last":"2026-11-22T00:01:00Z","indicator":"23/tcp","explanation":"10.1.2.3 scanned 512 hosts"})"
                    << "\nnot json\n"
                    << R"({"type":"c2-candidate","host":"203.0.113.7","indicator":"203.0.113.7:6667/tcp","explanation":"contacted by 10.1.2.3"})"
                    << "\n";
  const std::string cmd = "export findings " + in + " -o " + out + " --internal 10.0.0.0/8 --state-dir " + state;

  Result r = run_omamori(cmd);
  EXPECT_EQ(r.code, 2) << r.out;  // --reason is required
  r = run_omamori(cmd + " --reason 'shared with JPCERT/CC'", "OMAMORI_ACTOR=alice");
  EXPECT_EQ(r.code, 1) << r.out;  // analysts may not export
  EXPECT_NE(r.out.find("access denied"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(out));

  r = run_omamori(cmd + " --reason 'shared with JPCERT/CC'");
  EXPECT_EQ(r.code, 1) << r.out;  // one malformed line: exported the rest, said so, exit 1
  EXPECT_NE(r.out.find("line 2: invalid json"), std::string::npos) << r.out;
  std::string text;
  ASSERT_TRUE(read_file(out, text));
  auto rows = omamori::test::lines(text);
  ASSERT_EQ(rows.size(), 2u) << text;
  EXPECT_EQ(text.find("10.1.2.3"), std::string::npos) << text;
  EXPECT_NE(rows[1].find("\"host\":\"203.0.113.7\""), std::string::npos) << text;  // outside: kept
  EXPECT_NE(rows[1].find("203.0.113.7:6667/tcp"), std::string::npos) << text;
  // The same key gives the same pseudonym in both findings (they can be linked by the partner).
  auto ps = Pseudonymiser::from_key_file(state + "/pseudonym.key");
  std::string p = ps.address(*IpAddr::parse("10.1.2.3")).str();
  EXPECT_NE(rows[0].find("\"host\":\"" + p + "\""), std::string::npos) << text;
  EXPECT_NE(rows[1].find("contacted by " + p), std::string::npos) << text;

  std::vector<AuditEntry> e;
  read_audit(state + "/audit.log", [&](const AuditEntry& x) { e.push_back(x); });
  ASSERT_FALSE(e.empty());
  const auto& last = e.back().event;
  EXPECT_EQ(last.action, "export");
  EXPECT_EQ(last.reason, "shared with JPCERT/CC");
  EXPECT_EQ(last.detail["findings"], 2);
  EXPECT_EQ(last.detail["addresses_pseudonymised"], 3);
  EXPECT_EQ(last.detail["malformed"]["invalid json"], 1);
  EXPECT_EQ(last.detail["sha256"], sha256_hex(text));
  EXPECT_TRUE(verify_audit(state + "/audit.log").ok);
}
