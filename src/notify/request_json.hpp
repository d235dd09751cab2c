// WarningRequest <-> JSON, for the delivery outbox and `omamori notify`
// commands (one JSON object per request; findings as in docs/findings.md).
#pragma once

#include <string>
#include <string_view>

#include "cases/warning.hpp"

namespace omamori::notify {

std::string request_to_json(const WarningRequest& req);

// Throws std::invalid_argument with the offending key for malformed input
// (wrong types, bad times or addresses, more than kMaxFindings findings).
WarningRequest request_from_json(std::string_view text);

inline constexpr size_t kMaxFindings = 10000;

}  // namespace omamori::notify
