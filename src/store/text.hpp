// Text that both database engines store alike: valid UTF-8 without NUL.
// Both drivers reject other text parameters (DbError), so that SQLite and
// PostgreSQL behave the same; callers clean untrusted text first.
#pragma once

#include <string>
#include <string_view>

namespace omamori::store {

bool storable_text(std::string_view s);
// Replaces each invalid UTF-8 sequence and each NUL with U+FFFD.
std::string clean_text(std::string_view s);

}  // namespace omamori::store
