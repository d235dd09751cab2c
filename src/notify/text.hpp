// Text helpers for warnings: UTF-8 checks, cleaning untrusted values, base64.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace omamori::notify {

// True when s is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
// On failure *bad (if given) is the offset of the first bad byte.
bool valid_utf8(std::string_view s, size_t* bad = nullptr);

// A value from data an attacker may shape (feeds, directories) made safe for
// one line of a warning: invalid UTF-8 becomes U+FFFD, control characters
// (C0 incl. CR/LF/TAB, DEL, C1) become a space, and the result is cut at
// max_bytes on a character boundary.
std::string clean_line(std::string_view s, size_t max_bytes = 200);

// Like clean_line but keeps LF and TAB (multi-line text such as a rendered
// body); CR is dropped.
std::string clean_text(std::string_view s, size_t max_bytes);

// True when s contains CR or LF (not allowed in header values).
bool has_line_break(std::string_view s);

// Standard base64 (RFC 4648) without line breaks.
std::string base64(std::string_view s);

// Lower-case hex of bytes.
std::string hex(std::string_view bytes);

}  // namespace omamori::notify
