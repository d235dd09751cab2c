#include "notify/text.hpp"

#include <algorithm>
#include <cstdint>

namespace omamori::notify {
namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0 when it is malformed.
size_t utf8_len(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

std::string clean(std::string_view s, size_t max_bytes, bool multiline) {
  static constexpr std::string_view kReplacement = "\xef\xbf\xbd";
  std::string out;
  out.reserve(std::min(s.size(), max_bytes));
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_len(s, i);
    std::string_view piece;
    char one;
    if (n == 0) {
      piece = kReplacement;
      n = 1;
    } else if (n == 1) {
      one = s[i];
      auto c = static_cast<uint8_t>(one);
      if (multiline && (one == '\n' || one == '\t')) {
      } else if (multiline && one == '\r') {
        i += 1;
        continue;
      } else if (c < 0x20 || c == 0x7f) {
        one = ' ';
      }
      piece = std::string_view(&one, 1);
    } else if (n == 2 && static_cast<uint8_t>(s[i]) == 0xc2 && static_cast<uint8_t>(s[i + 1]) < 0xa0) {
      one = ' ';  // C1 control
      piece = std::string_view(&one, 1);
    } else {
      piece = s.substr(i, n);
    }
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    i += n;
  }
  return out;
}

}  // namespace

bool valid_utf8(std::string_view s, size_t* bad) {
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_len(s, i);
    if (n == 0) {
      if (bad) *bad = i;
      return false;
    }
    i += n;
  }
  return true;
}

std::string clean_line(std::string_view s, size_t max_bytes) { return clean(s, max_bytes, false); }
std::string clean_text(std::string_view s, size_t max_bytes) { return clean(s, max_bytes, true); }

bool has_line_break(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

std::string base64(std::string_view s) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((s.size() + 2) / 3 * 4);
  size_t i = 0;
  auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(s[k])); };
  for (; i + 3 <= s.size(); i += 3) {
    uint32_t v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == s.size()) {
    uint32_t v = b(i) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == s.size()) {
    uint32_t v = (b(i) << 16) | (b(i + 1) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto v = static_cast<uint8_t>(c);
    out += kDigits[v >> 4];
    out += kDigits[v & 15];
  }
  return out;
}

}  // namespace omamori::notify
