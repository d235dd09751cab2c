// Placeholder until the decoder lands: counts every datagram as unsupported.
#include "ingest/sflow/sflow.hpp"

namespace omamori {
struct SflowDecoder::Impl {
  ReasonCounters errors;
  SflowStats stats;
};
SflowDecoder::SflowDecoder() : impl_(std::make_unique<Impl>()) {}
SflowDecoder::~SflowDecoder() = default;
void SflowDecoder::decode(const IpAddr& sender, TimeMs, std::span<const uint8_t>, FlowSink&) {
  ++impl_->stats.datagrams;
  impl_->errors.add(sender, "sflow decoder not built");
}
const ReasonCounters& SflowDecoder::errors() const { return impl_->errors; }
const SflowStats& SflowDecoder::stats() const { return impl_->stats; }
}  // namespace omamori
