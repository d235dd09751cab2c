// `omamori notify` end to end: the binary, a TOML configuration, a real SMTP
// server (aiosmtpd) and the outbox.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "notify/render.hpp"
#include "notify/request_json.hpp"
#include "notify/test_peer.hpp"
#include "test_support/run.hpp"

using namespace omamori;
using namespace omamori::notify;
using namespace omamori::notify::test;
namespace fs = std::filesystem;

namespace {

const std::string kPython = "/usr/bin/python3";
const std::string kSink = std::string(OMAMORI_TESTDATA) + "/smtp_sink.py";

struct Result {
  int code;
  std::string out;
};

// Runs the omamori binary; stdout and stderr together, and the exit code.
Result cli(const std::string& args) {
  std::string cmd = std::string(OMAMORI_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

}  // namespace

TEST(NotifyCli, RenderSampleAndCheckTemplates) {
  Result r = cli("notify render --sample");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("Subject: 【重要】【ご利用のプロバイダ】"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2024年5月1日 21:00"), std::string::npos);
  r = cli("notify render --sample --language en --format json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["language"], "en");
  r = cli("notify render --sample --format mime");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("Content-Transfer-Encoding: base64\r\n"), std::string::npos);

  r = cli("notify check");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("ja: ok"), std::string::npos);
  EXPECT_NE(r.out.find("en: ok"), std::string::npos);
  EXPECT_NE(r.out.find("[notify.isp] name is not set"), std::string::npos) << r.out;

  fs::path d = unique_dir("notify-cli");
  fs::create_directories(d / "ja");
  std::ofstream(d / "ja" / "warning.txt") << "Subject: x\n\n{{#if has_c2}}\nC&C\n{{/fi}}\n";
  r = cli("notify check --templates " + d.string());
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("warning.txt:5:1: {{/fi}} closes {{#if}} opened at line 3"), std::string::npos) << r.out;
  fs::remove_all(d);
}

TEST(NotifyCli, SendByMailFromAConfigFileAndThroughTheOutbox) {
  fs::path d = unique_dir("notify-cli");
  fs::create_directories(d / "mail");
  Peer sink({kPython, kSink, (d / "mail").string()});
  std::ofstream(d / "omamori.toml") << "[notify]\n"
                                    << "outbox = \"" << (d / "outbox").string() << "\"\n"
                                    << "[notify.isp]\nname = \"おまもりネット\"\nphone = \"0120-000-000\"\n"
                                    << "[notify.smtp]\nhost = \"127.0.0.1\"\nport = " << sink.port() << "\n"
                                    << "starttls = \"off\"\nfrom = \"abuse@isp.example\"\n";
  WarningRequest a = sample_request();
  a.email = "taro@example.jp";
  WarningRequest b = sample_request();
  b.case_id = 43;
  b.email = "hanako@example.jp";
  b.language = "en";
  std::ofstream(d / "requests.jsonl") << request_to_json(a) << "\n" << request_to_json(b) << "\n";
  std::string conf = "-c " + (d / "omamori.toml").string() + " ";

  Result r = cli(conf + "notify send --channel smtp --request " + (d / "requests.jsonl").string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("case 42 smtp: sent <omamori.42."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("case 43 smtp: sent <omamori.43."), std::string::npos) << r.out;
  auto mails = wait_for_mail(d / "mail", 2);
  ASSERT_EQ(mails.size(), 2u);
  std::set<std::string> rcpts;
  for (const auto& m : mails) rcpts.insert(slurp(fs::path(m).replace_extension(".env")));
  EXPECT_TRUE(rcpts.count("from abuse@isp.example\nto taro@example.jp\n"));
  EXPECT_TRUE(rcpts.count("from abuse@isp.example\nto hanako@example.jp\n"));

  // Queued: the recipient is refused first, visible in the list, then sent.
  std::ofstream(d / "mail" / "reject") << "taro@example.jp\n";
  r = cli(conf + "notify send --queue --channel smtp --request " + (d / "requests.jsonl").string());
  ASSERT_EQ(r.code, 0) << r.out;
  r = cli(conf + "notify outbox run");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("attempted 2 sent 1 retry-later 1 failed 0"), std::string::npos) << r.out;
  r = cli(conf + "notify outbox list --state pending --format jsonl");
  ASSERT_EQ(r.code, 0) << r.out;
  auto lines = omamori::test::lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["case_id"], 42);
  EXPECT_EQ(j["attempts"], 1);
  EXPECT_NE(j["last_error"].get<std::string>().find("550"), std::string::npos);
  r = cli(conf + "notify outbox list");
  EXPECT_NE(r.out.find("pending"), std::string::npos);
  EXPECT_NE(r.out.find("sent"), std::string::npos);

  r = cli(conf + "notify send --channel smtp --request " + (d / "requests.jsonl").string());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("case 42 smtp: FAILED"), std::string::npos) << r.out;

  r = cli(conf + "notify send --channel webhook --request " + (d / "requests.jsonl").string());
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("notify.webhook.url is not set"), std::string::npos) << r.out;
  fs::remove_all(d);
}
