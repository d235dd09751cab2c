#include "ingest/dns/logs.hpp"

#include <simdjson.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#include "core/time.hpp"

namespace omamori {

namespace {

constexpr std::string_view kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int current_year() {
  TimeMs now = now_ms();
  char buf[32];
  format_rfc3339(now, buf);
  return (buf[0] - '0') * 1000 + (buf[1] - '0') * 100 + (buf[2] - '0') * 10 + (buf[3] - '0');
}

bool digits(std::string_view s, size_t pos, size_t n, unsigned& out) { return parse_fixed_digits(s, pos, n, out); }

int month_index(std::string_view s) {
  for (int i = 0; i < 12; ++i)
    if (s == kMonths[i]) return i + 1;
  return 0;
}

// "hh:mm:ss[.fff]" at pos; returns chars used or 0.
size_t parse_hms(std::string_view s, size_t pos, int64_t& ms_of_day) {
  unsigned h, m, sec;
  if (!digits(s, pos, 2, h) || pos + 8 > s.size() || s[pos + 2] != ':' || !digits(s, pos + 3, 2, m) ||
      s[pos + 5] != ':' || !digits(s, pos + 6, 2, sec) || h > 23 || m > 59 || sec > 60)
    return 0;
  size_t p = pos + 8;
  int64_t ms = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    int64_t scale = 100;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      ms += (s[p] - '0') * scale;
      scale /= 10;
      ++p;
    }
  }
  ms_of_day = (int64_t{h} * 3600 + m * 60 + sec) * 1000 + ms;
  return p - pos;
}

// Epoch seconds with an optional fraction, without floating-point rounding.
bool parse_epoch(std::string_view s, TimeMs& out) {
  size_t dot = s.find('.');
  std::string_view ip = s.substr(0, dot);
  int64_t sec = 0;
  auto [p, ec] = std::from_chars(ip.data(), ip.data() + ip.size(), sec);
  if (ec != std::errc() || p != ip.data() + ip.size() || ip.empty()) return false;
  if (sec < -100000000000LL || sec > 100000000000LL) return false;  // beyond year 5000: not a log time
  int64_t ms = 0;
  if (dot != std::string_view::npos) {
    int64_t scale = 100;
    for (size_t i = dot + 1; i < s.size(); ++i) {
      char c = s[i];
      if (c < '0' || c > '9') return false;
      ms += (c - '0') * scale;
      scale /= 10;
    }
  }
  out = sec * 1000 + ms;
  return true;
}

// Up to N space-separated tokens; returns how many (more are ignored, counted as N+1).
template <size_t N>
size_t tokens(std::string_view s, std::array<std::string_view, N>& out) {
  size_t n = 0, i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i >= s.size()) break;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (n == N) return N + 1;
    out[n++] = s.substr(i, j - i);
    i = j;
  }
  return n;
}

// "192.0.2.1", "192.0.2.1#53421", "2001:db8::1#53", "192.0.2.1@53".
bool parse_addr_port(std::string_view tok, IpAddr& a, uint16_t& port) {
  port = 0;
  size_t sep = tok.find_last_of("#@");
  std::string_view addr = tok;
  if (sep != std::string_view::npos) {
    addr = tok.substr(0, sep);
    auto ps = tok.substr(sep + 1);
    unsigned v = 0;
    auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), v);
    if (ec != std::errc() || p != ps.data() + ps.size() || v > 65535) return false;
    port = static_cast<uint16_t>(v);
  }
  if (addr.empty() || addr.size() > 64) return false;
  auto ip = IpAddr::parse(addr);
  if (!ip) return false;
  a = *ip;
  return true;
}

int resolve_year(int y) {
  return y > 0 ? y : current_year();
}

}  // namespace

size_t parse_log_time_prefix(std::string_view s, int year, TimeMs& t) {
  if (s.empty()) return 0;
  // [epoch]
  if (s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close < 2) return 0;
    if (!parse_epoch(s.substr(1, close - 1), t)) return 0;
    return close + 1;
  }
  // dd-Mon-yyyy hh:mm:ss.mmm (BIND print-time yes)
  unsigned d, y;
  if (s.size() >= 20 && digits(s, 0, 2, d) && s[2] == '-' && s[6] == '-' && digits(s, 7, 4, y) && s[11] == ' ') {
    int m = month_index(s.substr(3, 3));
    int64_t msod;
    size_t used = m ? parse_hms(s, 12, msod) : 0;
    if (!used || d < 1 || d > 31) return 0;
    t = days_from_civil(y, static_cast<unsigned>(m), d) * 86400000 + msod;
    return 12 + used;
  }
  // yyyy-mm-ddThh:mm:ss... (ISO 8601)
  if (s.size() >= 19 && digits(s, 0, 4, y) && s[4] == '-' && s[10] == 'T') {
    size_t end = s.find(' ');
    std::string_view tok = s.substr(0, end);
    auto r = parse_time(tok);
    if (!r && tok.size() > 5) {
      // "+hhmm" zone: insert the colon parse_time wants.
      char c = tok[tok.size() - 5];
      if ((c == '+' || c == '-') && tok.size() < 60) {
        char fixed[64];
        size_t k = tok.size() - 2;
        std::memcpy(fixed, tok.data(), k);
        fixed[k] = ':';
        fixed[k + 1] = tok[k];
        fixed[k + 2] = tok[k + 1];
        r = parse_time(std::string_view(fixed, k + 3));
      }
    }
    if (!r) return 0;
    t = *r;
    return tok.size();
  }
  // Mon dd hh:mm:ss (syslog, no year)
  if (s.size() >= 15 && s[3] == ' ') {
    int m = month_index(s.substr(0, 3));
    if (!m) return 0;
    size_t p = 4;
    if (s[p] == ' ') ++p;
    unsigned day = 0;
    size_t dl = (p + 1 < s.size() && s[p + 1] >= '0' && s[p + 1] <= '9') ? 2 : 1;
    if (!digits(s, p, dl, day) || day < 1 || day > 31) return 0;
    p += dl;
    if (p >= s.size() || s[p] != ' ') return 0;
    ++p;
    int64_t msod;
    size_t used = parse_hms(s, p, msod);
    if (!used) return 0;
    t = days_from_civil(resolve_year(year), static_cast<unsigned>(m), day) * 86400000 + msod;
    return p + used;
  }
  return 0;
}

// ---------------------------------------------------------------- BIND

BindQueryLogParser::BindQueryLogParser(LogOptions o) : year_(resolve_year(o.year)) {}

LineResult BindQueryLogParser::parse(std::string_view line, DnsEvent& ev, ReasonCounters& errors) {
  size_t cpos = 0;
  for (;;) {
    cpos = line.find("client ", cpos);
    if (cpos == std::string_view::npos) return LineResult::Skip;
    if (cpos == 0 || line[cpos - 1] == ' ') break;
    cpos += 7;
  }
  size_t qpos = line.find(" query: ", cpos);
  size_t fpos = qpos == std::string_view::npos ? line.find(" query failed (", cpos) : std::string_view::npos;
  if (qpos == std::string_view::npos && fpos == std::string_view::npos) return LineResult::Skip;

  ev.clear();
  ev.source = DnsSource::BindLog;
  TimeMs t;
  if (parse_log_time_prefix(line, year_, t)) ev.time = t;

  std::array<std::string_view, 3> ct;
  size_t nct = tokens(line.substr(cpos + 7, (qpos != std::string_view::npos ? qpos : fpos) - cpos - 7), ct);
  size_t ai = (nct > 0 && !ct[0].empty() && ct[0][0] == '@') ? 1 : 0;
  std::string_view addr = ai < nct && ai < ct.size() ? ct[ai] : std::string_view{};
  if (!addr.empty() && addr.back() == ':') addr.remove_suffix(1);  // old format "client 192.0.2.1#1234: query:"
  if (!parse_addr_port(addr, ev.client, ev.client_port)) {
    errors.add("bind: bad client address");
    return LineResult::Malformed;
  }

  if (qpos != std::string_view::npos) {
    std::array<std::string_view, 6> tk;
    size_t n = tokens(line.substr(qpos + 8), tk);
    if (n < 3) {
      errors.add("bind: query line too short");
      return LineResult::Malformed;
    }
    if (!dns_class_from_name(tk[1], ev.qclass)) {
      errors.add("bind: unknown class");
      return LineResult::Malformed;
    }
    if (!dns_type_from_name(tk[2], ev.qtype)) {
      errors.add("bind: unknown type");
      return LineResult::Malformed;
    }
    if (!ev.set_qname(tk[0])) {
      errors.add("bind: name too long");
      return LineResult::Malformed;
    }
    ev.transport = DnsTransport::Udp;
    size_t i = 3;
    if (i < n && i < tk.size() && !tk[i].empty() && (tk[i][0] == '+' || tk[i][0] == '-')) {
      std::string_view f = tk[i];
      ev.set_flag(DnsEvent::kRD, f[0] == '+');
      for (size_t k = 1; k < f.size(); ++k) {
        if (f[k] == 'T') ev.transport = DnsTransport::Tcp;
        if (f[k] == 'C') ev.set_flag(DnsEvent::kCD, true);
        if (f[k] == '(') {  // E(0): skip the EDNS version
          while (k < f.size() && f[k] != ')') ++k;
        }
      }
      ++i;
    }
    if (i < n && i < tk.size() && tk[i].size() > 2 && tk[i].front() == '(' && tk[i].back() == ')') {
      auto ip = IpAddr::parse(tk[i].substr(1, tk[i].size() - 2));
      if (ip) ev.resolver = *ip;
    }
    return LineResult::Event;
  }

  // "query failed (SERVFAIL) for example.com/IN/A at query.c:1234"
  std::string_view rest = line.substr(fpos + 15);
  size_t close = rest.find(')');
  if (close == std::string_view::npos) {
    errors.add("bind: bad query failed line");
    return LineResult::Malformed;
  }
  if (!dns_rcode_from_name(rest.substr(0, close), ev.rcode)) {
    // Failures that are not rcodes ("query failed (operation canceled)") are not answers.
    return LineResult::Skip;
  }
  size_t fr = rest.find(" for ", close);
  if (fr == std::string_view::npos) {
    errors.add("bind: bad query failed line");
    return LineResult::Malformed;
  }
  std::string_view nct3 = rest.substr(fr + 5);
  nct3 = nct3.substr(0, nct3.find(' '));
  size_t s2 = nct3.rfind('/');
  size_t s1 = s2 == std::string_view::npos || s2 == 0 ? std::string_view::npos : nct3.rfind('/', s2 - 1);
  if (s1 == std::string_view::npos || !dns_class_from_name(nct3.substr(s1 + 1, s2 - s1 - 1), ev.qclass) ||
      !dns_type_from_name(nct3.substr(s2 + 1), ev.qtype) || !ev.set_qname(nct3.substr(0, s1))) {
    errors.add("bind: bad query failed line");
    return LineResult::Malformed;
  }
  ev.set_flag(DnsEvent::kResponse, true);
  return LineResult::Event;
}

// ---------------------------------------------------------------- Unbound

UnboundLogParser::UnboundLogParser(LogOptions o) : year_(resolve_year(o.year)) {}

LineResult UnboundLogParser::parse(std::string_view line, DnsEvent& ev, ReasonCounters& errors) {
  static constexpr std::string_view kTags[] = {" info: ", " query: ", " reply: "};
  size_t tpos = std::string_view::npos, tlen = 0;
  for (auto tag : kTags) {
    size_t p = line.find(tag);
    if (p < tpos) {
      tpos = p;
      tlen = tag.size();
    }
  }
  if (tpos == std::string_view::npos) return LineResult::Skip;
  if (line.substr(0, tpos).find("unbound") == std::string_view::npos) return LineResult::Skip;
  std::array<std::string_view, 8> tk;
  size_t n = tokens(line.substr(tpos + tlen), tk);
  if (n < 4) return LineResult::Skip;
  IpAddr client;
  uint16_t port = 0;
  if (!parse_addr_port(tk[0], client, port)) return LineResult::Skip;  // other info: messages

  ev.clear();
  ev.source = DnsSource::UnboundLog;
  ev.client = client;
  ev.client_port = port;
  TimeMs t;
  if (parse_log_time_prefix(line, year_, t)) ev.time = t;
  if (!dns_type_from_name(tk[2], ev.qtype)) {
    errors.add("unbound: unknown type");
    return LineResult::Malformed;
  }
  if (!dns_class_from_name(tk[3], ev.qclass)) {
    errors.add("unbound: unknown class");
    return LineResult::Malformed;
  }
  if (!ev.set_qname(tk[1])) {
    errors.add("unbound: name too long");
    return LineResult::Malformed;
  }
  if (n == 4) return LineResult::Event;
  if (n != 8) {
    errors.add("unbound: unexpected number of fields");
    return LineResult::Malformed;
  }
  if (!dns_rcode_from_name(tk[4], ev.rcode)) {
    errors.add("unbound: unknown rcode");
    return LineResult::Malformed;
  }
  ev.set_flag(DnsEvent::kResponse, true);
  return LineResult::Event;
}

// ---------------------------------------------------------------- Zeek

bool zeek_name_to_event_qname(std::string_view in, DnsEvent& ev) {
  char* out = ev.qname_buffer();
  size_t cap = DnsEvent::kMaxName;
  size_t o = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    unsigned v;
    if (c == '\\' && i + 3 < in.size() && in[i + 1] == 'x') {
      auto hex = in.substr(i + 2, 2);
      auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), v, 16);
      if (hex.size() == 2 && ec == std::errc() && p == hex.data() + 2) {
        if (o + 4 > cap) return false;
        if (v > 0x20 && v < 0x7f) {
          // Zeek escaped a printable byte (its own separators): the byte itself.
          out[o++] = (v >= 'A' && v <= 'Z') ? static_cast<char>(v + 32) : static_cast<char>(v);
        } else {
          out[o++] = '\\';
          out[o++] = static_cast<char>('0' + v / 100);
          out[o++] = static_cast<char>('0' + (v / 10) % 10);
          out[o++] = static_cast<char>('0' + v % 10);
        }
        i += 3;
        continue;
      }
    }
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {  // raw odd bytes (JSON \u escapes, UTF-8): \DDD
      if (o + 4 > cap) return false;
      out[o++] = '\\';
      out[o++] = static_cast<char>('0' + u / 100);
      out[o++] = static_cast<char>('0' + u / 10 % 10);
      out[o++] = static_cast<char>('0' + u % 10);
      continue;
    }
    if (o >= cap) return false;
    out[o++] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
  if (o > 1 && out[o - 1] == '.' && out[o - 2] != '\\') --o;
  ev.set_qname_length(o);
  return true;
}

namespace {

// Zeek header values escape bytes as \xHH.
std::string unescape_zeek_header(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 3 < v.size() && v[i + 1] == 'x') {
      unsigned x;
      auto hex = v.substr(i + 2, 2);
      auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), x, 16);
      if (hex.size() == 2 && ec == std::errc() && p == hex.data() + 2) {
        out.push_back(static_cast<char>(x));
        i += 3;
        continue;
      }
    }
    out.push_back(v[i]);
  }
  return out;
}

bool parse_u16(std::string_view s, uint16_t& out) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > 65535) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

// One answer from Zeek: an address, a name, or something else ("TXT 12 ...", "RRSIG 5 x") that is skipped.
void add_zeek_answer(std::string_view a, uint32_t ttl, DnsEvent& ev) {
  if (a.empty() || a.find(' ') != std::string_view::npos) return;
  if (a.find(':') != std::string_view::npos || (a[0] >= '0' && a[0] <= '9')) {
    if (auto ip = IpAddr::parse(a)) {
      ev.add_address(ip->is_v4() ? dnstype::A : dnstype::AAAA, ttl, *ip);
      return;
    }
  }
  ev.add_name(0, ttl, a);
}

uint32_t ttl_from(double v) {
  return v <= 0 ? 0 : v >= 4294967295.0 ? 0xffffffffu : static_cast<uint32_t>(v);
}

}  // namespace

ZeekDnsTsvParser::ZeekDnsTsvParser() = default;

LineResult ZeekDnsTsvParser::parse(std::string_view line, DnsEvent& ev, ReasonCounters& errors) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return LineResult::Skip;
  if (line[0] == '#') {
    if (line.starts_with("#separator ")) {
      sep_ = unescape_zeek_header(line.substr(11));
      if (sep_.empty()) sep_.assign(1, '\t');
      return LineResult::Skip;
    }
    auto value = [&](std::string_view key) -> std::optional<std::string_view> {
      if (line.size() > key.size() + sep_.size() && line.starts_with(key) &&
          line.substr(key.size(), sep_.size()) == sep_)
        return line.substr(key.size() + sep_.size());
      return std::nullopt;
    };
    if (auto v = value("#set_separator")) set_sep_ = unescape_zeek_header(*v);
    if (auto v = value("#unset_field")) unset_ = unescape_zeek_header(*v);
    if (auto v = value("#empty_field")) empty_ = unescape_zeek_header(*v);
    if (auto v = value("#fields")) {
      static constexpr std::pair<std::string_view, Col> kNames[] = {{"ts", kTs},
                                                                    {"id.orig_h", kOrigH},
                                                                    {"id.orig_p", kOrigP},
                                                                    {"id.resp_h", kRespH},
                                                                    {"id.resp_p", kRespP},
                                                                    {"proto", kProto},
                                                                    {"trans_id", kTransId},
                                                                    {"query", kQuery},
                                                                    {"qclass", kQclass},
                                                                    {"qclass_name", kQclassName},
                                                                    {"qtype", kQtype},
                                                                    {"qtype_name", kQtypeName},
                                                                    {"rcode", kRcode},
                                                                    {"rcode_name", kRcodeName},
                                                                    {"AA", kAA},
                                                                    {"TC", kTC},
                                                                    {"RD", kRD},
                                                                    {"RA", kRA},
                                                                    {"answers", kAnswers},
                                                                    {"TTLs", kTTLs}};
      cols_.clear();
      std::string_view rest = *v;
      for (;;) {
        size_t p = rest.find(sep_);
        std::string_view name = rest.substr(0, p);
        int8_t c = -1;
        for (auto& [n, col] : kNames)
          if (n == name) c = static_cast<int8_t>(col);
        cols_.push_back(c);
        if (p == std::string_view::npos) break;
        rest = rest.substr(p + sep_.size());
      }
    }
    return LineResult::Skip;
  }
  if (cols_.empty()) {
    errors.add("zeek: data line before the #fields header");
    return LineResult::Malformed;
  }
  fields_.clear();
  std::string_view rest = line;
  for (;;) {
    size_t p = rest.find(sep_);
    fields_.push_back(rest.substr(0, p));
    if (p == std::string_view::npos) break;
    rest = rest.substr(p + sep_.size());
  }
  if (fields_.size() != cols_.size()) {
    errors.add("zeek: wrong number of fields");
    return LineResult::Malformed;
  }
  std::string_view f[kNumCols];
  bool set[kNumCols] = {};
  for (size_t i = 0; i < cols_.size(); ++i) {
    if (cols_[i] < 0) continue;
    if (fields_[i] == unset_) continue;
    f[cols_[i]] = fields_[i];
    set[cols_[i]] = true;
  }
  ev.clear();
  ev.source = DnsSource::ZeekTsv;
  if (!set[kTs] || !parse_epoch(f[kTs], ev.time)) {
    errors.add("zeek: bad ts");
    return LineResult::Malformed;
  }
  if (!set[kOrigH] || !parse_addr_port(f[kOrigH], ev.client, ev.client_port) ||
      (set[kRespH] && !parse_addr_port(f[kRespH], ev.resolver, ev.resolver_port))) {
    errors.add("zeek: bad address");
    return LineResult::Malformed;
  }
  if ((set[kOrigP] && !parse_u16(f[kOrigP], ev.client_port)) ||
      (set[kRespP] && !parse_u16(f[kRespP], ev.resolver_port))) {
    errors.add("zeek: bad port");
    return LineResult::Malformed;
  }
  if (set[kProto])
    ev.transport = f[kProto] == "tcp"   ? DnsTransport::Tcp
                   : f[kProto] == "udp" ? DnsTransport::Udp
                                        : DnsTransport::Unknown;
  if (set[kTransId]) parse_u16(f[kTransId], ev.id);
  if (set[kQuery] && !zeek_name_to_event_qname(f[kQuery], ev)) {
    errors.add("zeek: name too long");
    return LineResult::Malformed;
  }
  if (set[kQclass] ? !parse_u16(f[kQclass], ev.qclass)
                   : (set[kQclassName] && !dns_class_from_name(f[kQclassName], ev.qclass))) {
    errors.add("zeek: bad qclass");
    return LineResult::Malformed;
  }
  if (set[kQtype] ? !parse_u16(f[kQtype], ev.qtype)
                  : (set[kQtypeName] && !dns_type_from_name(f[kQtypeName], ev.qtype))) {
    errors.add("zeek: bad qtype");
    return LineResult::Malformed;
  }
  if (set[kRcode] || set[kRcodeName]) {
    if (set[kRcode] ? !parse_u16(f[kRcode], ev.rcode) : !dns_rcode_from_name(f[kRcodeName], ev.rcode)) {
      errors.add("zeek: bad rcode");
      return LineResult::Malformed;
    }
    ev.set_flag(DnsEvent::kResponse, true);
  }
  ev.set_flag(DnsEvent::kAA, set[kAA] && f[kAA] == "T");
  ev.set_flag(DnsEvent::kTC, set[kTC] && f[kTC] == "T");
  ev.set_flag(DnsEvent::kRD, set[kRD] && f[kRD] == "T");
  ev.set_flag(DnsEvent::kRA, set[kRA] && f[kRA] == "T");
  if (set[kAnswers] && f[kAnswers] != empty_) {
    std::string_view ans = f[kAnswers];
    std::string_view ttls = set[kTTLs] && f[kTTLs] != empty_ ? f[kTTLs] : std::string_view{};
    for (;;) {
      size_t p = ans.find(set_sep_);
      std::string_view a = ans.substr(0, p);
      uint32_t ttl = 0;
      if (!ttls.empty()) {
        size_t q = ttls.find(set_sep_);
        std::string_view tv = ttls.substr(0, q);
        double d = 0;
        std::from_chars(tv.data(), tv.data() + tv.size(), d);
        ttl = ttl_from(d);
        ttls = q == std::string_view::npos ? std::string_view{} : ttls.substr(q + set_sep_.size());
      }
      add_zeek_answer(a, ttl, ev);
      if (p == std::string_view::npos) break;
      ans = ans.substr(p + set_sep_.size());
    }
  }
  return LineResult::Event;
}

struct ZeekDnsJsonParser::Impl {
  simdjson::dom::parser parser;
  std::string buf;
};

ZeekDnsJsonParser::ZeekDnsJsonParser() : impl_(std::make_unique<Impl>()) {}
ZeekDnsJsonParser::~ZeekDnsJsonParser() = default;

LineResult ZeekDnsJsonParser::parse(std::string_view line, DnsEvent& ev, ReasonCounters& errors) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (line.empty()) return LineResult::Skip;
  if (line[0] != '{') {
    errors.add("zeek-json: not a json object");
    return LineResult::Malformed;
  }
  auto& buf = impl_->buf;
  buf.assign(line);
  buf.reserve(line.size() + simdjson::SIMDJSON_PADDING);
  simdjson::dom::element root;
  if (impl_->parser.parse(buf.data(), buf.size(), false).get(root) != simdjson::SUCCESS) {
    errors.add("zeek-json: invalid json");
    return LineResult::Malformed;
  }
  simdjson::dom::object obj;
  if (root.get(obj) != simdjson::SUCCESS) {
    errors.add("zeek-json: not a json object");
    return LineResult::Malformed;
  }
  ev.clear();
  ev.source = DnsSource::ZeekJson;
  bool have_ts = false, have_orig = false, dns_like = false, path_other = false, bad = false;
  const char* reason = nullptr;
  auto fail = [&](const char* r) {
    if (!reason) reason = r;
    bad = true;
  };
  auto get_u16 = [&](simdjson::dom::element v, uint16_t& out, const char* r) {
    uint64_t u;
    if (v.get(u) != simdjson::SUCCESS || u > 65535)
      fail(r);
    else
      out = static_cast<uint16_t>(u);
  };
  simdjson::dom::array answers, ttls;
  bool have_answers = false, have_ttls = false;
  for (auto field : obj) {
    std::string_view k = field.key;
    simdjson::dom::element v = field.value;
    std::string_view s;
    if (k == "ts") {
      double d;
      if (v.get(d) == simdjson::SUCCESS) {
        if (d > -1e11 && d < 1e11) {
          ev.time = static_cast<TimeMs>(std::llround(d * 1e6) / 1000);
          have_ts = true;
        }
      } else if (v.get(s) == simdjson::SUCCESS) {
        // ISO 8601 (JSON::TS_ISO8601) or epoch seconds as a string.
        if (s.find('-') != std::string_view::npos) {
          if (auto t = parse_time(s)) {
            ev.time = *t;
            have_ts = true;
          }
        } else {
          have_ts = parse_epoch(s, ev.time);
        }
      }
      if (!have_ts) fail("zeek-json: bad ts");
    } else if (k == "_path") {
      if (v.get(s) == simdjson::SUCCESS && s != "dns") path_other = true;
    } else if (k == "id.orig_h") {
      if (v.get(s) != simdjson::SUCCESS || !parse_addr_port(s, ev.client, ev.client_port))
        fail("zeek-json: bad address");
      have_orig = true;
    } else if (k == "id.resp_h") {
      if (v.get(s) != simdjson::SUCCESS || !parse_addr_port(s, ev.resolver, ev.resolver_port))
        fail("zeek-json: bad address");
    } else if (k == "id.orig_p") {
      get_u16(v, ev.client_port, "zeek-json: bad port");
    } else if (k == "id.resp_p") {
      get_u16(v, ev.resolver_port, "zeek-json: bad port");
    } else if (k == "proto") {
      if (v.get(s) == simdjson::SUCCESS)
        ev.transport = s == "tcp" ? DnsTransport::Tcp : s == "udp" ? DnsTransport::Udp : DnsTransport::Unknown;
    } else if (k == "trans_id") {
      dns_like = true;
      get_u16(v, ev.id, "zeek-json: bad trans_id");
    } else if (k == "query") {
      dns_like = true;
      if (v.get(s) != simdjson::SUCCESS || !zeek_name_to_event_qname(s, ev)) fail("zeek-json: bad query");
    } else if (k == "qclass") {
      get_u16(v, ev.qclass, "zeek-json: bad qclass");
    } else if (k == "qtype") {
      dns_like = true;
      get_u16(v, ev.qtype, "zeek-json: bad qtype");
    } else if (k == "rcode") {
      get_u16(v, ev.rcode, "zeek-json: bad rcode");
      ev.set_flag(DnsEvent::kResponse, true);
    } else if (k == "AA" || k == "TC" || k == "RD" || k == "RA") {
      bool b = false;
      if (v.get(b) != simdjson::SUCCESS) fail("zeek-json: bad flag");
      ev.set_flag(k == "AA" ? DnsEvent::kAA : k == "TC" ? DnsEvent::kTC : k == "RD" ? DnsEvent::kRD : DnsEvent::kRA, b);
    } else if (k == "answers") {
      have_answers = v.get(answers) == simdjson::SUCCESS;
      if (!have_answers) fail("zeek-json: bad answers");
    } else if (k == "TTLs") {
      have_ttls = v.get(ttls) == simdjson::SUCCESS;
    }
  }
  if (path_other || !have_orig || !dns_like) return LineResult::Skip;  // another Zeek log
  if (!have_ts) fail("zeek-json: bad ts");
  if (bad) {
    errors.add(reason);
    return LineResult::Malformed;
  }
  if (have_answers) {
    size_t i = 0;
    for (auto a : answers) {
      std::string_view s;
      uint32_t ttl = 0;
      if (have_ttls) {
        double d = 0;
        if (ttls.at(i).get(d) == simdjson::SUCCESS) ttl = ttl_from(d);
      }
      if (a.get(s) == simdjson::SUCCESS) add_zeek_answer(s, ttl, ev);
      ++i;
    }
  }
  return LineResult::Event;
}

// ---------------------------------------------------------------- LineReader

namespace {
constexpr size_t kMaxLine = 1 << 20;
}

std::unique_ptr<LineReader> LineReader::open(const std::string& path, std::string& err) {
  gzFile gz = path == "-" ? gzdopen(::dup(0), "rb") : gzopen(path.c_str(), "rb");
  if (!gz) {
    err = path + ": " + std::strerror(errno);
    return nullptr;
  }
  gzbuffer(gz, 256 * 1024);
  std::unique_ptr<LineReader> r(new LineReader());
  r->gz_ = gz;
  r->buf_.resize(kMaxLine + 64 * 1024);
  return r;
}

LineReader::~LineReader() {
  if (gz_) gzclose(static_cast<gzFile>(gz_));
}

bool LineReader::fill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buf_.size()) return false;
  int r = gzread(static_cast<gzFile>(gz_), buf_.data() + end_, static_cast<unsigned>(buf_.size() - end_));
  if (r < 0) {
    int code;
    error_ = gzerror(static_cast<gzFile>(gz_), &code);
    eof_ = true;
    return false;
  }
  if (r == 0) {
    eof_ = true;
    return false;
  }
  end_ += static_cast<size_t>(r);
  return true;
}

bool LineReader::next(std::string_view& line) {
  size_t scan = begin_;
  bool skipping = false;
  for (;;) {
    const char* s = buf_.data();
    const void* nl = std::memchr(s + scan, '\n', end_ - scan);
    if (nl) {
      size_t pos = static_cast<const char*>(nl) - s;
      if (skipping) {
        begin_ = scan = pos + 1;
        skipping = false;
        ++lineno_;
        continue;
      }
      line = std::string_view(s + begin_, pos - begin_);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      begin_ = pos + 1;
      ++lineno_;
      return true;
    }
    if (end_ - begin_ >= kMaxLine) {
      // An overlong line: drop what we have and skip to its end.
      if (!skipping) ++too_long_;
      skipping = true;
      begin_ = end_;
    }
    size_t done = end_ - begin_;
    if (!fill()) {
      if (end_ > begin_ && !skipping) {
        line = std::string_view(buf_.data() + begin_, end_ - begin_);
        begin_ = end_;
        ++lineno_;
        return true;
      }
      return false;
    }
    scan = begin_ + done;
  }
}

}  // namespace omamori
