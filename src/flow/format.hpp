// Printing flow records: aligned table, CSV, or JSON lines.
//
// JSON keys: start, end (RFC 3339 UTC), src, dst, sport, dport, proto
// (number), tcp_flags, packets, bytes, in_if, out_if, exporter,
// sampling_rate, src_as, dst_as. CSV has the same columns in the same order
// with a header line. Formatting is hand-rolled (no fmt call per field) into
// a reusable 1 MiB buffer: no allocation per record once the buffer has grown.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "flow/record.hpp"

namespace omamori {

enum class OutputFormat { Table, Csv, Jsonl };
std::optional<OutputFormat> parse_output_format(std::string_view s);

class FlowWriter final : public FlowSink {
 public:
  FlowWriter(std::FILE* out, OutputFormat fmt) : out_(out), fmt_(fmt) {}
  ~FlowWriter() override { flush(); }
  void on_flow(const FlowRecord& r) override;
  // Writes the buffer out and flushes the stream.
  void flush();
  uint64_t written() const { return written_; }
  // Records are written out in chunks of about this size.
  static constexpr size_t kFlushBytes = 1 << 20;

 private:
  void flush_buffer();  // fwrite without fflush
  std::FILE* out_;
  OutputFormat fmt_;
  fmt::memory_buffer buf_;
  bool header_done_ = false;
  uint64_t written_ = 0;
};

// Appends the JSON object for r (no newline) to buf.
void append_flow_json(fmt::memory_buffer& buf, const FlowRecord& r);

}  // namespace omamori
