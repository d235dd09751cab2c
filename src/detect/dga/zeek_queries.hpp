// A minimal reader of Zeek dns.log files (TSV, plain or gzip) for the DGA and
// NXDOMAIN evaluations and tests: timestamp, client, query, rcode.
//
// Evaluation-only: the general Zeek log ingestion lives in src/ingest/dns.
// Reads the `#fields` header for the column positions, so column order does
// not matter; rows with too few columns or an unparsable time/address are
// counted in `errors` and skipped.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/counters.hpp"
#include "core/ip.hpp"
#include "core/time.hpp"

namespace omamori::dga {

struct ZeekDnsRow {
  TimeMs ts = 0;
  IpAddr client;
  std::string_view query;  // "-" (unset) is given as empty
  int rcode = -1;          // -1: no response seen
};

bool read_zeek_dns(const std::string& path, const std::function<void(const ZeekDnsRow&)>& fn, ReasonCounters& errors,
                   std::string& err);

}  // namespace omamori::dga
