// NetFlow v5: a 24-byte header and up to 30 fixed 48-byte records.
#include "core/bytes.hpp"
#include "ingest/netflow/impl.hpp"
#include "ingest/netflow/reasons.hpp"

namespace omamori {

namespace {
constexpr size_t kHeader = 24, kRecord = 48;
}

void NetflowDecoder::Impl::decode_v5(const IpAddr& exporter, std::span<const uint8_t> d, FlowSink& sink) {
  namespace reason = netflow::reason;
  if (d.size() < kHeader) {
    errors.add(exporter, reason::kV5Truncated);
    return;
  }
  const uint8_t* h = d.data();
  size_t count = load_be16(h + 2);
  uint32_t uptime = load_be32(h + 4);
  uint32_t secs = load_be32(h + 8);
  uint32_t nsecs = load_be32(h + 12);
  uint16_t sampling = load_be16(h + 22);
  // Top two bits: sampling mode; low 14 bits: the interval.
  uint32_t rate = sampling & 0x3FFF;
  if (rate == 0) rate = 1;
  TimeMs export_ms = TimeMs(secs) * 1000 + nsecs / 1000000;

  size_t fit = (d.size() - kHeader) / kRecord;
  if (count > fit) {
    errors.add(exporter, reason::kV5CountExceeds);
    count = fit;
  }
  FlowRecord r;
  r.exporter = exporter;
  r.sampling_rate = rate;
  r.ip_version = 4;
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* p = h + kHeader + i * kRecord;
    r.src = IpAddr::v4_bytes(p);
    r.dst = IpAddr::v4_bytes(p + 4);
    r.in_if = load_be16(p + 12);
    r.out_if = load_be16(p + 14);
    r.packets = load_be32(p + 16);
    r.bytes = load_be32(p + 20);
    // First/Last are sysuptime ms; the signed difference survives uptime wrap-around.
    r.start = export_ms - int32_t(uptime - load_be32(p + 24));
    r.end = export_ms - int32_t(uptime - load_be32(p + 28));
    r.sport = load_be16(p + 32);
    r.dport = load_be16(p + 34);
    r.tcp_flags = p[37];
    r.proto = p[38];
    r.src_as = load_be16(p + 40);
    r.dst_as = load_be16(p + 42);
    sink.on_flow(r);
  }
  stats.records += count;
}

}  // namespace omamori
