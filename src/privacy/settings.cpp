#include "privacy/settings.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <toml++/toml.h>

#include "privacy/audit.hpp"
#include "privacy/config_watch.hpp"

namespace omamori::privacy {

void Settings::add_to(CLI::App* app, bool with_role) {
  app_ = app;
  const char* group = "Privacy";
  opts_[0] = app->add_option("--state-dir", state_dir,
                             fmt::format("Directory of keys, audit log and roles file (default {})", kDefaultStateDir))
                 ->envname("OMAMORI_STATE_DIR")
                 ->group(group);
  opts_[1] = app->add_option("--key-file", key_file, "Pseudonymisation key (default <state-dir>/pseudonym.key)")
                 ->group(group);
  opts_[2] = app->add_option("--audit-log", audit_log, "Audit log (default <state-dir>/audit.log)")->group(group);
  opts_[3] = app->add_option("--roles-file", roles_file, "Roles of each user (default <state-dir>/roles.toml)")
                 ->group(group);
  if (with_role)
    app->add_option("--role", role, "Role to act in: analyst, notifier, auditor, admin (default: least privileged held)")
        ->check(CLI::IsMember({"analyst", "notifier", "auditor", "admin"}))
        ->group(group);
}

void Settings::resolve() {
  if (app_) {
    const CLI::App* root = app_;
    while (root->get_parent()) root = root->get_parent();
    const CLI::Option* cfg = root->get_config_ptr();
    if (cfg && cfg->count() > 0) {
      std::string path = cfg->as<std::string>();
      config_file = path;
      toml::table t;
      try {
        t = toml::parse_file(path);
      } catch (const toml::parse_error& e) {
        throw std::runtime_error(fmt::format("config {}: {}", path, e.description()));
      }
      std::string* fields[] = {&state_dir, &key_file, &audit_log, &roles_file};
      const char* keys[] = {"state_dir", "key_file", "audit_log", "roles_file"};
      for (int i = 0; i < 4; ++i)
        if (opts_[i] && opts_[i]->count() == 0)
          if (auto v = t["privacy"][keys[i]].value<std::string>()) *fields[i] = *v;
    }
  }
  if (state_dir.empty()) {
    const char* env = std::getenv("OMAMORI_STATE_DIR");
    state_dir = env && *env ? env : kDefaultStateDir;
  }
  while (state_dir.size() > 1 && state_dir.back() == '/') state_dir.pop_back();
  if (key_file.empty()) key_file = state_dir + "/pseudonym.key";
  if (audit_log.empty()) audit_log = state_dir + "/audit.log";
  if (roles_file.empty()) roles_file = state_dir + "/roles.toml";
}

std::optional<Role> Settings::requested_role() const {
  if (role.empty()) return std::nullopt;
  auto r = parse_role(role);
  if (!r) throw std::invalid_argument(fmt::format("unknown role '{}' (analyst, notifier, auditor, admin)", role));
  return r;
}

Access authorize(const Settings& s, Permission p, std::string_view attempted, std::string_view subject) {
  auto requested = s.requested_role();
  try {
    std::string actor = current_actor();
    note_config_changes(s.state_dir, s.audit_log, {s.config_file, s.roles_file}, actor);
    Access a = resolve_access_as(actor, AccessPolicy::load(s.roles_file), requested, p);
    require(a, p);
    return a;
  } catch (const AccessDenied& d) {
    AuditEvent ev;
    ev.actor = d.actor();
    ev.role = d.role() ? std::string(role_name(*d.role())) : s.role;
    ev.action = std::string(kActionAccessDenied);
    ev.subject = std::string(subject);
    ev.detail = {{"attempted", std::string(attempted)},
                 {"permission", std::string(permission_name(p))},
                 {"error", d.what()}};
    try {
      AuditLog(s.audit_log).append(ev);
    } catch (const std::exception& e) {
      throw AccessDenied(d.actor(), d.role(), d.permission(),
                         fmt::format("{} (and the denial could not be audited: {})", d.what(), e.what()));
    }
    throw;
  }
}

void require_reason(std::string_view reason, std::string_view action) {
  for (char c : reason)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
  throw std::invalid_argument(fmt::format("{} needs a stated reason (--reason)", action));
}

}  // namespace omamori::privacy
