// FreeRADIUS detail files: a header line with the receive time
// ("Tue Mar 14 10:00:00 2023"), then one "<TAB>Attribute = value" line per
// attribute, records separated by blank lines.
#include <charconv>
#include <optional>

#include "attribution/readers.hpp"
#include "core/time.hpp"

namespace omamori {

using reader_detail::trim;

namespace {

int month_index(std::string_view m) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i)
    if (m == kMonths[i]) return i + 1;
  return 0;
}

// Splits on runs of spaces into at most n tokens; returns the count.
size_t tokens(std::string_view s, std::string_view* out, size_t n) {
  size_t k = 0, i = 0;
  while (i < s.size() && k < n) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out[k++] = s.substr(i, j - i);
    i = j;
  }
  return k;
}

bool to_uint(std::string_view s, uint64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

// "Mon DD YYYY" + "HH:MM:SS[.frac]" -> ms (UTC).
std::optional<TimeMs> civil(std::string_view mon, std::string_view day, std::string_view year, std::string_view hms) {
  int m = month_index(mon);
  uint64_t d, y;
  unsigned h, mi, se;
  if (!m || !to_uint(day, d) || !to_uint(year, y) || d < 1 || d > 31 || y < 1970 || y > 9999 || hms.size() < 8 ||
      hms[2] != ':' || hms[5] != ':' || !parse_fixed_digits(hms, 0, 2, h) || !parse_fixed_digits(hms, 3, 2, mi) ||
      !parse_fixed_digits(hms, 6, 2, se) || h > 23 || mi > 59 || se > 60)
    return std::nullopt;
  return (days_from_civil(static_cast<int64_t>(y), static_cast<unsigned>(m), static_cast<unsigned>(d)) * 86400 +
          h * 3600 + mi * 60 + se) *
         1000;
}

// Header "Www Mmm DD HH:MM:SS YYYY" (FreeRADIUS writes the server's local
// time; read as UTC, used only when the record has no Timestamp).
std::optional<TimeMs> header_time(std::string_view l) {
  std::string_view t[5];
  if (tokens(l, t, 5) != 5) return std::nullopt;
  return civil(t[1], t[2], t[4], t[3]);
}

// Event-Timestamp: epoch seconds or "Mmm DD YYYY HH:MM:SS[.frac] UTC".
// Returns nullopt (and sets zone_bad) for other zones.
std::optional<TimeMs> event_time(std::string_view v, bool& zone_bad) {
  uint64_t secs;
  if (to_uint(v, secs)) return secs < 253402300800ull ? std::optional<TimeMs>(secs * 1000) : std::nullopt;
  std::string_view t[5];
  size_t n = tokens(v, t, 5);
  if (n < 4) return std::nullopt;
  if (n == 5 && t[4] != "UTC" && t[4] != "GMT") {
    zone_bad = true;
    return std::nullopt;
  }
  return civil(t[0], t[1], t[2], t[3]);
}

// A value: "quoted string" with C escapes, or a bare token.
std::string unquote(std::string_view v) {
  if (v.size() < 2 || v.front() != '"') return std::string(v);
  std::string out;
  for (size_t i = 1; i < v.size(); ++i) {
    char c = v[i];
    if (c == '"') break;
    if (c != '\\' || i + 1 >= v.size()) {
      out += c;
      continue;
    }
    char n = v[++i];
    if (n >= '0' && n <= '7' && i + 2 < v.size() && v[i + 1] >= '0' && v[i + 1] <= '7' && v[i + 2] >= '0' &&
        v[i + 2] <= '7') {
      out += static_cast<char>(((n - '0') << 6) | ((v[i + 1] - '0') << 3) | (v[i + 2] - '0'));
      i += 2;
    } else {
      out += n == 'n' ? '\n' : n == 'r' ? '\r' : n == 't' ? '\t' : n;
    }
  }
  return out;
}

// Octets printed as 0x<hex> (Class) back to bytes; other text unchanged.
std::string octets(std::string_view v) {
  if (v.size() < 4 || v.size() % 2 || !v.starts_with("0x")) return std::string(v);
  std::string out;
  for (size_t i = 2; i < v.size(); i += 2) {
    uint8_t b;
    auto [p, ec] = std::from_chars(v.data() + i, v.data() + i + 2, b, 16);
    if (ec != std::errc() || p != v.data() + i + 2) return std::string(v);
    out += static_cast<char>(b);
  }
  return out;
}

struct Record {
  uint64_t line = 0;
  std::optional<TimeMs> header, timestamp, event;
  bool zone_bad = false;
  uint64_t delay = 0;
  std::string status;
  IpAddr nas, nas6, src, src6;
  AcctEvent e;
  const char* error = nullptr;
  std::string error_detail;
};

const char* apply_attr(Record& r, std::string_view name, std::string_view raw, const ReaderOptions& o) {
  std::string v = unquote(raw);
  auto ip = [&](IpAddr& dst) -> const char* {
    auto a = IpAddr::parse(v);
    if (!a) return "detail: bad address";
    dst = *a;
    return nullptr;
  };
  auto prefix = [&](std::optional<Prefix>& dst) -> const char* {
    auto p = Prefix::parse(v);
    if (!p || p->is_v4()) return "detail: bad IPv6 prefix";
    dst = p;
    return nullptr;
  };
  uint64_t n;
  if (name == "Acct-Status-Type") r.status = v;
  else if (name == "User-Name") { if (o.subscriber == SubscriberAttr::kUserName) r.e.subscriber = v; }
  else if (name == "Class") {
    r.e.class_attr = octets(v);
    if (o.subscriber == SubscriberAttr::kClass) r.e.subscriber = r.e.class_attr;
  }
  else if (name == "Acct-Session-Id") r.e.session_id = v;
  else if (name == "Calling-Station-Id") r.e.calling_station = v;
  else if (name == "Framed-IP-Address") return ip(r.e.framed_ip);
  else if (name == "NAS-IP-Address") return ip(r.nas);
  else if (name == "NAS-IPv6-Address") return ip(r.nas6);
  else if (name == "Packet-Src-IP-Address") return ip(r.src);
  else if (name == "Packet-Src-IPv6-Address") return ip(r.src6);
  else if (name == "Framed-IPv6-Prefix") return prefix(r.e.framed_v6);
  else if (name == "Delegated-IPv6-Prefix") return prefix(r.e.delegated);
  else if (name == "Framed-IPv6-Address") {
    IpAddr a;
    if (const char* e = ip(a)) return e;
    if (a.is_v4()) return "detail: bad address";
    if (!r.e.framed_v6) r.e.framed_v6 = Prefix(a, 128);
  } else if (name == "Event-Timestamp") {
    r.event = event_time(v, r.zone_bad);
    if (!r.event && !r.zone_bad) return "detail: bad Event-Timestamp";
  } else if (name == "Timestamp") {
    if (!to_uint(v, n) || n >= 253402300800ull) return "detail: bad Timestamp";
    r.timestamp = static_cast<TimeMs>(n) * 1000;
  } else if (name == "Acct-Delay-Time") {
    if (!to_uint(v, n) || n > 86400 * 365) return "detail: bad Acct-Delay-Time";
    r.delay = n;
  } else if (name == "Acct-Session-Time") {
    if (!to_uint(v, n) || n > 100ull * 86400 * 365) return "detail: bad Acct-Session-Time";
    r.e.session_time_s = static_cast<int64_t>(n);
  } else if (name == "Acct-Interim-Interval") {
    if (!to_uint(v, n) || n > 86400 * 365) return "detail: bad Acct-Interim-Interval";
    r.e.interim_ms = static_cast<int64_t>(n) * 1000;
  }
  return nullptr;
}

// Completes a record into an event; returns the reason it cannot be used.
const char* finish(Record& r) {
  if (r.error) return r.error;
  static constexpr std::pair<std::string_view, AcctKind> kKinds[] = {
      {"Start", AcctKind::kStart},          {"1", AcctKind::kStart},          {"Stop", AcctKind::kStop},
      {"2", AcctKind::kStop},               {"Interim-Update", AcctKind::kInterim}, {"Alive", AcctKind::kInterim},
      {"3", AcctKind::kInterim},            {"Accounting-On", AcctKind::kNasOn},    {"7", AcctKind::kNasOn},
      {"Accounting-Off", AcctKind::kNasOff}, {"8", AcctKind::kNasOff}};
  if (r.status.empty()) return "detail: no Acct-Status-Type";
  bool known = false;
  for (auto [n, k] : kKinds)
    if (r.status == n) {
      r.e.kind = k;
      known = true;
    }
  if (!known) return "detail: unsupported Acct-Status-Type";
  r.e.nas = !r.nas.empty() ? r.nas : !r.nas6.empty() ? r.nas6 : !r.src.empty() ? r.src : r.src6;
  if (r.e.nas.empty()) return "detail: no NAS address";
  bool per_session = r.e.kind != AcctKind::kNasOn && r.e.kind != AcctKind::kNasOff;
  if (per_session && r.e.session_id.empty()) return "detail: no Acct-Session-Id";
  if (r.event) {
    r.e.time = *r.event;
  } else {
    std::optional<TimeMs> rx = r.timestamp ? r.timestamp : r.header;
    if (!rx) return "detail: no time";
    r.e.time = *rx - static_cast<TimeMs>(r.delay) * 1000;
  }
  return nullptr;
}

}  // namespace

uint64_t read_detail(std::string_view text, const ReaderOptions& o, const std::function<void(const AcctEvent&)>& on,
                     ReadErrors& errors) {
  uint64_t line = 0, events = 0;
  size_t pos = 0;
  // (A plain Record and a flag: GCC 12 misreads std::optional<Record> as maybe-uninitialized.)
  Record rec;
  bool have = false;
  auto flush = [&] {
    if (!have) return;
    if (const char* why = finish(rec)) {
      errors.add(rec.line, why, rec.error_detail);
    } else {
      if (rec.zone_bad) errors.counts.add("detail: Event-Timestamp not in UTC (used Timestamp)");
      on(rec.e);
      ++events;
    }
    have = false;
  };
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    bool last = eol == std::string_view::npos;
    std::string_view l = text.substr(pos, last ? std::string_view::npos : eol - pos);
    pos = last ? text.size() + 1 : eol + 1;
    ++line;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (trim(l).empty()) {
      flush();
      continue;
    }
    if (l.front() != ' ' && l.front() != '\t') {
      flush();  // a header without a blank line before it still starts a new record
      rec = Record{};
      have = true;
      rec.line = line;
      rec.header = header_time(l);
      if (!rec.header) {
        rec.error = "detail: bad record header";
        rec.error_detail = std::string(l.substr(0, 80));
      }
      continue;
    }
    if (!have) {
      errors.add(line, "detail: attribute outside a record");
      continue;
    }
    std::string_view a = trim(l);
    size_t eq = a.find(" = ");
    if (eq == std::string_view::npos) {
      if (!rec.error) {
        rec.error = "detail: line is not 'Attribute = value'";
        rec.error_detail = std::string(a.substr(0, 80));
      }
      continue;
    }
    if (const char* why = apply_attr(rec, trim(a.substr(0, eq)), trim(a.substr(eq + 3)), o); why && !rec.error) {
      rec.error = why;
      rec.error_detail = std::string(a.substr(0, 80));
      rec.line = line;
    }
  }
  flush();
  return events;
}

}  // namespace omamori
