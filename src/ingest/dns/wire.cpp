#include "ingest/dns/wire.hpp"

#include <array>
#include <cstring>

#include "core/bytes.hpp"

namespace omamori {

namespace {

constexpr int kMaxPointerJumps = 127;
constexpr size_t kMaxWireName = 255;

// How each byte of a label prints: 0 plain (lower-cased), 1 backslash + char, 2 \DDD.
constexpr std::array<uint8_t, 256> make_escape_table() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = (c < 0x21 || c > 0x7e) ? 2 : 0;
  for (char c : {'"', '(', ')', '.', ';', '\\', '@', '$'}) t[static_cast<uint8_t>(c)] = 1;
  return t;
}
constexpr auto kEscape = make_escape_table();
constexpr std::array<uint8_t, 256> make_lower_table() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = static_cast<uint8_t>((c >= 'A' && c <= 'Z') ? c + 32 : c);
  return t;
}
constexpr auto kLower = make_lower_table();

// Walks a name without decoding it (owner names of records we do not keep).
// Stops at the terminating zero or the first pointer, which ends the name in place.
const char* skip_name(const uint8_t* msg, size_t len, size_t& off) {
  size_t pos = off;
  size_t wire = 0;
  const char* err = nullptr;
  for (;;) {
    if (pos >= len) return "name truncated";
    uint8_t l = msg[pos];
    if ((l & 0xc0) == 0xc0) {
      if (pos + 1 >= len) return "name truncated";
      size_t ptr = (static_cast<size_t>(l & 0x3f) << 8) | msg[pos + 1];
      if (ptr >= len) return "name pointer out of range";
      off = pos + 2;
      return err;
    }
    if (l & 0xc0) return "unsupported label type";
    wire += l + 1u;
    if (wire > kMaxWireName) err = "name too long";  // keep walking: the end is still known
    if (l == 0) {
      off = pos + 1;
      return err;
    }
    pos += l + 1u;
  }
}

}  // namespace

const char* decode_dns_name(const uint8_t* msg, size_t len, size_t& off, char* out, size_t cap, size_t& out_len) {
  size_t pos = off;
  size_t end = 0;  // where the name ends at its original position
  bool jumped = false;
  int jumps = 0;
  size_t wire = 0;
  size_t o = 0;
  for (;;) {
    if (pos >= len) return "name truncated";
    uint8_t l = msg[pos];
    if ((l & 0xc0) == 0xc0) {
      if (pos + 1 >= len) return "name truncated";
      size_t ptr = (static_cast<size_t>(l & 0x3f) << 8) | msg[pos + 1];
      if (!jumped) end = pos + 2;
      jumped = true;
      if (++jumps > kMaxPointerJumps) return "name compression loop";
      if (ptr >= len) return "name pointer out of range";
      pos = ptr;
      continue;
    }
    if (l & 0xc0) return "unsupported label type";
    wire += l + 1u;
    if (wire > kMaxWireName) return "name too long";
    if (l == 0) {
      if (!jumped) end = pos + 1;
      break;
    }
    if (pos + 1 + l > len) return "name truncated";
    if (o != 0) {
      if (o >= cap) return "name too long";
      out[o++] = '.';
    }
    const uint8_t* p = msg + pos + 1;
    if (cap - o >= 4u * l) {
      // Room for the worst case: no bound checks per byte. Most labels are plain.
      for (unsigned i = 0; i < l; ++i) {
        uint8_t c = p[i];
        uint8_t e = kEscape[c];
        if (e == 0) {
          out[o++] = static_cast<char>(kLower[c]);
        } else if (e == 1) {
          out[o++] = '\\';
          out[o++] = static_cast<char>(c);
        } else {
          out[o++] = '\\';
          out[o++] = static_cast<char>('0' + c / 100);
          out[o++] = static_cast<char>('0' + (c / 10) % 10);
          out[o++] = static_cast<char>('0' + c % 10);
        }
      }
    } else {
      for (unsigned i = 0; i < l; ++i) {
        uint8_t c = p[i];
        size_t need = kEscape[c] == 0 ? 1 : kEscape[c] == 1 ? 2 : 4;
        if (cap - o < need) return "name too long";
        if (need == 1) {
          out[o++] = static_cast<char>(kLower[c]);
        } else if (need == 2) {
          out[o++] = '\\';
          out[o++] = static_cast<char>(c);
        } else {
          out[o++] = '\\';
          out[o++] = static_cast<char>('0' + c / 100);
          out[o++] = static_cast<char>('0' + (c / 10) % 10);
          out[o++] = static_cast<char>('0' + c % 10);
        }
      }
    }
    pos += l + 1u;
  }
  if (o == 0) {
    if (cap < 1) return "name too long";
    out[o++] = '.';  // the root
  }
  out_len = o;
  off = end;
  return nullptr;
}

DnsParse parse_dns_message(const uint8_t* msg, size_t len, DnsEvent& ev, ReasonCounters& errors, DnsWireStats* stats,
                           const IpAddr* source) {
  auto fail = [&](const char* reason) {
    if (source)
      errors.add(*source, reason);
    else
      errors.add(reason);
  };
  if (len < 12) {
    fail("dns header truncated");
    return DnsParse::Failed;
  }
  ev.id = load_be16(msg);
  uint16_t fl = load_be16(msg + 2);
  ev.qdcount = load_be16(msg + 4);
  ev.ancount = load_be16(msg + 6);
  ev.nscount = load_be16(msg + 8);
  ev.arcount = load_be16(msg + 10);
  ev.opcode = static_cast<uint8_t>((fl >> 11) & 0xf);
  ev.rcode = fl & 0xf;
  uint8_t f = 0;
  if (fl & 0x8000) f |= DnsEvent::kResponse;
  if (fl & 0x0400) f |= DnsEvent::kAA;
  if (fl & 0x0200) f |= DnsEvent::kTC;
  if (fl & 0x0100) f |= DnsEvent::kRD;
  if (fl & 0x0080) f |= DnsEvent::kRA;
  if (fl & 0x0020) f |= DnsEvent::kAD;
  if (fl & 0x0010) f |= DnsEvent::kCD;
  ev.flags = f;
  ev.malformed = false;
  if (stats) {
    ++stats->messages;
    ++(ev.is_response() ? stats->responses : stats->queries);
  }

  size_t off = 12;
  ev.set_qname_length(0);
  ev.qtype = ev.qclass = 0;
  if (ev.qdcount > 0) {
    size_t n = 0;
    if (const char* err = decode_dns_name(msg, len, off, ev.qname_buffer(), DnsEvent::kMaxName, n)) {
      fail(err);
      return DnsParse::Failed;
    }
    if (len - off < 4) {
      fail("question truncated");
      return DnsParse::Failed;
    }
    ev.set_qname_length(n);
    ev.qtype = load_be16(msg + off);
    ev.qclass = load_be16(msg + off + 2);
    off += 4;
  }

  bool truncated_ok = ev.flag(DnsEvent::kTC);
  auto partial = [&](const char* reason) {
    if (truncated_ok &&
        (reason == std::string_view("question truncated") || reason == std::string_view("record truncated") ||
         reason == std::string_view("rdata truncated") || reason == std::string_view("name truncated"))) {
      // A TC response may stop anywhere; that is the protocol, not damage.
      if (stats) ++stats->truncated_tc;
      return DnsParse::Ok;
    }
    fail(reason);
    ev.malformed = true;
    return DnsParse::Partial;
  };

  // Further questions: skipped, but they must be well formed to find the records.
  for (unsigned q = 1; q < ev.qdcount; ++q) {
    if (q == 1 && stats) ++stats->extra_questions;
    const char* err = skip_name(msg, len, off);
    if (err && err != std::string_view("name too long")) return partial(err);
    if (err) {
      fail(err);  // the structure is intact: count it and go on, as tshark does
      ev.malformed = true;
    }
    if (len - off < 4) return partial("question truncated");
    off += 4;
  }

  unsigned counts[3] = {ev.ancount, ev.nscount, ev.arcount};
  for (int section = 0; section < 3; ++section) {
    for (unsigned i = 0; i < counts[section]; ++i) {
      if (off >= len) return partial("record truncated");
      const char* err = skip_name(msg, len, off);
      if (err && err != std::string_view("name too long")) return partial(err);
      if (err) {
        fail(err);
        ev.malformed = true;
      }
      if (len - off < 10) return partial("record truncated");
      uint16_t type = load_be16(msg + off);
      uint32_t ttl = load_be32(msg + off + 4);
      uint16_t rdlen = load_be16(msg + off + 8);
      off += 10;
      if (len - off < rdlen) return partial("rdata truncated");
      size_t rd = off;
      size_t rd_end = off + rdlen;
      off = rd_end;
      if (type == dnstype::OPT) {
        ev.rcode = static_cast<uint16_t>(ev.rcode | ((ttl >> 24) << 4));
        continue;
      }
      if (section != 0) continue;
      switch (type) {
        case dnstype::A:
          if (rdlen != 4) {
            fail("bad A rdata length");
            ev.malformed = true;
            break;
          }
          ev.add_address(type, ttl, IpAddr::v4_bytes(msg + rd));
          break;
        case dnstype::AAAA:
          if (rdlen != 16) {
            fail("bad AAAA rdata length");
            ev.malformed = true;
            break;
          }
          ev.add_address(type, ttl, IpAddr::v6_bytes(msg + rd));
          break;
        case dnstype::CNAME:
        case dnstype::DNAME:
        case dnstype::NS:
        case dnstype::PTR:
        case dnstype::MX:
        case dnstype::SRV: {
          size_t skip = type == dnstype::MX ? 2 : type == dnstype::SRV ? 6 : 0;
          if (rdlen < skip + 1) {
            fail("bad rdata length");
            ev.malformed = true;
            break;
          }
          size_t noff = rd + skip;
          char scratch[DnsEvent::kMaxName];
          size_t n = 0;
          // The name may point anywhere before, but must itself end inside the rdata.
          const char* nerr = decode_dns_name(msg, rd_end, noff, scratch, sizeof scratch, n);
          if (nerr) {
            fail(nerr);
            ev.malformed = true;
            break;
          }
          if (char* space = ev.name_space(n)) {
            std::memcpy(space, scratch, n);
            ev.commit_name(type, ttl, n);
          } else {
            ev.answers_truncated = true;
          }
          break;
        }
        default:
          break;
      }
    }
  }
  if (off < len && stats) ++stats->trailing_bytes;
  return ev.malformed ? DnsParse::Partial : DnsParse::Ok;
}

}  // namespace omamori
