#include "detect/ddos/ddos.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "detect/table_bytes.hpp"

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

const Thresholds& Detector::thresholds(const Entity& e) const {
  if (e.kind == kOutbound) return cfg_.outbound;
  if (e.group == 0) return cfg_.default_host;
  const HostGroup& g = cfg_.groups[e.group - 1u];
  return e.kind == kPrefix ? g.prefix : g.host;
}

int32_t Detector::rel_sec(TimeMs t) const {
  int64_t s = floor_sec(t) - epoch_s_;
  return static_cast<int32_t>(std::clamp<int64_t>(s, INT32_MIN, INT32_MAX));
}

uint32_t Detector::find_id(const Key& k) const {
  const Slot key = slot_of(k);
  const Slot* s = entities_.find(key.pos_hash(), [&](const Slot& x) { return x.same(key); });
  return s ? (k.outbound ? s->out : s->in) : UINT32_MAX;
}

uint32_t Detector::entity(const Key& k, uint8_t kind, uint16_t group) {
  Slot key = slot_of(k);
  Slot* s = entities_.find(key.pos_hash(), [&](const Slot& x) { return x.same(key); });
  if (s && s->id(k.outbound) != UINT32_MAX) return s->id(k.outbound);
  if (n_entities_ >= cfg_.max_entities) {
    errors_.add("ddos entity table full");
    return UINT32_MAX;
  }
  uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = next_id_++;
    if (id / kChunk >= chunks_.size()) chunks_.push_back(std::make_unique<Entity[]>(kChunk));
  }
  if (s) {
    s->id(k.outbound) = id;
  } else {
    key.id(k.outbound) = id;
    entities_.insert(key);
  }
  ++n_entities_;
  Entity& e = at(id);
  e = Entity{};
  e.kind = kind;
  e.group = group;
  e.first_seen_s = e.last_seen_s = rel_sec(now_);
  e.seq0 = head_;
  return id;
}

bool Detector::above(const Entity& e, uint64_t div, std::string* why) const {
  const Thresholds& t = thresholds(e);
  auto over = [&](uint64_t v, uint64_t th, const char* unit) {
    if (th && v * div > th) {
      if (why) *why = fmt::format("{} {} > {}", unit, v, th);
      return true;
    }
    return false;
  };
  if (over(e.pkts, t.pps, "pps") || over(e.bytes * 8, t.bps, "bps") || over(e.flows, t.fps, "flows/s")) return true;
  if (t.baseline_factor > 0 && (static_cast<int64_t>(rel_sec(now_)) - e.first_seen_s) * 1000 >= t.baseline_warmup_ms) {
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
    e.base_pps += static_cast<float>(kBaselineAlpha * (static_cast<double>(e.pkts) - e.base_pps));
    e.base_bps += static_cast<float>(kBaselineAlpha * (static_cast<double>(e.bytes * 8) - e.base_bps));
  }
}

void Detector::roll(Entity& e, int64_t sec) {
  close_second(e);
  if (e.attack < 0 && e.sec != INT64_MIN && sec - e.sec > 1) {
    // Idle seconds pull the baseline towards zero.
    double keep = std::pow(1.0 - kBaselineAlpha, static_cast<double>(std::min<int64_t>(sec - e.sec - 1, 100000)));
    e.base_pps = static_cast<float>(e.base_pps * keep);
    e.base_bps = static_cast<float>(e.base_bps * keep);
  }
  e.sec = sec;
  e.pkts = e.bytes = e.flows = 0;
  e.sec_first = 0;
  e.seq0 = head_;
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

void Detector::start_attack(uint32_t id, const Key& k, const std::string& why) {
  Entity& e = at(id);
  Attack a;
  a.target = k.addr;
  a.prefix_len = k.len;
  a.outbound = k.outbound;
  const HostGroup* g = group_of(e);
  a.group = g && e.kind != kOutbound ? g->name : "";
  a.trigger = why;
  a.start = e.sec * 1000 + e.sec_first;
  a.detected = now_;
  a.end = now_;
  a.packets = e.pkts;
  a.bytes = e.bytes;
  a.flows = e.flows;
  a.peak_pps = e.pkts;
  a.peak_bps = e.bytes * 8;
  a.peak_at = e.sec * 1000;
  // The onset second's sources and vector, from the ring of recent records.
  const uint64_t n = ring_.size();
  uint64_t from = e.seq0;
  if (n == 0 || head_ - from > n) {
    errors_.add("ddos onset records overwritten (onset_records too small for the record rate)");
    from = n ? head_ - n : head_;
  }
  FlowRecord fr;
  for (uint64_t q = from; q < head_; ++q) {
    const Rec& rec = ring_[q % n];
    if (rec.entity != id) continue;
    fr.proto = rec.proto;
    fr.tcp_flags = rec.tcp_flags;
    fr.sport = rec.sport;
    fr.dport = rec.dport;
    a.vectors.add(fr, rec.packets, rec.bytes);
    add_source(a, rec.peer, SourceStat{rec.start, rec.end, rec.packets, rec.bytes, rec.sport, rec.dport, rec.proto},
               cfg_.max_sources_per_attack);
  }
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

void Detector::account(uint32_t id, const Key& k, const FlowRecord& r, const IpAddr& peer, uint64_t pk, uint64_t by) {
  Entity& e = at(id);
  int64_t sec = std::max(floor_sec(r.start), e.sec);
  if (sec != e.sec) roll(e, sec);
  int32_t off = static_cast<int32_t>(std::clamp<int64_t>(r.start - e.sec * 1000, INT32_MIN, INT32_MAX));
  if (e.flows == 0 || off < e.sec_first) e.sec_first = off;
  e.pkts += pk;
  e.bytes += by;
  e.flows += 1;
  e.last_seen_s = rel_sec(now_);
  if (e.attack >= 0) {
    Attack& a = attacks_[static_cast<size_t>(e.attack)];
    a.packets += pk;
    a.bytes += by;
    a.flows += 1;
    a.vectors.add(r, pk, by);
    a.end = std::max(a.end, r.end);
    add_source(a, peer, SourceStat{r.start, r.end, pk, by, r.sport, r.dport, r.proto}, cfg_.max_sources_per_attack);
    if (above(e, 2, nullptr)) e.last_above = now_;
    return;
  }
  if (ring_.empty() && cfg_.onset_records) ring_.resize(cfg_.onset_records);
  if (!ring_.empty()) {
    Rec& rec = ring_[head_ % ring_.size()];
    rec.entity = id;
    rec.sport = r.sport;
    rec.dport = r.dport;
    rec.proto = r.proto;
    rec.tcp_flags = r.tcp_flags;
    rec.peer = peer;
    rec.start = r.start;
    rec.end = r.end;
    rec.packets = pk;
    rec.bytes = by;
    ++head_;
  }
  std::string why;
  if (above(e, 1, &why)) start_attack(id, k, why);
}

void Detector::on_flow(const FlowRecord& r) {
  now_ = std::max(now_, r.end);
  if (!have_epoch_) {
    have_epoch_ = true;
    epoch_s_ = floor_sec(now_);
  }
  if (now_ - last_sweep_ >= 1000) sweep(now_);  // end quiet attacks before counting new traffic
  uint64_t mult = cfg_.renormalise && r.sampling_rate > 1 ? r.sampling_rate : 1;
  uint64_t pk = r.packets * mult, by = r.bytes * mult;
  if (cfg_.groups.empty()) {
    Key k{r.dst, static_cast<uint8_t>(r.dst.is_v4() ? 32 : 128), false};
    uint32_t id = entity(k, kHost, 0);
    if (id != UINT32_MAX) account(id, k, r, r.src, pk, by);
  } else if (const uint32_t* pi = groups_.lookup(r.dst)) {
    const Protected& p = protected_[*pi];
    const HostGroup& g = cfg_.groups[p.group];
    uint16_t gi = static_cast<uint16_t>(p.group + 1);
    if (any(g.host)) {
      Key k{r.dst, static_cast<uint8_t>(r.dst.is_v4() ? 32 : 128), false};
      uint32_t id = entity(k, kHost, gi);
      if (id != UINT32_MAX) account(id, k, r, r.src, pk, by);
    }
    if (any(g.prefix)) {
      Key k{p.prefix.addr(), p.prefix.len(), false};
      uint32_t id = entity(k, kPrefix, gi);
      if (id != UINT32_MAX) account(id, k, r, r.src, pk, by);
    }
  }
  if (!cfg_.subscribers.empty() && subscribers_.lookup(r.src)) {
    Key k{r.src, static_cast<uint8_t>(r.src.is_v4() ? 32 : 128), true};
    uint32_t id = entity(k, kOutbound, 0);
    if (id != UINT32_MAX) account(id, k, r, r.dst, pk, by);
  }
}

void Detector::advance(TimeMs now) {
  now_ = std::max(now_, now);
  sweep(now_);
}

void Detector::sweep(TimeMs now) {
  last_sweep_ = now;
  for (size_t i = 0; i < active_.size();) {
    Entity& e = at(find_id(active_[i]));
    // A second that has fully passed counts towards last_above before deciding.
    if (floor_sec(now) > e.sec) {
      close_second(e);
      e.sec = floor_sec(now);
      e.pkts = e.bytes = e.flows = 0;
      e.seq0 = head_;
    }
    if (now - e.last_above > cfg_.end_after_ms) {
      end_attack(e);
      active_[i] = active_.back();
      active_.pop_back();
    } else {
      ++i;
    }
  }
  // Forget entities idle for a while (not under attack) to bound memory.
  if (n_entities_ > 1024 && now - last_evict_ >= 60000) {
    last_evict_ = now;
    const int64_t idle_s = cfg_.idle_ms / 1000;
    const int64_t now_s = rel_sec(now);
    auto idle = [&](uint32_t id) {
      if (id == UINT32_MAX) return false;
      const Entity& e = at(id);
      return e.attack < 0 && now_s - e.last_seen_s > idle_s;
    };
    uint64_t evicted = 0;
    entities_.for_each([&](const Slot& s) { evicted += idle(s.in) + idle(s.out); });
    if (evicted) {
      entities_.rebuild_if([&](Slot& s) {
        for (uint32_t* id : {&s.in, &s.out})
          if (idle(*id)) {
            free_.push_back(*id);
            *id = UINT32_MAX;
          }
        return s.in != UINT32_MAX || s.out != UINT32_MAX;
      });
      n_entities_ -= evicted;
      errors_.add("ddos idle entity evicted", evicted);
    }
  }
}

size_t Detector::memory_bytes() const {
  size_t n = entities_.memory_bytes() + chunks_.size() * kChunk * sizeof(Entity) + free_.capacity() * sizeof(uint32_t) +
             ring_.capacity() * sizeof(Rec) + active_.capacity() * sizeof(Key) + attacks_.capacity() * sizeof(Attack);
  for (const auto& a : attacks_) n += table_bytes(a.sources) + string_heap_bytes(a.trigger) + string_heap_bytes(a.group);
  return n;
}

void Detector::finish() {
  for (const auto& k : active_) end_attack(at(find_id(k)));
  active_.clear();
}

void Detector::findings(FindingSink& sink) const {
  for (const auto& a : attacks_) sink.on_finding(finding(a));
}

Finding Detector::finding(const Attack& a) const {
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
  return f;
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
  auto& class_bytes = j["bytes_by_class"];
  for (int i = 0; i < kClassCount; ++i) {
    size_t c = static_cast<size_t>(i);
    if (a.vectors.packets[c]) classes[kCls[i]] = a.vectors.packets[c];
    if (a.vectors.bytes[c]) class_bytes[kCls[i]] = a.vectors.bytes[c];
  }
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
