#include "detect/ddos/group_spec.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <vector>

namespace omamori::ddos {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) return out;
    start = p + 1;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A non-negative finite number, all of s.
bool number(std::string_view s, double& out) {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && p == end && std::isfinite(out) && out >= 0;
}

}  // namespace

std::optional<HostGroup> parse_group_spec(std::string_view spec, const Thresholds& defaults, std::string& err) {
  auto parts = split(spec, ';');
  std::string_view head = trim(parts[0]);
  size_t eq = head.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    err = fmt::format("host group '{}': expected NAME=PREFIX[,PREFIX...][;KEY=VALUE...]", spec);
    return std::nullopt;
  }
  HostGroup g;
  g.name = std::string(trim(head.substr(0, eq)));
  for (auto p : split(head.substr(eq + 1), ',')) {
    p = trim(p);
    auto prefix = Prefix::parse(p);
    if (!prefix) {
      err = fmt::format("host group '{}': not an address prefix: '{}'", g.name, p);
      return std::nullopt;
    }
    g.prefixes.push_back(*prefix);
  }
  g.host = defaults;  // keys override one by one
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string_view kv = trim(parts[i]);
    if (kv.empty()) continue;
    size_t k = kv.find('=');
    std::string_view key = k == std::string_view::npos ? kv : trim(kv.substr(0, k));
    double v = 0;
    if (k == std::string_view::npos || !number(trim(kv.substr(k + 1)), v)) {
      err = fmt::format("host group '{}': '{}' wants KEY=NUMBER (a non-negative number)", g.name, kv);
      return std::nullopt;
    }
    bool prefix_key = key.starts_with("prefix-");
    if (prefix_key) key.remove_prefix(7);
    Thresholds& t = prefix_key ? g.prefix : g.host;
    auto u64 = static_cast<uint64_t>(std::llround(std::min(v, 1.8e19)));
    if (key == "pps") {
      t.pps = u64;
    } else if (key == "bps") {
      t.bps = u64;
    } else if (key == "fps") {
      t.fps = u64;
    } else if (key == "baseline") {
      t.baseline_factor = v;
    } else if (key == "baseline-min-pps") {
      t.baseline_min_pps = u64;
    } else if (key == "warmup") {
      t.baseline_warmup_ms = static_cast<TimeMs>(std::min(v, 1e9) * 1000);
    } else {
      err = fmt::format(
          "host group '{}': unknown key '{}{}' (pps, bps, fps, baseline, baseline-min-pps, warmup, "
          "each also as prefix-KEY)",
          g.name, prefix_key ? "prefix-" : "", key);
      return std::nullopt;
    }
  }
  return g;
}

}  // namespace omamori::ddos
