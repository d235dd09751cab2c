#include "detect/scan/scan.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "detect/table_bytes.hpp"

namespace omamori::scan {

uint32_t linear_count(const uint64_t* words, size_t nwords) {
  size_t bits = nwords * 64;
  size_t zeros = 0;
  for (size_t i = 0; i < nwords; ++i) zeros += 64 - static_cast<size_t>(__builtin_popcountll(words[i]));
  if (zeros == 0) zeros = 1;  // saturated: report the upper end of the range
  double est = -static_cast<double>(bits) * std::log(static_cast<double>(zeros) / static_cast<double>(bits));
  return static_cast<uint32_t>(est + 0.5);
}

namespace {
void set_bit(uint64_t* words, size_t nwords, const IpAddr& a) {
  uint64_t h = XXH3_64bits(a.bytes(), 16);
  size_t bit = h % (nwords * 64);
  words[bit / 64] |= uint64_t(1) << (bit % 64);
}
// Space-saving style counter of the most frequent ports in 4 slots.
void count_port(uint16_t* ports, uint16_t* hits, uint16_t port) {
  int free_slot = -1, min_slot = 0;
  for (int i = 0; i < 4; ++i) {
    if (hits[i] && ports[i] == port) {
      if (hits[i] < UINT16_MAX) ++hits[i];
      return;
    }
    if (!hits[i] && free_slot < 0) free_slot = i;
    if (hits[i] < hits[min_slot]) min_slot = i;
  }
  int slot = free_slot >= 0 ? free_slot : min_slot;
  ports[slot] = port;
  hits[slot] = static_cast<uint16_t>(hits[slot] + 1);
}
int32_t window_of(TimeMs t, TimeMs w) { return static_cast<int32_t>(t >= 0 ? t / w : (t - w + 1) / w); }
}  // namespace

Detector::Detector(Config cfg) : cfg_(std::move(cfg)) {
  for (uint16_t p : cfg_.iot_ports) iot_port_bits_[p / 64] |= uint64_t(1) << (p % 64);
  LpmTable<uint8_t>::Builder s, d;
  for (const auto& p : cfg_.subscribers) s.add(p, 1);
  for (const auto& p : cfg_.darknet) d.add(p, 1);
  subscribers_ = s.build();
  darknet_ = d.build();
}

void Detector::on_flow(const FlowRecord& r) {
  bool iot = r.proto == 6 && (iot_port_bits_[r.dport / 64] >> (r.dport % 64) & 1);
  bool dark = !cfg_.darknet.empty() && darknet_.lookup(r.dst);
  if (!iot && !dark) return;
  if (!cfg_.subscribers.empty() && !subscribers_.lookup(r.src)) return;
  auto it = hosts_.find(r.src);
  if (it == hosts_.end()) {
    // A host is tracked from its first unanswered IoT-port attempt (SYN without
    // ACK) or darknet flow on: answered connections alone (web on 80/8080, ...)
    // never make a scanner and keep no state (most hosts of an ISP).
    bool attempt = (r.tcp_flags & tcpflag::SYN) && !(r.tcp_flags & tcpflag::ACK);
    if (!dark && !attempt) return;
    if (hosts_.size() >= cfg_.max_hosts) evict(r.start);
    it = hosts_.try_emplace(r.src).first;
  }
  HostState& s = it->second;
  int32_t w = window_of(r.start, cfg_.window_ms);
  if (s.iot_flows + s.darknet_flows == 0) {
    s.window = w;
    s.first = r.start;
  } else if (w > s.window) {
    close_window(r.src, s);
    s = HostState{};
    s.window = w;
    s.first = r.start;
  }
  s.first = std::min(s.first, r.start);
  s.last = std::max(s.last, r.end);
  if (iot) {
    ++s.iot_flows;
    // SYN without ACK: the handshake never completed (nobody answered, or RST).
    if ((r.tcp_flags & tcpflag::SYN) && !(r.tcp_flags & tcpflag::ACK)) ++s.unanswered;
    set_bit(s.dst_bits.data(), s.dst_bits.size(), r.dst);
    count_port(s.ports, s.port_hits, r.dport);
  }
  if (dark) {
    ++s.darknet_flows;
    set_bit(s.dark_bits.data(), s.dark_bits.size(), r.dst);
  }
}

void Detector::close_window(const IpAddr& host, HostState& s) {
  uint32_t dsts = linear_count(s.dst_bits.data(), s.dst_bits.size());
  if (s.iot_flows > 0 && dsts >= cfg_.min_destinations &&
      static_cast<double>(s.unanswered) >= cfg_.min_unanswered * static_cast<double>(s.iot_flows)) {
    Hit& h = scanners_[host];
    if (h.windows == 0) h.first = s.first;
    h.first = std::min(h.first, s.first);
    h.last = std::max(h.last, s.last);
    h.flows += s.iot_flows;
    h.unanswered += s.unanswered;
    h.max_destinations = std::max(h.max_destinations, dsts);
    ++h.windows;
    for (int i = 0; i < 4; ++i)
      if (s.port_hits[i]) {
        for (int k = 0; k < s.port_hits[i] && k < 1000; ++k) count_port(h.ports, h.port_hits, s.ports[i]);
      }
  }
  uint32_t dark = linear_count(s.dark_bits.data(), s.dark_bits.size());
  if (s.darknet_flows > 0 && dark >= cfg_.min_darknet_destinations) {
    Hit& h = darknet_hits_[host];
    if (h.windows == 0) h.first = s.first;
    h.last = std::max(h.last, s.last);
    h.flows += s.darknet_flows;
    h.max_destinations = std::max(h.max_destinations, dark);
    ++h.windows;
  }
}

void Detector::evict(TimeMs now) {
  // Close and drop hosts whose window is over; if none, drop the stalest.
  int32_t w = window_of(now, cfg_.window_ms);
  size_t before = hosts_.size();
  for (auto it = hosts_.begin(); it != hosts_.end();) {
    if (it->second.window < w) {
      close_window(it->first, it->second);
      hosts_.erase(it++);
    } else {
      ++it;
    }
  }
  if (hosts_.size() == before) {
    auto stalest = std::min_element(hosts_.begin(), hosts_.end(),
                                    [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
    close_window(stalest->first, stalest->second);
    hosts_.erase(stalest);
    errors_.add("scan host table full: evicted an active host");
  }
}

size_t Detector::memory_bytes() const {
  return table_bytes(hosts_) + table_bytes(scanners_) + table_bytes(darknet_hits_);
}

void Detector::finish() {
  for (auto& [host, s] : hosts_) close_window(host, s);
  hosts_.clear();
}

void Detector::findings(FindingSink& sink) const {
  for (const auto& [host, h] : scanners_) {
    Finding f;
    f.type = std::string(finding_type::kScan);
    f.host = host;
    f.first = h.first;
    f.last = h.last;
    std::string ports;
    for (int i = 0; i < 4; ++i)
      if (h.port_hits[i]) ports += (ports.empty() ? "" : ",") + std::to_string(h.ports[i]);
    f.indicator = "tcp/" + ports;
    f.feed = "scan-detector";
    f.category = "scanner";
    f.family = h.ports[0] == 23 || h.ports[0] == 2323 ? "telnet-scan" : "iot-scan";
    f.events = h.flows;
    double unans = h.flows ? static_cast<double>(h.unanswered) / static_cast<double>(h.flows) : 0;
    f.confidence = static_cast<uint8_t>(std::min(95.0, 60.0 + 10.0 * std::log2(h.max_destinations / 64.0 + 1) + 20 * unans));
    f.explanation = fmt::format(
        "{} tried to connect to about {} different addresses on IoT ports ({}) within {} minutes, {:.0f}% "
        "never answered: the way Mirai-style malware looks for new victims",
        host.str(), h.max_destinations, ports, cfg_.window_ms / 60000, unans * 100);
    f.details = {{"distinct_destinations", std::to_string(h.max_destinations)},
                 {"unanswered", std::to_string(h.unanswered)},
                 {"windows", std::to_string(h.windows)},
                 {"ports", ports}};
    sink.on_finding(f);
  }
  for (const auto& [host, h] : darknet_hits_) {
    Finding f;
    f.type = std::string(finding_type::kDarknet);
    f.host = host;
    f.first = h.first;
    f.last = h.last;
    f.indicator = "darknet";
    f.feed = "scan-detector";
    f.category = "scanner";
    f.events = h.flows;
    f.confidence = 80;
    f.explanation = fmt::format(
        "{} sent traffic to about {} addresses in unused (darknet) space, where no legitimate service exists",
        host.str(), h.max_destinations);
    f.details = {{"distinct_destinations", std::to_string(h.max_destinations)}};
    sink.on_finding(f);
  }
}

static_assert(sizeof(Detector::HostState) <= 128, "per-host scan state must stay small");

}  // namespace omamori::scan
