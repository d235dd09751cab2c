// Fuzzes the flow meter with a sequence of packets: the input is split into
// records of [1 byte time step][2 bytes length][packet], fed to one meter with
// small tables and short timeouts (so that eviction, expiry and the fragment
// table are exercised), then flushed. Checks that every metered packet is
// exported exactly once.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "ingest/meter/meter.hpp"

namespace {
struct CountSink final : omamori::FlowSink {
  uint64_t packets = 0, bytes = 0;
  void on_flow(const omamori::FlowRecord& r) override {
    if (r.packets == 0 || r.end < r.start) std::abort();
    packets += r.packets;
    bytes += r.bytes;
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static const int kLinks[] = {omamori::linktype::ETHERNET, omamori::linktype::RAW, omamori::linktype::LINUX_SLL,
                               omamori::linktype::LINUX_SLL2, omamori::linktype::NULL_LOOP};
  const int link = kLinks[data[0] % 5];
  omamori::MeterConfig cfg;
  cfg.max_flows = 1 + data[1] % 16;
  cfg.max_fragments = 1 + (data[1] >> 4);
  cfg.active_timeout_ms = 200;
  cfg.inactive_timeout_ms = 50;
  cfg.fragment_timeout_ms = 100;
  cfg.decapsulate = data[1] & 1;
  cfg.tcp_end_on_fin_rst = data[1] & 2;
  CountSink sink;
  omamori::FlowMeter meter(cfg, sink);
  size_t off = 2;
  omamori::TimeMs t = 1'000'000;
  while (off + 3 <= size) {
    t += data[off];
    size_t len = (size_t{data[off + 1]} << 8 | data[off + 2]) % 2048;
    off += 3;
    if (len > size - off) len = size - off;
    omamori::CapturedPacket p;
    p.ts = t;
    p.ts_us = t * 1000;
    p.data = data + off;
    p.caplen = p.len = static_cast<uint32_t>(len);
    if (data[off - 3] & 1) meter.advance(t);
    meter.add_packet(link, p);
    off += len;
  }
  meter.flush();
  const auto& s = meter.stats();
  if (s.packets != s.ip_packets + s.non_ip + s.decode_errors) std::abort();
  if (sink.packets != s.ip_packets || sink.bytes != s.ip_bytes) std::abort();
  if (s.active_flows != 0 || s.active_fragment_entries != 0) std::abort();
  return 0;
}
