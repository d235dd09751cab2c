// Helpers shared by the NetFlow/IPFIX tests: UDP payloads out of pcaps,
// a collecting sink, and a builder for synthetic datagrams.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/bytes.hpp"
#include "flow/record.hpp"
#include "ingest/netflow/netflow.hpp"
#include "ingest/pcap/pcap_file.hpp"
#include "ingest/pcap/udp_stream.hpp"

namespace omamori::nftest {

struct Datagram {
  IpAddr src;
  TimeMs ts = 0;
  uint16_t dport = 0;
  std::vector<uint8_t> payload;
};

// Every UDP datagram of a capture (fragments reassembled). Fails the test
// when the file cannot be read.
inline std::vector<Datagram> read_datagrams(const std::string& path) {
  std::vector<Datagram> out;
  std::string err;
  auto f = PcapFile::open(path, err);
  EXPECT_TRUE(f) << err;
  if (!f) return out;
  UdpExtractor udp;
  CapturedPacket pkt;
  UdpDatagram d;
  while (f->next(pkt)) {
    if (!udp.extract(f->linktype(), pkt.data, pkt.caplen, pkt.ts, d)) continue;
    out.push_back({d.src, d.ts, d.dport, std::vector<uint8_t>(d.payload.begin(), d.payload.end())});
  }
  EXPECT_EQ(f->error(), "") << path;
  EXPECT_EQ(udp.errors().total(), 0u) << path;
  return out;
}

struct CollectSink : FlowSink {
  std::vector<FlowRecord> records;
  void on_flow(const FlowRecord& r) override { records.push_back(r); }
};

inline void feed(NetflowDecoder& dec, const std::vector<Datagram>& ds, FlowSink& sink) {
  for (const auto& d : ds) dec.decode(d.src, d.ts, d.payload, sink);
}

inline std::string shared_data() {
  return OMAMORI_SHARED_DATA;
}
inline std::string akvorado(const std::string& name) {
  return shared_data() + "/flows/akvorado/netflow/" + name;
}

// Error rows as "reason (source): n" lines, for assertion messages.
inline std::string dump_errors(const ReasonCounters& c) {
  std::string s;
  for (const auto& r : c.snapshot(true)) s += r.reason + " (" + r.source + "): " + std::to_string(r.count) + "\n";
  return s;
}

// Big-endian byte builder for synthetic datagrams.
struct Bytes {
  std::vector<uint8_t> b;
  Bytes& u8(uint64_t v) {
    b.push_back(uint8_t(v));
    return *this;
  }
  Bytes& u16(uint64_t v) { return u8(v >> 8).u8(v); }
  Bytes& u32(uint64_t v) { return u16(v >> 16).u16(v); }
  Bytes& u64(uint64_t v) { return u32(v >> 32).u32(v); }
  Bytes& raw(std::initializer_list<uint8_t> l) {
    b.insert(b.end(), l);
    return *this;
  }
  Bytes& append(const Bytes& o) {
    b.insert(b.end(), o.b.begin(), o.b.end());
    return *this;
  }
  Bytes& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
  size_t size() const { return b.size(); }
};

// A set: id, length (computed unless given), body.
inline Bytes set(uint16_t id, const Bytes& body, int length_override = -1) {
  Bytes s;
  s.u16(id).u16(length_override >= 0 ? uint64_t(length_override) : body.size() + 4).append(body);
  return s;
}

// IPFIX message around sets; length computed unless given.
inline Bytes ipfix(uint32_t export_secs, uint32_t domain, const std::vector<Bytes>& sets, int length_override = -1) {
  Bytes body;
  for (const auto& s : sets) body.append(s);
  Bytes m;
  m.u16(10)
      .u16(length_override >= 0 ? uint64_t(length_override) : body.size() + 16)
      .u32(export_secs)
      .u32(1)
      .u32(domain);
  return m.append(body);
}

// NetFlow v9 packet around sets.
inline Bytes v9(uint32_t uptime_ms, uint32_t unix_secs, uint32_t source_id, const std::vector<Bytes>& sets) {
  Bytes m;
  m.u16(9).u16(uint64_t(sets.size())).u32(uptime_ms).u32(unix_secs).u32(1).u32(source_id);
  for (const auto& s : sets) m.append(s);
  return m;
}

struct F {
  uint16_t id;
  uint16_t len;
  uint32_t pen = 0;
};
// A template record: id, count, fields (IPFIX enterprise bit when pen != 0).
inline Bytes tmpl(uint16_t id, const std::vector<F>& fields) {
  Bytes t;
  t.u16(id).u16(fields.size());
  for (const auto& f : fields) {
    t.u16(f.pen ? (f.id | 0x8000) : f.id).u16(f.len);
    if (f.pen) t.u32(f.pen);
  }
  return t;
}
// IPFIX options template record.
inline Bytes opt_tmpl(uint16_t id, uint16_t scope_count, const std::vector<F>& fields) {
  Bytes t;
  t.u16(id).u16(fields.size()).u16(scope_count);
  for (const auto& f : fields) {
    t.u16(f.pen ? (f.id | 0x8000) : f.id).u16(f.len);
    if (f.pen) t.u32(f.pen);
  }
  return t;
}

inline std::span<const uint8_t> span(const Bytes& b) {
  return {b.b.data(), b.b.size()};
}

}  // namespace omamori::nftest
