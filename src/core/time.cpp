#include "core/time.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace omamori {

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

namespace {
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

void put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

bool num(std::string_view s, size_t pos, size_t n, unsigned& out) { return parse_fixed_digits(s, pos, n, out); }
}  // namespace

bool parse_fixed_digits(std::string_view s, size_t pos, size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  out = v;
  return true;
}

size_t format_rfc3339(TimeMs t, char* buf) {
  int64_t secs = t >= 0 ? t / 1000 : (t - 999) / 1000;
  unsigned ms = static_cast<unsigned>(t - secs * 1000);
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  unsigned sod = static_cast<unsigned>(secs - days * 86400);
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  if (y < 0 || y > 9999) {
    return static_cast<size_t>(std::snprintf(buf, 32, "%s", "0000-00-00T00:00:00.000Z"));
  }
  unsigned yy = static_cast<unsigned>(y);
  buf[0] = static_cast<char>('0' + yy / 1000);
  buf[1] = static_cast<char>('0' + yy / 100 % 10);
  put2(buf + 2, yy % 100);
  buf[4] = '-';
  put2(buf + 5, m);
  buf[7] = '-';
  put2(buf + 8, d);
  buf[10] = 'T';
  put2(buf + 11, sod / 3600);
  buf[13] = ':';
  put2(buf + 14, sod / 60 % 60);
  buf[16] = ':';
  put2(buf + 17, sod % 60);
  buf[19] = '.';
  buf[20] = static_cast<char>('0' + ms / 100);
  put2(buf + 21, ms % 100);
  buf[23] = 'Z';
  buf[24] = 0;
  return 24;
}

std::string format_rfc3339(TimeMs t) {
  char buf[32];
  size_t n = format_rfc3339(t, buf);
  return std::string(buf, n);
}

std::optional<TimeMs> parse_time(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  if (s.empty()) return std::nullopt;
  // Epoch seconds, possibly fractional.
  if (s.find_first_not_of("0123456789.") == std::string_view::npos) {
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    // Beyond year 9999 is no timestamp (and would overflow the conversion).
    if (ec == std::errc() && p == s.data() + s.size() && v < 253402300800.0) return static_cast<TimeMs>(v * 1000.0 + 0.5);
    return std::nullopt;
  }
  unsigned y, mo, d, h = 0, mi = 0, se = 0;
  if (!num(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !num(s, 5, 2, mo) || s[7] != '-' || !num(s, 8, 2, d))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
  size_t pos = 10;
  int64_t ms = 0;
  int64_t offset_min = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return std::nullopt;
    if (!num(s, pos + 1, 2, h) || s.size() < pos + 9 || s[pos + 3] != ':' || !num(s, pos + 4, 2, mi) ||
        s[pos + 6] != ':' || !num(s, pos + 7, 2, se))
      return std::nullopt;
    if (h > 23 || mi > 59 || se > 60) return std::nullopt;
    pos += 9;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      int64_t scale = 100;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        ms += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
    }
    if (pos < s.size()) {
      char c = s[pos];
      if (c == 'Z' || c == 'z') {
        ++pos;
      } else if (c == '+' || c == '-') {
        unsigned oh, om;
        if (!num(s, pos + 1, 2, oh) || s.size() < pos + 6 || s[pos + 3] != ':' || !num(s, pos + 4, 2, om))
          return std::nullopt;
        offset_min = (c == '+' ? 1 : -1) * static_cast<int64_t>(oh * 60 + om);
        pos += 6;
      }
    }
    if (pos != s.size()) return std::nullopt;
  }
  int64_t days = days_from_civil(y, mo, d);
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_min * 60;
  return secs * 1000 + ms;
}

TimeMs now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace omamori
