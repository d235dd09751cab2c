#include <gtest/gtest.h>

#include <map>

#include "flow/aggregate.hpp"

using namespace omamori;

TEST(FlowAggregator, TopTalkersByNetworkAndTimeBins) {
  AggregateSpec spec;
  std::string err;
  ASSERT_TRUE(spec.parse_keys("src/24,dport", err)) << err;
  spec.bin_ms = 60000;
  spec.top = 1;
  FlowAggregator agg(spec);
  auto add = [&](const char* src, uint16_t dport, TimeMs t, uint64_t bytes) {
    FlowRecord r;
    r.src = *IpAddr::parse(src);
    r.dport = dport;
    r.start = t;
    r.bytes = bytes;
    r.packets = 1;
    agg.on_flow(r);
  };
  add("10.0.0.1", 80, 1000, 100);
  add("10.0.0.2", 80, 2000, 100);   // same /24 and port: merged
  add("10.0.1.1", 80, 3000, 150);   // other /24, smaller
  add("10.0.1.1", 80, 61000, 5);    // next bin
  auto rows = agg.rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].bin, 0);
  EXPECT_EQ(rows[0].key.src.str(), "10.0.0.0");
  EXPECT_EQ(rows[0].flows, 2u);
  EXPECT_EQ(rows[0].bytes, 200u);
  EXPECT_EQ(rows[1].bin, 60000);
  EXPECT_EQ(rows[1].bytes, 5u);
}

TEST(FlowAggregator, RejectsUnknownKeys) {
  AggregateSpec spec;
  std::string err;
  EXPECT_FALSE(spec.parse_keys("src,colour", err));
  EXPECT_NE(err.find("colour"), std::string::npos);
  EXPECT_FALSE(spec.parse_keys("dport/8", err));
  EXPECT_FALSE(spec.parse_keys("dst/129", err));
}

// The packed keys and the prefetch pipeline against a plain reference: every
// width class (16, 40 and 80-byte keys), with fewer and more records than the
// pipeline holds, must give the same totals per key.
TEST(FlowAggregator, PackedKeysMatchReference) {
  for (const char* keys : {"dport,proto", "src", "src,dst,sport,dport,proto", "dst/16,src_as,in_if", "src/20,dst/64",
                           "src,dst,exporter,sport,dport,proto,src_as,dst_as,in_if,out_if",
                           "proto,src,dst_as,sport,dst/24", "dport,exporter,proto,out_if"}) {
    for (size_t n : {size_t(3), size_t(5000), size_t(60000)}) {
      AggregateSpec spec;
      std::string err;
      ASSERT_TRUE(spec.parse_keys(keys, err)) << err;
      spec.bin_ms = n > 100 ? 10000 : 0;
      FlowAggregator agg(spec);
      std::map<std::string, std::array<uint64_t, 3>> ref;
      uint64_t x = 88172645463325252ull;
      auto next = [&] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
      };
      for (size_t i = 0; i < n; ++i) {
        FlowRecord r;
        r.start = TimeMs(next() % 100000);
        r.src = n > 10000 ? (next() % 3 ? IpAddr::v4(uint32_t(next())) : *IpAddr::parse("2001:db8::7"))
                          : IpAddr::v4(0x0a000000u | uint32_t(next() % 64));
        r.dst = next() % 2 ? IpAddr::v4(0xc6336400u | uint32_t(next() % 8)) : *IpAddr::parse("2001:db8::1");
        r.exporter = IpAddr::v4(0x7f000001u + uint32_t(next() % 2));
        r.sport = uint16_t(next() % 4);
        r.dport = uint16_t(next() % 3);
        r.proto = next() % 2 ? 6 : 17;
        r.src_as = uint32_t(next() % 3);
        r.dst_as = uint32_t(next() % 3);
        r.in_if = uint32_t(next() % 2);
        r.out_if = uint32_t(next() % 2);
        r.packets = 1 + next() % 10;
        r.bytes = r.packets * 100;
        agg.on_flow(r);
        // Reference key: the chosen fields as text.
        std::string k = spec.bin_ms ? std::to_string(r.start / spec.bin_ms) : "";
        for (const auto& key : spec.keys) {
          switch (key.field) {
            case AggregateSpec::Src:
              k += "|" + (key.prefix_len ? mask_addr(r.src, r.src.is_v4() ? key.prefix_len + 96 : key.prefix_len).str()
                                         : r.src.str());
              break;
            case AggregateSpec::Dst:
              k += "|" + (key.prefix_len ? mask_addr(r.dst, r.dst.is_v4() ? key.prefix_len + 96 : key.prefix_len).str()
                                         : r.dst.str());
              break;
            case AggregateSpec::Exporter: k += "|" + r.exporter.str(); break;
            case AggregateSpec::Sport: k += "|" + std::to_string(r.sport); break;
            case AggregateSpec::Dport: k += "|" + std::to_string(r.dport); break;
            case AggregateSpec::Proto: k += "|" + std::to_string(r.proto); break;
            case AggregateSpec::SrcAs: k += "|" + std::to_string(r.src_as); break;
            case AggregateSpec::DstAs: k += "|" + std::to_string(r.dst_as); break;
            case AggregateSpec::InIf: k += "|" + std::to_string(r.in_if); break;
            case AggregateSpec::OutIf: k += "|" + std::to_string(r.out_if); break;
          }
        }
        auto& t = ref[k];
        t[0] += 1;
        t[1] += r.packets;
        t[2] += r.bytes;
      }
      auto rows = agg.rows();
      ASSERT_EQ(rows.size(), ref.size()) << keys << " n=" << n;
      uint64_t flows = 0, bytes = 0;
      for (const auto& row : rows) {
        flows += row.flows;
        bytes += row.bytes;
      }
      uint64_t rflows = 0, rbytes = 0;
      for (const auto& [k, t] : ref) {
        rflows += t[0];
        rbytes += t[2];
      }
      EXPECT_EQ(flows, n) << keys;
      EXPECT_EQ(flows, rflows);
      EXPECT_EQ(bytes, rbytes);
      // Every row's totals equal the reference's for its key.
      for (const auto& row : rows) {
        std::string k = spec.bin_ms ? std::to_string(row.bin / spec.bin_ms) : "";
        for (const auto& key : spec.keys) {
          switch (key.field) {
            case AggregateSpec::Src: k += "|" + row.key.src.str(); break;
            case AggregateSpec::Dst: k += "|" + row.key.dst.str(); break;
            case AggregateSpec::Exporter: k += "|" + row.key.exporter.str(); break;
            case AggregateSpec::Sport: k += "|" + std::to_string(row.key.sport); break;
            case AggregateSpec::Dport: k += "|" + std::to_string(row.key.dport); break;
            case AggregateSpec::Proto: k += "|" + std::to_string(row.key.proto); break;
            case AggregateSpec::SrcAs: k += "|" + std::to_string(row.key.src_as); break;
            case AggregateSpec::DstAs: k += "|" + std::to_string(row.key.dst_as); break;
            case AggregateSpec::InIf: k += "|" + std::to_string(row.key.in_if); break;
            case AggregateSpec::OutIf: k += "|" + std::to_string(row.key.out_if); break;
          }
        }
        auto it = ref.find(k);
        ASSERT_NE(it, ref.end()) << keys << ": " << k;
        EXPECT_EQ(row.flows, it->second[0]) << k;
        EXPECT_EQ(row.packets, it->second[1]) << k;
        EXPECT_EQ(row.bytes, it->second[2]) << k;
      }
      // Largest group agrees (rows are sorted by bytes within a bin).
      uint64_t rmax = 0;
      for (const auto& [k, t] : ref) rmax = std::max(rmax, t[2]);
      uint64_t amax = 0;
      for (const auto& row : rows) amax = std::max(amax, row.bytes);
      EXPECT_EQ(amax, rmax) << keys;
    }
  }
}
