#include "ingest/dns/reader.hpp"

#include <zlib.h>

#include <cstring>

#include "core/bytes.hpp"
#include "ingest/pcap/pcap_file.hpp"

namespace omamori {

const char* dns_input_format_name(DnsInputFormat f) {
  switch (f) {
    case DnsInputFormat::Pcap:
      return "pcap";
    case DnsInputFormat::Dnstap:
      return "dnstap";
    case DnsInputFormat::Bind:
      return "bind";
    case DnsInputFormat::Unbound:
      return "unbound";
    case DnsInputFormat::ZeekTsv:
      return "zeek";
    case DnsInputFormat::ZeekJson:
      return "zeek-json";
    default:
      return "auto";
  }
}

std::optional<DnsInputFormat> parse_dns_input_format(std::string_view s) {
  for (auto f : {DnsInputFormat::Auto, DnsInputFormat::Pcap, DnsInputFormat::Dnstap, DnsInputFormat::Bind,
                 DnsInputFormat::Unbound, DnsInputFormat::ZeekTsv, DnsInputFormat::ZeekJson})
    if (s == dns_input_format_name(f)) return f;
  if (s == "pcapng") return DnsInputFormat::Pcap;
  if (s == "zeek-tsv") return DnsInputFormat::ZeekTsv;
  return std::nullopt;
}

DnsInputFormat detect_dns_input_format(const std::string& path, std::string& err) {
  if (path == "-") {
    err = "standard input: give --input-format (the format cannot be detected on a pipe)";
    return DnsInputFormat::Auto;
  }
  // Raw magic first (pcap cannot be read through gzip).
  uint8_t head[16] = {};
  size_t got = 0;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    got = std::fread(head, 1, sizeof head, f);
    std::fclose(f);
  } else {
    err = path + ": " + std::strerror(errno);
    return DnsInputFormat::Auto;
  }
  if (got >= 4) {
    uint32_t m = load_be32(head);
    if (m == 0xa1b2c3d4 || m == 0xd4c3b2a1 || m == 0xa1b23c4d || m == 0x4d3cb2a1 || m == 0x0a0d0d0a)
      return DnsInputFormat::Pcap;
  }
  if (got >= 12 && load_be32(head) == 0 && load_be32(head + 8) == 2) return DnsInputFormat::Dnstap;
  if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
    // Peek inside: a compressed pcap is not supported by libpcap.
    gzFile gz = gzopen(path.c_str(), "rb");
    uint8_t inner[4] = {};
    int n = gz ? gzread(gz, inner, 4) : 0;
    if (gz) gzclose(gz);
    if (n == 4) {
      uint32_t m = load_be32(inner);
      if (m == 0xa1b2c3d4 || m == 0xd4c3b2a1 || m == 0xa1b23c4d || m == 0x4d3cb2a1 || m == 0x0a0d0d0a) {
        err = path + ": gzip-compressed pcap; decompress it first (zcat FILE | omamori dns read --input-format pcap -)";
        return DnsInputFormat::Auto;
      }
    }
  }
  auto lr = LineReader::open(path, err);
  if (!lr) return DnsInputFormat::Auto;
  std::string_view line;
  for (int i = 0; i < 200 && lr->next(line); ++i) {
    if (line.empty()) continue;
    if (line.starts_with("#separator") || line.starts_with("#fields")) return DnsInputFormat::ZeekTsv;
    if (line[0] == '{') return DnsInputFormat::ZeekJson;
    size_t c = line.find("client ");
    if (c != std::string_view::npos && (line.find(" query: ", c) != std::string_view::npos ||
                                        line.find(" query failed (", c) != std::string_view::npos))
      return DnsInputFormat::Bind;
    if (line.find("unbound") != std::string_view::npos &&
        (line.find(" info: ") != std::string_view::npos || line.find(" query: ") != std::string_view::npos ||
         line.find(" reply: ") != std::string_view::npos))
      return DnsInputFormat::Unbound;
  }
  err = path +
        ": not a recognised DNS input (pcap, dnstap, BIND/Unbound query log, Zeek dns.log); use "
        "--input-format";
  return DnsInputFormat::Auto;
}

DnsFileReader::DnsFileReader(DnsPcapOptions popt, LogOptions lopt)
    : lopt_(lopt), pcap_(std::move(popt)), ev_(std::make_unique<DnsEvent>()) {}
DnsFileReader::~DnsFileReader() = default;

uint64_t DnsFileReader::error_total() const {
  return pcap_.errors().total() + dnstap_.errors().total() + log_errors_.total();
}

namespace {
class CountingSink final : public DnsSink {
 public:
  CountingSink(DnsSink& next, uint64_t& n) : next_(next), n_(n) {}
  void on_dns(const DnsEvent& ev) override {
    ++n_;
    next_.on_dns(ev);
  }

 private:
  DnsSink& next_;
  uint64_t& n_;
};
}  // namespace

bool DnsFileReader::read(const std::string& path, DnsInputFormat fmt, DnsSink& sink, std::string& err) {
  if (fmt == DnsInputFormat::Auto) {
    fmt = detect_dns_input_format(path, err);
    if (fmt == DnsInputFormat::Auto) return false;
  }
  ++stats_.files;
  CountingSink counting(sink, stats_.events);
  switch (fmt) {
    case DnsInputFormat::Pcap:
      return read_pcap(path, counting, err);
    case DnsInputFormat::Dnstap: {
      uint64_t before = dnstap_.stats().frames;
      bool ok = read_dnstap_file(path, dnstap_, counting, err);
      stats_.frames += dnstap_.stats().frames - before;
      return ok;
    }
    default:
      return read_lines(path, fmt, counting, err);
  }
}

bool DnsFileReader::read_pcap(const std::string& path, DnsSink& sink, std::string& err) {
  auto f = PcapFile::open(path, err);
  if (!f) return false;
  CapturedPacket pkt;
  while (f->next(pkt)) {
    ++stats_.packets;
    pcap_.packet(f->linktype(), pkt.data, pkt.caplen, pkt.ts, sink);
  }
  if (!f->error().empty()) {
    err = f->error();
    return false;
  }
  return true;
}

bool DnsFileReader::read_lines(const std::string& path, DnsInputFormat fmt, DnsSink& sink, std::string& err) {
  auto lr = LineReader::open(path, err);
  if (!lr) return false;
  BindQueryLogParser bind(lopt_);
  UnboundLogParser unbound(lopt_);
  ZeekDnsTsvParser zeek;
  ZeekDnsJsonParser zeek_json;
  std::string_view line;
  DnsEvent& ev = *ev_;
  while (lr->next(line)) {
    ++stats_.lines;
    LineResult r;
    switch (fmt) {
      case DnsInputFormat::Bind:
        r = bind.parse(line, ev, log_errors_);
        break;
      case DnsInputFormat::Unbound:
        r = unbound.parse(line, ev, log_errors_);
        break;
      case DnsInputFormat::ZeekTsv:
        r = zeek.parse(line, ev, log_errors_);
        break;
      default:
        r = zeek_json.parse(line, ev, log_errors_);
        break;
    }
    if (r == LineResult::Event)
      sink.on_dns(ev);
    else if (r == LineResult::Skip)
      ++stats_.lines_skipped;
    else
      ++stats_.lines_malformed;
  }
  if (lr->too_long()) log_errors_.add("line longer than 1 MiB", lr->too_long());
  if (!lr->error().empty()) {
    err = path + ": " + lr->error();
    return false;
  }
  return true;
}

void DnsFileReader::finish() {
  pcap_.finish();
}

}  // namespace omamori
