#include "flow/format.hpp"

#include <cstring>
#include <iterator>

namespace omamori {

std::optional<OutputFormat> parse_output_format(std::string_view s) {
  if (s == "table") return OutputFormat::Table;
  if (s == "csv") return OutputFormat::Csv;
  if (s == "jsonl" || s == "json") return OutputFormat::Jsonl;
  return std::nullopt;
}

namespace {
// Hand-rolled text for the per-record path: no fmt call per field. The output
// is byte-identical to what the fmt format strings wrote before (flow_test
// FormatMatchesFmt checks it).
constexpr size_t kMaxRecordText = 1024;  // more than any record's line

const char kDigits2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

char* put_u64(char* o, uint64_t v) {
  char tmp[20];
  char* e = tmp + sizeof tmp;
  char* p = e;
  while (v >= 100) {
    unsigned i = unsigned(v % 100) * 2;
    v /= 100;
    *--p = kDigits2[i + 1];
    *--p = kDigits2[i];
  }
  if (v >= 10) {
    unsigned i = unsigned(v) * 2;
    *--p = kDigits2[i + 1];
    *--p = kDigits2[i];
  } else {
    *--p = char('0' + v);
  }
  size_t n = size_t(e - p);
  std::memcpy(o, p, n);
  return o + n;
}
char* put_str(char* o, std::string_view s) {
  std::memcpy(o, s.data(), s.size());
  return o + s.size();
}
char* put_addr(char* o, const IpAddr& a) { return o + a.format(o); }
char* put_time(char* o, TimeMs t) { return o + format_rfc3339(t, o); }
// fmt's {:<w} and {:>w}: pad with spaces, never cut.
char* pad_left_aligned(char* o, const char* s, size_t n, size_t w) {
  std::memcpy(o, s, n);
  o += n;
  if (n < w) {
    std::memset(o, ' ', w - n);
    o += w - n;
  }
  return o;
}
char* pad_right_aligned(char* o, const char* s, size_t n, size_t w) {
  if (n < w) {
    std::memset(o, ' ', w - n);
    o += w - n;
  }
  std::memcpy(o, s, n);
  return o + n;
}
char* u64_right(char* o, uint64_t v, size_t w) {
  char tmp[24];
  size_t n = size_t(put_u64(tmp, v) - tmp);
  return pad_right_aligned(o, tmp, n, w);
}
// {:.3f} of ms / 1000.0. Exact for |ms| < 2^53, where the double holds the
// millisecond count exactly and rounds to the same three decimals; larger
// values (hostile timestamps) go through fmt.
size_t duration_text(int64_t ms, char* out) {
  constexpr int64_t kExact = int64_t(1) << 50;
  if (ms <= -kExact || ms >= kExact) {
    auto r = fmt::format_to_n(out, 63, "{:.3f}", static_cast<double>(ms) / 1000.0);
    return r.size;
  }
  char* o = out;
  uint64_t a = ms < 0 ? uint64_t(-ms) : uint64_t(ms);
  if (ms < 0) *o++ = '-';
  o = put_u64(o, a / 1000);
  *o++ = '.';
  unsigned f = unsigned(a % 1000);
  *o++ = char('0' + f / 100);
  *o++ = kDigits2[(f % 100) * 2];
  *o++ = kDigits2[(f % 100) * 2 + 1];
  return size_t(o - out);
}

// Reserves room for one record at the end of b; returns where to write.
char* grow(fmt::memory_buffer& b) {
  size_t old = b.size();
  b.resize(old + kMaxRecordText);
  return b.data() + old;
}
void shrink_to(fmt::memory_buffer& b, const char* end) { b.resize(size_t(end - b.data())); }

char* json_record(char* o, const FlowRecord& r) {
  o = put_str(o, R"({"start":")");
  o = put_time(o, r.start);
  o = put_str(o, R"(","end":")");
  o = put_time(o, r.end);
  o = put_str(o, R"(","src":")");
  o = put_addr(o, r.src);
  o = put_str(o, R"(","dst":")");
  o = put_addr(o, r.dst);
  o = put_str(o, R"(","sport":)");
  o = put_u64(o, r.sport);
  o = put_str(o, R"(,"dport":)");
  o = put_u64(o, r.dport);
  o = put_str(o, R"(,"proto":)");
  o = put_u64(o, r.proto);
  o = put_str(o, R"(,"tcp_flags":)");
  o = put_u64(o, r.tcp_flags);
  o = put_str(o, R"(,"packets":)");
  o = put_u64(o, r.packets);
  o = put_str(o, R"(,"bytes":)");
  o = put_u64(o, r.bytes);
  o = put_str(o, R"(,"in_if":)");
  o = put_u64(o, r.in_if);
  o = put_str(o, R"(,"out_if":)");
  o = put_u64(o, r.out_if);
  o = put_str(o, R"(,"exporter":)");
  if (r.exporter.empty()) {
    o = put_str(o, "null");
  } else {
    *o++ = '"';
    o = put_addr(o, r.exporter);
    *o++ = '"';
  }
  o = put_str(o, R"(,"sampling_rate":)");
  o = put_u64(o, r.sampling_rate);
  o = put_str(o, R"(,"src_as":)");
  o = put_u64(o, r.src_as);
  o = put_str(o, R"(,"dst_as":)");
  o = put_u64(o, r.dst_as);
  *o++ = '}';
  return o;
}

char* csv_record(char* o, const FlowRecord& r) {
  o = put_time(o, r.start);
  *o++ = ',';
  o = put_time(o, r.end);
  *o++ = ',';
  o = put_addr(o, r.src);
  *o++ = ',';
  o = put_addr(o, r.dst);
  *o++ = ',';
  for (uint64_t v : {uint64_t(r.sport), uint64_t(r.dport), uint64_t(r.proto), uint64_t(r.tcp_flags), r.packets,
                     r.bytes, uint64_t(r.in_if), uint64_t(r.out_if)}) {
    o = put_u64(o, v);
    *o++ = ',';
  }
  if (!r.exporter.empty()) o = put_addr(o, r.exporter);
  *o++ = ',';
  o = put_u64(o, r.sampling_rate);
  *o++ = ',';
  o = put_u64(o, r.src_as);
  *o++ = ',';
  o = put_u64(o, r.dst_as);
  *o++ = '\n';
  return o;
}

// "{:<24} {:>8.3f} {:<39} {:>5} {:<39} {:>5} {:>5} {:>6} {:>10} {:>12} {:<15}\n"
char* table_record(char* o, const FlowRecord& r) {
  char tmp[64];
  size_t n = format_rfc3339(r.start, tmp);
  o = pad_left_aligned(o, tmp, n, 24);
  *o++ = ' ';
  n = duration_text(r.end - r.start, tmp);
  o = pad_right_aligned(o, tmp, n, 8);
  *o++ = ' ';
  n = r.src.format(tmp);
  o = pad_left_aligned(o, tmp, n, 39);
  *o++ = ' ';
  o = u64_right(o, r.sport, 5);
  *o++ = ' ';
  n = r.dst.format(tmp);
  o = pad_left_aligned(o, tmp, n, 39);
  *o++ = ' ';
  o = u64_right(o, r.dport, 5);
  *o++ = ' ';
  o = u64_right(o, r.proto, 5);
  *o++ = ' ';
  char flags[7] = "......";
  static const char kF[] = "FSRPAU";
  for (int i = 0; i < 6; ++i)
    if (r.tcp_flags & (1 << i)) flags[i] = kF[i];
  o = pad_right_aligned(o, flags, r.proto == 6 ? 6 : 0, 6);
  *o++ = ' ';
  o = u64_right(o, r.packets, 10);
  *o++ = ' ';
  o = u64_right(o, r.bytes, 12);
  *o++ = ' ';
  if (r.exporter.empty()) {
    tmp[0] = '-';
    n = 1;
  } else {
    n = r.exporter.format(tmp);
  }
  o = pad_left_aligned(o, tmp, n, 15);
  *o++ = '\n';
  return o;
}
}  // namespace

void append_flow_json(fmt::memory_buffer& b, const FlowRecord& r) {
  shrink_to(b, json_record(grow(b), r));
}

void FlowWriter::on_flow(const FlowRecord& r) {
  if (!header_done_) {
    header_done_ = true;
    if (fmt_ == OutputFormat::Csv)
      buf_.append(std::string_view(
          "start,end,src,dst,sport,dport,proto,tcp_flags,packets,bytes,in_if,out_if,exporter,sampling_rate,src_as,"
          "dst_as\n"));
    else if (fmt_ == OutputFormat::Table)
      fmt::format_to(std::back_inserter(buf_),
                     "{:<24} {:>8} {:<39} {:>5} {:<39} {:>5} {:>5} {:>6} {:>10} {:>12} {:<15}\n", "start", "dur_s",
                     "src", "sport", "dst", "dport", "proto", "flags", "packets", "bytes", "exporter");
  }
  char* o = grow(buf_);
  switch (fmt_) {
    case OutputFormat::Jsonl:
      o = json_record(o, r);
      *o++ = '\n';
      break;
    case OutputFormat::Csv:
      o = csv_record(o, r);
      break;
    case OutputFormat::Table:
      o = table_record(o, r);
      break;
  }
  shrink_to(buf_, o);
  ++written_;
  if (buf_.size() >= kFlushBytes) flush_buffer();
}

void FlowWriter::flush_buffer() {
  if (buf_.size()) {
    std::fwrite(buf_.data(), 1, buf_.size(), out_);
    buf_.clear();
  }
}

void FlowWriter::flush() {
  flush_buffer();
  std::fflush(out_);
}

}  // namespace omamori
