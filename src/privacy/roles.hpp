// Roles, permissions and who may act as what (docs/privacy.md, "Roles").
//
// Every command that touches personal data resolves an Access (the acting OS
// user and the one role assumed for this command) and calls require() for the
// permission it needs. A failed check throws AccessDenied; the caller records
// it in the audit log as "access.denied" (see privacy/settings.hpp authorize()).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace omamori::privacy {

enum class Role : uint8_t { kAnalyst, kNotifier, kAuditor, kAdmin };
inline constexpr Role kAllRoles[] = {Role::kAnalyst, Role::kNotifier, Role::kAuditor, Role::kAdmin};

// "analyst", "notifier", "auditor", "admin" (case-sensitive).
std::optional<Role> parse_role(std::string_view s);
std::string_view role_name(Role r);

enum class Permission : uint8_t {
  kViewPseudonymous,  // findings, cases and flows under pseudonymous subscriber ids
  kRevealIdentity,    // resolve a pseudonym or address to the subscriber (needs a reason)
  kSendWarning,       // send a warning (注意喚起) to a subscriber
  kExport,            // data that leaves the system: hub, partners, files handed out
  kReadAudit,         // read the audit log
  kConfigure,         // change configuration, roles, keys, retention
  kManageCases,       // open, annotate, close cases
};
inline constexpr Permission kAllPermissions[] = {
    Permission::kViewPseudonymous, Permission::kRevealIdentity, Permission::kSendWarning, Permission::kExport,
    Permission::kReadAudit,        Permission::kConfigure,      Permission::kManageCases};

// "view-pseudonymous", "reveal-identity", "send-warning", "export", "read-audit", "configure", "manage-cases".
std::string_view permission_name(Permission p);
std::optional<Permission> parse_permission(std::string_view s);

// The role/permission matrix (docs/privacy.md):
//               view  reveal  warn  export  audit  configure  cases
//   analyst      x                                             x
//   notifier     x     x       x                               x
//   auditor      x                          x
//   admin        x     x       x     x      x      x           x
bool role_allows(Role r, Permission p);

// Thrown when an actor may not assume a role or a role lacks a permission.
class AccessDenied : public std::runtime_error {
 public:
  AccessDenied(std::string actor, std::optional<Role> role, std::optional<Permission> permission,
               const std::string& message)
      : std::runtime_error(message), actor_(std::move(actor)), role_(role), permission_(permission) {}
  const std::string& actor() const { return actor_; }
  std::optional<Role> role() const { return role_; }
  std::optional<Permission> permission() const { return permission_; }

 private:
  std::string actor_;
  std::optional<Role> role_;
  std::optional<Permission> permission_;
};

// Which actors hold which roles. Loaded from a TOML file:
//   [roles]
//   alice = ["analyst", "notifier"]
//   bob = ["auditor"]
// Fallback: the actor "root" holds every role unless the file lists root
// itself (then root holds exactly what is listed). Nobody else holds a role
// the file does not grant; a missing file grants nothing but root's fallback.
class AccessPolicy {
 public:
  AccessPolicy() = default;
  // Reads the file; a missing file gives the empty policy (root fallback only).
  // Throws std::runtime_error naming the file on a parse error or unknown role.
  static AccessPolicy load(const std::string& path);
  static AccessPolicy parse(std::string_view toml_text, const std::string& source);

  void grant(const std::string& actor, Role r);
  // Roles the actor holds, least privileged first (analyst, auditor, notifier, admin).
  std::vector<Role> roles_of(std::string_view actor) const;
  bool holds(std::string_view actor, Role r) const;
  const std::string& source() const { return source_; }

 private:
  std::map<std::string, std::vector<Role>, std::less<>> grants_;
  std::string source_ = "(no roles file)";
};

struct Access {
  std::string actor;
  Role role = Role::kAnalyst;
};

// The acting user: $OMAMORI_ACTOR when set and the process runs as root (tests,
// or root acting on behalf of someone), else the name of the effective uid.
// A non-root process with OMAMORI_ACTOR naming somebody else is refused
// (AccessDenied), so that nobody can act as another user by an env variable.
std::string current_actor();

// Resolves the role for this command. With a requested role the actor must
// hold it; without, the least privileged role held is taken. The overload
// with a permission takes, without a request, the least privileged held role
// that grants it. Throws AccessDenied (message names actor, role and the
// policy file) when the actor holds no fitting role.
Access resolve_access(const AccessPolicy& policy, std::optional<Role> requested);
Access resolve_access(const AccessPolicy& policy, std::optional<Role> requested, Permission needed);
Access resolve_access_as(const std::string& actor, const AccessPolicy& policy, std::optional<Role> requested,
                         std::optional<Permission> needed);

// Throws AccessDenied "role R may not P (actor A)" unless role_allows.
void require(const Access& a, Permission p);

}  // namespace omamori::privacy
