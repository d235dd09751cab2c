// Shared reader helpers, the radacct CSV reader and the CGNAT log reader.
#include <fmt/format.h>

#include <charconv>
#include <optional>

#include "attribution/readers.hpp"
#include "core/time.hpp"

namespace omamori {

void ReadErrors::add(uint64_t line, const char* reason, std::string_view detail) {
  counts.add(reason);
  if (messages.size() < kMaxMessages) {
    // Hostile input: keep a bounded, printable excerpt.
    std::string d;
    for (char c : detail.substr(0, 80)) d += (c >= 0x20 && c < 0x7f) ? c : '?';
    messages.push_back(d.empty() ? fmt::format("line {}: {}", line, reason)
                                 : fmt::format("line {}: {} ({})", line, reason, d));
  }
}

namespace reader_detail {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool csv_record(std::string_view text, size_t& pos, char delim, std::vector<std::string>& fields, uint64_t& line) {
  fields.clear();
  if (pos >= text.size()) return false;
  std::string cur;
  bool quoted = false, was_quoted = false;
  while (pos < text.size()) {
    char c = text[pos++];
    if (quoted) {
      if (c == '"') {
        if (pos < text.size() && text[pos] == '"') {
          cur += '"';
          ++pos;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        cur += c;
      }
      continue;
    }
    if (c == '"' && cur.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == delim) {
      fields.push_back(was_quoted ? cur : std::string(trim(cur)));
      cur.clear();
      was_quoted = false;
    } else if (c == '\n') {
      ++line;
      break;
    } else {
      cur += c;
    }
  }
  fields.push_back(was_quoted ? cur : std::string(trim(cur)));
  return true;
}

bool parse_db_time(std::string_view s, TimeMs& t) {
  s = trim(s);
  t = 0;
  if (s.empty() || s == "NULL" || s == "\\N") return true;
  // "+HH" / "+HHMM" zone suffixes (PostgreSQL, MySQL exports) -> "+HH:MM".
  std::string buf;
  if (s.size() > 19 && (s[10] == ' ' || s[10] == 'T')) {
    size_t z = s.find_last_of("+-");
    if (z != std::string_view::npos && z > 18) {
      std::string_view zone = s.substr(z + 1);
      if (zone.size() == 2 || (zone.size() == 4 && zone.find(':') == std::string_view::npos)) {
        buf = fmt::format("{}{}:{}", s.substr(0, z + 1), zone.substr(0, 2), zone.size() == 4 ? zone.substr(2) : "00");
        s = buf;
      }
    }
  }
  auto v = parse_time(s);
  if (!v || *v <= 0) return false;
  t = *v;
  return true;
}

std::optional<IpAddr> parse_host(std::string_view s) {
  s = trim(s);
  auto slash = s.find('/');
  if (slash != std::string_view::npos) {
    std::string_view len = s.substr(slash + 1);
    auto a = IpAddr::parse(s.substr(0, slash));
    if (!a || len != (a->is_v4() ? "32" : "128")) return std::nullopt;
    return a;
  }
  return IpAddr::parse(s);
}

}  // namespace reader_detail

using namespace reader_detail;

namespace {

std::optional<Prefix> parse_v6_prefix(std::string_view s) {
  auto p = Prefix::parse(trim(s));
  if (!p || p->is_v4()) return std::nullopt;
  return p;
}

bool parse_u64(std::string_view s, uint64_t& v) {
  s = trim(s);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

// ---------------------------------------------------------------- radacct CSV

uint64_t read_radacct(std::string_view text, const ReaderOptions& o, const std::function<void(const SessionRow&)>& on,
                      ReadErrors& errors) {
  enum Col {
    kSessionId, kUser, kStart, kStop, kUpdate, kInterval, kNas, kFramed, kFramedV6, kFramedV6Addr, kDelegated,
    kCalling, kClass, kCols
  };
  static constexpr const char* kNames[kCols] = {
      "acctsessionid",  "username",         "acctstarttime",    "acctstoptime",       "acctupdatetime",
      "acctinterval",   "nasipaddress",     "framedipaddress",  "framedipv6prefix",   "framedipv6address",
      "delegatedipv6prefix", "callingstationid", "class"};
  size_t pos = 0;
  uint64_t line = 1, rows = 0;
  std::vector<std::string> f;
  // The header decides the delimiter (',' ';' or tab) and the column order.
  size_t eol = text.find('\n');
  std::string_view head = text.substr(0, eol);
  char delim = head.find('\t') != std::string_view::npos ? '\t' : head.find(';') != std::string_view::npos ? ';' : ',';
  uint64_t hl = line;
  if (!csv_record(text, pos, delim, f, line)) {
    errors.add(1, "radacct: empty file");
    return 0;
  }
  int col[kCols];
  std::fill(std::begin(col), std::end(col), -1);
  for (size_t i = 0; i < f.size(); ++i) {
    std::string name;
    for (char c : trim(f[i])) name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (int k = 0; k < kCols; ++k)
      if (name == kNames[k]) col[k] = static_cast<int>(i);
  }
  const int sub_col = o.subscriber == SubscriberAttr::kClass ? kClass : kUser;
  if (col[kSessionId] < 0 || col[kStart] < 0 || col[kNas] < 0 || col[sub_col] < 0) {
    errors.add(hl, "radacct: header lacks acctsessionid, acctstarttime, nasipaddress or the subscriber column",
               head);
    return 0;
  }
  SessionRow r;
  while (pos < text.size()) {
    uint64_t at = line;
    csv_record(text, pos, delim, f, line);
    if (f.size() == 1 && f[0].empty()) continue;  // blank line
    auto get = [&](int k) -> std::string_view {
      return col[k] >= 0 && static_cast<size_t>(col[k]) < f.size() ? std::string_view(f[col[k]]) : std::string_view();
    };
    if (f.size() < static_cast<size_t>(*std::max_element(std::begin(col), std::end(col))) + 1) {
      errors.add(at, "radacct: too few columns");
      continue;
    }
    r = SessionRow{};
    r.session_id = get(kSessionId);
    r.subscriber = get(sub_col);
    if (r.session_id.empty()) {
      errors.add(at, "radacct: empty acctsessionid");
      continue;
    }
    auto nas = parse_host(get(kNas));
    if (!nas) {
      errors.add(at, "radacct: bad nasipaddress", get(kNas));
      continue;
    }
    r.nas = *nas;
    TimeMs upd = 0;
    if (!parse_db_time(get(kStart), r.start) || r.start == 0) {
      errors.add(at, "radacct: bad acctstarttime", get(kStart));
      continue;
    }
    if (!parse_db_time(get(kStop), r.end) || !parse_db_time(get(kUpdate), upd)) {
      errors.add(at, "radacct: bad acctstoptime or acctupdatetime");
      continue;
    }
    if (r.end != 0 && r.end < r.start) {
      errors.add(at, "radacct: acctstoptime before acctstarttime");
      continue;
    }
    r.last_seen = std::max(upd, r.start);
    uint64_t interval = 0;
    if (!get(kInterval).empty() && get(kInterval) != "\\N" && get(kInterval) != "NULL") {
      if (!parse_u64(get(kInterval), interval) || interval > 86400 * 365) {
        errors.add(at, "radacct: bad acctinterval", get(kInterval));
        continue;
      }
    }
    r.interim_ms = static_cast<int64_t>(interval) * 1000;
    auto opt = [](std::string_view s) { return !s.empty() && s != "\\N" && s != "NULL"; };
    if (opt(get(kFramed))) {
      auto a = parse_host(get(kFramed));
      if (!a) {
        errors.add(at, "radacct: bad framedipaddress", get(kFramed));
        continue;
      }
      r.framed_ip = *a;
    }
    bool bad = false;
    for (auto [k, dst] : {std::pair{kFramedV6, &r.framed_v6}, std::pair{kDelegated, &r.delegated}}) {
      if (!opt(get(k))) continue;
      *dst = parse_v6_prefix(get(k));
      if (!*dst) bad = true;
    }
    if (opt(get(kFramedV6Addr)) && !r.framed_v6) {
      auto a = parse_host(get(kFramedV6Addr));
      if (a && !a->is_v4())
        r.framed_v6 = Prefix(*a, 128);
      else
        bad = true;
    }
    if (bad) {
      errors.add(at, "radacct: bad IPv6 prefix column");
      continue;
    }
    r.calling_station = get(kCalling);
    r.class_attr = get(kClass);
    on(r);
    ++rows;
  }
  return rows;
}

// ---------------------------------------------------------------- CGNAT logs

namespace {

// "INSIDE -> OUTSIDE:LO-HI [0xHEX]" after a JSERVICES_NAT_PORT_BLOCK_* tag.
bool parse_juniper(std::string_view line, size_t tag, PortBlockEvent& e, const char*& why) {
  std::string_view rest = line.substr(tag + std::string_view("JSERVICES_NAT_PORT_BLOCK_").size());
  if (rest.starts_with("ALLOC"))
    e.alloc = true;
  else if (rest.starts_with("ACTIVE"))
    e.alloc = true;  // interim log: an allocation still in use
  else if (rest.starts_with("RELEASE"))
    e.alloc = false;
  else
    return why = "cgnat: unknown JSERVICES_NAT_PORT_BLOCK message", false;
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return why = "cgnat: malformed port block message", false;
  rest = trim(rest.substr(colon + 1));
  size_t arrow = rest.find("->");
  if (arrow == std::string_view::npos) return why = "cgnat: malformed port block message", false;
  auto inside = IpAddr::parse(trim(rest.substr(0, arrow)));
  rest = trim(rest.substr(arrow + 2));
  size_t sp = rest.find(' ');
  std::string_view target = rest.substr(0, sp);
  std::string_view tail = sp == std::string_view::npos ? std::string_view() : trim(rest.substr(sp));
  size_t pc = target.rfind(':');
  if (!inside || pc == std::string_view::npos) return why = "cgnat: bad address", false;
  auto outside = IpAddr::parse(target.substr(0, pc));
  std::string_view range = target.substr(pc + 1);
  size_t dash = range.find('-');
  uint64_t lo, hi;
  if (!outside || dash == std::string_view::npos || !parse_u64(range.substr(0, dash), lo) ||
      !parse_u64(range.substr(dash + 1), hi) || lo > 65535 || hi > 65535 || lo > hi)
    return why = "cgnat: bad address or port range", false;
  e.inside = *inside;
  e.outside = *outside;
  e.port_lo = static_cast<uint16_t>(lo);
  e.port_hi = static_cast<uint16_t>(hi);
  // Time: the trailing hexadecimal epoch, else the syslog timestamp at the line start.
  e.time = 0;
  if (tail.starts_with("0x")) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(tail.data() + 2, tail.data() + tail.size(), v, 16);
    if (ec == std::errc() && v > 0 && v < 253402300800ull) e.time = static_cast<TimeMs>(v) * 1000;
  }
  if (e.time == 0) {
    std::string_view head = trim(line.substr(0, tag));
    if (head.starts_with('<')) {  // RFC 5424: "<PRI>1 TIMESTAMP HOST ..."
      size_t gt = head.find('>');
      head = gt == std::string_view::npos ? std::string_view() : head.substr(gt + 1);
      if (head.starts_with("1 ")) head.remove_prefix(2);
    }
    auto t = parse_time(head.substr(0, head.find(' ')));
    if (!t) return why = "cgnat: no time (no 0xEPOCH, no ISO syslog timestamp)", false;
    e.time = *t;
  }
  return true;
}

// "time,event,inside,outside,port_start,port_end".
bool parse_generic(const std::vector<std::string>& f, PortBlockEvent& e, const char*& why) {
  if (f.size() < 6) return why = "cgnat: too few columns", false;
  auto t = parse_time(f[0]);
  if (!t || *t <= 0) return why = "cgnat: bad time", false;
  e.time = *t;
  if (f[1] == "alloc" || f[1] == "active")
    e.alloc = true;
  else if (f[1] == "release")
    e.alloc = false;
  else
    return why = "cgnat: event is not alloc, active or release", false;
  auto in = IpAddr::parse(f[2]);
  auto out = IpAddr::parse(f[3]);
  uint64_t lo, hi;
  if (!in || !out) return why = "cgnat: bad address", false;
  if (!parse_u64(f[4], lo) || !parse_u64(f[5], hi) || lo > 65535 || hi > 65535 || lo > hi)
    return why = "cgnat: bad port range", false;
  e.inside = *in;
  e.outside = *out;
  e.port_lo = static_cast<uint16_t>(lo);
  e.port_hi = static_cast<uint16_t>(hi);
  return true;
}

}  // namespace

uint64_t read_cgnat(std::string_view text, const ReaderOptions& o, const std::function<void(const PortBlockEvent&)>& on,
                    ReadErrors& errors) {
  size_t pos = 0;
  uint64_t line = 0, events = 0;
  std::vector<std::string> f;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view l = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    ++line;
    l = trim(l);
    if (l.empty() || l.front() == '#') continue;
    PortBlockEvent e;
    e.box = o.cgnat_box;
    const char* why = nullptr;
    bool ok;
    size_t tag = l.find("JSERVICES_NAT_PORT_BLOCK_");
    if (tag != std::string_view::npos) {
      ok = parse_juniper(l, tag, e, why);
    } else {
      size_t p = 0;
      uint64_t dummy = 0;
      csv_record(l, p, ',', f, dummy);
      if (line == 1 && !f.empty() && f[0] == "time") continue;  // header row
      ok = parse_generic(f, e, why);
    }
    if (!ok) {
      errors.add(line, why, l);
      continue;
    }
    on(e);
    ++events;
  }
  return events;
}

}  // namespace omamori
