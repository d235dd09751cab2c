#include "privacy/scrub.hpp"

#include <cctype>
#include <optional>

namespace omamori::privacy {

namespace {

bool addr_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' || c == ':';
}

// An address literal worth parsing: IPv4 has three dots and only digits,
// IPv6 at least two colons; both at least one digit.
bool plausible(std::string_view t) {
  int dots = 0, colons = 0, digits = 0;
  for (char c : t) {
    dots += c == '.';
    colons += c == ':';
    digits += c >= '0' && c <= '9';
  }
  return digits > 0 && (dots == 3 || (colons >= 2));
}

}  // namespace

AddressScrubber::AddressScrubber(const Pseudonymiser& p, const std::vector<Prefix>& internal) : p_(p) {
  all_ = internal.empty();
  LpmTable<uint8_t>::Builder b;
  for (const auto& pf : internal) b.add(pf, 1);
  internal_ = b.build();
}

IpAddr AddressScrubber::address(const IpAddr& a) {
  if (a.empty() || !is_internal(a)) return a;
  ++replaced_;
  return p_.address(a);
}

size_t AddressScrubber::text(std::string& s) {
  size_t n = 0;
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (!addr_char(s[i])) {
      out.push_back(s[i++]);
      continue;
    }
    size_t j = i;
    while (j < s.size() && addr_char(s[j])) ++j;
    // A run glued to letters (a hostname label like "cafe1.example") is no address.
    bool glued = (i > 0 && std::isalnum(static_cast<unsigned char>(s[i - 1]))) ||
                 (j < s.size() && std::isalnum(static_cast<unsigned char>(s[j])));
    std::string_view run(s.data() + i, j - i);
    // Trailing punctuation ("... from 10.0.0.5." / "10.0.0.5:") is not part of it.
    size_t end = run.size();
    while (end > 0 && (run[end - 1] == '.' || run[end - 1] == ':')) --end;
    std::string_view tok = run.substr(0, end), rest = run.substr(end);
    std::string_view port;
    std::optional<IpAddr> a;
    if (!glued && plausible(tok)) {
      a = IpAddr::parse(tok);
      if (!a && tok.find('.') != std::string_view::npos) {  // a.b.c.d:port
        size_t c = tok.rfind(':');
        if (c != std::string_view::npos) {
          a = IpAddr::parse(tok.substr(0, c));
          if (a && a->is_v4()) {
            port = tok.substr(c);
            tok = tok.substr(0, c);
          } else {
            a.reset();
          }
        }
      }
    }
    if (a && !a->empty() && is_internal(*a)) {
      out += p_.address(*a).str();
      out += port;
      out += rest;
      ++n;
    } else {
      out.append(run);
    }
    i = j;
  }
  replaced_ += n;
  s.swap(out);
  return n;
}

Finding AddressScrubber::finding(const Finding& f) {
  Finding o = f;
  o.host = address(f.host);
  text(o.indicator);
  text(o.family);
  text(o.explanation);
  for (auto& [k, v] : o.details) text(v);
  return o;
}

}  // namespace omamori::privacy
