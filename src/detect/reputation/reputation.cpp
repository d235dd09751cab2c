#include "detect/reputation/reputation.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace omamori::reputation {

Detector::Detector(Config cfg, std::shared_ptr<const intel::IntelSnapshot> snap)
    : cfg_(std::move(cfg)), snap_(std::move(snap)) {
  LpmTable<uint8_t>::Builder b;
  for (const auto& p : cfg_.subscribers) b.add(p, 1);
  subscribers_ = b.build();
}

void Detector::hit(const IpAddr& host, intel::Match m, What what, TimeMs t, std::string_view seen, uint64_t lookup,
                   uint16_t port) {
  ++matches_;
  auto [it, fresh] = acc_.try_emplace(Key{host, m.id, what});
  Acc& a = it->second;
  if (fresh) {
    a.first = a.last = t;
    a.how = m.how;
    a.seen = std::string(seen);
    a.port = port;
  }
  a.first = std::min(a.first, t);
  a.last = std::max(a.last, t);
  // A query and its response are one lookup: count it once.
  if (lookup != 0 && lookup == a.last_lookup) return;
  a.last_lookup = lookup;
  ++a.events;
}

void Detector::on_dns(const DnsEvent& ev) {
  if (!ours(ev.client)) return;
  uint64_t lookup = (uint64_t(ev.id) << 48) ^ (uint64_t(ev.client_port) << 32) ^ uint64_t(ev.time / 1000) ^ 1;
  if (auto m = snap_->match_domain(ev.qname())) hit(ev.client, m, What::Query, ev.time, ev.qname(), lookup, 0);
  if (!ev.is_response()) return;
  for (const auto& a : ev.answers()) {
    if (a.is_address()) {
      if (auto m = snap_->match_addr(a.addr)) {
        char buf[64];
        size_t n = a.addr.format(buf);
        hit(ev.client, m, What::AnswerAddr, ev.time, std::string_view(buf, n), lookup, 0);
      }
    } else if (auto m = snap_->match_domain(ev.answer_name(a))) {
      hit(ev.client, m, What::AnswerName, ev.time, ev.answer_name(a), lookup, 0);
    }
  }
}

void Detector::on_flow(const FlowRecord& r) {
  // Subscriber -> listed destination, or the reply direction.
  auto try_side = [&](const IpAddr& host, const IpAddr& remote, uint16_t rport) {
    if (!ours(host)) return false;
    intel::Match m = snap_->match_addr_port(remote, rport, r.proto);  // falls back to match_addr
    if (!m) return false;
    char buf[64];
    size_t n = remote.format(buf);
    hit(host, m, What::Flow, r.start, std::string_view(buf, n), 0, rport);
    Acc& a = acc_[Key{host, m.id, What::Flow}];
    a.last = std::max(a.last, r.end);
    return true;
  };
  if (!try_side(r.src, r.dst, r.dport)) try_side(r.dst, r.src, r.sport);
}

void Detector::findings(FindingSink& sink) const {
  std::vector<std::pair<Key, const Acc*>> v;
  v.reserve(acc_.size());
  for (const auto& [k, a] : acc_) v.emplace_back(k, &a);
  std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) {
    if (x.first.host != y.first.host) return x.first.host < y.first.host;
    return x.second->first < y.second->first;
  });
  for (const auto& [k, a] : v) {
    const auto& s = *snap_;
    Finding f;
    f.type = std::string(k.what == What::Flow ? finding_type::kReputationFlow : finding_type::kReputationDns);
    f.host = k.host;
    f.first = a->first;
    f.last = a->last;
    f.indicator = std::string(s.value(k.id));
    f.feed = std::string(s.feed(k.id));
    f.category = intel::category_name(s.category(k.id));
    f.family = std::string(s.family(k.id));
    f.events = a->events;
    // The feed's confidence, reduced for indirect matches, raised a little by repetition.
    double c = s.confidence(k.id);
    if (a->how == intel::MatchType::kParent || a->how == intel::MatchType::kCidr) c *= 0.9;
    c = std::min(99.0, c + 5.0 * std::log10(static_cast<double>(a->events)));
    f.confidence = static_cast<uint8_t>(c);
    std::string what_listed = f.category == "sinkhole" ? "a sinkhole (a server researchers use to capture infected devices)"
                              : f.category == "c2"     ? "a command-and-control (C&C) server"
                                                       : "a malicious host (" + f.category + ")";
    std::string fam = f.family.empty() ? "" : " of the " + f.family + " malware";
    std::string times = a->events == 1 ? "once" : fmt::format("{} times", a->events);
    std::string when = fmt::format("between {} and {}", format_rfc3339(a->first), format_rfc3339(a->last));
    switch (k.what) {
      case What::Query:
        f.explanation = fmt::format("{} looked up {} {} {}; {} is listed by {} as {}{}", k.host.str(), a->seen, times,
                                    when, f.indicator, f.feed, what_listed, fam);
        break;
      case What::AnswerName:
        f.explanation = fmt::format("{} got answers pointing to {} {} {}; it is listed by {} as {}{}", k.host.str(),
                                    a->seen, times, when, f.feed, what_listed, fam);
        break;
      case What::AnswerAddr:
        f.explanation = fmt::format("{} got the address {} in DNS answers {} {}; it is listed by {} as {}{}",
                                    k.host.str(), a->seen, times, when, f.feed, what_listed, fam);
        break;
      case What::Flow:
        f.explanation = fmt::format("{} exchanged traffic with {} port {} ({} flows) {}; {} is listed by {} as {}{}",
                                    k.host.str(), a->seen, a->port, a->events, when, f.indicator, f.feed,
                                    what_listed, fam);
        break;
    }
    f.details = {{"match", intel::match_type_name(a->how)}, {"seen", a->seen}};
    sink.on_finding(f);
  }
}

}  // namespace omamori::reputation
