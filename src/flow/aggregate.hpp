// Aggregation of flow records: top talkers by any key, and time bins.
//
// Keys: src, dst, sport, dport, proto, exporter, src_as, dst_as, in_if,
// out_if, and src/N, dst/N for networks (e.g. dst/24, src/64). With a bin
// width, records are grouped by the bin their start falls into as well.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "flow/format.hpp"
#include "flow/record.hpp"

namespace omamori {

struct AggregateSpec {
  enum Field { Src, Dst, Sport, Dport, Proto, Exporter, SrcAs, DstAs, InIf, OutIf };
  struct Key {
    Field field;
    uint8_t prefix_len = 0;  // for src/dst: family length, 0 = whole address
  };
  std::vector<Key> keys;
  TimeMs bin_ms = 0;  // 0 = no time bins
  enum Order { Bytes, Packets, Flows } order = Bytes;
  size_t top = 0;  // 0 = all
  bool renormalise = false;

  // Parses "src,dport" or "dst/24,proto"; false with err on unknown keys.
  bool parse_keys(std::string_view s, std::string& err);
  static bool parse_order(std::string_view s, Order& o);
};

class FlowAggregator final : public FlowSink {
 public:
  explicit FlowAggregator(AggregateSpec spec) : spec_(std::move(spec)) {}
  void on_flow(const FlowRecord& r) override;

  struct Row {
    TimeMs bin = 0;
    FlowRecord key;  // key fields filled, others zero
    uint64_t flows = 0, packets = 0, bytes = 0;
  };
  // Rows sorted by bin, then by the chosen order (descending), cut to top N per bin.
  std::vector<Row> rows() const;
  void print(std::FILE* out, OutputFormat fmt) const;

 private:
  struct Totals {
    uint64_t flows = 0, packets = 0, bytes = 0;
  };
  struct K {
    TimeMs bin;
    IpAddr src, dst, exporter;
    uint32_t src_as, dst_as, in_if, out_if;
    uint16_t sport, dport;
    uint8_t proto;
    bool operator==(const K&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const K& k) {
      return H::combine(std::move(h), k.bin, k.src, k.dst, k.exporter, k.src_as, k.dst_as, k.in_if, k.out_if,
                        k.sport, k.dport, k.proto);
    }
  };
  AggregateSpec spec_;
  absl::flat_hash_map<K, Totals> map_;
};

}  // namespace omamori
