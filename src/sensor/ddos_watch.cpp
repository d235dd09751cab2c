#include "sensor/ddos_watch.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/time.hpp"

namespace omamori::sensor {

DdosWatch::DdosWatch(ddos::Config cfg, std::function<int64_t()> wall_ms)
    : det_(std::move(cfg)), wall_ms_(std::move(wall_ms)) {
  det_.on_start = [this](const ddos::Attack& a) {
    (a.outbound ? started_out_ : started_in_).fetch_add(1, std::memory_order_relaxed);
    publish();
    if (on_event) on_event(a, true);
  };
  det_.on_end = [this](const ddos::Attack& a) {
    (a.outbound ? ended_out_ : ended_in_).fetch_add(1, std::memory_order_relaxed);
    publish();
    if (on_event) on_event(a, false);
  };
}

void DdosWatch::on_flow(const FlowRecord& r) {
  // One writer: a relaxed load and store, no locked instruction per record.
  const uint64_t n = records_.load(std::memory_order_relaxed) + 1;
  records_.store(n, std::memory_order_relaxed);
  // A busy collector is never idle: publish the detector's counters now and then all the same.
  if ((n & kPublishEvery) == 0) publish();
  if (!have_traffic_ || r.end > traffic_) traffic_ = r.end;
  have_traffic_ = true;
  fresh_ = true;
  det_.on_flow(r);
}

void DdosWatch::idle() {
  int64_t now = wall_ms_();
  if (now - last_tick_ < kTickMs) return;
  last_tick_ = now;
  publish();
  if (!have_traffic_) return;
  if (fresh_) {
    // Records arrived since the last tick: traffic time is current as of now.
    fresh_ = false;
    wall_at_traffic_ = now;
    return;
  }
  det_.advance(traffic_ + std::max<int64_t>(0, now - wall_at_traffic_));
}

void DdosWatch::finish() {
  det_.finish();
  publish();
}

void DdosWatch::publish() {
  std::lock_guard lk(pub_mu_);
  pub_errors_ = det_.errors();
  pub_entities_ = det_.entities();
}

void DdosWatch::samples(std::vector<metrics::Sample>& out) const {
  auto c = [](const std::atomic<uint64_t>& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); };
  out.push_back({"omamori_ddos_records_total", "Flow records given to the DDoS detector", true, {}, c(records_)});
  const char* sh = "DDoS attacks started";
  const char* eh = "DDoS attacks ended";
  out.push_back({"omamori_ddos_attacks_started_total", sh, true, {{"direction", "inbound"}}, c(started_in_)});
  out.push_back({"omamori_ddos_attacks_started_total", sh, true, {{"direction", "outbound"}}, c(started_out_)});
  out.push_back({"omamori_ddos_attacks_ended_total", eh, true, {{"direction", "inbound"}}, c(ended_in_)});
  out.push_back({"omamori_ddos_attacks_ended_total", eh, true, {{"direction", "outbound"}}, c(ended_out_)});
  out.push_back({"omamori_ddos_attacks_active",
                 "DDoS attacks in progress",
                 false,
                 {},
                 c(started_in_) + c(started_out_) - c(ended_in_) - c(ended_out_)});
  std::lock_guard lk(pub_mu_);
  out.push_back({"omamori_ddos_entities",
                 "Hosts, prefixes and subscribers tracked exactly",
                 false,
                 {},
                 static_cast<double>(pub_entities_)});
  metrics::add_reasons(out, "omamori_ddos_events_total", "DDoS detector counters by reason (evictions, limits)",
                       pub_errors_);
}

std::string event_json(const ddos::Attack& a, bool start, int64_t wall_ms, size_t top_sources) {
  nlohmann::ordered_json j;
  j["event"] = start ? "attack_start" : "attack_end";
  j["wall"] = format_rfc3339(wall_ms);
  j["target"] = a.target_str();
  j["direction"] = a.outbound ? "outbound" : "inbound";
  if (!a.group.empty()) j["group"] = a.group;
  j["vector"] = a.vector();
  j["trigger"] = a.trigger;
  j["start"] = format_rfc3339(a.start);
  j["detected"] = format_rfc3339(a.detected);
  if (!start) {
    j["end"] = format_rfc3339(a.end);
    j["packets"] = a.packets;
    j["bytes"] = a.bytes;
    j["flows"] = a.flows;
    j["peak_pps"] = a.peak_pps;
    j["peak_bps"] = a.peak_bps;
  }
  j["distinct_sources"] = a.distinct_sources();
  auto& top = j[a.outbound ? "top_destinations" : "top_sources"];
  top = nlohmann::ordered_json::array();
  for (const auto& [ip, s] : a.top_sources(top_sources)) {
    nlohmann::ordered_json o;
    o["address"] = ip.str();
    o["proto"] = s.proto;
    o["sport"] = s.sport;
    o["dport"] = s.dport;
    o["packets"] = s.packets;
    o["bytes"] = s.bytes;
    top.push_back(std::move(o));
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string event_text(const ddos::Attack& a, bool start, int64_t wall_ms) {
  if (start)
    return fmt::format("{} attack start  {} {} {} vector {} ({}), {} source(s); began {}, detected {}",
                       format_rfc3339(wall_ms), a.target_str(), a.outbound ? "outbound" : "inbound",
                       a.group.empty() ? "-" : a.group, a.vector(), a.trigger, a.distinct_sources(),
                       format_rfc3339(a.start), format_rfc3339(a.detected));
  return fmt::format(
      "{} attack end    {} {} vector {}: {} packets, {} bytes, peak {} packets/s {:.1f} Mbit/s, {} "
      "source(s); {} to {}",
      format_rfc3339(wall_ms), a.target_str(), a.outbound ? "outbound" : "inbound", a.vector(), a.packets, a.bytes,
      a.peak_pps, static_cast<double>(a.peak_bps) / 1e6, a.distinct_sources(), format_rfc3339(a.start),
      format_rfc3339(a.end));
}

std::string report_file_name(const ddos::Attack& a) {
  std::string t = format_rfc3339(a.start);  // 2026-12-04T13:22:09.123Z
  std::string stamp;
  for (char c : t)
    if (c != '-' && c != ':') stamp.push_back(c == '.' ? '_' : c);
  std::string target = a.target_str();
  std::replace(target.begin(), target.end(), ':', '_');
  std::replace(target.begin(), target.end(), '/', '_');
  return fmt::format("{}-{}-{}.json", stamp, target, a.outbound ? "outbound" : "inbound");
}

}  // namespace omamori::sensor
