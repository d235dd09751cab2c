#include "attribution/radius.hpp"

#include <openssl/crypto.h>

#include <cstring>
#include <stdexcept>

#include "core/bytes.hpp"

namespace omamori::radius {

namespace {

// RFC 3162 / 4818: Reserved(1) Prefix-Length(1) Prefix(0..16 octets).
const char* decode_prefix(const uint8_t* v, size_t n, std::optional<Prefix>& out) {
  if (n < 2 || n > 18) return "bad IPv6 prefix attribute length";
  unsigned len = v[1];
  size_t octets = n - 2;
  if (len > 128 || octets * 8 < len) return "bad IPv6 prefix length";
  uint8_t b[16] = {};
  std::memcpy(b, v + 2, octets);
  // An IPv4-mapped value would read as an IPv4 prefix of another length.
  if (IpAddr::v6_bytes(b).is_v4()) return "IPv4-mapped IPv6 prefix";
  out = Prefix(IpAddr::v6_bytes(b), static_cast<uint8_t>(len));
  return nullptr;
}

}  // namespace

const char* decode(std::span<const uint8_t> datagram, AccountingRequest& r) {
  r = AccountingRequest{};
  if (datagram.size() < kHeaderSize) return "truncated header";
  ByteReader h(datagram);
  r.code = h.u8();
  r.id = h.u8();
  r.length = h.u16();
  std::memcpy(r.authenticator.data(), h.bytes(16), 16);
  if (r.code != kAccountingRequest) return "not an Accounting-Request";
  // RFC 2865 section 3: Length 20..4096; a datagram shorter than Length is
  // discarded, octets past Length are padding and ignored.
  if (r.length < kHeaderSize || r.length > kMaxPacket) return "bad length field";
  if (r.length > datagram.size()) return "datagram shorter than length field";

  ByteReader a(datagram.data() + kHeaderSize, r.length - kHeaderSize);
  while (a.remaining() > 0) {
    if (a.remaining() < 2) return "truncated attribute header";
    uint8_t type = a.u8();
    uint8_t len = a.u8();
    if (len < 2) return "attribute length below 2";
    const uint8_t* v = a.bytes(len - 2);
    if (!v) return "attribute overruns packet";
    size_t n = len - 2u;
    auto str = [&](std::string_view& s) { s = std::string_view(reinterpret_cast<const char*>(v), n); };
    auto u32 = [&](uint32_t& x) -> bool {
      if (n != 4) return false;
      x = load_be32(v);
      return true;
    };
    switch (type) {
      case kUserName:
        str(r.user_name);
        break;
      case kAcctSessionId:
        str(r.session_id);
        break;
      case kCallingStationId:
        str(r.calling_station);
        break;
      case kNasIdentifier:
        str(r.nas_identifier);
        break;
      case kClass:
        if (r.class_attr.empty()) str(r.class_attr);  // the first Class names the subscriber
        break;
      case kAcctStatusType:
        if (!u32(r.status) || r.status == 0) return "bad Acct-Status-Type";
        break;
      case kAcctDelayTime:
        if (!u32(r.delay_time)) return "bad Acct-Delay-Time";
        break;
      case kAcctSessionTime: {
        uint32_t x;
        if (!u32(x)) return "bad Acct-Session-Time";
        r.session_time = x;
        break;
      }
      case kEventTimestamp: {
        uint32_t x;
        if (!u32(x)) return "bad Event-Timestamp";
        r.event_timestamp = x;
        break;
      }
      case kAcctInterimInterval:
        if (!u32(r.interim_interval)) return "bad Acct-Interim-Interval";
        break;
      case kNasIpAddress:
        if (n != 4) return "bad NAS-IP-Address";
        r.nas_ip = IpAddr::v4_bytes(v);
        break;
      case kNasIpv6Address:
        if (n != 16) return "bad NAS-IPv6-Address";
        if (r.nas_ip.empty()) r.nas_ip = IpAddr::v6_bytes(v);
        break;
      case kFramedIpAddress:
        if (n != 4) return "bad Framed-IP-Address";
        r.framed_ip = IpAddr::v4_bytes(v);
        break;
      case kFramedIpv6Prefix:
        if (const char* e = decode_prefix(v, n, r.framed_v6)) return e;
        break;
      case kDelegatedIpv6Prefix:
        if (const char* e = decode_prefix(v, n, r.delegated)) return e;
        break;
      case kFramedIpv6Address:
        if (n != 16) return "bad Framed-IPv6-Address";
        if (!r.framed_v6) r.framed_v6 = Prefix(IpAddr::v6_bytes(v), 128);
        break;
      case kVendorSpecific:
        // Vendor-Id(4) then the vendor's own data; passed over, not interpreted.
        if (n < 5) return "bad Vendor-Specific";
        ++r.vendor_specific;
        break;
      default:
        ++r.unknown_attributes;
        break;
    }
  }
  return nullptr;
}

Md5::Md5() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) throw std::runtime_error("EVP_MD_CTX_new failed");
}
Md5::~Md5() { EVP_MD_CTX_free(ctx_); }
void Md5::begin() { EVP_DigestInit_ex(ctx_, EVP_md5(), nullptr); }
void Md5::update(const void* p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }
void Md5::finish(uint8_t out[16]) {
  unsigned n = 16;
  EVP_DigestFinal_ex(ctx_, out, &n);
}

bool verify_request(std::span<const uint8_t> p, std::string_view secret, Md5& md5) {
  if (p.size() < kHeaderSize) return false;
  static constexpr uint8_t kZero[16] = {};
  uint8_t digest[16];
  md5.begin();
  md5.update(p.data(), 4);
  md5.update(kZero, 16);
  md5.update(p.data() + kHeaderSize, p.size() - kHeaderSize);
  md5.update(secret.data(), secret.size());
  md5.finish(digest);
  return CRYPTO_memcmp(digest, p.data() + 4, 16) == 0;
}

void encode_response(uint8_t id, const uint8_t req_auth[16], std::string_view secret, Md5& md5, uint8_t out[20]) {
  out[0] = kAccountingResponse;
  out[1] = id;
  out[2] = 0;
  out[3] = kHeaderSize;
  md5.begin();
  md5.update(out, 4);
  md5.update(req_auth, 16);
  md5.update(secret.data(), secret.size());
  md5.finish(out + 4);
}

std::vector<uint8_t> build_request(uint8_t id, const std::vector<Attribute>& attrs, std::string_view secret) {
  std::vector<uint8_t> p(kHeaderSize, 0);
  p[0] = kAccountingRequest;
  p[1] = id;
  for (const auto& [type, value] : attrs) {
    if (value.size() > 253) throw std::invalid_argument("RADIUS attribute value longer than 253 octets");
    p.push_back(type);
    p.push_back(static_cast<uint8_t>(value.size() + 2));
    p.insert(p.end(), value.begin(), value.end());
  }
  if (p.size() > kMaxPacket) throw std::invalid_argument("RADIUS packet longer than 4096 octets");
  p[2] = static_cast<uint8_t>(p.size() >> 8);
  p[3] = static_cast<uint8_t>(p.size());
  Md5 md5;
  uint8_t digest[16];
  md5.begin();
  md5.update(p.data(), p.size());  // authenticator field is still zero
  md5.update(secret.data(), secret.size());
  md5.finish(digest);
  std::memcpy(p.data() + 4, digest, 16);
  return p;
}

Attribute attr_string(uint8_t type, std::string_view v) { return {type, std::vector<uint8_t>(v.begin(), v.end())}; }
Attribute attr_u32(uint8_t type, uint32_t v) {
  return {type, {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}};
}
Attribute attr_ipv4(uint8_t type, const IpAddr& a) { return {type, std::vector<uint8_t>(a.bytes() + 12, a.bytes() + 16)}; }
Attribute attr_prefix(uint8_t type, const Prefix& p) {
  std::vector<uint8_t> v{0, p.len()};
  size_t octets = (p.len() + 7u) / 8;
  v.insert(v.end(), p.addr().bytes(), p.addr().bytes() + octets);
  return {type, v};
}

}  // namespace omamori::radius
