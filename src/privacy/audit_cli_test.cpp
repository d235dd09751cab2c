// `omamori audit` through the real binary: tampering of every kind is found
// and the entry named; concurrent writers keep the chain valid; show needs a role.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "privacy/audit.hpp"
#include "privacy/fileutil.hpp"
#include "privacy/test_util.hpp"
#include "test_support/run.hpp"

using namespace omamori::privacy;
using namespace omamori::privacy::testing;

namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::string text;
  read_file(path, text);
  return omamori::test::lines(text);
}

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream f(path, std::ios::trunc | std::ios::binary);
  for (const auto& l : lines) f << l << '\n';
}

// A log of n entries written by the library (the same code the commands use).
std::vector<std::string> make_log(const std::string& path, int n) {
  AuditLog log(path);
  for (int i = 1; i <= n; ++i)
    log.append({"alice", "notifier", i % 3 ? "identity.reveal" : "warning.send", "sub-" + std::to_string(1000 + i),
                "case " + std::to_string(i), {{"case", i}}});
  return read_lines(path);
}

// Runs verify on the log and expects failure naming `line` and `seq`, with the kind of problem.
void expect_tamper(const std::string& log, size_t line, uint64_t seq, const std::string& kind) {
  Result r = run_omamori("audit verify --log " + log);
  EXPECT_EQ(r.code, 1) << r.out;
  std::string where = line ? "line " + std::to_string(line) + " (seq " + std::to_string(seq) + ")"
                           : "seq " + std::to_string(seq);
  EXPECT_NE(r.out.find("FAILED at " + where + ": " + kind), std::string::npos)
      << "expected '" << where << ": " << kind << "' in:\n" << r.out;
}

constexpr int kN = 12;

}  // namespace

TEST(AuditCli, UntouchedLogVerifies) {
  TempDir d;
  std::string log = d.path + "/audit.log";
  make_log(log, kN);
  Result r = run_omamori("audit verify --log " + log);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("OK, 12 entries, chain intact"), std::string::npos) << r.out;
  // Via the state directory and as JSON.
  r = run_omamori("audit verify --json --state-dir " + d.path);
  EXPECT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["entries"], 12);
  // head prints an anchor that verify accepts later.
  r = run_omamori("audit head --state-dir " + d.path);
  ASSERT_EQ(r.code, 0) << r.out;
  std::string anchor = omamori::test::lines(r.out).at(0);
  EXPECT_EQ(anchor.substr(0, 3), "12:");
  EXPECT_EQ(run_omamori("audit verify --state-dir " + d.path + " --anchor " + anchor).code, 0);
}

TEST(AuditCli, ChangedByteInEachEntryIsNamed) {
  for (int k : {1, 2, 6, kN - 1, kN}) {
    TempDir d;
    std::string log = d.path + "/audit.log";
    auto lines = make_log(log, kN);
    // One byte of the reason ("case k" -> "cose k"), of the actor, of the time.
    for (const std::string field : {"\"reason\":\"case", "\"actor\":\"alice", "\"time\":\"20"}) {
      auto t = lines;
      size_t at = t[k - 1].find(field);
      ASSERT_NE(at, std::string::npos);
      t[k - 1][at + field.size() - 2] ^= 0x01;
      write_lines(log, t);
      expect_tamper(log, k, k, "altered");
    }
  }
}

TEST(AuditCli, DeletedEntryIsNamed) {
  for (int k : {1, 5, kN - 1}) {
    TempDir d;
    std::string log = d.path + "/audit.log";
    auto lines = make_log(log, kN);
    lines.erase(lines.begin() + (k - 1));
    write_lines(log, lines);
    expect_tamper(log, k, k, "removed: entry seq " + std::to_string(k) + " is missing");
  }
  // The last entry deleted: the head shows it.
  TempDir d;
  std::string log = d.path + "/audit.log";
  auto lines = make_log(log, kN);
  lines.pop_back();
  write_lines(log, lines);
  expect_tamper(log, kN, kN, "truncated");
}

TEST(AuditCli, SwappedEntriesAreNamed) {
  for (int k : {1, 6, kN - 1}) {
    TempDir d;
    std::string log = d.path + "/audit.log";
    auto lines = make_log(log, kN);
    std::swap(lines[k - 1], lines[k]);
    write_lines(log, lines);
    expect_tamper(log, k, k + 1,
                  "reordered: line " + std::to_string(k) + " holds seq " + std::to_string(k + 1) + "; seq " +
                      std::to_string(k) + " is at line " + std::to_string(k + 1));
  }
}

TEST(AuditCli, TruncatedTailIsFound) {
  TempDir d;
  std::string log = d.path + "/audit.log";
  auto lines = make_log(log, kN);
  lines.resize(kN - 3);
  write_lines(log, lines);
  expect_tamper(log, kN - 2, kN - 2, "truncated: the head records 12 entries but the log ends at seq 9 (seq 10-12");
  // Cut in the middle of a line.
  std::string text;
  read_file(log, text);
  std::ofstream(log, std::ios::trunc) << text.substr(0, text.size() - 20);
  expect_tamper(log, kN - 3, kN - 3, "malformed: the last line is not terminated");
  // Everything gone but the head.
  std::ofstream(log, std::ios::trunc).close();
  expect_tamper(log, 1, 1, "truncated");
  // The head removed as well: an empty log is a fresh log, but a non-empty log needs its head.
  write_lines(log, lines);
  std::filesystem::remove(AuditLog::head_path(log));
  expect_tamper(log, 0, kN - 3, "head missing");
}

TEST(AuditCli, DuplicatedEntryIsNamed) {
  for (int k : {1, 7, kN}) {
    TempDir d;
    std::string log = d.path + "/audit.log";
    auto lines = make_log(log, kN);
    lines.insert(lines.begin() + k, lines[k - 1]);
    write_lines(log, lines);
    expect_tamper(log, k + 1, k, "duplicate: line " + std::to_string(k + 1) + " repeats entry seq " + std::to_string(k));
  }
}

TEST(AuditCli, ForgedLinesAreNamed) {
  TempDir d;
  std::string log = d.path + "/audit.log";
  auto lines = make_log(log, kN);
  // A naive forgery: a copy of entry 4 with another subject, slipped in after entry 4.
  auto t = lines;
  std::string forged = t[3];
  forged.replace(forged.find("sub-1004"), 8, "sub-6666");
  t.insert(t.begin() + 4, forged);
  write_lines(log, t);
  expect_tamper(log, 5, 5, "altered");
  // A careful forgery with a correct hash and prev, claiming seq 5: the genuine
  // seq 5 follows it and the chain continues from the genuine one.
  auto e4 = parse_audit_line(lines[3]);
  ASSERT_TRUE(e4);
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(lines[4]);
  j.erase("hash");
  j["subject"] = "sub-6666";
  j["prev"] = e4->hash;
  std::string body = j.dump();
  std::string good = body.substr(0, body.size() - 1) + ",\"hash\":\"" + sha256_hex(body) + "\"}";
  ASSERT_TRUE(parse_audit_line(good));
  t = lines;
  t.insert(t.begin() + 4, good);
  write_lines(log, t);
  expect_tamper(log, 5, 5, "inserted: line 5 (seq 5) is not part of the chain");
  // The same forgery replacing the genuine seq 5: the next entry's prev breaks.
  t = lines;
  t[4] = good;
  write_lines(log, t);
  expect_tamper(log, 6, 6, "chain broken: prev of seq 6 does not match the hash of seq 5 (line 5)");
  // Garbage in the middle.
  t = lines;
  t.insert(t.begin() + 2, "not json at all");
  write_lines(log, t);
  expect_tamper(log, 3, 3, "malformed");
}

TEST(AuditCli, ConcurrentWritersKeepTheChain) {
  TempDir d;
  const int procs = 4, each = 15;
  std::string cmd;
  for (int p = 0; p < procs; ++p)
    cmd += "(for i in $(seq " + std::to_string(each) + "); do " OMAMORI_BINARY " audit --state-dir " + d.path +
           " record --action config.change --subject w" + std::to_string(p) +
           " --reason \"writer " + std::to_string(p) + " entry $i\" >/dev/null || exit 1; done) & ";
  cmd += "wait";
  int rc = std::system(("env -u OMAMORI_ACTOR -u OMAMORI_STATE_DIR bash -c '" + cmd + "'").c_str());
  ASSERT_EQ(rc, 0);
  Result r = run_omamori("audit verify --state-dir " + d.path);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("OK, " + std::to_string(procs * each) + " entries"), std::string::npos) << r.out;
  uint64_t manual = 0;
  read_audit(d.path + "/audit.log", [&](const AuditEntry& e) {
    if (e.event.detail.value("manual", false) && e.event.action == "config.change") ++manual;
  });
  EXPECT_EQ(manual, static_cast<uint64_t>(procs * each));
}

TEST(AuditCli, ShowNeedsReadAuditAndDenialsAreAudited) {
  TempDir d;
  make_log(d.path + "/audit.log", 5);
  std::ofstream(d.path + "/roles.toml") << "[roles]\nalice = [\"analyst\", \"notifier\"]\nbob = [\"auditor\"]\n";
  std::string sd = " --state-dir " + d.path;
  Result r = run_omamori("audit" + sd + " show", "OMAMORI_ACTOR=alice");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("access denied: alice may not read-audit"), std::string::npos) << r.out;
  r = run_omamori("audit" + sd + " --role auditor show", "OMAMORI_ACTOR=alice");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("alice does not hold the role auditor"), std::string::npos) << r.out;
  // bob may read; both denials are in the log, which still verifies.
  r = run_omamori("audit" + sd + " show --action access --format jsonl", "OMAMORI_ACTOR=bob");
  ASSERT_EQ(r.code, 0) << r.out;
  auto out = omamori::test::lines(r.out);
  ASSERT_EQ(out.size(), 2u) << r.out;
  for (const auto& l : out) {
    auto j = nlohmann::json::parse(l);
    EXPECT_EQ(j["actor"], "alice");
    EXPECT_EQ(j["action"], "access.denied");
    EXPECT_EQ(j["detail"]["attempted"], "audit.show");
    EXPECT_EQ(j["detail"]["permission"], "read-audit");
  }
  r = run_omamori("audit" + sd + " show --actor alice --action identity --limit 2", "OMAMORI_ACTOR=bob");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(omamori::test::lines(r.out).size(), 3u) << r.out;  // header + 2
  r = run_omamori("audit" + sd + " show --since 2999-01-01T00:00:00Z --format jsonl", "OMAMORI_ACTOR=bob");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(run_omamori("audit verify" + sd).code, 0);
  // Somebody without any role cannot even record.
  r = run_omamori("audit" + sd + " record --action login --reason x", "OMAMORI_ACTOR=mallory");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("mallory holds no role"), std::string::npos) << r.out;
}

TEST(AuditCli, PrivacySectionOfTheConfigFile) {
  TempDir d;
  std::string sd = d.path + "/state";
  make_log(sd + "/audit.log", 3);
  std::ofstream(d.path + "/omamori.toml") << "[privacy]\nstate_dir = \"" << sd << "\"\n";
  Result r = run_omamori("-c " + d.path + "/omamori.toml audit verify");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(sd + "/audit.log: OK, 3 entries"), std::string::npos) << r.out;
  // A flag beats the config file.
  r = run_omamori("-c " + d.path + "/omamori.toml audit --state-dir " + d.path + "/none verify");
  EXPECT_EQ(r.code, 1) << r.out;
  // And the environment: OMAMORI_STATE_DIR.
  r = run_omamori("audit verify", "OMAMORI_STATE_DIR=" + sd);
  EXPECT_EQ(r.code, 0) << r.out;
}
