// The subscriber directory (契約者情報): who a subscriber is, how to reach
// them, and whether their contract terms (約款) allow a warning.
//
// Kept apart from the telemetry: its own tables (subscribers,
// subscriber_imports), optionally in its own database (`--directory-db`),
// reached only through this interface — never joined with findings or cases
// in SQL. See docs/cases.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/counters.hpp"
#include "core/time.hpp"
#include "store/db.hpp"

namespace omamori::subscribers {

struct Subscriber {
  std::string id;               // the ISP's subscriber id (as in RADIUS User-Name)
  std::string email;            // contact address
  std::string language;         // "ja" or "en"
  bool warnings_allowed = false;  // the contract terms allow warnings of this kind
  std::string terms_version;    // version of those terms ("" only when warnings are not allowed)
  std::string service;          // ftth, mobile, business, ...
  TimeMs updated_at = 0;        // when the directory last changed this row
  bool operator==(const Subscriber&) const = default;
};

// One rejected CSV line.
struct Reject {
  uint64_t line;       // 1-based line number in the file
  const char* reason;  // static string, also counted in CsvResult::rejects
};

struct CsvResult {
  std::vector<Subscriber> rows;  // valid rows, in file order
  std::vector<Reject> rejected;
  ReasonCounters rejects;       // by reason
  uint64_t lines = 0;           // data lines read (header and blank lines excluded)
  std::string error;            // non-empty when the file as a whole is unusable (bad header)
};

// The fixed header, required as the first line.
inline constexpr std::string_view kCsvHeader = "subscriber_id,email,language,warnings_allowed,terms_version,service";

// Parses the directory CSV (RFC 4180 quoting, CRLF or LF, optional UTF-8
// BOM). Validates each row (docs/cases.md); a later row with an id seen
// earlier in the same file is rejected ("duplicate subscriber id").
CsvResult parse_csv(std::string_view text);

struct ImportStats {
  uint64_t inserted = 0;
  uint64_t updated = 0;    // existing row with changed fields
  uint64_t unchanged = 0;  // existing row, same fields
};

// The directory on its database. The constructor applies the migrations.
class Directory {
 public:
  explicit Directory(store::Db& db);

  // Upserts rows in one transaction (re-import updates) and records the import.
  ImportStats upsert(const std::vector<Subscriber>& rows, TimeMs now, std::string_view source = "",
                     uint64_t rejected = 0);
  std::optional<Subscriber> find(std::string_view id) const;
  uint64_t count() const;
  uint64_t count_warnings_allowed() const;

 private:
  store::Db& db_;
};

}  // namespace omamori::subscribers
