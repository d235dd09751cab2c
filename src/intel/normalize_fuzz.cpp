// libFuzzer target: the indicator/URL/domain normaliser and the matcher's lookups.
// Properties: a normal form classifies to itself (idempotent), and an indicator
// compiled into a snapshot matches its own value.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/ip.hpp"
#include "intel/match.hpp"
#include "intel/normalize.hpp"

using namespace omamori::intel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  char buf[kMaxUrlBuffer];
  UrlParts parts;
  size_t n = normalise_url_to(in, buf, sizeof(buf), parts);
  if (n) {
    if (parts.host_len == 0 || parts.path_off > n || parts.query_off > n || buf[parts.path_off] != '/') std::abort();
    // Normalising the normal form gives it back.
    char again[kMaxUrlBuffer];
    UrlParts p2;
    size_t n2 = normalise_url_to(std::string_view(buf, n), again, sizeof(again), p2);
    if (n2 != n || std::string_view(again, n2) != std::string_view(buf, n)) std::abort();
  }
  char name[kMaxDomain + 1];
  (void)lower_name_to(in, name);
  Classified c;
  if (classify_indicator(in, c) == nullptr) {
    Classified c2;
    if (classify_indicator(c.value, c2) != nullptr || c2.kind != c.kind || c2.value != c.value) std::abort();
    Indicator ind;
    ind.kind = c.kind;
    ind.value = c.value;
    ind.feed = "fuzz";
    SnapshotBuilder b;
    b.add(ind);
    auto s = b.build();
    if (s->size() != 1) std::abort();
    Match m;
    switch (c.kind) {
      case Kind::kDomain:
        m = s->match_domain(c.value);
        break;
      case Kind::kIpv4:
      case Kind::kIpv6:
        m = s->match_addr(*omamori::IpAddr::parse(c.value));
        break;
      case Kind::kCidr:
        m = s->match_addr(omamori::Prefix::parse(c.value)->addr());
        break;
      case Kind::kUrl:
        m = c.value.front() == '/' ? s->match_url("http://h.example" + c.value) : s->match_url(c.value);
        break;
      case Kind::kAddrPort:
        m = Match{0, MatchType::kAddrPort};
        break;
    }
    if (!m) std::abort();
  } else {
    // Lookups of arbitrary text must be safe too.
    static std::shared_ptr<const IntelSnapshot> snap = [] {
      SnapshotBuilder b;
      Indicator i;
      i.kind = Kind::kDomain;
      i.value = "evil.example";
      b.add(i);
      return b.build();
    }();
    (void)snap->match_domain(in);
    (void)snap->match_url(in);
  }
  return 0;
}
