// `omamori flows meter FILE...` / `omamori flows meter --interface IF`: the
// built-in flow meter over raw traffic. See docs/flow-meter.md.
#include <fmt/format.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>

#include "cli/common.hpp"
#include "cli/flows_commands.hpp"
#include "core/time.hpp"
#include "ingest/meter/meter.hpp"
#include "ingest/pcap/pcap_file.hpp"

namespace omamori::cli {

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

struct MeterOptions {
  std::vector<std::string> files;
  std::string interface;
  std::string bpf;
  bool promisc = false;
  int snaplen = 256;
  int buffer_mb = 32;
  double active = 300;
  double inactive = 60;
  double fragment_timeout = 30;
  uint32_t max_flows = MeterConfig{}.max_flows;
  uint32_t max_fragments = MeterConfig{}.max_fragments;
  bool no_decap = false;
  bool no_fin_rst = false;
  bool stats = false;
  FlowOutputOptions out;
};

TimeMs seconds_to_ms(double s) {
  return static_cast<TimeMs>(s * 1000.0 + 0.5);
}

MeterConfig config_from(const MeterOptions& o) {
  MeterConfig c;
  c.active_timeout_ms = seconds_to_ms(o.active);
  c.inactive_timeout_ms = seconds_to_ms(o.inactive);
  c.fragment_timeout_ms = seconds_to_ms(o.fragment_timeout);
  c.max_flows = o.max_flows;
  c.max_fragments = o.max_fragments;
  c.decapsulate = !o.no_decap;
  c.tcp_end_on_fin_rst = !o.no_fin_rst;
  return c;
}

void print_stats(const FlowMeter& m, double seconds) {
  const MeterStats& s = m.stats();
  fmt::print(stderr,
             "meter: packets {} ip {} ip-bytes {} non-ip {} decode-errors {} truncated-l4 {} | flows created {} "
             "exported {} (inactive {} active {} fin/rst {} evicted {} flushed {}) peak {} | fragments {} "
             "(first {} later {} matched {} held {} held-matched {} orphaned {} table-evicted {} id-reused {}) | "
             "memory {:.1f} MiB | {:.3f} s, {:.0f} packets/s\n",
             s.packets, s.ip_packets, s.ip_bytes, s.non_ip, s.decode_errors, s.truncated_l4, s.flows_created,
             s.flows_exported, s.ended_inactive, s.ended_active, s.ended_tcp, s.evicted, s.flushed, s.peak_flows,
             s.fragments, s.first_fragments, s.later_fragments, s.later_matched, s.later_held, s.held_matched,
             s.orphan_fragments, s.fragment_table_evicted, s.fragment_ids_reused,
             static_cast<double>(m.memory_bytes()) / (1 << 20), seconds,
             seconds > 0 ? static_cast<double>(s.packets) / seconds : 0.0);
}

// Reads the files one after the other as one stream of packets, at full speed;
// packet time drives the timeouts.
bool meter_files(MeterOptions& o, FlowMeter& meter) {
  bool ok = true;
  for (const auto& path : o.files) {
    std::string err;
    auto f = PcapFile::open(path, err);
    if (!f) {
      fmt::print(stderr, "omamori: {}\n", err);
      ok = false;
      continue;
    }
    bpf_program prog{};
    bool filtered = false;
    if (!o.bpf.empty()) {
      pcap_t* dead = pcap_open_dead(f->linktype(), 65535);
      int crc = dead ? pcap_compile(dead, &prog, o.bpf.c_str(), 1, PCAP_NETMASK_UNKNOWN) : -1;
      std::string why = dead ? pcap_geterr(dead) : "cannot compile";
      if (dead) pcap_close(dead);
      if (crc != 0) throw CommandError(kUsage, fmt::format("--bpf '{}' ({}): {}", o.bpf, path, why));
      filtered = true;
    }
    CapturedPacket pkt;
    while (f->next(pkt)) {
      if (filtered) {
        pcap_pkthdr h{};
        h.ts.tv_sec = pkt.ts_us / 1000000;
        h.ts.tv_usec = pkt.ts_us % 1000000;
        h.caplen = pkt.caplen;
        h.len = pkt.len;
        if (!pcap_offline_filter(&prog, &h, pkt.data)) continue;
      }
      meter.advance(pkt.ts);
      meter.add_packet(f->linktype(), pkt);
    }
    if (filtered) pcap_freecode(&prog);
    if (!f->error().empty()) {
      fmt::print(stderr, "omamori: {}\n", f->error());
      ok = false;
    }
  }
  return ok;
}

struct LiveCtx {
  FlowMeter* meter;
  int link;
};

void on_packet(u_char* user, const pcap_pkthdr* h, const u_char* data) {
  auto* ctx = reinterpret_cast<LiveCtx*>(user);
  CapturedPacket p;
  p.ts_us = static_cast<int64_t>(h->ts.tv_sec) * 1000000 + h->ts.tv_usec;
  p.ts = p.ts_us / 1000;
  p.caplen = h->caplen;
  p.len = h->len;
  p.data = data;
  ctx->meter->add_packet(ctx->link, p);
}

// Captures until SIGINT/SIGTERM; the wall clock drives the timeouts.
bool meter_live(MeterOptions& o, FlowMeter& meter) {
  char ebuf[PCAP_ERRBUF_SIZE] = {0};
  pcap_t* h = pcap_create(o.interface.c_str(), ebuf);
  if (!h) throw CommandError(kFailure, fmt::format("--interface {}: {}", o.interface, ebuf));
  struct Closer {
    pcap_t* h;
    ~Closer() { pcap_close(h); }
  } closer{h};
  pcap_set_snaplen(h, o.snaplen);
  pcap_set_promisc(h, o.promisc ? 1 : 0);
  pcap_set_timeout(h, 100);
  pcap_set_buffer_size(h, o.buffer_mb << 20);
  int rc = pcap_activate(h);
  if (rc < 0) throw CommandError(kFailure, fmt::format("--interface {}: {}", o.interface, pcap_geterr(h)));
  if (rc > 0) spdlog::warn("--interface {}: {}", o.interface, pcap_geterr(h));
  if (!o.bpf.empty()) {
    bpf_program prog{};
    if (pcap_compile(h, &prog, o.bpf.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
      throw CommandError(kUsage, fmt::format("--bpf '{}': {}", o.bpf, pcap_geterr(h)));
    int frc = pcap_setfilter(h, &prog);
    pcap_freecode(&prog);
    if (frc != 0) throw CommandError(kFailure, fmt::format("--bpf '{}': {}", o.bpf, pcap_geterr(h)));
  }
  if (pcap_setnonblock(h, 1, ebuf) != 0) throw CommandError(kFailure, fmt::format("pcap_setnonblock: {}", ebuf));
  int fd = pcap_get_selectable_fd(h);
  LiveCtx ctx{&meter, pcap_datalink(h)};
  spdlog::info("metering {} (link type {})", o.interface, ctx.link);

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns at once on a signal
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  bool ok = true;
  TimeMs last_tick = 0;
  while (!g_stop) {
    pollfd pfd{fd, POLLIN, 0};
    int pr = poll(&pfd, 1, 100);
    if (pr < 0 && errno != EINTR) {
      fmt::print(stderr, "omamori: poll: {}\n", std::strerror(errno));
      ok = false;
      break;
    }
    if (pr > 0) {
      int n = pcap_dispatch(h, -1, on_packet, reinterpret_cast<u_char*>(&ctx));
      if (n == PCAP_ERROR) {
        fmt::print(stderr, "omamori: capture on {}: {}\n", o.interface, pcap_geterr(h));
        ok = false;
        break;
      }
    }
    TimeMs now = now_ms();
    if (now - last_tick >= 250) {
      meter.advance(now);
      o.out.flush();
      last_tick = now;
    }
  }
  // Drain what the kernel already holds, then report its drops.
  pcap_dispatch(h, -1, on_packet, reinterpret_cast<u_char*>(&ctx));
  pcap_stat ps{};
  if (pcap_stats(h, &ps) == 0) {
    if (o.stats || ps.ps_drop || ps.ps_ifdrop)
      fmt::print(stderr, "capture {}: received {} dropped-by-kernel {} dropped-by-interface {}\n", o.interface,
                 ps.ps_recv, ps.ps_drop, ps.ps_ifdrop);
  }
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  return ok;
}

void run_meter(MeterOptions& o) {
  if (o.files.empty() == o.interface.empty())
    throw CommandError(kUsage, "flows meter: give pcap files or --interface (one of them)");
  FlowSink& sink = o.out.open();
  FlowMeter meter(config_from(o), sink);
  auto t0 = std::chrono::steady_clock::now();
  bool ok = o.interface.empty() ? meter_files(o, meter) : meter_live(o, meter);
  meter.flush();
  o.out.finish();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (o.stats) print_stats(meter, secs);
  report_errors("meter", meter.errors(), false);
  if (!ok)
    exit_code() = kFailure;
  else if (meter.errors().total() > 0)
    exit_code() = kDataErrors;
}

}  // namespace

void register_flows_meter(CLI::App& flows) {
  auto o = std::make_shared<MeterOptions>();
  auto* cmd = flows.add_subcommand("meter", "Turn raw traffic (pcap files or a live interface) into flows");
  cmd->add_option("files", o->files,
                  "pcap or pcapng files of raw traffic, read in order as one stream ('-' for stdin)");
  cmd->add_option("-i,--interface", o->interface, "Capture live on this interface (Ctrl-C or SIGTERM ends, flushing)");
  cmd->add_option("--bpf", o->bpf, "BPF capture filter, e.g. 'not port 22' (files and live)");
  cmd->add_flag("--promisc", o->promisc, "Live: put the interface in promiscuous mode");
  cmd->add_option("--snaplen", o->snaplen, "Live: bytes captured per packet (headers are enough)")
      ->check(CLI::Range(64, 65535))
      ->capture_default_str();
  cmd->add_option("--buffer-mb", o->buffer_mb, "Live: kernel capture buffer in MiB")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--active", o->active, "Active timeout in seconds: long flows are reported in pieces this long")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--inactive", o->inactive, "Inactive timeout in seconds: a flow idle this long ends")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--fragment-timeout", o->fragment_timeout,
                  "Seconds a fragment id is remembered to give later fragments their ports")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-flows", o->max_flows, "Flows held at once; when full the least recently seen is exported")
      ->check(CLI::Range(1u, 1u << 30))
      ->capture_default_str();
  cmd->add_option("--max-fragments", o->max_fragments, "Fragment ids remembered at once")
      ->check(CLI::Range(1u, 1u << 26))
      ->capture_default_str();
  cmd->add_flag("--no-decapsulate", o->no_decap,
                "Meter GRE, IP-in-IP and VXLAN packets as they are, not the inner packet");
  cmd->add_flag("--no-fin-rst-end", o->no_fin_rst, "Do not end TCP flows at FIN or RST (as nfpcapd 1.7)");
  cmd->add_flag("--stats", o->stats, "Print meter statistics to stderr");
  o->out.add_to(cmd);
  cmd->callback([o] { run_meter(*o); });
}

}  // namespace omamori::cli
