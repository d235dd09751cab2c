// The case store: cases, their findings, history and delivery attempts, in
// the database behind a store::Db (SQLite or PostgreSQL, same schema).
//
// Subscriber contact data is read through a subscribers::Directory (its own
// tables, possibly its own database); cases keep only the subscriber id.
// Safe for concurrent use from several processes or connections: each
// CaseStore uses its one Db connection from one thread at a time.
#pragma once

#include <functional>
#include <vector>

#include "attribution/attribution.hpp"
#include "cases/case.hpp"
#include "cases/warning.hpp"
#include "core/counters.hpp"
#include "store/db.hpp"
#include "subscribers/subscriber.hpp"

namespace omamori::cases {

// Maps a real subscriber id to the pseudonym analysts see.
using PseudonymFn = std::function<std::string(const std::string&)>;

class CaseStore {
 public:
  // Applies the schema migrations (component "cases").
  CaseStore(store::Db& db, const subscribers::Directory& directory, Policy policy = {});

  // Takes one finding with its attribution (subscriber empty = unattributed).
  IngestResult ingest(const Finding& f, const Attribution& a, TimeMs now);
  // Findings this store did not take, by reason ("not a subscriber finding").
  const ReasonCounters& ignored() const { return ignored_; }

  // Analyst actions. Throw CaseError on an unknown case or a transition the
  // state machine does not allow (docs/cases.md).
  void acknowledge(int64_t id, const std::string& actor, const std::string& note, TimeMs now);
  void resolve(int64_t id, const std::string& actor, const std::string& note, TimeMs now);
  void close(int64_t id, const std::string& actor, const std::string& note, TimeMs now);
  // Closes resolved cases whose re-infection window has passed; returns how many.
  int64_t close_expired(TimeMs now);

  // The warnings due now (pacing, dedup, manual queue and retry backoff
  // applied), without sending or recording anything.
  std::vector<WarningRequest> due(TimeMs now, const PseudonymFn& pseudonym);
  // Sends each due warning through `sender` and records every attempt.
  NotifyReport notify(WarningSender& sender, TimeMs now, const std::string& actor, const PseudonymFn& pseudonym);

  std::vector<CaseSummary> list(const ListFilter& f) const;
  std::optional<CaseDetail> get(int64_t id) const;
  std::vector<UnattributedRow> unattributed(size_t limit) const;
  Stats stats() const;

  // Retention (privacy::RetentionPolicy). Closed cases closed before the
  // cutoff go with their findings, history and delivery records; returns the
  // cases deleted. Open cases keep all their evidence, however old.
  uint64_t purge_closed_before(TimeMs cutoff);
  // Unattributed findings last seen before the cutoff; returns how many.
  uint64_t purge_unattributed_before(TimeMs cutoff);

  const Policy& policy() const { return policy_; }

 private:
  struct Queue {
    std::string queue, reason;
  };
  Queue queue_for(const std::string& subscriber) const;
  void transition(int64_t id, State to, std::initializer_list<State> from, const std::string& actor,
                  const std::string& note, TimeMs now);
  IngestResult ingest_unattributed(const Finding& f, TimeMs now);
  // Due cases' ids (before the per-case directory check).
  std::vector<int64_t> candidates(TimeMs now) const;
  std::optional<WarningRequest> build_request(int64_t id, const PseudonymFn& pseudonym, std::vector<int64_t>& ids);
  void record(const WarningRequest& req, const std::vector<int64_t>& finding_ids, const DeliveryResult& r,
              const std::string& actor, TimeMs now);

  store::Db& db_;
  const subscribers::Directory& dir_;
  Policy policy_;
  ReasonCounters ignored_;
};

}  // namespace omamori::cases
