#include "simulate/isp.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace omamori::sim {

namespace {

const std::vector<std::string> kSurnames = {"sato",     "suzuki",   "takahashi", "tanaka", "watanabe", "ito",
                                            "yamamoto", "nakamura", "kobayashi", "kato",   "yoshida",  "yamada",
                                            "sasaki",   "yamaguchi", "matsumoto", "inoue", "kimura",   "hayashi",
                                            "shimizu",  "mori",     "abe",       "ikeda",  "hashimoto", "ishikawa"};
const std::vector<std::string> kGiven = {"haruto", "yui",   "sota",  "hina",   "ren",    "aoi",   "yuto",  "mei",
                                         "riku",   "sakura", "kaito", "yuna",  "hiroshi", "keiko", "takeshi", "yoko",
                                         "minoru", "akiko", "kenji", "naomi",  "daiki",  "emi",   "shota", "rin"};
const std::vector<std::string> kEnglish = {"alex", "sam", "chris", "jordan", "taylor", "morgan", "jamie", "robin"};
const std::vector<std::string> kEnglishSur = {"smith", "brown", "wilson", "clark", "evans", "hughes", "walker"};
const std::vector<std::string> kCompanies = {"tanaka-seisakusho", "minato-clinic", "kawaguchi-kogyo", "hikari-design",
                                             "sakura-dental",     "aozora-shoten", "nishi-logistics", "kita-farm"};

struct Interval {
  size_t sub;
  int64_t start, end;
  SessionEnd kind;
  std::string cause;
};

std::string hex_id(Rng& r, int words) {
  std::string s;
  for (int i = 0; i < words; ++i) s += fmt::format("{:08X}", static_cast<uint32_t>(r.next()));
  return s;
}

// Addresses of a pool: IPv4 hosts .2-.254 of each /24 (.1 is the gateway),
// IPv6 the /56s of the prefix.
std::vector<IpAddr> pool_v4(const Prefix& p) {
  std::vector<IpAddr> out;
  uint32_t base = p.addr().v4_host_order();
  uint32_t n = 1u << (32 - p.len());
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t last = (base + i) & 0xff;
    if (last == 0 || last == 1 || last == 255) continue;
    out.push_back(IpAddr::v4(base + i));
  }
  return out;
}

std::vector<Prefix> pool_v6(const Prefix& p) {
  std::vector<Prefix> out;
  uint64_t hi = p.addr().hi();
  uint64_t n = 1ull << (56 - p.len());
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t h = hi | (i << 8);
    uint8_t b[16] = {};
    for (int k = 0; k < 8; ++k) b[k] = static_cast<uint8_t>(h >> (56 - 8 * k));
    out.emplace_back(IpAddr::v6_bytes(b), 56);
  }
  return out;
}

// Removes and returns a random element (order of the rest is not kept).
template <typename T>
T take_random(std::vector<T>& v, Rng& r) {
  size_t k = r.below(v.size());
  T x = v[k];
  v[k] = v.back();
  v.pop_back();
  return x;
}

Prefix must_prefix(const char* s) {
  auto p = Prefix::parse(s);
  if (!p) throw std::logic_error(std::string("bad prefix in the address plan: ") + s);
  return *p;
}

void make_subscribers(Isp& isp, Rng& r) {
  size_t n = isp.cfg.subscribers;
  size_t business = std::max<size_t>(4, n / 30);
  uint32_t number = 1000;
  Prefix biz = must_prefix(plan::kBusiness);
  uint32_t biz_base = biz.addr().v4_host_order();
  for (size_t i = 0; i < n; ++i) {
    Subscriber s;
    number += static_cast<uint32_t>(r.range(1, 37));
    s.id = fmt::format("K{:07d}", number);
    s.business = i % (n / business) == 0 && i / (n / business) < business;
    bool english = r.chance(100);
    s.language = english ? "en" : "ja";
    if (s.business) {
      const std::string& c = kCompanies[(i / (n / business)) % kCompanies.size()];
      s.email = fmt::format("it.{}{}@example.{}", c, i / (n / business) / kCompanies.size() + 1,
                            english ? "com" : "jp");
      s.service = "business-static";
      s.static_addr = IpAddr::v4(biz_base + 2 + static_cast<uint32_t>(i / (n / business)) * 7 +
                                 static_cast<uint32_t>(r.range(0, 6)));
      s.nas = 0;
      s.ipv6 = r.chance(500);
    } else {
      const std::string& given = r.pick(english ? kEnglish : kGiven);
      const std::string& family = r.pick(english ? kEnglishSur : kSurnames);
      std::string local = given + "." + family;
      s.email = fmt::format("{}.{}@example.{}", local, number, english ? "com" : "jp");
      s.service = r.chance(650) ? "fiber-home" : "fiber-mansion";
      s.nas = static_cast<int>(r.below(2));
      s.ipv6 = r.chance(650);
    }
    uint64_t t = r.below(1000);
    s.terms_version = t < 100 ? "2016-04" : t < 500 ? "2019-10" : "2024-04";
    // The 2016 terms predate the warning clause; a few subscribers opted out.
    s.warnings_allowed = s.terms_version != "2016-04" && !r.chance(30);
    uint64_t m = r.next();
    s.mac = fmt::format("02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m & 0xff, (m >> 8) & 0xff, (m >> 16) & 0xff,
                        (m >> 24) & 0xff, (m >> 32) & 0xff);
    s.iid = r.next() | 1;
    isp.subs.push_back(std::move(s));
  }
}

// Online intervals of one subscriber (addresses come later).
void intervals_of(const Isp& isp, size_t sub, Rng& r, std::vector<Interval>& out) {
  const Subscriber& s = isp.subs[sub];
  const int64_t start = isp.cfg.start, end = isp.cfg.end;
  if (s.business) {
    int64_t since = start - r.range(5 * 24, 30 * 24) * kHour;
    since -= r.range(0, 3599) * kSecond;
    out.push_back({sub, since, end, SessionEnd::Open, ""});
    return;
  }
  int64_t t = r.chance(920) ? start - r.range(1 * kHour / kSecond, 72 * kHour / kSecond) * kSecond
                            : start + r.range(0, (end - start) / 2 / kSecond) * kSecond;
  bool daily = r.chance(300);
  while (t < end) {
    int64_t dur = daily ? 24 * kHour : std::max<int64_t>(10 * kMinute, r.wait(30 * kHour / kSecond) * kSecond);
    int64_t e = t + dur;
    Interval iv{sub, t, e, SessionEnd::Stop, ""};
    int64_t gap = 0;
    if (daily) {
      iv.cause = "Session-Timeout";
      gap = r.range(2, 15) * kSecond;
    } else {
      uint64_t c = r.below(100);
      if (c < 50) {
        iv.cause = "User-Request";
        gap = r.range(20, 180) * kSecond;
      } else if (c < 85) {
        iv.cause = "Lost-Carrier";
        gap = r.range(60, 90 * 60) * kSecond;
      } else {
        iv.cause = "Idle-Timeout";
        gap = r.range(5 * 60, 3 * 3600) * kSecond;
      }
    }
    for (const auto& rb : isp.reboots) {
      if (rb.nas == s.nas && t < rb.at && e >= rb.at) {
        iv.end = e = rb.at;
        iv.kind = SessionEnd::NasReboot;
        iv.cause = "NAS-Reboot";
        gap = r.range(40, 400) * kSecond;
      }
    }
    if (e >= end) {
      iv.end = end;
      iv.kind = SessionEnd::Open;
      iv.cause.clear();
    } else if (iv.kind == SessionEnd::Stop && r.chance(20)) {
      iv.kind = SessionEnd::LostStop;
    }
    if (iv.end > start) out.push_back(iv);
    t = e + gap;
  }
}

}  // namespace

Isp build_isp(const IspConfig& cfg) {
  if (cfg.end <= cfg.start) throw std::invalid_argument("the simulated window is empty");
  // Two /24 pools: more subscribers would exhaust them.
  if (cfg.subscribers < 40 || cfg.subscribers > 500)
    throw std::invalid_argument("the simulated ISP has 40 to 500 subscribers");
  Isp isp;
  isp.cfg = cfg;
  for (int i = 0; i < 2; ++i)
    isp.nas.push_back(Nas{fmt::format("bng{}", i + 1), *IpAddr::parse(plan::kNasAddr[i]),
                          must_prefix(plan::kNasPool4[i]), must_prefix(plan::kNasPool6[i])});
  Rng rs(cfg.seed, "subscribers");
  make_subscribers(isp, rs);
  // The second NAS reboots a little after the middle of the window.
  int64_t window = cfg.end - cfg.start;
  isp.reboots.push_back({1, cfg.start + (window * 55 / 100) / kSecond * kSecond + Rng(cfg.seed, "reboot").range(0, 599) * kSecond});

  Rng ri(cfg.seed, "sessions");
  std::vector<Interval> ivs;
  for (size_t i = 0; i < isp.subs.size(); ++i) intervals_of(isp, i, ri, ivs);
  std::stable_sort(ivs.begin(), ivs.end(), [](const Interval& a, const Interval& b) { return a.start < b.start; });

  // Allocation: addresses return to the pool when a session really ends and
  // are handed out at random, so they pass between subscribers.
  struct PoolState {
    std::vector<IpAddr> free4;
    std::vector<Prefix> free6;
  };
  std::vector<PoolState> pools;
  for (const auto& n : isp.nas) pools.push_back({pool_v4(n.pool4), pool_v6(n.pool6)});
  std::vector<size_t> busy;  // indices into isp.sessions still holding their addresses
  Rng ra(cfg.seed, "allocation");
  for (const auto& iv : ivs) {
    // Release what ended by now, oldest first (a deterministic order).
    std::vector<size_t> still;
    std::vector<std::pair<int64_t, size_t>> done;
    for (size_t b : busy) {
      if (isp.sessions[b].end <= iv.start)
        done.emplace_back(isp.sessions[b].end, b);
      else
        still.push_back(b);
    }
    std::sort(done.begin(), done.end());
    for (auto [e, b] : done) {
      const Session& old = isp.sessions[b];
      if (!isp.subs[old.sub].business) pools[old.nas].free4.push_back(old.v4);
      if (old.v6.len()) pools[old.nas].free6.push_back(old.v6);
    }
    busy.swap(still);

    const Subscriber& s = isp.subs[iv.sub];
    Session ss;
    ss.sub = iv.sub;
    ss.nas = s.nas;
    ss.start = iv.start;
    ss.end = iv.end;
    ss.end_kind = iv.kind;
    ss.terminate_cause = iv.cause;
    ss.session_id = hex_id(ra, 2);
    ss.unique_id = hex_id(ra, 4);
    auto& pool = pools[s.nas];
    if (s.business) {
      ss.v4 = s.static_addr;
    } else {
      if (pool.free4.empty()) throw std::runtime_error("address pool exhausted: too many subscribers");
      ss.v4 = take_random(pool.free4, ra);
    }
    if (s.ipv6 && !pool.free6.empty()) ss.v6 = take_random(pool.free6, ra);
    ss.out_rate = static_cast<uint64_t>(ra.range(2000, 40000));
    ss.in_rate = ss.out_rate * static_cast<uint64_t>(ra.range(8, 30)) / 100;
    busy.push_back(isp.sessions.size());
    isp.sessions.push_back(std::move(ss));
  }
  return isp;
}

const Session* Isp::session_at(size_t sub, int64_t t) const {
  for (const auto& s : sessions)
    if (s.sub == sub && s.start <= t && t < s.end) return &s;
  return nullptr;
}

std::vector<const Session*> Isp::holders(const IpAddr& a) const {
  std::vector<const Session*> out;
  for (const auto& s : sessions)
    if (s.v4 == a || (s.v6.len() && s.v6.contains(a))) out.push_back(&s);
  return out;
}

IpAddr Isp::v6_host(const Session& s) const {
  IpAddr a = s.v6.addr();
  uint64_t iid = subs[s.sub].iid;
  for (int k = 0; k < 8; ++k) a.bytes()[8 + k] = static_cast<uint8_t>(iid >> (56 - 8 * k));
  return a;
}

}  // namespace omamori::sim
