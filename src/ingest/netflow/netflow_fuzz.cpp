// libFuzzer target: the input is a sequence of datagrams fed to ONE decoder,
// so template, options and hold-store state carry from one to the next.
// Framing (see fuzz/seeds/fuzz_netflow): u16 length, u8 flags, payload;
//   flags bit 0 picks one of two exporters, bits 1-7 advance the received
//   clock by that many seconds (exercises hold expiry).
// A trailing partial frame is fed as it is. Two decoders share their
// template state (TemplateExchange, as collector workers do); bit 1 of a
// frame's length picks the one that decodes it. Templates age out after
// 10 minutes of the clock. At the end, finish() and a save/load round trip
// of the template state through a temporary file (for some inputs).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "ingest/netflow/exchange.hpp"
#include "ingest/netflow/netflow.hpp"

namespace {
struct NullSink : omamori::FlowSink {
  uint64_t n = 0;
  void on_flow(const omamori::FlowRecord& r) override { n += r.packets; }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omamori;
  static const IpAddr exporters[2] = {*IpAddr::parse("192.0.2.1"), *IpAddr::parse("2001:db8::1")};
  NetflowConfig cfg;
  cfg.max_pending_bytes = 1 << 16;
  cfg.max_templates = 256;
  cfg.max_templates_per_exporter = 200;
  cfg.template_timeout_ms = 600000;
  auto exchange = std::make_shared<netflow::TemplateExchange>(cfg.max_templates, 16);
  NetflowDecoder dec(cfg), other(cfg);
  dec.share(exchange);
  other.share(exchange);
  NullSink sink;
  TimeMs now = 1700000000000;
  size_t off = 0;
  while (off < size) {
    if (size - off < 3) {
      dec.decode(exporters[0], now, {data + off, size - off}, sink);
      break;
    }
    size_t len = (size_t(data[off]) << 8) | data[off + 1];
    uint8_t flags = data[off + 2];
    off += 3;
    if (len > size - off) len = size - off;
    now += TimeMs(flags >> 1) * 1000;
    ((len & 2) ? other : dec).decode(exporters[flags & 1], now, {data + off, len}, sink);
    off += len;
  }
  dec.sync(now, sink);
  other.sync(now, sink);
  dec.finish();
  other.finish();
  // The round trip fsyncs a file: only for one input in 32, to keep the fuzzer fast.
  if (dec.template_count() > 0 && size % 32 == 0) {
    static const std::string path = "/tmp/fuzz_netflow_templates." + std::to_string(getpid());
    std::string err;
    if (dec.save_templates(path, err)) {
      NetflowDecoder again(cfg);
      if (!again.load_templates(path, err) || again.template_count() != dec.template_count()) __builtin_trap();
    }
  }
  return 0;
}
