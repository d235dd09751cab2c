// Discovery of unknown C&C servers.
//
// From the destinations hosts contact (address:port, FQDN, NXDOMAIN name)
// and which hosts are suspected (have any finding), rank destinations by how
// much more often suspected hosts contact them than the population explains:
// for a destination contacted by n of N hosts, k of them among the K
// suspected, the p-value is the hypergeometric upper tail P(X >= k), and the
// Benjamini-Hochberg procedure controls the false discovery rate over all
// destinations tested. Popular destinations (contacted by more than a share
// of all hosts), allowlisted names/addresses and infrastructure (resolvers,
// NTP, CDN prefixes; DNS and NTP ports) are never candidates.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ip.hpp"
#include "core/lpm.hpp"
#include "core/time.hpp"
#include "detect/finding.hpp"

namespace omamori::c2 {

enum class DestKind : uint8_t { AddrPort, Domain, NxDomain };
std::string_view dest_kind_name(DestKind k);

struct Config {
  double max_popularity = 0.05;   // contacted by more than this share of unsuspected hosts: popular
  uint32_t min_suspected = 3;     // at least this many suspected hosts must share it
  double fdr = 0.01;              // Benjamini-Hochberg false discovery rate
  std::vector<std::string> allow_domains;  // label-wise suffix match
  std::vector<Prefix> infrastructure;      // resolvers, NTP, CDNs, own services
  std::vector<uint16_t> infrastructure_ports{53, 123, 67, 68, 853};
  size_t max_hosts_per_dest = 1 << 16;     // bound on stored contacts per destination
};

struct Candidate {
  DestKind kind;
  std::string dest;        // "203.0.113.7:6667/tcp", "evil.example", "xkjq.example"
  uint32_t suspected_hosts = 0;  // k
  uint32_t hosts = 0;            // n
  uint32_t population = 0;       // N
  uint32_t suspected_population = 0;  // K
  double p_value = 1;
  double q_value = 1;      // BH-adjusted
  double enrichment = 0;   // (k/n) / (K/N)
  TimeMs first = 0, last = 0;
  std::vector<IpAddr> example_hosts;  // a few suspected hosts that contacted it
  std::string explanation;
};

class Discovery {
 public:
  explicit Discovery(Config cfg);
  // Records that host contacted dest at time t. dest is normalised by the caller
  // (lower-case names; "addr:port/proto" for flows: use flow_dest()).
  void add_contact(const IpAddr& host, DestKind kind, std::string_view dest, TimeMs t);
  void add_flow(const IpAddr& host, const IpAddr& dst, uint16_t dport, uint8_t proto, TimeMs t);
  void set_suspected(const IpAddr& host);
  // Destinations explained already (listed by a threat feed, allowlisted) are
  // never candidates: the function says which (addr/port/proto for kind
  // AddrPort, name otherwise).
  using KnownFn = std::function<bool(DestKind kind, const IpAddr& addr, uint16_t port, uint8_t proto,
                                     std::string_view name)>;
  void set_known(KnownFn f) { known_ = std::move(f); }
  // Destinations significant at the configured FDR, best first.
  std::vector<Candidate> candidates(size_t max = 100) const;
  size_t destinations() const { return dests_.size(); }
  size_t hosts() const { return host_ids_.size(); }
  size_t suspected() const { return suspected_.size(); }

  // log P(X >= k) for X ~ Hypergeometric(N, K, n).
  static double log_hypergeom_tail(uint32_t N, uint32_t K, uint32_t n, uint32_t k);

 private:
  // Flow destinations are kept binary (no string per flow); names as text.
  struct DestKey {
    DestKind kind;
    IpAddr addr;
    uint16_t port = 0;
    uint8_t proto = 0;
    std::string name;
    bool operator==(const DestKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const DestKey& k) {
      return H::combine(std::move(h), k.kind, k.addr, k.port, k.proto, k.name);
    }
    std::string text() const;
  };
  void add(const IpAddr& host, DestKey&& key, TimeMs t);
  struct Dest {
    std::vector<uint32_t> hosts;  // host ids, deduplicated lazily
    TimeMs first = 0, last = 0;
    uint32_t overflow = 0;
  };
  bool excluded(const DestKey& k) const;  // allowlisted or known

  Config cfg_;
  KnownFn known_;
  LpmTable<uint8_t> infra_;
  absl::flat_hash_map<IpAddr, uint32_t> host_ids_;
  std::vector<IpAddr> hosts_;
  absl::flat_hash_set<uint32_t> suspected_;
  absl::flat_hash_map<DestKey, Dest> dests_;
};

std::string flow_dest(const IpAddr& dst, uint16_t dport, uint8_t proto);

// Findings of type c2-candidate, one per candidate (host = the destination
// address when it is one, else unset; indicator = the destination).
void candidate_findings(const std::vector<Candidate>& cands, FindingSink& sink);

}  // namespace omamori::c2
