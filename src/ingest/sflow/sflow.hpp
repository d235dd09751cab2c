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
  uint64_t flow_samples = 0;           // flow samples seen (compact + expanded)
  uint64_t counter_samples = 0;        // counter samples seen (compact + expanded), counted only
  uint64_t records = 0;                // flow records emitted
  uint64_t expanded_flow_samples = 0;  // of flow_samples, how many were expanded (format 3)
  uint64_t other_samples = 0;          // samples of other formats/enterprises (e.g. drop notifications), skipped
  uint64_t unknown_flow_records = 0;   // flow records of formats not used here, skipped by length
  uint64_t non_ip_samples = 0;         // flow samples of non-IP packets (ARP, LLDP...) or without any IP data
  uint64_t decapsulated = 0;           // raw headers whose inner (tunnelled) packet was reported
  uint64_t from_ip_records = 0;        // records built from sampled IPv4/IPv6 (no usable raw header)
  uint64_t discarded_packets = 0;      // samples of packets the agent dropped (output format 1)
  uint64_t multiple_outputs = 0;       // samples sent to several interfaces (output format 2)
  uint64_t local_interfaces = 0;       // samples from/to the device itself (ifIndex 0x3fffffff)
  uint64_t trailing_bytes = 0;         // bytes after the last announced sample of a datagram, ignored
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

  // Sanity limits: a datagram announcing more samples, or a sample more
  // records, is counted as malformed and not decoded.
  static constexpr uint32_t kMaxSamples = 1024;
  static constexpr uint32_t kMaxRecords = 256;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace omamori
