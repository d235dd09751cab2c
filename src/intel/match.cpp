#include "intel/match.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "intel/normalize.hpp"

namespace omamori::intel {

namespace {

constexpr uint32_t kExactOnly = 0x80000000u;    // domain slot payload: no parent match
constexpr uint32_t kUrlHostFlag = 0x40000000u;  // domain slot payload: the host of a URL indicator
constexpr uint32_t kSlotIdMask = 0x3fffffffu;
constexpr uint32_t kIsCidr = 0x80000000u;  // LPM value: a prefix, not a host
constexpr uint32_t kIdMask = 0x7fffffffu;

inline uint64_t hash_str(const char* p, size_t n) {
  return XXH3_64bits(p, n);
}

inline uint64_t v4_port_key(uint32_t a, uint16_t port, uint8_t proto) {
  return (uint64_t(a) << 24) | (uint64_t(port) << 8) | proto;
}

// "host[:port]/path" -> host; "/path" -> "".
std::string_view url_host(std::string_view v) {
  if (v.empty() || v.front() == '/') return {};
  size_t end = v.find('/');
  std::string_view h = v.substr(0, end);
  if (!h.empty() && h.front() == '[') return h.substr(0, h.find(']') + 1);
  return h.substr(0, h.find(':'));
}

unsigned label_bit(size_t labels) {
  return labels >= 63 ? 63 : static_cast<unsigned>(labels);
}

size_t count_labels(std::string_view d) {
  return static_cast<size_t>(std::count(d.begin(), d.end(), '.')) + 1;
}

bool parse_addr_port(std::string_view v, IpAddr& a, uint16_t& port, uint8_t& proto) {
  proto = 0;
  if (v.ends_with("/tcp")) proto = 6;
  if (v.ends_with("/udp")) proto = 17;
  if (proto) v.remove_suffix(4);
  size_t colon = v.rfind(':');
  if (colon == std::string_view::npos) return false;
  auto addr = IpAddr::parse(v.substr(0, colon));
  if (!addr) return false;
  unsigned p = 0;
  for (char c : v.substr(colon + 1)) p = p * 10 + static_cast<unsigned>(c - '0');
  a = *addr;
  port = static_cast<uint16_t>(p);
  return true;
}

}  // namespace

const char* match_type_name(MatchType t) {
  switch (t) {
    case MatchType::kNone:
      return "none";
    case MatchType::kExact:
      return "exact";
    case MatchType::kParent:
      return "parent";
    case MatchType::kCidr:
      return "cidr";
    case MatchType::kAddrPort:
      return "addr_port";
    case MatchType::kUrl:
      return "url";
    case MatchType::kUrlPath:
      return "url_path";
    case MatchType::kUrlHost:
      return "url_host";
  }
  return "none";
}

void IntelSnapshot::HashIndex::init(size_t n) {
  // Load factor about 0.7; capacity need not be a power of two (multiply-shift reduction).
  cap = n == 0 ? 0 : std::max<uint64_t>(8, n + n * 3 / 7 + 1);
  slots.assign(cap, 0);
  slots.shrink_to_fit();
}

void IntelSnapshot::Filter::init(size_t n) {
  // 8 to 16 bits per key, two bits set per key in one 64-bit word: about 2-5% false positives.
  size_t words = 1;
  while (words * 64 < n * 8) words <<= 1;
  bits.assign(n ? words : 0, 0);
  mask = words - 1;
}

void IntelSnapshot::Filter::add(uint64_t h) {
  bits[(h >> 20) & mask] |= word_bits(h);
}

void IntelSnapshot::HashIndex::insert(uint64_t h, uint32_t payload) {
  uint32_t fp = static_cast<uint32_t>(h >> 32) | 1u;
  uint64_t i = ((h & 0xffffffffu) * cap) >> 32;
  while (slots[i] != 0) {
    if (++i == cap) i = 0;
  }
  slots[i] = (uint64_t(fp) << 32) | payload;
}

// ---------------------------------------------------------------------------
// Builder

struct ProfileKey {
  uint16_t feed;
  Kind kind;
  Category category;
  uint8_t confidence;
  bool subdomains;
  uint32_t family, tags, reference;
  TimeMs first_seen, last_seen, expiry;
  bool operator==(const ProfileKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const ProfileKey& k) {
    return H::combine(std::move(h), k.feed, k.kind, k.category, k.confidence, k.subdomains, k.family, k.tags,
                      k.reference, k.first_seen, k.last_seen, k.expiry);
  }
};

struct SnapshotBuilder::Impl {
  SnapshotOptions opt;
  struct Pending {
    Kind kind;
    bool subdomains;
    uint8_t confidence;
    uint16_t feed;
    uint32_t off, len;
    uint32_t profile;
  };
  std::vector<Pending> pend;
  std::string tmp;
  std::vector<IntelSnapshot::Profile> profiles;
  absl::flat_hash_map<ProfileKey, uint32_t> profile_ids;
  std::vector<std::string> strings{""};
  absl::flat_hash_map<std::string, uint32_t> string_ids{{"", 0}};
  std::vector<std::vector<uint32_t>> tagsets{{}};
  absl::flat_hash_map<std::vector<uint32_t>, uint32_t> tagset_ids{{std::vector<uint32_t>{}, 0}};
  std::vector<FeedStats> feeds;
  absl::flat_hash_map<std::string, uint16_t> feed_ids;
  std::vector<std::string> allow_domains;
  std::vector<Prefix> allow_prefixes;

  uint32_t intern(const std::string& s) {
    auto [it, fresh] = string_ids.try_emplace(s, static_cast<uint32_t>(strings.size()));
    if (fresh) strings.push_back(s);
    return it->second;
  }
  uint16_t feed_id(const std::string& name, bool allow) {
    auto [it, fresh] = feed_ids.try_emplace(name, static_cast<uint16_t>(feeds.size()));
    if (fresh) {
      feeds.emplace_back();
      feeds.back().name = name;
      feeds.back().allow = allow;
    }
    return it->second;
  }
};

SnapshotBuilder::SnapshotBuilder(SnapshotOptions opt) : impl_(std::make_unique<Impl>()) {
  impl_->opt = opt;
  if (impl_->opt.now == 0) impl_->opt.now = now_ms();
}
SnapshotBuilder::~SnapshotBuilder() = default;

size_t SnapshotBuilder::pending() const {
  return impl_->pend.size();
}

void SnapshotBuilder::add(const Indicator& ind) {
  Impl& m = *impl_;
  if (m.feeds.size() >= 65535 && !m.feed_ids.contains(ind.feed)) {
    rejected_.add("too many feeds");
    return;
  }
  uint16_t f = m.feed_id(ind.feed, false);
  if (ind.expired(m.opt.now)) {
    ++m.feeds[f].expired;
    return;
  }
  if (m.pend.size() >= kSlotIdMask) {
    rejected_.add("too many indicators");
    ++m.feeds[f].rejected;
    return;
  }
  // The value must be in normal form and of its kind.
  std::string norm;
  if (ind.kind == Kind::kDomain) {
    if (const char* why = normalise_domain(ind.value, norm)) {
      rejected_.add(why);
      ++m.feeds[f].rejected;
      return;
    }
  } else {
    Classified c;
    if (const char* why = classify_indicator(ind.value, c)) {
      rejected_.add(why);
      ++m.feeds[f].rejected;
      return;
    }
    if (c.kind != ind.kind) {
      rejected_.add("value does not fit its kind");
      ++m.feeds[f].rejected;
      return;
    }
    norm = std::move(c.value);
  }
  std::vector<uint32_t> tags;
  for (const auto& t : ind.tags) tags.push_back(m.intern(t));
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  auto [tit, tfresh] = m.tagset_ids.try_emplace(tags, static_cast<uint32_t>(m.tagsets.size()));
  if (tfresh) m.tagsets.push_back(tags);
  bool sub = ind.kind == Kind::kDomain && ind.subdomains;
  ProfileKey k{f,
               ind.kind,
               ind.category,
               std::min<uint8_t>(ind.confidence, 100),
               sub,
               m.intern(ind.family),
               tit->second,
               m.intern(ind.reference),
               ind.first_seen,
               ind.last_seen,
               ind.expiry};
  auto [pit, pfresh] = m.profile_ids.try_emplace(k, static_cast<uint32_t>(m.profiles.size()));
  if (pfresh)
    m.profiles.push_back({k.feed, k.kind, k.category, k.confidence, k.subdomains, k.family, k.tags, k.reference,
                          k.first_seen, k.last_seen, k.expiry});
  m.pend.push_back({ind.kind, sub, k.confidence, f, static_cast<uint32_t>(m.tmp.size()),
                    static_cast<uint32_t>(norm.size()), pit->second});
  m.tmp += norm;
}

bool SnapshotBuilder::add_allow(std::string_view value, std::string_view source) {
  Impl& m = *impl_;
  uint16_t f = m.feed_id(std::string(source), true);
  Classified c;
  if (const char* why = classify_indicator(value, c)) {
    rejected_.add(why);
    ++m.feeds[f].rejected;
    return false;
  }
  switch (c.kind) {
    case Kind::kDomain:
      m.allow_domains.push_back(c.value);
      break;
    case Kind::kIpv4:
    case Kind::kIpv6:
    case Kind::kCidr:
      m.allow_prefixes.push_back(*Prefix::parse(c.value));
      break;
    default:
      rejected_.add("allowlist entry must be a domain, address or prefix");
      ++m.feeds[f].rejected;
      return false;
  }
  ++m.feeds[f].indicators;
  ++m.feeds[f].by_kind[static_cast<int>(c.kind)];
  return true;
}

std::shared_ptr<const IntelSnapshot> SnapshotBuilder::build() {
  Impl& m = *impl_;
  auto snap = std::shared_ptr<IntelSnapshot>(new IntelSnapshot());
  IntelSnapshot& s = *snap;
  s.built_at_ = m.opt.now;

  // Allowlist first: it filters the indicators.
  std::sort(m.allow_domains.begin(), m.allow_domains.end());
  m.allow_domains.erase(std::unique(m.allow_domains.begin(), m.allow_domains.end()), m.allow_domains.end());
  s.allow_domains_.init(m.allow_domains.size());
  for (const auto& d : m.allow_domains) {
    uint32_t id = static_cast<uint32_t>(s.allow_offs_.size());
    s.allow_offs_.push_back(static_cast<uint32_t>(s.allow_arena_.size()));
    s.allow_arena_.push_back(static_cast<char>(d.size()));
    s.allow_arena_ += d;
    s.allow_domains_.insert(hash_str(d.data(), d.size()), id);
    s.allow_labels_ |= uint64_t(1) << label_bit(count_labels(d));
  }
  {
    LpmTable<uint32_t>::Builder ab;
    for (size_t i = 0; i < m.allow_prefixes.size(); ++i) ab.add(m.allow_prefixes[i], static_cast<uint32_t>(i));
    s.allow_addrs_ = ab.build();
  }
  s.allow_count_ = m.allow_domains.size() + m.allow_prefixes.size();

  auto allowed_prefix = [&](const Prefix& p) {
    const uint32_t* v = s.allow_addrs_.lookup(p.addr());
    return v && m.allow_prefixes[*v].contains(p);
  };

  // Surviving indicators get ids in order.
  std::vector<uint32_t> keep;
  keep.reserve(m.pend.size());
  for (uint32_t i = 0; i < m.pend.size(); ++i) {
    const auto& p = m.pend[i];
    std::string_view v(m.tmp.data() + p.off, p.len);
    bool allowed = false;
    if (s.allow_count_ > 0) {
      switch (p.kind) {
        case Kind::kDomain:
          allowed = s.allowed_domain(v);
          break;
        case Kind::kIpv4:
        case Kind::kIpv6:
        case Kind::kCidr:
          allowed = allowed_prefix(*Prefix::parse(v));
          break;
        case Kind::kAddrPort: {
          IpAddr a;
          uint16_t port;
          uint8_t proto;
          allowed = parse_addr_port(v, a, port, proto) && s.allowed_addr(a);
          break;
        }
        case Kind::kUrl: {
          std::string_view h = url_host(v);
          if (!h.empty()) {
            auto a = IpAddr::parse(h);
            allowed = a ? s.allowed_addr(*a) : s.allowed_domain(h);
          }
          break;
        }
      }
    }
    if (allowed) {
      ++m.feeds[p.feed].allowlisted;
      continue;
    }
    keep.push_back(i);
  }

  // Group equal (kind, value); the arena holds each value once.
  s.recs_.resize(keep.size());
  absl::flat_hash_map<std::string_view, uint32_t> first_of[kKindCount];
  std::vector<uint32_t> leaders;  // id of each group's first member
  std::vector<uint32_t> group_of(keep.size());
  std::vector<std::vector<uint32_t>> members;     // only filled for groups of 2+
  absl::flat_hash_map<uint32_t, uint32_t> multi;  // leader group -> index in members
  size_t arena_need = 0;
  for (uint32_t id = 0; id < keep.size(); ++id) {
    const auto& p = m.pend[keep[id]];
    std::string_view v(m.tmp.data() + p.off, p.len);
    auto [it, fresh] = first_of[static_cast<int>(p.kind)].try_emplace(v, static_cast<uint32_t>(leaders.size()));
    group_of[id] = it->second;
    if (fresh) {
      leaders.push_back(id);
      arena_need += p.len + (p.len < 255 ? 1 : 3);
    } else {
      auto [mi, mfresh] = multi.try_emplace(it->second, static_cast<uint32_t>(members.size()));
      if (mfresh) members.push_back({leaders[it->second]});
      members[mi->second].push_back(id);
    }
  }
  s.arena_.reserve(arena_need);
  std::vector<uint32_t> group_off(leaders.size());
  for (size_t g = 0; g < leaders.size(); ++g) {
    const auto& p = m.pend[keep[leaders[g]]];
    group_off[g] = static_cast<uint32_t>(s.arena_.size());
    if (p.len < 255) {
      s.arena_.push_back(static_cast<char>(p.len));
    } else {
      s.arena_.push_back(static_cast<char>(255));
      s.arena_.push_back(static_cast<char>(p.len >> 8));
      s.arena_.push_back(static_cast<char>(p.len & 0xff));
    }
    s.arena_.append(m.tmp, p.off, p.len);
  }
  for (uint32_t id = 0; id < keep.size(); ++id) s.recs_[id] = {group_off[group_of[id]], m.pend[keep[id]].profile};

  // Primary of each group: highest confidence, then first added.
  auto primary = [&](uint32_t g) -> uint32_t {
    auto mi = multi.find(g);
    if (mi == multi.end()) return leaders[g];
    uint32_t best = leaders[g];
    for (uint32_t id : members[mi->second])
      if (m.pend[keep[id]].confidence > m.pend[keep[best]].confidence) best = id;
    return best;
  };
  for (const auto& [g, mi] : multi) {
    (void)g;
    for (uint32_t id : members[mi]) {
      std::vector<uint32_t> o;
      for (uint32_t x : members[mi])
        if (x != id) o.push_back(x);
      s.same_value_.emplace(id, std::move(o));
    }
  }

  // Per-feed shares of each structure, for FeedStats::bytes.
  size_t nfeeds = m.feeds.size();
  std::vector<uint64_t> dom_groups(nfeeds), url_groups(nfeeds), addr_groups(nfeeds), ap_groups(nfeeds);
  std::vector<uint64_t> arena_bytes(nfeeds);

  // Domains (and URL hosts when asked).
  struct DomEntry {
    std::string_view name;
    uint32_t id;
    bool exact_only;
  };
  std::vector<DomEntry> doms;
  absl::flat_hash_map<std::string_view, size_t> dom_index;
  for (size_t g = 0; g < leaders.size(); ++g) {
    const auto& p = m.pend[keep[leaders[g]]];
    if (p.kind != Kind::kDomain) continue;
    uint32_t id = primary(static_cast<uint32_t>(g));
    bool exact_only = true;
    auto mi = multi.find(static_cast<uint32_t>(g));
    if (mi == multi.end()) {
      exact_only = !p.subdomains;
    } else {
      for (uint32_t x : members[mi->second]) exact_only = exact_only && !m.pend[keep[x]].subdomains;
    }
    std::string_view v(m.tmp.data() + p.off, p.len);
    dom_index.emplace(v, doms.size());
    doms.push_back({v, id, exact_only});
  }
  if (m.opt.url_hosts_match_dns) {
    for (size_t g = 0; g < leaders.size(); ++g) {
      const auto& p = m.pend[keep[leaders[g]]];
      if (p.kind != Kind::kUrl) continue;
      std::string_view h = url_host(std::string_view(m.tmp.data() + p.off, p.len));
      if (h.empty() || h.front() == '[' || IpAddr::parse(h) || is_public_suffix(h)) continue;
      if (dom_index.contains(h)) continue;  // a domain indicator covers it
      dom_index.emplace(h, doms.size());
      doms.push_back({h, primary(static_cast<uint32_t>(g)), true});
    }
  }
  s.domains_.init(doms.size());
  s.domain_filter_.init(doms.size());
  for (const auto& d : doms) {
    uint64_t h = hash_str(d.name.data(), d.name.size());
    bool url_host_entry = m.pend[keep[d.id]].kind == Kind::kUrl;
    s.domains_.insert(h, d.id | (d.exact_only ? kExactOnly : 0) | (url_host_entry ? kUrlHostFlag : 0));
    s.domain_filter_.add(h);
    s.domain_labels_ |= uint64_t(1) << label_bit(count_labels(d.name));
    ++dom_groups[m.pend[keep[d.id]].feed];
  }

  // URLs, addresses, address:port.
  size_t nurl = 0;
  for (size_t g = 0; g < leaders.size(); ++g)
    if (m.pend[keep[leaders[g]]].kind == Kind::kUrl) ++nurl;
  s.urls_.init(nurl);
  LpmTable<uint32_t>::Builder lb;
  for (size_t g = 0; g < leaders.size(); ++g) {
    const auto& p = m.pend[keep[leaders[g]]];
    std::string_view v(m.tmp.data() + p.off, p.len);
    uint32_t id = primary(static_cast<uint32_t>(g));
    uint16_t feed = m.pend[keep[id]].feed;
    arena_bytes[feed] += p.len + 1;
    switch (p.kind) {
      case Kind::kUrl:
        s.urls_.insert(hash_str(v.data(), v.size()), id);
        if (v.front() == '/') s.url_paths_ = true;
        ++url_groups[feed];
        break;
      case Kind::kIpv4:
      case Kind::kIpv6:
        lb.add(*Prefix::parse(v), id);
        ++addr_groups[feed];
        break;
      case Kind::kCidr:
        lb.add(*Prefix::parse(v), id | kIsCidr);
        ++addr_groups[feed];
        break;
      case Kind::kAddrPort: {
        IpAddr a;
        uint16_t port;
        uint8_t proto;
        if (!parse_addr_port(v, a, port, proto)) break;
        if (a.is_v4())
          s.addr_ports_v4_.emplace(v4_port_key(a.v4_host_order(), port, proto), id);
        else
          s.addr_ports_v6_.emplace(IntelSnapshot::AddrPortKey{a, port, proto}, id);
        ++ap_groups[feed];
        break;
      }
      case Kind::kDomain:
        break;
    }
  }
  s.addrs_ = lb.build();

  s.profiles_ = std::move(m.profiles);
  s.strings_ = std::move(m.strings);
  s.tagsets_ = std::move(m.tagsets);
  s.recs_.shrink_to_fit();

  // Feed statistics.
  for (uint32_t id = 0; id < keep.size(); ++id) {
    const auto& p = m.pend[keep[id]];
    auto& fs = m.feeds[p.feed];
    ++fs.indicators;
    ++fs.by_kind[static_cast<int>(p.kind)];
    ++fs.by_category[static_cast<int>(s.profiles_[p.profile].category)];
    fs.bytes += sizeof(IntelSnapshot::Rec);
  }
  for (const auto& pr : s.profiles_) m.feeds[pr.feed].bytes += sizeof(IntelSnapshot::Profile);
  auto share = [&](const std::vector<uint64_t>& groups, size_t bytes) {
    uint64_t total = 0;
    for (auto g : groups) total += g;
    if (total == 0) return;
    for (size_t f = 0; f < nfeeds; ++f) m.feeds[f].bytes += bytes * groups[f] / total;
  };
  share(dom_groups, s.domains_.bytes() + s.domain_filter_.bytes());
  share(url_groups, s.urls_.bytes());
  share(addr_groups, s.addrs_.memory_bytes());
  share(ap_groups, s.addr_ports_v4_.capacity() * (sizeof(std::pair<uint64_t, uint32_t>) + 1) +
                       s.addr_ports_v6_.capacity() * (sizeof(std::pair<IntelSnapshot::AddrPortKey, uint32_t>) + 1));
  for (size_t f = 0; f < nfeeds; ++f) m.feeds[f].bytes += arena_bytes[f];
  s.feeds_ = std::move(m.feeds);
  // Allowlist feeds: attribute the allowlist structures.
  {
    uint64_t allow_bytes = s.allow_domains_.bytes() + s.allow_arena_.capacity() +
                           s.allow_offs_.capacity() * sizeof(uint32_t) + s.allow_addrs_.memory_bytes();
    uint64_t n = 0;
    for (const auto& f : s.feeds_)
      if (f.allow) n += f.indicators;
    for (auto& f : s.feeds_)
      if (f.allow && n) f.bytes = allow_bytes * f.indicators / n;
  }
  *impl_ = Impl{};
  impl_->opt.now = s.built_at_;
  return snap;
}

// ---------------------------------------------------------------------------
// Lookups

std::string_view IntelSnapshot::arena_str(uint32_t off) const {
  const auto* p = reinterpret_cast<const unsigned char*>(arena_.data() + off);
  size_t len = p[0];
  if (len < 255) return {arena_.data() + off + 1, len};
  len = (size_t(p[1]) << 8) | p[2];
  return {arena_.data() + off + 3, len};
}

bool IntelSnapshot::domain_eq(uint32_t payload, std::string_view s) const {
  uint32_t id = payload & kSlotIdMask;
  std::string_view v = arena_str(recs_[id].value_off);
  // A URL host entry: compare with the URL's host.
  if (payload & kUrlHostFlag) return url_host(v) == s;
  return v.size() == s.size() && std::memcmp(v.data(), s.data(), s.size()) == 0;
}

Match IntelSnapshot::find_domain(const char* name, size_t len, bool allow) const {
  const HashIndex& idx = allow ? allow_domains_ : domains_;
  uint64_t mask = allow ? allow_labels_ : domain_labels_;
  if (idx.cap == 0) return {};
  uint8_t starts[kMaxDomain + 1];
  size_t nl = 0;
  starts[nl++] = 0;
  for (size_t i = 0; i < len; ++i)
    if (name[i] == '.' && i + 1 < len) starts[nl++] = static_cast<uint8_t>(i + 1);
  for (size_t i = 0; i < nl; ++i) {
    if (!(mask & (uint64_t(1) << label_bit(nl - i)))) continue;
    const char* p = name + starts[i];
    size_t n = len - starts[i];
    std::string_view sv(p, n);
    uint64_t h = hash_str(p, n);
    if (!allow && !domain_filter_.may_contain(h)) continue;
    uint32_t payload;
    if (allow) {
      payload = idx.find(h, [&](uint32_t id) {
        const char* a = allow_arena_.data() + allow_offs_[id];
        return static_cast<unsigned char>(a[0]) == n && std::memcmp(a + 1, p, n) == 0;
      });
      if (payload != kNoId) return {payload, i == 0 ? MatchType::kExact : MatchType::kParent};
      continue;
    }
    payload = idx.find(h, [&](uint32_t pl) { return domain_eq(pl, sv); });
    if (payload == kNoId) continue;
    if (i > 0 && (payload & kExactOnly)) continue;
    MatchType how = i == 0 ? MatchType::kExact : MatchType::kParent;
    if (payload & kUrlHostFlag) how = MatchType::kUrlHost;
    return {payload & kSlotIdMask, how};
  }
  return {};
}

Match IntelSnapshot::match_domain(std::string_view name) const {
  char buf[kMaxDomain + 1];
  size_t n = lower_name_to(name, buf);
  if (n == 0) return {};
  Match m = find_domain(buf, n, false);
  if (m && allow_count_ && find_domain(buf, n, true)) return {};
  return m;
}

void IntelSnapshot::match_domains(std::span<const std::string_view> names, std::span<Match> out) const {
  constexpr size_t kGroup = 16;
  constexpr size_t kMaxCand = 6;  // suffixes per name probed here; more fall back to match_domain
  struct Name {
    char buf[kMaxDomain + 1];
    size_t len;
    uint8_t ncand;
    bool scalar;
    uint8_t off[kMaxCand];
    bool parent[kMaxCand];
    uint64_t h[kMaxCand];
    uint32_t hit;
    uint8_t hit_c;
  };
  Name q[kGroup];
  const uint64_t* filter = domain_filter_.bits.data();
  for (size_t base = 0; base < names.size(); base += kGroup) {
    size_t n = std::min(kGroup, names.size() - base);
    // 1. Normalise, hash the candidate suffixes, prefetch their filter words.
    for (size_t k = 0; k < n; ++k) {
      Name& x = q[k];
      x.len = domains_.cap ? lower_name_to(names[base + k], x.buf) : 0;
      x.ncand = 0;
      x.scalar = false;
      if (x.len == 0) continue;
      uint8_t starts[kMaxDomain + 1];
      size_t nl = 0;
      starts[nl++] = 0;
      for (size_t i = 0; i < x.len; ++i)
        if (x.buf[i] == '.' && i + 1 < x.len) starts[nl++] = static_cast<uint8_t>(i + 1);
      for (size_t i = 0; i < nl; ++i) {
        if (!(domain_labels_ & (uint64_t(1) << label_bit(nl - i)))) continue;
        if (x.ncand == kMaxCand) {
          x.scalar = true;
          break;
        }
        uint64_t h = hash_str(x.buf + starts[i], x.len - starts[i]);
        x.off[x.ncand] = starts[i];
        x.parent[x.ncand] = i > 0;
        x.h[x.ncand++] = h;
        __builtin_prefetch(filter + ((h >> 20) & domain_filter_.mask));
      }
    }
    // 2. Keep what passes the filter, prefetch its first table slot.
    for (size_t k = 0; k < n; ++k) {
      Name& x = q[k];
      if (x.scalar) continue;
      uint8_t keep = 0;
      for (uint8_t c = 0; c < x.ncand; ++c) {
        if (!domain_filter_.may_contain(x.h[c])) continue;
        x.off[keep] = x.off[c];
        x.parent[keep] = x.parent[c];
        x.h[keep++] = x.h[c];
        __builtin_prefetch(domains_.slots.data() + (((x.h[c] & 0xffffffffu) * domains_.cap) >> 32));
      }
      x.ncand = keep;
    }
    // 3. Probe by fingerprint, longest suffix first; prefetch the candidate's record.
    for (size_t k = 0; k < n; ++k) {
      Name& x = q[k];
      x.hit = kNoId;
      if (x.scalar) continue;
      for (uint8_t c = 0; c < x.ncand; ++c) {
        uint32_t payload = domains_.find_fp(x.h[c]);
        if (payload == kNoId) continue;
        if (x.parent[c] && (payload & kExactOnly)) {
          x.scalar = true;  // rare: let match_domain sort it out
          break;
        }
        x.hit = payload;
        x.hit_c = c;
        __builtin_prefetch(&recs_[payload & kSlotIdMask]);
        break;
      }
    }
    // 4. Prefetch the candidates' values.
    for (size_t k = 0; k < n; ++k)
      if (q[k].hit != kNoId && !q[k].scalar)
        __builtin_prefetch(arena_.data() + recs_[q[k].hit & kSlotIdMask].value_off);
    // 5. Verify against the arena; a fingerprint that does not verify (rare) goes the scalar way.
    for (size_t k = 0; k < n; ++k) {
      Name& x = q[k];
      Match& r = out[base + k];
      r = Match{};
      if (x.scalar) {
        r = match_domain(names[base + k]);
        continue;
      }
      if (x.hit == kNoId) continue;
      uint8_t c = x.hit_c;
      if (!domain_eq(x.hit, std::string_view(x.buf + x.off[c], x.len - x.off[c]))) {
        r = match_domain(names[base + k]);
        continue;
      }
      MatchType how = x.parent[c] ? MatchType::kParent : MatchType::kExact;
      if (x.hit & kUrlHostFlag) how = MatchType::kUrlHost;
      r = {x.hit & kSlotIdMask, how};
      if (allow_count_ && find_domain(x.buf, x.len, true)) r = Match{};
    }
  }
}

bool IntelSnapshot::allowed_domain(std::string_view name) const {
  char buf[kMaxDomain + 1];
  size_t n = lower_name_to(name, buf);
  return n && static_cast<bool>(find_domain(buf, n, true));
}

bool IntelSnapshot::allowed_addr(const IpAddr& a) const {
  return allow_count_ && allow_addrs_.lookup(a);
}

Match IntelSnapshot::match_addr(const IpAddr& a) const {
  const uint32_t* v = addrs_.lookup(a);
  if (!v) return {};
  if (allow_count_ && allow_addrs_.lookup(a)) return {};
  return {*v & kIdMask, (*v & kIsCidr) ? MatchType::kCidr : MatchType::kExact};
}

Match IntelSnapshot::match_addr_port(const IpAddr& a, uint16_t port, uint8_t proto) const {
  if (a.is_v4()) {
    if (!addr_ports_v4_.empty()) {
      uint32_t h = a.v4_host_order();
      auto it = proto ? addr_ports_v4_.find(v4_port_key(h, port, proto)) : addr_ports_v4_.end();
      if (it == addr_ports_v4_.end()) it = addr_ports_v4_.find(v4_port_key(h, port, 0));
      if (it != addr_ports_v4_.end()) {
        if (allow_count_ && allow_addrs_.lookup(a)) return {};
        return {it->second, MatchType::kAddrPort};
      }
    }
  } else if (!addr_ports_v6_.empty()) {
    auto it = proto ? addr_ports_v6_.find(AddrPortKey{a, port, proto}) : addr_ports_v6_.end();
    if (it == addr_ports_v6_.end()) it = addr_ports_v6_.find(AddrPortKey{a, port, 0});
    if (it != addr_ports_v6_.end()) {
      if (allow_count_ && allow_addrs_.lookup(a)) return {};
      return {it->second, MatchType::kAddrPort};
    }
  }
  return match_addr(a);
}

Match IntelSnapshot::match_url(std::string_view url) const {
  char buf[kMaxUrlBuffer];
  UrlParts parts;
  size_t n = normalise_url_to(url, buf, sizeof(buf), parts);
  if (n == 0) return {};
  std::string_view host(buf, parts.host_len);
  auto host_allowed = [&] {
    if (!allow_count_) return false;
    if (parts.host_is_ip) {
      auto a = IpAddr::parse(host);
      return a && allowed_addr(*a);
    }
    return static_cast<bool>(find_domain(host.data(), host.size(), true));
  };
  auto find_url = [&](const char* p, size_t len) {
    std::string_view sv(p, len);
    return urls_.find(hash_str(p, len), [&](uint32_t id) { return arena_str(recs_[id].value_off) == sv; });
  };
  if (urls_.cap) {
    uint32_t id = find_url(buf, n);
    if (id == kNoId && parts.query_off < n) id = find_url(buf, parts.query_off);
    if (id != kNoId) return host_allowed() ? Match{} : Match{id, MatchType::kUrl};
    if (url_paths_) {
      id = find_url(buf + parts.path_off, n - parts.path_off);
      if (id == kNoId && parts.query_off < n) id = find_url(buf + parts.path_off, parts.query_off - parts.path_off);
      if (id != kNoId) return host_allowed() ? Match{} : Match{id, MatchType::kUrlPath};
    }
  }
  if (parts.host_is_ip) {
    auto a = IpAddr::parse(host);
    if (!a) return {};
    if (parts.port_len) {
      unsigned port = 0;
      for (size_t i = parts.host_len + 1; i < parts.host_len + parts.port_len; ++i)
        port = port * 10 + static_cast<unsigned>(buf[i] - '0');
      return match_addr_port(*a, static_cast<uint16_t>(port), 6);
    }
    return match_addr(*a);
  }
  return match_domain(host);
}

// ---------------------------------------------------------------------------
// Accessors

Kind IntelSnapshot::kind(uint32_t id) const {
  return profiles_[recs_[id].profile].kind;
}
Category IntelSnapshot::category(uint32_t id) const {
  return profiles_[recs_[id].profile].category;
}
uint8_t IntelSnapshot::confidence(uint32_t id) const {
  return profiles_[recs_[id].profile].confidence;
}
std::string_view IntelSnapshot::value(uint32_t id) const {
  return arena_str(recs_[id].value_off);
}
std::string_view IntelSnapshot::feed(uint32_t id) const {
  return feeds_[profiles_[recs_[id].profile].feed].name;
}
std::string_view IntelSnapshot::family(uint32_t id) const {
  return strings_[profiles_[recs_[id].profile].family];
}

std::span<const uint32_t> IntelSnapshot::same_value(uint32_t id) const {
  auto it = same_value_.find(id);
  if (it == same_value_.end()) return {};
  return it->second;
}

Indicator IntelSnapshot::indicator(uint32_t id) const {
  Indicator r;
  if (id >= recs_.size()) return r;
  const Profile& p = profiles_[recs_[id].profile];
  r.kind = p.kind;
  r.value = std::string(arena_str(recs_[id].value_off));
  r.category = p.category;
  r.family = strings_[p.family];
  for (uint32_t t : tagsets_[p.tags]) r.tags.push_back(strings_[t]);
  r.feed = feeds_[p.feed].name;
  r.reference = strings_[p.reference];
  r.confidence = p.confidence;
  r.first_seen = p.first_seen;
  r.last_seen = p.last_seen;
  r.expiry = p.expiry;
  r.subdomains = p.subdomains;
  return r;
}

size_t IntelSnapshot::memory_bytes() const {
  size_t b = sizeof(*this);
  b += recs_.capacity() * sizeof(Rec) + arena_.capacity() + profiles_.capacity() * sizeof(Profile);
  for (const auto& s : strings_) b += sizeof(std::string) + (s.size() > 15 ? s.capacity() : 0);
  for (const auto& t : tagsets_) b += sizeof(t) + t.capacity() * sizeof(uint32_t);
  b += domains_.bytes() + domain_filter_.bytes() + urls_.bytes() + addrs_.memory_bytes();
  b += addr_ports_v4_.capacity() * (sizeof(std::pair<uint64_t, uint32_t>) + 1);
  b += addr_ports_v6_.capacity() * (sizeof(std::pair<AddrPortKey, uint32_t>) + 1);
  for (const auto& [k, v] : same_value_) b += sizeof(k) + sizeof(v) + 1 + v.capacity() * sizeof(uint32_t);
  b += allow_domains_.bytes() + allow_arena_.capacity() + allow_offs_.capacity() * sizeof(uint32_t) +
       allow_addrs_.memory_bytes();
  for (const auto& f : feeds_) b += sizeof(f) + f.name.capacity();
  return b;
}

IntelStore::IntelStore() : snap_(SnapshotBuilder().build()) {}

}  // namespace omamori::intel
