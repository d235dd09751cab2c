#include "analyze/pipeline.hpp"

#include "core/psl.hpp"

namespace omamori {

namespace {
ddos::Config with_subscribers(ddos::Config c, const std::vector<Prefix>& subs) {
  if (c.subscribers.empty()) c.subscribers = subs;
  return c;
}
scan::Config with_subscribers(scan::Config c, const std::vector<Prefix>& subs) {
  if (c.subscribers.empty()) c.subscribers = subs;
  return c;
}
reputation::Config with_subscribers(reputation::Config c, const std::vector<Prefix>& subs) {
  if (c.subscribers.empty()) c.subscribers = subs;
  return c;
}
}  // namespace

Pipeline::Pipeline(PipelineConfig cfg, std::shared_ptr<const intel::IntelSnapshot> intel)
    : cfg_(std::move(cfg)),
      intel_(std::move(intel)),
      ddos_(with_subscribers(cfg_.ddos, cfg_.subscribers)),
      scan_(with_subscribers(cfg_.scan, cfg_.subscribers)),
      c2_(cfg_.c2),
      meter_(cfg_.meter, *this) {
  if (intel_) {
    reputation_.emplace(with_subscribers(cfg_.reputation, cfg_.subscribers), intel_);
    // Listed or allowlisted destinations are explained: not C&C candidates.
    c2_.set_known([snap = intel_](c2::DestKind kind, const IpAddr& a, uint16_t port, uint8_t proto,
                                  std::string_view name) {
      if (kind == c2::DestKind::AddrPort) return snap->match_addr_port(a, port, proto) || snap->allowed_addr(a);
      return snap->match_domain(name) || snap->allowed_domain(name);
    });
  }
  if (cfg_.detect_dga) {
    std::string err;
    if (const dga::Model* m = dga::Model::builtin(err)) nxdomain_ = std::make_unique<dga::NxDetector>(*m, cfg_.nxdomain);
  }
  LpmTable<uint8_t>::Builder b;
  for (const auto& p : cfg_.subscribers) b.add(p, 1);
  subscribers_ = b.build();
}

void Pipeline::on_flow(const FlowRecord& r) {
  ++flows_;
  if (queued_ == kAhead) {
    process(queue_[queue_head_]);
    queue_[queue_head_] = r;
    queue_head_ = (queue_head_ + 1) % kAhead;
  } else {
    queue_[(queue_head_ + queued_++) % kAhead] = r;
  }
  prefetch(r);
  // Halfway through the queue the index slots are in: start on the records they point to.
  if (queued_ == kAhead) {
    const FlowRecord& mid = queue_[(queue_head_ + kAhead / 2) % kAhead];
    ddos_.prefetch_entities(mid);
    if (cfg_.discover_c2) c2_.prefetch_dest(mid.dst, mid.dport, mid.proto);
  }
}

void Pipeline::prefetch(const FlowRecord& r) const {
  ddos_.prefetch(r);
  if (cfg_.discover_c2) c2_.prefetch_flow(r.src, r.dst, r.dport, r.proto);
}

void Pipeline::flush() {
  for (; queued_ > 0; --queued_) {
    process(queue_[queue_head_]);
    queue_head_ = (queue_head_ + 1) % kAhead;
  }
}

void Pipeline::process(const FlowRecord& r) {
  if (reputation_) reputation_->on_flow(r);
  ddos_.on_flow(r);
  scan_.on_flow(r);
  // C&C contacts are conversations: a TCP attempt nobody answered (SYN without
  // ACK: scanning, SYN floods) is not one, and would fill the destination table.
  bool unanswered = r.proto == 6 && (r.tcp_flags & (tcpflag::SYN | tcpflag::ACK)) == tcpflag::SYN;
  if (cfg_.discover_c2 && !unanswered && (cfg_.subscribers.empty() || subscribers_.lookup(r.src)))
    c2_.add_flow(r.src, r.dst, r.dport, r.proto, r.start);
}

void Pipeline::on_dns(const DnsEvent& ev) {
  flush();
  ++dns_events_;
  if (reputation_) reputation_->on_dns(ev);
  if (!cfg_.subscribers.empty() && !subscribers_.lookup(ev.client)) return;
  if (nxdomain_) nxdomain_->on_dns(dga::DnsObservation{ev.time, ev.client, ev.qname(), static_cast<uint8_t>(ev.rcode),
                                                        ev.is_response()});
  if (!cfg_.discover_c2 || !ev.is_response()) return;
  // Contacts by registered domain: hosts asking for many names of one
  // domain count once; NXDOMAIN names are kept whole (DGA names differ).
  std::string_view q = ev.qname();
  if (q.empty()) return;
  if (ev.rcode == 3) {
    c2_.add_contact(ev.client, c2::DestKind::NxDomain, q, ev.time);
  } else if (ev.rcode == 0) {
    std::string_view rd = rd_cache_.get(q);
    c2_.add_contact(ev.client, c2::DestKind::Domain, rd.empty() ? q : rd, ev.time);
  }
}

void Pipeline::packet(int linktype, const CapturedPacket& pkt) {
  // Flows whose timeouts passed are exported first and reach the detectors
  // before their clocks move on to this packet: a flood followed by quiet is
  // counted at its own time, not when the next packet happens to come.
  meter_.advance(pkt.ts);
  flush();
  ddos_.advance(pkt.ts);
  meter_.add_packet(linktype, pkt);
  dns_pcap_.packet(linktype, pkt.data, pkt.caplen, pkt.ts, *this);
}

void Pipeline::finish() {
  meter_.flush();
  dns_pcap_.finish();
  flush();
  ddos_.finish();
  scan_.finish();
  FindingCollector fc;
  if (reputation_) reputation_->findings(fc);
  scan_.findings(fc);
  ddos_.findings(fc);
  if (nxdomain_) nxdomain_->findings(fc);
  if (cfg_.discover_c2) {
    for (const auto& f : fc.findings)
      if (f.type != finding_type::kDdosTarget && !f.host.empty()) c2_.set_suspected(f.host);
    candidates_ = c2_.candidates();
    c2::candidate_findings(candidates_, fc);
  }
  findings_ = std::move(fc.findings);
  verdicts_ = host_verdicts(findings_);
}

}  // namespace omamori
