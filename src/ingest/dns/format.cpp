#include "ingest/dns/format.hpp"

#include <cstring>

#include "core/time.hpp"

namespace omamori {

std::optional<DnsOutputFormat> parse_dns_output_format(std::string_view s) {
  if (s == "table") return DnsOutputFormat::Table;
  if (s == "jsonl" || s == "json") return DnsOutputFormat::Jsonl;
  return std::nullopt;
}

void append_json_string(fmt::memory_buffer& buf, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  buf.push_back('"');
  // Event names are printable ASCII (see normalise_dns_name): usually nothing to escape.
  bool plain = std::memchr(s.data(), '\\', s.size()) == nullptr && std::memchr(s.data(), '"', s.size()) == nullptr;
  if (plain) {
    unsigned odd = 0;
    for (unsigned char c : s) odd |= static_cast<unsigned>(c < 0x20) | static_cast<unsigned>(c >= 0x7f);
    plain = odd == 0;
  }
  if (plain) {
    buf.append(s);
    buf.push_back('"');
    return;
  }
  size_t run = 0;
  auto flush_run = [&](size_t i) {
    if (i > run) buf.append(s.data() + run, s.data() + i);
  };
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) continue;
    flush_run(i);
    run = i + 1;
    if (c == '"' || c == '\\') {
      buf.push_back('\\');
      buf.push_back(static_cast<char>(c));
    } else {
      const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      buf.append(esc, esc + 6);
    }
  }
  flush_run(s.size());
  buf.push_back('"');
}

namespace {
void append_uint(fmt::memory_buffer& b, unsigned v) {
  fmt::format_int f(v);
  b.append(f.data(), f.data() + f.size());
}
void append_padded(fmt::memory_buffer& b, std::string_view v, size_t width) {
  b.append(v);
  for (size_t i = v.size(); i < width; ++i) b.push_back(' ');
}
void append_type(fmt::memory_buffer& b, uint16_t t) {
  if (const char* n = dns_type_name(t)) {
    b.append(std::string_view(n));
  } else {
    b.append(std::string_view("TYPE"));
    append_uint(b, t);
  }
}
void append_rcode(fmt::memory_buffer& b, uint16_t r) {
  if (const char* n = dns_rcode_name(r)) {
    b.append(std::string_view(n));
  } else {
    b.append(std::string_view("RCODE"));
    append_uint(b, r);
  }
}
// IPv4 is by far the most common and IpAddr::format goes through the C library.
void append_addr(fmt::memory_buffer& b, const IpAddr& a) {
  char tmp[64];
  size_t n;
  if (a.is_v4()) {
    const uint8_t* p = a.bytes() + 12;
    n = 0;
    for (int i = 0; i < 4; ++i) {
      unsigned v = p[i];
      if (i) tmp[n++] = '.';
      if (v >= 100) tmp[n++] = static_cast<char>('0' + v / 100);
      if (v >= 10) tmp[n++] = static_cast<char>('0' + v / 10 % 10);
      tmp[n++] = static_cast<char>('0' + v % 10);
    }
  } else {
    n = a.format(tmp);
  }
  b.append(tmp, tmp + n);
}
}  // namespace

void DnsEventWriter::format(const DnsEvent& ev, DnsOutputFormat f, fmt::memory_buffer& b) {
  char tbuf[32];
  if (f == DnsOutputFormat::Jsonl) {
    b.append(std::string_view("{\"time\":"));
    if (ev.time) {
      b.push_back('"');
      size_t n = format_rfc3339(ev.time, tbuf);
      b.append(tbuf, tbuf + n);
      b.push_back('"');
    } else {
      b.append(std::string_view("null"));
    }
    b.append(std::string_view(",\"client\":\""));
    append_addr(b, ev.client);
    b.append(std::string_view("\",\"client_port\":"));
    append_uint(b, ev.client_port);
    b.append(std::string_view(",\"resolver\":"));
    if (ev.resolver.empty()) {
      b.append(std::string_view("null"));
    } else {
      b.push_back('"');
      append_addr(b, ev.resolver);
      b.push_back('"');
    }
    b.append(std::string_view(",\"resolver_port\":"));
    append_uint(b, ev.resolver_port);
    b.append(std::string_view(",\"transport\":"));
    if (ev.transport == DnsTransport::Unknown) {
      b.append(std::string_view("null"));
    } else {
      b.push_back('"');
      b.append(std::string_view(dns_transport_name(ev.transport)));
      b.push_back('"');
    }
    b.append(std::string_view(",\"qname\":"));
    append_json_string(b, ev.qname());
    b.append(std::string_view(",\"qtype\":\""));
    append_type(b, ev.qtype);
    b.append(std::string_view("\",\"rcode\":"));
    if (ev.is_response()) {
      b.push_back('"');
      append_rcode(b, ev.rcode);
      b.push_back('"');
    } else {
      b.append(std::string_view("null"));
    }
    b.append(std::string_view(",\"answers\":["));
    bool first = true;
    for (const auto& a : ev.answers()) {
      if (!first) b.push_back(',');
      first = false;
      if (a.is_address()) {
        b.push_back('"');
        append_addr(b, a.addr);
        b.push_back('"');
      } else {
        append_json_string(b, ev.answer_name(a));
      }
    }
    b.append(std::string_view(ev.is_response() ? "],\"response\":true}\n" : "],\"response\":false}\n"));
    return;
  }
  // Table.
  if (ev.time) {
    size_t n = format_rfc3339(ev.time, tbuf);
    b.append(tbuf, tbuf + n);
  } else {
    b.append(std::string_view("-                       "));
  }
  fmt::memory_buffer col;
  append_addr(col, ev.client);
  b.push_back(' ');
  append_padded(b, std::string_view(col.data(), col.size()), 39);
  b.push_back(' ');
  col.clear();
  if (ev.resolver.empty())
    col.push_back('-');
  else
    append_addr(col, ev.resolver);
  append_padded(b, std::string_view(col.data(), col.size()), 39);
  b.append(std::string_view(ev.is_response() ? " R " : " Q "));
  col.clear();
  append_type(col, ev.qtype);
  append_padded(b, std::string_view(col.data(), col.size()), 6);
  b.push_back(' ');
  col.clear();
  if (ev.is_response())
    append_rcode(col, ev.rcode);
  else
    col.push_back('-');
  append_padded(b, std::string_view(col.data(), col.size()), 9);
  b.push_back(' ');
  b.append(ev.qname().empty() ? std::string_view("-") : ev.qname());
  bool first = true;
  for (const auto& a : ev.answers()) {
    b.append(std::string_view(first ? " -> " : ","));
    first = false;
    if (a.is_address())
      append_addr(b, a.addr);
    else
      b.append(ev.answer_name(a));
  }
  b.push_back('\n');
}

void DnsEventWriter::on_dns(const DnsEvent& ev) {
  if (fmt_ == DnsOutputFormat::Table && !header_done_) {
    fmt::format_to(std::back_inserter(buf_), "{:<24} {:<39} {:<39} {} {:<6} {:<9} {}\n", "time", "client", "resolver",
                   "Q", "qtype", "rcode", "qname -> answers");
    header_done_ = true;
  }
  format(ev, fmt_, buf_);
  ++count_;
  if (buf_.size() > 64 * 1024) flush();
}

void DnsEventWriter::flush() {
  if (buf_.size() == 0) return;
  std::fwrite(buf_.data(), 1, buf_.size(), out_);
  buf_.clear();
}

}  // namespace omamori
