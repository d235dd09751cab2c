// Query-log parsers on real log lines: BIND 9.18 and Unbound 1.17 output captured
// on loopback (testdata/, see make-unbound-logs.sh and testdata/README.md), the
// shared Zeek dns.log (checked field by field against the file itself), and its
// JSON form.
#include "ingest/dns/logs.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>

#include "core/time.hpp"
#include "ingest/dns/dnstap.hpp"
#include "ingest/dns/reader.hpp"
#include "ingest/dns/test_util.hpp"

namespace omamori {
namespace {

using dnstest::Collector;
using dnstest::testdata;

std::vector<OwnedDnsEvent> read_all(const std::string& path, DnsInputFormat f, DnsFileReader* reader = nullptr) {
  DnsFileReader local;
  DnsFileReader& r = reader ? *reader : local;
  Collector c;
  std::string err;
  EXPECT_TRUE(r.read(path, f, c, err)) << err;
  return c.events;
}

TimeMs t(const char* s) {
  return *parse_time(s);
}

TEST(BindQueryLog, PlainLinesFromNamed) {
  DnsFileReader r;
  auto ev = read_all(testdata("bind-query-plain.log"), DnsInputFormat::Bind, &r);
  ASSERT_EQ(ev.size(), 8u);
  EXPECT_EQ(r.log_errors().total(), 0u);
  // client @0x7f7b0ab0b098 127.0.0.1#57001 (example.test): query: example.test IN A +E(0)K (127.0.0.1)
  EXPECT_EQ(ev[0].time, 0);  // print-time no
  EXPECT_EQ(ev[0].client.str(), "127.0.0.1");
  EXPECT_EQ(ev[0].client_port, 57001);
  EXPECT_EQ(ev[0].resolver.str(), "127.0.0.1");
  EXPECT_EQ(ev[0].qname, "example.test");
  EXPECT_EQ(ev[0].qtype, dnstype::A);
  EXPECT_EQ(ev[0].qclass, 1);
  EXPECT_TRUE(ev[0].flags & DnsEvent::kRD);
  EXPECT_FALSE(ev[0].is_response());
  EXPECT_EQ(ev[0].transport, DnsTransport::Udp);
  EXPECT_EQ(ev[0].source, DnsSource::BindLog);
  // client ... ::1#49607 (www.example.test): query: www.example.test IN A +E(0)K (::1)
  EXPECT_EQ(ev[1].client.str(), "::1");
  EXPECT_EQ(ev[1].resolver.str(), "::1");
  // NX.Example.Test IN AAAA +E(0)TK: lower-cased, over TCP.
  EXPECT_EQ(ev[2].qname, "nx.example.test");
  EXPECT_EQ(ev[2].qtype, dnstype::AAAA);
  EXPECT_EQ(ev[2].transport, DnsTransport::Tcp);
  // example.test IN MX - : no recursion desired.
  EXPECT_FALSE(ev[3].flags & DnsEvent::kRD);
  EXPECT_EQ(ev[3].qtype, dnstype::MX);
  // +E(0)DCK: checking disabled; HTTPS type.
  EXPECT_TRUE(ev[4].flags & DnsEvent::kCD);
  EXPECT_EQ(ev[4].qtype, dnstype::HTTPS);
  // BIND already prints presentation form: kept as is.
  EXPECT_EQ(ev[6].qname, "we\\032ird\\.label.example.test");
  EXPECT_EQ(ev[7].qtype, dnstype::PTR);
}

TEST(BindQueryLog, TimestampedAndIsoAndViewForms) {
  auto full = read_all(testdata("bind-query-full.log"), DnsInputFormat::Bind);
  auto iso = read_all(testdata("bind-query-iso.log"), DnsInputFormat::Bind);
  auto plain = read_all(testdata("bind-query-plain.log"), DnsInputFormat::Bind);
  ASSERT_EQ(full.size(), 8u);
  ASSERT_EQ(iso.size(), 8u);
  // "21-Nov-2026 23:35:23.055 queries: info: client ..." (named ran in UTC, so both agree).
  EXPECT_EQ(full[0].time, t("2026-11-21T23:35:23.055Z"));
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(full[i].time, iso[i].time);
    EXPECT_EQ(full[i].qname, plain[i].qname);
    EXPECT_EQ(full[i].client_port, plain[i].client_port);
    EXPECT_EQ(iso[i].qtype, plain[i].qtype);
  }
  auto view = read_all(testdata("bind-query-view.log"), DnsInputFormat::Bind);
  ASSERT_EQ(view.size(), 1u);  // "... (example.test): view internal: query: example.test IN A +E(0)K (127.0.0.1)"
  EXPECT_EQ(view[0].qname, "example.test");
  EXPECT_EQ(view[0].client_port, 38249);
}

TEST(BindQueryLog, QueryFailedSyslogOldFormatAndGarbage) {
  BindQueryLogParser p(LogOptions{2026});
  auto ev = std::make_unique<DnsEvent>();
  ReasonCounters errors;
  // A line named printed on stderr (named -g) during the testdata run.
  ASSERT_EQ(p.parse("21-Nov-2026 23:35:14.703 client @0x7f4572d15098 127.0.0.1#42204 (other.org): query failed "
                    "(REFUSED) for other.org/IN/A at query.c:5708",
                    *ev, errors),
            LineResult::Event);
  EXPECT_TRUE(ev->is_response());
  EXPECT_EQ(ev->rcode, 5);
  EXPECT_EQ(ev->qname(), "other.org");
  EXPECT_EQ(ev->qtype, dnstype::A);
  // The same query line as sent to syslog (named -u bind, syslog daemon; the usual Debian setup).
  ASSERT_EQ(p.parse("Nov 21 23:35:23 ns1 named[4711]: client @0x7f7b0ab0b098 127.0.0.1#57001 (example.test): "
                    "query: example.test IN A +E(0)K (127.0.0.1)",
                    *ev, errors),
            LineResult::Event);
  EXPECT_EQ(ev->time, t("2026-11-21T23:35:23Z"));
  EXPECT_EQ(ev->client_port, 57001);
  // BIND 9.9 style: no @0x pointer, no destination address.
  ASSERT_EQ(p.parse("client 192.0.2.7#1234: query: Old.Example IN AAAA +", *ev, errors), LineResult::Event);
  EXPECT_EQ(ev->qname(), "old.example");
  EXPECT_EQ(ev->client.str(), "192.0.2.7");
  EXPECT_TRUE(ev->resolver.empty());
  // Other log lines are skipped, broken query lines counted.
  EXPECT_EQ(p.parse("21-Nov-2026 23:35:12.599 general: info: managed-keys-zone: loaded serial 2", *ev, errors),
            LineResult::Skip);
  EXPECT_EQ(p.parse("client @0x1 999.1.1.1#5 (x): query: x IN A +", *ev, errors), LineResult::Malformed);
  EXPECT_EQ(p.parse("client @0x1 192.0.2.1#5 (x): query: x IN", *ev, errors), LineResult::Malformed);
  EXPECT_EQ(p.parse("client @0x1 192.0.2.1#5 (x): query: x IN NOSUCHTYPE +", *ev, errors), LineResult::Malformed);
  EXPECT_EQ(errors.count("bind: bad client address"), 1u);
  EXPECT_EQ(errors.count("bind: query line too short"), 1u);
  EXPECT_EQ(errors.count("bind: unknown type"), 1u);
}

TEST(UnboundLog, LogQueriesAndLogReplies) {
  DnsFileReader r;
  auto ev = read_all(testdata("unbound-plain.log"), DnsInputFormat::Unbound, &r);
  ASSERT_EQ(ev.size(), 12u);
  EXPECT_EQ(r.stats().lines_skipped, 5u);  // start/stop/stats messages
  EXPECT_EQ(r.log_errors().total(), 0u);
  // [1795305648] unbound[28346:0] info: 127.0.0.1 example.test. A IN
  EXPECT_EQ(ev[0].time, 1795305648000);
  EXPECT_EQ(ev[0].client.str(), "127.0.0.1");
  EXPECT_EQ(ev[0].qname, "example.test");
  EXPECT_EQ(ev[0].qtype, dnstype::A);
  EXPECT_FALSE(ev[0].is_response());
  // ... info: 127.0.0.1 example.test. A IN NOERROR 0.000000 1 57
  EXPECT_TRUE(ev[1].is_response());
  EXPECT_EQ(ev[1].rcode, 0);
  // ::1 nx.example.test. AAAA IN NXDOMAIN
  EXPECT_EQ(ev[5].client.str(), "::1");
  EXPECT_EQ(ev[5].rcode, 3);
  EXPECT_EQ(ev[6].qname, "example.test");  // "Example.Test." lower-cased
  EXPECT_EQ(ev[7].qtype, dnstype::TXT);
  // Unbound prints odd bytes as '?': the name is not recoverable from its log.
  EXPECT_EQ(ev[8].qname, "we?ird?label.example.test");
  EXPECT_EQ(ev[11].qname, "1.2.0.192.in-addr.arpa");

  // log-time-ascii + log-tag-queryreply: same events, times from "Nov 22 00:00:49" in --year.
  DnsFileReader r2(DnsPcapOptions{}, LogOptions{2026});
  auto tagged = read_all(testdata("unbound-tagged.log"), DnsInputFormat::Unbound, &r2);
  ASSERT_EQ(tagged.size(), 12u);
  EXPECT_EQ(tagged[0].time, t("2026-11-22T00:00:49Z"));
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(tagged[i].qname, ev[i].qname);
    EXPECT_EQ(tagged[i].is_response(), ev[i].is_response());
    EXPECT_EQ(tagged[i].rcode, ev[i].rcode);
  }
}

TEST(UnboundLog, SyslogAndMalformed) {
  UnboundLogParser p(LogOptions{2026});
  auto ev = std::make_unique<DnsEvent>();
  ReasonCounters errors;
  // use-syslog: yes, as rsyslog writes it.
  ASSERT_EQ(p.parse("Nov  2 10:00:00 resolver1 unbound: [812:1] info: 2001:db8::5 Evil.Example. A IN SERVFAIL "
                    "0.120000 0 30",
                    *ev, errors),
            LineResult::Event);
  EXPECT_EQ(ev->time, t("2026-11-02T10:00:00Z"));
  EXPECT_EQ(ev->client.str(), "2001:db8::5");
  EXPECT_EQ(ev->rcode, 2);
  EXPECT_EQ(p.parse("[1700000000] unbound[1:0] info: 192.0.2.1 x. NOTATYPE IN", *ev, errors), LineResult::Malformed);
  EXPECT_EQ(p.parse("[1700000000] unbound[1:0] info: 192.0.2.1 x. A IN NOERROR 0.1", *ev, errors),
            LineResult::Malformed);
  EXPECT_EQ(p.parse("[1700000000] unbound[1:0] info: 192.0.2.1 x. A IN NOPE 0.1 0 20", *ev, errors),
            LineResult::Malformed);
  EXPECT_EQ(p.parse("[1700000000] nsd[1:0] info: 192.0.2.1 x. A IN", *ev, errors), LineResult::Skip);
  EXPECT_EQ(errors.total(), 3u);
  // An absurd epoch (found by fuzzing) is not a time: the line still counts, without one.
  ASSERT_EQ(p.parse("[1795305648795305647] unbound[1:0] info: 192.0.2.1 x. A IN", *ev, errors), LineResult::Event);
  EXPECT_EQ(ev->time, 0);
}

// The shared Zeek dns.log: every line becomes one event, and each event carries
// the line's own fields (checked against the file as cut(1) sees it).
TEST(ZeekLog, SharedDnsLogFieldByField) {
  const std::string path = dnstest::shared_data("dns/zeek-dns.log.gz");
  auto want_lines = dnstest::lines(dnstest::run("zcat '" + path + "' | grep -v '^#' | cut -f1,3,4,5,6,7,10,13,15,22"));
  auto nxdomain =
      std::stoul(dnstest::run("zcat '" + path + "' | grep -v '^#' | awk -F'\\t' '$16==\"NXDOMAIN\"' | wc -l"));
  ASSERT_EQ(want_lines.size(), 53615u);
  ASSERT_EQ(nxdomain, 2097u);
  DnsFileReader r;
  auto ev = read_all(path, DnsInputFormat::Auto, &r);
  ASSERT_EQ(ev.size(), want_lines.size());
  EXPECT_EQ(r.log_errors().total(), 0u);
  size_t nx = 0, responses = 0;
  for (size_t i = 0; i < ev.size(); ++i) {
    const auto& e = ev[i];
    auto f = dnstest::split(want_lines[i], '\t');
    ASSERT_EQ(f.size(), 10u);
    SCOPED_TRACE(want_lines[i]);
    // ts: seconds.microseconds -> ms
    EXPECT_EQ(e.time,
              std::stoll(f[0].substr(0, f[0].find('.'))) * 1000 + std::stoi(f[0].substr(f[0].find('.') + 1, 3)));
    EXPECT_EQ(e.client.str(), f[1]);
    EXPECT_EQ(std::to_string(e.client_port), f[2]);
    EXPECT_EQ(e.resolver.str(), f[3]);
    EXPECT_EQ(std::to_string(e.resolver_port), f[4]);
    EXPECT_EQ(dns_transport_name(e.transport), f[5]);
    // Zeek writes odd bytes raw (e.g. spaces in mDNS names); omamori writes them as dig does (\032).
    std::string q;
    for (unsigned char c : (f[6] == "-" ? std::string() : f[6])) {
      if (c <= 0x20 || c >= 0x7f) {
        char b[8];
        std::snprintf(b, sizeof b, "\\%03u", c);
        q += b;
      } else {
        q += static_cast<char>(std::tolower(c));
      }
    }
    if (q.size() > 1 && q.back() == '.') q.pop_back();
    EXPECT_EQ(e.qname, q);
    EXPECT_EQ(f[7] == "-" ? 0 : std::stoi(f[7]), e.qtype);
    EXPECT_EQ(e.is_response(), f[8] != "-");
    if (f[8] != "-") {
      EXPECT_EQ(std::to_string(e.rcode), f[8]);
    }
    // answers: every address and name; Zeek's "TXT ..." / "RRSIG ..." renderings are not names.
    size_t want_answers = 0;
    if (f[9] != "-" && f[9] != "(empty)") {
      for (const auto& a : dnstest::split(f[9], ','))
        if (a.find(' ') == std::string::npos) ++want_answers;
    }
    EXPECT_EQ(e.answers.size(), std::min<size_t>(want_answers, DnsEvent::kMaxAnswers));
    nx += e.is_response() && e.rcode == 3;
    responses += e.is_response();
  }
  EXPECT_EQ(nx, nxdomain);
  EXPECT_EQ(responses, 53615u - 9497u);  // 9,497 lines have no rcode (no response seen)
}

TEST(ZeekLog, JsonAndTsvGiveTheSameEvents) {
  DnsFileReader rj, rt;
  auto json = read_all(testdata("zeek-dns-sample.json"), DnsInputFormat::Auto, &rj);
  auto tsv = read_all(testdata("zeek-dns-sample.tsv"), DnsInputFormat::Auto, &rt);
  ASSERT_EQ(json.size(), 14u);
  ASSERT_EQ(tsv.size(), json.size());
  EXPECT_EQ(rj.log_errors().total(), 0u);
  EXPECT_EQ(rt.log_errors().total(), 0u);
  for (size_t i = 0; i < json.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(json[i].time, tsv[i].time);
    EXPECT_EQ(json[i].client, tsv[i].client);
    EXPECT_EQ(json[i].client_port, tsv[i].client_port);
    EXPECT_EQ(json[i].resolver, tsv[i].resolver);
    EXPECT_EQ(json[i].qname, tsv[i].qname);
    EXPECT_EQ(json[i].qtype, tsv[i].qtype);
    EXPECT_EQ(json[i].qclass, tsv[i].qclass);
    EXPECT_EQ(json[i].rcode, tsv[i].rcode);
    EXPECT_EQ(json[i].flags, tsv[i].flags);
    EXPECT_EQ(json[i].id, tsv[i].id);
    EXPECT_EQ(json[i].transport, tsv[i].transport);
    EXPECT_EQ(json[i].answers, tsv[i].answers);
  }
  // The first row: CNAME then address, as Zeek lists them.
  EXPECT_EQ(json[0].answers, (std::vector<std::string>{"ise.wrccdc.cpp.edu", "134.71.3.16"}));
  EXPECT_EQ(json[0].time, 1521911720865);
}

TEST(ZeekLog, JsonVariantsAndBadLines) {
  ZeekDnsJsonParser p;
  auto ev = std::make_unique<DnsEvent>();
  ReasonCounters errors;
  // JSON::TS_ISO8601 timestamps and the _path/_write_ts keys of a multi-log writer.
  ASSERT_EQ(
      p.parse(
          R"({"_path":"dns","_write_ts":"2021-03-05T14:04:11.711171Z","ts":"2021-03-05T14:04:11.710918Z",)"
          R"("uid":"CFl2ra4eJhk9DpOFYk","id.orig_h":"192.168.2.11","id.orig_p":57844,"id.resp_h":"192.168.2.1",)"
          R"("id.resp_p":53,"proto":"udp","trans_id":30780,"query":"unifi.home","qclass":1,"qtype":1,)"
          R"("rcode":0,"AA":true,"TC":false,"RD":true,"RA":true,"Z":0,"answers":["192.168.2.25"],"TTLs":[86400.0]})",
          *ev, errors),
      LineResult::Event);
  EXPECT_EQ(ev->time, t("2021-03-05T14:04:11.710Z"));
  EXPECT_TRUE(ev->flag(DnsEvent::kAA));
  ASSERT_EQ(ev->answers().size(), 1u);
  EXPECT_EQ(ev->answers()[0].ttl, 86400u);
  // Another log in the same stream is skipped; broken JSON is counted.
  EXPECT_EQ(p.parse(R"({"_path":"conn","ts":1.0,"id.orig_h":"192.0.2.1","proto":"udp"})", *ev, errors),
            LineResult::Skip);
  EXPECT_EQ(p.parse(R"({"ts":1.0,"id.orig_h":"192.0.2.1","query":"x")", *ev, errors), LineResult::Malformed);
  EXPECT_EQ(p.parse(R"({"ts":1.0,"id.orig_h":"bogus","query":"x"})", *ev, errors), LineResult::Malformed);
  EXPECT_EQ(p.parse(R"([1,2])", *ev, errors), LineResult::Malformed);
  EXPECT_EQ(p.parse(R"({"ts":1e300,"id.orig_h":"192.0.2.1","query":"x"})", *ev, errors), LineResult::Malformed);
  EXPECT_EQ(p.parse(R"({"ts":"99999999999999999999","id.orig_h":"192.0.2.1","query":"x"})", *ev, errors),
            LineResult::Malformed);
  EXPECT_EQ(errors.count("zeek-json: bad ts"), 2u);
  EXPECT_EQ(errors.count("zeek-json: invalid json"), 1u);
  EXPECT_EQ(errors.count("zeek-json: bad address"), 1u);
  // Zeek's \x escapes become the \DDD form used everywhere else.
  ASSERT_EQ(p.parse(R"({"ts":1.0,"id.orig_h":"192.0.2.1","query":"a\\x00b\\x2ec.Example"})", *ev, errors),
            LineResult::Event);
  EXPECT_EQ(ev->qname(), "a\\000b.c.example");

  ZeekDnsTsvParser tsv;
  EXPECT_EQ(tsv.parse("1.0\t192.0.2.1", *ev, errors), LineResult::Malformed);
  EXPECT_EQ(errors.count("zeek: data line before the #fields header"), 1u);
  EXPECT_EQ(tsv.parse("#separator \\x09", *ev, errors), LineResult::Skip);
  EXPECT_EQ(tsv.parse("#fields\tts\tid.orig_h\tquery", *ev, errors), LineResult::Skip);
  EXPECT_EQ(tsv.parse("1.5\t192.0.2.1\twww.Example.org", *ev, errors), LineResult::Event);
  EXPECT_EQ(ev->qname(), "www.example.org");
  EXPECT_EQ(tsv.parse("1.5\t192.0.2.1", *ev, errors), LineResult::Malformed);
  EXPECT_EQ(tsv.parse("x\t192.0.2.1\ta", *ev, errors), LineResult::Malformed);
  EXPECT_EQ(errors.count("zeek: wrong number of fields"), 1u);
  EXPECT_EQ(errors.count("zeek: bad ts"), 1u);
}

TEST(LineReader, GzipLongLinesAndNoFinalNewline) {
  dnstest::TempDir dir;
  std::string path = dir.str("x.gz");
  gzFile gz = gzopen(path.c_str(), "wb");
  std::string big(2 << 20, 'x');
  gzputs(gz, "first\r\n");
  gzputs(gz, big.c_str());
  gzputs(gz, "\nsecond\nthird");
  gzclose(gz);
  std::string err;
  auto lr = LineReader::open(path, err);
  ASSERT_TRUE(lr) << err;
  std::vector<std::string> got;
  std::string_view line;
  while (lr->next(line)) got.emplace_back(line);
  EXPECT_EQ(got, (std::vector<std::string>{"first", "second", "third"}));
  EXPECT_EQ(lr->too_long(), 1u);
}

TEST(DnsInputDetection, RecognisesEveryFormat) {
  std::string err;
  auto det = [&](const std::string& p) { return detect_dns_input_format(p, err); };
  EXPECT_EQ(det(testdata("bind-query-plain.log")), DnsInputFormat::Bind);
  EXPECT_EQ(det(testdata("bind-query-full.log")), DnsInputFormat::Bind);
  EXPECT_EQ(det(testdata("unbound-plain.log")), DnsInputFormat::Unbound);
  EXPECT_EQ(det(testdata("unbound-tagged.log")), DnsInputFormat::Unbound);
  EXPECT_EQ(det(testdata("zeek-dns-sample.tsv")), DnsInputFormat::ZeekTsv);
  EXPECT_EQ(det(testdata("zeek-dns-sample.json")), DnsInputFormat::ZeekJson);
  EXPECT_EQ(det(testdata("bind-9.18.dnstap")), DnsInputFormat::Dnstap);
  EXPECT_EQ(det(dnstest::shared_data("dns/zeek-dns.log.gz")), DnsInputFormat::ZeekTsv);
  EXPECT_EQ(det(dnstest::shared_data("dns/pcap/dns.pcap")), DnsInputFormat::Pcap);
  EXPECT_EQ(det(dnstest::shared_data("dns/pcap/dns_tcp.pcapng")), DnsInputFormat::Pcap);
  EXPECT_EQ(det(testdata("make-unbound-logs.sh")), DnsInputFormat::Auto);
  EXPECT_NE(err, "");
}

// BIND wrote the query log and the dnstap file of testdata/ in the same run: each
// query-log line has its AUTH_QUERY dnstap message with the same client port and name.
TEST(BindQueryLog, AgreesWithBindsOwnDnstap) {
  auto log = read_all(testdata("bind-query-full.log"), DnsInputFormat::Bind);
  auto tap = read_all(testdata("bind-9.18.dnstap"), DnsInputFormat::Dnstap);
  size_t matched = 0;
  for (const auto& l : log) {
    for (const auto& d : tap) {
      if (d.dnstap_type != 1 || d.client_port != l.client_port) continue;
      EXPECT_EQ(d.qname, l.qname);
      EXPECT_EQ(d.qtype, l.qtype);
      EXPECT_EQ(d.client, l.client);
      EXPECT_EQ(d.transport, l.transport);
      EXPECT_LE(std::abs(d.time - l.time), 5);  // both are the server's clock
      ++matched;
    }
  }
  EXPECT_EQ(matched, log.size());
}

}  // namespace
}  // namespace omamori
