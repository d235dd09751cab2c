// sFlow v5 decoder (sFlow version 5 specification, sflow.org, July 2004).
//
// The datagram is XDR: big-endian 32-bit words, opaque data padded to a
// multiple of 4 bytes. Every sample and every flow record carries its own
// length, so unknown formats are skipped and a malformed sample never makes
// the decoder lose its place in the datagram. Reading goes through
// ByteReader, so nothing is ever read past the datagram.
#include "ingest/sflow/sflow.hpp"

#include <algorithm>
#include <cstring>

#include "core/bytes.hpp"
#include "packet/decode.hpp"

namespace omamori {

namespace {

constexpr uint32_t kLocalIf = 0x3fffffff;  // ifIndex value: packet from/to the device itself
constexpr uint32_t kIfFormatIndex = 0, kIfFormatDiscard = 1, kIfFormatMultiple = 2;

// Sample formats (enterprise 0).
constexpr uint32_t kFlowSample = 1, kCounterSample = 2, kExpandedFlowSample = 3, kExpandedCounterSample = 4;
// Flow record formats (enterprise 0).
constexpr uint32_t kRawHeader = 1, kSampledIpv4 = 3, kSampledIpv6 = 4, kExtSwitch = 1001, kExtRouter = 1002,
                   kExtGateway = 1003;
// Header protocols of the raw packet header record.
constexpr uint32_t kHdrEthernet = 1, kHdrIpv4 = 11, kHdrIpv6 = 12, kHdrMpls = 13;

constexpr size_t pad4(size_t n) {
  return (n + 3) & ~size_t{3};
}

enum class AddrStatus { ok, bad_type, truncated };

// XDR `address`: a type word (0 unknown, 1 IPv4, 2 IPv6) then the address.
AddrStatus read_address(ByteReader& r, IpAddr& out) {
  uint32_t type = r.u32();
  if (r.failed()) return AddrStatus::truncated;
  const uint8_t* p;
  switch (type) {
    case 0:
      out = IpAddr{};
      return AddrStatus::ok;
    case 1:
      if (!(p = r.bytes(4))) return AddrStatus::truncated;
      out = IpAddr::v4_bytes(p);
      return AddrStatus::ok;
    case 2:
      if (!(p = r.bytes(16))) return AddrStatus::truncated;
      out = IpAddr::v6_bytes(p);
      return AddrStatus::ok;
    default:
      return AddrStatus::bad_type;
  }
}

// What one flow sample's records told us; filled record by record, no allocation.
struct SampleData {
  // First raw packet header record.
  const uint8_t* header = nullptr;
  uint32_t header_len = 0;
  uint32_t header_proto = 0;
  uint32_t frame_len = 0;
  bool has_header = false;
  // First sampled IPv4 / IPv6 record.
  bool has_ip = false;
  uint8_t ip_version = 0;
  uint8_t ip_proto = 0;
  uint8_t ip_tcp_flags = 0;
  uint16_t ip_sport = 0;
  uint16_t ip_dport = 0;
  uint32_t ip_length = 0;
  IpAddr ip_src;
  IpAddr ip_dst;
  // Extended gateway.
  bool has_gateway = false;
  bool record_error = false;  // some record was malformed (and counted)
  uint32_t src_as = 0;
  uint32_t dst_as = 0;
};

// Decoder failures are static strings; report them under sFlow-specific
// reasons so that a merged error summary says where the packet came from.
const char* header_reason(const char* err) {
  static constexpr std::pair<const char*, const char*> kMap[] = {
      {"truncated ethernet header", "sflow: sampled header: truncated ethernet header"},
      {"truncated vlan tag", "sflow: sampled header: truncated vlan tag"},
      {"truncated mpls label stack", "sflow: sampled header: truncated mpls label stack"},
      {"truncated after mpls", "sflow: sampled header: truncated after mpls"},
      {"truncated ip header", "sflow: sampled header: truncated ip header"},
      {"bad ip version", "sflow: sampled header: bad ip version"},
      {"truncated ipv4 header", "sflow: sampled header: truncated ipv4 header"},
      {"bad ipv4 header length", "sflow: sampled header: bad ipv4 header length"},
      {"truncated ipv4 options", "sflow: sampled header: truncated ipv4 options"},
      {"bad ipv4 total length", "sflow: sampled header: bad ipv4 total length"},
      {"truncated ipv6 header", "sflow: sampled header: truncated ipv6 header"},
      {"truncated ipv6 extension header", "sflow: sampled header: truncated ipv6 extension header"},
      {"truncated ipv6 fragment header", "sflow: sampled header: truncated ipv6 fragment header"},
  };
  for (const auto& [from, to] : kMap)
    if (std::strcmp(err, from) == 0) return to;
  return "sflow: sampled header: undecodable";
}

// Packets that are simply not IP (ARP, LLDP, MPLS pseudowires carrying
// Ethernet...): legitimate traffic, not malformed input.
bool is_non_ip(const char* err) {
  return std::strcmp(err, "not ip") == 0 || std::strcmp(err, "mpls payload is not ip") == 0;
}

const char* decode_mpls_header(const uint8_t* p, size_t n, PacketInfo& pi) {
  size_t off = 0;
  for (int labels = 0;; ++labels) {
    if (labels >= 16 || n < off + 4) return "truncated mpls label stack";
    uint32_t lse = load_be32(p + off);
    off += 4;
    ++pi.mpls_labels;
    if (lse & 0x100) break;  // bottom of stack
  }
  if (n <= off) return "truncated after mpls";
  uint8_t v = p[off] >> 4;
  if (v != 4 && v != 6) return "mpls payload is not ip";
  return decode_ip(p + off, n - off, pi);
}

}  // namespace

struct SflowDecoder::Impl {
  ReasonCounters errors;
  SflowStats stats;

  void decode(const IpAddr& sender, TimeMs received, std::span<const uint8_t> d, FlowSink& sink);
  void flow_sample(ByteReader s, bool expanded, const IpAddr& agent, TimeMs received, FlowSink& sink);
  void sampled_header(ByteReader r, SampleData& sd, const IpAddr& agent);
  void sampled_ip(ByteReader r, bool v6, SampleData& sd, const IpAddr& agent);
  void extended_router(ByteReader r, SampleData& sd, const IpAddr& agent);
  void extended_gateway(ByteReader r, SampleData& sd, const IpAddr& agent);
  uint32_t interface(uint32_t format, uint32_t value, bool output);
};

void SflowDecoder::Impl::decode(const IpAddr& sender, TimeMs received, std::span<const uint8_t> d, FlowSink& sink) {
  ++stats.datagrams;
  ByteReader r(d);
  uint32_t version = r.u32();
  if (r.failed()) {
    errors.add(sender, "sflow: truncated datagram header");
    return;
  }
  if (version != 5) {
    errors.add(sender, "sflow: unsupported version");
    return;
  }
  IpAddr agent;
  switch (read_address(r, agent)) {
    case AddrStatus::ok:
      break;
    case AddrStatus::bad_type:
      errors.add(sender, "sflow: bad agent address type");
      return;
    case AddrStatus::truncated:
      errors.add(sender, "sflow: truncated datagram header");
      return;
  }
  // An agent may say "address unknown" (type 0); the sender then names it.
  const IpAddr& source = agent.empty() ? sender : agent;
  r.u32();  // sub-agent id
  r.u32();  // datagram sequence number
  r.u32();  // uptime
  uint32_t nsamples = r.u32();
  if (r.failed()) {
    errors.add(source, "sflow: truncated datagram header");
    return;
  }
  if (nsamples > kMaxSamples) {
    errors.add(source, "sflow: too many samples");
    return;
  }
  for (uint32_t i = 0; i < nsamples; ++i) {
    uint32_t format = r.u32();
    uint32_t len = r.u32();
    if (r.failed()) {
      errors.add(source, "sflow: fewer samples than announced");
      return;
    }
    if (len > r.remaining()) {
      errors.add(source, "sflow: sample length past datagram end");
      return;
    }
    ByteReader s(r.cur(), len);
    r.skip(std::min(pad4(len), r.remaining()));
    if (format >> 12 != 0) {  // enterprise-specific sample
      ++stats.other_samples;
      continue;
    }
    switch (format & 0xfff) {
      case kFlowSample:
        flow_sample(s, false, source, received, sink);
        break;
      case kExpandedFlowSample:
        flow_sample(s, true, source, received, sink);
        break;
      case kCounterSample:
      case kExpandedCounterSample:
        ++stats.counter_samples;
        break;
      default:  // e.g. 5: discarded-packet notifications (sFlow drops extension)
        ++stats.other_samples;
        break;
    }
  }
  stats.trailing_bytes += r.remaining();
}

// Maps an sFlow interface (format, value) to an ifIndex for the flow record;
// 0 when there is none (local, discarded, several interfaces).
uint32_t SflowDecoder::Impl::interface(uint32_t format, uint32_t value, bool output) {
  switch (format) {
    case kIfFormatIndex:
      if (value == kLocalIf) {
        ++stats.local_interfaces;
        return 0;
      }
      return value;
    case kIfFormatDiscard:
      if (output) ++stats.discarded_packets;
      return 0;
    case kIfFormatMultiple:
      if (output) ++stats.multiple_outputs;
      return 0;
    default:
      return 0;
  }
}

void SflowDecoder::Impl::flow_sample(ByteReader s, bool expanded, const IpAddr& agent, TimeMs received,
                                     FlowSink& sink) {
  ++stats.flow_samples;
  if (expanded) ++stats.expanded_flow_samples;
  s.u32();                // sequence number
  s.u32();                // source id (type << 24 | index), or source id type when expanded
  if (expanded) s.u32();  // source id index
  uint32_t rate = s.u32();
  s.u32();  // sample pool
  s.u32();  // drops
  uint32_t in_fmt, in_val, out_fmt, out_val;
  if (expanded) {
    in_fmt = s.u32();
    in_val = s.u32();
    out_fmt = s.u32();
    out_val = s.u32();
  } else {
    uint32_t in = s.u32(), out = s.u32();
    in_fmt = in >> 30;
    in_val = in & 0x3fffffff;
    out_fmt = out >> 30;
    out_val = out & 0x3fffffff;
  }
  uint32_t nrecords = s.u32();
  if (s.failed()) {
    errors.add(agent, "sflow: truncated flow sample");
    return;
  }
  if (nrecords > kMaxRecords) {
    errors.add(agent, "sflow: too many flow records");
    return;
  }
  SampleData sd;
  for (uint32_t i = 0; i < nrecords; ++i) {
    uint32_t format = s.u32();
    uint32_t len = s.u32();
    if (s.failed()) {
      errors.add(agent, "sflow: fewer flow records than announced");
      return;
    }
    if (len > s.remaining()) {
      errors.add(agent, "sflow: flow record length past sample end");
      return;
    }
    ByteReader rec(s.cur(), len);
    s.skip(std::min(pad4(len), s.remaining()));
    if (format >> 12 != 0) {  // enterprise-specific record
      ++stats.unknown_flow_records;
      continue;
    }
    switch (format & 0xfff) {
      case kRawHeader:
        sampled_header(rec, sd, agent);
        break;
      case kSampledIpv4:
        sampled_ip(rec, false, sd, agent);
        break;
      case kSampledIpv6:
        sampled_ip(rec, true, sd, agent);
        break;
      case kExtSwitch:  // VLANs and priorities: nothing in the flow record takes them
        if (len < 16) {
          errors.add(agent, "sflow: truncated extended switch");
          sd.record_error = true;
        }
        break;
      case kExtRouter:
        extended_router(rec, sd, agent);
        break;
      case kExtGateway:
        extended_gateway(rec, sd, agent);
        break;
      default:
        ++stats.unknown_flow_records;
        break;
    }
  }

  FlowRecord fr;
  fr.start = fr.end = received;
  fr.exporter = agent;
  fr.packets = 1;
  if (rate == 0) {
    errors.add(agent, "sflow: zero sampling rate");
    rate = 1;
  }
  fr.sampling_rate = rate;
  fr.in_if = interface(in_fmt, in_val, false);
  fr.out_if = interface(out_fmt, out_val, true);
  if (sd.has_gateway) {
    fr.src_as = sd.src_as;
    fr.dst_as = sd.dst_as;
  }

  bool have = false, header_error = false;
  if (sd.has_header) {
    PacketInfo pi;
    const char* err;
    switch (sd.header_proto) {
      case kHdrEthernet:
        err = decode_ethernet(sd.header, sd.header_len, pi);
        break;
      case kHdrIpv4:
      case kHdrIpv6:
        err = decode_ip(sd.header, sd.header_len, pi);
        break;
      case kHdrMpls:
        err = decode_mpls_header(sd.header, sd.header_len, pi);
        break;
      default:  // token ring, FDDI, PPP, 802.11...: not decoded here
        err = "not ip";
        break;
    }
    if (!err) {
      have = true;
      fr.src = pi.src;
      fr.dst = pi.dst;
      fr.proto = pi.proto;
      fr.ip_version = pi.ip_version;
      fr.tcp_flags = pi.tcp_flags;
      if (pi.has_ports) {
        fr.sport = pi.sport;
        fr.dport = pi.dport;
      }
      fr.bytes = sd.frame_len ? sd.frame_len : pi.ip_len;
      if (pi.tunnels) ++stats.decapsulated;
    } else if (!is_non_ip(err)) {
      header_error = true;
      errors.add(agent, header_reason(err));
    }
  }
  if (!have && sd.has_ip) {
    have = true;
    ++stats.from_ip_records;
    fr.src = sd.ip_src;
    fr.dst = sd.ip_dst;
    fr.proto = sd.ip_proto;
    fr.ip_version = sd.ip_version;
    fr.tcp_flags = sd.ip_tcp_flags;
    fr.sport = sd.ip_sport;
    fr.dport = sd.ip_dport;
    fr.bytes = sd.ip_length;
  }
  if (!have) {
    if (!header_error && !sd.record_error) ++stats.non_ip_samples;
    return;
  }
  ++stats.records;
  sink.on_flow(fr);
}

void SflowDecoder::Impl::sampled_header(ByteReader r, SampleData& sd, const IpAddr& agent) {
  uint32_t proto = r.u32();
  uint32_t frame_len = r.u32();
  r.u32();  // stripped
  uint32_t header_len = r.u32();
  if (r.failed()) {
    errors.add(agent, "sflow: truncated raw packet header record");
    sd.record_error = true;
    return;
  }
  if (header_len > r.remaining()) {
    errors.add(agent, "sflow: sampled header length past record end");
    sd.record_error = true;
    return;
  }
  if (sd.has_header) return;  // only the first one describes the sampled packet
  sd.has_header = true;
  sd.header = r.cur();
  sd.header_len = header_len;
  sd.header_proto = proto;
  sd.frame_len = frame_len;
}

void SflowDecoder::Impl::sampled_ip(ByteReader r, bool v6, SampleData& sd, const IpAddr& agent) {
  uint32_t length = r.u32();
  uint32_t proto = r.u32();
  const uint8_t* src = r.bytes(v6 ? 16 : 4);
  const uint8_t* dst = r.bytes(v6 ? 16 : 4);
  uint32_t sport = r.u32(), dport = r.u32(), flags = r.u32();
  r.u32();  // tos / priority
  if (r.failed()) {
    errors.add(agent, v6 ? "sflow: truncated sampled ipv6 record" : "sflow: truncated sampled ipv4 record");
    sd.record_error = true;
    return;
  }
  if (sd.has_ip) return;
  sd.has_ip = true;
  sd.ip_version = v6 ? 6 : 4;
  sd.ip_length = length;
  sd.ip_proto = static_cast<uint8_t>(proto);
  sd.ip_src = v6 ? IpAddr::v6_bytes(src) : IpAddr::v4_bytes(src);
  sd.ip_dst = v6 ? IpAddr::v6_bytes(dst) : IpAddr::v4_bytes(dst);
  sd.ip_sport = static_cast<uint16_t>(sport);
  sd.ip_dport = static_cast<uint16_t>(dport);
  sd.ip_tcp_flags = static_cast<uint8_t>(flags);
}

void SflowDecoder::Impl::extended_router(ByteReader r, SampleData& sd, const IpAddr& agent) {
  IpAddr next_hop;
  AddrStatus st = read_address(r, next_hop);
  r.u32();  // source mask length
  r.u32();  // destination mask length
  if (st == AddrStatus::bad_type) {
    errors.add(agent, "sflow: bad next hop address type");
    sd.record_error = true;
  } else if (r.failed()) {
    errors.add(agent, "sflow: truncated extended router");
    sd.record_error = true;
  }
}

void SflowDecoder::Impl::extended_gateway(ByteReader r, SampleData& sd, const IpAddr& agent) {
  IpAddr next_hop;
  AddrStatus st = read_address(r, next_hop);
  if (st == AddrStatus::bad_type) {
    errors.add(agent, "sflow: bad next hop address type");
    sd.record_error = true;
    return;
  }
  uint32_t router_as = r.u32();
  uint32_t src_as = r.u32();
  r.u32();  // source peer AS
  uint32_t segments = r.u32();
  if (r.failed()) {
    errors.add(agent, "sflow: truncated extended gateway");
    sd.record_error = true;
    return;
  }
  if (segments > r.remaining() / 8) {
    errors.add(agent, "sflow: as path longer than its record");
    sd.record_error = true;
    return;
  }
  uint32_t last_as = 0;
  for (uint32_t i = 0; i < segments; ++i) {
    r.u32();  // segment type: 1 AS_SET, 2 AS_SEQUENCE
    uint32_t n = r.u32();
    if (r.failed() || n > r.remaining() / 4) {
      errors.add(agent, "sflow: as path longer than its record");
      sd.record_error = true;
      return;
    }
    if (n > 0) {
      r.skip((n - 1) * size_t{4});
      last_as = r.u32();
    }
  }
  uint32_t communities = r.u32();
  if (r.failed() || communities > r.remaining() / 4) {
    errors.add(agent, "sflow: truncated extended gateway");
    sd.record_error = true;
    return;
  }
  r.skip(communities * size_t{4});
  r.u32();  // local preference
  if (r.failed()) {
    errors.add(agent, "sflow: truncated extended gateway");
    sd.record_error = true;
    return;
  }
  // Like the router's BGP view: a source AS of 0 or an empty path means the
  // traffic comes from / goes to the router's own AS.
  sd.has_gateway = true;
  sd.src_as = src_as ? src_as : router_as;
  sd.dst_as = last_as ? last_as : router_as;
}

SflowDecoder::SflowDecoder() : impl_(std::make_unique<Impl>()) {}
SflowDecoder::~SflowDecoder() = default;

void SflowDecoder::decode(const IpAddr& sender, TimeMs received, std::span<const uint8_t> datagram, FlowSink& sink) {
  impl_->decode(sender, received, datagram, sink);
}

const ReasonCounters& SflowDecoder::errors() const {
  return impl_->errors;
}
const SflowStats& SflowDecoder::stats() const {
  return impl_->stats;
}

}  // namespace omamori
