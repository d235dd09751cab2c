// The reputation detector: matches subscribers' DNS queries and answers and
// their flows against the threat-intelligence snapshot, and turns matches
// into findings (type reputation-dns / reputation-flow) aggregated per
// (host, indicator).
//
// DNS: the query name (exact or a listed parent domain), the names in the
// answer's CNAME chain and the answer addresses. Flows: destination address
// and port (address:port indicators first, then addresses and CIDRs); a flow
// *from* a listed address to a subscriber (the reply direction) counts for
// that subscriber. Allowlists were applied when the snapshot was built.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <memory>
#include <vector>

#include "core/lpm.hpp"
#include "detect/finding.hpp"
#include "flow/record.hpp"
#include "ingest/dns/event.hpp"
#include "intel/match.hpp"

namespace omamori::reputation {

struct Config {
  std::vector<Prefix> subscribers;  // when set, only hosts inside are judged, and they decide flow direction
};

class Detector final : public FlowSink, public DnsSink {
 public:
  Detector(Config cfg, std::shared_ptr<const intel::IntelSnapshot> snap);
  void on_flow(const FlowRecord& r) override;
  void on_dns(const DnsEvent& ev) override;
  void findings(FindingSink& sink) const;
  uint64_t matches() const { return matches_; }

 private:
  enum class What : uint8_t { Query, AnswerName, AnswerAddr, Flow };
  struct Key {
    IpAddr host;
    uint32_t id;
    What what;
    bool operator==(const Key&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.host, k.id, k.what);
    }
  };
  struct Acc {
    TimeMs first = 0, last = 0;
    uint64_t events = 0;
    uint64_t last_lookup = 0;  // (dns id, client port, second) of the last counted lookup
    intel::MatchType how = intel::MatchType::kNone;
    std::string seen;  // the name or address actually seen (first occurrence)
    uint16_t port = 0;
  };
  bool ours(const IpAddr& a) const { return cfg_.subscribers.empty() || subscribers_.lookup(a); }
  void hit(const IpAddr& host, intel::Match m, What what, TimeMs t, std::string_view seen, uint64_t lookup,
           uint16_t port);

  Config cfg_;
  std::shared_ptr<const intel::IntelSnapshot> snap_;
  LpmTable<uint8_t> subscribers_;
  absl::flat_hash_map<Key, Acc> acc_;
  uint64_t matches_ = 0;
};

}  // namespace omamori::reputation
