// NetflowDecoder: version dispatch, hold-store expiry, statistics.
#include "ingest/netflow/netflow.hpp"

#include "core/bytes.hpp"
#include "ingest/netflow/impl.hpp"
#include "ingest/netflow/reasons.hpp"

namespace omamori {

NetflowDecoder::NetflowDecoder(NetflowConfig cfg) : impl_(std::make_unique<Impl>()) {
  impl_->cfg = cfg;
}
NetflowDecoder::~NetflowDecoder() = default;

void NetflowDecoder::decode(const IpAddr& exporter, TimeMs received, std::span<const uint8_t> d, FlowSink& sink) {
  Impl& m = *impl_;
  ++m.stats.datagrams;
  m.pending.expire(received, m.cfg.pending_hold_ms, [&](const netflow::HeldSet& h) {
    ++m.stats.pending_expired;
    m.errors.add(h.ctx.exporter, netflow::reason::kHeldExpired);
  });
  if (d.size() < 4) {
    m.errors.add(exporter, netflow::reason::kTooShort);
    return;
  }
  switch (load_be16(d.data())) {
    case 5:
      m.decode_v5(exporter, d, sink);
      break;
    case 9:
      m.decode_v9(exporter, received, d, sink);
      break;
    case 10:
      m.decode_ipfix(exporter, received, d, sink);
      break;
    default:
      m.errors.add(exporter, netflow::reason::kUnsupportedVersion);
      break;
  }
}

void NetflowDecoder::finish() {
  Impl& m = *impl_;
  m.pending.drain([&](const netflow::HeldSet& h) {
    ++m.stats.pending_expired;
    m.errors.add(h.ctx.exporter, netflow::reason::kHeldAtFinish);
  });
}

const ReasonCounters& NetflowDecoder::errors() const {
  return impl_->errors;
}
const NetflowStats& NetflowDecoder::stats() const {
  return impl_->stats;
}
size_t NetflowDecoder::template_count() const {
  return impl_->templates.size();
}

}  // namespace omamori
