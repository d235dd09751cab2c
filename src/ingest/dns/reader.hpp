// Reading DNS events from any supported file: pcap/pcapng, dnstap Frame
// Streams, BIND and Unbound query logs, Zeek dns.log (TSV or JSON), plain or
// gzip-compressed text. The format is recognised from the content.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/counters.hpp"
#include "ingest/dns/dnstap.hpp"
#include "ingest/dns/event.hpp"
#include "ingest/dns/logs.hpp"
#include "ingest/dns/pcap_dns.hpp"

namespace omamori {

enum class DnsInputFormat { Auto, Pcap, Dnstap, Bind, Unbound, ZeekTsv, ZeekJson };

const char* dns_input_format_name(DnsInputFormat f);
// "auto", "pcap", "dnstap", "bind", "unbound", "zeek", "zeek-json".
std::optional<DnsInputFormat> parse_dns_input_format(std::string_view s);

// Looks at the first bytes (and, for text, the first lines) of a file. Returns
// Auto with err set when the content is not recognised.
DnsInputFormat detect_dns_input_format(const std::string& path, std::string& err);

struct DnsReadStats {
  uint64_t files = 0;
  uint64_t packets = 0;        // pcap
  uint64_t frames = 0;         // dnstap
  uint64_t lines = 0;          // text logs
  uint64_t lines_skipped = 0;  // not DNS lines (headers, other messages)
  uint64_t lines_malformed = 0;
  uint64_t events = 0;
};

class DnsFileReader {
 public:
  explicit DnsFileReader(DnsPcapOptions popt = {}, LogOptions lopt = {});
  ~DnsFileReader();

  // Reads one file, calling sink for each event. Returns false (err set) when
  // the file cannot be opened or its format is not recognised.
  bool read(const std::string& path, DnsInputFormat fmt, DnsSink& sink, std::string& err);
  // End of all input (TCP streams still open are counted).
  void finish();

  const DnsReadStats& stats() const { return stats_; }
  // DNS data problems by reason, one counter set per input kind.
  const ReasonCounters& pcap_errors() const { return pcap_.errors(); }
  const ReasonCounters& packet_errors() const { return pcap_.packet_errors(); }
  const ReasonCounters& dnstap_errors() const { return dnstap_.errors(); }
  const ReasonCounters& log_errors() const { return log_errors_; }
  uint64_t error_total() const;
  const DnsPacketDecoder& pcap() const { return pcap_; }
  const DnstapDecoder& dnstap() const { return dnstap_; }

 private:
  bool read_pcap(const std::string& path, DnsSink& sink, std::string& err);
  bool read_lines(const std::string& path, DnsInputFormat fmt, DnsSink& sink, std::string& err);

  LogOptions lopt_;
  DnsPacketDecoder pcap_;
  DnstapDecoder dnstap_;
  ReasonCounters log_errors_;
  DnsReadStats stats_;
  std::unique_ptr<DnsEvent> ev_;
};

}  // namespace omamori
