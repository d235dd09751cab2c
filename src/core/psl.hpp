// Public suffix list (libpsl): registered domains and public suffixes.
//
// "a.b.example.co.jp" -> registered domain "example.co.jp"; "co.jp" is a
// public suffix and has no registered domain. Names must be lower-case
// without a trailing dot. Thread-safe: the list is loaded once.
#pragma once

#include <string_view>

namespace omamori {

// The registrable domain of name (a suffix of it, a view into name), or an
// empty view when name is itself a public suffix or not a domain name.
std::string_view registered_domain(std::string_view name);
bool is_public_suffix(std::string_view name);
// The leftmost label of the registered domain ("example" for
// "www.example.co.jp"), or empty.
std::string_view registered_label(std::string_view name);

}  // namespace omamori
