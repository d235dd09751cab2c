// DNS query logs as text, one line at a time, into DnsEvent:
//
//  - BIND query log ("client @0x.. 192.0.2.1#53421 (name): query: name IN A +E(0)K (192.0.2.53)"),
//    with or without the print-time / print-category / print-severity prefix, the
//    ISO 8601 time, a syslog prefix, and the "view NAME:" part; also BIND's
//    "query failed (RCODE) for name/IN/TYPE" lines, which become responses.
//  - Unbound log-queries and log-replies ("[1700000000] unbound[123:0] info: 192.0.2.1
//    example.com. A IN" and "... A IN NOERROR 0.000123 0 45"), with log-time-ascii,
//    log-tag-queryreply ("query:" / "reply:") or a syslog prefix.
//  - Zeek dns.log in TSV (driven by its #separator / #set_separator / #unset_field /
//    #fields header lines) and in JSON lines.
//
// Each parser says for every line whether it gave an event, was not a DNS line
// (other log messages, headers: skipped), or was malformed (counted by reason).
// Times without a year (syslog, log-time-ascii) take LogOptions::year; BIND's
// "dd-Mon-yyyy" times are local time of the server and are read as UTC.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/counters.hpp"
#include "ingest/dns/event.hpp"

namespace omamori {

enum class LineResult : uint8_t { Event, Skip, Malformed };

struct LogOptions {
  int year = 0;  // for timestamps without a year; 0 = the current UTC year
};

class BindQueryLogParser {
 public:
  explicit BindQueryLogParser(LogOptions o = {});
  LineResult parse(std::string_view line, DnsEvent& ev, ReasonCounters& errors);

 private:
  int year_;
};

class UnboundLogParser {
 public:
  explicit UnboundLogParser(LogOptions o = {});
  LineResult parse(std::string_view line, DnsEvent& ev, ReasonCounters& errors);

 private:
  int year_;
};

class ZeekDnsTsvParser {
 public:
  ZeekDnsTsvParser();
  LineResult parse(std::string_view line, DnsEvent& ev, ReasonCounters& errors);
  bool has_header() const { return !cols_.empty(); }

 private:
  enum Col : uint8_t {
    kTs,
    kOrigH,
    kOrigP,
    kRespH,
    kRespP,
    kProto,
    kTransId,
    kQuery,
    kQclass,
    kQclassName,
    kQtype,
    kQtypeName,
    kRcode,
    kRcodeName,
    kAA,
    kTC,
    kRD,
    kRA,
    kAnswers,
    kTTLs,
    kNumCols
  };
  std::string sep_ = "\t";
  std::string set_sep_ = ",";
  std::string unset_ = "-";
  std::string empty_ = "(empty)";
  std::vector<int8_t> cols_;  // column index -> Col, or -1
  std::vector<std::string_view> fields_;
};

class ZeekDnsJsonParser {
 public:
  ZeekDnsJsonParser();
  ~ZeekDnsJsonParser();
  LineResult parse(std::string_view line, DnsEvent& ev, ReasonCounters& errors);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Converts Zeek's "\xHH" escapes in a name to the \DDD form used everywhere
// else (and lower-cases, drops the trailing dot); returns false if it does not fit.
bool zeek_name_to_event_qname(std::string_view in, DnsEvent& ev);

// Reads text lines from a plain or gzip-compressed file ("-" = standard input).
class LineReader {
 public:
  static std::unique_ptr<LineReader> open(const std::string& path, std::string& err);
  ~LineReader();
  // Next line without its end-of-line; false at the end (or on a read error, see error()).
  bool next(std::string_view& line);
  uint64_t line_number() const { return lineno_; }
  uint64_t too_long() const { return too_long_; }  // lines over 1 MiB, skipped
  const std::string& error() const { return error_; }

 private:
  LineReader() = default;
  bool fill();
  void* gz_ = nullptr;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  uint64_t lineno_ = 0;
  uint64_t too_long_ = 0;
  std::string error_;
};

// Parses a time prefix at the start of s: "[1700000000]", "dd-Mon-yyyy hh:mm:ss[.mmm]",
// "yyyy-mm-ddThh:mm:ss[.mmm](Z|+hh:mm)", "Mon dd hh:mm:ss" (syslog, year given).
// On success sets t and returns the number of characters used, else 0.
size_t parse_log_time_prefix(std::string_view s, int year, TimeMs& t);

}  // namespace omamori
