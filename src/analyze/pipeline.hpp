// The analysis pipeline: one pass over flow records, DNS events and raw
// packets, feeding every detector, then findings, C&C candidates and host
// verdicts. Used by `omamori analyze` (batch) and, later, the live sensor.
//
//   raw packets ─▶ flow meter ─┐
//   flow records ──────────────┼─▶ reputation, DDoS, scanning, C&C contacts
//   raw packets ─▶ DNS decoder ┤
//   DNS events ────────────────┴─▶ reputation, NXDOMAIN/DGA, C&C contacts
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "analyze/rd_cache.hpp"
#include "detect/c2/discovery.hpp"
#include "detect/ddos/ddos.hpp"
#include "detect/dga/nxdomain.hpp"
#include "detect/finding.hpp"
#include "detect/reputation/reputation.hpp"
#include "detect/scan/scan.hpp"
#include "detect/verdict.hpp"
#include "flow/record.hpp"
#include "ingest/dns/event.hpp"
#include "ingest/dns/pcap_dns.hpp"
#include "ingest/meter/meter.hpp"
#include "intel/match.hpp"

namespace omamori {

struct PipelineConfig {
  std::vector<Prefix> subscribers;  // the ISP's subscriber space; empty = every host is judged
  ddos::Config ddos;
  scan::Config scan;
  c2::Config c2;
  reputation::Config reputation;
  MeterConfig meter;
  bool discover_c2 = true;
  dga::NxConfig nxdomain;
  bool detect_dga = true;  // needs the embedded DGA model
};

class Pipeline final : public FlowSink, public DnsSink {
 public:
  Pipeline(PipelineConfig cfg, std::shared_ptr<const intel::IntelSnapshot> intel);
  // Flow records are handed to the detectors kAhead records late, so that
  // their table slots can be prefetched meanwhile (a DDoS index and C&C
  // lookups are cache misses otherwise); anything else (a DNS event, a
  // packet, finish(), flush()) processes the queued records first, so every
  // detector sees the same sequence as without the queue.
  void on_flow(const FlowRecord& r) override;
  void on_dns(const DnsEvent& ev) override;
  // Processes the queued flow records (before looking at detector state).
  void flush();
  // A raw captured packet: metered into flows and, on DNS ports, decoded as DNS.
  void packet(int linktype, const CapturedPacket& pkt);
  // End of input: flush the meter, close windows and attacks, rank C&C candidates.
  void finish();

  const std::vector<Finding>& findings() const { return findings_; }
  const std::vector<HostVerdict>& verdicts() const { return verdicts_; }
  const std::vector<c2::Candidate>& candidates() const { return candidates_; }
  const c2::Discovery& discovery() const { return c2_; }
  const ddos::Detector& ddos() const { return ddos_; }
  const scan::Detector& scan() const { return scan_; }
  const dga::NxDetector* nxdomain() const { return nxdomain_.get(); }
  const c2::Discovery& c2() const { return c2_; }
  const FlowMeter& meter() const { return meter_; }
  const DnsPacketDecoder& dns_decoder() const { return dns_pcap_; }
  uint64_t flows() const { return flows_; }
  uint64_t dns_events() const { return dns_events_; }

 private:
  void process(const FlowRecord& r);
  void prefetch(const FlowRecord& r) const;

  static constexpr size_t kAhead = 8;
  std::array<FlowRecord, kAhead> queue_;
  size_t queue_head_ = 0, queued_ = 0;
  PipelineConfig cfg_;
  std::shared_ptr<const intel::IntelSnapshot> intel_;
  std::optional<reputation::Detector> reputation_;
  std::unique_ptr<dga::NxDetector> nxdomain_;
  ddos::Detector ddos_;
  scan::Detector scan_;
  c2::Discovery c2_;
  FlowMeter meter_;
  DnsPacketDecoder dns_pcap_;
  LpmTable<uint8_t> subscribers_;
  RegisteredDomainCache rd_cache_;
  std::vector<Finding> findings_;
  std::vector<HostVerdict> verdicts_;
  std::vector<c2::Candidate> candidates_;
  uint64_t flows_ = 0;
  uint64_t dns_events_ = 0;
};

}  // namespace omamori
