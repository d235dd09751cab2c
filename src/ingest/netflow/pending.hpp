// Data sets that arrived before their template, held (bounded) until the
// template comes, they expire, or the input ends.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/ip.hpp"
#include "core/time.hpp"
#include "ingest/netflow/templates.hpp"

namespace omamori::netflow {

// What a data set needs from its message header to be decoded later.
struct MsgContext {
  IpAddr exporter;
  TimeMs received = 0;
  TimeMs export_ms = 0;     // header export time (unix secs, v5 also nsecs)
  uint32_t sys_uptime = 0;  // NetFlow v9 header: ms since the exporter booted
  uint32_t domain = 0;      // v9 source id / IPFIX observation domain
  uint8_t version = 0;      // 9 or 10
  ScopeKey scope() const { return ScopeKey{exporter, domain, version}; }
};

struct HeldSet {
  MsgContext ctx;
  uint16_t set_id = 0;
  std::vector<uint8_t> data;
};

class PendingStore {
 public:
  bool empty() const { return sets_ == 0; }
  size_t sets() const { return sets_; }
  size_t bytes() const { return bytes_; }

  // Copies the set; false when the limits do not allow it (nothing stored).
  bool hold(const MsgContext& ctx, uint16_t set_id, const uint8_t* p, size_t n, size_t max_bytes, size_t max_sets);
  // Removes and returns the sets waiting for this template, oldest first.
  std::vector<HeldSet> take(const TemplateKey& k);
  // Removes sets held since before now - hold_ms; f(const HeldSet&) for each.
  template <typename F>
  void expire(TimeMs now, TimeMs hold_ms, F&& f) {
    if (sets_ == 0 || now - oldest_ <= hold_ms) return;
    TimeMs oldest = std::numeric_limits<TimeMs>::max();
    for (auto it = map_.begin(); it != map_.end();) {
      auto& v = it->second;
      size_t keep = 0;
      for (size_t i = 0; i < v.size(); ++i) {
        if (now - v[i].ctx.received > hold_ms) {
          f(v[i]);
          bytes_ -= v[i].data.size();
          --sets_;
        } else {
          oldest = std::min(oldest, v[i].ctx.received);
          if (keep != i) v[keep] = std::move(v[i]);
          ++keep;
        }
      }
      v.resize(keep);
      if (v.empty())
        map_.erase(it++);
      else
        ++it;
    }
    oldest_ = oldest;
  }
  // Removes everything; f(const HeldSet&) for each.
  template <typename F>
  void drain(F&& f) {
    for (auto& [k, v] : map_)
      for (auto& h : v) f(h);
    map_.clear();
    sets_ = bytes_ = 0;
    oldest_ = std::numeric_limits<TimeMs>::max();
  }

 private:
  absl::flat_hash_map<TemplateKey, std::vector<HeldSet>> map_;
  size_t sets_ = 0;
  size_t bytes_ = 0;
  TimeMs oldest_ = std::numeric_limits<TimeMs>::max();
};

}  // namespace omamori::netflow
