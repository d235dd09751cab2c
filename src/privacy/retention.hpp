// Retention: how long each kind of data is kept, and the purge that enforces
// it (docs/privacy.md, "Retention"). `omamori retention run` calls
// run_retention(); each run is recorded in the audit log as "retention.purge".
//
// Raw telemetry (pcaps, flow files, dnstap captures) lives in spool
// directories and is purged here by file modification time. Everything else
// (the session index, findings, cases) belongs to other components, which
// register a purge hook: a function that deletes what is older than the
// cutoff it is given and returns how many items it removed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/time.hpp"

namespace omamori::privacy {

enum class DataKind : uint8_t { kRawTelemetry, kFindings, kClosedCases, kSessions };
std::string_view data_kind_name(DataKind k);  // raw_telemetry, findings, cases_closed, sessions

struct RetentionPolicy {
  // Days each kind is kept ([retention] in the config file, same names).
  int raw_telemetry_days = 30;   // pcaps, flow files, dnstap: the most sensitive, kept shortest
  int findings_days = 395;       // findings: 13 months, to compare with last year's
  int cases_closed_days = 730;   // closed cases: 2 years after closing
  int sessions_days = 180;       // address -> subscriber session index
  int audit_days = 365;          // the audit log: never less than kMinAuditDays
  // Raw-telemetry spool directories, searched recursively.
  std::vector<std::string> spool_dirs;
  // Only files whose name matches one of these globs (fnmatch); empty = every file.
  std::vector<std::string> spool_patterns;

  static constexpr int kMinAuditDays = 180;  // SPEC: logs kept 6-12 months
  // Throws std::invalid_argument naming the setting: days < 1, audit < 180 days.
  void validate() const;
  int days(DataKind k) const;
  TimeMs cutoff(DataKind k, TimeMs now) const { return now - static_cast<TimeMs>(days(k)) * 86400000; }
};

// A purge hook deletes its component's data older than `cutoff` and returns
// the number of items removed; it throws on failure.
using PurgeHook = std::function<uint64_t(TimeMs cutoff)>;

// Registers a hook under a name; the kind decides the cutoff. Registering a
// name again replaces its hook. The two-argument form takes the kind from the
// name's first word: "sessions...", "findings...", "cases...", else raw telemetry.
void register_purge(std::string what, DataKind kind, PurgeHook hook);
void register_purge(std::string what, PurgeHook hook);
void clear_purge_hooks();  // tests

struct PurgeCount {
  std::string what;      // "spool:<dir>" or the hook's name
  DataKind kind = DataKind::kRawTelemetry;
  TimeMs cutoff = 0;
  uint64_t items = 0;    // files or hook items purged (or that would be, in a dry run)
  uint64_t bytes = 0;    // files only
  std::string error;     // "" when fine
  bool skipped = false;  // a hook in a dry run: not called
};

struct RetentionReport {
  bool dry_run = false;
  TimeMs now = 0;
  std::vector<PurgeCount> counts;
  std::vector<std::string> removed_files;  // the files deleted (or to be, in a dry run)
  uint64_t errors() const;
};

// Purges spool files older than the raw-telemetry limit (by mtime; symlinks
// are not followed and not deleted) and calls every registered hook. In a dry
// run nothing is deleted and hooks are not called. Validates the policy first.
RetentionReport run_retention(const RetentionPolicy& p, TimeMs now, bool dry_run);

}  // namespace omamori::privacy
