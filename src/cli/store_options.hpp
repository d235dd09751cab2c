// Where cases and the subscriber directory live (--db, --directory-db) and
// the privacy settings (--state-dir, --key-file, --audit-log, --roles-file,
// --role), shared by `omamori cases` and `omamori subscribers`.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cases/case_store.hpp"
#include "privacy/settings.hpp"
#include "store/db.hpp"
#include "subscribers/subscriber.hpp"

namespace omamori::cli {

struct StoreOptions {
  privacy::Settings privacy;  // state_dir: --state-dir, $OMAMORI_STATE_DIR, else /var/lib/omamori
  std::string db;             // default: sqlite:<state-dir>/omamori.db
  std::string directory_db;   // default: the same database as --db
  double warn_interval_days = 7;
  double reinfection_days = 30;

  void add_to(CLI::App* app, bool case_policy);
  // Resolves the privacy settings, then checks that the acting user's role
  // allows `p` (denials are audited); throws CommandError when not.
  privacy::Access authorize(privacy::Permission p, std::string_view action, std::string_view subject = {});
  // Subscriber id -> "sub-<16 hex>" with the installation's key (created when absent).
  cases::PseudonymFn pseudonymiser() const;
  // Appends to the audit log; throws CommandError when it cannot.
  void audit(const privacy::Access& a, std::string_view action, const std::string& subject, const std::string& reason,
             nlohmann::json detail) const;
  std::string db_url() const;
  std::string directory_url() const;
  cases::Policy policy() const;
};

// Resolves the privacy settings, then checks that the acting user's role
// allows `p` (denials are audited). Throws CommandError: kFailure on a denial
// or an unreadable configuration, kUsage on a bad role name.
privacy::Access authorize_command(privacy::Settings& settings, privacy::Permission p, std::string_view action,
                                  std::string_view subject = {});

// Appends an entry for the acting user to the settings' audit log; throws
// CommandError (kFailure) when it cannot.
void audit_command(const privacy::Settings& settings, const privacy::Access& a, std::string_view action,
                   const std::string& subject, const std::string& reason, nlohmann::json detail);

// Open connections; the directory shares the cases connection when both URLs agree.
struct Stores {
  std::unique_ptr<store::Db> db, directory_db;
  std::unique_ptr<subscribers::Directory> directory;
  std::unique_ptr<cases::CaseStore> cases;  // only when asked for
};

// Throws CommandError when a database cannot be opened or migrated.
Stores open_stores(const StoreOptions& o, bool with_cases);

}  // namespace omamori::cli
