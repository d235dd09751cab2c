// The flow decoders alone, without file or socket I/O: the UDP datagrams of
// an export pcap are loaded into memory once, then decoded again and again
// (templates are refreshed as the capture refreshes them). Prints the best
// round's thread CPU time per record and per datagram, and a digest of every
// decoded field, so that a speed-up can be shown not to change any record.
//
//   decode_bench [--rounds N] [--min-records N] FILE.pcap...
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "export_datagrams.hpp"
#include "ingest/flow_decoder.hpp"

namespace {

struct Datagram {
  omamori::IpAddr src;
  omamori::TimeMs ts;
  std::vector<uint8_t> payload;
};

// Folds every field of every record into one 64-bit value (order-sensitive).
class DigestSink final : public omamori::FlowSink {
 public:
  void on_flow(const omamori::FlowRecord& r) override {
    uint64_t w[12];
    std::memcpy(&w[0], r.src.bytes(), 8);
    std::memcpy(&w[1], r.src.bytes() + 8, 8);
    std::memcpy(&w[2], r.dst.bytes(), 8);
    std::memcpy(&w[3], r.dst.bytes() + 8, 8);
    std::memcpy(&w[4], r.exporter.bytes() + 8, 8);
    w[5] = uint64_t(r.start);
    w[6] = uint64_t(r.end);
    w[7] = r.packets;
    w[8] = r.bytes;
    w[9] = (uint64_t(r.in_if) << 32) | r.out_if;
    w[10] = (uint64_t(r.src_as) << 32) | r.dst_as;
    w[11] = (uint64_t(r.sampling_rate) << 32) | (uint64_t(r.sport) << 16) | r.dport;
    w[11] ^= (uint64_t(r.proto) << 56) | (uint64_t(r.tcp_flags) << 48) | (uint64_t(r.ip_version) << 40);
    for (uint64_t x : w) {
      h_ ^= x;
      h_ *= 0x100000001b3ull;
      h_ ^= h_ >> 29;
    }
    ++n_;
  }
  uint64_t digest() const { return h_; }
  uint64_t records() const { return n_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
  uint64_t n_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int rounds = 7;
  uint64_t min_records = 2'000'000;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds")
      rounds = std::stoi(bench::arg_value(argc, argv, i));
    else if (a == "--min-records")
      min_records = std::stoull(bench::arg_value(argc, argv, i));
    else
      files.push_back(a);
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: decode_bench [--rounds N] [--min-records N] FILE.pcap...\n");
    return 2;
  }
  std::vector<Datagram> ds;
  for (const auto& path : files) {
    bool ok = bench::each_udp_datagram(path, [&](const omamori::UdpDatagram& d) {
      ds.push_back({d.src, d.ts, std::vector<uint8_t>(d.payload.begin(), d.payload.end())});
    });
    if (!ok) return 1;
  }
  // One pass for the digest and the records per pass.
  omamori::TimeMs span = ds.empty() ? 0 : ds.back().ts - ds.front().ts + 1000;
  auto pass = [&](omamori::FlowDatagramDecoder& dec, omamori::FlowSink& sink, int k) {
    for (const auto& d : ds) dec.decode(d.src, d.ts + k * span, d.payload, sink);
  };
  uint64_t per_pass, digest;
  {
    omamori::FlowDatagramDecoder dec;
    DigestSink sink;
    pass(dec, sink, 0);
    per_pass = sink.records();
    digest = sink.digest();
  }
  if (per_pass == 0) {
    std::fprintf(stderr, "no flow records in the input\n");
    return 1;
  }
  int passes = int((min_records + per_pass - 1) / per_pass);
  double best = 1e30;
  for (int r = 0; r < rounds; ++r) {
    omamori::FlowDatagramDecoder dec;
    DigestSink sink;
    double t0 = bench::thread_cpu();
    for (int k = 0; k < passes; ++k) pass(dec, sink, k);
    double t = bench::thread_cpu() - t0;
    if (t < best) best = t;
  }
  double recs = double(per_pass) * passes, dgs = double(ds.size()) * passes;
  std::printf(
      "decode_bench: %zu datagrams, %llu records per pass, %d passes; best of %d rounds: %.3f s CPU, "
      "%.1f ns/record, %.1f ns/datagram, %.2f M records/s per core; digest %016llx\n",
      ds.size(), (unsigned long long)per_pass, passes, rounds, best, best / recs * 1e9, best / dgs * 1e9,
      recs / best / 1e6, (unsigned long long)digest);
  return 0;
}
