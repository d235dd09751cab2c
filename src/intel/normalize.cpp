#include "intel/normalize.hpp"

#include <strings.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "core/ip.hpp"
#include "core/psl.hpp"

namespace omamori::intel {

namespace {


inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}
inline bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
inline bool is_ldh(char c) {
  return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '_';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// Validates an already lower-cased name without trailing dot. nullptr if fine.
const char* check_domain_syntax(std::string_view d) {
  if (d.empty()) return "empty domain";
  if (d.size() > kMaxDomain) return "domain too long";
  size_t label = 0, labels = 1;
  bool tld_numeric = true;
  for (size_t i = 0; i < d.size(); ++i) {
    char c = d[i];
    if (c == '.') {
      if (label == 0) return "empty label in domain";
      label = 0;
      ++labels;
      tld_numeric = true;
      continue;
    }
    if (static_cast<unsigned char>(c) >= 0x80) return "non-ascii domain (not punycode)";
    if (!is_ldh(c)) return "invalid character in domain";
    if (++label > 63) return "domain label too long";
    if (!is_digit(c)) tld_numeric = false;
  }
  if (label == 0) return "empty label in domain";
  if (labels < 2) return "single-label domain";
  if (tld_numeric) return "numeric top-level label";
  return nullptr;
}

bool parse_port(std::string_view s, uint16_t& port) {
  unsigned v = 0;
  if (s.empty() || s.size() > 5) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > 65535) return false;
  port = static_cast<uint16_t>(v);
  return true;
}

// Length of a valid "scheme" before "://" at the start, or npos.
size_t scheme_length(std::string_view in) {
  size_t e = in.find("://");
  if (e == std::string_view::npos || e == 0 || e > 16) return std::string_view::npos;
  if (!((in[0] >= 'a' && in[0] <= 'z') || (in[0] >= 'A' && in[0] <= 'Z'))) return std::string_view::npos;
  for (size_t i = 0; i < e; ++i) {
    char c = in[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '+' || c == '-' || c == '.'))
      return std::string_view::npos;
  }
  return e;
}

std::string bracketed(const IpAddr& a) {
  std::string s;
  if (!a.is_v4()) s += '[';
  s += a.str();
  if (!a.is_v4()) s += ']';
  return s;
}

}  // namespace

bool is_public_suffix(std::string_view domain) { return omamori::is_public_suffix(domain); }

std::string registrable_domain(std::string_view domain) { return std::string(registered_domain(domain)); }

std::string psl_source() { return omamori::psl_source(); }



size_t lower_name_to(std::string_view in, char* out) {
  if (!in.empty() && in.back() == '.') in.remove_suffix(1);
  if (in.empty() || in.size() > kMaxDomain) return 0;
  for (size_t i = 0; i < in.size(); ++i) out[i] = lower(in[i]);
  return in.size();
}

const char* normalise_domain(std::string_view in, std::string& out) {
  in = trim(in);
  if (!in.empty() && in.back() == '.') in.remove_suffix(1);
  if (in.size() >= 2 && in[0] == '*' && in[1] == '.') in.remove_prefix(2);
  if (!in.empty() && in.front() == '.') in.remove_prefix(1);
  out.assign(in);
  for (auto& c : out) c = lower(c);
  if (const char* r = check_domain_syntax(out)) return r;
  if (is_public_suffix(out)) return "public suffix";
  return nullptr;
}

size_t normalise_url_to(std::string_view in, char* out, size_t cap, UrlParts& parts) {
  parts = UrlParts{};
  in = trim(in);
  uint16_t default_port = 0;
  size_t scheme_end = scheme_length(in);
  if (scheme_end != std::string_view::npos) {
    std::string_view scheme = in.substr(0, scheme_end);
    char sl[17];
    for (size_t i = 0; i < scheme.size(); ++i) sl[i] = lower(scheme[i]);
    std::string_view s(sl, scheme.size());
    default_port = s == "http" ? 80 : s == "https" ? 443 : s == "ftp" ? 21 : 0;
    in.remove_prefix(scheme_end + 3);
  }
  size_t auth_end = in.find_first_of("/?#");
  std::string_view auth = in.substr(0, auth_end);
  std::string_view rest = auth_end == std::string_view::npos ? std::string_view() : in.substr(auth_end);
  if (size_t at = auth.rfind('@'); at != std::string_view::npos) auth.remove_prefix(at + 1);
  std::string_view host = auth, port_text;
  if (!auth.empty() && auth.front() == '[') {
    size_t close = auth.find(']');
    if (close == std::string_view::npos) return 0;
    host = auth.substr(0, close + 1);
    std::string_view after = auth.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return 0;
      port_text = after.substr(1);
    }
  } else if (size_t colon = auth.find(':'); colon != std::string_view::npos) {
    host = auth.substr(0, colon);
    port_text = auth.substr(colon + 1);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.size() > kMaxDomain + 2) return 0;
  uint16_t port = 0;
  if (!port_text.empty() && (!parse_port(port_text, port) || port == 0)) return 0;
  // Fragment dropped.
  if (size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  size_t need = host.size() + 48 + 6 + 1 + rest.size();  // room for a canonical IPv6 host
  if (need > cap) return 0;
  size_t n = 0;
  for (char c : host) out[n++] = lower(c);
  std::string_view h(out, n);
  if (h.front() == '[') {
    auto a = IpAddr::parse(h);
    if (!a || a->is_v4()) return 0;
    // Canonical text, so that "[2001:db8::0]" and "[2001:db8::]" agree.
    char t[64];
    size_t tl = a->format(t);
    n = 0;
    out[n++] = '[';
    for (size_t i = 0; i < tl; ++i) out[n++] = t[i];
    out[n++] = ']';
    parts.host_is_ip = true;
  } else if (IpAddr::parse(h)) {
    if (h.find(':') != std::string_view::npos) return 0;  // bare IPv6 must be bracketed
    parts.host_is_ip = true;
  } else if (check_domain_syntax(h) != nullptr) {
    return 0;
  }
  parts.host_len = n;
  if (!port_text.empty() && port != default_port) {
    out[n++] = ':';
    auto [p, ec] = std::to_chars(out + n, out + cap, port);
    (void)ec;
    parts.port_len = static_cast<size_t>(p - out) - n + 1;
    n = static_cast<size_t>(p - out);
  }
  parts.path_off = n;
  if (rest.empty() || rest.front() != '/') out[n++] = '/';
  for (char c : rest) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return 0;
    out[n++] = c;
  }
  std::string_view path(out + parts.path_off, n - parts.path_off);
  size_t q = path.find('?');
  parts.query_off = q == std::string_view::npos ? n : parts.path_off + q;
  return n;
}

const char* classify_indicator(std::string_view text, Classified& out) {
  out = Classified{};
  text = trim(text);
  if (text.empty()) return "empty value";
  if (text.size() > kMaxUrl) return "value too long";
  for (char c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ' ') return "control character or space in value";

  // Host-less URL path ("/bins/mirai.arm").
  if (text.front() == '/') {
    out.kind = Kind::kUrl;
    out.value.assign(text);
    if (size_t h = out.value.find('#'); h != std::string::npos) out.value.resize(h);
    if (out.value.size() < 2) return "empty url path";
    return nullptr;
  }

  // address:port with an optional protocol: "192.0.2.1:23/tcp".
  std::string_view proto;
  std::string_view body = text;
  if (body.size() > 4 &&
      (body.ends_with("/tcp") || body.ends_with("/udp") || body.ends_with("/TCP") || body.ends_with("/UDP"))) {
    proto = body.substr(body.size() - 3);
    body.remove_suffix(4);
  }

  bool has_scheme = scheme_length(body) != std::string_view::npos;
  if (!has_scheme) {
    // Bare address or prefix.
    if (auto a = IpAddr::parse(body); a && proto.empty()) {
      out.kind = a->is_v4() ? Kind::kIpv4 : Kind::kIpv6;
      out.value = a->str();
      return nullptr;
    }
    if (body.find('/') != std::string_view::npos && proto.empty()) {
      std::string_view after = body.substr(body.find('/') + 1);
      bool numeric = !after.empty() && after.size() <= 3;
      for (char c : after) numeric = numeric && is_digit(c);
      if (numeric && body.front() != '[' && IpAddr::parse(body.substr(0, body.find('/')))) {
        auto p = Prefix::parse(body);
        if (!p) return "invalid prefix";
        if (p->len() == 0) return "prefix /0 covers everything";
        if (p->len() == (p->is_v4() ? 32 : 128)) {
          out.kind = p->is_v4() ? Kind::kIpv4 : Kind::kIpv6;
          out.value = p->addr().str();
        } else {
          out.kind = Kind::kCidr;
          out.value = p->str();
          if (p->addr() != IpAddr::parse(body.substr(0, body.find('/')))) out.note = "prefix host bits cleared";
        }
        return nullptr;
      }
    }
    // address:port
    std::string_view host, port_text;
    if (body.front() == '[' && body.find_first_of("/?") == std::string_view::npos) {
      size_t close = body.find("]:");
      if (close != std::string_view::npos) {
        host = body.substr(0, close + 1);
        port_text = body.substr(close + 2);
      }
    } else if (size_t colon = body.find(':'); colon != std::string_view::npos &&
                                              body.find(':', colon + 1) == std::string_view::npos &&
                                              body.find('/') == std::string_view::npos) {
      host = body.substr(0, colon);
      port_text = body.substr(colon + 1);
    }
    if (!host.empty()) {
      auto a = IpAddr::parse(host);
      uint16_t port;
      if (!a) {
        if (IpAddr::parse(body)) return "unbracketed ipv6 with port";
        std::string d;
        if (normalise_domain(host, d) == nullptr) return "domain:port not supported";
        return "invalid address:port";
      }
      if (!parse_port(port_text, port)) return "invalid port";
      if (port == 0) return "port 0";
      out.kind = Kind::kAddrPort;
      out.value = bracketed(*a);
      out.value += ':';
      out.value += std::to_string(port);
      if (!proto.empty()) {
        out.value += '/';
        for (char c : proto) out.value += lower(c);
      }
      return nullptr;
    }
  }
  if (!proto.empty()) {
    // Not an address:port after all: "/tcp" is part of a path.
    body = text;
    proto = {};
  }

  // URL (with scheme, or "host/path").
  if (has_scheme || body.find('/') != std::string_view::npos || body.find('?') != std::string_view::npos) {
    char buf[kMaxUrlBuffer];
    UrlParts parts;
    size_t n = normalise_url_to(body, buf, sizeof(buf), parts);
    if (n == 0) return "invalid url";
    std::string_view norm(buf, n);
    std::string_view host(buf, parts.host_len);
    std::string_view path = norm.substr(parts.path_off);
    if (path == "/" && parts.port_len == 0) {
      // "http://host" or "host/": the whole host is the indicator.
      out.note = "url without path taken as host";
      if (parts.host_is_ip) {
        auto a = IpAddr::parse(host);
        out.kind = a->is_v4() ? Kind::kIpv4 : Kind::kIpv6;
        out.value = a->str();
        return nullptr;
      }
      out.kind = Kind::kDomain;
      return normalise_domain(host, out.value);
    }
    if (path == "/" && parts.host_is_ip) {
      auto a = IpAddr::parse(host);
      out.note = "url without path taken as address:port";
      out.kind = Kind::kAddrPort;
      out.value = bracketed(*a);
      out.value.append(norm.substr(parts.host_len, parts.port_len));
      return nullptr;
    }
    if (parts.host_is_ip && parts.port_len == 0 && host.front() != '[' && path.size() >= 2 && path.size() <= 4 &&
        std::all_of(path.begin() + 1, path.end(), is_digit))
      return "url ambiguous with a prefix";  // "192.0.2.1/24" would read back as a prefix
    if (parts.port_len > 0 && path.size() == 4 &&
        (strncasecmp(path.data(), "/tcp", 4) == 0 || strncasecmp(path.data(), "/udp", 4) == 0))
      return "url ambiguous with address:port";  // "192.0.2.1:23/tcp"
    out.kind = Kind::kUrl;
    out.value.assign(norm);
    return nullptr;
  }

  out.kind = Kind::kDomain;
  if (IpAddr::parse(body)) return "invalid address";
  return normalise_domain(body, out.value);
}

}  // namespace omamori::intel
