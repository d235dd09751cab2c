// Webhook warnings to a real HTTP server (cpp-httplib) in the test process on
// 127.0.0.1; the receiver checks the HMAC-SHA256 signature with OpenSSL.
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/hmac.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "notify/channels.hpp"
#include "notify/outbox.hpp"
#include "notify/test_peer.hpp"
#include "notify/text.hpp"

using namespace omamori;
using namespace omamori::notify;
using namespace omamori::notify::test;
namespace fs = std::filesystem;

namespace {

const std::string kSecret = "shared-webhook-secret";

class Receiver {
 public:
  Receiver() {
    svr_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> g(mu_);
      unsigned char mac[EVP_MAX_MD_SIZE];
      unsigned int len = 0;
      HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
           reinterpret_cast<const unsigned char*>(req.body.data()), req.body.size(), mac, &len);
      std::string want = "sha256=" + hex(std::string_view(reinterpret_cast<const char*>(mac), len));
      if (req.get_header_value("X-Omamori-Signature") != want) {
        ++bad_signatures;
        res.status = 401;
        res.set_content("bad signature", "text/plain");
        return;
      }
      bodies.push_back(req.body);
      content_type = req.get_header_value("Content-Type");
      delivery = req.get_header_value("X-Omamori-Delivery");
      if (fail_next > 0) {
        --fail_next;
        res.status = 500;
        res.set_content("database unavailable", "text/plain");
        return;
      }
      res.set_content(R"({"id":"TICKET-1001"})", "application/json");
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
  }
  ~Receiver() {
    svr_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }

  std::mutex mu_;
  std::vector<std::string> bodies;
  std::string content_type, delivery;
  int fail_next = 0;
  int bad_signatures = 0;

 private:
  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
};

NotifyConfig webhook_config(const std::string& url, const fs::path& dir, const std::string& secret) {
  NotifyConfig c;
  c.webhook.url = url;
  std::ofstream(dir / "secret") << secret << "\n";
  c.webhook.secret_file = (dir / "secret").string();
  c.webhook.timeout_seconds = 30;
  return c;
}

}  // namespace

TEST(Webhook, SignedJsonArrivesWithTheRenderedWarning) {
  fs::path d = unique_dir("notify-webhook");
  Receiver rx;
  NotifyConfig cfg = webhook_config(rx.url(), d, kSecret);
  WebhookSender s(cfg, TemplateSet::bundled());
  WarningRequest req = sample_request();
  DeliveryResult r = s.send(req);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.channel, "webhook");
  EXPECT_EQ(r.message_id, "TICKET-1001");
  std::lock_guard<std::mutex> g(rx.mu_);
  ASSERT_EQ(rx.bodies.size(), 1u);
  EXPECT_EQ(rx.content_type, "application/json; charset=utf-8");
  auto j = nlohmann::json::parse(rx.bodies[0]);
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["delivery_id"], rx.delivery);
  EXPECT_EQ(j["case_id"], 42);
  EXPECT_EQ(j["reference"], "OM-42");
  EXPECT_EQ(j["subscriber_id"], "C-0001");
  EXPECT_EQ(j["email"], "subscriber@example.jp");
  EXPECT_EQ(j["language"], "ja");
  EXPECT_EQ(j["first_seen"], "2024-05-01T12:00:00.000Z");
  RenderedWarning w = render_warning(req, TemplateSet::bundled(), cfg);
  EXPECT_EQ(j["subject"], w.subject);
  EXPECT_EQ(j["body"], w.body);
  ASSERT_EQ(j["findings"].size(), req.findings.size());
  EXPECT_EQ(j["findings"][0]["destination"], "cnc.mirai-sample.example");
  EXPECT_FALSE(j["findings"][1].contains("destination")) << "an address is not shown";
  EXPECT_EQ(rx.bodies[0].find("192.0.2.10"), std::string::npos);
  fs::remove_all(d);
}

TEST(Webhook, ServerErrorIsRetriedByTheOutbox) {
  fs::path d = unique_dir("notify-webhook");
  Receiver rx;
  rx.fail_next = 1;
  NotifyConfig cfg = webhook_config(rx.url(), d, kSecret);
  WebhookSender s(cfg, TemplateSet::bundled());
  RetryPolicy p;
  p.base_ms = 1000;
  Outbox box((d / "outbox").string(), p);
  std::map<std::string, WarningSender*> senders{{"webhook", &s}};
  box.enqueue(sample_request(), "webhook", 0);
  auto st = box.run(senders, 0);
  EXPECT_EQ(st.deferred, 1u);
  auto pending = box.list("pending");
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_NE(pending[0].last_error.find("HTTP 500: database unavailable"), std::string::npos) << pending[0].last_error;
  st = box.run(senders, 1000);
  EXPECT_EQ(st.sent, 1u);
  auto sent = box.list("sent");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].message_id, "TICKET-1001");
  std::lock_guard<std::mutex> g(rx.mu_);
  EXPECT_EQ(rx.bodies.size(), 2u);
  fs::remove_all(d);
}

TEST(Webhook, WrongSecretAndUnreachableReceiverFail) {
  fs::path d = unique_dir("notify-webhook");
  {
    Receiver rx;
    NotifyConfig cfg = webhook_config(rx.url(), d, "not-the-secret");
    WebhookSender s(cfg, TemplateSet::bundled());
    DeliveryResult r = s.send(sample_request());
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("HTTP 401"), std::string::npos) << r.error;
    std::lock_guard<std::mutex> g(rx.mu_);
    EXPECT_EQ(rx.bad_signatures, 1);
  }
  NotifyConfig cfg = webhook_config("http://127.0.0.1:" + std::to_string(closed_port()) + "/hook", d, kSecret);
  WebhookSender s(cfg, TemplateSet::bundled());
  DeliveryResult r = s.send(sample_request());
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("webhook http://127.0.0.1:"), std::string::npos) << r.error;

  cfg.webhook.url = "ftp://example/x";
  EXPECT_THROW(WebhookSender(cfg, TemplateSet::bundled()), std::invalid_argument);
  cfg.webhook.url = "http://127.0.0.1/x";
  cfg.webhook.secret_file = (d / "missing").string();
  EXPECT_THROW(WebhookSender(cfg, TemplateSet::bundled()), std::runtime_error);
  fs::remove_all(d);
}
