// `omamori dns read FILE...` and `omamori dns listen`: DNS events from pcaps,
// dnstap files and sockets, and query logs (see docs/dns.md).
#include <fmt/format.h>

#include <csignal>
#include <cstring>

#include "cli/common.hpp"
#include "ingest/dns/dnstap.hpp"
#include "ingest/dns/dnstap_listener.hpp"
#include "ingest/dns/format.hpp"
#include "ingest/dns/reader.hpp"

namespace omamori::cli {

namespace {

std::FILE* open_output(const std::string& path) {
  if (path == "-") return stdout;
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw CommandError(kFailure, "cannot write " + path + ": " + std::strerror(errno));
  return f;
}

DnsOutputFormat output_format(const std::string& s) {
  auto f = parse_dns_output_format(s);
  if (!f) throw CommandError(kUsage, "unknown output format " + s);
  return *f;
}

struct DnsReadOptions {
  std::vector<std::string> files;
  std::string input_format = "auto";
  std::vector<uint16_t> ports;
  std::string format = "table";
  std::string output = "-";
  int year = 0;
  bool stats = false;
};

void run_read(DnsReadOptions& o) {
  auto infmt = parse_dns_input_format(o.input_format);
  if (!infmt) throw CommandError(kUsage, "unknown input format " + o.input_format);
  DnsOutputFormat outfmt = output_format(o.format);
  std::FILE* out = open_output(o.output);
  DnsPcapOptions popt;
  if (!o.ports.empty()) popt.ports = o.ports;
  LogOptions lopt;
  lopt.year = o.year;
  DnsFileReader reader(popt, lopt);
  bool failed = false;
  {
    DnsEventWriter writer(out, outfmt);
    for (const auto& path : o.files) {
      std::string err;
      if (!reader.read(path, *infmt, writer, err)) {
        fmt::print(stderr, "omamori: {}\n", err);
        failed = true;
      }
    }
    reader.finish();
    writer.flush();
  }
  if (out != stdout) std::fclose(out);
  if (o.stats) {
    const auto& s = reader.stats();
    const auto& ps = reader.pcap().stats();
    const auto& ws = reader.pcap().wire_stats();
    const auto& ds = reader.dnstap().stats();
    fmt::print(stderr,
               "files {} events {} | pcap: packets {} dns-packets {} udp-messages {} tcp-messages {} "
               "tcp-retransmitted {} tcp-out-of-order {} tcp-midstream {} fragments {} queries {} responses {} "
               "truncated-tc {} | dnstap: frames {} events {} | logs: lines {} skipped {} malformed {}\n",
               s.files, s.events, s.packets, ps.dns_packets, ps.udp_messages, ps.tcp_messages, ps.tcp_retransmitted,
               ps.tcp_out_of_order, ps.tcp_midstream, ps.fragments, ws.queries, ws.responses, ws.truncated_tc,
               ds.frames, ds.events, s.lines, s.lines_skipped, s.lines_malformed);
    report_errors("packets", reader.packet_errors(), false);
  }
  report_errors("dns", reader.pcap_errors(), false);
  report_errors("dnstap", reader.dnstap_errors(), false);
  report_errors("logs", reader.log_errors(), false);
  if (failed)
    exit_code() = kFailure;
  else if (reader.error_total() > 0)
    exit_code() = kDataErrors;
}

struct DnsListenOptions {
  std::string unix_path;
  std::string tcp;
  std::string format = "table";
  std::string output = "-";
  std::string socket_mode;
  bool stats = false;
};

DnstapListener* g_listener = nullptr;
extern "C" void on_stop_signal(int) {
  if (g_listener) g_listener->stop();
}

// Live output: every event is written out at once.
class FlushingSink final : public DnsSink {
 public:
  FlushingSink(DnsEventWriter& w, std::FILE* f) : w_(w), f_(f) {}
  void on_dns(const DnsEvent& ev) override {
    w_.on_dns(ev);
    w_.flush();
    std::fflush(f_);
  }

 private:
  DnsEventWriter& w_;
  std::FILE* f_;
};

void run_listen(DnsListenOptions& o) {
  if (o.unix_path.empty() == o.tcp.empty()) throw CommandError(kUsage, "give exactly one of --unix or --tcp");
  DnsOutputFormat outfmt = output_format(o.format);
  DnstapListenerOptions lopt;
  if (!o.socket_mode.empty()) {
    try {
      lopt.socket_mode = std::stoi(o.socket_mode, nullptr, 8);
    } catch (const std::exception&) {
      throw CommandError(kUsage, "bad --socket-mode " + o.socket_mode + " (octal, e.g. 0660)");
    }
  }
  std::string err;
  auto l =
      o.unix_path.empty() ? DnstapListener::tcp(o.tcp, err, lopt) : DnstapListener::unix_socket(o.unix_path, err, lopt);
  if (!l) throw CommandError(kFailure, err);
  if (!o.tcp.empty()) fmt::print(stderr, "omamori: dnstap listening on {} (port {})\n", o.tcp, l->port());
  std::FILE* out = open_output(o.output);
  DnsEventWriter writer(out, outfmt);
  FlushingSink sink(writer, out);
  g_listener = l.get();
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  l->run(sink);
  g_listener = nullptr;
  writer.flush();
  if (out != stdout) std::fclose(out);
  if (o.stats) {
    const auto& ds = l->decoder().stats();
    fmt::print(stderr, "connections {} finished {} frames {} events {} | by type:", l->connections(), l->finished(),
               l->frames(), l->events());
    for (uint8_t t = 1; t < 15; ++t)
      if (ds.by_type[t]) fmt::print(stderr, " {} {}", dnstap_type_name(t), ds.by_type[t]);
    fmt::print(stderr, "\n");
  }
  report_errors("dnstap", l->errors(), false);
  report_errors("dnstap", l->decoder().errors(), false);
  if (l->errors().total() + l->decoder().errors().total() > 0) exit_code() = kDataErrors;
}

}  // namespace

void register_dns(CLI::App& app) {
  auto* dns = app.add_subcommand("dns", "DNS telemetry: pcaps, dnstap, resolver query logs");
  dns->require_subcommand(1);

  auto ro = std::make_shared<DnsReadOptions>();
  auto* read = dns->add_subcommand(
      "read",
      "Print the DNS queries and responses in pcap/pcapng captures, dnstap files, BIND or Unbound query "
      "logs and Zeek dns.log files (TSV or JSON, gzip accepted)");
  read->add_option("files", ro->files, "Input files ('-' for standard input, with --input-format)")->required();
  read->add_option("--input-format", ro->input_format,
                   "auto, pcap, dnstap, bind, unbound, zeek, zeek-json (auto: recognised from the content)")
      ->capture_default_str();
  read->add_option("--port", ro->ports, "DNS server ports in pcaps (default 53; repeat for several)");
  read->add_option("--year", ro->year,
                   "Year for log timestamps that have none (syslog, log-time-ascii; default: this year)");
  read->add_option("-f,--format", ro->format, "Output format: table or jsonl")
      ->check(CLI::IsMember({"table", "jsonl"}))
      ->capture_default_str();
  read->add_option("-o,--output", ro->output, "Write events to this file instead of standard output");
  read->add_flag("--stats", ro->stats, "Print reader statistics to stderr");
  read->callback([ro] { run_read(*ro); });

  auto lo = std::make_shared<DnsListenOptions>();
  auto* listen = dns->add_subcommand(
      "listen",
      "Receive dnstap from resolvers (Unbound, BIND, Knot, dnsdist) on a Unix or TCP socket and print the "
      "DNS events until interrupted");
  listen->add_option("--unix", lo->unix_path, "Unix socket path to create (e.g. Unbound dnstap-socket-path)");
  listen->add_option("--tcp", lo->tcp, "ADDR:PORT to listen on (e.g. Unbound dnstap-ip)");
  listen->add_option("--socket-mode", lo->socket_mode, "Permissions of the Unix socket, octal (e.g. 0660)");
  listen->add_option("-f,--format", lo->format, "Output format: table or jsonl")
      ->check(CLI::IsMember({"table", "jsonl"}))
      ->capture_default_str();
  listen->add_option("-o,--output", lo->output, "Write events to this file instead of standard output");
  listen->add_flag("--stats", lo->stats, "Print listener statistics to stderr at exit");
  listen->callback([lo] { run_listen(*lo); });
}

}  // namespace omamori::cli
