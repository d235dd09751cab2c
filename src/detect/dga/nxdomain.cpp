#include "detect/dga/nxdomain.hpp"

#include <fmt/format.h>
#include <xxhash.h>

#include "detect/table_bytes.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <numeric>

namespace omamori::dga {

namespace {
// Linear counting over a 64-bit bitmap: distinct items, saturating near 266.
double estimate(uint64_t bits) {
  int zeros = 64 - std::popcount(bits);
  if (zeros == 0) return 64.0 * std::log(64.0);
  return -64.0 * std::log(zeros / 64.0);
}

uint32_t name_hash32(std::string_view s) {
  uint32_t h = XXH32(s.data(), s.size(), 0x6e78);
  return h;
}

struct UnionFind {
  std::vector<size_t> p;
  explicit UnionFind(size_t n) : p(n) { std::iota(p.begin(), p.end(), 0); }
  size_t find(size_t x) {
    while (p[x] != x) x = p[x] = p[p[x]];
    return x;
  }
  void join(size_t a, size_t b) {
    a = find(a);
    b = find(b);
    if (a != b) p[std::max(a, b)] = std::min(a, b);  // the root is the lowest index
  }
};
}  // namespace

NxDetector::NxDetector(const Model& model, NxConfig cfg)
    : model_(model), cfg_(cfg), max_hosts_(std::max<size_t>(cfg.memory_limit / bytes_per_host(), 1)) {
  if (cfg_.window_ms < 1000) cfg_.window_ms = 1000;  // window numbers must fit 32 bits
}

size_t NxDetector::memory_bytes() const {
  size_t n = index_.memory_bytes() + chunks_.size() * kChunk * sizeof(Host) + free_.capacity() * sizeof(uint32_t) +
             table_bytes(names_);
  for (const auto& [h, name] : names_) n += string_heap_bytes(name);
  return n;
}

double NxDetector::population_sd() const {
  double v = pop_sq_ - pop_mean_ * pop_mean_;
  return v > 0 ? std::sqrt(v) : 0.0;
}

double NxDetector::threshold(const Host& h) const {
  double base = 0;
  if (pop_windows_ >= 30) base = pop_mean_ + 3 * population_sd();
  if (h.windows > cfg_.warmup_windows) base = std::max(base, static_cast<double>(h.baseline));
  return std::max(static_cast<double>(cfg_.min_distinct), cfg_.factor * base);
}

void NxDetector::close_window(Host& h) {
  if (h.flags & (kWinNx | kWinDga)) return;  // do not learn from anomalies
  double d = estimate(h.win_bits);
  double a = cfg_.baseline_alpha;
  h.baseline = h.windows <= 1 ? static_cast<float>(d) : static_cast<float>((1 - a) * h.baseline + a * d);
  // The population: an EWMA over every host-window with NX answers.
  constexpr double kPopAlpha = 0.01;
  if (pop_windows_ == 0) {
    pop_mean_ = d;
    pop_sq_ = d * d;
  } else {
    pop_mean_ = (1 - kPopAlpha) * pop_mean_ + kPopAlpha * d;
    pop_sq_ = (1 - kPopAlpha) * pop_sq_ + kPopAlpha * d * d;
  }
  ++pop_windows_;
}

void NxDetector::evict_idle(uint32_t window) {
  last_sweep_window_ = window;
  uint32_t idle_windows = static_cast<uint32_t>(std::max<TimeMs>(cfg_.idle_ms / cfg_.window_ms, 1));
  index_.rebuild_if([&](const Slot& s) {
    const Host& h = at(s.id);
    bool idle = !(h.flags & (kFlagNx | kFlagDga)) && h.win_index + idle_windows < window;
    if (!idle) return true;
    counters_.add("nxdomain: idle host evicted");
    free_.push_back(s.id);
    return false;
  });
}

NxDetector::Host* NxDetector::host(const IpAddr& a, uint32_t window) {
  Slot key;
  std::memcpy(&key.a, a.bytes(), 8);
  std::memcpy(&key.b, a.bytes() + 8, 8);
  const uint64_t h = key.pos_hash();
  auto same = [&](const Slot& s) { return ((s.a ^ key.a) | (s.b ^ key.b)) == 0; };
  if (const Slot* s = index_.find(h, same)) return &at(s->id);
  if (index_.size() >= max_hosts_) {
    if (window != last_sweep_window_) evict_idle(window);
    if (index_.size() >= max_hosts_) {
      counters_.add("nxdomain: host table full, host not tracked");
      return nullptr;
    }
  }
  if (!free_.empty()) {
    key.id = free_.back();
    free_.pop_back();
  } else {
    key.id = next_id_++;
    if (key.id / kChunk >= chunks_.size()) chunks_.push_back(std::make_unique<Host[]>(kChunk));
  }
  index_.insert(key);
  Host& rec = at(key.id);
  rec = Host{};
  return &rec;
}

void NxDetector::on_dns(const DnsObservation& o) {
  if (!o.is_response || o.rcode != 3) return;
  ++nx_responses_;
  auto p = splitter_.split(o.qname);
  if (p.skip == Skip::kReverse) {
    counters_.add("nxdomain: reverse-lookup name (not counted)");
    return;
  }
  if (p.skip == Skip::kEmpty || p.skip == Skip::kTooLong) {
    counters_.add("nxdomain: unusable name");
    return;
  }
  uint32_t window = o.time > 0 ? static_cast<uint32_t>(o.time / cfg_.window_ms) : 0;
  Host* h = host(o.client, window);
  if (!h) return;
  if (h->windows == 0 || window > h->win_index) {
    if (h->windows != 0) close_window(*h);
    h->win_index = window;
    h->win_first = o.time;
    h->win_bits = h->dga_bits = 0;
    h->win_nx = h->win_dga = 0;
    h->flags &= static_cast<uint8_t>(~(kWinNx | kWinDga));
    if (h->windows < UINT16_MAX) ++h->windows;
  }
  // Older answers (out of order) count in the current window.
  h->win_bits |= 1ull << (XXH3_64bits(p.name.data(), p.name.size()) & 63);
  if (h->win_nx < UINT16_MAX) ++h->win_nx;
  if (h->nx_total < UINT32_MAX) ++h->nx_total;
  if (h->flags & kWinNx) ++h->alert_nx;

  bool scored = p.skip == Skip::kNone && (!cfg_.require_public_suffix || !p.rd.empty());
  if (scored) {
    Features f;
    model_.features(p.label, p.suffix, f);
    if (model_.decision(f) >= 0) {
      ++dga_scored_;
      std::string_view rd = p.rd.empty() ? p.name : p.rd;
      uint32_t rh = name_hash32(rd);
      h->dga_bits |= 1ull << (rh & 63);
      if (h->win_dga < UINT16_MAX) ++h->win_dga;
      if (h->flags & kWinDga) ++h->alert_dga;
      // Bottom-k sketch of the host's DGA-scored NX names.
      uint8_t n = h->sketch_n;
      bool present = std::find(h->sketch, h->sketch + n, rh) != h->sketch + n;
      if (!present && (n < kSketch || rh < h->sketch[kSketch - 1])) {
        if (n == kSketch) --n;
        size_t pos = static_cast<size_t>(std::lower_bound(h->sketch, h->sketch + n, rh) - h->sketch);
        std::copy_backward(h->sketch + pos, h->sketch + n, h->sketch + n + 1);
        h->sketch[pos] = rh;
        h->sketch_n = static_cast<uint8_t>(n + 1);
        if (names_.size() < cfg_.max_example_names || names_.contains(rh))
          names_.try_emplace(rh, rd);
        else
          counters_.add("nxdomain: example name not kept (max_example_names)");
      }
    }
  }
  check(*h, o.time);
}

void NxDetector::check(Host& h, TimeMs t) {
  double d = estimate(h.win_bits);
  if (!(h.flags & kWinNx) && d >= threshold(h)) {
    h.flags |= kWinNx | kFlagNx;
    h.alert_nx += h.win_nx;
  }
  if (!(h.flags & kWinDga)) {
    double dd = estimate(h.dga_bits);
    if (dd >= cfg_.dga_min_distinct - 0.5 && dd >= cfg_.dga_min_fraction * d) {
      h.flags |= kWinDga | kFlagDga;
      h.alert_dga += h.win_dga;
    }
  }
  if (h.flags & (kWinNx | kWinDga)) {
    if (h.alert_first == 0 || h.win_first < h.alert_first) h.alert_first = h.win_first;
    h.alert_last = std::max(h.alert_last, t);
    if (h.flags & kWinNx) h.peak_distinct = std::max<uint16_t>(h.peak_distinct, static_cast<uint16_t>(d + 0.5));
  }
}

void NxDetector::host_findings(const IpAddr& a, const Host& h, const std::string& family, size_t group_size,
                               std::vector<Finding>& out) const {
  std::string host = a.str();
  std::vector<std::string> examples;
  for (int i = 0; i < h.sketch_n && examples.size() < cfg_.examples_per_finding; ++i) {
    auto it = names_.find(h.sketch[i]);
    if (it != names_.end()) examples.push_back(it->second);
  }
  std::string ex = fmt::format("{}", fmt::join(examples, ", "));
  double window_s = cfg_.window_ms / 1000.0;
  if (h.flags & kFlagDga) {
    // Distinct DGA-scored names: exact below the sketch size, else the bottom-k estimate.
    double distinct = h.sketch_n < kSketch ? h.sketch_n : (kSketch - 1) * 4294967296.0 / (h.sketch[kSketch - 1] + 1.0);
    distinct = std::max<double>(std::min<double>(distinct, h.nx_total), h.sketch_n);
    Finding f;
    f.type = finding_type::kDga;
    f.host = a;
    f.first = h.alert_first;
    f.last = h.alert_last;
    f.indicator = examples.empty() ? std::string() : examples.front();
    f.feed = "omamori-dga";
    f.category = "dga";
    f.family = family;
    f.events = h.alert_dga;
    f.confidence = static_cast<uint8_t>(std::min(99.0, 50.0 + 5.0 * distinct + (group_size > 1 ? 10 : 0)));
    f.explanation =
        fmt::format("{} got NXDOMAIN answers for about {:.0f} different names that look machine-generated (e.g. {}){}",
                    host, distinct, ex,
                    group_size > 1 ? fmt::format("; {} other host(s) got the same names ({})", group_size - 1, family)
                                   : std::string());
    f.details = {{"examples", ex},
                 {"dga_names", fmt::format("{:.0f}", distinct)},
                 {"nx_answers", std::to_string(h.nx_total)},
                 {"group_hosts", std::to_string(group_size)}};
    out.push_back(std::move(f));
  }
  if (h.flags & kFlagNx) {
    Finding f;
    f.type = finding_type::kNxdomain;
    f.host = a;
    f.first = h.alert_first;
    f.last = h.alert_last;
    f.indicator = fmt::format("{} distinct NXDOMAIN names in {:.0f} s", h.peak_distinct, window_s);
    f.feed = "omamori-nxdomain";
    f.category = "nxdomain";
    f.family = family;
    f.events = h.alert_nx;
    double usual = h.windows > cfg_.warmup_windows ? h.baseline : 0.0;
    double thr = threshold(h);
    f.confidence = static_cast<uint8_t>(std::min(90.0, 30.0 + 20.0 * h.peak_distinct / thr));
    f.explanation = fmt::format(
        "{} got NXDOMAIN answers for up to {} different names in {:.0f} seconds; its usual is {:.1f} and the "
        "population's {:.1f} (alarm at {:.0f}){}",
        host, h.peak_distinct, window_s, usual, pop_mean_, thr, ex.empty() ? "" : fmt::format("; e.g. {}", ex));
    f.details = {{"peak_distinct_nx", std::to_string(h.peak_distinct)},
                 {"nx_answers", std::to_string(h.nx_total)},
                 {"host_baseline", fmt::format("{:.2f}", usual)},
                 {"population_mean", fmt::format("{:.2f}", pop_mean_)},
                 {"threshold", fmt::format("{:.1f}", thr)}};
    out.push_back(std::move(f));
  }
}

void NxDetector::findings(FindingSink& sink) {
  std::vector<std::pair<IpAddr, const Host*>> flagged;
  index_.for_each([&](const Slot& s) {
    const Host& h = at(s.id);
    if (h.flags & (kFlagNx | kFlagDga)) flagged.emplace_back(s.addr(), &h);
  });
  std::sort(flagged.begin(), flagged.end(), [](const auto& x, const auto& y) { return x.first < y.first; });

  // Group DGA hosts sharing >= group_min_shared sketch names with the first holder of each name.
  UnionFind uf(flagged.size());
  std::map<uint32_t, size_t> holder;
  for (size_t i = 0; i < flagged.size(); ++i) {
    const Host& h = *flagged[i].second;
    if (!(h.flags & kFlagDga)) continue;
    std::map<size_t, uint32_t> shared;
    for (int k = 0; k < h.sketch_n; ++k) {
      auto [it, fresh] = holder.try_emplace(h.sketch[k], i);
      if (!fresh) ++shared[it->second];
    }
    for (auto [j, n] : shared)
      if (n >= cfg_.group_min_shared) uf.join(i, j);
  }
  std::map<size_t, size_t> group_size, group_id;
  for (size_t i = 0; i < flagged.size(); ++i)
    if (flagged[i].second->flags & kFlagDga) ++group_size[uf.find(i)];
  for (size_t i = 0; i < flagged.size(); ++i) {
    size_t r = uf.find(i);
    if ((flagged[i].second->flags & kFlagDga) && !group_id.contains(r)) {
      size_t next = group_id.size() + 1;
      group_id[r] = next;
    }
  }
  std::vector<Finding> out;
  for (size_t i = 0; i < flagged.size(); ++i) {
    size_t r = uf.find(i);
    std::string family;
    size_t size = 0;
    if (flagged[i].second->flags & kFlagDga) {
      family = fmt::format("dga-group-{}", group_id[r]);
      size = group_size[r];
    }
    host_findings(flagged[i].first, *flagged[i].second, family, size, out);
  }
  for (const auto& f : out) sink.on_finding(f);
}

}  // namespace omamori::dga
