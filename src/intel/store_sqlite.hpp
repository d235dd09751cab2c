// The indicator store: an embedded SQLite database (WAL mode).
//
// Tables: schema_migrations (applied schema versions), feeds (name, format,
// source, allowlist flag, last import time and counts), feed_skips (per feed and
// reason, what the last import did not take), indicators (unique per feed, kind
// and value). An import replaces a feed's indicators in one transaction:
// indicators still listed keep their first_seen and get a new last_seen, new
// ones are added, ones no longer listed are deleted. Readers (other processes)
// see either the old or the new feed, never a mix.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "intel/indicator.hpp"
#include "intel/match.hpp"

struct sqlite3;

namespace omamori::intel {

struct DbError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct FeedRecord {
  std::string name;
  std::string format;
  std::string source;
  bool allow = false;
  std::string category;  // the feed's default, "" if none
  int confidence = 0;
  std::string family;
  TimeMs last_import = 0;
  uint64_t indicators = 0;  // stored now
  uint64_t skipped = 0;     // in the last import
  uint64_t added = 0, removed = 0;
  std::vector<std::pair<std::string, uint64_t>> skip_reasons;  // of the last import
};

struct ImportStats {
  uint64_t read = 0;        // indicators given
  uint64_t added = 0;       // new in the store
  uint64_t updated = 0;     // already there (last_seen moved)
  uint64_t duplicates = 0;  // the same value twice in the import
  uint64_t removed = 0;     // no longer listed, deleted
  uint64_t total = 0;       // the feed's indicators after the import
};

struct IndicatorQuery {
  std::string feed;  // "" = all
  std::optional<Kind> kind;
  std::string value;  // "" = all; exact value otherwise
  bool include_expired = true;
  TimeMs now = 0;
  size_t limit = 0;  // 0 = no limit
};

class IntelDb {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens or creates the database and applies pending migrations. Throws DbError.
  explicit IntelDb(const std::string& path);
  ~IntelDb();
  IntelDb(const IntelDb&) = delete;
  IntelDb& operator=(const IntelDb&) = delete;

  int schema_version();
  std::string journal_mode();

  // Replaces the feed's indicators with these (one transaction). Throws DbError.
  ImportStats replace_feed(const FeedConfig& cfg, const std::string& source, const std::vector<Indicator>& inds,
                           const ReasonCounters& skipped, TimeMs now);
  bool remove_feed(const std::string& name);
  std::vector<FeedRecord> feeds();
  void for_each(const IndicatorQuery& q, const std::function<void(const Indicator&, bool allow)>& f);
  uint64_t count(const std::string& feed = "");

  // Builds a snapshot of every feed (allowlist feeds as allowlists); expired indicators
  // are left out and counted per feed.
  std::shared_ptr<const IntelSnapshot> compile(const SnapshotOptions& opt, ReasonCounters* rejected = nullptr);

 private:
  void exec(const char* sql);
  void migrate();
  sqlite3* db_ = nullptr;
};

}  // namespace omamori::intel
