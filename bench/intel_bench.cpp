// Threat-intelligence matching: lookups per second on one core and memory per
// indicator, for 1 million synthetic domain and 1 million synthetic IPv4
// indicators plus the real Maltrail trails, with hit, miss and mixed queries.
//
//   build/bench/intel_bench --benchmark_counters_tabular=true
//
// Counters: bytes_per_domain / bytes_per_addr are the compiled snapshot's own
// accounting (IntelSnapshot::memory_bytes) divided by the indicator count;
// rss_* are the resident-set growth measured around building the snapshot.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "intel/feeds/feeds.hpp"
#include "intel/match.hpp"

using namespace omamori;
using namespace omamori::intel;

namespace {

constexpr size_t kDomains = 1'000'000;
constexpr size_t kAddrs = 1'000'000;
constexpr size_t kQueries = 1 << 20;

long rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

std::string random_label(std::mt19937_64& rng, int min, int max) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  int len = min + static_cast<int>(rng() % static_cast<uint64_t>(max - min + 1));
  std::string s;
  for (int i = 0; i < len; ++i) s += kChars[rng() % 36];
  return s;
}

const char* kTlds[] = {"com", "net", "org", "info", "ru", "cn", "xyz", "top", "biz", "de"};

// Query strings live in one buffer so the benchmark measures the matcher, not the string heap.
struct Queries {
  std::string buf;
  std::vector<std::pair<uint32_t, uint32_t>> at;
  void add(const std::string& s) {
    at.emplace_back(static_cast<uint32_t>(buf.size()), static_cast<uint32_t>(s.size()));
    buf += s;
  }
  std::string_view operator[](size_t i) const { return {buf.data() + at[i].first, at[i].second}; }
};

struct World {
  std::vector<std::string> domains;
  std::vector<uint32_t> addrs;
  std::shared_ptr<const IntelSnapshot> all, dom_only, addr_only;
  Queries dom_hit, dom_miss, dom_mix;
  std::vector<IpAddr> addr_hit, addr_miss, addr_mix;
  size_t trail_indicators = 0;
  double rss_domain_mb = 0, rss_addr_mb = 0, rss_all_mb = 0;
  size_t domain_text_bytes = 0;

  World() {
    std::mt19937_64 rng(7);
    domains.reserve(kDomains);
    for (size_t i = 0; i < kDomains; ++i) {
      std::string d = random_label(rng, 6, 14) + "." + kTlds[rng() % 10];
      if (rng() % 4 == 0) d = random_label(rng, 3, 8) + "." + d;  // some with three labels
      domain_text_bytes += d.size() + 1;
      domains.push_back(std::move(d));
    }
    addrs.reserve(kAddrs);
    for (size_t i = 0; i < kAddrs; ++i) addrs.push_back(static_cast<uint32_t>(rng()) | 0x01000000u);

    std::vector<Indicator> trails;
    FeedConfig cfg;
    cfg.name = "maltrail";
    for (const char* f : {"conficker.txt", "elf_gafgyt.txt", "elf_hajime.txt", "elf_mirai.txt", "elf_xorddos.txt",
                          "necurs.txt", "ramnit.txt", "sinkhole_conficker.txt"}) {
      std::string text, err;
      if (read_text_file(std::string(OMAMORI_SHARED_DATA) + "/intel/maltrail/" + f, text, err)) {
        auto r = parse_maltrail(text, cfg, f, 1);
        for (auto& i : r.indicators) trails.push_back(std::move(i));
      }
    }
    trail_indicators = trails.size();

    auto build = [&](bool with_domains, bool with_addrs, bool with_trails, double& rss_mb) {
      malloc_trim(0);
      long before = rss_kb();
      std::shared_ptr<const IntelSnapshot> s;
      {
        SnapshotBuilder b;
        Indicator ind;
        ind.feed = "synthetic";
        ind.category = Category::kC2;
        if (with_domains) {
          ind.kind = Kind::kDomain;
          for (const auto& d : domains) {
            ind.value = d;
            b.add(ind);
          }
        }
        if (with_addrs) {
          ind.kind = Kind::kIpv4;
          for (uint32_t a : addrs) {
            ind.value = IpAddr::v4(a).str();
            b.add(ind);
          }
        }
        if (with_trails)
          for (const auto& t : trails) b.add(t);
        s = b.build();
      }
      malloc_trim(0);
      rss_mb = double(rss_kb() - before) / 1024.0;
      return s;
    };
    dom_only = build(true, false, false, rss_domain_mb);
    addr_only = build(false, true, false, rss_addr_mb);
    all = build(true, true, true, rss_all_mb);

    // Queries: hits are listed names, half of them with a subdomain in front (parent match);
    // misses are names of the same shape that are not listed; the mix is 10% hits.
    for (size_t i = 0; i < kQueries; ++i) {
      const std::string& d = domains[rng() % kDomains];
      dom_hit.add(i % 2 ? "www." + d : d);
      std::string miss = random_label(rng, 6, 14) + "." + kTlds[rng() % 10];
      if (i % 2) miss = "www." + miss;
      dom_miss.add(miss);
      dom_mix.add(i % 10 == 0 ? d : miss);
      IpAddr hit = IpAddr::v4(addrs[rng() % kAddrs]);
      IpAddr no = IpAddr::v4(static_cast<uint32_t>(rng()));
      addr_hit.push_back(hit);
      addr_miss.push_back(no);
      addr_mix.push_back(i % 10 == 0 ? hit : no);
    }
  }
};

World& world() {
  static World w;
  return w;
}

void domain_bench(benchmark::State& state, const Queries& q) {
  const IntelSnapshot& s = *world().all;
  size_t i = 0, hits = 0;
  for (auto _ : state) {
    Match m = s.match_domain(q[i++ & (kQueries - 1)]);
    hits += static_cast<bool>(m);
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["hit_rate"] = double(hits) / double(state.iterations());
}

void domain_batch_bench(benchmark::State& state, const Queries& q) {
  const IntelSnapshot& s = *world().all;
  constexpr size_t kBatch = 64;
  std::string_view names[kBatch];
  Match out[kBatch];
  size_t i = 0, hits = 0;
  for (auto _ : state) {
    for (size_t k = 0; k < kBatch; ++k) names[k] = q[i++ & (kQueries - 1)];
    s.match_domains(names, out);
    for (size_t k = 0; k < kBatch; ++k) hits += static_cast<bool>(out[k]);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  state.counters["hit_rate"] = double(hits) / double(state.iterations() * kBatch);
}

// A small indicator set that stays in the caches: the compute cost of one lookup.
void BM_DomainMissSmallSet(benchmark::State& state) {
  static std::shared_ptr<const IntelSnapshot> small = [] {
    SnapshotBuilder b;
    Indicator ind;
    ind.kind = Kind::kDomain;
    ind.feed = "small";
    for (size_t i = 0; i < 1000; ++i) {
      ind.value = world().domains[i];
      b.add(ind);
    }
    return b.build();
  }();
  const Queries& q = world().dom_miss;
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(small->match_domain(q[i++ & 1023]));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void addr_bench(benchmark::State& state, const std::vector<IpAddr>& q, bool with_port) {
  const IntelSnapshot& s = *world().all;
  size_t i = 0, hits = 0;
  for (auto _ : state) {
    const IpAddr& a = q[i++ & (kQueries - 1)];
    Match m = with_port ? s.match_addr_port(a, 23, 6) : s.match_addr(a);
    hits += static_cast<bool>(m);
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["hit_rate"] = double(hits) / double(state.iterations());
}

void BM_DomainHit(benchmark::State& s) {
  domain_bench(s, world().dom_hit);
}
void BM_DomainMiss(benchmark::State& s) {
  domain_bench(s, world().dom_miss);
}
void BM_DomainMix10(benchmark::State& s) {
  domain_bench(s, world().dom_mix);
}
void BM_DomainBatchHit(benchmark::State& s) {
  domain_batch_bench(s, world().dom_hit);
}
void BM_DomainBatchMiss(benchmark::State& s) {
  domain_batch_bench(s, world().dom_miss);
}
void BM_DomainBatchMix10(benchmark::State& s) {
  domain_batch_bench(s, world().dom_mix);
}
void BM_AddrHit(benchmark::State& s) {
  addr_bench(s, world().addr_hit, false);
}
void BM_AddrMiss(benchmark::State& s) {
  addr_bench(s, world().addr_miss, false);
}
void BM_AddrMix10(benchmark::State& s) {
  addr_bench(s, world().addr_mix, false);
}
void BM_AddrPortMix10(benchmark::State& s) {
  addr_bench(s, world().addr_mix, true);
}

void BM_Memory(benchmark::State& state) {
  World& w = world();
  for (auto _ : state) benchmark::DoNotOptimize(w.all->size());
  state.counters["domains"] = double(kDomains);
  state.counters["addrs"] = double(kAddrs);
  state.counters["trail_indicators"] = double(w.trail_indicators);
  state.counters["bytes_per_domain"] = double(w.dom_only->memory_bytes()) / double(w.dom_only->size());
  state.counters["bytes_per_addr"] = double(w.addr_only->memory_bytes()) / double(w.addr_only->size());
  state.counters["domain_feed_text_bytes_per_domain"] = double(w.domain_text_bytes) / double(kDomains);
  state.counters["rss_domains_MB"] = w.rss_domain_mb;
  state.counters["rss_addrs_MB"] = w.rss_addr_mb;
  state.counters["rss_all_MB"] = w.rss_all_mb;
  state.counters["all_snapshot_MB"] = double(w.all->memory_bytes()) / 1048576.0;
}

void BM_BuildTrails(benchmark::State& state) {
  std::vector<Indicator> trails;
  FeedConfig cfg;
  cfg.name = "maltrail";
  std::string text, err;
  read_text_file(std::string(OMAMORI_SHARED_DATA) + "/intel/maltrail/elf_mirai.txt", text, err);
  trails = parse_maltrail(text, cfg, "elf_mirai.txt", 1).indicators;
  for (auto _ : state) {
    SnapshotBuilder b;
    for (const auto& t : trails) b.add(t);
    benchmark::DoNotOptimize(b.build());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * trails.size()));
}

}  // namespace

BENCHMARK(BM_Memory)->Iterations(1);
BENCHMARK(BM_DomainHit);
BENCHMARK(BM_DomainMiss);
BENCHMARK(BM_DomainMix10);
BENCHMARK(BM_DomainBatchHit);
BENCHMARK(BM_DomainBatchMiss);
BENCHMARK(BM_DomainBatchMix10);
BENCHMARK(BM_DomainMissSmallSet);
BENCHMARK(BM_AddrHit);
BENCHMARK(BM_AddrMiss);
BENCHMARK(BM_AddrMix10);
BENCHMARK(BM_AddrPortMix10);
BENCHMARK(BM_BuildTrails)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
