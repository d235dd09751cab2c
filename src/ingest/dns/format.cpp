#include "ingest/dns/format.hpp"

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
void append_type(fmt::memory_buffer& b, uint16_t t) {
  if (const char* n = dns_type_name(t))
    b.append(std::string_view(n));
  else
    fmt::format_to(std::back_inserter(b), "TYPE{}", t);
}
void append_rcode(fmt::memory_buffer& b, uint16_t r) {
  if (const char* n = dns_rcode_name(r))
    b.append(std::string_view(n));
  else
    fmt::format_to(std::back_inserter(b), "RCODE{}", r);
}
void append_addr(fmt::memory_buffer& b, const IpAddr& a) {
  char tmp[64];
  size_t n = a.format(tmp);
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
    fmt::format_to(std::back_inserter(b), "\",\"client_port\":{},\"resolver\":", ev.client_port);
    if (ev.resolver.empty()) {
      b.append(std::string_view("null"));
    } else {
      b.push_back('"');
      append_addr(b, ev.resolver);
      b.push_back('"');
    }
    fmt::format_to(std::back_inserter(b), ",\"resolver_port\":{},\"transport\":", ev.resolver_port);
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
  char abuf[64];
  size_t n = ev.client.format(abuf);
  fmt::format_to(std::back_inserter(b), " {:<39}", std::string_view(abuf, n));
  if (ev.resolver.empty()) {
    fmt::format_to(std::back_inserter(b), " {:<39}", "-");
  } else {
    n = ev.resolver.format(abuf);
    fmt::format_to(std::back_inserter(b), " {:<39}", std::string_view(abuf, n));
  }
  b.append(std::string_view(ev.is_response() ? " R " : " Q "));
  fmt::memory_buffer t;
  append_type(t, ev.qtype);
  fmt::format_to(std::back_inserter(b), "{:<6} ", std::string_view(t.data(), t.size()));
  if (ev.is_response()) {
    fmt::memory_buffer r;
    append_rcode(r, ev.rcode);
    fmt::format_to(std::back_inserter(b), "{:<9} ", std::string_view(r.data(), r.size()));
  } else {
    b.append(std::string_view("-         "));
  }
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
