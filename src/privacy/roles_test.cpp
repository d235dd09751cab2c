#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "privacy/roles.hpp"

using namespace omamori::privacy;

TEST(Roles, NamesRoundTrip) {
  for (Role r : kAllRoles) EXPECT_EQ(parse_role(role_name(r)), r);
  for (Permission p : kAllPermissions) EXPECT_EQ(parse_permission(permission_name(p)), p);
  EXPECT_FALSE(parse_role("Admin"));
  EXPECT_FALSE(parse_role(""));
  EXPECT_FALSE(parse_permission("reveal"));
}

TEST(Roles, Matrix) {
  using P = Permission;
  auto allowed = [](Role r) {
    std::string s;
    for (P p : kAllPermissions)
      if (role_allows(r, p)) s += std::string(permission_name(p)) + " ";
    return s;
  };
  EXPECT_EQ(allowed(Role::kAnalyst), "view-pseudonymous manage-cases ");
  EXPECT_EQ(allowed(Role::kNotifier), "view-pseudonymous reveal-identity send-warning manage-cases ");
  EXPECT_EQ(allowed(Role::kAuditor), "view-pseudonymous read-audit ");
  EXPECT_EQ(allowed(Role::kAdmin),
            "view-pseudonymous reveal-identity send-warning export read-audit configure manage-cases ");
}

TEST(Roles, PolicyFromToml) {
  auto p = AccessPolicy::parse("[roles]\nalice = [\"notifier\", \"analyst\"]\nbob = \"auditor\"\nroot = []\n", "t");
  EXPECT_EQ(p.roles_of("alice"), (std::vector<Role>{Role::kAnalyst, Role::kNotifier}));
  EXPECT_EQ(p.roles_of("bob"), std::vector<Role>{Role::kAuditor});
  EXPECT_TRUE(p.roles_of("carol").empty());
  // root listed with nothing: no fallback.
  EXPECT_TRUE(p.roles_of("root").empty());
  // root not listed: every role.
  EXPECT_EQ(AccessPolicy().roles_of("root").size(), 4u);
  EXPECT_TRUE(AccessPolicy().holds("root", Role::kAdmin));
}

TEST(Roles, PolicyErrors) {
  try {
    AccessPolicy::parse("[roles]\nalice = [\"superuser\"]\n", "roles.toml");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown role 'superuser' for 'alice'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("roles.toml"), std::string::npos);
  }
  EXPECT_THROW(AccessPolicy::parse("[roles\n", "x"), std::runtime_error);
  EXPECT_THROW(AccessPolicy::parse("roles = 3\n", "x"), std::runtime_error);
  EXPECT_THROW(AccessPolicy::parse("[roles]\na = [1]\n", "x"), std::runtime_error);
}

TEST(Roles, LoadFile) {
  char dir[] = "/tmp/omamori-roles-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  std::string path = std::string(dir) + "/roles.toml";
  auto missing = AccessPolicy::load(path);
  EXPECT_TRUE(missing.roles_of("alice").empty());
  EXPECT_NE(missing.source().find("missing"), std::string::npos);
  std::ofstream(path) << "[roles]\nalice = [\"admin\"]\n";
  EXPECT_TRUE(AccessPolicy::load(path).holds("alice", Role::kAdmin));
  std::filesystem::remove_all(dir);
}

TEST(Roles, ResolveAccess) {
  auto p = AccessPolicy::parse("[roles]\nalice = [\"analyst\", \"notifier\"]\nbob = [\"auditor\"]\n", "roles.toml");
  // No request: least privileged role held; with a permission: least privileged that grants it.
  EXPECT_EQ(resolve_access_as("alice", p, std::nullopt, std::nullopt).role, Role::kAnalyst);
  EXPECT_EQ(resolve_access_as("alice", p, std::nullopt, Permission::kRevealIdentity).role, Role::kNotifier);
  EXPECT_EQ(resolve_access_as("alice", p, Role::kNotifier, std::nullopt).role, Role::kNotifier);
  try {
    resolve_access_as("alice", p, Role::kAdmin, std::nullopt);
    FAIL();
  } catch (const AccessDenied& e) {
    EXPECT_EQ(e.actor(), "alice");
    EXPECT_EQ(e.role(), Role::kAdmin);
    EXPECT_NE(std::string(e.what()).find("alice does not hold the role admin"), std::string::npos) << e.what();
  }
  EXPECT_THROW(resolve_access_as("bob", p, std::nullopt, Permission::kExport), AccessDenied);
  EXPECT_THROW(resolve_access_as("mallory", p, std::nullopt, std::nullopt), AccessDenied);
}

TEST(Roles, Require) {
  Access a{"alice", Role::kAnalyst};
  EXPECT_NO_THROW(require(a, Permission::kManageCases));
  try {
    require(a, Permission::kRevealIdentity);
    FAIL();
  } catch (const AccessDenied& e) {
    EXPECT_STREQ(e.what(), "role analyst may not reveal-identity (actor alice)");
    EXPECT_EQ(e.permission(), Permission::kRevealIdentity);
  }
  EXPECT_NO_THROW(require({"root", Role::kAdmin}, Permission::kConfigure));
}

TEST(Roles, CurrentActor) {
  unsetenv("OMAMORI_ACTOR");
  std::string me = current_actor();
  EXPECT_FALSE(me.empty());
  setenv("OMAMORI_ACTOR", "alice", 1);
  if (geteuid() == 0) {
    EXPECT_EQ(current_actor(), "alice");
  } else {
    EXPECT_THROW(current_actor(), AccessDenied);  // only root may act as somebody else
  }
  setenv("OMAMORI_ACTOR", me.c_str(), 1);
  EXPECT_EQ(current_actor(), me);
  unsetenv("OMAMORI_ACTOR");
}
