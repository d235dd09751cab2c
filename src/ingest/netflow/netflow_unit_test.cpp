// NetFlow v9 / IPFIX decoder behaviour on hand-built datagrams: template
// withdrawal, enterprise elements, variable-length fields, reduced-size
// encoding, padding, scoping, sampling, time elements, and one test per
// malformed-input reason.
#include <gtest/gtest.h>

#include <random>

#include "ingest/netflow/netflow_test_util.hpp"
#include "ingest/netflow/reasons.hpp"

namespace omamori {
namespace {

using namespace nftest;
namespace reason = netflow::reason;

struct Dec {
  explicit Dec(NetflowConfig cfg = {}) : dec(cfg) {}
  NetflowDecoder dec;
  CollectSink sink;
  IpAddr exporter = *IpAddr::parse("192.0.2.1");
  void in(const Bytes& b, TimeMs t = 1000) { dec.decode(exporter, t, span(b), sink); }
  void in_from(const char* ip, const Bytes& b) { dec.decode(*IpAddr::parse(ip), 1000, span(b), sink); }
  uint64_t err(const char* r) const { return dec.errors().count(r); }
  uint64_t errors() const { return dec.errors().total(); }
  const std::vector<FlowRecord>& recs() const { return sink.records; }
};

constexpr uint32_t kT = 1700000000;  // export time used in the messages

// Template 256: src4, dst4, sport, dport, proto, packets(4), bytes(8).
Bytes basic_template() {
  return set(2, tmpl(256, {{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {2, 4}, {1, 8}}));
}
Bytes basic_record(uint8_t last, uint16_t sport, uint32_t packets, uint64_t bytes) {
  Bytes r;
  r.raw({10, 0, 0, last}).raw({192, 0, 2, 7}).u16(sport).u16(443).u8(6).u32(packets).u64(bytes);
  return r;
}

// --- malformed input: one counter each --------------------------------------

TEST(NetflowMalformed, DatagramLevel) {
  Dec d;
  d.in(Bytes().raw({0, 9, 0}));
  EXPECT_EQ(d.err(reason::kTooShort), 1u);
  d.in(Bytes().u16(7).zeros(30));
  EXPECT_EQ(d.err(reason::kUnsupportedVersion), 1u);
  d.in(Bytes().u16(5).zeros(10));
  EXPECT_EQ(d.err(reason::kV5Truncated), 1u);
  d.in(Bytes().u16(9).zeros(15));
  EXPECT_EQ(d.err(reason::kV9Truncated), 1u);
  d.in(Bytes().u16(10).zeros(10));
  EXPECT_EQ(d.err(reason::kIpfixTruncated), 1u);
  d.in(ipfix(kT, 0, {}, 12));
  EXPECT_EQ(d.err(reason::kIpfixLengthShort), 1u);
  d.in(ipfix(kT, 0, {}, 400));
  EXPECT_EQ(d.err(reason::kIpfixLengthExceeds), 1u);
  d.in(ipfix(kT, 0, {}, 16).zeros(8));
  EXPECT_EQ(d.err(reason::kIpfixTrailing), 1u);
  EXPECT_EQ(d.errors(), 8u);
  EXPECT_EQ(d.recs().size(), 0u);
  // Every reason is per exporter.
  auto rows = d.dec.errors().snapshot(true);
  ASSERT_EQ(rows.size(), 8u);
  for (const auto& r : rows) EXPECT_EQ(r.source, "192.0.2.1");
}

TEST(NetflowMalformed, V5CountBeyondDatagram) {
  Dec d;
  Bytes m;
  m.u16(5).u16(3).u32(100000).u32(kT).u32(0).u32(1).u8(0).u8(0).u16(0x4064);  // sampling mode 1, 1 in 100
  Bytes rec;
  rec.raw({10, 1, 1, 1}).raw({10, 2, 2, 2}).zeros(4).u16(3).u16(4).u32(7).u32(700).u32(99000).u32(99500);
  rec.u16(1234).u16(80).u8(0).u8(0x12).u8(6).u8(0).u16(65001).u16(65002).u8(24).u8(24).u16(0);
  ASSERT_EQ(rec.size(), 48u);
  m.append(rec);
  d.in(m);
  EXPECT_EQ(d.err(reason::kV5CountExceeds), 1u);
  ASSERT_EQ(d.recs().size(), 1u);
  const auto& r = d.recs()[0];
  EXPECT_EQ(r.sampling_rate, 100u);
  EXPECT_EQ(r.packets, 7u);
  EXPECT_EQ(r.bytes, 700u);
  EXPECT_EQ(r.start, TimeMs(kT) * 1000 - 1000);
  EXPECT_EQ(r.end, TimeMs(kT) * 1000 - 500);
  EXPECT_EQ(r.src_as, 65001u);
  EXPECT_EQ(r.tcp_flags, 0x12);
}

TEST(NetflowMalformed, SetLevel) {
  Dec d;
  d.in(ipfix(kT, 0, {Bytes().u16(256).u16(2)}));
  EXPECT_EQ(d.err(reason::kBadSetLength), 1u);
  d.in(ipfix(kT, 0, {set(256, Bytes().zeros(8), 40)}));
  EXPECT_EQ(d.err(reason::kSetExceeds), 1u);
  d.in(ipfix(kT, 0, {set(5, Bytes().zeros(8))}));
  EXPECT_EQ(d.err(reason::kReservedSetId), 1u);
  d.in(v9(0, kT, 0, {set(0, tmpl(300, {{8, 4}})), Bytes().raw({1, 2})}));
  EXPECT_EQ(d.err(reason::kTrailingBytes), 1u);
  EXPECT_EQ(d.errors(), 4u);
}

TEST(NetflowMalformed, Templates) {
  Dec d;
  d.in(v9(0, kT, 0, {set(0, tmpl(300, {}))}));
  EXPECT_EQ(d.err(reason::kTemplateZeroFields), 1u);
  Bytes trunc = tmpl(301, {{8, 4}, {12, 4}});
  trunc.b[3] = 5;  // announces 5 fields, carries 2
  d.in(v9(0, kT, 0, {set(0, trunc)}));
  EXPECT_EQ(d.err(reason::kTemplateTruncated), 1u);
  d.in(ipfix(kT, 0, {set(2, tmpl(100, {{8, 4}}))}));
  EXPECT_EQ(d.err(reason::kTemplateReservedId), 1u);
  d.in(v9(0, kT, 0, {set(0, tmpl(302, {{8, 4}, {84, 65535}}))}));  // v9 has no variable length
  EXPECT_EQ(d.err(reason::kFieldLengthOverflow), 1u);
  d.in(ipfix(kT, 0, {set(3, opt_tmpl(303, 0, {{34, 4}}))}));
  EXPECT_EQ(d.err(reason::kOptionsBadScope), 1u);
  d.in(v9(0, kT, 0, {set(1, Bytes().u16(304).u16(6).u16(4).u16(1).u16(4).u16(34).u16(4))}));
  EXPECT_EQ(d.err(reason::kOptionsBadLengths), 1u);
  d.in(ipfix(kT, 0, {set(2, tmpl(305, {{300, 0}}))}));  // a field of length 0 only
  EXPECT_EQ(d.err(reason::kTemplateZeroLength), 1u);
  EXPECT_EQ(d.dec.template_count(), 0u);

  // An address field of 5 bytes is ignored (counted once), the rest decodes.
  d.in(ipfix(kT, 0,
             {set(2, tmpl(306, {{8, 5}, {12, 4}, {2, 4}})), set(306, Bytes().zeros(5).raw({1, 2, 3, 4}).u32(9))}));
  EXPECT_EQ(d.err(reason::kFieldLengthInvalid), 1u);
  ASSERT_EQ(d.recs().size(), 1u);
  EXPECT_EQ(d.recs()[0].dst.str(), "1.2.3.4");
  EXPECT_EQ(d.recs()[0].src.str(), "0.0.0.0");
  EXPECT_EQ(d.recs()[0].packets, 9u);
  // A variable-length field for a fixed-size element is skipped, not read.
  d.in(ipfix(kT, 0, {set(2, tmpl(307, {{8, 4}, {2, 65535}})), set(307, Bytes().raw({1, 1, 1, 1}).u8(2).u16(77))}));
  EXPECT_EQ(d.err(reason::kVarLenFixedElement), 1u);
  ASSERT_EQ(d.recs().size(), 2u);
  EXPECT_EQ(d.recs()[1].packets, 0u);
}

TEST(NetflowMalformed, TemplateLimits) {
  NetflowConfig cfg;
  cfg.max_templates = 3;
  cfg.max_templates_per_exporter = 2;
  Dec d(cfg);
  d.in(ipfix(kT, 0, {set(2, tmpl(256, {{8, 4}}).append(tmpl(257, {{8, 4}})).append(tmpl(258, {{8, 4}})))}));
  EXPECT_EQ(d.err(reason::kTooManyTemplatesExporter), 1u);
  d.in_from("192.0.2.2", ipfix(kT, 0, {set(2, tmpl(256, {{8, 4}}).append(tmpl(257, {{8, 4}})))}));
  EXPECT_EQ(d.err(reason::kTooManyTemplates), 1u);
  EXPECT_EQ(d.dec.template_count(), 3u);
  // Refreshing a known template is always allowed.
  d.in(ipfix(kT, 0, {set(2, tmpl(256, {{8, 4}}))}));
  EXPECT_EQ(d.errors(), 2u);
}

TEST(NetflowMalformed, RecordPastSetEnd) {
  Dec d;
  // Template: src4, a variable-length string, packets.
  d.in(ipfix(kT, 0, {set(2, tmpl(256, {{8, 4}, {82, 65535}, {2, 4}}))}));
  Bytes data;
  data.raw({10, 0, 0, 1}).u8(3).raw({'a', 'b', 'c'}).u32(5);  // fine
  data.raw({10, 0, 0, 2}).u8(50).raw({'x', 'y'}).u32(6);      // claims 50 bytes
  d.in(ipfix(kT, 0, {set(256, data)}));
  EXPECT_EQ(d.err(reason::kRecordPastSetEnd), 1u);
  ASSERT_EQ(d.recs().size(), 1u);
  EXPECT_EQ(d.recs()[0].packets, 5u);
}

TEST(NetflowMalformed, HoldLimits) {
  NetflowConfig cfg;
  cfg.max_pending_sets = 2;
  Dec d(cfg);
  for (int i = 0; i < 3; ++i) d.in(ipfix(kT, 0, {set(256, basic_record(1, 1, 1, 1))}));
  EXPECT_EQ(d.dec.stats().pending_held, 2u);
  EXPECT_EQ(d.err(reason::kHeldBufferFull), 1u);
  d.in(ipfix(kT, 0, {basic_template()}));
  EXPECT_EQ(d.recs().size(), 2u);
  EXPECT_EQ(d.dec.stats().pending_decoded, 2u);

  NetflowConfig small;
  small.max_pending_bytes = 40;
  Dec e(small);
  e.in(ipfix(kT, 0, {set(256, basic_record(1, 1, 1, 1))}));  // 27 bytes
  e.in(ipfix(kT, 0, {set(256, basic_record(1, 1, 1, 1))}));
  EXPECT_EQ(e.err(reason::kHeldBufferFull), 1u);
  e.dec.finish();
  EXPECT_EQ(e.err(reason::kHeldAtFinish), 1u);
  EXPECT_EQ(e.dec.stats().pending_expired, 1u);
}

TEST(NetflowMalformed, HeldDataExpiresOnReceivedClock) {
  NetflowConfig cfg;
  cfg.pending_hold_ms = 5000;
  Dec d(cfg);
  d.in(ipfix(kT, 0, {set(256, basic_record(1, 1, 1, 1))}), 1000);
  d.in(ipfix(kT, 0, {set(257, basic_record(2, 1, 1, 1))}), 4000);
  d.in(ipfix(kT, 0, {}), 6500);  // first one is 5.5 s old
  EXPECT_EQ(d.err(reason::kHeldExpired), 1u);
  d.in(ipfix(kT, 0, {set(2, tmpl(257, {{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {2, 4}, {1, 8}}))}), 7000);
  EXPECT_EQ(d.recs().size(), 1u);
  EXPECT_EQ(d.recs()[0].src.str(), "10.0.0.2");
}

// --- IPFIX features ----------------------------------------------------------

TEST(NetflowIpfix, VariableLengthFields) {
  Dec d;
  // src4, short string, packets, long string, bytes: both RFC 7011 length forms.
  d.in(ipfix(kT, 0, {set(2, tmpl(256, {{8, 4}, {82, 65535}, {2, 4}, {83, 65535}, {1, 8}}))}));
  Bytes data;
  data.raw({10, 0, 0, 1}).u8(3).raw({'e', 't', 'h'}).u32(11).u8(0).u64(1100);
  data.raw({10, 0, 0, 2}).u8(0).u32(22).u8(255).u16(300).zeros(300).u64(2200);
  data.zeros(3);  // set padding
  d.in(ipfix(kT, 0, {set(256, data)}));
  EXPECT_EQ(d.errors(), 0u) << dump_errors(d.dec.errors());
  ASSERT_EQ(d.recs().size(), 2u);
  EXPECT_EQ(d.recs()[0].packets, 11u);
  EXPECT_EQ(d.recs()[0].bytes, 1100u);
  EXPECT_EQ(d.recs()[1].src.str(), "10.0.0.2");
  EXPECT_EQ(d.recs()[1].packets, 22u);
  EXPECT_EQ(d.recs()[1].bytes, 2200u);
}

TEST(NetflowIpfix, EnterpriseElementsSkipped) {
  Dec d;
  // Enterprise elements with numbers that would mean octets/packets/addresses in IANA space.
  d.in(ipfix(kT, 0,
             {set(2, tmpl(256, {{1, 8, 9},          // Cisco PEN, id 1, 8 bytes
                                {8, 4},             // sourceIPv4Address
                                {8, 4, 2636},       // Juniper PEN, id 8
                                {12, 4},            // destinationIPv4Address
                                {2, 65535, 26866},  // Gigamon PEN, variable length
                                {2, 4},             // packetDeltaCount
                                {1, 4}}))}));       // octetDeltaCount
  Bytes data;
  data.u64(999999).raw({10, 0, 0, 1}).raw({6, 6, 6, 6}).raw({10, 0, 0, 2}).u8(5).raw({1, 2, 3, 4, 5}).u32(3).u32(300);
  d.in(ipfix(kT, 0, {set(256, data)}));
  EXPECT_EQ(d.errors(), 0u);
  ASSERT_EQ(d.recs().size(), 1u);
  const auto& r = d.recs()[0];
  EXPECT_EQ(r.src.str(), "10.0.0.1");
  EXPECT_EQ(r.dst.str(), "10.0.0.2");
  EXPECT_EQ(r.packets, 3u);
  EXPECT_EQ(r.bytes, 300u);
}

TEST(NetflowIpfix, ReducedSizeEncoding) {
  Dec d;
  // octets in 2 bytes, packets in 1, interfaces in 2, AS in 2 and 4, ports, flags in 2 (tcpControlBits).
  d.in(ipfix(
      kT, 0,
      {set(2, tmpl(256, {{8, 4}, {12, 4}, {1, 2}, {2, 1}, {10, 2}, {14, 4}, {16, 2}, {17, 4}, {6, 2}, {4, 1}}))}));
  Bytes data;
  data.raw({10, 0, 0, 1}).raw({10, 0, 0, 2}).u16(0xABCD).u8(0xEF).u16(7).u32(70000).u16(64512).u32(4200000000u);
  data.u16(0x0112).u8(6);
  d.in(ipfix(kT, 0, {set(256, data)}));
  ASSERT_EQ(d.recs().size(), 1u);
  const auto& r = d.recs()[0];
  EXPECT_EQ(r.bytes, 0xABCDu);
  EXPECT_EQ(r.packets, 0xEFu);
  EXPECT_EQ(r.in_if, 7u);
  EXPECT_EQ(r.out_if, 70000u);
  EXPECT_EQ(r.src_as, 64512u);
  EXPECT_EQ(r.dst_as, 4200000000u);
  EXPECT_EQ(r.tcp_flags, 0x12);
}

TEST(NetflowIpfix, TemplateWithdrawal) {
  Dec d;
  d.in(ipfix(kT, 0, {basic_template()}));
  d.in(ipfix(kT, 0, {set(256, basic_record(1, 1, 1, 1))}));
  EXPECT_EQ(d.recs().size(), 1u);
  // Withdraw template 256: its data is unknown again (held, not decoded with the old layout).
  d.in(ipfix(kT, 0, {set(2, Bytes().u16(256).u16(0))}));
  EXPECT_EQ(d.dec.stats().template_withdrawals, 1u);
  EXPECT_EQ(d.dec.template_count(), 0u);
  d.in(ipfix(kT, 0, {set(256, basic_record(2, 1, 1, 1))}));
  EXPECT_EQ(d.recs().size(), 1u);
  EXPECT_EQ(d.dec.stats().pending_held, 1u);
  // Withdraw-all of data templates (template id = set id 2) leaves options templates alone.
  d.in(ipfix(kT, 0,
             {set(2, tmpl(300, {{8, 4}}).append(tmpl(301, {{8, 4}}))), set(3, opt_tmpl(400, 1, {{302, 4}, {34, 4}}))}));
  EXPECT_EQ(d.dec.template_count(), 3u);
  d.in(ipfix(kT, 0, {set(2, Bytes().u16(2).u16(0))}));
  EXPECT_EQ(d.dec.template_count(), 1u);
  d.in(ipfix(kT, 0, {set(3, Bytes().u16(3).u16(0))}));
  EXPECT_EQ(d.dec.template_count(), 0u);
  EXPECT_EQ(d.dec.stats().template_withdrawals, 4u);
  // Withdrawing an unknown template is harmless.
  d.in(ipfix(kT, 0, {set(2, Bytes().u16(999).u16(0))}));
  EXPECT_EQ(d.errors(), 0u);
}

TEST(NetflowIpfix, TemplateReplacementAndRefresh) {
  Dec d;
  d.in(ipfix(kT, 0, {basic_template()}));
  d.in(ipfix(kT, 0, {basic_template()}));  // refresh
  EXPECT_EQ(d.dec.stats().templates, 2u);
  EXPECT_EQ(d.dec.stats().template_replacements, 0u);
  // Same id, new layout: dst first, then src, bytes in 4 bytes, no ports.
  d.in(ipfix(kT, 0, {set(2, tmpl(256, {{12, 4}, {8, 4}, {1, 4}}))}));
  EXPECT_EQ(d.dec.stats().template_replacements, 1u);
  d.in(ipfix(kT, 0, {set(256, Bytes().raw({1, 1, 1, 1}).raw({2, 2, 2, 2}).u32(77))}));
  ASSERT_EQ(d.recs().size(), 1u);
  EXPECT_EQ(d.recs()[0].src.str(), "2.2.2.2");
  EXPECT_EQ(d.recs()[0].bytes, 77u);
  // An unusable redefinition removes the old layout: later data waits instead of being misread.
  d.in(ipfix(kT, 0, {set(2, tmpl(256, {{300, 0}}))}));
  EXPECT_EQ(d.err(reason::kTemplateZeroLength), 1u);
  EXPECT_EQ(d.dec.template_count(), 0u);
  d.in(ipfix(kT, 0, {set(256, Bytes().raw({1, 1, 1, 1}).raw({2, 2, 2, 2}).u32(77))}));
  EXPECT_EQ(d.recs().size(), 1u);
  EXPECT_EQ(d.dec.stats().pending_held, 1u);
}

TEST(NetflowIpfix, TemplatesScopedByExporterDomainAndVersion) {
  Dec d;
  // Template 256 means different layouts for two exporters, two domains and NetFlow v9.
  d.in_from("192.0.2.1", ipfix(kT, 1, {set(2, tmpl(256, {{8, 4}, {2, 4}}))}));
  d.in_from("192.0.2.2", ipfix(kT, 1, {set(2, tmpl(256, {{2, 4}, {8, 4}}))}));
  d.in_from("192.0.2.1", ipfix(kT, 2, {set(2, tmpl(256, {{8, 4}, {1, 4}}))}));
  d.in_from("192.0.2.1", v9(0, kT, 1, {set(0, tmpl(256, {{12, 4}, {2, 4}}))}));
  Bytes data;
  data.raw({10, 0, 0, 9}).u32(5);
  d.in_from("192.0.2.1", ipfix(kT, 1, {set(256, data)}));
  d.in_from("192.0.2.2", ipfix(kT, 1, {set(256, Bytes().u32(6).raw({10, 0, 0, 8}))}));
  d.in_from("192.0.2.1", ipfix(kT, 2, {set(256, data)}));
  d.in_from("192.0.2.1", v9(0, kT, 1, {set(256, data)}));
  ASSERT_EQ(d.recs().size(), 4u);
  EXPECT_EQ(d.recs()[0].src.str(), "10.0.0.9");
  EXPECT_EQ(d.recs()[0].packets, 5u);
  EXPECT_EQ(d.recs()[1].src.str(), "10.0.0.8");
  EXPECT_EQ(d.recs()[1].packets, 6u);
  EXPECT_EQ(d.recs()[1].exporter.str(), "192.0.2.2");
  EXPECT_EQ(d.recs()[2].bytes, 5u);
  EXPECT_EQ(d.recs()[3].dst.str(), "10.0.0.9");
  EXPECT_EQ(d.errors(), 0u);
}

TEST(NetflowIpfix, SamplingFromOptionsData) {
  Dec d;
  // Options: scope selectorId (302); samplingPacketInterval/Space (305/306) -> 1 in 100.
  // A second options template without selector: samplingInterval (34) = 50, exporter-wide.
  d.in(ipfix(kT, 0,
             {set(3, opt_tmpl(300, 1, {{302, 4}, {305, 4}, {306, 4}}).append(opt_tmpl(301, 1, {{144, 4}, {34, 4}}))),
              set(300, Bytes().u32(5).u32(1).u32(99)), set(301, Bytes().u32(0).u32(50))}));
  EXPECT_EQ(d.dec.stats().options_records, 2u);
  d.in(ipfix(kT, 0, {set(2, tmpl(256, {{8, 4}, {12, 4}, {302, 4}}).append(tmpl(257, {{8, 4}, {12, 4}})))}));
  d.in(ipfix(kT, 0,
             {set(256, Bytes().raw({1, 1, 1, 1}).raw({2, 2, 2, 2}).u32(5).raw({1, 1, 1, 1}).raw({2, 2, 2, 2}).u32(7)),
              set(257, Bytes().raw({3, 3, 3, 3}).raw({4, 4, 4, 4}))}));
  ASSERT_EQ(d.recs().size(), 3u);
  EXPECT_EQ(d.recs()[0].sampling_rate, 100u);  // selector 5
  EXPECT_EQ(d.recs()[1].sampling_rate, 50u);   // unknown selector 7: exporter-wide
  EXPECT_EQ(d.recs()[2].sampling_rate, 50u);   // no selector
  // Another exporter knows nothing: unsampled.
  d.in_from("192.0.2.9", ipfix(kT, 0, {set(2, tmpl(257, {{8, 4}, {12, 4}})), set(257, Bytes().zeros(8))}));
  EXPECT_EQ(d.recs()[3].sampling_rate, 1u);
  // Options records are never flows, even with addresses in them.
  d.in(ipfix(kT, 0, {set(3, opt_tmpl(302, 1, {{8, 4}, {12, 4}})), set(302, Bytes().zeros(8))}));
  EXPECT_EQ(d.recs().size(), 4u);
  EXPECT_EQ(d.errors(), 0u);
}

TEST(NetflowV9, SamplingFromOptionsDataBySamplerId) {
  Dec d;
  // v9 options template: scope System (type 1, 4 bytes), FLOW_SAMPLER_ID (48, 1), FLOW_SAMPLER_RANDOM_INTERVAL (50, 4).
  Bytes ot;
  ot.u16(260).u16(4).u16(8).u16(1).u16(4).u16(48).u16(1).u16(50).u16(4);
  d.in(v9(5000, kT, 3, {set(1, ot), set(260, Bytes().u32(0).u8(2).u32(512).u32(0).u8(3).u32(1024).zeros(2))}));
  EXPECT_EQ(d.dec.stats().options_records, 2u);
  EXPECT_EQ(d.errors(), 0u) << dump_errors(d.dec.errors());
  d.in(v9(5000, kT, 3,
          {set(0, tmpl(261, {{8, 4}, {12, 4}, {48, 1}})),
           set(261, Bytes().raw({1, 1, 1, 1}).raw({2, 2, 2, 2}).u8(3).raw({1, 1, 1, 1}).raw({2, 2, 2, 2}).u8(2))}));
  ASSERT_EQ(d.recs().size(), 2u);
  EXPECT_EQ(d.recs()[0].sampling_rate, 1024u);
  EXPECT_EQ(d.recs()[1].sampling_rate, 512u);
}

TEST(NetflowTimes, IpfixTimeElements) {
  const TimeMs base = TimeMs(kT) * 1000;
  Dec d;
  d.in(ipfix(kT, 0,
             {set(2, tmpl(256, {{8, 4}, {150, 4}, {151, 4}})
                         .append(tmpl(257, {{8, 4}, {154, 8}, {155, 8}}))
                         .append(tmpl(258, {{8, 4}, {156, 8}, {157, 8}}))
                         .append(tmpl(259, {{8, 4}, {158, 4}, {159, 4}}))
                         .append(tmpl(260, {{8, 4}, {22, 4}, {21, 4}}))
                         .append(tmpl(261, {{8, 4}, {152, 8}, {161, 4}})))}));
  const uint64_t ntp = (uint64_t(kT) + 2208988800ULL - 10) << 32 | (uint64_t(1) << 31);  // kT - 9.5 s
  d.in(
      ipfix(kT, 0,
            {set(256, Bytes().zeros(4).u32(kT - 30).u32(kT - 20)),
             set(257, Bytes().zeros(4).u64(ntp).u64(ntp + (uint64_t(1) << 32))),
             set(258, Bytes().zeros(4).u64(ntp).u64(ntp)), set(259, Bytes().zeros(4).u32(5000000).u32(1500000)),
             set(260, Bytes().zeros(4).u32(10000).u32(12000)), set(261, Bytes().zeros(4).u64(base - 4000).u32(2500))}));
  ASSERT_EQ(d.recs().size(), 6u);
  auto se = [&](size_t i) { return std::make_pair(d.recs()[i].start - base, d.recs()[i].end - base); };
  EXPECT_EQ(se(0), std::make_pair(TimeMs(-30000), TimeMs(-20000)));  // seconds
  EXPECT_EQ(se(1), std::make_pair(TimeMs(-9500), TimeMs(-8500)));    // NTP microseconds
  EXPECT_EQ(se(2), std::make_pair(TimeMs(-9500), TimeMs(-9500)));    // NTP nanoseconds
  EXPECT_EQ(se(3), std::make_pair(TimeMs(-5000), TimeMs(-1500)));    // delta microseconds from export time
  // Uptime-relative without systemInitTimeMilliseconds: end at export time, duration kept.
  EXPECT_EQ(se(4), std::make_pair(TimeMs(-2000), TimeMs(0)));
  EXPECT_EQ(se(5), std::make_pair(TimeMs(-4000), TimeMs(-1500)));  // start + flowDurationMilliseconds
  // With systemInitTimeMilliseconds (160) from options data, uptime-relative times are exact.
  d.in(ipfix(kT, 0, {set(3, opt_tmpl(300, 1, {{144, 4}, {160, 8}})), set(300, Bytes().u32(1).u64(base - 100000))}));
  d.in(ipfix(kT, 0, {set(260, Bytes().zeros(4).u32(10000).u32(12000))}));
  ASSERT_EQ(d.recs().size(), 7u);
  EXPECT_EQ(se(6), std::make_pair(TimeMs(-90000), TimeMs(-88000)));
}

TEST(NetflowTimes, V9UptimeWrapAround) {
  Dec d;
  // sysuptime wrapped to 1000 ms; the flow started 256 ms before the wrap.
  d.in(v9(1000, kT, 0,
          {set(0, tmpl(256, {{8, 4}, {22, 4}, {21, 4}})), set(256, Bytes().zeros(4).u32(0xFFFFFF00u).u32(500))}));
  ASSERT_EQ(d.recs().size(), 1u);
  EXPECT_EQ(d.recs()[0].start, TimeMs(kT) * 1000 - 1256);
  EXPECT_EQ(d.recs()[0].end, TimeMs(kT) * 1000 - 500);
}

TEST(NetflowFields, IcmpTypeCodeAndAddressFamilies) {
  Dec d;
  // ICMP type/code from 176/177 (IPFIX) and 32 (v9) into the destination port when ports are 0.
  d.in(ipfix(kT, 0,
             {set(2, tmpl(256, {{8, 4}, {12, 4}, {4, 1}, {7, 2}, {11, 2}, {176, 1}, {177, 1}})),
              set(256, Bytes().raw({1, 1, 1, 1}).raw({2, 2, 2, 2}).u8(1).u16(0).u16(0).u8(3).u8(1))}));
  d.in(v9(0, kT, 0,
          {set(0, tmpl(256, {{8, 4}, {12, 4}, {4, 1}, {32, 2}})),
           set(256, Bytes().raw({1, 1, 1, 1}).raw({2, 2, 2, 2}).u8(1).u16(0x0800))}));
  ASSERT_EQ(d.recs().size(), 2u);
  EXPECT_EQ(d.recs()[0].dport, 0x0301);
  EXPECT_EQ(d.recs()[1].dport, 0x0800);
  // Templates with both families: the zero family is not the flow's; ipVersion (60) decides when present.
  Bytes v6;
  v6.raw({0x20, 0x01, 0x0d, 0xb8}).zeros(11).u8(1);
  d.in(v9(0, kT, 0,
          {set(0, tmpl(257, {{8, 4}, {12, 4}, {27, 16}, {28, 16}}).append(tmpl(258, {{60, 1}, {8, 4}, {27, 16}}))),
           set(257, Bytes().zeros(8).append(v6).append(v6).raw({9, 9, 9, 9}).zeros(4).zeros(32)),
           set(258, Bytes().u8(6).raw({9, 9, 9, 9}).append(v6))}));
  ASSERT_EQ(d.recs().size(), 5u);
  EXPECT_EQ(d.recs()[2].src.str(), "2001:db8::1");
  EXPECT_EQ(d.recs()[2].ip_version, 6);
  EXPECT_EQ(d.recs()[3].src.str(), "9.9.9.9");
  EXPECT_EQ(d.recs()[3].ip_version, 4);
  EXPECT_EQ(d.recs()[4].src.str(), "2001:db8::1");
  EXPECT_EQ(d.errors(), 0u);
}

TEST(NetflowFields, RecordsWithoutAddressesAreNotFlows) {
  Dec d;
  d.in(ipfix(kT, 0, {set(2, tmpl(256, {{10, 4}, {2, 4}})), set(256, Bytes().u32(1).u32(2).u32(3).u32(4))}));
  EXPECT_EQ(d.recs().size(), 0u);
  EXPECT_EQ(d.dec.stats().non_flow_records, 2u);
  EXPECT_EQ(d.errors(), 0u);
}

// Every prefix and many corruptions of real datagrams: never a crash or an
// out-of-bounds read (run under ASan in CI), always accounted for.
TEST(NetflowRobustness, TruncatedAndCorruptedRealDatagrams) {
  std::vector<Datagram> all;
  for (const char* f :
       {"template.pcap", "data.pcap", "ipfixprobe-templates.pcap", "ipfixprobe-data.pcap", "mpls.pcap", "nfv5.pcap",
        "datalink-template.pcap", "datalink-data.pcap", "multiplesamplingrates-options-template.pcap", "nat.pcap"}) {
    auto ds = read_datagrams(akvorado(f));
    all.insert(all.end(), ds.begin(), ds.end());
  }
  ASSERT_EQ(all.size(), 10u);
  NetflowDecoder dec;
  CollectSink sink;
  std::mt19937 rng(7);
  uint64_t n = 0;
  for (const auto& d : all) {
    for (size_t len = 0; len <= d.payload.size(); ++len) {
      dec.decode(d.src, d.ts, std::span<const uint8_t>(d.payload.data(), len), sink);
      ++n;
    }
    for (int i = 0; i < 300; ++i) {
      auto b = d.payload;
      for (int k = 0; k < 1 + int(rng() % 4); ++k) b[rng() % b.size()] = uint8_t(rng());
      dec.decode(d.src, d.ts, b, sink);
      ++n;
    }
  }
  dec.finish();
  EXPECT_EQ(dec.stats().datagrams, n);
  EXPECT_GT(dec.errors().total(), 0u);
  for (const auto& r : sink.records) EXPECT_TRUE(r.ip_version == 4 || r.ip_version == 6);
}

}  // namespace
}  // namespace omamori
