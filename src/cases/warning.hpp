// The warning interface between cases and the notifiers (src/notify).
//
// `omamori cases notify` picks the cases that are due for a warning and hands
// each one, as a WarningRequest, to a WarningSender (e-mail, webhook, CSV
// export for a call centre ...). The sender reports what happened in a
// DeliveryResult; cases records every attempt (channel, ok/error, time) so
// that failed deliveries stay visible and are retried with backoff.
//
// Plain data only: notifiers never see the case store, and cases never see a
// notifier's internals.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "detect/finding.hpp"

namespace omamori {

struct WarningRequest {
  int64_t case_id = 0;
  std::string subscriber_id;  // the real id (the notifier needs it to reach the person)
  std::string email;          // contact address from the subscriber directory
  std::string language;       // "ja" or "en"
  std::string severity;       // "low", "medium", "high" (docs/cases.md)
  std::vector<Finding> findings;  // the case's findings that this warning is about
  TimeMs first_seen = 0;          // first supporting event over those findings
  TimeMs last_seen = 0;           // last supporting event
  std::string pseudonym;          // pseudonymous subscriber id ("sub-<16 hex>") for logs/analysts
};

struct DeliveryResult {
  bool ok = false;
  std::string channel;     // "smtp", "webhook", "csv", "dry-run", ...
  std::string error;       // why it failed (empty when ok)
  std::string message_id;  // channel's id for the message (SMTP Message-ID, webhook response id), if any
};

class WarningSender {
 public:
  virtual ~WarningSender() = default;
  // Delivers one warning. Must not throw for delivery failures: report them
  // in the result (ok = false, error = ...) so they are recorded and retried.
  virtual DeliveryResult send(const WarningRequest& req) = 0;
};

}  // namespace omamori
