#include "privacy/roles.hpp"

#include <fmt/format.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <toml++/toml.h>

namespace omamori::privacy {

namespace {

constexpr std::string_view kRoleNames[] = {"analyst", "notifier", "auditor", "admin"};
constexpr std::string_view kPermissionNames[] = {"view-pseudonymous", "reveal-identity", "send-warning", "export",
                                                 "read-audit",        "configure",       "manage-cases"};

constexpr uint32_t bit(Permission p) { return 1u << static_cast<unsigned>(p); }

// The matrix of roles.hpp / docs/privacy.md.
constexpr uint32_t kMatrix[] = {
    // analyst: works on pseudonymous data and cases; never sees who a subscriber is.
    bit(Permission::kViewPseudonymous) | bit(Permission::kManageCases),
    // notifier: resolves identities to warn subscribers (with a reason), sends warnings, follows cases.
    bit(Permission::kViewPseudonymous) | bit(Permission::kRevealIdentity) | bit(Permission::kSendWarning) |
        bit(Permission::kManageCases),
    // auditor: reads the audit log and the pseudonymous data it refers to; changes nothing.
    bit(Permission::kReadAudit) | bit(Permission::kViewPseudonymous),
    // admin: everything, including configuration, exports and the audit log.
    0x7f,
};

// Least privileged first: the order in which a role is picked without --role.
constexpr Role kByPrivilege[] = {Role::kAnalyst, Role::kAuditor, Role::kNotifier, Role::kAdmin};
int rank(Role r) {
  for (int i = 0; i < 4; ++i)
    if (kByPrivilege[i] == r) return i;
  return 4;
}

}  // namespace

std::optional<Role> parse_role(std::string_view s) {
  for (size_t i = 0; i < std::size(kRoleNames); ++i)
    if (kRoleNames[i] == s) return static_cast<Role>(i);
  return std::nullopt;
}

std::string_view role_name(Role r) {
  auto i = static_cast<size_t>(r);
  return i < std::size(kRoleNames) ? kRoleNames[i] : "?";
}

std::string_view permission_name(Permission p) {
  auto i = static_cast<size_t>(p);
  return i < std::size(kPermissionNames) ? kPermissionNames[i] : "?";
}

std::optional<Permission> parse_permission(std::string_view s) {
  for (size_t i = 0; i < std::size(kPermissionNames); ++i)
    if (kPermissionNames[i] == s) return static_cast<Permission>(i);
  return std::nullopt;
}

bool role_allows(Role r, Permission p) {
  auto i = static_cast<size_t>(r);
  return i < std::size(kMatrix) && (kMatrix[i] & bit(p)) != 0;
}

AccessPolicy AccessPolicy::load(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    AccessPolicy p;
    p.source_ = path + " (missing)";
    return p;
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(fmt::format("cannot read roles file {}: {}", path, std::strerror(errno)));
  std::stringstream ss;
  ss << f.rdbuf();
  return parse(ss.str(), path);
}

AccessPolicy AccessPolicy::parse(std::string_view text, const std::string& source) {
  AccessPolicy p;
  p.source_ = source;
  toml::table t;
  try {
    t = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw std::runtime_error(fmt::format("roles file {}: {} (line {})", source, e.description(),
                                         e.source().begin.line));
  }
  const toml::node* roles = t.get("roles");
  if (!roles) return p;
  const toml::table* rt = roles->as_table();
  if (!rt) throw std::runtime_error(fmt::format("roles file {}: [roles] must be a table", source));
  for (const auto& [key, value] : *rt) {
    std::string actor(key.str());
    auto add = [&](const toml::node& n) {
      auto s = n.value<std::string>();
      if (!s) throw std::runtime_error(fmt::format("roles file {}: roles of '{}' must be strings", source, actor));
      auto r = parse_role(*s);
      if (!r)
        throw std::runtime_error(fmt::format(
            "roles file {}: unknown role '{}' for '{}' (roles: analyst, notifier, auditor, admin)", source, *s, actor));
      p.grant(actor, *r);
    };
    if (const toml::array* a = value.as_array()) {
      p.grants_[actor];  // an empty list grants nothing, but lists the actor (matters for root)
      for (const auto& n : *a) add(n);
    } else {
      add(value);
    }
  }
  return p;
}

void AccessPolicy::grant(const std::string& actor, Role r) {
  auto& v = grants_[actor];
  if (std::find(v.begin(), v.end(), r) == v.end()) v.push_back(r);
  std::sort(v.begin(), v.end(), [](Role a, Role b) { return rank(a) < rank(b); });
}

std::vector<Role> AccessPolicy::roles_of(std::string_view actor) const {
  auto it = grants_.find(actor);
  if (it != grants_.end()) return it->second;
  if (actor == "root") return {kByPrivilege, kByPrivilege + 4};
  return {};
}

bool AccessPolicy::holds(std::string_view actor, Role r) const {
  auto v = roles_of(actor);
  return std::find(v.begin(), v.end(), r) != v.end();
}

std::string current_actor() {
  std::string os_user;
  uid_t uid = geteuid();
  if (passwd* pw = getpwuid(uid); pw && pw->pw_name) os_user = pw->pw_name;
  else os_user = "uid:" + std::to_string(uid);
  const char* env = std::getenv("OMAMORI_ACTOR");
  if (!env || !*env || os_user == env) return os_user;
  if (uid != 0)
    throw AccessDenied(os_user, std::nullopt, std::nullopt,
                       fmt::format("OMAMORI_ACTOR={} is honoured only for root; {} may act only as itself", env,
                                   os_user));
  return env;
}

Access resolve_access_as(const std::string& actor, const AccessPolicy& policy, std::optional<Role> requested,
                         std::optional<Permission> needed) {
  auto held = policy.roles_of(actor);
  if (requested) {
    if (std::find(held.begin(), held.end(), *requested) == held.end())
      throw AccessDenied(actor, requested, needed,
                         fmt::format("{} does not hold the role {} (roles file {})", actor, role_name(*requested),
                                     policy.source()));
    return {actor, *requested};
  }
  if (held.empty())
    throw AccessDenied(actor, std::nullopt, needed,
                       fmt::format("{} holds no role (roles file {}); an admin grants roles under [roles]", actor,
                                   policy.source()));
  if (!needed) return {actor, held.front()};
  for (Role r : held)
    if (role_allows(r, *needed)) return {actor, r};
  std::string names;
  for (Role r : held) names += fmt::format("{}{}", names.empty() ? "" : ", ", role_name(r));
  throw AccessDenied(actor, held.back(), needed,
                     fmt::format("{} may not {}: none of the roles held ({}) allows it", actor,
                                 permission_name(*needed), names));
}

Access resolve_access(const AccessPolicy& policy, std::optional<Role> requested) {
  return resolve_access_as(current_actor(), policy, requested, std::nullopt);
}

Access resolve_access(const AccessPolicy& policy, std::optional<Role> requested, Permission needed) {
  return resolve_access_as(current_actor(), policy, requested, needed);
}

void require(const Access& a, Permission p) {
  if (!role_allows(a.role, p))
    throw AccessDenied(a.actor, a.role, p,
                       fmt::format("role {} may not {} (actor {})", role_name(a.role), permission_name(p), a.actor));
}

}  // namespace omamori::privacy
