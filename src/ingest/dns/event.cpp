#include "ingest/dns/event.hpp"

#include <charconv>
#include <climits>
#include <cstring>

namespace omamori {

void DnsEvent::clear() {
  time = 0;
  client = IpAddr{};
  resolver = IpAddr{};
  client_port = resolver_port = 0;
  qtype = qclass = id = rcode = 0;
  qdcount = ancount = nscount = arcount = 0;
  flags = opcode = 0;
  transport = DnsTransport::Unknown;
  source = DnsSource::Unknown;
  dnstap_type = 0;
  malformed = false;
  answers_truncated = false;
  qname_len_ = 0;
  n_answers_ = 0;
  names_len_ = 0;
}

size_t normalise_dns_name(std::string_view in, char* out, size_t cap) {
  // Drop one trailing dot unless it is escaped ("a\." keeps its dot) or the name is the root.
  size_t n = in.size();
  if (n > 1 && in[n - 1] == '.') {
    size_t bs = 0;
    for (size_t i = n - 1; i > 0 && in[i - 1] == '\\'; --i) ++bs;
    if (bs % 2 == 0) --n;
  }
  // Bytes that are not printable ASCII (from logs: Zeek JSON, raw UTF-8) become \DDD,
  // so that every name in an event is printable ASCII, as names from the wire are.
  size_t o = 0;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c <= 0x20 || c >= 0x7f) {
      if (cap - o < 4) return SIZE_MAX;
      out[o++] = '\\';
      out[o++] = static_cast<char>('0' + c / 100);
      out[o++] = static_cast<char>('0' + c / 10 % 10);
      out[o++] = static_cast<char>('0' + c % 10);
      continue;
    }
    if (o >= cap) return SIZE_MAX;
    out[o++] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : static_cast<char>(c);
  }
  return o;
}

bool DnsEvent::set_qname(std::string_view name) {
  size_t n = normalise_dns_name(name, qname_, kMaxName);
  if (n == SIZE_MAX) {
    qname_len_ = 0;
    return false;
  }
  qname_len_ = static_cast<uint16_t>(n);
  return true;
}

bool DnsEvent::add_address(uint16_t type, uint32_t ttl, const IpAddr& a) {
  if (n_answers_ >= kMaxAnswers) {
    answers_truncated = true;
    return false;
  }
  DnsAnswer& r = answers_[n_answers_++];
  r.type = type;
  r.ttl = ttl;
  r.addr = a;
  r.name_off = 0;
  r.name_len = 0;
  return true;
}

char* DnsEvent::name_space(size_t need) {
  if (n_answers_ >= kMaxAnswers || kNameStorage - names_len_ < need) return nullptr;
  return names_ + names_len_;
}

bool DnsEvent::commit_name(uint16_t type, uint32_t ttl, size_t len) {
  if (n_answers_ >= kMaxAnswers || kNameStorage - names_len_ < len || len == 0) {
    if (len != 0) answers_truncated = true;
    return false;
  }
  DnsAnswer& r = answers_[n_answers_++];
  r.type = type;
  r.ttl = ttl;
  r.addr = IpAddr{};
  r.name_off = names_len_;
  r.name_len = static_cast<uint16_t>(len);
  names_len_ = static_cast<uint16_t>(names_len_ + len);
  return true;
}

bool DnsEvent::add_name(uint16_t type, uint32_t ttl, std::string_view name) {
  size_t cap = kNameStorage - names_len_;
  if (n_answers_ >= kMaxAnswers || cap == 0) {
    answers_truncated = true;
    return false;
  }
  size_t n = normalise_dns_name(name, names_ + names_len_, cap);
  if (n == SIZE_MAX) {
    answers_truncated = true;
    return false;
  }
  if (n == 0) return false;
  return commit_name(type, ttl, n);
}

OwnedDnsEvent OwnedDnsEvent::from(const DnsEvent& ev) {
  OwnedDnsEvent o;
  o.time = ev.time;
  o.client = ev.client;
  o.resolver = ev.resolver;
  o.client_port = ev.client_port;
  o.resolver_port = ev.resolver_port;
  o.qtype = ev.qtype;
  o.qclass = ev.qclass;
  o.id = ev.id;
  o.rcode = ev.rcode;
  o.flags = ev.flags;
  o.opcode = ev.opcode;
  o.dnstap_type = ev.dnstap_type;
  o.transport = ev.transport;
  o.source = ev.source;
  o.malformed = ev.malformed;
  o.qname = std::string(ev.qname());
  for (const auto& a : ev.answers())
    o.answers.push_back(a.is_address() ? a.addr.str() : std::string(ev.answer_name(a)));
  return o;
}

namespace {
struct Named {
  uint16_t value;
  const char* name;
};

constexpr Named kTypes[] = {
    {1, "A"},      {2, "NS"},      {3, "MD"},          {4, "MF"},     {5, "CNAME"},     {6, "SOA"},
    {7, "MB"},     {8, "MG"},      {9, "MR"},          {10, "NULL"},  {11, "WKS"},      {12, "PTR"},
    {13, "HINFO"}, {14, "MINFO"},  {15, "MX"},         {16, "TXT"},   {17, "RP"},       {18, "AFSDB"},
    {19, "X25"},   {20, "ISDN"},   {21, "RT"},         {22, "NSAP"},  {23, "NSAP-PTR"}, {24, "SIG"},
    {25, "KEY"},   {26, "PX"},     {27, "GPOS"},       {28, "AAAA"},  {29, "LOC"},      {30, "NXT"},
    {31, "EID"},   {32, "NIMLOC"}, {33, "SRV"},        {34, "ATMA"},  {35, "NAPTR"},    {36, "KX"},
    {37, "CERT"},  {38, "A6"},     {39, "DNAME"},      {40, "SINK"},  {41, "OPT"},      {42, "APL"},
    {43, "DS"},    {44, "SSHFP"},  {45, "IPSECKEY"},   {46, "RRSIG"}, {47, "NSEC"},     {48, "DNSKEY"},
    {49, "DHCID"}, {50, "NSEC3"},  {51, "NSEC3PARAM"}, {52, "TLSA"},  {53, "SMIMEA"},   {55, "HIP"},
    {56, "NINFO"}, {57, "RKEY"},   {58, "TALINK"},     {59, "CDS"},   {60, "CDNSKEY"},  {61, "OPENPGPKEY"},
    {62, "CSYNC"}, {63, "ZONEMD"}, {64, "SVCB"},       {65, "HTTPS"}, {99, "SPF"},      {100, "UINFO"},
    {101, "UID"},  {102, "GID"},   {103, "UNSPEC"},    {104, "NID"},  {105, "L32"},     {106, "L64"},
    {107, "LP"},   {108, "EUI48"}, {109, "EUI64"},     {249, "TKEY"}, {250, "TSIG"},    {251, "IXFR"},
    {252, "AXFR"}, {253, "MAILB"}, {254, "MAILA"},     {255, "ANY"},  {256, "URI"},     {257, "CAA"},
    {258, "AVC"},  {259, "DOA"},   {260, "AMTRELAY"},  {32768, "TA"}, {32769, "DLV"},
};
// Other spellings seen in logs: Zeek prints "*" for ANY and "NBSTAT" for 32 (NetBIOS).
constexpr Named kTypeAliases[] = {{255, "*"}, {32, "NBSTAT"}};

constexpr Named kClasses[] = {{1, "IN"}, {3, "CH"}, {4, "HS"}, {254, "NONE"}, {255, "ANY"}};
constexpr Named kClassAliases[] = {{1, "C_INTERNET"}, {3, "C_CHAOS"},  {3, "CHAOS"},   {4, "C_HESIOD"},
                                   {4, "HESIOD"},     {254, "C_NONE"}, {255, "C_ANY"}, {255, "*"}};

constexpr Named kRcodes[] = {{0, "NOERROR"},  {1, "FORMERR"},    {2, "SERVFAIL"}, {3, "NXDOMAIN"},  {4, "NOTIMP"},
                             {5, "REFUSED"},  {6, "YXDOMAIN"},   {7, "YXRRSET"},  {8, "NXRRSET"},   {9, "NOTAUTH"},
                             {10, "NOTZONE"}, {11, "DSOTYPENI"}, {16, "BADVERS"}, {17, "BADKEY"},   {18, "BADTIME"},
                             {19, "BADMODE"}, {20, "BADNAME"},   {21, "BADALG"},  {22, "BADTRUNC"}, {23, "BADCOOKIE"}};
// Unbound (ldns) prints NOTIMPL.
constexpr Named kRcodeAliases[] = {{4, "NOTIMPL"}, {16, "BADSIG"}};

template <size_t N>
const char* find_name(const Named (&t)[N], uint16_t v) {
  for (const auto& e : t)
    if (e.value == v) return e.name;
  return nullptr;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

template <size_t N, size_t M>
bool from_name(const Named (&t)[N], const Named (&aliases)[M], std::string_view generic, std::string_view s,
               uint16_t& out) {
  for (const auto& e : t)
    if (iequal(s, e.name)) return (out = e.value), true;
  for (const auto& e : aliases)
    if (iequal(s, e.name)) return (out = e.value), true;
  if (s.size() > generic.size() && iequal(s.substr(0, generic.size()), generic)) {
    unsigned v = 0;
    auto digits = s.substr(generic.size());
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec == std::errc() && p == digits.data() + digits.size() && v <= 65535) return (out = uint16_t(v)), true;
  }
  return false;
}
}  // namespace

const char* dns_type_name(uint16_t type) {
  return find_name(kTypes, type);
}
const char* dns_class_name(uint16_t cls) {
  return find_name(kClasses, cls);
}
const char* dns_rcode_name(uint16_t rcode) {
  return find_name(kRcodes, rcode);
}

std::string dns_type_str(uint16_t type) {
  const char* n = dns_type_name(type);
  return n ? std::string(n) : "TYPE" + std::to_string(type);
}
std::string dns_rcode_str(uint16_t rcode) {
  const char* n = dns_rcode_name(rcode);
  return n ? std::string(n) : "RCODE" + std::to_string(rcode);
}

bool dns_type_from_name(std::string_view s, uint16_t& out) {
  return from_name(kTypes, kTypeAliases, "TYPE", s, out);
}
bool dns_class_from_name(std::string_view s, uint16_t& out) {
  return from_name(kClasses, kClassAliases, "CLASS", s, out);
}
bool dns_rcode_from_name(std::string_view s, uint16_t& out) {
  return from_name(kRcodes, kRcodeAliases, "RCODE", s, out);
}

const char* dns_source_name(DnsSource s) {
  switch (s) {
    case DnsSource::Pcap:
      return "pcap";
    case DnsSource::Dnstap:
      return "dnstap";
    case DnsSource::BindLog:
      return "bind";
    case DnsSource::UnboundLog:
      return "unbound";
    case DnsSource::ZeekTsv:
      return "zeek";
    case DnsSource::ZeekJson:
      return "zeek-json";
    default:
      return "unknown";
  }
}

const char* dns_transport_name(DnsTransport t) {
  switch (t) {
    case DnsTransport::Udp:
      return "udp";
    case DnsTransport::Tcp:
      return "tcp";
    case DnsTransport::Dot:
      return "dot";
    case DnsTransport::Doh:
      return "doh";
    case DnsTransport::DnsCryptUdp:
      return "dnscrypt-udp";
    case DnsTransport::DnsCryptTcp:
      return "dnscrypt-tcp";
    case DnsTransport::Doq:
      return "doq";
    default:
      return "";
  }
}

}  // namespace omamori
