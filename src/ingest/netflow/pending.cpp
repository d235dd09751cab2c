#include "ingest/netflow/pending.hpp"

#include <algorithm>

namespace omamori::netflow {

bool PendingStore::hold(const MsgContext& ctx, uint16_t set_id, const uint8_t* p, size_t n, size_t max_bytes,
                        size_t max_sets) {
  if (sets_ >= max_sets || n > max_bytes || bytes_ > max_bytes - n) return false;
  auto& v = map_[TemplateKey{ctx.scope(), set_id}];
  HeldSet& h = v.emplace_back();
  h.ctx = ctx;
  h.set_id = set_id;
  h.data.assign(p, p + n);
  bytes_ += n;
  ++sets_;
  oldest_ = std::min(oldest_, ctx.received);
  return true;
}

std::vector<HeldSet> PendingStore::take(const TemplateKey& k) {
  std::vector<HeldSet> out;
  auto it = map_.find(k);
  if (it == map_.end()) return out;
  out = std::move(it->second);
  map_.erase(it);
  for (const auto& h : out) bytes_ -= h.data.size();
  sets_ -= out.size();
  if (sets_ == 0) oldest_ = std::numeric_limits<TimeMs>::max();
  return out;
}

}  // namespace omamori::netflow
