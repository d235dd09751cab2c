#include "ingest/meter/meter.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

namespace omamori {

namespace {

constexpr uint32_t kInitialFlows = 4096;

// Protocols whose first header bytes give the flow's ports (ICMP: type/code).
bool has_l4_ports(uint8_t proto) {
  return proto == 6 || proto == 17 || proto == 136 || proto == 132 || proto == 1 || proto == 58;
}

// Decoder outcomes that mean "this frame is not IP" rather than "this frame is broken".
bool is_not_ip(const char* reason) {
  return std::strcmp(reason, "not ip") == 0 || std::strcmp(reason, "mpls payload is not ip") == 0;
}

uint64_t next_pow2(uint64_t v) {
  uint64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

}  // namespace

bool FlowMeter::Key::operator==(const Key& o) const {
  return std::memcmp(this, &o, sizeof(Key)) == 0;
}
bool FlowMeter::FragKey::operator==(const FragKey& o) const {
  return std::memcmp(this, &o, sizeof(FragKey)) == 0;
}

FlowMeter::FlowMeter(MeterConfig cfg, FlowSink& sink) : cfg_(cfg), sink_(sink) {
  if (cfg_.max_flows == 0) cfg_.max_flows = 1;
  if (cfg_.max_flows > (1u << 30)) cfg_.max_flows = 1u << 30;  // keeps bucket numbers within 32 bits
  if (cfg_.max_fragments == 0) cfg_.max_fragments = 1;
  rec_.sampling_rate = 1;
}

size_t FlowMeter::memory_bytes() const {
  return flows_.capacity() * sizeof(Flow) + buckets_.capacity() * sizeof(Bucket) + frags_.capacity() * sizeof(Frag) +
         frag_buckets_.capacity() * sizeof(uint32_t);
}

// ---------------------------------------------------------------- packets

void FlowMeter::add_packet(int linktype, const CapturedPacket& pkt) {
  ++stats_.packets;
  PacketInfo pi;
  DecodeOptions opt;
  opt.decapsulate = cfg_.decapsulate;
  const char* err = decode_packet(linktype, pkt.data, pkt.caplen, pi, opt);
  if (err) {
    if (is_not_ip(err)) {
      ++stats_.non_ip;
    } else {
      ++stats_.decode_errors;
      errors_.add(err);
    }
    return;
  }
  add_decoded(pi, pkt.ts);
}

void FlowMeter::add_decoded(const PacketInfo& pi, TimeMs ts) {
  if (ts > now_) now_ = ts;
  ++stats_.ip_packets;
  stats_.ip_bytes += pi.ip_len;

  Key key;
  key.src = pi.src;
  key.dst = pi.dst;
  key.proto = pi.proto;
  key.ip_version = pi.ip_version;
  const bool later_fragment = pi.fragment && pi.frag_offset != 0;
  if (!later_fragment) {
    if (pi.has_ports) {
      key.sport = pi.sport;
      key.dport = pi.dport;
    } else if (has_l4_ports(pi.proto)) {
      // Snap length or a malformed packet cut the transport header: keep the packet, without ports.
      ++stats_.truncated_l4;
      errors_.add("truncated transport header (metered with ports 0)");
    }
  }

  uint32_t frag_slot = kNone;
  if (pi.fragment) {
    bool hold = false;
    ++stats_.fragments;
    FragKey fk;
    fk.src = pi.src;
    fk.dst = pi.dst;
    fk.id = pi.frag_id;
    fk.proto = pi.proto;
    fk.ip_version = pi.ip_version;
    uint64_t fh = XXH3_64bits(&fk, sizeof fk);
    if (frags_.empty()) {
      frags_.resize(cfg_.max_fragments);
      frag_buckets_.assign(next_pow2(uint64_t{cfg_.max_fragments} * 2), kNone);
      frag_mask_ = frag_buckets_.size() - 1;
    }
    uint32_t slot = frag_find(fk, fh);
    if (!later_fragment) {
      ++stats_.first_fragments;
      if (slot != kNone && frags_[slot].has_first) {
        // The id came round again (or the first fragment was sent twice): start afresh.
        ++stats_.fragment_ids_reused;
        frag_release(slot);
        slot = kNone;
      }
      if (slot == kNone) slot = frag_create(fk, fh, ts);
      Frag& e = frags_[slot];
      e.has_first = true;
      e.sport = key.sport;
      e.dport = key.dport;
      frag_slot = slot;
    } else {
      ++stats_.later_fragments;
      if (slot != kNone && frags_[slot].has_first) {
        key.sport = frags_[slot].sport;
        key.dport = frags_[slot].dport;
        ++stats_.later_matched;
      } else {
        if (slot == kNone) slot = frag_create(fk, fh, ts);
        Frag& e = frags_[slot];
        if (e.held_packets == 0) {
          e.held_first = e.held_last = ts;
        } else {
          e.held_first = std::min(e.held_first, ts);
          e.held_last = std::max(e.held_last, ts);
        }
        ++e.held_packets;
        e.held_bytes += pi.ip_len;
        ++stats_.later_held;
        hold = true;
      }
    }
    if (hold) return;
  }

  uint8_t flags = later_fragment ? 0 : pi.tcp_flags;
  uint32_t idx = account(key, ts, ts, 1, pi.ip_len, pi.proto == 6 ? flags : 0);

  if (frag_slot != kNone) {
    Frag& e = frags_[frag_slot];
    if (e.held_packets) {
      // Later fragments that overtook this first fragment join its flow now.
      stats_.held_matched += e.held_packets;
      idx = account(key, e.held_first, e.held_last, e.held_packets, e.held_bytes, 0);
      e.held_packets = e.held_bytes = 0;
    }
  }

  if (pi.proto == 6 && cfg_.tcp_end_on_fin_rst && (flags & (tcpflag::FIN | tcpflag::RST))) export_flow(idx, End::Tcp);
}

// ---------------------------------------------------------------- flow table

uint32_t FlowMeter::account(const Key& key, TimeMs first, TimeMs last, uint64_t packets, uint64_t bytes,
                            uint8_t flags) {
  uint64_t h = XXH3_64bits(&key, sizeof key);
  uint32_t i = find(key, h);
  if (i != kNone) {
    const Flow& f = flows_[i];
    if (first - f.last > cfg_.inactive_timeout_ms) {
      export_flow(i, End::Inactive);
      i = kNone;
    } else if (first - f.start > cfg_.active_timeout_ms) {
      export_flow(i, End::Active);
      i = kNone;
    }
  }
  if (i == kNone) {
    i = create(key, h);
    Flow& f = flows_[i];
    f.start = first;
    f.last = last;
  } else {
    Flow& f = flows_[i];
    f.start = std::min(f.start, first);
    f.last = std::max(f.last, last);
    if (lru_tail_ != i) {
      lru_unlink(i);
      lru_push_back(i);
    }
  }
  Flow& f = flows_[i];
  f.packets += packets;
  f.bytes += bytes;
  f.tcp_flags |= flags;
  return i;
}

uint32_t FlowMeter::find(const Key& key, uint64_t h) const {
  if (buckets_.empty()) return kNone;
  const uint32_t h32 = static_cast<uint32_t>(h);
  for (uint64_t b = h & mask_;; b = (b + 1) & mask_) {
    const Bucket& e = buckets_[b];
    if (e.idx == kNone) return kNone;
    if (e.hash32 == h32 && flows_[e.idx].key == key) return e.idx;
  }
}

void FlowMeter::grow() {
  size_t old = flows_.size();
  size_t cap = std::min<size_t>(cfg_.max_flows, std::max<size_t>(kInitialFlows, old * 2));
  flows_.resize(cap);
  // New slots go on the free list.
  for (size_t i = cap; i-- > old;) {
    flows_[i].lru_next = free_head_;
    free_head_ = static_cast<uint32_t>(i);
  }
  size_t nb = next_pow2(cap * 2);
  if (nb != buckets_.size()) {
    buckets_.assign(nb, Bucket{});
    mask_ = nb - 1;
    for (size_t i = 0; i < old; ++i)
      if (flows_[i].used) bucket_insert(static_cast<uint32_t>(i));
  }
}

uint32_t FlowMeter::create(const Key& key, uint64_t h) {
  if (free_head_ == kNone) {
    if (flows_.size() < cfg_.max_flows)
      grow();
    else
      export_flow(lru_head_, End::Evicted);
  }
  uint32_t i = free_head_;
  Flow& f = flows_[i];
  free_head_ = f.lru_next;
  f.key = key;
  f.hash = h;
  f.packets = f.bytes = 0;
  f.tcp_flags = 0;
  f.used = true;
  bucket_insert(i);
  lru_push_back(i);
  age_push_back(i);
  ++stats_.flows_created;
  if (++stats_.active_flows > stats_.peak_flows) stats_.peak_flows = stats_.active_flows;
  return i;
}

void FlowMeter::export_flow(uint32_t i, End why) {
  Flow& f = flows_[i];
  rec_.start = f.start;
  rec_.end = f.last;
  rec_.src = f.key.src;
  rec_.dst = f.key.dst;
  rec_.sport = f.key.sport;
  rec_.dport = f.key.dport;
  rec_.proto = f.key.proto;
  rec_.ip_version = f.key.ip_version;
  rec_.tcp_flags = f.tcp_flags;
  rec_.packets = f.packets;
  rec_.bytes = f.bytes;
  ++stats_.flows_exported;
  stats_.exported_packets += f.packets;
  stats_.exported_bytes += f.bytes;
  switch (why) {
    case End::Inactive:
      ++stats_.ended_inactive;
      break;
    case End::Active:
      ++stats_.ended_active;
      break;
    case End::Tcp:
      ++stats_.ended_tcp;
      break;
    case End::Evicted:
      ++stats_.evicted;
      break;
    case End::Flushed:
      ++stats_.flushed;
      break;
  }
  bucket_erase(i);
  lru_unlink(i);
  age_unlink(i);
  f.used = false;
  f.lru_next = free_head_;
  free_head_ = i;
  --stats_.active_flows;
  sink_.on_flow(rec_);
}

void FlowMeter::bucket_insert(uint32_t idx) {
  const uint64_t h = flows_[idx].hash;
  uint64_t b = h & mask_;
  while (buckets_[b].idx != kNone) b = (b + 1) & mask_;
  buckets_[b] = {static_cast<uint32_t>(h), idx};
}

void FlowMeter::bucket_erase(uint32_t idx) {
  uint64_t b = flows_[idx].hash & mask_;
  while (buckets_[b].idx != idx) b = (b + 1) & mask_;
  // Backward-shift deletion keeps probe chains intact without tombstones.
  // The table never exceeds 2^31 buckets, so the home bucket is in the low 32 bits.
  uint64_t hole = b;
  for (uint64_t j = (b + 1) & mask_; buckets_[j].idx != kNone; j = (j + 1) & mask_) {
    uint64_t home = buckets_[j].hash32 & mask_;
    if (((j - home) & mask_) >= ((j - hole) & mask_)) {
      buckets_[hole] = buckets_[j];
      hole = j;
    }
  }
  buckets_[hole] = Bucket{};
}

void FlowMeter::lru_unlink(uint32_t i) {
  Flow& f = flows_[i];
  if (f.lru_prev != kNone)
    flows_[f.lru_prev].lru_next = f.lru_next;
  else
    lru_head_ = f.lru_next;
  if (f.lru_next != kNone)
    flows_[f.lru_next].lru_prev = f.lru_prev;
  else
    lru_tail_ = f.lru_prev;
  f.lru_prev = f.lru_next = kNone;
}

void FlowMeter::lru_push_back(uint32_t i) {
  Flow& f = flows_[i];
  f.lru_prev = lru_tail_;
  f.lru_next = kNone;
  if (lru_tail_ != kNone)
    flows_[lru_tail_].lru_next = i;
  else
    lru_head_ = i;
  lru_tail_ = i;
}

void FlowMeter::age_unlink(uint32_t i) {
  Flow& f = flows_[i];
  if (f.age_prev != kNone)
    flows_[f.age_prev].age_next = f.age_next;
  else
    age_head_ = f.age_next;
  if (f.age_next != kNone)
    flows_[f.age_next].age_prev = f.age_prev;
  else
    age_tail_ = f.age_prev;
  f.age_prev = f.age_next = kNone;
}

void FlowMeter::age_push_back(uint32_t i) {
  Flow& f = flows_[i];
  f.age_prev = age_tail_;
  f.age_next = kNone;
  if (age_tail_ != kNone)
    flows_[age_tail_].age_next = i;
  else
    age_head_ = i;
  age_tail_ = i;
}

// ---------------------------------------------------------------- fragment table

uint32_t FlowMeter::frag_find(const FragKey& k, uint64_t h) const {
  for (uint64_t b = h & frag_mask_;; b = (b + 1) & frag_mask_) {
    uint32_t j = frag_buckets_[b];
    if (j == kNone) return kNone;
    if (frags_[j].hash == h && frags_[j].key == k) return j;
  }
}

uint32_t FlowMeter::frag_create(const FragKey& k, uint64_t h, TimeMs now) {
  const uint32_t cap = static_cast<uint32_t>(frags_.size());
  if (frag_count_ == cap) {
    // Full ring: the oldest entry goes (settling any fragments it holds).
    if (frags_[frag_head_].live) {
      ++stats_.fragment_table_evicted;
      frag_release(frag_head_);
    }
    frag_head_ = (frag_head_ + 1) % cap;
    --frag_count_;
  }
  uint32_t slot = (frag_head_ + frag_count_) % cap;
  ++frag_count_;
  Frag& e = frags_[slot];
  e = Frag{};
  e.key = k;
  e.hash = h;
  e.created = now;
  e.live = true;
  uint64_t b = h & frag_mask_;
  while (frag_buckets_[b] != kNone) b = (b + 1) & frag_mask_;
  frag_buckets_[b] = slot;
  ++stats_.active_fragment_entries;
  return slot;
}

void FlowMeter::frag_erase_bucket(uint32_t slot) {
  uint64_t b = frags_[slot].hash & frag_mask_;
  while (frag_buckets_[b] != slot) b = (b + 1) & frag_mask_;
  uint64_t hole = b;
  for (uint64_t j = (b + 1) & frag_mask_; frag_buckets_[j] != kNone; j = (j + 1) & frag_mask_) {
    uint64_t home = frags_[frag_buckets_[j]].hash & frag_mask_;
    if (((j - home) & frag_mask_) >= ((j - hole) & frag_mask_)) {
      frag_buckets_[hole] = frag_buckets_[j];
      hole = j;
    }
  }
  frag_buckets_[hole] = kNone;
}

void FlowMeter::frag_release(uint32_t slot) {
  Frag& e = frags_[slot];
  if (!e.live) return;
  frag_erase_bucket(slot);
  e.live = false;
  --stats_.active_fragment_entries;
  if (e.held_packets) {
    // The first fragment never came: count the held fragments without ports, as routers do.
    Key key;
    key.src = e.key.src;
    key.dst = e.key.dst;
    key.proto = e.key.proto;
    key.ip_version = e.key.ip_version;
    uint64_t packets = e.held_packets, bytes = e.held_bytes;
    TimeMs first = e.held_first, last = e.held_last;
    e.held_packets = e.held_bytes = 0;
    stats_.orphan_fragments += packets;
    account(key, first, last, packets, bytes, 0);
  }
}

// ---------------------------------------------------------------- time

void FlowMeter::advance(TimeMs now) {
  if (now > now_) now_ = now;
  while (lru_head_ != kNone && now - flows_[lru_head_].last > cfg_.inactive_timeout_ms)
    export_flow(lru_head_, End::Inactive);
  while (age_head_ != kNone && now - flows_[age_head_].start > cfg_.active_timeout_ms)
    export_flow(age_head_, End::Active);
  const uint32_t cap = static_cast<uint32_t>(frags_.size());
  while (frag_count_ > 0) {
    Frag& e = frags_[frag_head_];
    if (e.live) {
      if (now - e.created <= cfg_.fragment_timeout_ms) break;
      frag_release(frag_head_);
    }
    frag_head_ = (frag_head_ + 1) % cap;
    --frag_count_;
  }
  // Orphaned fragments settled just now may have made flows that are already idle.
  while (lru_head_ != kNone && now - flows_[lru_head_].last > cfg_.inactive_timeout_ms)
    export_flow(lru_head_, End::Inactive);
}

void FlowMeter::flush() {
  const uint32_t cap = static_cast<uint32_t>(frags_.size());
  while (frag_count_ > 0) {
    frag_release(frag_head_);
    frag_head_ = (frag_head_ + 1) % cap;
    --frag_count_;
  }
  while (age_head_ != kNone) export_flow(age_head_, End::Flushed);
}

}  // namespace omamori
