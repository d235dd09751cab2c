// Delivery outbox: a directory of warnings waiting to be delivered, so that
// failed deliveries are retried with exponential backoff and stay visible.
//
//   DIR/pending/<id>.json   waiting; attempts, next_attempt, last_error
//   DIR/sent/<id>.json      delivered (message_id of the channel)
//   DIR/failed/<id>.json    gave up after max_attempts; `notify outbox retry`
//                           puts it back
//
// Each file holds the WarningRequest and its delivery state (JSON, written to
// a temporary file and renamed, so a crash never leaves half a file). One
// runner at a time holds DIR/.lock (flock); a second one waits.
//
// Use the outbox OR the retries of the case store (src/cases), not both for
// the same warning: cases that record attempts themselves call a channel's
// sender directly and use RetryPolicy::delay_after for their backoff.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cases/warning.hpp"
#include "notify/config.hpp"

namespace omamori::notify {

struct OutboxItem {
  std::string id;
  std::string channel;  // "smtp", "webhook", "csv"
  std::string state;    // "pending", "sent", "failed"
  TimeMs created = 0;
  TimeMs next_attempt = 0;
  TimeMs last_attempt = 0;
  int attempts = 0;
  std::string last_error;
  std::string message_id;
  WarningRequest request;
};

class Outbox {
 public:
  Outbox(std::string dir, RetryPolicy policy);

  // Stores a warning for `channel`, due at `now`; returns its id.
  std::string enqueue(const WarningRequest& req, const std::string& channel, TimeMs now);

  struct RunStats {
    size_t attempted = 0, sent = 0, deferred = 0, failed = 0;
    size_t unreadable = 0;  // files that could not be parsed (moved to failed/ as .bad)
  };
  // Attempts every pending item due at `now` with the sender of its channel
  // (items of channels not in `senders` wait). A failure sets next_attempt =
  // now + policy.delay_after(attempts); after max_attempts the item moves to
  // failed/.
  RunStats run(const std::map<std::string, WarningSender*>& senders, TimeMs now);

  // Items in a state ("pending", "sent", "failed"), oldest first.
  std::vector<OutboxItem> list(const std::string& state) const;

  // Puts a failed item back into pending, due at `now`, with a fresh attempt
  // budget. False when there is no such failed item.
  bool retry(const std::string& id, TimeMs now);

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  RetryPolicy policy_;
};

std::string outbox_item_to_json(const OutboxItem& item);
OutboxItem outbox_item_from_json(std::string_view text);  // throws std::invalid_argument

}  // namespace omamori::notify
