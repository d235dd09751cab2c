#include "detect/c2/target.hpp"

#include "intel/normalize.hpp"

namespace omamori::c2 {

namespace {

// The address, port and protocol parts of a flow destination text
// ("192.0.2.1:23/tcp", "[2001:db8::1]:443/tcp", "192.0.2.1/47").
struct DestParts {
  std::string_view addr, port, proto;
};
DestParts split_dest(std::string_view d) {
  DestParts p;
  std::string_view rest;
  if (!d.empty() && d.front() == '[') {
    size_t e = d.find(']');
    if (e == std::string_view::npos) return p;
    p.addr = d.substr(1, e - 1);
    rest = d.substr(e + 1);
  } else {
    size_t e = d.find_first_of(":/");
    p.addr = d.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view{} : d.substr(e);
  }
  if (!rest.empty() && rest.front() == ':') {
    size_t sl = rest.find('/');
    p.port = rest.substr(1, sl == std::string_view::npos ? std::string_view::npos : sl - 1);
    rest = sl == std::string_view::npos ? std::string_view{} : rest.substr(sl);
  }
  if (!rest.empty() && rest.front() == '/') p.proto = rest.substr(1);
  return p;
}


}  // namespace

std::optional<Target> parse_target(std::string_view text, std::string& err) {
  intel::Classified c;
  if (const char* why = intel::classify_indicator(text, c)) {
    err = std::string(why) + ": '" + std::string(text) + "'";
    return std::nullopt;
  }
  if (c.kind == intel::Kind::kCidr || c.kind == intel::Kind::kUrl) {
    err = "give a domain, an address or an address:port, not a " + std::string(intel::kind_name(c.kind)) + ": '" +
          std::string(text) + "'";
    return std::nullopt;
  }
  return Target{c.kind, std::move(c.value)};
}

bool covers(const Target& t, std::string_view dest, DestKind kind) {
  if (t.kind == intel::Kind::kDomain) {
    if (kind == DestKind::AddrPort) return false;
    return dest == t.value ||
           (dest.size() > t.value.size() && dest.ends_with(t.value) && dest[dest.size() - t.value.size() - 1] == '.');
  }
  if (kind != DestKind::AddrPort) return false;
  DestParts d = split_dest(dest);
  if (t.kind == intel::Kind::kIpv4 || t.kind == intel::Kind::kIpv6) return d.addr == t.value;
  DestParts w = split_dest(t.value);  // kAddrPort
  return d.addr == w.addr && d.port == w.port && (w.proto.empty() || d.proto == w.proto);
}

}  // namespace omamori::c2
