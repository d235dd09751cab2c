// Where cases and the subscriber directory live: --db, --directory-db,
// --state-dir (shared by `omamori cases` and `omamori subscribers`).
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "cases/case_store.hpp"
#include "store/db.hpp"
#include "subscribers/subscriber.hpp"

namespace omamori::cli {

struct StoreOptions {
  std::string state_dir;     // default: $OMAMORI_STATE_DIR, else /var/lib/omamori
  std::string db;            // default: sqlite:<state-dir>/omamori.db
  std::string directory_db;  // default: the same database as --db
  double warn_interval_days = 7;
  double reinfection_days = 30;

  void add_to(CLI::App* app, bool case_policy);
  std::string db_url() const;
  std::string directory_url() const;
  cases::Policy policy() const;
};

// Open connections; the directory shares the cases connection when both URLs agree.
struct Stores {
  std::unique_ptr<store::Db> db, directory_db;
  std::unique_ptr<subscribers::Directory> directory;
  std::unique_ptr<cases::CaseStore> cases;  // only when asked for
};

// Throws CommandError when a database cannot be opened or migrated.
Stores open_stores(const StoreOptions& o, bool with_cases);

}  // namespace omamori::cli
