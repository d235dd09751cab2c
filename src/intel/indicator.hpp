// Threat-intelligence indicators: the model shared by feed parsers, the
// SQLite store, the compiled matcher and the exports.
//
// An indicator is one normalised value (an address, a prefix, a domain, a URL
// or an address:port) with what a feed says about it: category, family, tags,
// confidence and its validity in time. Values are always held in normal form
// (see normalize.hpp) so that the same indicator from two feeds compares equal.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/counters.hpp"
#include "core/time.hpp"

namespace omamori::intel {

enum class Kind : uint8_t {
  kIpv4 = 0,  // "192.0.2.1"
  kIpv6,      // "2001:db8::1"
  kCidr,      // "192.0.2.0/24", "2001:db8::/32" (never a host prefix: those are addresses)
  kDomain,    // "evil.example" (lower case, no trailing dot, ASCII / A-labels)
  kUrl,       // "host[:port]/path[?query]" without scheme, or a host-less "/path"
  kAddrPort,  // "192.0.2.1:23", "[2001:db8::1]:443", optionally "/tcp" or "/udp"
};
inline constexpr int kKindCount = 6;

enum class Category : uint8_t {
  kUnknown = 0,
  kC2,
  kMalwareDownload,
  kPhishing,
  kSinkhole,
  kScanner,
  kSpam,
  kMalware,     // malicious, role not stated
  kSuspicious,  // anomalous, low confidence
};
inline constexpr int kCategoryCount = 9;

const char* kind_name(Kind k);
const char* category_name(Category c);
std::optional<Kind> parse_kind(std::string_view s);
// Accepts the names above and common spellings ("cnc", "c&c", "command-and-control",
// "malware-download", "payload", "botnet", ...), case-insensitive.
std::optional<Category> parse_category(std::string_view s);

struct Indicator {
  Kind kind = Kind::kDomain;
  std::string value;  // normal form
  Category category = Category::kUnknown;
  std::string family;
  std::vector<std::string> tags;
  std::string feed;
  std::string reference;    // where the feed says it comes from (URL), optional
  uint8_t confidence = 50;  // 0-100
  TimeMs first_seen = 0;
  TimeMs last_seen = 0;
  TimeMs expiry = 0;       // 0: does not expire
  bool subdomains = true;  // domains: also match names below it

  bool expired(TimeMs now) const { return expiry != 0 && expiry <= now; }
};

// What a feed is and the defaults it gives to its indicators (from the
// configuration or the command line).
struct FeedConfig {
  std::string name;
  std::string format;                // plain, csv, maltrail, stix
  std::optional<Category> category;  // unset: the format's own rule (see docs/intel.md)
  uint8_t confidence = 50;
  std::string family;
  std::vector<std::string> tags;
  bool subdomains = true;  // domain indicators match names below them
  bool allow = false;      // an allowlist: its entries suppress matches of every other feed
  TimeMs ttl = 0;          // if > 0, indicators expire this long after import (unless the feed says)
  // CSV only.
  std::string columns = "value=1";  // e.g. "value=1,category=3,family=4"
  char delimiter = ',';
  bool header = false;  // first row is a header
};

// The outcome of parsing one feed file.
struct ParseResult {
  std::vector<Indicator> indicators;
  ReasonCounters skipped;  // lines or objects that looked like data but were not taken, by reason
  ReasonCounters ignored;  // comments, blank lines, non-indicator objects: informational
  uint64_t records = 0;    // lines (or STIX objects) read
};

// Applies the feed's defaults to an indicator a parser produced.
void apply_feed_defaults(Indicator& ind, const FeedConfig& cfg, TimeMs now);

}  // namespace omamori::intel
