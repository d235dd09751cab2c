#include "notify/render.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "notify/config.hpp"
#include "notify/request_json.hpp"

using namespace omamori;
using namespace omamori::notify;
namespace fs = std::filesystem;

namespace {

NotifyConfig config() {
  NotifyConfig c;
  c.isp[""] = IspContact{"おまもりネット", "0120-000-000", "https://isp.example/security", "", "平日 9:00〜18:00"};
  c.isp["en"] = IspContact{"Omamori Net", "", "", "", "weekdays 9:00-18:00 JST"};
  return c;
}

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("notify-render-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

}  // namespace

TEST(Render, JapaneseWarningSaysWhatWhenAndWhatToDo) {
  WarningRequest r = sample_request();  // first finding 2024-05-01T12:00Z = 21:00 JST
  RenderedWarning w = render_warning(r, TemplateSet::bundled(), config());
  EXPECT_EQ(w.language, "ja");
  EXPECT_EQ(w.subject, "【重要】【おまもりネット】お客様の機器がウイルスに感染しているおそれがあります（お問い合わせ番号 OM-42）");
  const std::string& b = w.body;
  EXPECT_NE(b.find("期間: 2024年5月1日 21:00 ～ 22:15"), std::string::npos) << b;
  EXPECT_NE(b.find("・2024年5月1日 21:00 ～ 21:25\n  C&Cサーバ"), std::string::npos) << b;
  EXPECT_NE(b.find("通信先の名前: cnc[.]mirai-sample[.]example"), std::string::npos);
  EXPECT_NE(b.find("ウイルスの種類（推定）: mirai"), std::string::npos);
  EXPECT_NE(b.find("C&C（コマンド・アンド・コントロール）サーバとは"), std::string::npos);
  EXPECT_NE(b.find("テイクダウン"), std::string::npos);
  for (const char* step : {"再起動", "初期設定のID・パスワードを変更", "ファームウェア", "遠隔管理機能", "初期化"})
    EXPECT_NE(b.find(step), std::string::npos) << step;
  EXPECT_NE(b.find("電話: 0120-000-000（受付時間: 平日 9:00〜18:00）"), std::string::npos);
  EXPECT_NE(b.find("ウイルス感染が疑われる通信"), std::string::npos);  // the unknown finding type
  EXPECT_EQ(b.find("udp-flood"), std::string::npos) << "an attack vector is not a malware family";
  // Minimisation: no subscriber address, no flow peer, no listed non-C&C name.
  EXPECT_EQ(b.find("192.0.2.10"), std::string::npos);
  EXPECT_EQ(b.find("198.51.100.7"), std::string::npos);
  EXPECT_EQ(b.find("malware-sample"), std::string::npos);
  EXPECT_EQ(b.find("x1b3k9qz"), std::string::npos);
  EXPECT_EQ(b.find("{{"), std::string::npos);
  EXPECT_EQ(b.find("\n\n\n"), std::string::npos) << "block tags left empty lines";
}

TEST(Render, EnglishWarningUsesUtcAndPerLanguageContact) {
  WarningRequest r = sample_request();
  r.language = "en-GB";
  r.severity = "medium";
  RenderedWarning w = render_warning(r, TemplateSet::bundled(), config());
  EXPECT_EQ(w.language, "en");
  EXPECT_EQ(w.subject, "[Omamori Net] A device on your connection may be infected with malware (reference OM-42)");
  EXPECT_NE(w.body.find("Period: 2024-05-01 12:00 to 13:15 UTC"), std::string::npos) << w.body;
  EXPECT_NE(w.body.find("Name of the server: cnc[.]mirai-sample[.]example"), std::string::npos);
  EXPECT_NE(w.body.find("What is a C&C server?"), std::string::npos);
  EXPECT_NE(w.body.find("Turn off remote administration"), std::string::npos);
  EXPECT_NE(w.body.find("Web: https://isp.example/security"), std::string::npos);  // from the base [notify.isp]
  // [notify.isp.en] sets no phone: the base one is kept, with the en hours.
  EXPECT_NE(w.body.find("Phone: 0120-000-000 (weekdays 9:00-18:00 JST)"), std::string::npos);
}

TEST(Render, LanguageFallbackAndLimits) {
  NotifyConfig c = config();
  WarningRequest r = sample_request();
  r.language = "ko";
  EXPECT_EQ(choose_language(r.language, TemplateSet::bundled(), c), "ja");
  c.default_language = "en";
  EXPECT_EQ(choose_language("", TemplateSet::bundled(), c), "en");
  c.max_findings = 2;
  r.language = "en";
  RenderedWarning w = render_warning(r, TemplateSet::bundled(), c);
  EXPECT_NE(w.body.find("And 7 more event(s)"), std::string::npos) << w.body;
}

TEST(Render, HostileFeedValuesCannotForgeText) {
  WarningRequest r = sample_request();
  r.language = "en";
  r.findings.resize(1);
  r.findings[0].family = "mirai\nCall +1-555-SCAM now";
  r.findings[0].indicator = "evil.example\nVisit http://phish";
  RenderedWarning w = render_warning(r, TemplateSet::bundled(), config());
  EXPECT_EQ(w.body.find("SCAM"), std::string::npos);
  EXPECT_EQ(w.body.find("phish"), std::string::npos);
  EXPECT_EQ(w.body.find("Probable kind of malware"), std::string::npos);
}

TEST(Render, ShownDestinationOnlyForCncNames) {
  Finding f;
  f.type = "reputation-dns";
  f.category = "c2";
  f.indicator = "CNC.Example.NET";
  EXPECT_EQ(shown_destination(f), "cnc[.]example[.]net");
  f.indicator = "203.0.113.5";
  EXPECT_EQ(shown_destination(f), "");
  f.indicator = "2001:db8::1";
  EXPECT_EQ(shown_destination(f), "");
  f.indicator = "203.0.113.5:23";
  EXPECT_EQ(shown_destination(f), "");
  f.indicator = "cnc.example";
  f.category = "phishing";
  EXPECT_EQ(shown_destination(f), "");
  f.category = "c2";
  f.type = "c2-candidate";
  EXPECT_EQ(shown_destination(f), "");
}

TEST(Render, TimesInJapanAndUtc) {
  // 2024-12-31T15:30:00Z is 2025-01-01 00:30 in Japan.
  EXPECT_EQ(format_warning_time(1735659000000, "ja"), "2025年1月1日 00:30");
  EXPECT_EQ(format_warning_time(1735659000000, "en"), "2024-12-31 15:30 UTC");
}

TEST(Render, OperatorTemplatesOverrideAndReportErrors) {
  fs::path d = temp_dir();
  write(d / "ja" / "warning.txt", "Subject: 注意 {{reference}}\n\n{{isp_name}} 様式 {{period}}\n");
  TemplateSet s = TemplateSet::load(d.string());
  RenderedWarning w = render_warning(sample_request(), s, config());
  EXPECT_EQ(w.subject, "注意 OM-42");
  EXPECT_EQ(w.body, "おまもりネット 様式 2024年5月1日 21:00 ～ 22:15\n");
  EXPECT_NE(s.find("en"), nullptr) << "languages not overridden stay bundled";

  write(d / "ja" / "warning.txt", "Subject: x\n\nline 3\n{{#each findings}}\n{{destinaton}}\n{{/each}}\n");
  try {
    TemplateSet::load(d.string());
    FAIL();
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.line, 5);
    EXPECT_NE(std::string(e.what()).find("warning.txt:5:1: unknown variable 'destinaton'"), std::string::npos) << e.what();
  }
  write(d / "ja" / "warning.txt", "Hello\n\nbody\n");
  EXPECT_THROW(TemplateSet::load(d.string()), TemplateError);
  write(d / "ja" / "warning.txt", "Subject: a\nnot empty\n");
  EXPECT_THROW(TemplateSet::load(d.string()), TemplateError);
  EXPECT_THROW(TemplateSet::load((d / "missing").string()), std::runtime_error);
  fs::remove_all(d);
}

TEST(Render, SubjectLineBreakFromConfigIsRejected) {
  // clean_line turns control characters in values into spaces, so the only
  // way a break could enter is the template; a value cannot inject a header.
  NotifyConfig c = config();
  c.isp[""].name = "ISP\r\nBcc: victim@example";
  RenderedWarning w = render_warning(sample_request(), TemplateSet::bundled(), c);
  EXPECT_EQ(w.subject.find('\n'), std::string::npos);
  EXPECT_EQ(w.subject.find('\r'), std::string::npos);
}

TEST(Config, ReadsNotifyTablesAndRejectsUnknownKeys) {
  NotifyConfig c = notify_config_from_toml(R"toml(
[flows]
other = 1
[notify]
default_language = "en"
max_attempts = 3
retry_base_seconds = 60
[notify.isp]
name = "Example ISP"
phone = "0120-1"
[notify.isp.en]
name = "Example ISP (EN)"
[notify.smtp]
host = "::1"
port = 2525
starttls = "required"
from = "Example <abuse@isp.example>"
[notify.csv]
path = "/tmp/x.csv"
bom = true
)toml");
  EXPECT_EQ(c.default_language, "en");
  EXPECT_EQ(c.retry.max_attempts, 3);
  EXPECT_EQ(c.retry.delay_after(1), 60000);
  EXPECT_EQ(c.retry.delay_after(3), 240000);
  EXPECT_EQ(c.retry.delay_after(40), c.retry.max_ms);
  EXPECT_EQ(c.isp_for("en").name, "Example ISP (EN)");
  EXPECT_EQ(c.isp_for("en").phone, "0120-1");
  EXPECT_EQ(c.isp_for("ja").name, "Example ISP");
  EXPECT_EQ(c.smtp.port, 2525);
  EXPECT_TRUE(c.csv.bom);
  EXPECT_THROW(notify_config_from_toml("[notify.smtp]\npasword_file = \"x\"\n"), std::runtime_error);
  EXPECT_THROW(notify_config_from_toml("[notify.smtp]\nport = 70000\n"), std::runtime_error);
  EXPECT_THROW(notify_config_from_toml("[notify.smtp]\nstarttls = \"maybe\"\n"), std::runtime_error);
  EXPECT_THROW(notify_config_from_toml("[notify]\ntemplates = 3\n"), std::runtime_error);
  EXPECT_THROW(notify_config_from_toml("[notify\n"), std::runtime_error);
}

TEST(RequestJson, RoundTripAndErrors) {
  WarningRequest r = sample_request();
  WarningRequest b = request_from_json(request_to_json(r));
  EXPECT_EQ(b.case_id, r.case_id);
  EXPECT_EQ(b.email, r.email);
  EXPECT_EQ(b.first_seen, r.first_seen);
  ASSERT_EQ(b.findings.size(), r.findings.size());
  EXPECT_EQ(b.findings[0].indicator, r.findings[0].indicator);
  EXPECT_EQ(b.findings[0].host, r.findings[0].host);
  EXPECT_EQ(b.findings[0].last, r.findings[0].last);
  EXPECT_EQ(request_to_json(b), request_to_json(r));
  EXPECT_THROW(request_from_json("{"), std::invalid_argument);
  EXPECT_THROW(request_from_json("[]"), std::invalid_argument);
  EXPECT_THROW(request_from_json(R"({"case_id":"1"})"), std::invalid_argument);
  EXPECT_THROW(request_from_json(R"({"case_id":1,"findings":[{"type":"dga","host":"nope"}]})"), std::invalid_argument);
  EXPECT_THROW(request_from_json(R"({"case_id":1,"findings":[{"type":"dga","first":"yesterday"}]})"), std::invalid_argument);
  EXPECT_THROW(request_from_json(R"({"case_id":1,"findings":[{"type":"dga","confidence":101}]})"), std::invalid_argument);
}
