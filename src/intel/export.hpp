// Exports of indicator sets: an RPZ zone for resolvers, plain lists, STIX 2.1 bundles.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/counters.hpp"
#include "intel/indicator.hpp"

namespace omamori::intel {

enum class RpzAction : uint8_t { kPassthru, kNxdomain, kNodata, kDrop, kWalledGarden };
const char* rpz_action_name(RpzAction a);

struct RpzOptions {
  std::string origin = "rpz.omamori.local";  // the zone name (no trailing dot)
  uint32_t ttl = 300;
  uint32_t serial = 0;  // 0: seconds since the epoch at export
  std::string mname = "localhost";
  std::string rname = "hostmaster.localhost";
  // Action per category; passthru (log only) unless the operator configures otherwise.
  std::array<RpzAction, kCategoryCount> action{};
  std::array<std::string, kCategoryCount> garden{};  // walled-garden host per category
  bool ip_triggers = true;                           // addresses and prefixes as rpz-ip (response address) triggers
  bool comments = true;                              // "; feed category family" after each record
};

// "c2=nxdomain,phishing=walled-garden:garden.isp.example,malware_download=drop,*=passthru".
// Actions: passthru (log-only), nxdomain, nodata, drop, walled-garden:HOST.
bool parse_action_map(std::string_view spec, RpzOptions& opt, std::string& error);

// RFC-style response policy zone text. URL and address:port indicators cannot be
// expressed and are counted in skipped. When several indicators give the same
// trigger, the most severe action wins.
std::string export_rpz(const std::vector<Indicator>& inds, const RpzOptions& opt, ReasonCounters& skipped, TimeMs now);

// The RPZ owner name (relative to the zone) of an address or prefix trigger:
// "32.1.2.0.192.rpz-ip", "48.zz.db8.2001.rpz-ip". Empty if the value is not an address.
std::string rpz_ip_owner(Kind kind, std::string_view value);

// One value a line, each value once, with a comment header.
std::string export_plain(const std::vector<Indicator>& inds, TimeMs now);

// A STIX 2.1 bundle: one indicator object per indicator (deterministic UUIDv5 ids from
// feed, kind and value), malware objects for families and "indicates" relationships.
// Host-less URL paths cannot be expressed and are counted in skipped.
std::string export_stix(const std::vector<Indicator>& inds, ReasonCounters& skipped, TimeMs now);

std::string uuid_v4();
std::string uuid_v5(std::string_view name);  // in omamori's namespace
bool is_valid_uuid(std::string_view s, int version);

}  // namespace omamori::intel
