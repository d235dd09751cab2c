// `omamori dga ...` run as a program: score output (JSON keys, verdicts), eval
// figures, train + score with the trained model, nxdomain findings.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "detect/dga/model.hpp"
#include "detect/dga/train.hpp"

using namespace omamori;
using namespace omamori::dga;

namespace {
const std::string kBin = OMAMORI_BINARY;
const std::string kData = OMAMORI_SHARED_DATA;

struct Run {
  int status = -1;
  std::string out;
};

Run run(const std::string& cmd) {
  Run r;
  std::FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("omamori-dga-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

std::vector<nlohmann::json> json_lines(const std::string& s) {
  std::vector<nlohmann::json> v;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) v.push_back(nlohmann::json::parse(line));
  return v;
}
}  // namespace

TEST(DgaCli, ScoreJsonlKeysAndVerdicts) {
  std::string names = temp_path("names.txt");
  {
    std::ofstream o(names);
    o << "google.com\r\n  kq0qw6o2siwq.org  \n\nxjwqpzkhvbnmtr.com\nwww.wikipedia.org\n\"odd\\name\".com\n"
      << "156.0.16.172.in-addr.arpa\n";
  }
  auto r = run(kBin + " dga score --format jsonl " + names);
  ASSERT_EQ(r.status, 0) << r.out;
  auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 6u) << r.out;  // the empty line is skipped
  std::map<std::string, std::string> verdict;
  for (const auto& j : lines) {
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j.size(), 3u) << j.dump();
    ASSERT_TRUE(j.contains("name") && j.contains("score") && j.contains("verdict")) << j.dump();
    ASSERT_TRUE(j["score"].is_number());
    double s = j["score"];
    EXPECT_GE(s, 0.0);
    EXPECT_LE(s, 1.0);
    std::string v = j["verdict"];
    EXPECT_TRUE(v == "dga" || v == "benign");
    EXPECT_EQ(v == "dga", s >= 0.5) << j.dump();
    verdict[j["name"]] = v;
  }
  EXPECT_EQ(verdict["google.com"], "benign");
  EXPECT_EQ(verdict["www.wikipedia.org"], "benign");
  EXPECT_EQ(verdict["kq0qw6o2siwq.org"], "dga");
  EXPECT_EQ(verdict["xjwqpzkhvbnmtr.com"], "dga");
  EXPECT_EQ(verdict["156.0.16.172.in-addr.arpa"], "benign");
  EXPECT_TRUE(verdict.count("\"odd\\name\".com"));

  // Standard input, and the same scores as the library.
  auto r2 = run("printf 'kq0qw6o2siwq.org\\ngoogle.com\\n' | " + kBin + " dga score -f jsonl");
  ASSERT_EQ(r2.status, 0);
  auto l2 = json_lines(r2.out);
  ASSERT_EQ(l2.size(), 2u);
  std::string err;
  Scorer sc(*Model::builtin(err));
  EXPECT_NEAR(l2[0]["score"].get<double>(), sc.score("kq0qw6o2siwq.org").score, 1e-4);
  EXPECT_NEAR(l2[1]["score"].get<double>(), sc.score("google.com").score, 1e-4);

  auto t = run(kBin + " dga score " + names);
  ASSERT_EQ(t.status, 0);
  EXPECT_NE(t.out.find("SCORE"), std::string::npos);
  EXPECT_NE(t.out.find("dga     kq0qw6o2siwq.org"), std::string::npos) << t.out;

  EXPECT_EQ(run(kBin + " dga score /nonexistent/file 2>/dev/null").status, 1);
  EXPECT_EQ(run(kBin + " dga score --format xml " + names + " 2>/dev/null").status, 2);
}

TEST(DgaCli, EvalPrintsTheHeldOutFigures) {
  auto r = run(kBin + " dga eval --dga " + kData + "/dga/dga_domains.csv --benign " + kData +
               "/dga/benign_domains.csv --zeek-dns " + kData + "/dns/zeek-dns.log.gz");
  ASSERT_EQ(r.status, 0) << r.out;
  Dataset d;
  std::string err;
  ASSERT_TRUE(load_dataset(kData + "/dga/dga_domains.csv", kData + "/dga/benign_domains.csv", d, err));
  auto e = evaluate(*Model::builtin(err), d.test);
  char want[128];
  std::snprintf(want, sizeof want, "precision %.4f recall %.4f F1 %.4f FPR %.4f", e.precision(), e.recall(), e.f1(),
                e.fpr());
  EXPECT_NE(r.out.find(want), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("zeek dns.log"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("flagged as DGA:"), std::string::npos) << r.out;
}

TEST(DgaCli, TrainThenScoreWithTheTrainedModel) {
  // A small labelled set: every 20th name of each file.
  std::string dga = temp_path("dga.txt"), benign = temp_path("benign.txt"), model = temp_path("model.bin");
  for (auto [src, dst] :
       {std::pair{kData + "/dga/dga_domains.csv", dga}, {kData + "/dga/benign_domains.csv", benign}}) {
    std::ifstream in(src);
    std::ofstream out(dst);
    std::string line;
    for (int i = 0; std::getline(in, line); ++i)
      if (i % 20 == 0) out << line << "\n";
  }
  auto r = run(kBin + " dga train --dga " + dga + " --benign " + benign + " --out " + model +
               " --hashed-bits 16 --hashed-epochs 2");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("held-out test part: precision"), std::string::npos) << r.out;
  auto s = run("printf 'xjwqpzkhvbnmtr.com\\ngoogle.com\\n' | " + kBin + " dga score -f jsonl --model " + model);
  ASSERT_EQ(s.status, 0) << s.out;
  auto l = json_lines(s.out);
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0]["verdict"], "dga");
  EXPECT_EQ(l[1]["verdict"], "benign");
  // A broken model file is an error, not a crash.
  {
    std::ofstream o(model, std::ios::binary | std::ios::trunc);
    o << "OMDGAMOD garbage";
  }
  EXPECT_EQ(run("echo google.com | " + kBin + " dga score --model " + model + " 2>/dev/null").status, 1);
  std::filesystem::remove_all(std::filesystem::path(model).parent_path());
}

TEST(DgaCli, NxdomainOverTheZeekLog) {
  auto r = run(kBin + " dga nxdomain " + kData + "/dns/zeek-dns.log.gz 2>&1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("nxdomain: 2097 NXDOMAIN answers"), std::string::npos) << r.out;
}
