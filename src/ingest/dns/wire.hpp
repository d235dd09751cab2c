// DNS wire-format messages (RFC 1035 section 4) into DnsEvent.
//
// Parses the header, the first question, and every resource record of the
// answer, authority and additional sections (so that broken messages are
// recognised and EDNS extended rcodes are known). Answer-section A and AAAA
// addresses and CNAME, DNAME, PTR, NS, MX and SRV target names become the
// event's answers. Names follow compression pointers with loop protection (at
// most 127 jumps) and the 255-byte limit. Nothing here allocates.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/counters.hpp"
#include "ingest/dns/event.hpp"

namespace omamori {

enum class DnsParse : uint8_t {
  Ok,       // complete message
  Partial,  // header and question parsed, something after them is broken (ev.malformed set, counted)
  Failed,   // no usable event (header or question broken; counted)
};

struct DnsWireStats {
  uint64_t messages = 0;
  uint64_t queries = 0;
  uint64_t responses = 0;
  uint64_t truncated_tc = 0;     // responses with TC set whose records stop early (not an error)
  uint64_t extra_questions = 0;  // messages with QDCOUNT > 1 (only the first question is reported)
  uint64_t trailing_bytes = 0;   // messages with bytes after the last record
};

// Fills the message fields of ev (id, flags, opcode, rcode, counts, qname,
// qtype, qclass, answers, malformed). It does not touch time, addresses, ports,
// transport or source: the caller sets those. Each problem increments one
// reason in `errors` (per `source` when given).
DnsParse parse_dns_message(const uint8_t* msg, size_t len, DnsEvent& ev, ReasonCounters& errors,
                           DnsWireStats* stats = nullptr, const IpAddr* source = nullptr);

// Decodes the name at `off` into presentation form (see event.hpp). On success
// returns nullptr, sets out_len and advances off past the name as it appears at
// its position (a pointer counts 2 bytes). On failure returns a static reason.
// cap must be at least 1011 to hold any legal name.
const char* decode_dns_name(const uint8_t* msg, size_t len, size_t& off, char* out, size_t cap, size_t& out_len);

}  // namespace omamori
