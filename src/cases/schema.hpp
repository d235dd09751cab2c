// The cases schema (component "cases" in schema_migrations) and row helpers
// shared by the case store's files.
#pragma once

#include <span>

#include "cases/case.hpp"
#include "store/db.hpp"

namespace omamori::cases::detail {

std::span<const store::Migration> migrations();

// Columns of a cases row in the order summary_from_row expects.
inline constexpr const char* kCaseColumns =
    "id, subscriber_id, state, queue, queue_reason, severity, opened_at, updated_at, first_seen, last_seen, "
    "resolved_at, closed_at, reinfections, last_warning_at, last_warning_severity, warnings_sent, failed_attempts, "
    "next_attempt_at, (SELECT count(*) FROM case_findings f WHERE f.case_id = cases.id)";
CaseSummary summary_from_row(const store::Rows& r, size_t i);

void add_history(store::Db& db, int64_t case_id, TimeMs at, std::string_view from, std::string_view to,
                 const std::string& actor, const std::string& note);

inline Severity severity_from_int(int64_t v) {
  return static_cast<Severity>(v < 0 ? 0 : v > 3 ? 3 : v);
}

inline std::string str(std::string_view s) { return std::string(s); }

}  // namespace omamori::cases::detail
