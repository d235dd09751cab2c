// Readers of accounting and CGNAT logs written by other systems:
//  - FreeRADIUS detail files (one accounting request per record);
//  - radacct CSV exports (the FreeRADIUS SQL schema's radacct table, one session per row);
//  - CGNAT port-block allocation logs: a generic CSV and Juniper-style
//    JSERVICES_NAT_PORT_BLOCK_* syslog lines (see docs/attribution.md).
// Every reader takes text from files an attacker may shape: a bad record is
// counted by reason (with the first messages kept, with line numbers) and
// skipped; the rest of the file is still read.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "attribution/session.hpp"
#include "core/counters.hpp"

namespace omamori {

struct ReadErrors {
  ReasonCounters counts;
  std::vector<std::string> messages;  // the first kMaxMessages, "LINE: reason"
  static constexpr size_t kMaxMessages = 20;
  void add(uint64_t line, const char* reason, std::string_view detail = {});
  uint64_t total() const { return counts.total(); }
};

struct ReaderOptions {
  SubscriberAttr subscriber = SubscriberAttr::kUserName;
  IpAddr cgnat_box;  // the CGNAT device named in port-block rows (the logs do not always say)
};

// FreeRADIUS detail file. Returns the number of events delivered.
uint64_t read_detail(std::string_view text, const ReaderOptions& o, const std::function<void(const AcctEvent&)>& on,
                     ReadErrors& errors);

// radacct CSV export with a header row naming the columns. Returns rows delivered.
uint64_t read_radacct(std::string_view text, const ReaderOptions& o, const std::function<void(const SessionRow&)>& on,
                      ReadErrors& errors);

// CGNAT port-block log (generic CSV or JSERVICES_NAT_PORT_BLOCK_* syslog, per line).
uint64_t read_cgnat(std::string_view text, const ReaderOptions& o, const std::function<void(const PortBlockEvent&)>& on,
                    ReadErrors& errors);

namespace reader_detail {
std::string_view trim(std::string_view s);
// One CSV record (RFC 4180 quoting) starting at pos; advances pos past its
// line end, counting newlines (also those inside quotes) in line.
bool csv_record(std::string_view text, size_t& pos, char delim, std::vector<std::string>& fields, uint64_t& line);
// Times as exported by databases: RFC 3339, "YYYY-MM-DD HH:MM:SS[.fff][+HH[:MM]]"
// (no zone: UTC), epoch seconds. Empty, NULL and \N are "no time" (returns true, t = 0).
bool parse_db_time(std::string_view s, TimeMs& t);
// An address as databases print it: "a.b.c.d", "a.b.c.d/32", "x::y/128".
std::optional<IpAddr> parse_host(std::string_view s);
}  // namespace reader_detail

}  // namespace omamori
