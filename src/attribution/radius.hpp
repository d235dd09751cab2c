// RADIUS accounting on the wire (RFC 2866, attributes from RFC 2865, 2869,
// 3162, 4818, 6911): decoding Accounting-Request packets, checking their
// Request Authenticator with the NAS's shared secret, and building the
// Accounting-Response. Written by hand: no Debian library covers the server
// side. Every read of the datagram is bounds-checked; a malformed packet
// yields a static reason string (for ReasonCounters), never a crash.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ip.hpp"

namespace omamori::radius {

inline constexpr uint8_t kAccountingRequest = 4;
inline constexpr uint8_t kAccountingResponse = 5;
inline constexpr size_t kHeaderSize = 20;
inline constexpr size_t kMaxPacket = 4096;  // RFC 2865 section 3

// Attribute types this codec understands; anything else (including
// Vendor-Specific) is length-checked and passed over.
enum Attr : uint8_t {
  kUserName = 1,
  kNasIpAddress = 4,
  kFramedIpAddress = 8,
  kClass = 25,
  kVendorSpecific = 26,
  kCallingStationId = 31,
  kNasIdentifier = 32,
  kAcctStatusType = 40,
  kAcctDelayTime = 41,
  kAcctSessionId = 44,
  kAcctSessionTime = 46,
  kEventTimestamp = 55,
  kAcctInterimInterval = 85,
  kNasIpv6Address = 95,
  kFramedIpv6Prefix = 97,
  kDelegatedIpv6Prefix = 123,
  kFramedIpv6Address = 168,
};

// Acct-Status-Type values (RFC 2866 section 5.1).
enum StatusType : uint32_t {
  kStart = 1,
  kStop = 2,
  kInterimUpdate = 3,
  kAccountingOn = 7,
  kAccountingOff = 8,
};

// A decoded Accounting-Request. String views point into the datagram.
struct AccountingRequest {
  uint8_t code = 0;
  uint8_t id = 0;
  uint16_t length = 0;  // from the header; octets past it are padding
  std::array<uint8_t, 16> authenticator{};

  uint32_t status = 0;  // 0: absent
  std::string_view user_name, session_id, calling_station, class_attr, nas_identifier;
  IpAddr nas_ip;    // NAS-IP-Address or NAS-IPv6-Address; empty when absent
  IpAddr framed_ip;  // Framed-IP-Address; empty when absent
  std::optional<Prefix> framed_v6;  // Framed-IPv6-Prefix, or Framed-IPv6-Address as a /128
  std::optional<Prefix> delegated;  // Delegated-IPv6-Prefix
  std::optional<uint32_t> event_timestamp;  // seconds since the epoch
  uint32_t delay_time = 0;                  // Acct-Delay-Time, seconds
  std::optional<uint32_t> session_time;     // Acct-Session-Time, seconds
  uint32_t interim_interval = 0;            // Acct-Interim-Interval, seconds (0: absent)
  uint16_t vendor_specific = 0;             // Vendor-Specific attributes seen (passed through)
  uint16_t unknown_attributes = 0;          // other attributes not interpreted
};

// Decodes a datagram. Returns nullptr on success, else the reason it is
// malformed ("truncated header", "bad length", "attribute overruns packet",
// ...). Does not check the authenticator (see verify_request).
const char* decode(std::span<const uint8_t> datagram, AccountingRequest& out);

// MD5 with one reusable OpenSSL context (no allocation per packet).
class Md5 {
 public:
  Md5();
  ~Md5();
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;
  void begin();
  void update(const void* p, size_t n);
  void finish(uint8_t out[16]);

 private:
  EVP_MD_CTX* ctx_;
};

// True if the packet's Request Authenticator is
// MD5(Code+Identifier+Length+16 zero octets+Attributes+Secret) (RFC 2866 section 3).
// packet: exactly `length` octets (the header's Length).
bool verify_request(std::span<const uint8_t> packet, std::string_view secret, Md5& md5);

// Writes a 20-octet Accounting-Response (no attributes) answering request id
// with request authenticator req_auth: its authenticator is
// MD5(Code+Identifier+Length+RequestAuth+Secret).
void encode_response(uint8_t id, const uint8_t req_auth[16], std::string_view secret, Md5& md5, uint8_t out[20]);

// Builds a signed Accounting-Request (for tests, fuzz seeds and the benchmark).
using Attribute = std::pair<uint8_t, std::vector<uint8_t>>;
std::vector<uint8_t> build_request(uint8_t id, const std::vector<Attribute>& attrs, std::string_view secret);
Attribute attr_string(uint8_t type, std::string_view v);
Attribute attr_u32(uint8_t type, uint32_t v);
Attribute attr_ipv4(uint8_t type, const IpAddr& a);
Attribute attr_prefix(uint8_t type, const Prefix& p);  // RFC 3162 / 4818 layout

}  // namespace omamori::radius
