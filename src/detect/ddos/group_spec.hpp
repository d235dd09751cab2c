// Host groups of the DDoS detector written as one line each, for the command
// line and the TOML config (`ddos-group = ["web=192.0.2.0/25,2001:db8::/48;pps=50000;baseline=4", ...]`):
//
//   NAME=PREFIX[,PREFIX...][;KEY=VALUE...]
//
// keys (per address in the group unless prefixed "prefix-"; values are
// non-negative numbers, 2e9 allowed):
//   pps, bps, fps          static thresholds (packets, bits, flow records per second; 0 = not used)
//   baseline               learned-baseline factor: an attack also when the rate exceeds this many
//                          times the host's own average (0 = off)
//   baseline-min-pps       never alarm on a baseline below this rate (default 1000)
//   warmup                 seconds of traffic before a host's baseline is trusted (default 300)
//   prefix-pps, prefix-bps, prefix-fps, prefix-baseline
//                          the same for each listed prefix as a whole (carpet bombing across many
//                          addresses); all zero = prefixes not tracked as a whole
// Per-address thresholds start from `defaults` (the command's
// --ddos-pps/-bps/-fps/--ddos-baseline, or the built-in defaults) and each
// key given replaces one of them (pps=0 turns the packet rate off).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "detect/ddos/ddos.hpp"

namespace omamori::ddos {

// Parses one group; nullopt with err (naming the bad part) on a malformed line.
std::optional<HostGroup> parse_group_spec(std::string_view spec, const Thresholds& defaults, std::string& err);

}  // namespace omamori::ddos
