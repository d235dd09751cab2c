// libFuzzer target: the DNS wire parser (every message shape, names, records).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "ingest/dns/wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto ev = std::make_unique<omamori::DnsEvent>();
  omamori::ReasonCounters errors;
  omamori::DnsWireStats stats;
  ev->clear();
  omamori::parse_dns_message(data, size, *ev, errors, &stats);
  // Names at every offset of small inputs (compression pointers anywhere).
  char out[omamori::DnsEvent::kMaxName];
  for (size_t off = 0; off < size && off < 64; ++off) {
    size_t o = off, n = 0;
    omamori::decode_dns_name(data, size, o, out, sizeof out, n);
  }
  return 0;
}
