// The DNS wire parser on hand-built messages: compression, escaping, limits,
// EDNS, truncation and damage.
#include "ingest/dns/wire.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ingest/dns/event.hpp"

namespace omamori {
namespace {

// A tiny message builder.
struct Msg {
  std::vector<uint8_t> b;
  Msg(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar) {
    for (uint16_t v : {id, flags, qd, an, ns, ar}) u16(v);
  }
  Msg& u8(uint8_t v) {
    b.push_back(v);
    return *this;
  }
  Msg& u16(uint16_t v) {
    b.push_back(uint8_t(v >> 8));
    b.push_back(uint8_t(v));
    return *this;
  }
  Msg& u32(uint32_t v) { return u16(uint16_t(v >> 16)).u16(uint16_t(v)); }
  Msg& raw(const std::vector<uint8_t>& v) {
    b.insert(b.end(), v.begin(), v.end());
    return *this;
  }
  // Labels from a dotted name (no escapes), terminated by a zero byte.
  Msg& name(const std::string& n) {
    size_t start = 0;
    while (start < n.size()) {
      size_t dot = n.find('.', start);
      std::string l = n.substr(start, dot - start);
      u8(uint8_t(l.size()));
      b.insert(b.end(), l.begin(), l.end());
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    return u8(0);
  }
  Msg& ptr(uint16_t off) { return u16(uint16_t(0xc000 | off)); }
  size_t size() const { return b.size(); }
};

struct Parsed {
  DnsParse result;
  OwnedDnsEvent ev;
  ReasonCounters errors;
  DnsWireStats stats;
  bool truncated_answers = false;
};

Parsed parse(const Msg& m) {
  Parsed p;
  auto ev = std::make_unique<DnsEvent>();
  p.result = parse_dns_message(m.b.data(), m.b.size(), *ev, p.errors, &p.stats);
  p.ev = OwnedDnsEvent::from(*ev);
  p.truncated_answers = ev->answers_truncated;
  return p;
}

TEST(DnsWire, QueryHeaderAndQuestion) {
  Msg m(0xbeef, 0x0100, 1, 0, 0, 0);
  m.name("WWW.Example.COM").u16(28).u16(1);
  auto p = parse(m);
  ASSERT_EQ(p.result, DnsParse::Ok);
  EXPECT_EQ(p.ev.id, 0xbeef);
  EXPECT_FALSE(p.ev.is_response());
  EXPECT_TRUE(p.ev.flags & DnsEvent::kRD);
  EXPECT_EQ(p.ev.qname, "www.example.com");
  EXPECT_EQ(p.ev.qtype, 28);
  EXPECT_EQ(p.ev.qclass, 1);
  EXPECT_EQ(p.stats.queries, 1u);
}

TEST(DnsWire, CnameChainWithCompression) {
  Msg m(1, 0x8180, 1, 3, 0, 0);
  m.name("www.example.com").u16(1).u16(1);  // question at offset 12
  // www.example.com CNAME edge.cdn.example.net
  m.ptr(12).u16(5).u16(1).u32(300);
  size_t rdlen_at = m.size();
  m.u16(0);
  size_t cname_at = m.size();
  m.u8(4).raw({'e', 'd', 'g', 'e'}).u8(3).raw({'c', 'd', 'n'}).u8(7).raw({'e', 'x', 'a', 'm', 'p', 'l', 'e'});
  m.u8(3).raw({'n', 'e', 't'}).u8(0);
  m.b[rdlen_at] = 0;
  m.b[rdlen_at + 1] = uint8_t(m.size() - cname_at);
  // edge.cdn.example.net A 192.0.2.1 and A 192.0.2.2 (owner compressed to the CNAME target)
  for (uint8_t last : {1, 2}) m.ptr(uint16_t(cname_at)).u16(1).u16(1).u32(60).u16(4).raw({192, 0, 2, last});
  auto p = parse(m);
  ASSERT_EQ(p.result, DnsParse::Ok);
  EXPECT_TRUE(p.ev.is_response());
  EXPECT_EQ(p.ev.rcode, 0);
  EXPECT_EQ(p.ev.answers, (std::vector<std::string>{"edge.cdn.example.net", "192.0.2.1", "192.0.2.2"}));
}

TEST(DnsWire, AaaaPtrMxSrvNames) {
  Msg m(2, 0x8180, 1, 4, 0, 0);
  m.name("x.test").u16(255).u16(1);
  m.ptr(12).u16(28).u16(1).u32(1).u16(16).raw({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  m.ptr(12).u16(15).u16(1).u32(1).u16(2 + 2).u16(10).ptr(12);               // MX 10 x.test
  m.ptr(12).u16(33).u16(1).u32(1).u16(6 + 2).u16(1).u16(2).u16(3).ptr(12);  // SRV 1 2 3 x.test
  m.ptr(12).u16(12).u16(1).u32(1).u16(2).ptr(12);                           // PTR x.test
  auto p = parse(m);
  ASSERT_EQ(p.result, DnsParse::Ok);
  EXPECT_EQ(p.ev.answers, (std::vector<std::string>{"2001:db8::1", "x.test", "x.test", "x.test"}));
}

TEST(DnsWire, EscapesOddBytesLikeDig) {
  // The label dig 9.18 prints as a\032b\.c\\d\"e\(f\)g\;h\@i\$j\010\127\195\169~Z (checked by hand
  // with dig against a test server); omamori prints the same, lower-cased.
  std::string label = "a b.c\\d\"e(f)g;h@i$j\x0a\x7f\xc3\xa9~Z";
  Msg m(3, 0x0000, 1, 0, 0, 0);
  m.u8(uint8_t(label.size())).raw(std::vector<uint8_t>(label.begin(), label.end())).u8(3).raw({'c', 'o', 'm'}).u8(0);
  m.u16(1).u16(1);
  auto p = parse(m);
  ASSERT_EQ(p.result, DnsParse::Ok);
  EXPECT_EQ(p.ev.qname, "a\\032b\\.c\\\\d\\\"e\\(f\\)g\\;h\\@i\\$j\\010\\127\\195\\169~z.com");
}

TEST(DnsWire, RootAndEmptyQuestionSection) {
  Msg root(4, 0x0000, 1, 0, 0, 0);
  root.u8(0).u16(2).u16(1);
  auto p = parse(root);
  ASSERT_EQ(p.result, DnsParse::Ok);
  EXPECT_EQ(p.ev.qname, ".");
  Msg none(5, 0x8184, 0, 0, 0, 0);  // NOTIMP with no question
  auto q = parse(none);
  ASSERT_EQ(q.result, DnsParse::Ok);
  EXPECT_EQ(q.ev.qname, "");
  EXPECT_EQ(q.ev.rcode, 4);
}

TEST(DnsWire, CompressionLoopsAndBadPointers) {
  Msg self(6, 0, 1, 0, 0, 0);
  self.ptr(12).u16(1).u16(1);  // points at itself
  auto a = parse(self);
  EXPECT_EQ(a.result, DnsParse::Failed);
  EXPECT_EQ(a.errors.count("name compression loop"), 1u);

  Msg pair(7, 0, 1, 0, 0, 0);
  pair.u8(1).u8('a').ptr(14).u16(1).u16(1);  // 12: "a" -> ptr 14 -> ptr 14 ...
  auto b = parse(pair);
  EXPECT_EQ(b.result, DnsParse::Failed);
  EXPECT_EQ(b.errors.count("name compression loop"), 1u);

  Msg out(8, 0, 1, 0, 0, 0);
  out.ptr(500).u16(1).u16(1);
  auto c = parse(out);
  EXPECT_EQ(c.result, DnsParse::Failed);
  EXPECT_EQ(c.errors.count("name pointer out of range"), 1u);

  Msg ext(9, 0, 1, 0, 0, 0);
  ext.u8(0x41).u8(0).u16(1).u16(1);  // extended label type 01
  EXPECT_EQ(parse(ext).errors.count("unsupported label type"), 1u);
}

TEST(DnsWire, NameLengthLimit) {
  // 4 labels of 63 bytes = 4*64 + 1 = 257 wire bytes: too long.
  Msg m(10, 0, 1, 0, 0, 0);
  for (int i = 0; i < 4; ++i) m.u8(63).raw(std::vector<uint8_t>(63, 'a'));
  m.u8(0).u16(1).u16(1);
  auto p = parse(m);
  EXPECT_EQ(p.result, DnsParse::Failed);
  EXPECT_EQ(p.errors.count("name too long"), 1u);
  // 3 labels of 63 + one of 61 = 255 bytes: the longest legal name; all escaped it still fits.
  Msg ok(11, 0, 1, 0, 0, 0);
  for (int i = 0; i < 3; ++i) ok.u8(63).raw(std::vector<uint8_t>(63, 0xff));
  ok.u8(61).raw(std::vector<uint8_t>(61, 0xff)).u8(0).u16(1).u16(1);
  auto q = parse(ok);
  ASSERT_EQ(q.result, DnsParse::Ok);
  EXPECT_EQ(q.ev.qname.size(), 250u * 4 + 3);
}

TEST(DnsWire, TruncationAndDamage) {
  Msg hdr(12, 0, 1, 0, 0, 0);
  hdr.b.resize(11);
  EXPECT_EQ(parse(hdr).errors.count("dns header truncated"), 1u);

  Msg q(13, 0, 1, 0, 0, 0);
  q.name("a.test").u16(1);  // class missing
  EXPECT_EQ(parse(q).errors.count("question truncated"), 1u);

  // Answers announced but absent: damage without TC, normal with TC.
  Msg r(14, 0x8180, 1, 2, 0, 0);
  r.name("a.test").u16(1).u16(1).ptr(12).u16(1).u16(1).u32(5).u16(4).raw({1, 2, 3, 4});
  auto p = parse(r);
  EXPECT_EQ(p.result, DnsParse::Partial);
  EXPECT_TRUE(p.ev.malformed);
  EXPECT_EQ(p.ev.answers, std::vector<std::string>{"1.2.3.4"});
  EXPECT_EQ(p.errors.count("record truncated"), 1u);
  Msg tc = r;
  tc.b[2] |= 0x02;  // TC
  auto t = parse(tc);
  EXPECT_EQ(t.result, DnsParse::Ok);
  EXPECT_EQ(t.errors.total(), 0u);
  EXPECT_EQ(t.stats.truncated_tc, 1u);

  Msg bad(15, 0x8180, 1, 1, 0, 0);
  bad.name("a.test").u16(1).u16(1).ptr(12).u16(1).u16(1).u32(5).u16(3).raw({1, 2, 3});
  auto b = parse(bad);
  EXPECT_EQ(b.result, DnsParse::Partial);
  EXPECT_EQ(b.errors.count("bad A rdata length"), 1u);

  Msg rd(16, 0x8180, 1, 1, 0, 0);
  rd.name("a.test").u16(1).u16(1).ptr(12).u16(1).u16(1).u32(5).u16(40).raw({1, 2, 3, 4});
  EXPECT_EQ(parse(rd).errors.count("rdata truncated"), 1u);
}

TEST(DnsWire, EdnsExtendedRcode) {
  // BADVERS (16): header rcode 0, OPT TTL high byte 1.
  Msg m(17, 0x8180, 1, 0, 0, 1);
  m.name("a.test").u16(1).u16(1).u8(0).u16(41).u16(1232).u32(0x01000000).u16(0);
  auto p = parse(m);
  ASSERT_EQ(p.result, DnsParse::Ok);
  EXPECT_EQ(p.ev.rcode, 16);
}

TEST(DnsWire, ManyAnswersAreCappedNotLost) {
  Msg m(18, 0x8180, 1, 40, 0, 0);
  m.name("many.test").u16(1).u16(1);
  for (int i = 0; i < 40; ++i) m.ptr(12).u16(1).u16(1).u32(5).u16(4).raw({10, 0, 0, uint8_t(i)});
  auto p = parse(m);
  ASSERT_EQ(p.result, DnsParse::Ok);
  EXPECT_EQ(p.ev.answers.size(), DnsEvent::kMaxAnswers);
  EXPECT_TRUE(p.truncated_answers);
}

TEST(DnsEventNames, TypesClassesRcodes) {
  uint16_t v;
  EXPECT_TRUE(dns_type_from_name("aaaa", v));
  EXPECT_EQ(v, 28);
  EXPECT_TRUE(dns_type_from_name("TYPE65534", v));
  EXPECT_EQ(v, 65534);
  EXPECT_TRUE(dns_type_from_name("*", v));
  EXPECT_EQ(v, 255);
  EXPECT_FALSE(dns_type_from_name("TYPE70000", v));
  EXPECT_FALSE(dns_type_from_name("BOGUS", v));
  EXPECT_TRUE(dns_class_from_name("C_INTERNET", v));
  EXPECT_EQ(v, 1);
  EXPECT_TRUE(dns_rcode_from_name("NOTIMPL", v));
  EXPECT_EQ(v, 4);
  EXPECT_EQ(dns_type_str(65), "HTTPS");
  EXPECT_EQ(dns_type_str(12345), "TYPE12345");
  EXPECT_EQ(dns_rcode_str(3), "NXDOMAIN");
  char out[32];
  EXPECT_EQ(std::string(out, normalise_dns_name("Ex\\.\\\\.", out, sizeof out)), "ex\\.\\\\");
  EXPECT_EQ(std::string(out, normalise_dns_name("a\\..", out, sizeof out)), "a\\.");
  EXPECT_EQ(std::string(out, normalise_dns_name(".", out, sizeof out)), ".");
}

}  // namespace
}  // namespace omamori
