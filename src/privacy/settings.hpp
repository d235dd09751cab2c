// Where the privacy state lives, shared by every command that handles
// personal data (audit, who, cases, notify, export ...). docs/privacy.md.
//
//   state_dir   --state-dir, $OMAMORI_STATE_DIR, default /var/lib/omamori
//   key_file    --key-file,   default <state_dir>/pseudonym.key
//   audit_log   --audit-log,  default <state_dir>/audit.log
//   roles_file  --roles-file, default <state_dir>/roles.toml
//   role        --role        the role assumed for this command (default: the
//                             least privileged role held that allows it)
//
// In a configuration file (-c) the options sit in the section of the
// subcommand that offers them ([audit] state_dir = ...), or, for all commands
// at once, in a [privacy] section: [privacy] state_dir = "/srv/omamori".
// Order of precedence: flag, environment, subcommand section, [privacy], default.
#pragma once

#include <string>
#include <string_view>

#include "privacy/roles.hpp"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace omamori::privacy {

struct Settings {
  std::string state_dir, key_file, audit_log, roles_file;
  std::string role;  // requested role, "" = pick
  std::string config_file;  // the -c configuration file, set by resolve() ("" = none)

  static constexpr const char* kDefaultStateDir = "/var/lib/omamori";

  // Adds --state-dir, --key-file, --audit-log, --roles-file (and --role when
  // with_role) to app, in the option group "Privacy". Keep the Settings alive
  // as long as the app.
  void add_to(CLI::App* app, bool with_role = true);

  // Call from the command's callback: applies a [privacy] section of the -c
  // configuration file to settings not given otherwise, then derives empty
  // paths from state_dir. Throws std::runtime_error on an unreadable config.
  void resolve();

  // The role requested with --role; throws std::invalid_argument for an unknown name.
  std::optional<Role> requested_role() const;

 private:
  CLI::App* app_ = nullptr;
  CLI::Option* opts_[4] = {nullptr, nullptr, nullptr, nullptr};
};

// Notes configuration changes first (the -c file and the roles file,
// privacy/config_watch.hpp: "config.change" entries). Then resolves who is
// acting (current_actor), the role (settings.role or the
// least privileged role held that grants `p`, per the roles file) and checks
// `p`. On AccessDenied, appends "access.denied" to the audit log (detail:
// attempted action, permission, error) and rethrows. `attempted` names the
// action tried (e.g. "identity.reveal"), `subject` what it was about.
Access authorize(const Settings& s, Permission p, std::string_view attempted, std::string_view subject = {});

// Throws std::invalid_argument unless the reason has a non-blank character:
// revealing an identity, exporting and warning need a stated reason.
void require_reason(std::string_view reason, std::string_view action);

}  // namespace omamori::privacy
