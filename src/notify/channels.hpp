// Delivery channels for subscriber warnings: e-mail (SMTP), webhook (HTTP
// POST, JSON, HMAC-signed) and a CSV export for call centres and letters.
//
// Each is a WarningSender (src/cases/warning.hpp): send() renders the warning
// in the subscriber's language and delivers it; failures never throw but come
// back as DeliveryResult{ok = false, error = "..."} so that the caller
// (cases, or the Outbox in outbox.hpp) records and retries them.
// Configuration problems (bad From address, unreadable secret file) throw
// from the constructors, before anything is sent.
#pragma once

#include <memory>
#include <string>

#include "cases/warning.hpp"
#include "notify/config.hpp"
#include "notify/render.hpp"

namespace omamori::notify {

class SmtpSender final : public WarningSender {
 public:
  SmtpSender(const NotifyConfig& cfg, TemplateSet templates);
  DeliveryResult send(const WarningRequest& req) override;

  // Sends a ready message (CRLF lines) to one recipient. Used by send() and
  // by `omamori notify test-smtp`.
  DeliveryResult send_raw(const std::string& recipient, const std::string& message, const std::string& message_id);

  // The message send() would deliver, for `notify render --format mime`.
  std::string build(const WarningRequest& req, TimeMs now, std::string* message_id = nullptr) const;

 private:
  NotifyConfig cfg_;
  TemplateSet templates_;
  std::string password_;
  std::string url_;
  std::string domain_;  // of the From address: Message-ID and default EHLO name
};

class WebhookSender final : public WarningSender {
 public:
  WebhookSender(const NotifyConfig& cfg, TemplateSet templates);
  DeliveryResult send(const WarningRequest& req) override;

  // The JSON document posted for a request (docs/notify.md, "Webhook").
  std::string payload(const WarningRequest& req, const std::string& delivery_id, TimeMs now) const {
    return webhook_payload(req, templates_, cfg_, delivery_id, now);
  }
  static std::string webhook_payload(const WarningRequest& req, const TemplateSet& templates, const NotifyConfig& cfg,
                                     const std::string& delivery_id, TimeMs now);
  // "sha256=<hex HMAC-SHA256 of body with secret>".
  static std::string signature(const std::string& secret, const std::string& body);

 private:
  NotifyConfig cfg_;
  TemplateSet templates_;
  std::string secret_;
};

class CsvSender final : public WarningSender {
 public:
  CsvSender(const NotifyConfig& cfg, TemplateSet templates);
  DeliveryResult send(const WarningRequest& req) override;

  // The column names, in order (the header row).
  static const std::vector<std::string>& columns();
  // One RFC 4180 field: quoted when it holds a comma, quote, CR or LF.
  static std::string field(std::string_view v, bool excel_guard);

 private:
  NotifyConfig cfg_;
  TemplateSet templates_;
};

// The sender for a channel name ("smtp", "webhook", "csv"); throws
// std::invalid_argument for an unknown channel or an unusable configuration.
std::unique_ptr<WarningSender> make_sender(const std::string& channel, const NotifyConfig& cfg,
                                           const TemplateSet& templates);

// The templates a configuration names: bundled, or loaded from templates_dir.
TemplateSet templates_for(const NotifyConfig& cfg);

}  // namespace omamori::notify
