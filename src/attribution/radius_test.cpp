// RADIUS codec: a hand-built packet whose authenticators were computed
// independently (Python hashlib, RFC 2866 formulas), length and attribute
// checks, and the builder round trip.
#include "attribution/radius.hpp"

#include <gtest/gtest.h>

#include <string>

namespace omamori::radius {
namespace {

std::vector<uint8_t> hex(const std::string& h) {
  std::vector<uint8_t> v;
  for (size_t i = 0; i + 1 < h.size(); i += 2) v.push_back(static_cast<uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return v;
}

// Start for alice: Acct-Status-Type=Start, User-Name, Acct-Session-Id=S-0001,
// NAS-IP-Address=192.0.2.1, Framed-IP-Address=100.64.0.7,
// Event-Timestamp=1700000000, Delegated-IPv6-Prefix=2001:db8:aabb:cc00::/56
// (prefix sent in 7 octets); secret "xyzzy5461", Identifier 0x2a.
const char* kStartPacket =
    "042a00465d7cee70250b988674938fda96f091402806000000010107616c6963652c08532d303030310406c000020108066440000737066553"
    "f1007b0b003820010db8aabbcc";
const char* kResponseAuth = "82603d13272a46c6f0b341eb9d0113d3";

TEST(RadiusCodec, DecodesHandBuiltStart) {
  auto p = hex(kStartPacket);
  AccountingRequest r;
  ASSERT_EQ(decode(p, r), nullptr);
  EXPECT_EQ(r.id, 0x2a);
  EXPECT_EQ(r.length, p.size());
  EXPECT_EQ(r.status, kStart);
  EXPECT_EQ(r.user_name, "alice");
  EXPECT_EQ(r.session_id, "S-0001");
  EXPECT_EQ(r.nas_ip, *IpAddr::parse("192.0.2.1"));
  EXPECT_EQ(r.framed_ip, *IpAddr::parse("100.64.0.7"));
  ASSERT_TRUE(r.event_timestamp);
  EXPECT_EQ(*r.event_timestamp, 1700000000u);
  ASSERT_TRUE(r.delegated);
  EXPECT_EQ(r.delegated->str(), "2001:db8:aabb:cc00::/56");
  EXPECT_FALSE(r.framed_v6);
}

TEST(RadiusCodec, AuthenticatorsMatchIndependentComputation) {
  auto p = hex(kStartPacket);
  Md5 md5;
  EXPECT_TRUE(verify_request(p, "xyzzy5461", md5));
  EXPECT_FALSE(verify_request(p, "xyzzy5462", md5));
  auto tampered = p;
  tampered[30] ^= 1;  // one bit of User-Name
  EXPECT_FALSE(verify_request(tampered, "xyzzy5461", md5));
  uint8_t resp[20];
  encode_response(0x2a, p.data() + 4, "xyzzy5461", md5, resp);
  EXPECT_EQ(resp[0], kAccountingResponse);
  EXPECT_EQ(resp[1], 0x2a);
  EXPECT_EQ(resp[2], 0);
  EXPECT_EQ(resp[3], 20);
  EXPECT_EQ(std::vector<uint8_t>(resp + 4, resp + 20), hex(kResponseAuth));
}

TEST(RadiusCodec, BuilderRoundTrip) {
  auto p = build_request(7,
                         {attr_u32(kAcctStatusType, kStop), attr_string(kUserName, "bob"),
                          attr_string(kAcctSessionId, "x"), attr_u32(kAcctSessionTime, 3600),
                          attr_prefix(kFramedIpv6Prefix, *Prefix::parse("2001:db8:1:2::/64")),
                          attr_string(kClass, "contract-42"), attr_u32(kAcctDelayTime, 5),
                          attr_string(kVendorSpecific, std::string("\0\0\x01\x37\x01\x03x", 7))},
                         "s");
  AccountingRequest r;
  ASSERT_EQ(decode(p, r), nullptr);
  Md5 md5;
  EXPECT_TRUE(verify_request(p, "s", md5));
  EXPECT_EQ(r.status, kStop);
  ASSERT_TRUE(r.session_time);
  EXPECT_EQ(*r.session_time, 3600u);
  EXPECT_EQ(r.framed_v6->str(), "2001:db8:1:2::/64");
  EXPECT_EQ(r.class_attr, "contract-42");
  EXPECT_EQ(r.delay_time, 5u);
  EXPECT_EQ(r.vendor_specific, 1);
}

TEST(RadiusCodec, PaddingPastLengthIsIgnored) {
  auto p = hex(kStartPacket);
  p.push_back(0xff);
  p.push_back(0xee);
  AccountingRequest r;
  ASSERT_EQ(decode(p, r), nullptr);
  Md5 md5;
  EXPECT_TRUE(verify_request(std::span<const uint8_t>(p).first(r.length), "xyzzy5461", md5));
}

TEST(RadiusCodec, MalformedPacketsHaveReasons) {
  auto good = hex(kStartPacket);
  AccountingRequest r;
  auto reason = [&](std::vector<uint8_t> p) {
    const char* e = decode(p, r);
    return std::string(e ? e : "ok");
  };
  EXPECT_EQ(reason({}), "truncated header");
  EXPECT_EQ(reason(std::vector<uint8_t>(good.begin(), good.begin() + 19)), "truncated header");
  auto p = good;
  p[0] = 1;  // Access-Request
  EXPECT_EQ(reason(p), "not an Accounting-Request");
  p = good;
  p[2] = 0x10;  // Length 4096+: too long
  p[3] = 0x01;
  EXPECT_EQ(reason(p), "bad length field");
  p = good;
  p[3] = 19;
  p[2] = 0;
  EXPECT_EQ(reason(p), "bad length field");
  p = good;
  p.resize(p.size() - 1);  // shorter than Length
  EXPECT_EQ(reason(p), "datagram shorter than length field");
  // An attribute whose length runs past the packet.
  p = good;
  p[21] = 200;
  EXPECT_EQ(reason(p), "attribute overruns packet");
  p = good;
  p[21] = 1;
  EXPECT_EQ(reason(p), "attribute length below 2");
  // Framed-IP-Address of 3 octets.
  auto bad = build_request(1, {attr_u32(kAcctStatusType, 1), {kFramedIpAddress, {1, 2, 3}}}, "s");
  EXPECT_EQ(reason(bad), "bad Framed-IP-Address");
  // IPv6 prefix length beyond the octets given, and over 128.
  bad = build_request(1, {{kDelegatedIpv6Prefix, {0, 64, 0x20, 0x01}}}, "s");
  EXPECT_EQ(reason(bad), "bad IPv6 prefix length");
  bad = build_request(1, {{kFramedIpv6Prefix, {0, 129, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}}, "s");
  EXPECT_EQ(reason(bad), "bad IPv6 prefix length");
  bad = build_request(1, {{kEventTimestamp, {1, 2}}}, "s");
  EXPECT_EQ(reason(bad), "bad Event-Timestamp");
  bad = build_request(1, {{kAcctStatusType, {0, 0, 0, 0}}}, "s");
  EXPECT_EQ(reason(bad), "bad Acct-Status-Type");
  bad = build_request(1, {{kVendorSpecific, {0, 0, 1}}}, "s");
  EXPECT_EQ(reason(bad), "bad Vendor-Specific");
  // Trailing single octet after the last attribute.
  p = build_request(1, {attr_u32(kAcctStatusType, 1)}, "s");
  p.push_back(kUserName);
  p[3] = static_cast<uint8_t>(p.size());
  EXPECT_EQ(reason(p), "truncated attribute header");
}

}  // namespace
}  // namespace omamori::radius
