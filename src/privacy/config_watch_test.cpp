// Configuration changes reach the audit log: first sight, edits and removal
// of the config and roles files, each once, whoever made them; commands that
// check access notice them.
#include "privacy/config_watch.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "privacy/audit.hpp"
#include "privacy/test_util.hpp"

using namespace omamori::privacy;
using namespace omamori::privacy::testing;

namespace {

std::vector<AuditEntry> entries(const std::string& log) {
  std::vector<AuditEntry> v;
  read_audit(log, [&](const AuditEntry& e) { v.push_back(e); });
  return v;
}

}  // namespace

TEST(ConfigWatch, FirstSightEditsAndRemovalAreAuditedOnce) {
  TempDir d;
  const std::string log = d.path + "/audit.log", roles = d.path + "/roles.toml", cfg = d.path + "/omamori.toml";
  std::ofstream(roles) << "[roles]\nalice = [\"analyst\"]\n";
  std::ofstream(cfg) << "[privacy]\n";

  auto c = note_config_changes(d.path, log, {cfg, roles, ""}, "root");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_TRUE(c[0].before.empty());
  EXPECT_EQ(c[0].after.size(), 64u);
  auto e = entries(log);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].event.action, "config.change");
  EXPECT_EQ(e[0].event.actor, "omamori");
  EXPECT_EQ(e[0].event.detail["change"], "first seen");
  EXPECT_EQ(e[1].event.subject, roles);
  EXPECT_EQ(e[1].event.detail["noticed_by"], "root");

  // Nothing changed: nothing recorded.
  EXPECT_TRUE(note_config_changes(d.path, log, {cfg, roles}, "root").empty());
  EXPECT_EQ(entries(log).size(), 2u);

  // An edit (alice made admin by hand) is recorded with both hashes.
  std::ofstream(roles, std::ios::app) << "bob = [\"admin\"]\n";
  c = note_config_changes(d.path, log, {cfg, roles}, "alice");
  ASSERT_EQ(c.size(), 1u);
  e = entries(log);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[2].event.detail["change"], "modified");
  EXPECT_EQ(e[2].event.detail["before"], c[0].before);
  EXPECT_EQ(e[2].event.detail["after"], c[0].after);
  EXPECT_NE(c[0].before, c[0].after);
  EXPECT_EQ(e[2].event.detail["noticed_by"], "alice");

  // Removal, once.
  std::filesystem::remove(roles);
  c = note_config_changes(d.path, log, {cfg, roles}, "root");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_TRUE(c[0].after.empty());
  EXPECT_EQ(entries(log).back().event.detail["change"], "removed");
  EXPECT_TRUE(note_config_changes(d.path, log, {cfg, roles}, "root").empty());
  EXPECT_TRUE(verify_audit(log).ok);
}

TEST(ConfigWatch, NoStateDirectoryNoRecord) {
  TempDir d;
  std::ofstream(d.path + "/r.toml") << "[roles]\n";
  EXPECT_TRUE(note_config_changes(d.path + "/missing", d.path + "/missing/audit.log", {d.path + "/r.toml"}, "root")
                  .empty());
  EXPECT_FALSE(std::filesystem::exists(d.path + "/missing"));
}

TEST(ConfigWatch, CommandsThatCheckAccessNoticeAHandEditedRolesFile) {
  TempDir d;
  std::ofstream(d.path + "/roles.toml") << "[roles]\nalice = [\"analyst\"]\n";
  Result r = run_omamori("audit show --state-dir " + d.path);
  ASSERT_EQ(r.code, 0) << r.out;
  std::ofstream(d.path + "/roles.toml", std::ios::trunc) << "[roles]\nalice = [\"admin\"]\n";
  r = run_omamori("audit show --state-dir " + d.path);
  ASSERT_EQ(r.code, 0) << r.out;
  auto e = entries(d.path + "/audit.log");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].event.detail["change"], "first seen");
  EXPECT_EQ(e[1].event.detail["change"], "modified");
  EXPECT_EQ(e[1].event.subject, d.path + "/roles.toml");
}
