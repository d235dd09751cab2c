// Fuzzes the sFlow v5 decoder with whole UDP payloads. Seeds: the payloads
// of the bundled sFlow captures (fuzz/seeds/fuzz_sflow/).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "ingest/sflow/sflow.hpp"

namespace {
struct CheckSink : omamori::FlowSink {
  void on_flow(const omamori::FlowRecord& r) override {
    // Invariants of every emitted record.
    if (r.packets != 1 || r.sampling_rate == 0 || r.start != r.end) std::abort();
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static omamori::SflowDecoder dec;  // kept across inputs, as in the collector
  static const omamori::IpAddr sender = omamori::IpAddr::v4(0x7f000001);
  CheckSink sink;
  uint64_t before = dec.stats().records;
  dec.decode(sender, 1000, {data, size}, sink);
  if (dec.stats().records < before) std::abort();
  return 0;
}
