#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "privacy/audit.hpp"
#include "privacy/fileutil.hpp"
#include "privacy/test_util.hpp"
#include "test_support/run.hpp"

using namespace omamori::privacy;
using namespace omamori::privacy::testing;

namespace {

AuditEvent ev(int i) {
  return {"alice", "notifier", "identity.reveal", "sub-" + std::to_string(i), "warning for case " + std::to_string(i),
          {{"case", i}, {"addr", "192.0.2.1"}}};
}

std::vector<std::string> file_lines(const std::string& path) {
  std::string text;
  EXPECT_TRUE(read_file(path, text));
  return omamori::test::lines(text);
}

}  // namespace

TEST(Audit, AppendChainsAndVerifies) {
  TempDir d;
  std::string path = d.path + "/log/audit.log";
  AuditLog log(path);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(log.append(ev(i)), static_cast<uint64_t>(i));
  // A second writer object continues the same chain.
  EXPECT_EQ(AuditLog(path).append({"bob", "admin", "config.change", "retention", "shorter", nullptr}), 6u);

  auto lines = file_lines(path);
  ASSERT_EQ(lines.size(), 6u);
  std::string prev(64, '0');
  for (size_t i = 0; i < lines.size(); ++i) {
    auto j = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(j["seq"], i + 1);
    EXPECT_EQ(j["prev"], prev);
    // hash = SHA-256 of the line without its hash member.
    std::string body = lines[i].substr(0, lines[i].rfind(",\"hash\":")) + "}";
    EXPECT_EQ(j["hash"], sha256_hex(body));
    EXPECT_EQ(lines[i].substr(0, 7), "{\"seq\":");
    prev = j["hash"];
  }
  auto e = parse_audit_line(lines[0]);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->event.actor, "alice");
  EXPECT_EQ(e->event.reason, "warning for case 1");
  EXPECT_EQ(e->event.detail["case"], 1);
  EXPECT_EQ(e->time.size(), 24u);
  EXPECT_EQ(e->time.back(), 'Z');

  auto head = read_audit_head(path);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->seq, 6u);
  EXPECT_EQ(head->hash, prev);

  VerifyResult r = verify_audit(path);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.entries, 6u);
  EXPECT_EQ(r.last_hash, prev);
  EXPECT_TRUE(verify_audit(path, {{3, nlohmann::json::parse(lines[2])["hash"]}}).ok);
  auto bad_anchor = verify_audit(path, {{3, std::string(64, 'a')}});
  EXPECT_FALSE(bad_anchor.ok);
  EXPECT_EQ(bad_anchor.bad_seq, 3u);
  EXPECT_NE(bad_anchor.problem.find("anchor mismatch"), std::string::npos);

  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(AuditLog::head_path(path).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Shared with an operators' group: the head, replaced on every append, follows the log's mode.
  ASSERT_EQ(chmod(path.c_str(), 0660), 0);
  log.append(ev(7));
  ASSERT_EQ(stat(AuditLog::head_path(path).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST(Audit, OddContentStillVerifies) {
  TempDir d;
  std::string path = d.path + "/audit.log";
  AuditLog log(path);
  log.append({"al\"ice\n", "", "export", std::string("bad utf8 \xff\xfe", 12), "", {{"x", 1.5e300}, {"y", "\u00e9"}}});
  log.append({"", "", "login", "", std::string(1000, 'r'), nlohmann::json::array({1, "two", nullptr})});
  VerifyResult r = verify_audit(path);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.entries, 2u);
  EXPECT_THROW(log.append({"a", "b", "", "", "", nullptr}), std::invalid_argument);
  EXPECT_THROW(log.append({"a", "b", "x", "", "", {{"big", std::string(AuditLog::kMaxDetailBytes, 'x')}}}),
               std::invalid_argument);
}

TEST(Audit, EmptyAndMissing) {
  TempDir d;
  std::string path = d.path + "/audit.log";
  EXPECT_FALSE(verify_audit(path).ok);  // no log at all
  std::ofstream(path).close();
  EXPECT_TRUE(verify_audit(path).ok);  // an empty log without head is a fresh one
}

TEST(Audit, RefusesToExtendABrokenTail) {
  TempDir d;
  std::string path = d.path + "/audit.log";
  AuditLog log(path);
  for (int i = 1; i <= 4; ++i) log.append(ev(i));
  auto lines = file_lines(path);
  // Cut the last entry off: appending now would hide the cut, so it is refused.
  std::ofstream(path, std::ios::trunc) << lines[0] << "\n" << lines[1] << "\n" << lines[2] << "\n";
  EXPECT_THROW(log.append(ev(5)), AuditError);
  auto r = verify_audit(path);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.bad_seq, 4u);
  EXPECT_NE(r.problem.find("truncated"), std::string::npos) << r.problem;
  // An unterminated last line is refused too.
  std::ofstream(path, std::ios::trunc) << lines[0] << "\n" << lines[1].substr(0, 30);
  EXPECT_THROW(log.append(ev(5)), AuditError);
  // The head removed: refused.
  std::ofstream(path, std::ios::trunc) << lines[0] << "\n";
  std::filesystem::remove(AuditLog::head_path(path));
  EXPECT_THROW(log.append(ev(5)), AuditError);
}

TEST(Audit, HeadOneBehindIsAnInterruptedAppend) {
  TempDir d;
  std::string path = d.path + "/audit.log";
  AuditLog log(path);
  for (int i = 1; i <= 3; ++i) log.append(ev(i));
  std::string head3;
  ASSERT_TRUE(read_file(AuditLog::head_path(path), head3));
  log.append(ev(4));
  // As if the process died between writing entry 4 and replacing the head.
  replace_file(AuditLog::head_path(path), head3);
  VerifyResult r = verify_audit(path);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_NE(r.note.find("one entry behind"), std::string::npos);
  EXPECT_EQ(log.append(ev(5)), 5u);  // and appending goes on
  EXPECT_TRUE(verify_audit(path).ok);
  EXPECT_TRUE(verify_audit(path).note.empty());
}

TEST(Audit, CheckLineRejectsMalformed) {
  AuditEntry e;
  EXPECT_NE(check_audit_line("", e).find("malformed"), std::string::npos);
  EXPECT_NE(check_audit_line("{}", e).find("malformed"), std::string::npos);
  std::string h(64, 'a');
  EXPECT_NE(check_audit_line("{\"seq\":1,\"hash\":\"" + h + "\"}", e).find("malformed: member 2"), std::string::npos);
  EXPECT_NE(check_audit_line("[1,\"hash\":\"" + h + "\"}", e).find("malformed"), std::string::npos);
}
