#include "flow/aggregate.hpp"

#include <algorithm>
#include <charconv>
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
}  // namespace

void FlowAggregator::on_flow(const FlowRecord& r) {
  K k{};
  if (spec_.bin_ms > 0) k.bin = r.start - ((r.start % spec_.bin_ms) + spec_.bin_ms) % spec_.bin_ms;
  for (const auto& key : spec_.keys) {
    switch (key.field) {
      case AggregateSpec::Src: k.src = net_of(r.src, key.prefix_len); break;
      case AggregateSpec::Dst: k.dst = net_of(r.dst, key.prefix_len); break;
      case AggregateSpec::Sport: k.sport = r.sport; break;
      case AggregateSpec::Dport: k.dport = r.dport; break;
      case AggregateSpec::Proto: k.proto = r.proto; break;
      case AggregateSpec::Exporter: k.exporter = r.exporter; break;
      case AggregateSpec::SrcAs: k.src_as = r.src_as; break;
      case AggregateSpec::DstAs: k.dst_as = r.dst_as; break;
      case AggregateSpec::InIf: k.in_if = r.in_if; break;
      case AggregateSpec::OutIf: k.out_if = r.out_if; break;
    }
  }
  auto& t = map_[k];
  uint64_t mult = spec_.renormalise && r.sampling_rate > 1 ? r.sampling_rate : 1;
  t.flows += 1;
  t.packets += r.packets * mult;
  t.bytes += r.bytes * mult;
}

std::vector<FlowAggregator::Row> FlowAggregator::rows() const {
  std::vector<Row> rows;
  rows.reserve(map_.size());
  for (const auto& [k, t] : map_) {
    Row row;
    row.bin = k.bin;
    row.key.src = k.src;
    row.key.dst = k.dst;
    row.key.exporter = k.exporter;
    row.key.src_as = k.src_as;
    row.key.dst_as = k.dst_as;
    row.key.in_if = k.in_if;
    row.key.out_if = k.out_if;
    row.key.sport = k.sport;
    row.key.dport = k.dport;
    row.key.proto = k.proto;
    row.flows = t.flows;
    row.packets = t.packets;
    row.bytes = t.bytes;
    rows.push_back(row);
  }
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

void FlowAggregator::print(std::FILE* out, OutputFormat fmt) const {
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
