// UTC time: milliseconds since the Unix epoch, formatting and parsing RFC 3339.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace omamori {

// Milliseconds since 1970-01-01T00:00:00Z. All timestamps in omamori are UTC.
using TimeMs = int64_t;

// Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 chars + NUL) into buf; returns length.
size_t format_rfc3339(TimeMs t, char* buf);
std::string format_rfc3339(TimeMs t);

// Accepts "YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm|-hh:mm]" and "YYYY-MM-DD HH:MM:SS",
// and a plain integer of epoch seconds (or fractional seconds).
std::optional<TimeMs> parse_time(std::string_view s);

TimeMs now_ms();

// Reads exactly n decimal digits of s at pos into out; false if any is not a digit.
bool parse_fixed_digits(std::string_view s, size_t pos, size_t n, unsigned& out);

// Days since epoch <-> civil date (proleptic Gregorian).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

}  // namespace omamori
