#include "detect/c2/discovery.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace omamori::c2 {

std::string_view dest_kind_name(DestKind k) {
  switch (k) {
    case DestKind::AddrPort: return "address";
    case DestKind::Domain: return "domain";
    case DestKind::NxDomain: return "nxdomain";
  }
  return "?";
}

std::string flow_dest(const IpAddr& dst, uint16_t dport, uint8_t proto) {
  const char* p = proto == 6 ? "tcp" : proto == 17 ? "udp" : nullptr;
  std::string a = dst.is_v4() ? dst.str() : "[" + dst.str() + "]";
  return p ? fmt::format("{}:{}/{}", a, dport, p) : fmt::format("{}/{}", a, proto);
}

Discovery::Discovery(Config cfg) : cfg_(std::move(cfg)) {
  LpmTable<uint8_t>::Builder b;
  for (const auto& p : cfg_.infrastructure) b.add(p, 1);
  infra_ = b.build();
}

std::string Discovery::DestKey::text() const {
  return kind == DestKind::AddrPort ? flow_dest(addr, port, proto) : name;
}

void Discovery::add_contact(const IpAddr& host, DestKind kind, std::string_view dest, TimeMs t) {
  DestKey k{kind, IpAddr{}, 0, 0, std::string(dest)};
  add(host, std::move(k), t);
}

void Discovery::add(const IpAddr& host, DestKey&& k, TimeMs t) {
  auto [hit, inserted] = host_ids_.try_emplace(host, static_cast<uint32_t>(hosts_.size()));
  if (inserted) hosts_.push_back(host);
  uint32_t id = hit->second;
  auto [it, fresh] = dests_.try_emplace(std::move(k));
  Dest& d = it->second;
  if (fresh) d.first = d.last = t;
  d.first = std::min(d.first, t);
  d.last = std::max(d.last, t);
  if (!d.hosts.empty() && d.hosts.back() == id) return;
  if (d.hosts.size() >= cfg_.max_hosts_per_dest) {
    ++d.overflow;
    return;
  }
  d.hosts.push_back(id);
  // Keep memory in check for chatty hosts: compact duplicates now and then.
  if (d.hosts.size() >= 64 && (d.hosts.size() & (d.hosts.size() - 1)) == 0) {
    std::sort(d.hosts.begin(), d.hosts.end());
    d.hosts.erase(std::unique(d.hosts.begin(), d.hosts.end()), d.hosts.end());
  }
}

void Discovery::add_flow(const IpAddr& host, const IpAddr& dst, uint16_t dport, uint8_t proto, TimeMs t) {
  if (infra_.lookup(dst)) return;
  if (std::find(cfg_.infrastructure_ports.begin(), cfg_.infrastructure_ports.end(), dport) !=
      cfg_.infrastructure_ports.end())
    return;
  add(host, DestKey{DestKind::AddrPort, dst, dport, proto, {}}, t);
}

void Discovery::set_suspected(const IpAddr& host) {
  auto [hit, inserted] = host_ids_.try_emplace(host, static_cast<uint32_t>(hosts_.size()));
  if (inserted) hosts_.push_back(host);
  suspected_.insert(hit->second);
}

bool Discovery::excluded(const DestKey& k) const {
  if (known_ && known_(k.kind, k.addr, k.port, k.proto, k.name)) return true;
  if (k.kind == DestKind::AddrPort) return false;  // infrastructure filtered on entry
  std::string_view name = k.name;
  for (const auto& a : cfg_.allow_domains) {
    if (name == a) return true;
    if (name.size() > a.size() && name.ends_with(a) && name[name.size() - a.size() - 1] == '.') return true;
  }
  return false;
}

double Discovery::log_hypergeom_tail(uint32_t N, uint32_t K, uint32_t n, uint32_t k) {
  auto lchoose = [](double a, double b) { return std::lgamma(a + 1) - std::lgamma(b + 1) - std::lgamma(a - b + 1); };
  uint32_t hi = std::min(n, K);
  if (k > hi) return -INFINITY;
  uint32_t lo = n > N - K ? n - (N - K) : 0;
  if (k <= lo) return 0.0;
  double denom = lchoose(N, n);
  double mx = -INFINITY;
  std::vector<double> terms;
  terms.reserve(hi - k + 1);
  for (uint32_t i = k; i <= hi; ++i) {
    double t = lchoose(K, i) + lchoose(N - K, n - i) - denom;
    terms.push_back(t);
    mx = std::max(mx, t);
  }
  double s = 0;
  for (double t : terms) s += std::exp(t - mx);
  return std::min(0.0, mx + std::log(s));
}

std::vector<Candidate> Discovery::candidates(size_t max) const {
  const uint32_t N = static_cast<uint32_t>(hosts_.size());
  const uint32_t K = static_cast<uint32_t>(suspected_.size());
  std::vector<Candidate> tested;
  if (N == 0 || K == 0) return tested;
  for (const auto& [key, d0] : dests_) {
    std::vector<uint32_t> hs = d0.hosts;
    std::sort(hs.begin(), hs.end());
    hs.erase(std::unique(hs.begin(), hs.end()), hs.end());
    uint32_t n = static_cast<uint32_t>(hs.size());
    uint32_t k = 0;
    for (uint32_t h : hs) k += suspected_.contains(h);
    // Every destination counts as a test for the FDR correction, even those we exclude.
    Candidate c;
    c.kind = key.kind;
    c.dest = key.text();
    c.hosts = n;
    c.suspected_hosts = k;
    c.population = N;
    c.suspected_population = K;
    c.first = d0.first;
    c.last = d0.last;
    // Popular among the hosts nobody suspects: ordinary services, never candidates.
    uint32_t clean = n - k;
    bool popular = static_cast<double>(clean) > cfg_.max_popularity * (N - K) && clean >= cfg_.min_suspected;
    if (k < cfg_.min_suspected || popular || excluded(key)) {
      c.p_value = 1;
    } else {
      c.p_value = std::exp(log_hypergeom_tail(N, K, n, k));
      for (uint32_t h : hs)
        if (suspected_.contains(h) && c.example_hosts.size() < 5) c.example_hosts.push_back(hosts_[h]);
    }
    c.enrichment = n ? (static_cast<double>(k) / n) / (static_cast<double>(K) / N) : 0;
    tested.push_back(std::move(c));
  }
  // Benjamini-Hochberg over all m tests.
  std::sort(tested.begin(), tested.end(), [](const Candidate& a, const Candidate& b) {
    if (a.p_value != b.p_value) return a.p_value < b.p_value;
    if (a.suspected_hosts != b.suspected_hosts) return a.suspected_hosts > b.suspected_hosts;
    return a.dest < b.dest;
  });
  const double m = static_cast<double>(tested.size());
  double running = 1.0;
  for (size_t i = tested.size(); i-- > 0;) {
    running = std::min(running, tested[i].p_value * m / static_cast<double>(i + 1));
    tested[i].q_value = running;
  }
  std::vector<Candidate> out;
  for (auto& c : tested) {
    if (c.q_value > cfg_.fdr || out.size() >= max) break;
    c.explanation = fmt::format(
        "{} ({}) was contacted by {} of the {} suspected-infected hosts but by only {} of all {} hosts; "
        "{:.0f}x more than chance, p={:.2g}, q={:.2g}: behaves like a command-and-control server nobody has listed",
        c.dest, dest_kind_name(c.kind), c.suspected_hosts, K, c.hosts, N, c.enrichment, c.p_value, c.q_value);
    out.push_back(std::move(c));
  }
  return out;
}

void candidate_findings(const std::vector<Candidate>& cands, FindingSink& sink) {
  for (const auto& c : cands) {
    Finding f;
    f.type = std::string(finding_type::kC2Candidate);
    if (c.kind == DestKind::AddrPort) {
      std::string a = c.dest.substr(0, c.dest.rfind(':'));
      if (!a.empty() && a.front() == '[') a = a.substr(1, a.size() - 2);
      if (auto ip = IpAddr::parse(a)) f.host = *ip;
    }
    f.first = c.first;
    f.last = c.last;
    f.indicator = c.dest;
    f.feed = "c2-discovery";
    f.category = "c2";
    f.events = c.suspected_hosts;
    double conf = 50 + std::min(45.0, -std::log10(std::max(c.q_value, 1e-300)) * 5);
    f.confidence = static_cast<uint8_t>(conf);
    f.explanation = c.explanation;
    f.details = {{"kind", std::string(dest_kind_name(c.kind))},
                 {"suspected_hosts", std::to_string(c.suspected_hosts)},
                 {"hosts", std::to_string(c.hosts)},
                 {"p_value", fmt::format("{:.3g}", c.p_value)},
                 {"q_value", fmt::format("{:.3g}", c.q_value)}};
    sink.on_finding(f);
  }
}

}  // namespace omamori::c2
