// Retention on real files with set modification times, hooks, the audited CLI run.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "privacy/audit.hpp"
#include "privacy/retention.hpp"
#include "privacy/test_util.hpp"

using namespace omamori;
using namespace omamori::privacy;
using namespace omamori::privacy::testing;

namespace {

constexpr TimeMs kDay = 86400000;

// Creates a file of `size` bytes whose mtime is `age_days` before now.
void make_file(const std::string& path, double age_days, size_t size = 100) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << std::string(size, 'x');
  TimeMs t = now_ms() - static_cast<TimeMs>(age_days * kDay);
  struct timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = t / 1000;
  ts[0].tv_nsec = ts[1].tv_nsec = (t % 1000) * 1000000;
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << path;
}

bool exists(const std::string& p) {
  struct stat st;
  return lstat(p.c_str(), &st) == 0;
}


}  // namespace

TEST(Retention, PolicyValidation) {
  RetentionPolicy p;
  EXPECT_NO_THROW(p.validate());
  p.audit_days = 179;
  try {
    p.validate();
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("audit_days = 179"), std::string::npos) << e.what();
  }
  p.audit_days = 180;
  p.raw_telemetry_days = 0;
  EXPECT_THROW(p.validate(), std::invalid_argument);
  p.raw_telemetry_days = 7;
  EXPECT_EQ(p.cutoff(DataKind::kRawTelemetry, 100 * kDay), 93 * kDay);
  EXPECT_EQ(p.cutoff(DataKind::kSessions, 1000 * kDay), 820 * kDay);
  RetentionPolicy short_audit;
  short_audit.audit_days = 30;
  EXPECT_THROW(run_retention(short_audit, now_ms(), false), std::invalid_argument);
}

TEST(Retention, PurgesOldSpoolFilesOnly) {
  TempDir d;
  std::string s1 = d.path + "/pcap", s2 = d.path + "/dnstap";
  make_file(s1 + "/old.pcap", 40, 1000);
  make_file(s1 + "/deep/er/old2.pcapng", 31, 500);
  make_file(s1 + "/new.pcap", 29);
  make_file(s2 + "/old.dnstap", 100, 7);
  make_file(s2 + "/fresh.dnstap", 0);
  make_file(d.path + "/outside/old-target.pcap", 400);
  std::filesystem::create_symlink(d.path + "/outside/old-target.pcap", s1 + "/link.pcap");

  RetentionPolicy p;
  p.raw_telemetry_days = 30;
  p.spool_dirs = {s1, s2, d.path + "/missing"};
  // Dry run: nothing goes.
  auto dry = run_retention(p, now_ms(), true);
  ASSERT_EQ(dry.counts.size(), 3u);
  EXPECT_EQ(dry.counts[0].items, 2u);
  EXPECT_EQ(dry.counts[0].bytes, 1500u);
  EXPECT_EQ(dry.removed_files.size(), 3u);
  EXPECT_TRUE(exists(s1 + "/old.pcap"));
  EXPECT_NE(dry.counts[2].error.find("does not exist"), std::string::npos);
  EXPECT_EQ(dry.errors(), 1u);

  auto r = run_retention(p, now_ms(), false);
  EXPECT_EQ(r.counts[0].items, 2u);
  EXPECT_EQ(r.counts[1].items, 1u);
  EXPECT_EQ(r.counts[1].bytes, 7u);
  EXPECT_FALSE(exists(s1 + "/old.pcap"));
  EXPECT_FALSE(exists(s1 + "/deep/er/old2.pcapng"));
  EXPECT_FALSE(exists(s2 + "/old.dnstap"));
  EXPECT_TRUE(exists(s1 + "/new.pcap"));
  EXPECT_TRUE(exists(s2 + "/fresh.dnstap"));
  // The symlink is neither followed nor deleted.
  EXPECT_TRUE(exists(s1 + "/link.pcap"));
  EXPECT_TRUE(exists(d.path + "/outside/old-target.pcap"));

  // Patterns restrict what is purged.
  make_file(s1 + "/keep.txt", 90);
  make_file(s1 + "/go.pcap", 90);
  p.spool_dirs = {s1};
  p.spool_patterns = {"*.pcap", "*.pcapng"};
  r = run_retention(p, now_ms(), false);
  EXPECT_EQ(r.counts[0].items, 1u);
  EXPECT_TRUE(exists(s1 + "/keep.txt"));
  EXPECT_FALSE(exists(s1 + "/go.pcap"));
}

TEST(Retention, HooksGetTheirKindsCutoff) {
  clear_purge_hooks();
  RetentionPolicy p;
  p.sessions_days = 180;
  p.findings_days = 400;
  p.cases_closed_days = 700;
  TimeMs now = 1000 * kDay;
  std::map<std::string, TimeMs> seen;
  register_purge("sessions.index", [&](TimeMs c) { seen["sessions"] = c; return uint64_t{5}; });
  register_purge("findings", [&](TimeMs c) { seen["findings"] = c; return uint64_t{0}; });
  register_purge("case-store", [&](TimeMs c) { seen["cases"] = c; return uint64_t{2}; });
  register_purge("broken", DataKind::kFindings, [](TimeMs) -> uint64_t { throw std::runtime_error("db locked"); });
  auto dry = run_retention(p, now, true);
  EXPECT_TRUE(seen.empty());  // a dry run calls no hook
  ASSERT_EQ(dry.counts.size(), 4u);
  for (const auto& c : dry.counts) EXPECT_TRUE(c.skipped);

  auto r = run_retention(p, now, false);
  EXPECT_EQ(seen["sessions"], 820 * kDay);
  EXPECT_EQ(seen["findings"], 600 * kDay);
  EXPECT_EQ(seen["cases"], 300 * kDay);
  uint64_t items = 0;
  for (const auto& c : r.counts) {
    items += c.items;
    if (c.what == "broken") {
      EXPECT_EQ(c.error, "db locked");
    }
  }
  EXPECT_EQ(items, 7u);
  EXPECT_EQ(r.errors(), 1u);
  clear_purge_hooks();
}

TEST(Retention, CliRunIsAuditedAndRefusesShortAuditRetention) {
  TempDir d;
  std::string spool = d.path + "/spool";
  make_file(spool + "/a.pcap", 20, 10);
  make_file(spool + "/b.pcap", 5, 10);
  std::string common = "retention --state-dir " + d.path + "/state --spool " + spool;

  Result r = run_omamori(common + " --audit-days 90 run");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("audit_days = 90"), std::string::npos) << r.out;

  r = run_omamori(common + " --raw-telemetry-days 10 run --dry-run --list");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("would delete " + spool + "/a.pcap"), std::string::npos) << r.out;
  EXPECT_TRUE(exists(spool + "/a.pcap"));
  EXPECT_FALSE(exists(d.path + "/state/audit.log"));  // a dry run changes nothing, not even the log

  // Through the [retention] section of a config file.
  std::ofstream(d.path + "/omamori.toml") << "[retention]\nraw_telemetry_days = 10\nspool = [\"" << spool << "\"]\n";
  r = run_omamori("-c " + d.path + "/omamori.toml retention --state-dir " + d.path + "/state run");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(exists(spool + "/a.pcap"));
  EXPECT_TRUE(exists(spool + "/b.pcap"));
  std::vector<AuditEntry> entries;
  read_audit(d.path + "/state/audit.log", [&](const AuditEntry& e) { entries.push_back(e); });
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].event.action, "retention.purge");
  EXPECT_EQ(entries[0].event.actor, "root");
  EXPECT_EQ(entries[0].event.role, "admin");
  EXPECT_EQ(entries[0].event.detail["counts"][0]["items"], 1);
  EXPECT_EQ(entries[0].event.detail["policy"]["raw_telemetry_days"], 10);
  EXPECT_TRUE(verify_audit(d.path + "/state/audit.log").ok);

  // Only admins purge; the denial is audited.
  std::ofstream(d.path + "/state/roles.toml") << "[roles]\nalice = [\"analyst\"]\n";
  r = run_omamori("retention --state-dir " + d.path + "/state run");
  EXPECT_EQ(r.code, 0) << r.out;  // root is not listed: still every role
  r = run_omamori("retention --state-dir " + d.path + "/state run", "OMAMORI_ACTOR=alice");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("alice may not configure"), std::string::npos) << r.out;
  entries.clear();
  read_audit(d.path + "/state/audit.log", [&](const AuditEntry& e) { entries.push_back(e); });
  // The new roles file was noticed (config.change) before the second purge.
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[1].event.action, "config.change");
  EXPECT_EQ(entries[2].event.action, "retention.purge");
  EXPECT_EQ(entries[3].event.action, "access.denied");
  EXPECT_EQ(entries[3].event.actor, "alice");
}
