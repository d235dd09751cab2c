// Printing DNS events: an aligned table for people, JSON lines for programs.
//
// JSON keys: time (RFC 3339 UTC, null when the source had none), client,
// client_port, resolver (null when unknown), resolver_port, transport ("udp",
// "tcp", "dot", "doh", ...; null when unknown), qname, qtype (mnemonic or
// TYPEnnn), rcode (mnemonic; null for queries), answers (addresses and names, in
// answer order), response (bool).
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <optional>
#include <string_view>

#include "ingest/dns/event.hpp"

namespace omamori {

enum class DnsOutputFormat { Table, Jsonl };
std::optional<DnsOutputFormat> parse_dns_output_format(std::string_view s);

class DnsEventWriter final : public DnsSink {
 public:
  DnsEventWriter(std::FILE* out, DnsOutputFormat f) : out_(out), fmt_(f) {}
  ~DnsEventWriter() override { flush(); }
  void on_dns(const DnsEvent& ev) override;
  void flush();
  uint64_t count() const { return count_; }

  // Appends one event in the given format (with a trailing newline) to buf.
  static void format(const DnsEvent& ev, DnsOutputFormat f, fmt::memory_buffer& buf);

 private:
  std::FILE* out_;
  DnsOutputFormat fmt_;
  fmt::memory_buffer buf_;
  bool header_done_ = false;
  uint64_t count_ = 0;
};

// Appends s as a JSON string literal (with quotes).
void append_json_string(fmt::memory_buffer& buf, std::string_view s);

}  // namespace omamori
