// sFlow v5 decoding: flow samples and expanded flow samples (raw packet
// headers decoded to L4, sampled IPv4/IPv6 records, extended switch/router/
// gateway data), counter samples counted. Every malformed input is counted by
// reason and agent in errors().
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/counters.hpp"
#include "core/ip.hpp"
#include "core/time.hpp"
#include "flow/record.hpp"

namespace omamori {

struct SflowStats {
  uint64_t datagrams = 0;
  uint64_t flow_samples = 0;
  uint64_t counter_samples = 0;
  uint64_t records = 0;  // flow records emitted
};

class SflowDecoder {
 public:
  SflowDecoder();
  ~SflowDecoder();
  SflowDecoder(const SflowDecoder&) = delete;
  SflowDecoder& operator=(const SflowDecoder&) = delete;

  // Decodes one UDP payload from `sender`; the record's exporter is the
  // datagram's agent address. Each sampled packet becomes one flow record
  // (packets=1, bytes=frame length, sampling_rate from the sample).
  void decode(const IpAddr& sender, TimeMs received, std::span<const uint8_t> datagram, FlowSink& sink);

  const ReasonCounters& errors() const;
  const SflowStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace omamori
