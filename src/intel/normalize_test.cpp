#include "intel/normalize.hpp"

#include <gtest/gtest.h>

using namespace omamori::intel;

namespace {
Classified C(const char* s) {
  Classified c;
  const char* why = classify_indicator(s, c);
  EXPECT_EQ(why, nullptr) << s << ": " << (why ? why : "");
  return c;
}
std::string Reject(const char* s) {
  Classified c;
  const char* why = classify_indicator(s, c);
  return why ? why : "";
}
}  // namespace

TEST(Normalize, AddressesAndPrefixes) {
  EXPECT_EQ(C("192.0.2.1").kind, Kind::kIpv4);
  EXPECT_EQ(C(" 192.0.2.1\r").value, "192.0.2.1");
  auto v6 = C("2001:DB8:0::1");
  EXPECT_EQ(v6.kind, Kind::kIpv6);
  EXPECT_EQ(v6.value, "2001:db8::1");
  auto cidr = C("198.51.100.77/24");
  EXPECT_EQ(cidr.kind, Kind::kCidr);
  EXPECT_EQ(cidr.value, "198.51.100.0/24");
  EXPECT_STREQ(cidr.note, "prefix host bits cleared");
  EXPECT_EQ(C("192.0.2.1/32").kind, Kind::kIpv4);
  EXPECT_EQ(C("2001:db8::/32").value, "2001:db8::/32");
  EXPECT_EQ(Reject("0.0.0.0/0"), "prefix /0 covers everything");
  EXPECT_EQ(Reject("192.0.2.0/33"), "invalid prefix");
}

TEST(Normalize, AddressPort) {
  auto a = C("80.211.232.121:35883");
  EXPECT_EQ(a.kind, Kind::kAddrPort);
  EXPECT_EQ(a.value, "80.211.232.121:35883");
  EXPECT_EQ(C("[2001:db8::1]:443").value, "[2001:db8::1]:443");
  EXPECT_EQ(C("192.0.2.1:23/TCP").value, "192.0.2.1:23/tcp");
  EXPECT_EQ(Reject("103.124.104.118:79548"), "invalid port");
  EXPECT_EQ(Reject("192.0.2.1:0"), "port 0");
  EXPECT_EQ(Reject("evil.example:8080"), "domain:port not supported");
}

TEST(Normalize, Domains) {
  auto d = C("Evil.Example.");
  EXPECT_EQ(d.kind, Kind::kDomain);
  EXPECT_EQ(d.value, "evil.example");
  EXPECT_EQ(C("*.evil.example").value, "evil.example");
  EXPECT_EQ(C("_dmarc.evil.example").value, "_dmarc.evil.example");
  EXPECT_EQ(C("example.co.jp").value, "example.co.jp");
  EXPECT_EQ(C("nagwa.mooo.com").value, "nagwa.mooo.com");
  EXPECT_EQ(Reject("localhost"), "single-label domain");
  EXPECT_EQ(Reject("bad..example"), "empty label in domain");
  EXPECT_EQ(Reject("bad_char!.example"), "invalid character in domain");
  EXPECT_EQ(Reject("b\xc3\xbc"
                   "cher.example"),
            "non-ascii domain (not punycode)");
  EXPECT_EQ(Reject("1.2.3"), "numeric top-level label");
  EXPECT_EQ(Reject(std::string(64, 'a').append(".example").c_str()), "domain label too long");
}

TEST(Normalize, PublicSuffixesAreRejected) {
  EXPECT_EQ(Reject("com"), "single-label domain");
  EXPECT_EQ(Reject("co.jp"), "public suffix");
  EXPECT_EQ(Reject("CO.UK."), "public suffix");
  EXPECT_EQ(Reject("*.co.uk"), "public suffix");
  EXPECT_EQ(Reject("blogspot.com"), "public suffix");  // private section of the list
  EXPECT_EQ(Reject("github.io"), "public suffix");     // private section of the list
  EXPECT_TRUE(is_public_suffix("co.jp"));
  EXPECT_FALSE(is_public_suffix("example.co.jp"));
  EXPECT_EQ(registrable_domain("a.b.example.co.jp"), "example.co.jp");
  EXPECT_FALSE(psl_source().empty());
}

TEST(Normalize, Urls) {
  auto u = C("HTTP://User@Dl.Evil.Example:80/Bins/X86?a=1#frag");
  EXPECT_EQ(u.kind, Kind::kUrl);
  EXPECT_EQ(u.value, "dl.evil.example/Bins/X86?a=1");
  EXPECT_EQ(C("https://dl.evil.example:8443/x").value, "dl.evil.example:8443/x");
  EXPECT_EQ(C("icaterp.com/scripts/img2.php").value, "icaterp.com/scripts/img2.php");
  EXPECT_EQ(C("35.178.227.183/forum/db.php").value, "35.178.227.183/forum/db.php");
  auto host = C("http://45.11.181.37");
  EXPECT_EQ(host.kind, Kind::kIpv4);
  EXPECT_EQ(host.value, "45.11.181.37");
  EXPECT_STREQ(host.note, "url without path taken as host");
  EXPECT_EQ(C("http://evil.example/").kind, Kind::kDomain);
  auto ap = C("http://192.0.2.5:8080/");
  EXPECT_EQ(ap.kind, Kind::kAddrPort);
  EXPECT_EQ(ap.value, "192.0.2.5:8080");
  EXPECT_EQ(C("http://[2001:db8::5]/a").value, "[2001:db8::5]/a");
  auto path = C("/bins/mirai.arm7");
  EXPECT_EQ(path.kind, Kind::kUrl);
  EXPECT_EQ(path.value, "/bins/mirai.arm7");
  EXPECT_EQ(Reject("http:///nohost"), "invalid url");
  EXPECT_EQ(Reject("http://co..uk/x"), "invalid url");
  EXPECT_EQ(Reject("a b"), "control character or space in value");
}

TEST(Normalize, UrlPartsWithoutAllocation) {
  char buf[256];
  UrlParts p;
  size_t n = normalise_url_to("http://WWW.Evil.Example:81/a/b?x=1", buf, sizeof(buf), p);
  ASSERT_GT(n, 0u);
  std::string_view s(buf, n);
  EXPECT_EQ(s, "www.evil.example:81/a/b?x=1");
  EXPECT_EQ(s.substr(0, p.host_len), "www.evil.example");
  EXPECT_EQ(p.port_len, 3u);
  EXPECT_EQ(s.substr(p.path_off), "/a/b?x=1");
  EXPECT_EQ(s.substr(p.path_off, p.query_off - p.path_off), "/a/b");
  EXPECT_EQ(normalise_url_to("http://evil.example/x", buf, 10, p), 0u);  // does not fit
  char name[kMaxDomain + 1];
  EXPECT_EQ(std::string_view(name, lower_name_to("WWW.Example.", name)), "www.example");
  EXPECT_EQ(lower_name_to(".", name), 0u);
}
