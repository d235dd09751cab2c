// Placeholder until the decoder lands: counts every datagram as unsupported.
#include "ingest/netflow/netflow.hpp"

namespace omamori {
struct NetflowDecoder::Impl {
  NetflowConfig cfg;
  ReasonCounters errors;
  NetflowStats stats;
};
NetflowDecoder::NetflowDecoder(NetflowConfig cfg) : impl_(std::make_unique<Impl>()) { impl_->cfg = cfg; }
NetflowDecoder::~NetflowDecoder() = default;
void NetflowDecoder::decode(const IpAddr& exporter, TimeMs, std::span<const uint8_t>, FlowSink&) {
  ++impl_->stats.datagrams;
  impl_->errors.add(exporter, "netflow decoder not built");
}
void NetflowDecoder::finish() {}
const ReasonCounters& NetflowDecoder::errors() const { return impl_->errors; }
const NetflowStats& NetflowDecoder::stats() const { return impl_->stats; }
bool NetflowDecoder::save_templates(const std::string&, std::string& err) const { err = "not built"; return false; }
bool NetflowDecoder::load_templates(const std::string&, std::string& err) { err = "not built"; return false; }
}  // namespace omamori
