// libFuzzer target: Frame Streams framing and dnstap protobuf decoding. Odd first
// byte: the rest is one dnstap payload; even: a Frame Streams byte stream whose
// data frames are decoded.
#include <cstddef>
#include <cstdint>

#include "ingest/dns/dnstap.hpp"

namespace {
struct NullSink final : omamori::DnsSink {
  size_t n = 0;
  void on_dns(const omamori::DnsEvent& ev) override { n += ev.answers().size(); }
};
struct Decode final : omamori::FrameHandler {
  omamori::DnstapDecoder& dec;
  NullSink& sink;
  Decode(omamori::DnstapDecoder& d, NullSink& s) : dec(d), sink(s) {}
  void on_data(const uint8_t* p, size_t n) override { dec.decode(p, n, sink); }
  void on_control(uint32_t, const std::string_view*, size_t) override {}
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static omamori::DnstapDecoder dec;
  NullSink sink;
  if (data[0] & 1) {
    dec.decode(data + 1, size - 1, sink);
    return 0;
  }
  Decode h(dec, sink);
  const char* err = nullptr;
  size_t off = 1;
  // Feed in two uneven pieces, as a socket would.
  size_t cut = size > 2 ? 1 + data[1] % (size - 1) : size;
  omamori::parse_frames(data + off, cut - off, 1 << 16, h, err);
  if (!err) omamori::parse_frames(data + off, size - off, 1 << 16, h, err);
  return 0;
}
