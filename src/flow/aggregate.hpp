// Aggregation of flow records: top talkers by any key, and time bins.
//
// Keys: src, dst, sport, dport, proto, exporter, src_as, dst_as, in_if,
// out_if, and src/N, dst/N for networks (e.g. dst/24, src/64). With a bin
// width, records are grouped by the bin their start falls into as well.
#pragma once

#include <array>
#include <memory>
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
  // Prints the rows; returns how many.
  size_t print(std::FILE* out, OutputFormat fmt);

 private:
  // Keys hold only the chosen fields, packed into W 64-bit words, in a flat
  // open-addressing table (linear probing, key words and totals in one slot).
  // IPv4 records go to a table whose address fields take 4 bytes, others to
  // one with 16-byte addresses: the usual IPv4 5-tuple is a 16-byte key and a
  // 40-byte slot, so more of the table stays in cache. Records go through a
  // short prefetch pipeline: the slot of a key is prefetched a few records
  // before it is updated, hiding most of the cache misses of a large table.
  template <size_t W>
  class Table {
   public:
    using Key = std::array<uint64_t, W>;
    struct Slot {
      Key key;
      uint64_t flows, packets, bytes;  // flows == 0: empty
    };
    Table();
    ~Table();
    Table(const Table&) = delete;
    Table& operator=(const Table&) = delete;
    void add(const Key& k, uint64_t packets, uint64_t bytes);
    size_t size() const { return size_; }
    void drain();
    template <typename F>
    void for_each(F&& f) const {
      for (size_t i = 0; i <= mask_; ++i)
        if (slots_[i].flows) f(slots_[i]);
    }

   private:
    static constexpr size_t kDepth = 8;
    struct Pending {
      Key key;
      uint64_t hash, packets, bytes;
    };
    static uint64_t hash(const Key& k);
    void update(const Pending& p);
    void grow();
    Slot* slots_ = nullptr;  // zeroed, from alloc_slots
    size_t mask_ = 0, size_ = 0;
    std::array<Pending, kDepth> ring_{};
    size_t head_ = 0, queued_ = 0;
  };
  struct Field {
    AggregateSpec::Field field;
    uint8_t prefix_len;
    uint8_t offset;  // byte offset in the packed key
  };
  struct Layout {
    std::vector<Field> fields;
    size_t bytes = 0;
    bool v4 = false;  // addresses packed as 4 bytes
  };
  using AnyTable = std::variant<Table<2>, Table<3>, Table<5>, Table<6>, Table<10>>;
  using AddFn = void (FlowAggregator::*)(const FlowRecord&);
  static void make_table(AnyTable& t, size_t bytes);
  template <size_t W, bool V4>
  void add_to(const FlowRecord& r);
  template <size_t W, bool V4>
  AddFn add_fn() const { return &FlowAggregator::add_to<W, V4>; }
  template <bool V4>
  AddFn pick_add(const AnyTable& t) const;
  void rows_from(const AnyTable& t, const Layout& l, std::vector<Row>& out);

  AggregateSpec spec_;
  Layout v4_, v6_;
  bool has_addr_ = false;  // the key has an address field (else everything goes to the v4 table)
  bool use_src_ = false, use_dst_ = false, use_exporter_ = false;
  AnyTable t4_, t6_;
  AddFn add4_ = nullptr, add6_ = nullptr;
};

}  // namespace omamori
