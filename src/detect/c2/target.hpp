// What an analyst names when deciding about C&C candidates, and which
// recorded candidates that covers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "detect/c2/discovery.hpp"
#include "intel/indicator.hpp"

namespace omamori::c2 {

// What the analyst names in confirm/reject: a domain, an address, or an
// address:port (optionally /tcp or /udp); normalised as intel indicators are.
struct Target {
  intel::Kind kind = intel::Kind::kDomain;
  std::string value;
};
// Returns nullopt and sets err when text is none of those.
std::optional<Target> parse_target(std::string_view text, std::string& err);
// True if a recorded candidate's destination is covered by the target: the
// same destination; an address covers its address:port candidates; an
// address:port without protocol covers both; a domain covers names below it.
bool covers(const Target& t, std::string_view candidate_dest, DestKind kind);

}  // namespace omamori::c2
