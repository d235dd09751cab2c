// E-mail warnings through a real SMTP server (aiosmtpd, Debian
// python3-aiosmtpd) started by the test on 127.0.0.1; the received messages
// are decoded with Python's email package, independently of our encoder.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "notify/channels.hpp"
#include "notify/outbox.hpp"
#include "notify/test_peer.hpp"
#include "test_support/run.hpp"

using namespace omamori;
using namespace omamori::notify;
using namespace omamori::notify::test;
namespace fs = std::filesystem;

namespace {

const std::string kPython = "/usr/bin/python3";
const std::string kSink = std::string(OMAMORI_TESTDATA) + "/smtp_sink.py";
const std::string kReader = std::string(OMAMORI_TESTDATA) + "/read_mail.py";

NotifyConfig smtp_config(int port) {
  NotifyConfig c;
  c.isp[""] = IspContact{"おまもりネット", "0120-000-000", "https://isp.example/security", "", "平日 9:00〜18:00"};
  c.smtp.host = "127.0.0.1";
  c.smtp.port = static_cast<uint16_t>(port);
  c.smtp.starttls = "try";
  c.smtp.from = "おまもりネット セキュリティ窓口 <abuse@isp.example>";
  c.smtp.reply_to = "support@isp.example";
  c.smtp.connect_timeout_seconds = 20;
  c.smtp.timeout_seconds = 60;
  return c;
}

nlohmann::json read_mail(const fs::path& eml) {
  return nlohmann::json::parse(omamori::test::run(kPython + " " + kReader + " " + eml.string()));
}

WarningRequest request_for(const std::string& email, int64_t case_id) {
  WarningRequest r = sample_request();
  r.case_id = case_id;
  r.email = email;
  r.language = "ja";
  return r;
}

}  // namespace

TEST(Smtp, JapaneseWarningArrivesAtTheSubscriber) {
  fs::path d = unique_dir("notify-smtp");
  Peer sink({kPython, kSink, d.string()});
  NotifyConfig cfg = smtp_config(sink.port());
  SmtpSender s(cfg, TemplateSet::bundled());
  DeliveryResult r = s.send(request_for("taro.yamada@example.jp", 42));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.channel, "smtp");
  auto mails = wait_for_mail(d, 1);
  ASSERT_EQ(mails.size(), 1u);
  // Envelope: the subscriber and nobody else.
  std::string env = slurp(fs::path(mails[0]).replace_extension(".env"));
  EXPECT_EQ(env, "from abuse@isp.example\nto taro.yamada@example.jp\n");

  auto m = read_mail(mails[0]);
  EXPECT_EQ(m["to"], "taro.yamada@example.jp");
  EXPECT_EQ(m["from_address"], "abuse@isp.example");
  EXPECT_EQ(m["from_decoded"], "おまもりネット セキュリティ窓口 <abuse@isp.example>");
  EXPECT_EQ(m["reply_to"], "support@isp.example");
  EXPECT_EQ(m["subject"], "【重要】【おまもりネット】お客様の機器がウイルスに感染しているおそれがあります（お問い合わせ番号 OM-42）");
  EXPECT_EQ(m["message_id"], r.message_id);
  EXPECT_EQ(m["content_type"], "text/plain");
  EXPECT_EQ(m["charset"], "utf-8");
  EXPECT_EQ(m["cte"], "base64");
  EXPECT_TRUE(m["defects"].empty()) << m["defects"].dump();
  std::string body = m["body"];
  // The finding's time in Japan time (12:00Z -> 21:00 JST) and the IoT steps.
  EXPECT_NE(body.find("2024年5月1日 21:00"), std::string::npos) << body;
  EXPECT_NE(body.find("時刻はすべて日本時間です"), std::string::npos);
  for (const char* step : {"初期設定のID・パスワードを変更", "ファームウェア", "再起動", "初期化", "遠隔管理機能"})
    EXPECT_NE(body.find(step), std::string::npos) << step;
  EXPECT_NE(body.find("C&C（コマンド・アンド・コントロール）サーバとは"), std::string::npos);
  EXPECT_NE(body.find("電話: 0120-000-000"), std::string::npos);
  EXPECT_EQ(body.find("192.0.2.10"), std::string::npos) << "the subscriber's address is not in the mail";
  // Raw form: the Subject is RFC 2047 encoded, no 8-bit header bytes.
  std::string raw = slurp(mails[0]);
  std::string headers = raw.substr(0, raw.find("\r\n\r\n"));
  EXPECT_NE(headers.find("Subject: =?UTF-8?B?"), std::string::npos);
  for (char c : headers) ASSERT_LT(static_cast<unsigned char>(c), 0x80) << "8-bit byte in the headers";
  fs::remove_all(d);
}

TEST(Smtp, RejectedRecipientIsRecordedAndRetriedLater) {
  fs::path d = unique_dir("notify-smtp");
  Peer sink({kPython, kSink, d.string()});
  std::ofstream(d / "reject") << "hanako@example.jp\n";
  NotifyConfig cfg = smtp_config(sink.port());
  SmtpSender s(cfg, TemplateSet::bundled());

  DeliveryResult r = s.send(request_for("hanako@example.jp", 7));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("550"), std::string::npos) << r.error;

  RetryPolicy p;
  p.max_attempts = 4;
  p.base_ms = 300000;
  Outbox box((d / "outbox").string(), p);
  std::map<std::string, WarningSender*> senders{{"smtp", &s}};
  TimeMs t0 = 1714564800000;
  box.enqueue(request_for("hanako@example.jp", 7), "smtp", t0);
  auto st = box.run(senders, t0);
  EXPECT_EQ(st.deferred, 1u);
  auto pending = box.list("pending");
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].attempts, 1);
  EXPECT_EQ(pending[0].next_attempt, t0 + 300000);
  EXPECT_NE(pending[0].last_error.find("550"), std::string::npos) << pending[0].last_error;
  EXPECT_TRUE(wait_for_mail(d, 0).empty());

  // The mailbox is fixed; the retry at the due time delivers.
  fs::remove(d / "reject");
  EXPECT_EQ(box.run(senders, t0 + 299999).attempted, 0u);
  st = box.run(senders, t0 + 300000);
  EXPECT_EQ(st.sent, 1u);
  auto mails = wait_for_mail(d, 1);
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(read_mail(mails[0])["to"], "hanako@example.jp");
  auto sent = box.list("sent");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].attempts, 2);
  EXPECT_EQ(read_mail(mails[0])["message_id"], sent[0].message_id);
  fs::remove_all(d);
}

TEST(Smtp, ServerDownIsAClearFailure) {
  int port = closed_port();
  NotifyConfig cfg = smtp_config(port);
  SmtpSender s(cfg, TemplateSet::bundled());
  DeliveryResult r = s.send(request_for("taro@example.jp", 1));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("onnect"), std::string::npos) << r.error;  // "Couldn't connect" / "Connection refused"
}

TEST(Smtp, BadRecipientAndConfigurationAreCaught) {
  NotifyConfig cfg = smtp_config(25);
  SmtpSender s(cfg, TemplateSet::bundled());
  DeliveryResult r = s.send(request_for("", 1));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no e-mail address"), std::string::npos);
  r = s.send(request_for("victim@example.jp>\r\nRCPT TO:<other@example.jp", 1));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("malformed"), std::string::npos);

  cfg.smtp.from = "";
  EXPECT_THROW(SmtpSender(cfg, TemplateSet::bundled()), std::invalid_argument);
  cfg = smtp_config(25);
  cfg.smtp.user = "u";
  cfg.smtp.password_file = std::string(OMAMORI_TESTDATA) + "/smtp_password.txt";
  EXPECT_THROW(SmtpSender(cfg, TemplateSet::bundled()), std::invalid_argument) << "AUTH without TLS";
}

TEST(Smtp, StartTlsAndAuthWithAVerifiedCertificate) {
  fs::path d = unique_dir("notify-smtps");
  omamori::test::run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1"
                     " -addext subjectAltName=IP:127.0.0.1 -keyout " + (d / "key.pem").string() + " -out " +
                     (d / "cert.pem").string());
  fs::create_directories(d / "mail");
  Peer sink({kPython, kSink, (d / "mail").string(), "--tls", (d / "cert.pem").string(), (d / "key.pem").string(),
             "--auth", "notifier:s3cret-pass"});
  NotifyConfig cfg = smtp_config(sink.port());
  cfg.smtp.starttls = "required";
  cfg.smtp.ca_file = (d / "cert.pem").string();
  cfg.smtp.user = "notifier";
  std::ofstream(d / "pw") << "s3cret-pass\n";
  cfg.smtp.password_file = (d / "pw").string();
  {
    SmtpSender s(cfg, TemplateSet::bundled());
    DeliveryResult r = s.send(request_for("taro@example.jp", 5));
    ASSERT_TRUE(r.ok) << r.error;
    auto mails = wait_for_mail(d / "mail", 1);
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_EQ(read_mail(mails[0])["to"], "taro@example.jp");
  }
  {
    std::ofstream(d / "pw2") << "wrong\n";
    NotifyConfig bad = cfg;
    bad.smtp.password_file = (d / "pw2").string();
    SmtpSender s(bad, TemplateSet::bundled());
    DeliveryResult r = s.send(request_for("taro@example.jp", 6));
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("535"), std::string::npos) << r.error;
  }
  {
    // Without a CA that vouches for the server, TLS fails: no silent fallback.
    NotifyConfig untrusted = cfg;
    untrusted.smtp.ca_file.clear();
    SmtpSender s(untrusted, TemplateSet::bundled());
    DeliveryResult r = s.send(request_for("taro@example.jp", 8));
    EXPECT_FALSE(r.ok);
  }
  {
    // starttls = off against a server that requires it: refused, not sent in clear.
    NotifyConfig off = cfg;
    off.smtp.starttls = "off";
    off.smtp.user.clear();
    SmtpSender s(off, TemplateSet::bundled());
    DeliveryResult r = s.send(request_for("taro@example.jp", 9));
    EXPECT_FALSE(r.ok);
  }
  EXPECT_EQ(wait_for_mail(d / "mail", 1).size(), 1u);
  fs::remove_all(d);
}
