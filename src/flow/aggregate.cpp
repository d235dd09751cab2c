#include "flow/aggregate.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <iterator>

namespace omamori {

bool AggregateSpec::parse_keys(std::string_view s, std::string& err) {
  static const std::pair<const char*, Field> kNames[] = {
      {"src", Src},         {"dst", Dst},     {"sport", Sport}, {"dport", Dport},
      {"proto", Proto},     {"exporter", Exporter}, {"src_as", SrcAs}, {"dst_as", DstAs},
      {"in_if", InIf},      {"out_if", OutIf}};
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
  if (s == "bytes") o = Bytes;
  else if (s == "packets") o = Packets;
  else if (s == "flows") o = Flows;
  else return false;
  return true;
}

namespace {
IpAddr net_of(const IpAddr& a, uint8_t len) {
  if (len == 0) return a;
  unsigned l128 = a.is_v4() ? std::min<unsigned>(len, 32) + 96 : len;
  return mask_addr(a, l128);
}


size_t field_width(AggregateSpec::Field f) {
  switch (f) {
    case AggregateSpec::Src:
    case AggregateSpec::Dst:
    case AggregateSpec::Exporter: return 16;
    case AggregateSpec::SrcAs:
    case AggregateSpec::DstAs:
    case AggregateSpec::InIf:
    case AggregateSpec::OutIf: return 4;
    case AggregateSpec::Sport:
    case AggregateSpec::Dport: return 2;
    case AggregateSpec::Proto: return 1;
  }
  return 0;
}
}  // namespace

FlowAggregator::FlowAggregator(AggregateSpec spec) : spec_(std::move(spec)) {
  size_t off = spec_.bin_ms > 0 ? 8 : 0;
  for (const auto& k : spec_.keys) {
    // A key named twice is packed once.
    bool dup = false;
    for (const auto& f : fields_) dup |= f.field == k.field && f.prefix_len == k.prefix_len;
    if (dup) continue;
    fields_.push_back({k.field, k.prefix_len, static_cast<uint8_t>(off)});
    off += field_width(k.field);
  }
  key_bytes_ = off;
  if (off <= 16)
    table_.emplace<Table<2>>();
  else if (off <= 40)
    table_.emplace<Table<5>>();
  else
    table_.emplace<Table<11>>();  // every field: 8 + 3 * 16 + 4 * 4 + 2 * 2 + 1 = 77 bytes
}

template <size_t W>
void FlowAggregator::Table<W>::add(const Key& k, uint64_t packets, uint64_t bytes) {
  map.prefetch(k);
  Pending& slot = ring[head];
  if (queued == kDepth) {
    Totals& t = map[slot.key];
    t.flows += 1;
    t.packets += slot.packets;
    t.bytes += slot.bytes;
  } else {
    ++queued;
  }
  slot = Pending{k, packets, bytes};
  head = (head + 1) % kDepth;
}

template <size_t W>
void FlowAggregator::Table<W>::drain() {
  // The oldest pending entry is at head when the ring is full, else at 0.
  size_t first = queued == kDepth ? head : 0;
  for (size_t i = 0; i < queued; ++i) {
    const Pending& p = ring[(first + i) % kDepth];
    Totals& t = map[p.key];
    t.flows += 1;
    t.packets += p.packets;
    t.bytes += p.bytes;
  }
  queued = 0;
  head = 0;
}

template <size_t W>
void FlowAggregator::add_to(Table<W>& t, const FlowRecord& r) {
  typename Table<W>::Key k{};
  auto* kb = reinterpret_cast<uint8_t*>(k.data());
  if (spec_.bin_ms > 0) {
    TimeMs bin = r.start - ((r.start % spec_.bin_ms) + spec_.bin_ms) % spec_.bin_ms;
    std::memcpy(kb, &bin, 8);
  }
  for (const auto& f : fields_) {
    uint8_t* p = kb + f.offset;
    switch (f.field) {
      case AggregateSpec::Src: std::memcpy(p, net_of(r.src, f.prefix_len).bytes(), 16); break;
      case AggregateSpec::Dst: std::memcpy(p, net_of(r.dst, f.prefix_len).bytes(), 16); break;
      case AggregateSpec::Exporter: std::memcpy(p, r.exporter.bytes(), 16); break;
      case AggregateSpec::Sport: std::memcpy(p, &r.sport, 2); break;
      case AggregateSpec::Dport: std::memcpy(p, &r.dport, 2); break;
      case AggregateSpec::Proto: *p = r.proto; break;
      case AggregateSpec::SrcAs: std::memcpy(p, &r.src_as, 4); break;
      case AggregateSpec::DstAs: std::memcpy(p, &r.dst_as, 4); break;
      case AggregateSpec::InIf: std::memcpy(p, &r.in_if, 4); break;
      case AggregateSpec::OutIf: std::memcpy(p, &r.out_if, 4); break;
    }
  }
  uint64_t mult = spec_.renormalise && r.sampling_rate > 1 ? r.sampling_rate : 1;
  t.add(k, r.packets * mult, r.bytes * mult);
}

void FlowAggregator::on_flow(const FlowRecord& r) {
  std::visit([&](auto& t) { add_to(t, r); }, table_);
}

template <size_t W>
void FlowAggregator::rows_from(Table<W>& t, std::vector<Row>& rows) const {
  t.drain();
  rows.reserve(t.map.size());
  for (const auto& [k, tot] : t.map) {
    const auto* kb = reinterpret_cast<const uint8_t*>(k.data());
    Row row;
    if (spec_.bin_ms > 0) std::memcpy(&row.bin, kb, 8);
    for (const auto& f : fields_) {
      const uint8_t* p = kb + f.offset;
      switch (f.field) {
        case AggregateSpec::Src: row.key.src = IpAddr::v6_bytes(p); break;
        case AggregateSpec::Dst: row.key.dst = IpAddr::v6_bytes(p); break;
        case AggregateSpec::Exporter: row.key.exporter = IpAddr::v6_bytes(p); break;
        case AggregateSpec::Sport: std::memcpy(&row.key.sport, p, 2); break;
        case AggregateSpec::Dport: std::memcpy(&row.key.dport, p, 2); break;
        case AggregateSpec::Proto: row.key.proto = *p; break;
        case AggregateSpec::SrcAs: std::memcpy(&row.key.src_as, p, 4); break;
        case AggregateSpec::DstAs: std::memcpy(&row.key.dst_as, p, 4); break;
        case AggregateSpec::InIf: std::memcpy(&row.key.in_if, p, 4); break;
        case AggregateSpec::OutIf: std::memcpy(&row.key.out_if, p, 4); break;
      }
    }
    row.flows = tot.flows;
    row.packets = tot.packets;
    row.bytes = tot.bytes;
    rows.push_back(row);
  }
}

std::vector<FlowAggregator::Row> FlowAggregator::rows() {
  std::vector<Row> rows;
  std::visit([&](auto& t) { rows_from(t, rows); }, table_);
  auto metric = [&](const Row& r) {
    return spec_.order == AggregateSpec::Bytes ? r.bytes : spec_.order == AggregateSpec::Packets ? r.packets : r.flows;
  };
  std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    if (a.bin != b.bin) return a.bin < b.bin;
    if (metric(a) != metric(b)) return metric(a) > metric(b);
    return std::tie(a.key.src, a.key.dst, a.key.sport, a.key.dport) <
           std::tie(b.key.src, b.key.dst, b.key.sport, b.key.dport);
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

void FlowAggregator::print(std::FILE* out, OutputFormat fmt) {
  fmt::memory_buffer b;
  auto it = std::back_inserter(b);
  auto rs = rows();
  // Column names and values for the chosen keys.
  auto key_name = [](const AggregateSpec::Key& k) -> std::string {
    static const char* kN[] = {"src", "dst", "sport", "dport", "proto", "exporter", "src_as", "dst_as", "in_if", "out_if"};
    std::string n = kN[k.field];
    if (k.prefix_len) n += "_net";
    return n;
  };
  auto key_value = [&](const AggregateSpec::Key& k, const Row& r) -> std::string {
    switch (k.field) {
      case AggregateSpec::Src: return k.prefix_len ? Prefix(r.key.src, k.prefix_len).str() : r.key.src.str();
      case AggregateSpec::Dst: return k.prefix_len ? Prefix(r.key.dst, k.prefix_len).str() : r.key.dst.str();
      case AggregateSpec::Sport: return std::to_string(r.key.sport);
      case AggregateSpec::Dport: return std::to_string(r.key.dport);
      case AggregateSpec::Proto: return std::to_string(r.key.proto);
      case AggregateSpec::Exporter: return r.key.exporter.empty() ? "" : r.key.exporter.str();
      case AggregateSpec::SrcAs: return std::to_string(r.key.src_as);
      case AggregateSpec::DstAs: return std::to_string(r.key.dst_as);
      case AggregateSpec::InIf: return std::to_string(r.key.in_if);
      case AggregateSpec::OutIf: return std::to_string(r.key.out_if);
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
        bool numeric = k.field != AggregateSpec::Src && k.field != AggregateSpec::Dst && k.field != AggregateSpec::Exporter;
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
}

}  // namespace omamori
