#include "detect/c2/discovery.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "detect/table_bytes.hpp"

namespace omamori::c2 {

std::string_view dest_kind_name(DestKind k) {
  switch (k) {
    case DestKind::AddrPort: return "address";
    case DestKind::Domain: return "domain";
    case DestKind::NxDomain: return "nxdomain";
  }
  return "?";
}

std::string flow_dest(const IpAddr& dst, uint16_t dport, uint8_t proto) {
  const char* p = proto == 6 ? "tcp" : proto == 17 ? "udp" : nullptr;
  std::string a = dst.is_v4() ? dst.str() : "[" + dst.str() + "]";
  return p ? fmt::format("{}:{}/{}", a, dport, p) : fmt::format("{}/{}", a, proto);
}

// --- ContactStore ---------------------------------------------------------

void ContactStore::radix_sort(std::vector<uint64_t>& v, std::vector<uint64_t>& tmp) {
  const size_t n = v.size();
  if (n < 512) {
    std::sort(v.begin(), v.end());
    return;
  }
  constexpr int kBits = 11, kPasses = 6;  // 66 bits
  constexpr size_t kBuckets = size_t{1} << kBits;
  std::vector<uint32_t> hist(kPasses * kBuckets, 0);
  for (uint64_t x : v)
    for (int p = 0; p < kPasses; ++p) ++hist[static_cast<size_t>(p) * kBuckets + ((x >> (p * kBits)) & (kBuckets - 1))];
  tmp.resize(n);
  uint64_t* src = v.data();
  uint64_t* dst = tmp.data();
  bool in_tmp = false;
  for (int p = 0; p < kPasses; ++p) {
    uint32_t* h = &hist[static_cast<size_t>(p) * kBuckets];
    const int shift = p * kBits;
    if (h[(src[0] >> shift) & (kBuckets - 1)] == n) continue;  // every key has this digit
    uint32_t sum = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
      uint32_t c = h[b];
      h[b] = sum;
      sum += c;
    }
    for (size_t i = 0; i < n; ++i) {
      uint64_t x = src[i];
      dst[h[(x >> shift) & (kBuckets - 1)]++] = x;
    }
    std::swap(src, dst);
    in_tmp = !in_tmp;
  }
  if (in_tmp) v.swap(tmp);
}

size_t ContactStore::memory_bytes() const {
  return blocks_.capacity() * sizeof(Block) + blocks_.size() * kBlockBytes + buf_.capacity() * sizeof(uint64_t) +
         tmp_.capacity() * sizeof(uint64_t);
}

// --- Discovery --------------------------------------------------------------

namespace {
constexpr uint32_t kNoHost = UINT32_MAX;
constexpr uint32_t kOtherTag = 0xF0000000u;  // host keys of non-IPv4 hosts (and IPv4 240.0.0.0/4)
constexpr uint32_t kMaxOther = 0x0FFFFFFFu;  // kOtherTag | kMaxOther would be kNoHost
constexpr size_t kMinMerge = 1 << 14;
uint64_t pack4(uint32_t addr, uint16_t port, uint8_t proto) {
  return uint64_t{addr} << 24 | uint64_t{port} << 8 | proto;
}
}  // namespace

Discovery::Discovery(Config cfg)
    : cfg_(std::move(cfg)), infra_ports_(1024, 0) {
  LpmTable<uint8_t>::Builder b;
  for (const auto& p : cfg_.infrastructure) b.add(p, 1);
  infra_ = b.build();
  for (uint16_t p : cfg_.infrastructure_ports) infra_ports_[p / 64] |= uint64_t{1} << (p % 64);
  buf_reserve();
}

void Discovery::buf_reserve() { contacts_.reserve(merge_at_); }

int32_t Discovery::rel(TimeMs t) {
  if (!have_epoch_) {
    have_epoch_ = true;
    epoch_ = t;
  }
  now_ = std::max(now_, t);
  return static_cast<int32_t>(std::clamp<TimeMs>(t - epoch_, INT32_MIN, INT32_MAX));
}

uint32_t Discovery::host_key(const IpAddr& host) {
  if (host.is_v4()) {
    uint32_t a = host.v4_host_order();
    if ((a & kOtherTag) != kOtherTag) {
      if (hosts4_.find(a * kGolden, [a](const HostSlot& s) { return s.key == a; })) return a;
      if (hosts() < cfg_.max_hosts) {
        hosts4_.insert(HostSlot{a});
        return a;
      }
      counters_.add("c2 host not tracked (max_hosts)");
      return kNoHost;
    }
  }
  auto it = hosts_other_.find(host);
  if (it != hosts_other_.end()) return it->second;
  if (hosts() >= cfg_.max_hosts || other_addrs_.size() >= kMaxOther) {
    counters_.add("c2 host not tracked (max_hosts)");
    return kNoHost;
  }
  uint32_t key = kOtherTag | static_cast<uint32_t>(other_addrs_.size());
  other_addrs_.push_back(host);
  hosts_other_.emplace(host, key);
  return key;
}

IpAddr Discovery::host_addr(uint32_t key) const {
  if ((key & kOtherTag) == kOtherTag) return other_addrs_[key & kMaxOther];
  return IpAddr::v4(key);
}

void Discovery::add_flow(const IpAddr& host, const IpAddr& dst, uint16_t dport, uint8_t proto, TimeMs t) {
  if (infra_ports_[dport / 64] >> (dport % 64) & 1) return;
  if (!cfg_.infrastructure.empty() && infra_.lookup(dst)) return;
  uint32_t h = host_key(host);
  if (h == kNoHost) return;
  if (dst.is_v4()) {
    add_packed4(h, pack4(dst.v4_host_order(), dport, proto), t);
  } else {
    char k[19];
    std::memcpy(k, dst.bytes(), 16);
    k[16] = static_cast<char>(dport >> 8);
    k[17] = static_cast<char>(dport & 0xff);
    k[18] = static_cast<char>(proto);
    add_arena(h, static_cast<uint8_t>(static_cast<uint8_t>(DestKind::AddrPort) | kBinary6), std::string_view(k, 19), t);
  }
}

void Discovery::add_contact(const IpAddr& host, DestKind kind, std::string_view dest, TimeMs t) {
  if (dest.size() > UINT16_MAX) {
    counters_.add("c2 destination name too long (not kept)");
    return;
  }
  uint32_t h = host_key(host);
  if (h == kNoHost) return;
  add_arena(h, static_cast<uint8_t>(kind), dest, t);
}

void Discovery::add_packed4(uint32_t host, uint64_t packed, TimeMs t) {
  const uint32_t lo = static_cast<uint32_t>(packed), hi = static_cast<uint32_t>(packed >> 32);
  if (const PackedSlot* s =
          packed4_.find(packed * kGolden, [&](const PackedSlot& x) { return x.lo == lo && x.hi == hi; })) {
    touch(s->id, host, t);
    return;
  }
  uint32_t id = new_dest(static_cast<uint8_t>(static_cast<uint8_t>(DestKind::AddrPort) | kPacked4), t);
  if (id == kNoHost) return;
  packed4_.insert(PackedSlot{lo, hi, id});
  touch(id, host, t);
}

void Discovery::add_arena(uint32_t host, uint8_t kind, std::string_view bytes, TimeMs t) {
  const uint32_t tag = static_cast<uint32_t>(XXH3_64bits_withSeed(bytes.data(), bytes.size(), kind) >> 32);
  const NameSlot* hit = by_bytes_.find(tag * kGolden, [&](const NameSlot& x) {
    if (x.tag != tag) return false;
    const Dest& d = dests_[x.id];
    return d.kind == kind && d.len == bytes.size() &&
           std::memcmp(arena_.data() + d.key, bytes.data(), bytes.size()) == 0;
  });
  if (hit) {
    touch(hit->id, host, t);
    return;
  }
  if (arena_.size() + bytes.size() > UINT32_MAX) {
    counters_.add("c2 destination not tracked (name arena full)");
    return;
  }
  uint32_t id = new_dest(kind, t);
  if (id == kNoHost) return;
  Dest& d = dests_[id];
  d.key = static_cast<uint32_t>(arena_.size());
  d.len = static_cast<uint16_t>(bytes.size());
  arena_.insert(arena_.end(), bytes.begin(), bytes.end());
  arena_live_ += bytes.size();
  by_bytes_.insert(NameSlot{id, tag});
  touch(id, host, t);
}

uint32_t Discovery::new_dest(uint8_t kind, TimeMs t) {
  if (live_dests_ >= cfg_.max_destinations) {
    evict(cfg_.max_destinations - std::max<size_t>(1, cfg_.max_destinations / 8), SIZE_MAX);
    if (live_dests_ >= cfg_.max_destinations) {
      counters_.add("c2 destination not tracked (max_destinations)");
      return kNoHost;
    }
  }
  uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<uint32_t>(dests_.size());
    dests_.emplace_back();
  }
  Dest& d = dests_[id];
  d = Dest{};
  d.first = d.last = rel(t);
  d.kind = kind;
  d.last_host = kNoHost;
  ++live_dests_;
  return id;
}

void Discovery::touch(uint32_t id, uint32_t host, TimeMs t) {
  Dest& d = dests_[id];
  int32_t r = rel(t);
  d.first = std::min(d.first, r);
  d.last = std::max(d.last, r);
  if (d.last_host == host) return;
  d.last_host = host;
  if (d.flags & kOverflow) {
    counters_.add("c2 contact beyond max_hosts_per_dest (not kept)");
    return;
  }
  contacts_.add(uint64_t{id} << 32 | host);
  if (contacts_.pending() >= merge_at_) merge();
}

void Discovery::set_suspected(const IpAddr& host) {
  uint32_t h = host_key(host);
  if (h != kNoHost) suspected_.insert(h);
}

void Discovery::merge_pending() {
  if (contacts_.pending() == 0) return;
  uint64_t over = 0;
  contacts_.merge([&](uint64_t key, bool is_new) {
    if (!is_new) return true;
    Dest& d = dests_[key >> 32];
    if (d.n >= cfg_.max_hosts_per_dest) {
      d.flags |= kOverflow;
      ++over;
      return false;
    }
    ++d.n;
    return true;
  });
  if (over) counters_.add("c2 contact beyond max_hosts_per_dest (not kept)", over);
  merge_at_ = std::max(kMinMerge, contacts_.size() / 8);
  buf_reserve();
}

void Discovery::merge() {
  merge_pending();
  if (contacts_.size() > cfg_.max_contacts)
    evict(SIZE_MAX, cfg_.max_contacts - std::max<size_t>(1, cfg_.max_contacts / 8));
}

void Discovery::evict(size_t want_dests, size_t want_contacts) {
  merge_pending();  // exact n, empty buffer
  // Whichever limit is exceeded now is brought down to 7/8 of it too.
  if (contacts_.size() > cfg_.max_contacts)
    want_contacts = std::min(want_contacts, cfg_.max_contacts - std::max<size_t>(1, cfg_.max_contacts / 8));
  if (live_dests_ > cfg_.max_destinations)
    want_dests = std::min(want_dests, cfg_.max_destinations - std::max<size_t>(1, cfg_.max_destinations / 8));
  struct Victim {
    uint32_t n;
    int32_t last;
    uint32_t id;
  };
  std::vector<Victim> v;
  v.reserve(live_dests_);
  size_t dests = live_dests_, contacts = contacts_.size();
  uint64_t idle = 0, pressed = 0;
  auto mark = [&](uint32_t id, uint64_t& count) {
    Dest& d = dests_[id];
    d.flags |= kEvicted;
    --dests;
    contacts -= std::min<size_t>(contacts, d.n);
    ++count;
  };
  // First what can least become a candidate: fewer hosts than min_suspected, idle for idle_ms.
  const TimeMs now = std::clamp<TimeMs>(now_ - epoch_, INT32_MIN, INT32_MAX);
  for (uint32_t id = 0; id < dests_.size(); ++id) {
    const Dest& d = dests_[id];
    if (d.flags & kFree) continue;
    if (d.n < cfg_.min_suspected && now - d.last > cfg_.idle_ms)
      mark(id, idle);
    else
      v.push_back({d.n, d.last, id});
  }
  // Too many destinations: single-host ones, oldest first, then the least
  // recently contacted (an active destination may still gain hosts).
  if (dests > want_dests) {
    std::sort(v.begin(), v.end(), [](const Victim& a, const Victim& b) {
      if ((a.n <= 1) != (b.n <= 1)) return a.n <= 1;
      if (a.last != b.last) return a.last < b.last;
      return a.id < b.id;
    });
    size_t i = 0;
    for (; i < v.size() && dests > want_dests; ++i) mark(v[i].id, pressed);
    v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i));
  }
  // Too many contacts: the most hosts first (nearest to popular; frees the most).
  if (contacts > want_contacts) {
    std::sort(v.begin(), v.end(), [](const Victim& a, const Victim& b) {
      if (a.n != b.n) return a.n > b.n;
      if (a.last != b.last) return a.last < b.last;
      return a.id < b.id;
    });
    for (size_t i = 0; i < v.size() && contacts > want_contacts; ++i) mark(v[i].id, pressed);
  }
  if (idle + pressed == 0) return;
  uint64_t dropped = 0;
  contacts_.merge([&](uint64_t key, bool) {
    bool keep = !(dests_[key >> 32].flags & kEvicted);
    dropped += !keep;
    return keep;
  });
  packed4_.rebuild_if([&](const PackedSlot& s) { return !(dests_[s.id].flags & kEvicted); });
  by_bytes_.rebuild_if([&](const NameSlot& s) { return !(dests_[s.id].flags & kEvicted); });
  for (uint32_t id = 0; id < dests_.size(); ++id) {
    Dest& d = dests_[id];
    if (!(d.flags & kEvicted)) continue;
    if (!(d.kind & kPacked4)) arena_live_ -= d.len;
    d.flags = kFree;
    free_.push_back(id);
  }
  live_dests_ -= idle + pressed;
  evicted_dests_ += idle + pressed;
  dropped_contacts_ += dropped;
  if (idle) counters_.add("c2 destination evicted (idle, fewer hosts than min_suspected)", idle);
  if (pressed) counters_.add("c2 destination evicted (max_destinations/max_contacts reached)", pressed);
  if (dropped) counters_.add("c2 contacts dropped with evicted destinations", dropped);
  merge_at_ = std::max(kMinMerge, contacts_.size() / 8);
  // Compact the names when more than half of the arena is dead.
  if (arena_live_ < arena_.size() / 2) {
    std::vector<char> a;
    a.reserve(arena_live_ + arena_live_ / 4);
    for (auto& d : dests_) {
      if ((d.flags & kFree) || (d.kind & kPacked4)) continue;
      uint32_t at = static_cast<uint32_t>(a.size());
      a.insert(a.end(), arena_.begin() + d.key, arena_.begin() + d.key + d.len);
      d.key = at;
    }
    arena_ = std::move(a);
  }
}

void Discovery::addr_of(const Dest& d, uint64_t packed, IpAddr& a, uint16_t& port, uint8_t& proto) const {
  if (d.kind & kPacked4) {
    a = IpAddr::v4(static_cast<uint32_t>(packed >> 24));
    port = static_cast<uint16_t>(packed >> 8);
    proto = static_cast<uint8_t>(packed);
  } else {
    const auto* k = reinterpret_cast<const uint8_t*>(arena_.data() + d.key);
    a = IpAddr::v6_bytes(k);
    port = static_cast<uint16_t>(k[16] << 8 | k[17]);
    proto = k[18];
  }
}

bool Discovery::excluded(const Dest& d, uint64_t packed) const {
  const auto kind = static_cast<DestKind>(d.kind & kKindMask);
  if (d.kind & (kPacked4 | kBinary6)) {
    IpAddr a;
    uint16_t port;
    uint8_t proto;
    addr_of(d, packed, a, port, proto);
    return known_ && known_(kind, a, port, proto, {});  // infrastructure filtered on entry
  }
  std::string_view name = key_bytes(d);
  if (known_ && known_(kind, IpAddr{}, 0, 0, name)) return true;
  if (kind == DestKind::AddrPort) return false;
  for (const auto& a : cfg_.allow_domains) {
    if (name == a) return true;
    if (name.size() > a.size() && name.ends_with(a) && name[name.size() - a.size() - 1] == '.') return true;
  }
  return false;
}

std::string Discovery::dest_text(const Dest& d, uint64_t packed) const {
  if (!(d.kind & (kPacked4 | kBinary6))) return std::string(key_bytes(d));
  IpAddr a;
  uint16_t port;
  uint8_t proto;
  addr_of(d, packed, a, port, proto);
  return flow_dest(a, port, proto);
}

size_t Discovery::memory_bytes() const {
  return hosts4_.memory_bytes() + table_bytes(hosts_other_) + other_addrs_.capacity() * sizeof(IpAddr) +
         table_bytes(suspected_) + dests_.capacity() * sizeof(Dest) + free_.capacity() * sizeof(uint32_t) +
         packed4_.memory_bytes() + by_bytes_.memory_bytes() + arena_.capacity() + contacts_.memory_bytes();
}

double Discovery::log_hypergeom_tail(uint32_t N, uint32_t K, uint32_t n, uint32_t k) {
  auto lchoose = [](double a, double b) { return std::lgamma(a + 1) - std::lgamma(b + 1) - std::lgamma(a - b + 1); };
  uint32_t hi = std::min(n, K);
  if (k > hi) return -INFINITY;
  uint32_t lo = n > N - K ? n - (N - K) : 0;
  if (k <= lo) return 0.0;
  double denom = lchoose(N, n);
  double mx = -INFINITY;
  std::vector<double> terms;
  terms.reserve(hi - k + 1);
  for (uint32_t i = k; i <= hi; ++i) {
    double t = lchoose(K, i) + lchoose(N - K, n - i) - denom;
    terms.push_back(t);
    mx = std::max(mx, t);
  }
  double s = 0;
  for (double t : terms) s += std::exp(t - mx);
  return std::min(0.0, mx + std::log(s));
}

std::vector<Candidate> Discovery::candidates(size_t max) {
  merge();
  const uint32_t N = static_cast<uint32_t>(hosts());
  const uint32_t K = static_cast<uint32_t>(suspected_.size());
  std::vector<Candidate> tested;
  if (N == 0 || K == 0) return tested;
  // k per destination, from the sorted contacts; a bitmap in front of the suspected set.
  constexpr int kFilterBits = 20;
  auto slot = [](uint32_t h) {
    return static_cast<uint32_t>((uint64_t{h} * 0x9e3779b97f4a7c15ull) >> (64 - kFilterBits));
  };
  std::vector<uint64_t> filter(size_t{1} << (kFilterBits - 6), 0);
  for (uint32_t h : suspected_) filter[slot(h) >> 6] |= uint64_t{1} << (slot(h) & 63);
  std::vector<uint32_t> k(dests_.size(), 0);
  std::vector<uint64_t> sus;  // suspected contacts, ascending (destination, host)
  contacts_.for_each([&](uint64_t key) {
    uint32_t h = static_cast<uint32_t>(key);
    uint32_t s = slot(h);
    if (!(filter[s >> 6] >> (s & 63) & 1) || !suspected_.contains(h)) return;
    ++k[key >> 32];
    sus.push_back(key);
  });
  // Destinations that may be candidates: enough suspected hosts, not popular.
  std::vector<uint32_t> eligible;
  bool want_packed = false;
  for (uint32_t id = 0; id < dests_.size(); ++id) {
    const Dest& d = dests_[id];
    if (d.flags & kFree) continue;
    uint32_t clean = d.n - k[id];
    bool popular = static_cast<double>(clean) > cfg_.max_popularity * (N - K) && clean >= cfg_.min_suspected;
    if (k[id] < cfg_.min_suspected || popular) continue;
    eligible.push_back(id);
    want_packed |= (d.kind & kPacked4) != 0;
  }
  absl::flat_hash_map<uint32_t, uint64_t> packed;  // id -> packed4_ key, for the eligible ones
  if (want_packed) {
    absl::flat_hash_set<uint32_t> need;
    for (uint32_t id : eligible)
      if (dests_[id].kind & kPacked4) need.insert(id);
    packed4_.for_each([&](const PackedSlot& s) {
      if (need.contains(s.id)) packed.emplace(s.id, s.key());
    });
  }
  for (uint32_t id : eligible) {
    const Dest& d = dests_[id];
    uint64_t pk = 0;
    if (d.kind & kPacked4) pk = packed.at(id);
    if (excluded(d, pk)) continue;
    Candidate c;
    c.kind = static_cast<DestKind>(d.kind & kKindMask);
    c.dest = dest_text(d, pk);
    c.hosts = d.n;
    c.suspected_hosts = k[id];
    c.population = N;
    c.suspected_population = K;
    c.first = abs_time(d.first);
    c.last = abs_time(d.last);
    c.p_value = std::exp(log_hypergeom_tail(N, K, c.hosts, c.suspected_hosts));
    auto from = std::lower_bound(sus.begin(), sus.end(), uint64_t{id} << 32);
    for (auto it = from; it != sus.end() && (*it >> 32) == id && c.example_hosts.size() < 5; ++it)
      c.example_hosts.push_back(host_addr(static_cast<uint32_t>(*it)));
    c.enrichment = c.hosts ? (static_cast<double>(c.suspected_hosts) / c.hosts) / (static_cast<double>(K) / N) : 0;
    tested.push_back(std::move(c));
  }
  // Benjamini-Hochberg over all m destinations tested: the ones above, every
  // other destination (p = 1: they sort last and leave these q-values as they
  // are) and the evicted ones.
  std::sort(tested.begin(), tested.end(), [](const Candidate& a, const Candidate& b) {
    if (a.p_value != b.p_value) return a.p_value < b.p_value;
    if (a.suspected_hosts != b.suspected_hosts) return a.suspected_hosts > b.suspected_hosts;
    return a.dest < b.dest;
  });
  const double m = static_cast<double>(live_dests_ + evicted_dests_);
  double running = 1.0;
  for (size_t i = tested.size(); i-- > 0;) {
    running = std::min(running, tested[i].p_value * m / static_cast<double>(i + 1));
    tested[i].q_value = running;
  }
  std::vector<Candidate> out;
  for (auto& c : tested) {
    if (c.q_value > cfg_.fdr || out.size() >= max) break;
    c.explanation = fmt::format(
        "{} ({}) was contacted by {} of the {} suspected-infected hosts but by only {} of all {} hosts; "
        "{:.0f}x more than chance, p={:.2g}, q={:.2g}: behaves like a command-and-control server nobody has listed",
        c.dest, dest_kind_name(c.kind), c.suspected_hosts, K, c.hosts, N, c.enrichment, c.p_value, c.q_value);
    out.push_back(std::move(c));
  }
  return out;
}

void candidate_findings(const std::vector<Candidate>& cands, FindingSink& sink) {
  for (const auto& c : cands) {
    Finding f;
    f.type = std::string(finding_type::kC2Candidate);
    if (c.kind == DestKind::AddrPort) {
      std::string a = c.dest.substr(0, c.dest.rfind(':'));
      if (!a.empty() && a.front() == '[') a = a.substr(1, a.size() - 2);
      if (auto ip = IpAddr::parse(a)) f.host = *ip;
    }
    f.first = c.first;
    f.last = c.last;
    f.indicator = c.dest;
    f.feed = "c2-discovery";
    f.category = "c2";
    f.events = c.suspected_hosts;
    double conf = 50 + std::min(45.0, -std::log10(std::max(c.q_value, 1e-300)) * 5);
    f.confidence = static_cast<uint8_t>(conf);
    f.explanation = c.explanation;
    f.details = {{"kind", std::string(dest_kind_name(c.kind))},
                 {"suspected_hosts", std::to_string(c.suspected_hosts)},
                 {"hosts", std::to_string(c.hosts)},
                 {"p_value", fmt::format("{:.3g}", c.p_value)},
                 {"q_value", fmt::format("{:.3g}", c.q_value)}};
    sink.on_finding(f);
  }
}

}  // namespace omamori::c2
