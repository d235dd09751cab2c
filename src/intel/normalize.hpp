// Normalising and classifying indicator values (feeds) and names (lookups).
//
// Feed side: classify_indicator() decides what a text is (address, prefix,
// domain, URL, address:port), puts it in normal form and rejects what must not
// become an indicator, with a static reason: malformed values, single labels,
// and public suffixes (a feed line "co.jp" or "com" would otherwise flag every
// name below it). The public suffix list is libpsl's (the system list from the
// publicsuffix package when present, else the one built into libpsl).
//
// Lookup side: normalise_url_to() writes a URL's normal form into a caller's
// buffer without allocating, so the matcher and the importer agree on it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "intel/indicator.hpp"

namespace omamori::intel {

inline constexpr size_t kMaxDomain = 253;
inline constexpr size_t kMaxUrl = 4096;
// Room for the normal form of any URL up to kMaxUrl characters, plus a host in front of a path.
inline constexpr size_t kMaxUrlBuffer = kMaxUrl + kMaxDomain + 64;

struct Classified {
  Kind kind = Kind::kDomain;
  std::string value;
  const char* note = nullptr;  // an informational remark (e.g. "url without path taken as host")
};

// Returns nullptr and fills out, or returns the reason the text was rejected.
const char* classify_indicator(std::string_view text, Classified& out);

// Normalises a domain: lower case, no trailing dot, leading "*." or "." removed.
// Rejects invalid names, single labels and public suffixes.
const char* normalise_domain(std::string_view in, std::string& out);

// True if the (normalised) domain is a public suffix: "com", "co.jp", "github.io".
// Unknown top-level labels count as public suffixes (the "*" rule).
bool is_public_suffix(std::string_view domain);
// The registrable domain (eTLD+1) of a normalised name, or "" if it has none.
std::string registrable_domain(std::string_view domain);
// Which public suffix list is in use ("system file ..." or "libpsl built-in").
std::string psl_source();

struct UrlParts {
  size_t host_len = 0;   // out[0, host_len) is the host (lower case; IPv6 in brackets)
  size_t port_len = 0;   // ":port" after the host when not the scheme's default, 0 if none
  size_t path_off = 0;   // out[path_off, len) is "/path[?query]" (at least "/")
  size_t query_off = 0;  // position of '?' or len when there is none
  bool host_is_ip = false;
};

// Writes the normal form "host[:port]/path[?query]" of a URL ("scheme://user@host:port/path?q#frag",
// or "host/path" without a scheme) to out (capacity cap). Returns its length, or 0 if the text is
// not a URL with a valid host or does not fit. Host lower-cased; default ports (80, 443, 21) and the
// fragment dropped; path and query kept as they are.
size_t normalise_url_to(std::string_view in, char* out, size_t cap, UrlParts& parts);

// Lower-cases a DNS name into out (cap >= kMaxDomain + 1) and drops one trailing dot.
// Returns the length, or 0 when it is empty or too long.
size_t lower_name_to(std::string_view in, char* out);

}  // namespace omamori::intel
