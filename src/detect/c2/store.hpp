// The C&C candidate store: what discovery proposed, run after run, and what
// the analyst decided about it.
//
// An embedded SQLite database (WAL; the same file as the intel store by
// default, in its own tables, with its own schema version table
// c2_schema_migrations):
//   c2_runs          one row per recorded analysis run (when, who, input,
//                    population and suspected counts);
//   c2_candidates    one row per destination ever proposed: status (open,
//                    confirmed, rejected), the latest run's evidence (k, n,
//                    N, K, p, q, enrichment), the strongest evidence seen
//                    (max suspected hosts, best q), traffic first/last seen,
//                    how many runs proposed it, up to 10 example hosts, and
//                    the last decision (who, when, why, evidence at the time);
//   c2_observations  each run's evidence per candidate (history);
//   c2_decisions     every confirm/reject, append-only: who, when, why,
//                    which candidates it covered;
//   c2_indicators    the confirmed destinations as indicators: the source
//                    of truth of the intel feed "local-discovery" (see
//                    publish()).
// A rejected candidate is not proposed again unless a later run shows at
// least reopen_factor times the suspected hosts it had when rejected; it is
// then open again and marked reopened.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "detect/c2/discovery.hpp"
#include "detect/c2/target.hpp"
#include "intel/indicator.hpp"
#include "intel/store_sqlite.hpp"

struct sqlite3;

namespace omamori::c2 {

enum class Status : uint8_t { Open, Confirmed, Rejected };
std::string_view status_name(Status s);
std::optional<Status> parse_status(std::string_view s);

struct StoredCandidate {
  std::string dest;
  DestKind kind = DestKind::AddrPort;
  Status status = Status::Open;
  bool reopened = false;
  TimeMs first_seen = 0, last_seen = 0;  // traffic time, over all runs
  TimeMs first_run = 0, last_run = 0;    // when runs recorded it
  uint32_t runs = 0;
  // The latest run's evidence.
  uint32_t suspected_hosts = 0, hosts = 0, population = 0, suspected_population = 0;
  double p_value = 1, q_value = 1, enrichment = 0;
  // The strongest evidence over all runs.
  uint32_t max_suspected_hosts = 0;
  double best_q = 1;
  std::vector<std::string> example_hosts;
  // The last decision (unset while never decided; a reopened candidate's is Rejected).
  std::optional<Status> decision;
  std::string decided_by, reason;
  TimeMs decided_at = 0;
  uint32_t decided_evidence = 0;  // suspected hosts when decided
};

struct Decision {
  int64_t id = 0;
  std::string target;  // what the analyst named, in normal form
  Status decision = Status::Open;
  std::string actor, reason;
  TimeMs at = 0;
  std::vector<std::string> candidates;  // the recorded candidates it covered
  uint32_t suspected_hosts = 0;         // their evidence then (max)
  int confidence = 0;                   // confirmations: of the indicator
};

struct RunInfo {
  TimeMs at = 0;
  std::string actor;
  std::string source;  // e.g. the input files
  uint32_t population = 0, suspected = 0;
};

struct RecordStats {
  int64_t run = 0;
  uint32_t added = 0;       // never seen before
  uint32_t updated = 0;     // open or confirmed, evidence refreshed
  uint32_t reopened = 0;    // rejected, evidence grew enough: open again
  uint32_t suppressed = 0;  // rejected, not proposed again
};

struct ListQuery {
  std::optional<Status> status = Status::Open;  // nullopt: all
  double max_q = 1;                              // best q-value at most this
  size_t limit = 0;                              // 0: all
};

struct DecideOptions {
  std::string actor, reason;
  TimeMs now = 0;
  int confidence = -1;  // confirmations: -1 = the default (90, analyst-confirmed)
  std::string family;
  TimeMs ttl = 0;       // confirmations: the indicator expires this long after now (0: never)
  bool force = false;   // allow a target no recorded candidate covers
};

class CandidateStore {
 public:
  static constexpr int kSchemaVersion = 1;
  static constexpr const char* kFeed = "local-discovery";

  // Opens or creates the store (applies pending migrations). Throws intel::DbError.
  explicit CandidateStore(const std::string& path, double reopen_factor = 2.0);
  ~CandidateStore();
  CandidateStore(const CandidateStore&) = delete;
  CandidateStore& operator=(const CandidateStore&) = delete;

  // Records one run's candidates (one transaction).
  RecordStats record(const std::vector<Candidate>& cands, const RunInfo& run);
  std::vector<StoredCandidate> list(const ListQuery& q);
  std::optional<StoredCandidate> get(const std::string& dest);
  // Confirms or rejects every recorded candidate the target covers. Throws
  // intel::DbError when none does (unless force) or on database errors.
  Decision decide(const Target& t, Status decision, const DecideOptions& o);
  std::vector<Decision> history(const std::string& target = "");
  // The confirmed destinations as indicators of feed local-discovery.
  std::vector<intel::Indicator> confirmed_indicators();
  int schema_version();

 private:
  void exec(const char* sql);
  void migrate();
  sqlite3* db_ = nullptr;
  double reopen_factor_;
};

// Replaces the intel store's feed "local-discovery" with the confirmed
// destinations (category c2), so that the reputation detector matches them.
intel::ImportStats publish(CandidateStore& store, intel::IntelDb& intel, TimeMs now);

}  // namespace omamori::c2
