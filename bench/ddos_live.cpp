// Live DDoS detection from a NetFlow/IPFIX/sFlow collector, for the benchmark
// against FastNetMon: omamori's UDP collector (src/ingest/collector) feeding
// the DDoS detector (src/detect/ddos) directly, printing each attack the
// moment it starts with the wall-clock time. The `omamori` binary has no such
// live path yet (flows collect only writes records; analyze reads files):
// this harness is what the sensor daemon will wire up.
//
//   ddos_live --listen 127.0.0.1:PORT --protect PREFIX [--pps N] [--bps N] [--fps N] [--duration S]
//
// Prints "listening port=P", then per attack
// "attack_start wall_ms=.. target=.. vector=.. trigger=.. start_ms=.. detected_ms=..".
#include <time.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench_util.hpp"
#include "detect/ddos/ddos.hpp"
#include "ingest/collector/collector.hpp"

using namespace omamori;

namespace {
Collector* g_collector = nullptr;
void on_signal(int) {
  if (g_collector) g_collector->stop();
}
long long wall_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}
}  // namespace

int main(int argc, char** argv) {
  CollectorConfig cc;
  ddos::Config dc;
  ddos::HostGroup g{"protected", {}, ddos::Thresholds{}, {}};
  g.host = ddos::Thresholds{0, 0, 0};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&] { return bench::arg_value(argc, argv, i); };
    if (a == "--listen") cc.listen.push_back(val());
    else if (a == "--protect") {
      auto p = Prefix::parse(val());
      if (!p) {
        std::fprintf(stderr, "bad prefix\n");
        return 2;
      }
      g.prefixes.push_back(*p);
    } else if (a == "--pps") g.host.pps = std::strtoull(val().c_str(), nullptr, 10);
    else if (a == "--bps") g.host.bps = std::strtoull(val().c_str(), nullptr, 10);
    else if (a == "--fps") g.host.fps = std::strtoull(val().c_str(), nullptr, 10);
    else if (a == "--duration") cc.duration = std::atof(val().c_str());
    else {
      std::fprintf(stderr,
                   "usage: ddos_live --listen 127.0.0.1:PORT --protect PREFIX [--pps N] [--bps N] [--fps N] "
                   "[--duration S]\n");
      return 2;
    }
  }
  if (cc.listen.empty() || g.prefixes.empty()) {
    std::fprintf(stderr, "ddos_live: --listen and --protect are required\n");
    return 2;
  }
  dc.groups.push_back(g);
  dc.end_after_ms = 10000;
  ddos::Detector det(dc);
  det.on_start = [](const ddos::Attack& a) {
    std::printf("attack_start wall_ms=%lld target=%s vector=%s trigger=\"%s\" start_ms=%lld detected_ms=%lld\n",
                wall_ms(), a.target.str().c_str(), a.vector().c_str(), a.trigger.c_str(),
                static_cast<long long>(a.start), static_cast<long long>(a.detected));
    std::fflush(stdout);
  };
  Collector col(cc);
  std::string err;
  if (!col.open(err)) {
    std::fprintf(stderr, "ddos_live: %s\n", err.c_str());
    return 1;
  }
  g_collector = &col;
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::printf("listening port=%u\n", col.ports().at(0));
  std::fflush(stdout);
  col.run(det);
  det.finish();
  auto t = col.totals();
  std::printf("end datagrams=%llu records=%llu decode_errors=%llu drops=%llu attacks=%zu\n",
              static_cast<unsigned long long>(t.datagrams), static_cast<unsigned long long>(t.records),
              static_cast<unsigned long long>(t.decode_errors), static_cast<unsigned long long>(t.drops()),
              det.attacks().size());
  return 0;
}
