// Error and drop counters by reason, and optionally by source (exporter, NAS, file).
//
// Reasons are static strings ("truncated header", "unknown template", ...);
// counting never allocates after a (source, reason) pair is first seen. Every
// malformed input in omamori increments one of these, so nothing is lost
// silently; `snapshot()` feeds the CLI summary and, later, Prometheus.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/ip.hpp"

namespace omamori {

class ReasonCounters {
 public:
  struct Row {
    std::string source;  // "" when not per source
    std::string reason;
    uint64_t count;
  };

  // reason must be a string literal (its address is the key).
  void add(const char* reason, uint64_t n = 1) { by_reason_[reason] += n; }
  void add(const IpAddr& source, const char* reason, uint64_t n = 1) {
    by_reason_[reason] += n;
    // Sources come from untrusted input (spoofed senders, sFlow agent fields):
    // past kMaxSourceRows (source, reason) pairs, new pairs count under the
    // unspecified source "::" so that memory stays bounded.
    if (by_source_.size() >= kMaxSourceRows) {
      auto it = by_source_.find({source, reason});
      if (it == by_source_.end()) it = by_source_.try_emplace({IpAddr{}, reason}, 0).first;
      it->second += n;
      return;
    }
    by_source_[{source, reason}] += n;
  }
  static constexpr size_t kMaxSourceRows = 65536;
  uint64_t count(std::string_view reason) const;
  uint64_t total() const;
  std::vector<Row> snapshot(bool per_source) const;
  void merge(const ReasonCounters& o);
  void clear() {
    by_reason_.clear();
    by_source_.clear();
  }

 private:
  absl::flat_hash_map<const char*, uint64_t> by_reason_;
  absl::flat_hash_map<std::pair<IpAddr, const char*>, uint64_t> by_source_;
};

}  // namespace omamori
