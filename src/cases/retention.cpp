// Retention purges of the case store (docs/cases.md, "Retention").
#include "cases/case_store.hpp"

namespace omamori::cases {

uint64_t CaseStore::purge_closed_before(TimeMs cutoff) {
  return store::with_transaction(db_, [&] {
    const char* kOld = "SELECT id FROM cases WHERE state = 'closed' AND closed_at > 0 AND closed_at < ?";
    for (const char* table : {"case_findings", "case_history", "case_deliveries"})
      db_.exec(std::string("DELETE FROM ") + table + " WHERE case_id IN (" + kOld + ")", {store::Value(cutoff)});
    return static_cast<uint64_t>(
        db_.exec("DELETE FROM cases WHERE state = 'closed' AND closed_at > 0 AND closed_at < ?", {store::Value(cutoff)}));
  });
}

uint64_t CaseStore::purge_unattributed_before(TimeMs cutoff) {
  return store::with_transaction(db_, [&] {
    return static_cast<uint64_t>(
        db_.exec("DELETE FROM unattributed_findings WHERE last_seen < ?", {store::Value(cutoff)}));
  });
}

}  // namespace omamori::cases
