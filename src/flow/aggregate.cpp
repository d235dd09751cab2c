#include "flow/aggregate.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <iterator>
#include <new>

namespace omamori {

bool AggregateSpec::parse_keys(std::string_view s, std::string& err) {
  static const std::pair<const char*, Field> kNames[] = {
      {"src", Src},           {"dst", Dst},      {"sport", Sport},  {"dport", Dport}, {"proto", Proto},
      {"exporter", Exporter}, {"src_as", SrcAs}, {"dst_as", DstAs}, {"in_if", InIf},  {"out_if", OutIf}};
  keys.clear();
  while (!s.empty()) {
    size_t c = s.find(',');
    std::string_view part = s.substr(0, c);
    s = c == std::string_view::npos ? std::string_view() : s.substr(c + 1);
    std::string_view name = part.substr(0, part.find('/'));
    Key k{};
    bool found = false;
    for (auto& [n, f] : kNames)
      if (name == n) {
        k.field = f;
        found = true;
      }
    if (!found) {
      err = "unknown aggregation key '" + std::string(part) +
            "' (use src, dst, src/N, dst/N, sport, dport, proto, exporter, src_as, dst_as, in_if, out_if)";
      return false;
    }
    if (part.size() > name.size()) {
      if (k.field != Src && k.field != Dst) {
        err = "only src and dst take a /N prefix length: '" + std::string(part) + "'";
        return false;
      }
      auto lenstr = part.substr(name.size() + 1);
      unsigned len = 0;
      auto [p, ec] = std::from_chars(lenstr.data(), lenstr.data() + lenstr.size(), len);
      if (ec != std::errc() || p != lenstr.data() + lenstr.size() || len == 0 || len > 128) {
        err = "bad prefix length in '" + std::string(part) + "'";
        return false;
      }
      k.prefix_len = static_cast<uint8_t>(len);
    }
    keys.push_back(k);
  }
  if (keys.empty()) {
    err = "no aggregation keys given";
    return false;
  }
  return true;
}

bool AggregateSpec::parse_order(std::string_view s, Order& o) {
  if (s == "bytes")
    o = Bytes;
  else if (s == "packets")
    o = Packets;
  else if (s == "flows")
    o = Flows;
  else
    return false;
  return true;
}

namespace {
size_t field_width(AggregateSpec::Field f, bool v4) {
  switch (f) {
    case AggregateSpec::Src:
    case AggregateSpec::Dst:
    case AggregateSpec::Exporter:
      return v4 ? 4 : 16;
    case AggregateSpec::SrcAs:
    case AggregateSpec::DstAs:
    case AggregateSpec::InIf:
    case AggregateSpec::OutIf:
      return 4;
    case AggregateSpec::Sport:
    case AggregateSpec::Dport:
      return 2;
    case AggregateSpec::Proto:
      return 1;
  }
  return 0;
}

// IpAddr::is_v4 without a memcmp call.
inline bool is_v4(const IpAddr& a) {
  uint64_t hi;
  uint32_t mid;
  std::memcpy(&hi, a.bytes(), 8);
  std::memcpy(&mid, a.bytes() + 8, 4);
  return hi == 0 && mid == 0xffff0000u;  // bytes 00 00 ff ff, little-endian load
}

// Network of a in the 128-bit space, 16 bytes written to p.
void put_net6(uint8_t* p, const IpAddr& a, uint8_t len) {
  if (len == 0) {
    std::memcpy(p, a.bytes(), 16);
    return;
  }
  unsigned l128 = a.is_v4() ? std::min<unsigned>(len, 32) + 96 : len;
  std::memcpy(p, mask_addr(a, l128).bytes(), 16);
}
}  // namespace

// Zeroed memory for a table; tables of 2 MiB and more get transparent huge
// pages where the kernel offers them (a table bigger than the cache costs a
// TLB miss per record on 4 KiB pages).
void* alloc_zeroed(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  if (bytes >= (2u << 20)) madvise(p, bytes, MADV_HUGEPAGE);
  return p;
}

template <size_t W>
FlowAggregator::Table<W>::Table() : slots_(static_cast<Slot*>(alloc_zeroed(1024 * sizeof(Slot)))), mask_(1023) {}

template <size_t W>
FlowAggregator::Table<W>::~Table() {
  munmap(slots_, (mask_ + 1) * sizeof(Slot));
}

template <size_t W>
static inline bool same(const std::array<uint64_t, W>& a, const std::array<uint64_t, W>& b) {
  uint64_t d = 0;
  for (size_t i = 0; i < W; ++i) d |= a[i] ^ b[i];
  return d == 0;
}

template <size_t W>
uint64_t FlowAggregator::Table<W>::hash(const Key& k) {
  uint64_t h = 0x9E3779B97F4A7C15ull;
  for (uint64_t w : k) {
    h ^= w;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  }
  return h;
}

template <size_t W>
void FlowAggregator::Table<W>::grow() {
  size_t cap = (mask_ + 1) * 2;
  Slot* old = slots_;
  size_t old_cap = mask_ + 1;
  slots_ = static_cast<Slot*>(alloc_zeroed(cap * sizeof(Slot)));
  mask_ = cap - 1;
  for (size_t i = 0; i < old_cap; ++i) {
    if (!old[i].flows) continue;
    size_t j = hash(old[i].key) & mask_;
    while (slots_[j].flows) j = (j + 1) & mask_;
    slots_[j] = old[i];
  }
  munmap(old, old_cap * sizeof(Slot));
}

template <size_t W>
void FlowAggregator::Table<W>::update(const Pending& p) {
  size_t i = p.hash & mask_;
  for (;;) {
    Slot& s = slots_[i];
    if (!s.flows) break;
    if (same(s.key, p.key)) {
      s.flows += 1;
      s.packets += p.packets;
      s.bytes += p.bytes;
      return;
    }
    i = (i + 1) & mask_;
  }
  // New key; keep the load under 5/8.
  if ((size_ + 1) * 8 > (mask_ + 1) * 5) {
    grow();
    i = p.hash & mask_;
    while (slots_[i].flows) i = (i + 1) & mask_;
  }
  slots_[i] = Slot{p.key, 1, p.packets, p.bytes};
  ++size_;
}

template <size_t W>
void FlowAggregator::Table<W>::add(const Key& k, uint64_t packets, uint64_t bytes) {
  uint64_t h = hash(k);
  __builtin_prefetch(&slots_[h & mask_], 1);
  Pending& slot = ring_[head_];
  if (queued_ == kDepth)
    update(slot);
  else
    ++queued_;
  slot = Pending{k, h, packets, bytes};
  head_ = (head_ + 1) % kDepth;
}

template <size_t W>
void FlowAggregator::Table<W>::drain() {
  // The oldest pending entry is at head when the ring is full, else at 0.
  size_t first = queued_ == kDepth ? head_ : 0;
  for (size_t i = 0; i < queued_; ++i) update(ring_[(first + i) % kDepth]);
  queued_ = 0;
  head_ = 0;
}

void FlowAggregator::make_table(AnyTable& t, size_t bytes) {
  size_t w = (bytes + 7) / 8;
  if (w <= 2)
    t.emplace<Table<2>>();
  else if (w <= 3)
    t.emplace<Table<3>>();
  else if (w <= 5)
    t.emplace<Table<5>>();
  else if (w <= 6)
    t.emplace<Table<6>>();
  else
    t.emplace<Table<10>>();  // every field: 8 + 3 * 16 + 4 * 4 + 2 * 2 + 1 = 77 bytes
}

template <bool V4>
FlowAggregator::AddFn FlowAggregator::pick_add(const AnyTable& t) const {
  switch (t.index()) {
    case 0:
      return add_fn<2, V4>();
    case 1:
      return add_fn<3, V4>();
    case 2:
      return add_fn<5, V4>();
    case 3:
      return add_fn<6, V4>();
    default:
      return add_fn<10, V4>();
  }
}

FlowAggregator::FlowAggregator(AggregateSpec spec) : spec_(std::move(spec)) {
  for (Layout* l : {&v4_, &v6_}) {
    l->v4 = l == &v4_;
    for (const auto& k : spec_.keys) {
      // A key named twice is packed once.
      bool dup = false;
      for (const auto& f : l->fields) dup |= f.field == k.field && f.prefix_len == k.prefix_len;
      if (!dup) l->fields.push_back({k.field, k.prefix_len, 0});
    }
    // Widest first: every field then sits at a multiple of its width and
    // never straddles two key words, so keys are built in registers.
    std::stable_sort(l->fields.begin(), l->fields.end(), [&](const Field& a, const Field& b) {
      return field_width(a.field, l->v4) > field_width(b.field, l->v4);
    });
    size_t off = spec_.bin_ms > 0 ? 8 : 0;
    for (auto& f : l->fields) {
      f.offset = static_cast<uint8_t>(off);
      off += field_width(f.field, l->v4);
    }
    l->bytes = off;
  }
  for (const auto& k : spec_.keys) {
    use_src_ |= k.field == AggregateSpec::Src;
    use_dst_ |= k.field == AggregateSpec::Dst;
    use_exporter_ |= k.field == AggregateSpec::Exporter;
  }
  has_addr_ = use_src_ || use_dst_ || use_exporter_;
  make_table(t4_, v4_.bytes);
  make_table(t6_, v6_.bytes);
  add4_ = pick_add<true>(t4_);
  add6_ = pick_add<false>(t6_);
}

namespace {
// A key under construction, W 64-bit words. With W a constant the loops
// unroll and the words stay in registers: the key is never assembled in
// memory from narrow stores and read back wide (a store-forwarding stall).
template <size_t W>
struct KeyWords {
  uint64_t w[W] = {};
  void put(unsigned off, uint64_t v) {  // v's bytes at byte offset off (little-endian, as memcpy would place them)
    unsigned word = off / 8, shift = (off % 8) * 8;
    for (size_t i = 0; i < W; ++i)
      if (i == word) w[i] |= v << shift;
  }
  void put16(unsigned off, const uint8_t* p) {
    uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    for (size_t i = 0; i + 1 < W; ++i)
      if (i == off / 8) {
        w[i] = a;
        w[i + 1] = b;
      }
  }
};

// IPv4 address (network order, as a little-endian load of its bytes) of a v4 record, masked to len bits (0 = all).
inline uint32_t net4(const IpAddr& a, uint8_t len) {
  uint32_t v;
  std::memcpy(&v, a.bytes() + 12, 4);
  if (len > 0 && len < 32) v &= __builtin_bswap32(~uint32_t(0) << (32 - len));
  return v;
}
}  // namespace

template <size_t W, bool V4>
void FlowAggregator::add_to(const FlowRecord& r) {
  const Layout& l = V4 ? v4_ : v6_;
  auto& t = std::get<Table<W>>(V4 ? t4_ : t6_);
  KeyWords<W> k;
  if (spec_.bin_ms > 0) k.w[0] = uint64_t(r.start - ((r.start % spec_.bin_ms) + spec_.bin_ms) % spec_.bin_ms);
  auto addr = [&](unsigned off, const IpAddr& a, uint8_t len) {
    if constexpr (V4) {
      k.put(off, net4(a, len));
    } else {
      uint8_t b[16];
      put_net6(b, a, len);
      k.put16(off, b);
    }
  };
  for (const auto& f : l.fields) {
    switch (f.field) {
      case AggregateSpec::Src:
        addr(f.offset, r.src, f.prefix_len);
        break;
      case AggregateSpec::Dst:
        addr(f.offset, r.dst, f.prefix_len);
        break;
      case AggregateSpec::Exporter:
        addr(f.offset, r.exporter, 0);
        break;
      case AggregateSpec::Sport:
        k.put(f.offset, r.sport);
        break;
      case AggregateSpec::Dport:
        k.put(f.offset, r.dport);
        break;
      case AggregateSpec::Proto:
        k.put(f.offset, r.proto);
        break;
      case AggregateSpec::SrcAs:
        k.put(f.offset, r.src_as);
        break;
      case AggregateSpec::DstAs:
        k.put(f.offset, r.dst_as);
        break;
      case AggregateSpec::InIf:
        k.put(f.offset, r.in_if);
        break;
      case AggregateSpec::OutIf:
        k.put(f.offset, r.out_if);
        break;
    }
  }
  typename Table<W>::Key key;
  for (size_t i = 0; i < W; ++i) key[i] = k.w[i];
  uint64_t mult = spec_.renormalise && r.sampling_rate > 1 ? r.sampling_rate : 1;
  t.add(key, r.packets * mult, r.bytes * mult);
}

void FlowAggregator::on_flow(const FlowRecord& r) {
  // The IPv4 table takes records whose key addresses are all IPv4 (an empty
  // exporter is no IPv4 address: it goes with the IPv6 ones).
  bool v4 = !has_addr_ ||
            ((!use_src_ || is_v4(r.src)) && (!use_dst_ || is_v4(r.dst)) && (!use_exporter_ || is_v4(r.exporter)));
  (this->*(v4 ? add4_ : add6_))(r);
}

void FlowAggregator::rows_from(const AnyTable& any, const Layout& l, std::vector<Row>& rows) {
  std::visit(
      [&](const auto& t) {
        const_cast<std::remove_cvref_t<decltype(t)>&>(t).drain();
        t.for_each([&](const auto& slot) {
          const auto* kb = reinterpret_cast<const uint8_t*>(slot.key.data());
          Row row;
          if (spec_.bin_ms > 0) std::memcpy(&row.bin, kb, 8);
          auto addr = [&](const uint8_t* p) { return l.v4 ? IpAddr::v4_bytes(p) : IpAddr::v6_bytes(p); };
          for (const auto& f : l.fields) {
            const uint8_t* p = kb + f.offset;
            switch (f.field) {
              case AggregateSpec::Src:
                row.key.src = addr(p);
                break;
              case AggregateSpec::Dst:
                row.key.dst = addr(p);
                break;
              case AggregateSpec::Exporter:
                row.key.exporter = addr(p);
                break;
              case AggregateSpec::Sport:
                std::memcpy(&row.key.sport, p, 2);
                break;
              case AggregateSpec::Dport:
                std::memcpy(&row.key.dport, p, 2);
                break;
              case AggregateSpec::Proto:
                row.key.proto = *p;
                break;
              case AggregateSpec::SrcAs:
                std::memcpy(&row.key.src_as, p, 4);
                break;
              case AggregateSpec::DstAs:
                std::memcpy(&row.key.dst_as, p, 4);
                break;
              case AggregateSpec::InIf:
                std::memcpy(&row.key.in_if, p, 4);
                break;
              case AggregateSpec::OutIf:
                std::memcpy(&row.key.out_if, p, 4);
                break;
            }
          }
          row.flows = slot.flows;
          row.packets = slot.packets;
          row.bytes = slot.bytes;
          rows.push_back(row);
        });
      },
      any);
}

std::vector<FlowAggregator::Row> FlowAggregator::rows() {
  std::vector<Row> rows;
  size_t n = 0;
  for (const AnyTable* t : {&t4_, &t6_}) std::visit([&](const auto& x) { n += x.size() + 8; }, *t);
  rows.reserve(n);  // the pipeline may still hold up to 8 new keys per table
  rows_from(t4_, v4_, rows);
  rows_from(t6_, v6_, rows);
  auto metric = [&](const Row& r) {
    return spec_.order == AggregateSpec::Bytes ? r.bytes : spec_.order == AggregateSpec::Packets ? r.packets : r.flows;
  };
  // Ties are broken by every key field, so the order never depends on the table.
  std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    if (a.bin != b.bin) return a.bin < b.bin;
    if (metric(a) != metric(b)) return metric(a) > metric(b);
    const FlowRecord &x = a.key, &y = b.key;
    return std::tie(x.src, x.dst, x.sport, x.dport, x.proto, x.exporter, x.src_as, x.dst_as, x.in_if, x.out_if) <
           std::tie(y.src, y.dst, y.sport, y.dport, y.proto, y.exporter, y.src_as, y.dst_as, y.in_if, y.out_if);
  });
  if (spec_.top > 0) {
    std::vector<Row> cut;
    size_t in_bin = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i > 0 && rows[i].bin != rows[i - 1].bin) in_bin = 0;
      if (in_bin++ < spec_.top) cut.push_back(rows[i]);
    }
    rows.swap(cut);
  }
  return rows;
}

size_t FlowAggregator::print(std::FILE* out, OutputFormat fmt) {
  fmt::memory_buffer b;
  auto it = std::back_inserter(b);
  auto rs = rows();
  // Column names and values for the chosen keys.
  auto key_name = [](const AggregateSpec::Key& k) -> std::string {
    static const char* kN[] = {"src",      "dst",    "sport",  "dport", "proto",
                               "exporter", "src_as", "dst_as", "in_if", "out_if"};
    std::string n = kN[k.field];
    if (k.prefix_len) n += "_net";
    return n;
  };
  auto key_value = [&](const AggregateSpec::Key& k, const Row& r) -> std::string {
    switch (k.field) {
      case AggregateSpec::Src:
        return k.prefix_len ? Prefix(r.key.src, k.prefix_len).str() : r.key.src.str();
      case AggregateSpec::Dst:
        return k.prefix_len ? Prefix(r.key.dst, k.prefix_len).str() : r.key.dst.str();
      case AggregateSpec::Sport:
        return std::to_string(r.key.sport);
      case AggregateSpec::Dport:
        return std::to_string(r.key.dport);
      case AggregateSpec::Proto:
        return std::to_string(r.key.proto);
      case AggregateSpec::Exporter:
        return r.key.exporter.empty() ? "" : r.key.exporter.str();
      case AggregateSpec::SrcAs:
        return std::to_string(r.key.src_as);
      case AggregateSpec::DstAs:
        return std::to_string(r.key.dst_as);
      case AggregateSpec::InIf:
        return std::to_string(r.key.in_if);
      case AggregateSpec::OutIf:
        return std::to_string(r.key.out_if);
    }
    return {};
  };
  bool bins = spec_.bin_ms > 0;
  if (fmt == OutputFormat::Csv) {
    if (bins) b.append(std::string_view("bin,"));
    for (auto& k : spec_.keys) fmt::format_to(it, "{},", key_name(k));
    b.append(std::string_view("flows,packets,bytes\n"));
  } else if (fmt == OutputFormat::Table) {
    if (bins) fmt::format_to(it, "{:<24} ", "bin");
    for (auto& k : spec_.keys) fmt::format_to(it, "{:<20} ", key_name(k));
    fmt::format_to(it, "{:>10} {:>12} {:>14}\n", "flows", "packets", "bytes");
  }
  for (const auto& r : rs) {
    if (fmt == OutputFormat::Jsonl) {
      b.push_back('{');
      if (bins) fmt::format_to(it, "\"bin\":\"{}\",", format_rfc3339(r.bin));
      for (auto& k : spec_.keys) {
        bool numeric =
            k.field != AggregateSpec::Src && k.field != AggregateSpec::Dst && k.field != AggregateSpec::Exporter;
        if (numeric)
          fmt::format_to(it, "\"{}\":{},", key_name(k), key_value(k, r));
        else
          fmt::format_to(it, "\"{}\":\"{}\",", key_name(k), key_value(k, r));
      }
      fmt::format_to(it, "\"flows\":{},\"packets\":{},\"bytes\":{}}}\n", r.flows, r.packets, r.bytes);
    } else if (fmt == OutputFormat::Csv) {
      if (bins) fmt::format_to(it, "{},", format_rfc3339(r.bin));
      for (auto& k : spec_.keys) fmt::format_to(it, "{},", key_value(k, r));
      fmt::format_to(it, "{},{},{}\n", r.flows, r.packets, r.bytes);
    } else {
      if (bins) fmt::format_to(it, "{:<24} ", format_rfc3339(r.bin));
      for (auto& k : spec_.keys) fmt::format_to(it, "{:<20} ", key_value(k, r));
      fmt::format_to(it, "{:>10} {:>12} {:>14}\n", r.flows, r.packets, r.bytes);
    }
  }
  std::fwrite(b.data(), 1, b.size(), out);
  std::fflush(out);
  return rs.size();
}

// The table widths the aggregator uses (the variant destroys them elsewhere).
template class FlowAggregator::Table<2>;
template class FlowAggregator::Table<3>;
template class FlowAggregator::Table<5>;
template class FlowAggregator::Table<6>;
template class FlowAggregator::Table<10>;

}  // namespace omamori
