// `omamori subscribers` and `omamori cases` run as programs against a
// database that the test fills through the library (ingest has no command:
// the integrator wires it to the session index), on SQLite and PostgreSQL.
#include <sys/wait.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cases/cases_fixture.hpp"
#include "test_support/run.hpp"

namespace omamori::cases::testing {
namespace {

struct Out {
  int status = -1;
  std::string out;
};

Out omamori_cmd(const std::string& args, const std::string& env = "") {
  Out r;
  std::string cmd = env + " " + std::string(OMAMORI_BINARY) + " " + args + " 2>&1";
  std::FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class CasesCli : public CasesTest {};

TEST_P(CasesCli, ImportListShowMoveAndDryRun) {
  auto state = std::filesystem::temp_directory_path() /
               ("omamori-cases-cli-" + std::to_string(getpid()) + "-" + engine_name({GetParam(), 0}));
  std::filesystem::remove_all(state);
  std::filesystem::create_directories(state);
  std::ofstream(state / "roles.toml") << "[roles]\nana = [\"analyst\"]\n";
  std::string db = " --db '" + url_ + "' --state-dir " + state.string();
  // Import: counts, rejects with line numbers, exit code 3.
  auto imp = omamori_cmd("subscribers import" + db + " " OMAMORI_TESTDATA "/subscribers.csv");
  EXPECT_EQ(imp.status, 3) << imp.out;
  EXPECT_NE(imp.out.find("subscribers.csv:6: bad email"), std::string::npos) << imp.out;
  EXPECT_NE(imp.out.find("4 accepted (4 new, 0 updated, 0 unchanged), 7 rejected"), std::string::npos) << imp.out;
  auto st = omamori_cmd("subscribers stats --json" + db);
  ASSERT_EQ(st.status, 0) << st.out;
  EXPECT_EQ(nlohmann::json::parse(st.out)["subscribers"], 7);  // alice, bob, carol from the fixture + 4 new

  int64_t alice = store_->ingest(c2("cnc.example.net", T0), attr("alice"), T0).case_id;
  int64_t carol = store_->ingest(dga("qx.example", T0), attr("carol"), T0).case_id;

  auto list = omamori_cmd("cases list --json" + db);
  ASSERT_EQ(list.status, 0) << list.out;
  auto lines = test::lines(list.out);
  ASSERT_EQ(lines.size(), 2u) << list.out;
  auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["id"], alice);
  // Analysts see pseudonyms, never the subscriber id.
  EXPECT_TRUE(first["subscriber"].get<std::string>().starts_with("sub-")) << first;
  EXPECT_EQ(list.out.find("alice"), std::string::npos);
  // Nobody without a role sees anything (root holds every role by default).
  auto denied = omamori_cmd("cases list" + db, "OMAMORI_ACTOR=eve");
  EXPECT_EQ(denied.status, 1);
  EXPECT_NE(denied.out.find("access denied"), std::string::npos) << denied.out;
  EXPECT_EQ(first["severity"], "high");
  EXPECT_EQ(first["state"], "detected");

  auto manual = omamori_cmd("cases list --queue manual --json" + db);
  ASSERT_EQ(test::lines(manual.out).size(), 1u) << manual.out;
  EXPECT_EQ(nlohmann::json::parse(manual.out)["id"], carol);

  auto dry = omamori_cmd("cases notify --dry-run --json" + db);
  ASSERT_EQ(dry.status, 0) << dry.out;
  ASSERT_EQ(test::lines(dry.out).size(), 1u) << dry.out;
  auto w = nlohmann::json::parse(dry.out);
  EXPECT_EQ(w["case"], alice);
  EXPECT_EQ(w["language"], "ja");
  EXPECT_EQ(w["indicators"][0], "reputation-dns cnc.example.net");
  EXPECT_TRUE(detail(alice).deliveries.empty());  // nothing recorded

  // Sending needs a stated reason; smtp without [notify] settings is a usage error.
  EXPECT_EQ(omamori_cmd("cases notify" + db).status, 2);
  EXPECT_EQ(omamori_cmd("cases notify --reason 'weekly run'" + db).status, 2);
  // An analyst may not send warnings.
  EXPECT_EQ(omamori_cmd("cases notify --reason x" + db, "OMAMORI_ACTOR=ana").status, 1);

  EXPECT_EQ(omamori_cmd("cases ack " + std::to_string(alice) + db).status, 1);  // not notified yet
  auto res = omamori_cmd("cases resolve " + std::to_string(alice) + " --note 'reset by phone'" + db,
                         "OMAMORI_ACTOR=ana");
  ASSERT_EQ(res.status, 0) << res.out;
  EXPECT_NE(res.out.find("resolved"), std::string::npos);
  auto show = omamori_cmd("cases show --json " + std::to_string(alice) + db);
  ASSERT_EQ(show.status, 0) << show.out;
  auto j = nlohmann::json::parse(show.out);
  EXPECT_EQ(j["state"], "resolved");
  ASSERT_EQ(j["history"].size(), 2u);
  EXPECT_EQ(j["history"][1]["actor"], "ana");
  EXPECT_EQ(j["history"][1]["note"], "reset by phone");
  EXPECT_EQ(j["evidence"][0]["finding"]["indicator"], "cnc.example.net");
  EXPECT_EQ(omamori_cmd("cases show 999999" + db).status, 1);

  Attribution none;
  store_->ingest(c2("cnc.example.net", T0), none, T0);
  auto un = omamori_cmd("cases unattributed --json" + db);
  ASSERT_EQ(test::lines(un.out).size(), 1u) << un.out;
  EXPECT_EQ(nlohmann::json::parse(un.out)["occurrences"], 1);
  auto stats = omamori_cmd("cases stats --json" + db);
  auto sj = nlohmann::json::parse(stats.out);
  EXPECT_EQ(sj["manual_queue"], 1);
  EXPECT_EQ(sj["by_state"]["resolved"], 1);
  EXPECT_EQ(sj["unattributed"], 1);

  // The import and the denials are in the audit trail.
  std::ifstream log(state / "audit.log");
  std::string audit((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(audit.find("subscribers.import"), std::string::npos) << audit;
  EXPECT_NE(audit.find("access.denied"), std::string::npos) << audit;
  std::filesystem::remove_all(state);
}

TEST_P(CasesCli, StateDirDefaultAndBadUrl) {
  if (GetParam() != store::Backend::kSqlite) GTEST_SKIP() << "state dir is for SQLite";
  auto dir = std::filesystem::temp_directory_path() / ("omamori-state-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  auto r = omamori_cmd("cases stats --state-dir " + dir.string());
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir / "omamori.db"));
  auto env = omamori_cmd("cases stats", "OMAMORI_STATE_DIR=" + (dir / "env").string());
  EXPECT_EQ(env.status, 0) << env.out;
  EXPECT_TRUE(std::filesystem::exists(dir / "env" / "omamori.db"));
  EXPECT_EQ(omamori_cmd("cases list --db mysql://x/y").status, 1);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Engines, CasesCli, ::testing::Values(store::Backend::kSqlite, store::Backend::kPostgres),
                         engine_name);

}  // namespace
}  // namespace omamori::cases::testing
