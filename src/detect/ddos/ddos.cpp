#include "detect/ddos/ddos.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

namespace omamori::ddos {

namespace {
int64_t floor_sec(TimeMs t) { return t >= 0 ? t / 1000 : (t - 999) / 1000; }
bool any(const Thresholds& t) { return t.pps || t.bps || t.fps || t.baseline_factor > 0; }
constexpr double kBaselineAlpha = 1.0 / 60.0;  // EWMA per second: about a minute of memory
}  // namespace

std::vector<std::pair<IpAddr, SourceStat>> Attack::top_sources(size_t n) const {
  std::vector<std::pair<IpAddr, SourceStat>> v(sources.begin(), sources.end());
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.second.bytes != b.second.bytes ? a.second.bytes > b.second.bytes : a.first < b.first;
  });
  if (n && v.size() > n) v.resize(n);
  return v;
}

Detector::Detector(Config cfg) : cfg_(std::move(cfg)) {
  LpmTable<uint32_t>::Builder b;
  for (uint32_t g = 0; g < cfg_.groups.size(); ++g)
    for (const auto& p : cfg_.groups[g].prefixes) {
      b.add(p, static_cast<uint32_t>(protected_.size()));
      protected_.push_back({g, p});
    }
  groups_ = b.build();
  LpmTable<uint8_t>::Builder s;
  for (const auto& p : cfg_.subscribers) s.add(p, 1);
  subscribers_ = s.build();
}

Detector::Entity* Detector::entity(const Key& k, const Thresholds* th, const HostGroup* g, bool track_peers,
                                   TimeMs now) {
  auto it = entities_.find(k);
  if (it != entities_.end()) return &it->second;
  if (entities_.size() >= cfg_.max_entities) {
    errors_.add("ddos entity table full");
    return nullptr;
  }
  Entity& e = entities_[k];
  e.th = th;
  e.group = g;
  e.outbound = k.outbound;
  e.track_peers = track_peers;
  e.first_seen = now;
  return &e;
}

bool Detector::above(const Entity& e, uint64_t div, std::string* why) const {
  const Thresholds& t = *e.th;
  auto over = [&](uint64_t v, uint64_t th, const char* unit) {
    if (th && v * div > th) {
      if (why) *why = fmt::format("{} {} > {}", unit, v, th);
      return true;
    }
    return false;
  };
  if (over(e.pkts, t.pps, "pps") || over(e.bytes * 8, t.bps, "bps") || over(e.flows, t.fps, "flows/s")) return true;
  if (t.baseline_factor > 0 && now_ - e.first_seen >= t.baseline_warmup_ms) {
    double limit = std::max<double>(static_cast<double>(t.baseline_min_pps), t.baseline_factor * e.base_pps);
    if (static_cast<double>(e.pkts * div) > limit) {
      if (why) *why = fmt::format("pps {} > {:.0f} x baseline {:.1f}", e.pkts, t.baseline_factor, e.base_pps);
      return true;
    }
  }
  return false;
}

void Detector::close_second(Entity& e) {
  if (e.attack >= 0) {
    Attack& a = attacks_[static_cast<size_t>(e.attack)];
    if (e.pkts > a.peak_pps) {
      a.peak_pps = e.pkts;
      a.peak_at = e.sec * 1000;
    }
    a.peak_bps = std::max(a.peak_bps, e.bytes * 8);
    if (above(e, 2, nullptr)) e.last_above = std::max(e.last_above, (e.sec + 1) * 1000 - 1);
  } else if (e.sec != INT64_MIN) {
    e.base_pps += kBaselineAlpha * (static_cast<double>(e.pkts) - e.base_pps);
    e.base_bps += kBaselineAlpha * (static_cast<double>(e.bytes * 8) - e.base_bps);
  }
}

void Detector::roll(Entity& e, int64_t sec) {
  close_second(e);
  if (e.attack < 0 && e.sec != INT64_MIN && sec - e.sec > 1) {
    // Idle seconds pull the baseline towards zero.
    double keep = std::pow(1.0 - kBaselineAlpha, static_cast<double>(std::min<int64_t>(sec - e.sec - 1, 100000)));
    e.base_pps *= keep;
    e.base_bps *= keep;
  }
  e.sec = sec;
  e.pkts = e.bytes = e.flows = 0;
  e.sec_first = 0;
  e.cur.m.clear();
  e.vec = VectorCounts{};
}

void Detector::add_source(Attack& a, const IpAddr& peer, const SourceStat& s, size_t cap) {
  auto it = a.sources.find(peer);
  if (it == a.sources.end()) {
    if (a.sources.size() >= cap) {
      ++a.sources_dropped;
      return;
    }
    a.sources.emplace(peer, s);
    return;
  }
  auto& d = it->second;
  d.first = std::min(d.first, s.first);
  d.last = std::max(d.last, s.last);
  d.packets += s.packets;
  d.bytes += s.bytes;
}

void Detector::start_attack(Entity& e, const Key& k, const std::string& why) {
  Attack a;
  a.target = k.addr;
  a.prefix_len = k.len;
  a.outbound = k.outbound;
  a.group = e.group ? e.group->name : "";
  a.trigger = why;
  a.start = e.sec_first;
  a.detected = now_;
  a.end = now_;
  a.packets = e.pkts;
  a.bytes = e.bytes;
  a.flows = e.flows;
  a.peak_pps = e.pkts;
  a.peak_bps = e.bytes * 8;
  a.peak_at = e.sec * 1000;
  a.vectors = e.vec;
  for (const auto& [peer, s] : e.cur.m) add_source(a, peer, s, cfg_.max_sources_per_attack);
  e.attack = static_cast<int>(attacks_.size());
  e.last_above = now_;
  attacks_.push_back(std::move(a));
  active_.push_back(k);
  if (on_start) on_start(attacks_.back());
}

void Detector::end_attack(Entity& e) {
  Attack& a = attacks_[static_cast<size_t>(e.attack)];
  if (e.pkts > a.peak_pps) {
    a.peak_pps = e.pkts;
    a.peak_at = e.sec * 1000;
  }
  a.peak_bps = std::max(a.peak_bps, e.bytes * 8);
  a.active = false;
  e.attack = -1;
  if (on_end) on_end(a);
}

void Detector::account(Entity& e, const Key& k, const FlowRecord& r, const IpAddr& peer, uint64_t pk, uint64_t by) {
  int64_t sec = std::max(floor_sec(r.start), e.sec);
  if (sec != e.sec) roll(e, sec);
  if (e.flows == 0) e.sec_first = r.start;
  e.sec_first = std::min(e.sec_first, r.start);
  e.pkts += pk;
  e.bytes += by;
  e.flows += 1;
  e.last_seen = now_;
  SourceStat s{r.start, r.end, pk, by, r.sport, r.dport, r.proto};
  if (e.track_peers) {
    auto [it, inserted] = e.cur.m.try_emplace(peer, s);
    if (!inserted) {
      it->second.last = std::max(it->second.last, r.end);
      it->second.packets += pk;
      it->second.bytes += by;
    }
  }
  if (e.attack >= 0) {
    Attack& a = attacks_[static_cast<size_t>(e.attack)];
    a.packets += pk;
    a.bytes += by;
    a.flows += 1;
    a.vectors.add(r, pk);
    a.end = std::max(a.end, r.end);
    add_source(a, peer, s, cfg_.max_sources_per_attack);
    if (above(e, 2, nullptr)) e.last_above = now_;
  } else {
    e.vec.add(r, pk);
    std::string why;
    if (above(e, 1, &why)) start_attack(e, k, why);
  }
}

void Detector::on_flow(const FlowRecord& r) {
  now_ = std::max(now_, r.end);
  if (now_ - last_sweep_ >= 1000) sweep(now_);  // end quiet attacks before counting new traffic
  uint64_t mult = cfg_.renormalise && r.sampling_rate > 1 ? r.sampling_rate : 1;
  uint64_t pk = r.packets * mult, by = r.bytes * mult;
  if (cfg_.groups.empty()) {
    Key k{r.dst, static_cast<uint8_t>(r.dst.is_v4() ? 32 : 128), false};
    if (Entity* e = entity(k, &cfg_.default_host, nullptr, true, now_)) account(*e, k, r, r.src, pk, by);
  } else if (const uint32_t* pi = groups_.lookup(r.dst)) {
    const Protected& p = protected_[*pi];
    const HostGroup& g = cfg_.groups[p.group];
    if (any(g.host)) {
      Key k{r.dst, static_cast<uint8_t>(r.dst.is_v4() ? 32 : 128), false};
      if (Entity* e = entity(k, &g.host, &g, true, now_)) account(*e, k, r, r.src, pk, by);
    }
    if (any(g.prefix)) {
      Key k{p.prefix.addr(), p.prefix.len(), false};
      if (Entity* e = entity(k, &g.prefix, &g, true, now_)) account(*e, k, r, r.src, pk, by);
    }
  }
  if (!cfg_.subscribers.empty() && subscribers_.lookup(r.src)) {
    Key k{r.src, static_cast<uint8_t>(r.src.is_v4() ? 32 : 128), true};
    if (Entity* e = entity(k, &cfg_.outbound, nullptr, true, now_)) account(*e, k, r, r.dst, pk, by);
  }
}

void Detector::advance(TimeMs now) {
  now_ = std::max(now_, now);
  sweep(now_);
}

void Detector::sweep(TimeMs now) {
  last_sweep_ = now;
  for (size_t i = 0; i < active_.size();) {
    auto it = entities_.find(active_[i]);
    Entity& e = it->second;
    // A second that has fully passed counts towards last_above before deciding.
    if (floor_sec(now) > e.sec) {
      close_second(e);
      int64_t s = floor_sec(now);
      e.sec = s;
      e.pkts = e.bytes = e.flows = 0;
      e.cur.m.clear();
      e.vec = VectorCounts{};
    }
    if (now - e.last_above > cfg_.end_after_ms) {
      end_attack(e);
      active_[i] = active_.back();
      active_.pop_back();
    } else {
      ++i;
    }
  }
  // Forget hosts idle for a while (not under attack) to bound memory.
  static constexpr TimeMs kIdle = 300000;
  if (entities_.size() > 1024 && now - last_evict_ >= 60000) {
    last_evict_ = now;
    for (auto it = entities_.begin(); it != entities_.end();) {
      if (it->second.attack < 0 && now - it->second.last_seen > kIdle)
        entities_.erase(it++);
      else
        ++it;
    }
  }
}

void Detector::finish() {
  for (const auto& k : active_) end_attack(entities_.find(k)->second);
  active_.clear();
}

void Detector::findings(FindingSink& sink) const {
  for (const auto& a : attacks_) {
    Finding f;
    f.type = std::string(a.outbound ? finding_type::kDdosSource : finding_type::kDdosTarget);
    f.host = a.target;
    f.first = a.start;
    f.last = a.end;
    std::string v = a.vector();
    f.indicator = v;
    f.feed = "ddos-detector";
    f.category = "ddos";
    f.family = v;
    f.events = a.packets;
    uint64_t n = a.sources.size();
    std::string target = a.prefix_len == (a.target.is_v4() ? 32 : 128) ? a.target.str()
                                                                        : Prefix(a.target, a.prefix_len).str();
    // Confidence grows with how far the peak went past the trigger.
    f.confidence = 90;
    if (a.outbound) {
      f.explanation = fmt::format(
          "{} sent {} attack traffic to {} destination(s): peak {} packets/s, {:.1f} Mbit/s ({}), from {} to {}",
          target, v, n, a.peak_pps, static_cast<double>(a.peak_bps) / 1e6, a.trigger, format_rfc3339(a.start),
          format_rfc3339(a.end));
    } else {
      f.explanation = fmt::format(
          "{} was attacked ({}) from {} source address(es): peak {} packets/s, {:.1f} Mbit/s; detected at {} ({})",
          target, v, n + a.sources_dropped, a.peak_pps, static_cast<double>(a.peak_bps) / 1e6,
          format_rfc3339(a.detected), a.trigger);
    }
    f.details = {{"vector", v},
                 {"distinct_sources", std::to_string(n)},
                 {"peak_pps", std::to_string(a.peak_pps)},
                 {"peak_bps", std::to_string(a.peak_bps)},
                 {"detected", format_rfc3339(a.detected)},
                 {"packets", std::to_string(a.packets)},
                 {"bytes", std::to_string(a.bytes)}};
    if (!a.group.empty()) f.details.emplace_back("group", a.group);
    sink.on_finding(f);
  }
}

std::string Detector::report_json(const Attack& a, size_t max_sources) const {
  nlohmann::ordered_json j;
  j["target"] = a.prefix_len == (a.target.is_v4() ? 32 : 128) ? a.target.str() : Prefix(a.target, a.prefix_len).str();
  j["direction"] = a.outbound ? "outbound" : "inbound";
  j["vector"] = a.vector();
  j["start"] = format_rfc3339(a.start);
  j["detected"] = format_rfc3339(a.detected);
  j["end"] = format_rfc3339(a.end);
  j["trigger"] = a.trigger;
  j["packets"] = a.packets;
  j["bytes"] = a.bytes;
  j["peak_pps"] = a.peak_pps;
  j["peak_bps"] = a.peak_bps;
  j["distinct_sources"] = a.sources.size() + a.sources_dropped;
  auto& classes = j["packets_by_class"];
  static const char* kCls[kClassCount] = {"tcp_syn", "tcp_synack", "tcp_ack", "tcp_rst", "tcp_other",
                                          "udp", "udp_reflected", "icmp", "fragment", "other"};
  for (int i = 0; i < kClassCount; ++i)
    if (a.vectors.packets[static_cast<size_t>(i)]) classes[kCls[i]] = a.vectors.packets[static_cast<size_t>(i)];
  auto& src = j["sources"];
  src = nlohmann::ordered_json::array();
  for (const auto& [ip, s] : a.top_sources(max_sources)) {
    nlohmann::ordered_json o;
    o["address"] = ip.str();
    o["proto"] = s.proto;
    o["sport"] = s.sport;
    o["dport"] = s.dport;
    o["first"] = format_rfc3339(s.first);
    o["last"] = format_rfc3339(s.last);
    o["packets"] = s.packets;
    o["bytes"] = s.bytes;
    src.push_back(std::move(o));
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace omamori::ddos
