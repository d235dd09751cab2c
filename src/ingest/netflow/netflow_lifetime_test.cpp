// Template lifetime, IPFIX structured data (RFC 6313) and template state
// shared between decoders (TemplateExchange).
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

#include "ingest/netflow/exchange.hpp"
#include "ingest/netflow/netflow_test_util.hpp"
#include "ingest/netflow/reasons.hpp"

namespace omamori {
namespace {

using namespace nftest;
namespace reason = netflow::reason;

constexpr uint32_t kT = 1700000000;
const IpAddr kExporter = *IpAddr::parse("192.0.2.1");

Bytes basic_template(uint16_t id = 256) {
  return set(2, tmpl(id, {{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {2, 4}, {1, 8}}));
}
Bytes basic_record(uint8_t last, uint16_t sport = 1000) {
  Bytes r;
  r.raw({10, 0, 0, last}).raw({192, 0, 2, 7}).u16(sport).u16(443).u8(6).u32(3).u64(300);
  return r;
}
Bytes data(uint16_t id, const Bytes& recs) { return set(id, recs); }

struct Side {
  explicit Side(NetflowConfig cfg = {}) : dec(cfg) {}
  NetflowDecoder dec;
  CollectSink sink;
  void in(const Bytes& b, TimeMs t) { dec.decode(kExporter, t, span(b), sink); }
  size_t recs() const { return sink.records.size(); }
};

// --- lifetime --------------------------------------------------------------

TEST(NetflowTemplateLifetime, ExpiresWithoutRefreshAndIsCounted) {
  NetflowConfig cfg;
  cfg.template_timeout_ms = 60000;
  Side s(cfg);
  s.in(ipfix(kT, 1, {basic_template()}), 0);
  s.in(ipfix(kT, 1, {data(256, basic_record(1))}), 30000);
  EXPECT_EQ(s.recs(), 1u);
  // Refreshed at 50 s: still there at 100 s.
  s.in(ipfix(kT, 1, {basic_template()}), 50000);
  s.in(ipfix(kT, 1, {data(256, basic_record(2))}), 100000);
  EXPECT_EQ(s.recs(), 2u);
  EXPECT_EQ(s.dec.stats().templates_expired, 0u);
  // Nothing for more than a minute after the refresh: gone (checked at least every second).
  s.in(ipfix(kT, 1, {data(256, basic_record(3))}), 112000);
  EXPECT_EQ(s.dec.stats().templates_expired, 1u);
  EXPECT_EQ(s.dec.template_count(), 0u);
  EXPECT_EQ(s.recs(), 2u);  // held, waiting for a template
  EXPECT_EQ(s.dec.stats().pending_held, 1u);
  s.in(ipfix(kT, 1, {basic_template()}), 113000);  // the template comes back: the held data is decoded
  EXPECT_EQ(s.recs(), 3u);
}

TEST(NetflowTemplateLifetime, ZeroTimeoutNeverExpiresAndBackwardClockDoesNotExpire) {
  NetflowConfig never;
  never.template_timeout_ms = 0;
  Side a(never);
  a.in(ipfix(kT, 1, {basic_template()}), 0);
  a.in(ipfix(kT, 1, {data(256, basic_record(1))}), 365LL * 86400000);
  EXPECT_EQ(a.recs(), 1u);
  EXPECT_EQ(a.dec.stats().templates_expired, 0u);

  // Replaying captures in turn: the clock may go back (an older file); that ages nothing.
  NetflowConfig cfg;
  cfg.template_timeout_ms = 60000;
  Side b(cfg);
  b.in(ipfix(kT, 1, {basic_template()}), 10'000'000);
  b.in(ipfix(kT, 1, {data(256, basic_record(1))}), 1'000);
  b.in(ipfix(kT, 1, {data(256, basic_record(2))}), 50'000);
  EXPECT_EQ(b.recs(), 2u);
  EXPECT_EQ(b.dec.stats().templates_expired, 0u);
}

TEST(NetflowTemplateLifetime, LoadedTemplatesCountFromFirstDatagram) {
  auto path = (std::filesystem::temp_directory_path() / ("omamori_tpl_life_" + std::to_string(::getpid()))).string();
  std::string err;
  {
    Side s;
    s.in(ipfix(kT, 1, {basic_template()}), 0);
    ASSERT_TRUE(s.dec.save_templates(path, err)) << err;
  }
  NetflowConfig cfg;
  cfg.template_timeout_ms = 60000;
  Side s(cfg);
  ASSERT_TRUE(s.dec.load_templates(path, err)) << err;
  // Days later on the received clock: the loaded template lives one timeout from here.
  s.in(ipfix(kT, 1, {data(256, basic_record(1))}), 5 * 86400000LL);
  s.in(ipfix(kT, 1, {data(256, basic_record(2))}), 5 * 86400000LL + 59000);
  EXPECT_EQ(s.recs(), 2u);
  s.in(ipfix(kT, 1, {data(256, basic_record(3))}), 5 * 86400000LL + 125000);
  EXPECT_EQ(s.recs(), 2u);
  EXPECT_EQ(s.dec.stats().templates_expired, 1u);
  std::filesystem::remove(path);
}

// --- IPFIX structured data (RFC 6313) ---------------------------------------

// basicList: semantic, field id, element length, elements.
Bytes basic_list(uint8_t semantic, uint16_t field, uint16_t elen, const Bytes& elements) {
  Bytes b;
  b.u8(semantic).u16(field).u16(elen).append(elements);
  return b;
}
Bytes varlen(const Bytes& b) {
  Bytes v;
  v.u8(b.size()).append(b);
  return v;
}

TEST(NetflowIpfixLists, BasicListFillsMissingFieldWithFirstElement) {
  Side s;
  // src4, dst4, proto, bytes, packets, basicList (varlen).
  s.in(ipfix(kT, 1, {set(2, tmpl(300, {{8, 4}, {12, 4}, {4, 1}, {1, 4}, {2, 4}, {291, 0xFFFF}}))}), 1000);
  Bytes rec;
  rec.raw({10, 0, 0, 1}).raw({10, 0, 0, 2}).u8(17).u32(1000).u32(10);
  // allOf egressInterface (14), 4 bytes each: 7, 9 (multicast replication).
  rec.append(varlen(basic_list(3, 14, 4, Bytes().u32(7).u32(9))));
  Bytes rec2;
  rec2.raw({10, 0, 0, 3}).raw({10, 0, 0, 4}).u8(17).u32(1).u32(1);
  rec2.append(varlen(basic_list(3, 14, 4, Bytes())));  // empty list: out_if stays 0
  s.in(ipfix(kT, 1, {set(300, Bytes().append(rec).append(rec2))}), 1000);
  ASSERT_EQ(s.recs(), 2u);
  EXPECT_EQ(s.sink.records[0].out_if, 7u);
  EXPECT_EQ(s.sink.records[0].bytes, 1000u);
  EXPECT_EQ(s.sink.records[1].out_if, 0u);
  EXPECT_EQ(s.dec.stats().basic_lists, 2u);
  EXPECT_EQ(s.dec.stats().list_values_used, 1u);
  EXPECT_EQ(s.dec.errors().total(), 0u);
}

TEST(NetflowIpfixLists, BasicListDoesNotOverrideTopLevelFieldAndCanCarryAddresses) {
  Side s;
  // out_if at top level and in a list; the addresses only in lists (enterprise bit on an IANA id is malformed
  // usage but the PEN form must parse).
  s.in(ipfix(kT, 1, {set(2, tmpl(301, {{14, 4}, {291, 0xFFFF}, {291, 0xFFFF}, {291, 0xFFFF}, {2, 4}}))}), 1000);
  Bytes rec;
  rec.u32(5);
  rec.append(varlen(basic_list(3, 14, 4, Bytes().u32(99))));
  rec.append(varlen(basic_list(4, 8, 4, Bytes().raw({198, 51, 100, 1}).raw({198, 51, 100, 2}))));
  Bytes pen_list;
  pen_list.u8(3).u16(12 | 0x8000).u16(4).u32(29305).raw({1, 2, 3, 4});  // reverse PEN: not a dst address
  rec.append(varlen(pen_list));
  rec.u32(4);
  s.in(ipfix(kT, 1, {set(301, rec)}), 1000);
  ASSERT_EQ(s.recs(), 1u);
  EXPECT_EQ(s.sink.records[0].out_if, 5u);
  EXPECT_EQ(s.sink.records[0].src.str(), "198.51.100.1");
  EXPECT_EQ(s.sink.records[0].dst.str(), "0.0.0.0");
  EXPECT_EQ(s.sink.records[0].packets, 4u);
  EXPECT_EQ(s.dec.stats().basic_lists, 3u);
  EXPECT_EQ(s.dec.stats().list_values_used, 1u);
  EXPECT_EQ(s.dec.stats().non_flow_records, 0u);
}

TEST(NetflowIpfixLists, SubTemplateListsCheckedAndCounted) {
  Side s;
  // Template 400: MPLS-ish label entries (mplsTopLabelStackSection 70, 3 bytes); template 401 a flow
  // with a subTemplateList and a subTemplateMultiList.
  s.in(ipfix(kT, 1,
             {set(2, Bytes()
                         .append(tmpl(400, {{70, 3}}))
                         .append(tmpl(402, {{7, 2}, {11, 2}}))
                         .append(tmpl(401, {{8, 4}, {12, 4}, {292, 0xFFFF}, {293, 0xFFFF}, {1, 4}})))}),
       1000);
  Bytes stl;
  stl.u8(4).u16(400).raw({0, 1, 0x41}).raw({0, 2, 0x01});  // ordered, two labels
  Bytes stml;
  stml.u8(3);
  stml.u16(400).u16(4 + 3).raw({0, 3, 0x01});
  stml.u16(402).u16(4 + 8).u16(1).u16(2).u16(3).u16(4);
  Bytes rec;
  rec.raw({10, 0, 0, 1}).raw({10, 0, 0, 2}).append(varlen(stl)).append(varlen(stml)).u32(1234);
  s.in(ipfix(kT, 1, {set(401, rec)}), 1000);
  ASSERT_EQ(s.recs(), 1u);
  EXPECT_EQ(s.sink.records[0].bytes, 1234u);
  EXPECT_EQ(s.dec.stats().sub_template_lists, 1u);
  EXPECT_EQ(s.dec.stats().sub_template_multi_lists, 1u);
  EXPECT_EQ(s.dec.stats().list_records, 2u + 1u + 2u);
  EXPECT_EQ(s.dec.errors().total(), 0u);

  // Unknown template, a record that does not fit, a bad semantic, a block longer than the list:
  // each counted; the flow record itself is still decoded.
  auto one = [&](const Bytes& l1, const Bytes& l2) {
    Bytes r;
    r.raw({10, 0, 0, 9}).raw({10, 0, 0, 8}).append(varlen(l1)).append(varlen(l2)).u32(1);
    s.in(ipfix(kT, 1, {set(401, r)}), 1000);
  };
  one(Bytes().u8(4).u16(999).raw({1, 2, 3}), Bytes().u8(3));
  EXPECT_EQ(s.dec.errors().count(reason::kListUnknownTemplate), 1u);
  one(Bytes().u8(4).u16(400).raw({1, 2, 3, 4}), Bytes().u8(3));
  EXPECT_EQ(s.dec.errors().count(reason::kListMalformed), 1u);
  one(Bytes().u8(9).u16(400), Bytes().u8(3));
  EXPECT_EQ(s.dec.errors().count(reason::kListMalformed), 2u);
  one(Bytes().u8(4).u16(400), Bytes().u8(3).u16(400).u16(40).raw({0, 0, 0}));
  EXPECT_EQ(s.dec.errors().count(reason::kListMalformed), 3u);
  EXPECT_EQ(s.recs(), 5u);
}

TEST(NetflowIpfixLists, NestingIsBounded) {
  Side s;
  // Template 500 holds a subTemplateList of template 500 itself.
  s.in(ipfix(kT, 1, {set(2, tmpl(500, {{4, 1}, {292, 0xFFFF}}))}), 1000);
  // Innermost: proto + empty list; each level wraps the previous in a list of template 500.
  Bytes inner;
  inner.u8(6).append(varlen(Bytes().u8(4).u16(500)));
  for (int i = 0; i < 8; ++i) {
    Bytes l;
    l.u8(4).u16(500).append(inner);
    Bytes rec;
    rec.u8(6).append(varlen(l));
    inner = rec;
  }
  s.in(ipfix(kT, 1, {set(500, inner)}), 1000);
  EXPECT_GE(s.dec.errors().count(reason::kListTooDeep), 1u);
  EXPECT_EQ(s.dec.stats().non_flow_records, 1u);
}

// --- shared state ------------------------------------------------------------

struct Pair {
  explicit Pair(NetflowConfig cfg = {}) : a(cfg), b(cfg) {
    a.dec.share(ex);
    b.dec.share(ex);
  }
  std::shared_ptr<netflow::TemplateExchange> ex = std::make_shared<netflow::TemplateExchange>();
  Side a, b;
};

TEST(NetflowShared, TemplateLearntByOneDecoderServesAnother) {
  Pair p;
  p.a.in(ipfix(kT, 1, {basic_template()}), 1000);
  p.b.in(ipfix(kT, 1, {data(256, basic_record(1))}), 1001);
  ASSERT_EQ(p.b.recs(), 1u);
  EXPECT_EQ(p.b.sink.records[0].src.str(), "10.0.0.1");
  EXPECT_EQ(p.b.dec.stats().templates_shared, 1u);
  EXPECT_EQ(p.b.dec.stats().pending_held, 0u);

  // Data first at b (held), the template then at a: b decodes the held set at its next sync.
  p.b.in(ipfix(kT, 1, {data(257, basic_record(2))}), 2000);
  EXPECT_EQ(p.b.dec.stats().pending_held, 1u);
  p.a.in(ipfix(kT, 1, {basic_template(257)}), 2001);
  p.b.dec.sync(2002, p.b.sink);
  EXPECT_EQ(p.b.recs(), 2u);
  EXPECT_EQ(p.b.dec.stats().pending_decoded, 1u);
}

TEST(NetflowShared, RedefinitionElsewhereReplacesStaleCopy) {
  Pair p;
  p.a.in(ipfix(kT, 1, {basic_template()}), 1000);
  p.b.in(ipfix(kT, 1, {data(256, basic_record(1))}), 1001);  // b has template 256 (v1) now
  ASSERT_EQ(p.b.recs(), 1u);
  // The exporter redefines 256 (dst4, src4, proto, bytes8): seen by b only.
  p.b.in(ipfix(kT, 1, {set(2, tmpl(256, {{12, 4}, {8, 4}, {4, 1}, {1, 8}}))}), 2000);
  // Data in the new layout reaches a: decoded with the new definition, not a's stale one.
  Bytes rec;
  rec.raw({10, 9, 9, 9}).raw({10, 1, 1, 1}).u8(17).u64(77);
  p.a.in(ipfix(kT, 1, {data(256, rec)}), 2001);
  ASSERT_EQ(p.a.recs(), 1u);
  EXPECT_EQ(p.a.sink.records[0].src.str(), "10.1.1.1");
  EXPECT_EQ(p.a.sink.records[0].dst.str(), "10.9.9.9");
  EXPECT_EQ(p.a.sink.records[0].bytes, 77u);
  EXPECT_EQ(p.a.dec.errors().total(), 0u);
  // a now refreshes with the new definition: no republication that would undo b's.
  p.a.in(ipfix(kT, 1, {set(2, tmpl(256, {{12, 4}, {8, 4}, {4, 1}, {1, 8}}))}), 3000);
  p.b.in(ipfix(kT, 1, {data(256, rec)}), 3001);
  EXPECT_EQ(p.b.sink.records.back().src.str(), "10.1.1.1");

  // The state saved from the exchange holds the latest definition only.
  NetflowDecoder snap;
  snap.share(p.ex);
  CollectSink none;
  snap.sync(4000, none);
  EXPECT_EQ(snap.template_count(), 1u);
  CollectSink out;
  snap.decode(kExporter, 4001, span(ipfix(kT, 1, {data(256, rec)})), out);
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_EQ(out.records[0].bytes, 77u);
}

TEST(NetflowShared, WithdrawalsRatesAndRefreshesTravel) {
  NetflowConfig cfg;
  cfg.template_timeout_ms = 60000;
  Pair p(cfg);
  p.a.in(ipfix(kT, 1, {basic_template()}), 0);
  p.b.in(ipfix(kT, 1, {data(256, basic_record(1))}), 1);
  ASSERT_EQ(p.b.recs(), 1u);
  // a keeps seeing refreshes; b sees only data: b's copy must not age out.
  for (TimeMs t = 30000; t <= 300000; t += 30000) {
    p.a.in(ipfix(kT, 1, {basic_template()}), t);
    p.b.in(ipfix(kT, 1, {data(256, basic_record(2))}), t + 1);
  }
  EXPECT_EQ(p.b.recs(), 11u);
  EXPECT_EQ(p.b.dec.stats().templates_expired, 0u);
  // Nobody refreshes it: it goes everywhere.
  p.b.in(ipfix(kT, 1, {data(256, basic_record(3))}), 400000);
  p.a.in(ipfix(kT, 1, {}), 400001);
  EXPECT_EQ(p.b.dec.template_count(), 0u);
  EXPECT_EQ(p.a.dec.template_count(), 0u);
  EXPECT_EQ(p.ex->template_count(), 0u);

  // Withdrawal at a removes b's copy.
  p.a.in(ipfix(kT, 1, {basic_template(260)}), 500000);
  p.b.dec.sync(500001, p.b.sink);
  EXPECT_EQ(p.b.dec.template_count(), 1u);
  p.a.in(ipfix(kT, 1, {set(2, Bytes().u16(260).u16(0))}), 500002);
  p.b.dec.sync(500003, p.b.sink);
  EXPECT_EQ(p.b.dec.template_count(), 0u);

  // Sampling learnt from options data at a applies to b's flows.
  p.a.in(ipfix(kT, 1, {set(3, opt_tmpl(600, 1, {{149, 4}, {305, 4}, {306, 4}})),
                       set(600, Bytes().u32(1).u32(1).u32(99))}),
         600000);
  p.a.in(ipfix(kT, 1, {basic_template()}), 600001);
  p.b.in(ipfix(kT, 1, {data(256, basic_record(4))}), 600002);
  EXPECT_EQ(p.b.sink.records.back().sampling_rate, 100u);
}

TEST(NetflowShared, ConcurrentDecodersConverge) {
  // Threads: templates redefined at random by both, data decoded by both; afterwards both hold
  // the exchange's definition (no stale copy), and nothing crashed (run under ASan/TSan-like load).
  auto ex = std::make_shared<netflow::TemplateExchange>(65536, 64);  // small log: full resyncs happen too
  NetflowDecoder d1, d2;
  d1.share(ex);
  d2.share(ex);
  auto work = [&](NetflowDecoder& d, uint32_t seed) {
    CollectSink sink;
    std::mt19937 rng(seed);
    for (int i = 0; i < 20000; ++i) {
      uint16_t id = uint16_t(256 + rng() % 8);
      if (rng() % 4 == 0) {
        bool v2 = rng() % 2;
        auto t = v2 ? set(2, tmpl(id, {{12, 4}, {8, 4}, {4, 1}, {1, 8}})) : basic_template(id);
        d.decode(kExporter, i, span(ipfix(kT, 1, {t})), sink);
      } else {
        d.decode(kExporter, i, span(ipfix(kT, 1, {data(id, basic_record(1))})), sink);
      }
      sink.records.clear();
    }
    d.sync(20000, sink);
  };
  std::thread t1([&] { work(d1, 1); });
  std::thread t2([&] { work(d2, 2); });
  t1.join();
  t2.join();
  CollectSink s;
  d1.sync(20001, s);
  d2.sync(20001, s);
  NetflowDecoder snap;
  snap.share(ex);
  snap.sync(20002, s);
  // Same definitions everywhere: decode one record per id with each and compare.
  for (uint16_t id = 256; id < 264; ++id) {
    Bytes rec;
    rec.raw({10, 0, 0, 1}).raw({192, 0, 2, 7}).u16(1000).u16(443).u8(6).u32(3).u64(300);
    std::vector<std::string> got;
    for (NetflowDecoder* d : {&d1, &d2, &snap}) {
      CollectSink o;
      d->decode(kExporter, 20003, span(ipfix(kT, 1, {data(id, rec)})), o);
      d->finish();
      got.push_back(o.records.empty() ? "none" : o.records[0].src.str() + ">" + o.records[0].dst.str());
    }
    EXPECT_EQ(got[0], got[2]) << id;
    EXPECT_EQ(got[1], got[2]) << id;
  }
}

}  // namespace
}  // namespace omamori
