// libFuzzer target: every query-log line parser. The first byte picks the parser
// (BIND, Unbound, Zeek TSV, Zeek JSON, or all of them); the rest is split into lines.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "ingest/dns/logs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static auto ev = std::make_unique<omamori::DnsEvent>();
  omamori::ReasonCounters errors;
  omamori::BindQueryLogParser bind(omamori::LogOptions{2024});
  omamori::UnboundLogParser unbound(omamori::LogOptions{2024});
  omamori::ZeekDnsTsvParser zeek;
  static omamori::ZeekDnsJsonParser zeek_json;
  int which = data[0] % 5;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (which == 0 || which == 4) bind.parse(line, *ev, errors);
    if (which == 1 || which == 4) unbound.parse(line, *ev, errors);
    if (which == 2 || which == 4) zeek.parse(line, *ev, errors);
    if (which == 3 || which == 4) zeek_json.parse(line, *ev, errors);
    omamori::TimeMs t;
    omamori::parse_log_time_prefix(line, 2024, t);
  }
  return 0;
}
