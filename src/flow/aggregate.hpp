// Aggregation of flow records: top talkers by any key, and time bins.
//
// Keys: src, dst, sport, dport, proto, exporter, src_as, dst_as, in_if,
// out_if, and src/N, dst/N for networks (e.g. dst/24, src/64). With a bin
// width, records are grouped by the bin their start falls into as well.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <array>
#include <cstdio>
#include <string>
#include <string_view>
#include <variant>
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
  explicit FlowAggregator(AggregateSpec spec);
  void on_flow(const FlowRecord& r) override;

  struct Row {
    TimeMs bin = 0;
    FlowRecord key;  // key fields filled, others zero
    uint64_t flows = 0, packets = 0, bytes = 0;
  };
  // Rows sorted by bin, then by the chosen order (descending), cut to top N per bin.
  std::vector<Row> rows();
  void print(std::FILE* out, OutputFormat fmt);

 private:
  struct Totals {
    uint64_t flows = 0, packets = 0, bytes = 0;
  };
  // Keys hold only the chosen fields, packed into W 64-bit words: the usual
  // 5-tuple fits in 40 bytes instead of a full 80-byte key, so more of the
  // table stays in cache. Records go through a short prefetch pipeline: the
  // slot of a key is prefetched a few records before it is updated, hiding
  // most of the cache misses of a table with millions of keys.
  template <size_t W>
  struct Table {
    using Key = std::array<uint64_t, W>;
    struct Pending {
      Key key;
      uint64_t packets, bytes;
    };
    static constexpr size_t kDepth = 8;
    Table() {}  // user-provided: nested NSDMIs make the implicit one unusable here
    absl::flat_hash_map<Key, Totals> map;
    std::array<Pending, kDepth> ring{};
    size_t head = 0, queued = 0;
    void add(const Key& k, uint64_t packets, uint64_t bytes);
    void drain();
  };
  struct Field {
    AggregateSpec::Field field;
    uint8_t prefix_len;
    uint8_t offset;  // byte offset in the packed key
  };
  template <size_t W>
  void add_to(Table<W>& t, const FlowRecord& r);
  template <size_t W>
  void rows_from(Table<W>& t, std::vector<Row>& out) const;

  AggregateSpec spec_;
  std::vector<Field> fields_;
  size_t key_bytes_ = 0;
  std::variant<Table<2>, Table<5>, Table<11>> table_;
};

}  // namespace omamori
