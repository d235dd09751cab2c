// Webhook channel: HTTP(S) POST of a JSON document, signed with HMAC-SHA256.
#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>
#include <random>

#include "notify/channels.hpp"
#include "notify/curl_util.hpp"
#include "notify/text.hpp"

namespace omamori::notify {
namespace {

size_t collect_cb(char* p, size_t size, size_t n, void* user) {
  auto* s = static_cast<std::string*>(user);
  size_t k = size * n;
  if (s->size() < 4096) s->append(p, std::min(k, 4096 - s->size()));
  return k;
}

std::string delivery_id(int64_t case_id, TimeMs now) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("omamori-{}-{}-{:016x}", case_id, now, rng());
}

}  // namespace

WebhookSender::WebhookSender(const NotifyConfig& cfg, TemplateSet templates) : cfg_(cfg), templates_(std::move(templates)) {
  curl_global_once();
  const auto& w = cfg_.webhook;
  if (w.url.empty()) throw std::invalid_argument("notify.webhook.url is not set");
  if (!w.url.starts_with("http://") && !w.url.starts_with("https://"))
    throw std::invalid_argument("notify.webhook.url must start with http:// or https://");
  if (w.secret_file.empty())
    throw std::invalid_argument("notify.webhook.secret_file is not set (the receiver checks the HMAC signature)");
  secret_ = read_secret_file(w.secret_file);
}

std::string WebhookSender::signature(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  return "sha256=" + hex(std::string_view(reinterpret_cast<const char*>(mac), len));
}

std::string WebhookSender::webhook_payload(const WarningRequest& req, const TemplateSet& templates,
                                           const NotifyConfig& cfg, const std::string& id, TimeMs now) {
  RenderedWarning w = render_warning(req, templates, cfg);
  nlohmann::ordered_json j;
  j["version"] = 1;
  j["delivery_id"] = id;
  j["sent_at"] = format_rfc3339(now);
  j["case_id"] = req.case_id;
  j["reference"] = w.reference;
  j["subscriber_id"] = req.subscriber_id;
  j["email"] = req.email;
  j["language"] = w.language;
  j["severity"] = req.severity;
  j["first_seen"] = format_rfc3339(req.first_seen);
  j["last_seen"] = format_rfc3339(req.last_seen);
  j["subject"] = w.subject;
  j["body"] = w.body;
  auto& fs = j["findings"] = nlohmann::ordered_json::array();
  for (const auto& f : req.findings) {
    nlohmann::ordered_json o;
    o["type"] = f.type;
    o["category"] = f.category;
    o["family"] = f.family;
    o["first"] = format_rfc3339(f.first);
    o["last"] = format_rfc3339(f.last);
    o["events"] = f.events;
    std::string dest = shown_destination(f);
    if (!dest.empty()) {
      std::string plain;
      for (size_t i = 0; i < dest.size(); ++i) {
        if (dest.compare(i, 3, "[.]") == 0) {
          plain += '.';
          i += 2;
        } else {
          plain += dest[i];
        }
      }
      o["destination"] = plain;
    }
    fs.push_back(std::move(o));
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

DeliveryResult WebhookSender::send(const WarningRequest& req) {
  DeliveryResult r;
  r.channel = "webhook";
  TimeMs now = now_ms();
  std::string id = delivery_id(req.case_id, now);
  r.message_id = id;
  std::string body;
  try {
    body = payload(req, id, now);
  } catch (const std::exception& e) {
    r.error = fmt::format("cannot build the payload: {}", e.what());
    return r;
  }
  const auto& w = cfg_.webhook;
  CurlEasy c;
  if (!c) {
    r.error = "curl_easy_init failed";
    return r;
  }
  CURL* h = c.get();
  char errbuf[CURL_ERROR_SIZE] = {0};
  std::string response;
  CurlList headers;
  headers.append("Content-Type: application/json; charset=utf-8");
  headers.append("X-Omamori-Signature: " + signature(secret_, body));
  headers.append("X-Omamori-Delivery: " + id);
  headers.append("Expect:");
  curl_easy_setopt(h, CURLOPT_URL, w.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, w.timeout_seconds);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, std::min(w.timeout_seconds, 10L));
  curl_easy_setopt(h, CURLOPT_USERAGENT, "omamori-notify/1");
  if (!w.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, w.ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, w.verify_peer ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, w.verify_peer ? 2L : 0L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_cb);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response);
  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    r.error = fmt::format("webhook {}: {}", w.url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    return r;
  }
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  if (code < 200 || code > 299) {
    r.error = fmt::format("webhook {}: HTTP {}: {}", w.url, code, clean_line(response, 200));
    return r;
  }
  // A receiver may answer {"id": "..."}: its ticket number.
  auto j = nlohmann::json::parse(response, nullptr, false);
  if (j.is_object() && j.contains("id") && j["id"].is_string()) r.message_id = clean_line(j["id"].get<std::string>(), 200);
  r.ok = true;
  return r;
}

}  // namespace omamori::notify
