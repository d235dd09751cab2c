// The normalised DNS event that every DNS input produces (pcap, dnstap, query logs).
//
// One event is one DNS message (or one log line): a query or a response. Names are
// in presentation form, lower-cased (ASCII only), without the trailing dot, with
// odd bytes escaped the way dig prints them (RFC 1035 section 5.1: "\." and "\\"
// inside labels, \DDD decimal for bytes outside 0x21-0x7e; IDNA punycode kept as
// received). The root name is ".".
//
// The event keeps all its storage inline (a few KB) so that a parser can reuse one
// event for every message: filling it never allocates. Consumers receive a const
// reference that is valid only during DnsSink::on_dns; copy what you need to keep
// (OwnedDnsEvent does that for tests and buffering consumers).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/ip.hpp"
#include "core/time.hpp"

namespace omamori {

namespace dnstype {
inline constexpr uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, MX = 15, TXT = 16, AAAA = 28, SRV = 33,
                          DNAME = 39, OPT = 41, HTTPS = 65, ANY = 255;
}

// Where an event came from.
enum class DnsSource : uint8_t { Unknown = 0, Pcap, Dnstap, BindLog, UnboundLog, ZeekTsv, ZeekJson };
// How the message travelled (dnstap SocketProtocol numbering, 0 when unknown).
enum class DnsTransport : uint8_t {
  Unknown = 0,
  Udp = 1,
  Tcp = 2,
  Dot = 3,
  Doh = 4,
  DnsCryptUdp = 5,
  DnsCryptTcp = 6,
  Doq = 7
};

// One answer-section record that names an address or another name.
struct DnsAnswer {
  uint16_t type = 0;      // RR type; 0 = a name of unknown type (Zeek logs)
  uint16_t name_off = 0;  // name answers: offset of the name in the event's name storage
  uint16_t name_len = 0;  // 0 for address answers
  uint32_t ttl = 0;
  IpAddr addr;  // A/AAAA answers
  bool is_address() const { return name_len == 0; }
};

class DnsEvent {
 public:
  // Presentation-form names can be up to 4 times their wire length (\DDD escapes);
  // a 255-byte wire name fits in 1,011 characters.
  static constexpr size_t kMaxName = 1023;
  static constexpr size_t kMaxAnswers = 32;
  static constexpr size_t kNameStorage = 4096;

  // Flags.
  static constexpr uint8_t kResponse = 1, kAA = 2, kTC = 4, kRD = 8, kRA = 16, kAD = 32, kCD = 64;

  TimeMs time = 0;  // UTC ms; 0 when the source gave no time
  IpAddr client;    // the side that asked (the non-server side)
  IpAddr resolver;  // the DNS server that was asked
  uint16_t client_port = 0;
  uint16_t resolver_port = 0;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  uint16_t id = 0;     // DNS message id (0 for logs that omit it)
  uint16_t rcode = 0;  // extended with the EDNS OPT bits when present; meaningful for responses
  uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;  // header counts (wire sources)
  uint8_t flags = 0;
  uint8_t opcode = 0;
  DnsTransport transport = DnsTransport::Unknown;
  DnsSource source = DnsSource::Unknown;
  uint8_t dnstap_type = 0;         // dnstap Message.Type (1..14), 0 when not from dnstap
  bool malformed = false;          // part of the message after the question could not be parsed (counted)
  bool answers_truncated = false;  // more answers than kMaxAnswers / name storage (not an error)

  bool is_response() const { return flags & kResponse; }
  bool flag(uint8_t f) const { return flags & f; }
  void set_flag(uint8_t f, bool on) { flags = on ? (flags | f) : (flags & ~f); }

  std::string_view qname() const { return {qname_, qname_len_}; }
  std::span<const DnsAnswer> answers() const { return {answers_, n_answers_}; }
  std::string_view answer_name(const DnsAnswer& a) const { return {names_ + a.name_off, a.name_len}; }

  // Resets every field (cheap: buffers are not cleared).
  void clear();

  // Sets the query name from presentation text: lower-cases ASCII, drops one
  // trailing dot (except for the root "."). Returns false if it does not fit.
  bool set_qname(std::string_view name);
  // Raw access for parsers that build the name in place.
  char* qname_buffer() { return qname_; }
  void set_qname_length(size_t n) { qname_len_ = static_cast<uint16_t>(n); }

  // Appends answers; returns false (and sets answers_truncated) when storage is full.
  bool add_address(uint16_t type, uint32_t ttl, const IpAddr& a);
  // The name is normalised like set_qname.
  bool add_name(uint16_t type, uint32_t ttl, std::string_view name);
  // In-place name building: reserve space, write into it, then commit the length used.
  char* name_space(size_t need);
  bool commit_name(uint16_t type, uint32_t ttl, size_t len);

 private:
  uint16_t qname_len_ = 0;
  uint16_t n_answers_ = 0;
  uint16_t names_len_ = 0;
  char qname_[kMaxName + 1];
  DnsAnswer answers_[kMaxAnswers];
  char names_[kNameStorage];
};

class DnsSink {
 public:
  virtual ~DnsSink() = default;
  virtual void on_dns(const DnsEvent& ev) = 0;
};

// An owning copy of an event, for consumers that keep events past the callback.
struct OwnedDnsEvent {
  TimeMs time = 0;
  IpAddr client, resolver;
  uint16_t client_port = 0, resolver_port = 0, qtype = 0, qclass = 0, id = 0, rcode = 0;
  uint8_t flags = 0, opcode = 0, dnstap_type = 0;
  DnsTransport transport = DnsTransport::Unknown;
  DnsSource source = DnsSource::Unknown;
  bool malformed = false;
  std::string qname;
  std::vector<std::string> answers;  // addresses and names in answer order, as text
  bool is_response() const { return flags & DnsEvent::kResponse; }

  static OwnedDnsEvent from(const DnsEvent& ev);
};

// Mnemonics. Unknown values print as "TYPE123" / "CLASS3" / "RCODE23" (RFC 3597 style).
const char* dns_type_name(uint16_t type);  // nullptr when unknown
const char* dns_class_name(uint16_t cls);
const char* dns_rcode_name(uint16_t rcode);
std::string dns_type_str(uint16_t type);
std::string dns_rcode_str(uint16_t rcode);
// Accepts mnemonics (case-insensitive) and the generic forms; false when unknown.
bool dns_type_from_name(std::string_view s, uint16_t& out);
bool dns_class_from_name(std::string_view s, uint16_t& out);
bool dns_rcode_from_name(std::string_view s, uint16_t& out);
const char* dns_source_name(DnsSource s);
const char* dns_transport_name(DnsTransport t);

// Normalises a presentation-form name into out (lower-case ASCII, no trailing dot,
// root as ".", bytes outside 0x21-0x7e as \DDD). Returns the length, or SIZE_MAX
// if it does not fit in cap.
size_t normalise_dns_name(std::string_view in, char* out, size_t cap);

}  // namespace omamori
