// Cases: one per subscriber, gathering the findings attributed to them, from
// detection through warning to resolution (docs/cases.md).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"
#include "detect/finding.hpp"

namespace omamori::cases {

// detected -> notified -> acknowledged -> resolved -> closed; resolved ->
// reinfected when new evidence arrives within the re-infection window.
enum class State : uint8_t { kDetected, kNotified, kAcknowledged, kResolved, kReinfected, kClosed };
std::string_view state_name(State s);  // "detected", ..., "reinfected", "closed"
std::optional<State> parse_state(std::string_view s);

enum class Severity : uint8_t { kNone = 0, kLow = 1, kMedium = 2, kHigh = 3 };
std::string_view severity_name(Severity s);  // "low", "medium", "high"
std::optional<Severity> parse_severity(std::string_view s);

// The severity a finding gives its case (table in docs/cases.md);
// kNone for finding types that are not about an infected subscriber device
// (ddos-target, c2-candidate), which cases do not take.
Severity severity_of(const Finding& f);

struct Policy {
  TimeMs warn_interval = 7 * 86'400'000LL;         // at most one warning per this, unless severity rises
  TimeMs reinfection_window = 30 * 86'400'000LL;   // new evidence this long after resolve = re-infected
  TimeMs retry_base = 5 * 60'000LL;                // first retry after a failed delivery
  TimeMs retry_max = 24 * 3'600'000LL;             // backoff cap
  TimeMs claim_lease = 10 * 60'000LL;              // a notifier holds a case this long while sending
};

struct CaseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CaseSummary {
  int64_t id = 0;
  std::string subscriber_id;
  State state = State::kDetected;
  std::string queue;         // "auto" or "manual"
  std::string queue_reason;  // why manual
  Severity severity = Severity::kNone;
  TimeMs opened_at = 0, updated_at = 0;
  TimeMs first_seen = 0, last_seen = 0;  // over the evidence
  TimeMs resolved_at = 0, closed_at = 0;
  int64_t findings = 0;  // distinct (type, indicator)
  int64_t reinfections = 0;
  TimeMs last_warning_at = 0;
  Severity last_warning_severity = Severity::kNone;
  int64_t warnings_sent = 0;
  int64_t failed_attempts = 0;  // consecutive failed deliveries
  TimeMs next_attempt_at = 0;   // earliest retry after a failure
};

struct CaseFinding {
  int64_t id = 0;
  Finding finding;  // the latest occurrence as received
  Severity severity = Severity::kNone;
  std::string session_id;
  TimeMs first_seen = 0, last_seen = 0;  // over all occurrences
  int64_t events = 0, occurrences = 0;
  TimeMs added_at = 0, warned_at = 0;  // warned_at: 0 until a warning included it
};

struct HistoryRow {
  TimeMs at = 0;
  std::string from, to;  // state names; from is "" for the opening row
  std::string actor;
  std::string note;
};

struct DeliveryRow {
  TimeMs at = 0;
  std::string channel;
  bool ok = false;
  std::string error, message_id;
  Severity severity = Severity::kNone;
  int64_t findings = 0;
};

struct CaseDetail {
  CaseSummary summary;
  std::vector<CaseFinding> findings;
  std::vector<HistoryRow> history;
  std::vector<DeliveryRow> deliveries;
};

struct ListFilter {
  std::optional<State> state;
  std::string queue;          // "" any, "auto", "manual"
  std::string subscriber_id;  // "" any
  bool include_closed = true;
  size_t limit = 0;  // 0 = all
};

enum class IngestOutcome : uint8_t {
  kNewCase,       // opened a case
  kAdded,         // a new (type, indicator) on an open case
  kDuplicate,     // the same (type, indicator) again: merged into its row
  kReinfected,    // evidence after resolve, within the window
  kUnattributed,  // no subscriber: kept in unattributed_findings
  kIgnored,       // not a subscriber-infection finding (counted by reason)
};
std::string_view outcome_name(IngestOutcome o);

struct IngestResult {
  IngestOutcome outcome = IngestOutcome::kIgnored;
  int64_t case_id = 0;
};

struct UnattributedRow {
  int64_t id = 0;
  Finding finding;
  int64_t occurrences = 0;
  TimeMs received_at = 0, updated_at = 0;
};

struct NotifyEntry {
  int64_t case_id = 0;
  std::string pseudonym;
  std::string channel;
  bool ok = false;
  std::string error;
};

struct NotifyReport {
  uint64_t due = 0;      // cases due for a warning
  uint64_t sent = 0;
  uint64_t failed = 0;
  uint64_t manual = 0;   // due but in the manual queue
  uint64_t claimed_elsewhere = 0;  // another notifier had them
  std::vector<NotifyEntry> entries;
};

struct Stats {
  std::vector<std::pair<std::string, int64_t>> by_state;  // open and closed cases per state
  int64_t manual_queue = 0;       // open cases in the manual queue
  int64_t failing = 0;            // open cases whose last delivery failed
  int64_t unattributed = 0;       // distinct unattributed findings
  int64_t unattributed_occurrences = 0;
};

}  // namespace omamori::cases
