#include "flow/format.hpp"

#include <iterator>

namespace omamori {

std::optional<OutputFormat> parse_output_format(std::string_view s) {
  if (s == "table") return OutputFormat::Table;
  if (s == "csv") return OutputFormat::Csv;
  if (s == "jsonl" || s == "json") return OutputFormat::Jsonl;
  return std::nullopt;
}

namespace {
void append_addr(fmt::memory_buffer& b, const IpAddr& a) {
  char tmp[64];
  size_t n = a.format(tmp);
  b.append(tmp, tmp + n);
}
void append_time(fmt::memory_buffer& b, TimeMs t) {
  char tmp[32];
  size_t n = format_rfc3339(t, tmp);
  b.append(tmp, tmp + n);
}
}  // namespace

void append_flow_json(fmt::memory_buffer& b, const FlowRecord& r) {
  auto out = std::back_inserter(b);
  b.append(std::string_view(R"({"start":")"));
  append_time(b, r.start);
  b.append(std::string_view(R"(","end":")"));
  append_time(b, r.end);
  b.append(std::string_view(R"(","src":")"));
  append_addr(b, r.src);
  b.append(std::string_view(R"(","dst":")"));
  append_addr(b, r.dst);
  fmt::format_to(out, R"(","sport":{},"dport":{},"proto":{},"tcp_flags":{},"packets":{},"bytes":{},"in_if":{},"out_if":{},"exporter":)",
                 r.sport, r.dport, r.proto, r.tcp_flags, r.packets, r.bytes, r.in_if, r.out_if);
  if (r.exporter.empty()) {
    b.append(std::string_view("null"));
  } else {
    b.push_back('"');
    append_addr(b, r.exporter);
    b.push_back('"');
  }
  fmt::format_to(out, R"(,"sampling_rate":{},"src_as":{},"dst_as":{}}})", r.sampling_rate, r.src_as, r.dst_as);
}

void FlowWriter::on_flow(const FlowRecord& r) {
  auto out = std::back_inserter(buf_);
  switch (fmt_) {
    case OutputFormat::Jsonl:
      append_flow_json(buf_, r);
      buf_.push_back('\n');
      break;
    case OutputFormat::Csv:
      if (!header_done_) {
        buf_.append(std::string_view(
            "start,end,src,dst,sport,dport,proto,tcp_flags,packets,bytes,in_if,out_if,exporter,sampling_rate,src_as,"
            "dst_as\n"));
        header_done_ = true;
      }
      append_time(buf_, r.start);
      buf_.push_back(',');
      append_time(buf_, r.end);
      buf_.push_back(',');
      append_addr(buf_, r.src);
      buf_.push_back(',');
      append_addr(buf_, r.dst);
      fmt::format_to(out, ",{},{},{},{},{},{},{},{},", r.sport, r.dport, r.proto, r.tcp_flags, r.packets, r.bytes,
                     r.in_if, r.out_if);
      if (!r.exporter.empty()) append_addr(buf_, r.exporter);
      fmt::format_to(out, ",{},{},{}\n", r.sampling_rate, r.src_as, r.dst_as);
      break;
    case OutputFormat::Table: {
      if (!header_done_) {
        fmt::format_to(out, "{:<24} {:>8} {:<39} {:>5} {:<39} {:>5} {:>5} {:>6} {:>10} {:>12} {:<15}\n", "start",
                       "dur_s", "src", "sport", "dst", "dport", "proto", "flags", "packets", "bytes", "exporter");
        header_done_ = true;
      }
      char ts[32], s[64], d[64], e[64];
      format_rfc3339(r.start, ts);
      r.src.format(s);
      r.dst.format(d);
      if (r.exporter.empty()) {
        e[0] = '-';
        e[1] = 0;
      } else {
        r.exporter.format(e);
      }
      char flags[7] = "......";
      static const char kF[] = "FSRPAU";
      for (int i = 0; i < 6; ++i)
        if (r.tcp_flags & (1 << i)) flags[i] = kF[i];
      fmt::format_to(out, "{:<24} {:>8.3f} {:<39} {:>5} {:<39} {:>5} {:>5} {:>6} {:>10} {:>12} {:<15}\n", ts,
                     static_cast<double>(r.end - r.start) / 1000.0, s, r.sport, d, r.dport, r.proto,
                     r.proto == 6 ? flags : "", r.packets, r.bytes, e);
      break;
    }
  }
  ++written_;
  if (buf_.size() > (1 << 16)) flush();
}

void FlowWriter::flush() {
  if (buf_.size()) {
    std::fwrite(buf_.data(), 1, buf_.size(), out_);
    buf_.clear();
  }
  std::fflush(out_);
}

}  // namespace omamori
