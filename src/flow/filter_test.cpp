#include <gtest/gtest.h>

#include "flow/filter.hpp"

using namespace omamori;

namespace {
FlowRecord rec(const char* s, const char* d, uint16_t sp, uint16_t dp, uint8_t proto, uint64_t pk, uint64_t by) {
  FlowRecord r;
  r.src = *IpAddr::parse(s);
  r.dst = *IpAddr::parse(d);
  r.sport = sp;
  r.dport = dp;
  r.proto = proto;
  r.packets = pk;
  r.bytes = by;
  r.tcp_flags = tcpflag::SYN;
  return r;
}
bool m(const char* expr, const FlowRecord& r) {
  std::string err;
  auto f = FlowFilter::compile(expr, err);
  EXPECT_TRUE(f) << expr << ": " << err;
  return f && f->matches(r);
}
}  // namespace

TEST(FlowFilter, TermsAndCombinations) {
  auto r = rec("10.0.0.5", "192.0.2.9", 40000, 23, 6, 3, 180);
  EXPECT_TRUE(m("", r));
  EXPECT_TRUE(m("proto tcp and dst port 23", r));
  EXPECT_FALSE(m("proto udp", r));
  EXPECT_TRUE(m("port 23", r));
  EXPECT_FALSE(m("src port 23", r));
  EXPECT_TRUE(m("src net 10.0.0.0/8", r));
  EXPECT_FALSE(m("dst net 10.0.0.0/8", r));
  EXPECT_TRUE(m("host 192.0.2.9", r));
  EXPECT_TRUE(m("not host 192.0.2.10", r));
  EXPECT_TRUE(m("bytes > 100 and packets <= 3", r));
  EXPECT_FALSE(m("bytes >= 181", r));
  EXPECT_TRUE(m("(proto udp or proto 6) and flags S", r));
  EXPECT_FALSE(m("flags SA", r));
  EXPECT_TRUE(m("ipv4", r));
  EXPECT_FALSE(m("ipv6", r));
  EXPECT_TRUE(m("dst port 23 src host 10.0.0.5", r));  // implicit and
}

TEST(FlowFilter, ErrorsSayWhatAndWhere) {
  std::string err;
  EXPECT_FALSE(FlowFilter::compile("dst port http", err));
  EXPECT_NE(err.find("expected a number"), std::string::npos) << err;
  EXPECT_FALSE(FlowFilter::compile("(proto tcp", err));
  EXPECT_NE(err.find("missing ')'"), std::string::npos) << err;
  EXPECT_FALSE(FlowFilter::compile("frobnicate", err));
  EXPECT_NE(err.find("unknown term 'frobnicate' at offset 0"), std::string::npos) << err;
  EXPECT_FALSE(FlowFilter::compile("host 10.0.0.0/8", err));
  EXPECT_FALSE(FlowFilter::compile("bytes 5", err));
}
