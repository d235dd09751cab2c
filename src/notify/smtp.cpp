// E-mail over SMTP with libcurl: STARTTLS (off / when offered / required) or
// implicit TLS, AUTH, timeouts; one message per connection.
#include <curl/curl.h>
#include <fmt/format.h>

#include <cstring>
#include <mutex>

#include "notify/channels.hpp"
#include "notify/curl_util.hpp"
#include "notify/mime.hpp"

namespace omamori::notify {

void curl_global_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

namespace {

struct Upload {
  const std::string* data;
  size_t pos = 0;
};

size_t read_cb(char* buf, size_t size, size_t n, void* user) {
  auto* u = static_cast<Upload*>(user);
  size_t want = size * n;
  size_t left = u->data->size() - u->pos;
  size_t k = std::min(want, left);
  std::memcpy(buf, u->data->data() + u->pos, k);
  u->pos += k;
  return k;
}

std::string host_for_url(const std::string& host) {
  if (host.find(':') != std::string::npos && host.front() != '[') return "[" + host + "]";
  return host;
}

}  // namespace

SmtpSender::SmtpSender(const NotifyConfig& cfg, TemplateSet templates) : cfg_(cfg), templates_(std::move(templates)) {
  curl_global_once();
  const SmtpConfig& s = cfg_.smtp;
  if (s.from.empty()) throw std::invalid_argument("notify.smtp.from is not set (the sender address of warnings)");
  Mailbox from = parse_mailbox(s.from);  // throws for a malformed one
  if (!s.reply_to.empty()) parse_mailbox(s.reply_to);
  domain_ = from.address.substr(from.address.rfind('@') + 1);
  if (!s.user.empty()) {
    if (s.password_file.empty()) throw std::invalid_argument("notify.smtp.user is set but password_file is not");
    password_ = read_secret_file(s.password_file);
    if (!s.implicit_tls && s.starttls != "required" && !s.allow_plaintext_auth)
      throw std::invalid_argument(
          "notify.smtp: AUTH needs TLS: set starttls = \"required\" or implicit_tls = true "
          "(or allow_plaintext_auth = true on a trusted network)");
  }
  std::string helo = s.helo.empty() ? domain_ : s.helo;
  url_ = fmt::format("{}://{}:{}/{}", s.implicit_tls ? "smtps" : "smtp", host_for_url(s.host), s.port, helo);
}

std::string SmtpSender::build(const WarningRequest& req, TimeMs now, std::string* message_id) const {
  RenderedWarning w = render_warning(req, templates_, cfg_);
  MailMessage m;
  m.from = parse_mailbox(cfg_.smtp.from);
  if (!cfg_.smtp.reply_to.empty()) m.reply_to = parse_mailbox(cfg_.smtp.reply_to);
  m.to = req.email;
  m.subject = w.subject;
  m.body = w.body;
  m.language = w.language;
  m.date = now;
  m.message_id = make_message_id(req.case_id, domain_, now);
  if (message_id) *message_id = m.message_id;
  return build_message(m);
}

DeliveryResult SmtpSender::send(const WarningRequest& req) {
  DeliveryResult r;
  r.channel = "smtp";
  if (!valid_address(req.email)) {
    r.error = req.email.empty() ? "no e-mail address for the subscriber" : "malformed e-mail address of the subscriber";
    return r;
  }
  std::string msg, id;
  try {
    msg = build(req, now_ms(), &id);
  } catch (const std::exception& e) {
    r.error = fmt::format("cannot build the message: {}", e.what());
    return r;
  }
  return send_raw(req.email, msg, id);
}

DeliveryResult SmtpSender::send_raw(const std::string& recipient, const std::string& message,
                                    const std::string& message_id) {
  DeliveryResult r;
  r.channel = "smtp";
  r.message_id = message_id;
  const SmtpConfig& s = cfg_.smtp;
  CurlEasy c;
  if (!c) {
    r.error = "curl_easy_init failed";
    return r;
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  Upload up{&message};
  std::string mail_from = "<" + parse_mailbox(s.from).address + ">";
  std::string rcpt = "<" + recipient + ">";
  CurlList rcpts;
  rcpts.append(rcpt);
  CURL* h = c.get();
  curl_easy_setopt(h, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, s.connect_timeout_seconds);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, s.timeout_seconds);
  long use_ssl = s.implicit_tls             ? CURLUSESSL_ALL
                 : s.starttls == "required" ? CURLUSESSL_ALL
                 : s.starttls == "try"      ? CURLUSESSL_TRY
                                            : CURLUSESSL_NONE;
  curl_easy_setopt(h, CURLOPT_USE_SSL, use_ssl);
  if (!s.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, s.ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, s.verify_peer ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, s.verify_peer ? 2L : 0L);
  if (!s.user.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, s.user.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, password_.c_str());
  }
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts.get());
  curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt(h, CURLOPT_READDATA, &up);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
  CURLcode rc = curl_easy_perform(h);
  if (rc == CURLE_OK) {
    r.ok = true;
    return r;
  }
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
  r.error = fmt::format("smtp {}:{}: {}", s.host, s.port, detail);
  if (code >= 400) r.error += fmt::format(" (server replied {}{})", code, code >= 500 ? ", permanent" : ", temporary");
  return r;
}

}  // namespace omamori::notify
