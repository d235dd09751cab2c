#include "detect/ddos/ddos.hpp"

#include <algorithm>
#include <bit>
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

std::string Attack::target_str() const {
  return prefix_len == (target.is_v4() ? 32 : 128) ? target.str() : Prefix(target, prefix_len).str();
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
  // Promotion levels: the fraction of each rate's threshold (the baseline
  // floor counts for packets: a baseline alarm needs more than it).
  const double f = std::clamp(cfg_.promote_fraction, 0.0, 1.0);
  auto level = [f](const Thresholds& t) {
    Level l;
    auto frac = [f](uint64_t th) { return static_cast<uint64_t>(std::floor(static_cast<double>(th) * f)); };
    uint64_t pps = t.pps ? t.pps : UINT64_MAX;
    if (t.baseline_factor > 0) pps = std::min(pps, t.baseline_min_pps);
    if (pps != UINT64_MAX) l.pkts = frac(pps);
    if (t.bps) l.bits = frac(t.bps);
    if (t.fps) l.flows = frac(t.fps);
    return l;
  };
  levels_.push_back(level(cfg_.default_host));
  for (const auto& g : cfg_.groups) levels_.push_back(level(g.host));
  levels_.push_back(level(cfg_.outbound));
  sketch_rows_ = std::clamp<size_t>(cfg_.sketch_rows, 1, 16);
  sketch_w_ = std::bit_ceil(std::clamp<size_t>(cfg_.sketch_width, 1, size_t{1} << 28));
  sketch_bits_ = std::countr_zero(sketch_w_);
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
  e.first_seen_s = e.last_hot_s = rel_sec(now_);
  e.seq0 = head_;
  return id;
}

void Detector::allocate() {
  cells_.assign(sketch_rows_ * sketch_w_, Cell{});
  size_t n = std::min<size_t>(cfg_.onset_records, size_t{1} << 28);
  n = (n + kBlock - 1) / kBlock * kBlock;
  ring_.resize(n);
  ring_clock_.assign(n / kBlock, 0);
}

namespace {
constexpr uint64_t kLinkMask = (uint64_t{1} << 30) - 1;  // ring positions in a link: the low 30 bits
uint32_t sat_add(uint32_t a, uint64_t b) { return static_cast<uint32_t>(std::min<uint64_t>(a + b, UINT32_MAX)); }
}  // namespace

// A chain link: bit 0 set, bit 1 the direction, then the ring position's low 30 bits.
bool Detector::link_seq(uint32_t link, uint64_t& seq) const {
  if (!(link & 1)) return false;
  uint64_t delta = ((head_ & kLinkMask) - (link >> 2)) & kLinkMask;
  if (delta == 0) delta = kLinkMask + 1;
  if (delta > head_) return false;
  seq = head_ - delta;
  return true;
}

uint64_t Detector::write_rec(const FlowRecord& r, uint8_t roles, uint64_t h_in, uint64_t h_out, uint64_t pk,
                             uint64_t by) {
  const uint64_t seq = head_++;
  if (seq % kBlock == 0) ring_clock_[(seq / kBlock) % ring_clock_.size()] = now_;
  Rec& rec = ring_[seq % ring_.size()];
  rec.src = r.src;
  rec.dst = r.dst;
  rec.start = r.start;
  rec.packets = pk;
  rec.bytes = by;
  rec.end_off = static_cast<int32_t>(std::clamp<int64_t>(r.end - r.start, INT32_MIN, INT32_MAX));
  rec.sport = r.sport;
  rec.dport = r.dport;
  rec.proto = r.proto;
  rec.tcp_flags = r.tcp_flags;
  rec.roles = roles;
  for (uint32_t d = 0; d < 2; ++d) {
    if (!(roles & (d ? kRoleOut : kRoleIn))) continue;
    Cell& c = cells_[cell_index(d ? h_out : h_in, 0)];
    rec.link[d] = c.link;
    c.link = static_cast<uint32_t>((seq & kLinkMask) << 2 | d << 1 | 1);
  }
  return seq;
}

// Brings a cell to second `sec`: the current counts become the previous
// second's when `sec` follows directly.
void Detector::cell_to(Cell& c, int32_t sec) {
  bool next = c.sec != INT32_MIN && int64_t{sec} - c.sec == 1;
  c.prev_pkts = next ? c.pkts : 0;
  c.prev_bytes = next ? c.bytes : 0;
  c.prev_flows = next ? c.flows : 0;
  c.pkts = c.bytes = c.flows = 0;
  c.sec = sec;
}

// Counts a record of second `sec` in every row; true when the estimate (the
// least over the rows) now exceeds the level. A row's count for the record's
// address: this second's, plus the previous second's when the record belongs
// to an earlier second than the cell (a record counts in its address's
// current second, which may be behind the cell's: that count began during
// the previous second of the cell). Never less than the exact count, unless
// an address's records are two or more seconds behind another address's in
// the same cells.
bool Detector::sketch_add(uint64_t h, int32_t sec, uint64_t pk, uint64_t by, uint32_t flows, const Level& lv) {
  constexpr uint64_t kHuge = uint64_t{1} << 60;  // a saturated cell: over any level in use
  uint64_t ep = UINT64_MAX, eb = UINT64_MAX, ef = UINT64_MAX;
  for (size_t i = 0; i < sketch_rows_; ++i) {
    Cell& c = cells_[cell_index(h, i)];
    if (sec > c.sec) cell_to(c, sec);
    c.pkts = sat_add(c.pkts, pk);
    c.bytes = sat_add(c.bytes, by);
    c.flows = sat_add(c.flows, flows);
    bool behind = sec < c.sec;
    uint64_t p = c.pkts == UINT32_MAX ? kHuge : c.pkts + (behind ? c.prev_pkts : 0);
    uint64_t b = c.bytes == UINT32_MAX ? kHuge : c.bytes + (behind ? c.prev_bytes : 0);
    uint64_t f = c.flows == UINT32_MAX ? kHuge : c.flows + (behind ? c.prev_flows : 0);
    ep = std::min(ep, p);
    eb = std::min(eb, b);
    ef = std::min(ef, f);
  }
  return ep > lv.pkts || eb * 8 > lv.bits || ef > lv.flows;
}

bool Detector::hot(const Entity& e) const {
  if (e.kind == kPrefix) return true;  // always tracked: any traffic keeps it
  const Level& lv = level(e.kind, e.group);
  return e.pkts > lv.pkts || e.bytes * 8 > lv.bits || e.flows > lv.flows;
}

// Ring positions, oldest first, of the retained records of k's address in
// k's direction from `from` on, following the chain of its row-0 sketch
// cell (only the records hashed to that cell). True when the chain went on
// into overwritten records (older ones of the address may be missing).
bool Detector::collect(const Key& k, uint64_t h, uint64_t from, std::vector<uint64_t>& seqs) const {
  seqs.clear();
  const uint64_t n = ring_.size();
  if (n == 0) return false;
  const uint64_t oldest = head_ > n ? head_ - n : 0;
  const uint32_t dir = k.outbound ? 1 : 0;
  const uint8_t role = k.outbound ? kRoleOut : kRoleIn;
  uint32_t link = cells_[cell_index(h, 0)].link;
  uint64_t last = head_, seq;
  uint32_t last_d = 0;
  bool cut = false;
  while (link_seq(link, seq)) {
    uint32_t d = (link >> 1) & 1;
    // Positions only go back (a record's outbound link may point at its own inbound one); else a stale link.
    if (seq > last || (seq == last && !(last_d == 1 && d == 0))) break;
    if (seq < from) break;
    if (seq < oldest) {
      cut = true;
      break;
    }
    const Rec& rec = ring_[seq % n];
    if (d == dir && (rec.roles & role) && (dir ? rec.src : rec.dst) == k.addr) seqs.push_back(seq);
    link = rec.link[d];
    last = seq;
    last_d = d;
  }
  std::reverse(seqs.begin(), seqs.end());
  return cut;
}

// True when every record written since traffic time t is still in the ring.
bool Detector::ring_reaches(TimeMs t) const {
  const uint64_t n = ring_.size();
  if (head_ <= n) return true;
  uint64_t q = (head_ - n + kBlock - 1) / kBlock * kBlock;  // the first block wholly retained
  return q < head_ && ring_clock_[(q / kBlock) % ring_clock_.size()] < t;
}

uint32_t Detector::promote(const Key& k, uint8_t kind, uint16_t group, uint64_t h, const FlowRecord& r,
                           const IpAddr& peer, uint64_t pk, uint64_t by, uint64_t seq) {
  uint32_t id = entity(k, kind, group);
  if (id == UINT32_MAX) return id;
  ++promotions_;
  if (ring_.empty()) {  // nothing to rebuild from: counting starts here
    account(id, k, r, peer, pk, by, seq);
    return id;
  }
  Entity& e = at(id);
  if (cfg_.promote_fraction > 0) {
    // Below the level while untracked, so its true baseline is at most the level.
    const Level& lv = level(kind, group);
    e.base_pps = lv.pkts == UINT64_MAX ? 0.f : static_cast<float>(lv.pkts);
    e.base_bps = lv.bits == UINT64_MAX ? 0.f : static_cast<float>(lv.bits);
    e.first_seen_s = 0;  // warmed up once the detector has run for the warm-up
  }
  // This second's exact counters, replayed from the ring as an entity would
  // have counted them (never from the sketch, which overestimates).
  bool cut = collect(k, h, 0, scratch_);
  for (uint64_t q : scratch_) {
    const Rec& rec = ring_[q % ring_.size()];
    int64_t sec = std::max(floor_sec(rec.start), e.sec);
    if (sec != e.sec) {
      e.sec = sec;
      e.pkts = e.bytes = e.flows = 0;
      e.seq0 = q;
    }
    int32_t off = static_cast<int32_t>(std::clamp<int64_t>(rec.start - e.sec * 1000, INT32_MIN, INT32_MAX));
    if (e.flows == 0 || off < e.sec_first) e.sec_first = off;
    e.pkts += rec.packets;
    e.bytes += rec.bytes;
    e.flows += 1;
  }
  if (cut && !ring_reaches(e.sec * 1000))
    errors_.add("ddos onset records overwritten (onset_records too small for the record rate)");
  e.last_hot_s = rel_sec(now_);
  std::string why;
  if (above(e, 1, &why)) start_attack(id, k, why);
  return id;
}

// An evicted host's counts of its second go back into the sketch, so that
// the estimate stays at least the exact count for the rest of the second.
void Detector::fold(const IpAddr& a, bool outbound, const Entity& e) {
  if (e.kind == kPrefix || e.sec == INT64_MIN || cells_.empty()) return;
  const uint64_t h = sketch_hash(a, outbound);
  const int32_t sec = rel_sec(e.sec * 1000);
  for (size_t i = 0; i < sketch_rows_; ++i) {
    Cell& c = cells_[cell_index(h, i)];
    if (sec > c.sec) cell_to(c, sec);
    if (sec == c.sec) {
      c.pkts = sat_add(c.pkts, e.pkts);
      c.bytes = sat_add(c.bytes, e.bytes);
      c.flows = sat_add(c.flows, e.flows);
    } else if (int64_t{sec} == int64_t{c.sec} - 1) {
      c.prev_pkts = sat_add(c.prev_pkts, e.pkts);
      c.prev_bytes = sat_add(c.prev_bytes, e.bytes);
      c.prev_flows = sat_add(c.prev_flows, e.flows);
    }
  }
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
  auto add = [&](const Rec& rec, const IpAddr& peer) {
    fr.proto = rec.proto;
    fr.tcp_flags = rec.tcp_flags;
    fr.sport = rec.sport;
    fr.dport = rec.dport;
    a.vectors.add(fr, rec.packets, rec.bytes);
    add_source(a, peer,
               SourceStat{rec.start, rec.start + rec.end_off, rec.packets, rec.bytes, rec.sport, rec.dport, rec.proto},
               cfg_.max_sources_per_attack);
  };
  if (e.kind == kPrefix) {
    const Prefix target(k.addr, k.len);
    for (uint64_t q = from; q < head_; ++q) {
      const Rec& rec = ring_[q % n];
      if (!(rec.roles & kRolePrefix)) continue;
      const uint32_t* pi = groups_.lookup(rec.dst);
      if (pi && protected_[*pi].prefix == target) add(rec, rec.src);
    }
  } else if (n) {
    collect(k, sketch_hash(k.addr, k.outbound), from, scratch_);
    for (uint64_t q : scratch_) {
      const Rec& rec = ring_[q % n];
      add(rec, k.outbound ? rec.dst : rec.src);
    }
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

void Detector::account(uint32_t id, const Key& k, const FlowRecord& r, const IpAddr& peer, uint64_t pk, uint64_t by,
                       uint64_t seq) {
  Entity& e = at(id);
  int64_t sec = std::max(floor_sec(r.start), e.sec);
  if (sec != e.sec) {
    roll(e, sec);
    e.seq0 = seq;  // this record's ring position (or the next one when it was not kept)
  }
  int32_t off = static_cast<int32_t>(std::clamp<int64_t>(r.start - e.sec * 1000, INT32_MIN, INT32_MAX));
  if (e.flows == 0 || off < e.sec_first) e.sec_first = off;
  e.pkts += pk;
  e.bytes += by;
  e.flows += 1;
  if (hot(e)) e.last_hot_s = rel_sec(now_);
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
  // What the record counts for: the destination as a protected host and its
  // prefix as a whole, the source as a subscriber.
  bool in = false, pre = false, out = false;
  const Protected* p = nullptr;
  uint16_t gi = 0;
  if (cfg_.groups.empty()) {
    in = any(cfg_.default_host);
  } else if (const uint32_t* pi = groups_.lookup(r.dst)) {
    p = &protected_[*pi];
    const HostGroup& g = cfg_.groups[p->group];
    gi = static_cast<uint16_t>(p->group + 1);
    in = any(g.host);
    pre = any(g.prefix);
  }
  out = !cfg_.subscribers.empty() && any(cfg_.outbound) && subscribers_.lookup(r.src);
  if (!in && !pre && !out) return;
  if (cells_.empty()) allocate();
  uint64_t mult = cfg_.renormalise && r.sampling_rate > 1 ? r.sampling_rate : 1;
  uint64_t pk = r.packets * mult, by = r.bytes * mult;
  const Key kin = host_key(r.dst, false), kout = host_key(r.src, true);
  const Key kpre = p ? Key{p->prefix.addr(), p->prefix.len(), false} : Key{};
  const uint32_t id_in = in ? find_id(kin) : UINT32_MAX;
  const uint32_t id_pre = pre ? entity(kpre, kPrefix, gi) : UINT32_MAX;  // prefixes are always tracked
  const uint32_t id_out = out ? find_id(kout) : UINT32_MAX;
  // Into the ring for every role whose entity is not under attack (tracked or not).
  const uint8_t roles = static_cast<uint8_t>((in && (id_in == UINT32_MAX || at(id_in).attack < 0) ? kRoleIn : 0) |
                                             (id_pre != UINT32_MAX && at(id_pre).attack < 0 ? kRolePrefix : 0) |
                                             (out && (id_out == UINT32_MAX || at(id_out).attack < 0) ? kRoleOut : 0));
  const uint64_t h_in = in ? sketch_hash(r.dst, false) : 0, h_out = out ? sketch_hash(r.src, true) : 0;
  const uint64_t seq = roles && !ring_.empty() ? write_rec(r, roles, h_in, h_out, pk, by) : head_;
  const int32_t sec = rel_sec(r.start);
  if (in) {
    if (id_in != UINT32_MAX) account(id_in, kin, r, r.src, pk, by, seq);
    else if (sketch_add(h_in, sec, pk, by, 1, level(kHost, gi))) promote(kin, kHost, gi, h_in, r, r.src, pk, by, seq);
  }
  if (id_pre != UINT32_MAX) account(id_pre, kpre, r, r.src, pk, by, seq);
  if (out) {
    if (id_out != UINT32_MAX) account(id_out, kout, r, r.dst, pk, by, seq);
    else if (sketch_add(h_out, sec, pk, by, 1, level(kOutbound, 0)))
      promote(kout, kOutbound, 0, h_out, r, r.dst, pk, by, seq);
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
    // Below the promotion level (prefixes: without traffic) for idle_ms.
    auto idle = [&](uint32_t id) {
      if (id == UINT32_MAX) return false;
      const Entity& e = at(id);
      return e.attack < 0 && now_s - e.last_hot_s > idle_s;
    };
    uint64_t evicted = 0;
    entities_.for_each([&](const Slot& s) { evicted += idle(s.in) + idle(s.out); });
    if (evicted) {
      entities_.rebuild_if([&](Slot& s) {
        for (uint32_t* id : {&s.in, &s.out})
          if (idle(*id)) {
            fold(IpAddr::v6_bytes(reinterpret_cast<const uint8_t*>(s.w)), id == &s.out, at(*id));
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
  size_t n = cells_.capacity() * sizeof(Cell) + entities_.memory_bytes() + chunks_.size() * kChunk * sizeof(Entity) +
             free_.capacity() * sizeof(uint32_t) + ring_.capacity() * sizeof(Rec) +
             ring_clock_.capacity() * sizeof(TimeMs) + scratch_.capacity() * sizeof(uint64_t) +
             active_.capacity() * sizeof(Key) + attacks_.capacity() * sizeof(Attack) + levels_.capacity() * sizeof(Level);
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
  std::string target = a.target_str();
  f.confidence = 90;  // a threshold was crossed
  if (a.outbound) {
    f.explanation = fmt::format(
        "{} sent {} attack traffic to {} destination(s): peak {} packets/s, {:.1f} Mbit/s ({}), from {} to {}",
        target, v, n, a.peak_pps, static_cast<double>(a.peak_bps) / 1e6, a.trigger, format_rfc3339(a.start),
        format_rfc3339(a.end));
  } else {
    f.explanation = fmt::format(
        "{} was attacked ({}) from {} source address(es): peak {} packets/s, {:.1f} Mbit/s; detected at {} ({})",
        target, v, a.distinct_sources(), a.peak_pps, static_cast<double>(a.peak_bps) / 1e6,
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
  j["target"] = a.target_str();
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
  j["distinct_sources"] = a.distinct_sources();
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
