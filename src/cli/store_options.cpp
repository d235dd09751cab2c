#include "cli/store_options.hpp"

#include <cstdlib>
#include <filesystem>

#include "cli/common.hpp"
#include "privacy/audit.hpp"
#include "privacy/pseudonym.hpp"

namespace omamori::cli {

void StoreOptions::add_to(CLI::App* app, bool case_policy) {
  privacy.add_to(app);
  app->add_option("--db", db,
                  "Database URL: sqlite:PATH or postgresql://user@host:port/dbname (default "
                  "sqlite:<state-dir>/omamori.db)");
  app->add_option("--directory-db", directory_db,
                  "Database URL of the subscriber directory, when kept in a separate database (default: --db)");
  if (case_policy) {
    app->add_option("--warn-interval-days", warn_interval_days,
                    "At most one warning per subscriber per this many days, unless the severity rises")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app->add_option("--reinfection-days", reinfection_days,
                    "New evidence this many days after a case was resolved marks it re-infected")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
  }
}

std::string StoreOptions::db_url() const {
  if (!db.empty()) return db;
  std::string dir = privacy.state_dir;  // resolved by authorize()
  if (dir.empty()) {
    const char* env = std::getenv("OMAMORI_STATE_DIR");
    dir = env && *env ? env : privacy::Settings::kDefaultStateDir;
  }
  return "sqlite:" + (std::filesystem::path(dir) / "omamori.db").string();
}

std::string StoreOptions::directory_url() const {
  return directory_db.empty() ? db_url() : directory_db;
}

cases::Policy StoreOptions::policy() const {
  cases::Policy p;
  p.warn_interval = static_cast<TimeMs>(warn_interval_days * 86'400'000.0);
  p.reinfection_window = static_cast<TimeMs>(reinfection_days * 86'400'000.0);
  return p;
}

privacy::Access StoreOptions::authorize(privacy::Permission p, std::string_view action, std::string_view subject) {
  return authorize_command(privacy, p, action, subject);
}

privacy::Access authorize_command(privacy::Settings& settings, privacy::Permission p, std::string_view action,
                                  std::string_view subject) {
  try {
    settings.resolve();
    return privacy::authorize(settings, p, action, subject);
  } catch (const privacy::AccessDenied& e) {
    throw CommandError(kFailure, std::string("access denied: ") + e.what());
  } catch (const std::invalid_argument& e) {
    throw CommandError(kUsage, e.what());
  } catch (const std::runtime_error& e) {
    throw CommandError(kFailure, e.what());
  }
}

cases::PseudonymFn StoreOptions::pseudonymiser() const {
  try {
    auto ps = std::make_shared<privacy::Pseudonymiser>(privacy::Pseudonymiser::from_key_file(privacy.key_file));
    return [ps](const std::string& id) { return ps->subscriber(id); };
  } catch (const std::exception& e) {
    throw CommandError(kFailure, e.what());
  }
}

void StoreOptions::audit(const privacy::Access& a, std::string_view action, const std::string& subject,
                         const std::string& reason, nlohmann::json detail) const {
  audit_command(privacy, a, action, subject, reason, std::move(detail));
}

void audit_command(const privacy::Settings& settings, const privacy::Access& a, std::string_view action,
                   const std::string& subject, const std::string& reason, nlohmann::json detail) {
  try {
    privacy::AuditLog(settings.audit_log)
        .append({a.actor, std::string(privacy::role_name(a.role)), std::string(action), subject, reason,
                 std::move(detail)});
  } catch (const std::exception& e) {
    throw CommandError(kFailure, std::string("audit log: ") + e.what());
  }
}

namespace {

std::unique_ptr<store::Db> open_url(const std::string& url) {
  auto u = store::parse_url(url);
  if (u && u->first == store::Backend::kSqlite) {
    auto parent = std::filesystem::path(u->second).parent_path();
    std::error_code ec;
    if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
      std::filesystem::create_directories(parent, ec);
      if (!ec) std::filesystem::permissions(parent, std::filesystem::perms::owner_all, ec);
    }
  }
  return store::open(url);
}

}  // namespace

Stores open_stores(const StoreOptions& o, bool with_cases) {
  Stores s;
  try {
    s.db = open_url(o.db_url());
    store::Db* dir_db = s.db.get();
    if (o.directory_url() != o.db_url()) {
      s.directory_db = open_url(o.directory_url());
      dir_db = s.directory_db.get();
    }
    s.directory = std::make_unique<subscribers::Directory>(*dir_db);
    if (with_cases) s.cases = std::make_unique<cases::CaseStore>(*s.db, *s.directory, o.policy());
  } catch (const store::DbError& e) {
    throw CommandError(kFailure, e.what());
  }
  return s;
}

}  // namespace omamori::cli
