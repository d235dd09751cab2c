// Session index benchmark (src/attribution): build an index of N sessions
// (default 10 million: IPv4 addresses reused over time, a share of IPv6
// sessions with a /64 and a delegated /56), then measure lookups per second
// on one core (hits and misses mixed), memory per session (the index's own
// accounting and the RSS delta), a naive std::map baseline, and optionally
// the time to load the same sessions from sessions.db (--store DIR).
//
//   attribution_bench [--sessions N] [--addresses N] [--v6-share F] [--lookups N] [--no-baseline] [--store DIR]
//
// Not a test: nothing asserts a timing.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "attribution/session_index.hpp"
#include "attribution/store.hpp"

using namespace omamori;

namespace {

size_t rss_bytes() {
  std::ifstream in("/proc/self/statm");
  size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// CPU seconds of this thread: per-core figures even when other work shares the machine.
double thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + ts.tv_nsec / 1e9;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

struct Config {
  size_t sessions = 10'000'000;
  size_t addresses = 3'000'000;
  double v6_share = 0.2;
  size_t lookups = 20'000'000;
  bool baseline = true;
  std::string store;
};

struct Query {
  IpAddr addr;
  TimeMs t;
};

constexpr TimeMs kEpoch = 1'700'000'000'000;

// Sessions of one address follow each other with gaps: durations of 10 min
// to 3 days, gaps of 0 to 2 h. Session i takes address i % addresses, so each
// address is reused sessions/addresses times.
struct Generator {
  explicit Generator(const Config& c) : cfg(c), next_start(c.addresses, kEpoch), rng(7) {}

  const Config& cfg;
  std::vector<TimeMs> next_start;
  std::mt19937_64 rng;

  IpAddr v4(size_t a) const { return IpAddr::v4(0x64400000u + static_cast<uint32_t>(a)); }  // 100.64.0.0/10 +
  Prefix v6_64(size_t a) const {
    uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
    uint64_t x = a;
    for (int i = 0; i < 4; ++i) b[4 + i] = static_cast<uint8_t>(x >> (24 - 8 * i));
    return Prefix(IpAddr::v6_bytes(b), 64);
  }
  Prefix v6_56(size_t a) const {
    uint8_t b[16] = {0x24, 0x00};
    uint64_t x = a;
    for (int i = 0; i < 4; ++i) b[2 + i] = static_cast<uint8_t>(x >> (24 - 8 * i));
    return Prefix(IpAddr::v6_bytes(b), 56);
  }
  bool is_v6(size_t a) const { return static_cast<double>(a % 1000) < cfg.v6_share * 1000; }

  void make(size_t i, SessionRow& r) {
    size_t a = i % cfg.addresses;
    TimeMs start = next_start[a] + static_cast<TimeMs>(rng() % 7'200'000);
    TimeMs end = start + 600'000 + static_cast<TimeMs>(rng() % 259'200'000);
    next_start[a] = end;
    r.nas = IpAddr::v4(0xC0000200u + static_cast<uint32_t>(a % 200));
    char sub[24], sid[24];
    auto sl = fmt::format_to_n(sub, sizeof sub, "sub{:07}", (a * 7 + i / cfg.addresses) % (cfg.addresses * 5 / 6 + 1));
    auto il = fmt::format_to_n(sid, sizeof sid, "{:016x}", i * 0x9E3779B97F4A7C15ull);
    r.subscriber.assign(sub, sl.size);
    r.session_id.assign(sid, il.size);
    r.start = start;
    r.end = i + cfg.addresses >= cfg.sessions ? 0 : end;  // each address's last session is open
    r.last_seen = start;
    if (is_v6(a)) {
      r.framed_ip = IpAddr();
      r.framed_v6 = v6_64(a);
      r.delegated = v6_56(a);
    } else {
      r.framed_ip = v4(a);
      r.framed_v6.reset();
      r.delegated.reset();
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--sessions") cfg.sessions = std::stoull(next());
    else if (a == "--addresses") cfg.addresses = std::stoull(next());
    else if (a == "--v6-share") cfg.v6_share = std::stod(next());
    else if (a == "--lookups") cfg.lookups = std::stoull(next());
    else if (a == "--no-baseline") cfg.baseline = false;
    else if (a == "--store") cfg.store = next();
    else {
      fmt::print(stderr, "usage: attribution_bench [--sessions N] [--addresses N] [--v6-share F] [--lookups N] "
                         "[--no-baseline] [--store DIR]\n");
      return 2;
    }
  }
  cfg.addresses = std::min(cfg.addresses, cfg.sessions);
  fmt::print("sessions {}, addresses {} (each reused ~{:.1f} times), IPv6 share {:.0f}%\n", cfg.sessions,
             cfg.addresses, double(cfg.sessions) / cfg.addresses, cfg.v6_share * 100);

  // ---- build
  size_t rss0 = rss_bytes();
  Generator gen(cfg);
  auto t = std::chrono::steady_clock::now();
  IndexBuilder b;
  SessionRow r;
  // Keep the query material: one known session (address, a time inside) per 1000.
  std::vector<Query> known;
  for (size_t i = 0; i < cfg.sessions; ++i) {
    gen.make(i, r);
    b.add(r);
    if (i % 97 == 0) {
      TimeMs end = r.end ? r.end : r.start + 3'600'000;
      IpAddr a = r.framed_ip.empty() ? r.framed_v6->addr() : r.framed_ip;
      if (r.delegated && i % 2) {
        a = r.delegated->addr();
        a.bytes()[15] = 1;
        a.bytes()[8] = 0x42;  // inside the /56, outside the /64
      } else if (r.framed_v6) {
        a.bytes()[15] = 7;
      }
      known.push_back({a, r.start + (end - r.start) / 2});
    }
  }
  double add_s = seconds_since(t);
  t = std::chrono::steady_clock::now();
  auto idx = b.build();
  double build_s = seconds_since(t);
  std::vector<TimeMs>().swap(gen.next_start);
  size_t rss1 = rss_bytes();
  size_t own = idx->memory_bytes();
  std::fflush(stdout);
  fmt::print("build: add {:.2f} s, build {:.2f} s; {} sessions, {} subscribers, {} addresses/prefixes, {} pieces\n",
             add_s, build_s, idx->sessions(), idx->subscribers(), idx->keys(), idx->pieces());
  fmt::print("memory: index {:.1f} MB = {:.1f} bytes/session (own accounting); RSS delta {:.1f} MB = {:.1f} "
             "bytes/session (includes the benchmark's query table)\n",
             own / 1e6, double(own) / cfg.sessions, (rss1 - rss0) / 1e6, double(rss1 - rss0) / cfg.sessions);

  // ---- queries: half hits (inside a known session), half misses (unknown address or a time before any session)
  std::mt19937_64 rng(11);
  std::vector<Query> q(cfg.lookups);
  for (size_t i = 0; i < q.size(); ++i) {
    if (i % 2 == 0) {
      q[i] = known[rng() % known.size()];
    } else if (i % 4 == 1) {
      q[i] = {IpAddr::v4(0x0A000000u + static_cast<uint32_t>(rng() % 50'000'000)), kEpoch + 3'600'000};
    } else {
      q[i] = known[rng() % known.size()];
      q[i].t = kEpoch - 1'000;
    }
  }
  std::vector<uint32_t> v4q;  // IPv4 addresses only, for the fast path
  std::vector<TimeMs> v4t;
  for (const auto& x : q)
    if (x.addr.is_v4()) v4q.push_back(x.addr.v4_host_order()), v4t.push_back(x.t);

  auto run = [&](const char* name, size_t n, auto&& fn) {
    auto s = std::chrono::steady_clock::now();
    double c0 = thread_cpu();
    uint64_t hits = fn();
    double cpu = thread_cpu() - c0;
    double sec = seconds_since(s);
    fmt::print("{:<50} {:>6.2f} M lookups/s per CPU second ({:.0f} ns each), {:.2f} M/s wall; {} lookups, {:.1f}% hits\n",
               name, n / cpu / 1e6, cpu * 1e9 / n, n / sec / 1e6, n, 100.0 * hits / n);
    std::fflush(stdout);
    return n / cpu;
  };
  run("lookup(addr, t) -> AttributionRef (IPv4+IPv6)", q.size(), [&] {
    uint64_t hits = 0;
    AttributionRef ref;
    for (const auto& x : q) hits += idx->lookup(x.addr, x.t, ref) ? ref.subscriber.size() > 0 : 0;
    return hits;
  });
  run("find(addr, t) -> session number (IPv4+IPv6)", q.size(), [&] {
    uint64_t hits = 0;
    for (const auto& x : q) hits += idx->find(x.addr, x.t) != SessionIndex::kNone;
    return hits;
  });
  run("find_v4(addr, t) (IPv4 queries only)", v4q.size(), [&] {
    uint64_t hits = 0;
    for (size_t i = 0; i < v4q.size(); ++i) hits += idx->find_v4(v4q[i], v4t[i]) != SessionIndex::kNone;
    return hits;
  });
  run("find_v4 batched, prefetch 8 ahead (IPv4 only)", v4q.size(), [&] {
    uint64_t hits = 0;
    size_t n = v4q.size();
    for (size_t i = 0; i < n; ++i) {
      if (i + 8 < n) idx->prefetch_v4(v4q[i + 8]);
      hits += idx->find_v4(v4q[i], v4t[i]) != SessionIndex::kNone;
    }
    return hits;
  });

  // ---- naive baseline: std::map keyed by (address, start) for the IPv4 sessions
  if (cfg.baseline) {
    size_t m0 = rss_bytes();
    std::map<std::pair<uint32_t, TimeMs>, std::pair<TimeMs, uint32_t>> m;
    Generator g2(cfg);
    auto bt = std::chrono::steady_clock::now();
    for (size_t i = 0; i < cfg.sessions; ++i) {
      g2.make(i, r);
      if (!r.framed_ip.empty())
        m.emplace(std::pair{r.framed_ip.v4_host_order(), r.start},
                  std::pair{r.end ? r.end : INT64_MAX, static_cast<uint32_t>(i)});
    }
    double mb = seconds_since(bt);
    size_t m1 = rss_bytes();
    fmt::print("baseline std::map: build {:.2f} s, {:.1f} bytes/IPv4 session (RSS delta, no strings)\n", mb,
               double(m1 - m0) / std::max<size_t>(1, m.size()));
    run("baseline std::map upper_bound (IPv4 only)", v4q.size(), [&] {
      uint64_t hits = 0;
      for (size_t i = 0; i < v4q.size(); ++i) {
        auto it = m.upper_bound({v4q[i], v4t[i]});
        if (it == m.begin()) continue;
        --it;
        hits += it->first.first == v4q[i] && v4t[i] < it->second.first;
      }
      return hits;
    });
  }

  // ---- persistence: write the sessions to sessions.db, then load them into a new index
  if (!cfg.store.empty()) {
    namespace fs = std::filesystem;
    fs::create_directories(cfg.store);
    std::string path = cfg.store + "/sessions.db";
    fs::remove(path);
    fs::remove(path + "-wal");
    fs::remove(path + "-shm");
    {
      SessionStore st(path);
      Generator g3(cfg);
      auto wt = std::chrono::steady_clock::now();
      double wc = thread_cpu();
      st.begin();
      for (size_t i = 0; i < cfg.sessions; ++i) {
        g3.make(i, r);
        st.put(r);
        if (i % 200000 == 199999) {
          st.commit();
          st.begin();
        }
      }
      st.commit();
      fmt::print("store: wrote {} sessions in {:.1f} s wall, {:.1f} s CPU ({:.0f} MB on disk)\n", cfg.sessions,
                 seconds_since(wt), thread_cpu() - wc, fs::file_size(path) / 1e6);
      std::fflush(stdout);
    }
    idx.reset();
    SessionStore st(path, true);
    auto lt = std::chrono::steady_clock::now();
    double lc = thread_cpu();
    auto loaded = st.load_index({});
    fmt::print("store: loaded {} sessions into a new index in {:.1f} s wall, {:.1f} s CPU\n", loaded->sessions(),
               seconds_since(lt), thread_cpu() - lc);
  }
  return 0;
}
