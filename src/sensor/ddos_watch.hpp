// Live DDoS detection: flow records from the UDP collector feed the DDoS
// detector as they arrive, and every attack is reported the moment it starts
// and again when it ends.
//
// The detector runs on traffic time (the records' own timestamps), as in
// batch analysis, so a live run and `omamori analyze` of the same records
// agree. Traffic time only moves when records arrive, though: when they stop
// (the attack is over, or the exporter went away) the clock goes on with the
// wall clock from the time of the last record, so attacks still end.
//
// Threading: everything runs on the collector's output thread (on_flow and
// idle are called from there), so the detector needs no lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "detect/ddos/ddos.hpp"
#include "flow/record.hpp"
#include "metrics/exporter.hpp"

namespace omamori::sensor {

class DdosWatch final : public FlowSink {
 public:
  // wall_ms: the wall clock in ms (tests pass their own).
  DdosWatch(ddos::Config cfg, std::function<int64_t()> wall_ms);

  // Called with each attack when it starts (start = true) and when it ends.
  std::function<void(const ddos::Attack&, bool start)> on_event;

  void on_flow(const FlowRecord& r) override;
  // The collector's output thread is idle: move traffic time on with the wall
  // clock (at most every kTickMs of wall time).
  void idle();
  // End of input: ends every attack still active (at its last packet).
  void finish();

  const ddos::Detector& detector() const { return det_; }
  uint64_t records() const { return records_.load(std::memory_order_relaxed); }
  uint64_t started() const {
    return started_in_.load(std::memory_order_relaxed) + started_out_.load(std::memory_order_relaxed);
  }
  uint64_t ended() const {
    return ended_in_.load(std::memory_order_relaxed) + ended_out_.load(std::memory_order_relaxed);
  }
  // Prometheus samples (any thread): omamori_ddos_records_total,
  // omamori_ddos_attacks_{started,ended}_total{direction}, omamori_ddos_attacks_active,
  // omamori_ddos_entities, omamori_ddos_events_total{reason} (the detector's counters
  // as published at the last idle tick, attack start or end, or every 65,536 records).
  void samples(std::vector<metrics::Sample>& out) const;
  TimeMs traffic_time() const { return traffic_; }

  static constexpr int64_t kTickMs = 100;
  static constexpr uint64_t kPublishEvery = (uint64_t{1} << 16) - 1;  // mask: every 65,536 records

 private:
  void publish();  // output thread: copies the detector's counters for samples()

  ddos::Detector det_;
  std::function<int64_t()> wall_ms_;
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> started_in_{0}, started_out_{0}, ended_in_{0}, ended_out_{0};
  mutable std::mutex pub_mu_;
  ReasonCounters pub_errors_;  // guarded by pub_mu_
  uint64_t pub_entities_ = 0;  // guarded by pub_mu_
  TimeMs traffic_ = 0;         // latest record end seen
  bool have_traffic_ = false;
  bool fresh_ = false;           // records arrived since the last idle()
  int64_t wall_at_traffic_ = 0;  // wall time when traffic_ was last confirmed
  int64_t last_tick_ = 0;
};

// One event as a JSON line: {"event":"attack_start"|"attack_end", "wall",
// "target", "direction", "group" (if any), "vector", "trigger", "start",
// "detected", at the end also "end", "packets", "bytes", "flows", "peak_pps",
// "peak_bps"; then "distinct_sources" and "top_sources" (outbound:
// "top_destinations")}.
std::string event_json(const ddos::Attack& a, bool start, int64_t wall_ms, size_t top_sources);
// The same as one line of text for a terminal.
std::string event_text(const ddos::Attack& a, bool start, int64_t wall_ms);
// "<start, UTC, compact>-<target>-<inbound|outbound>.json": the file name of
// an attack's report (addresses with ':' or '/' made file-name safe).
std::string report_file_name(const ddos::Attack& a);

}  // namespace omamori::sensor
