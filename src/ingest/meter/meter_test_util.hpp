// Helpers shared by the meter tests: packet builders, a collecting sink, and
// running a process and reading its output.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/ip.hpp"
#include "flow/record.hpp"
#include "ingest/meter/meter.hpp"

namespace omamori::metertest {

struct Collect final : FlowSink {
  std::vector<FlowRecord> flows;
  void on_flow(const FlowRecord& r) override { flows.push_back(r); }
  uint64_t packets() const {
    uint64_t n = 0;
    for (const auto& f : flows) n += f.packets;
    return n;
  }
  uint64_t bytes() const {
    uint64_t n = 0;
    for (const auto& f : flows) n += f.bytes;
    return n;
  }
};

inline void put16(std::vector<uint8_t>& f, uint16_t v) {
  f.push_back(static_cast<uint8_t>(v >> 8));
  f.push_back(static_cast<uint8_t>(v));
}
inline void put32(std::vector<uint8_t>& f, uint32_t v) {
  put16(f, static_cast<uint16_t>(v >> 16));
  put16(f, static_cast<uint16_t>(v));
}

inline std::vector<uint8_t> tcp_hdr(uint16_t sp, uint16_t dp, uint8_t flags, size_t payload = 0) {
  std::vector<uint8_t> h;
  put16(h, sp);
  put16(h, dp);
  put32(h, 1);
  put32(h, 0);
  h.push_back(0x50);
  h.push_back(flags);
  put16(h, 1000);
  put32(h, 0);
  h.resize(h.size() + payload, 'x');
  return h;
}
inline std::vector<uint8_t> udp_hdr(uint16_t sp, uint16_t dp, size_t payload = 0) {
  std::vector<uint8_t> h;
  put16(h, sp);
  put16(h, dp);
  put16(h, static_cast<uint16_t>(8 + payload));
  put16(h, 0);
  h.resize(h.size() + payload, 'u');
  return h;
}
inline std::vector<uint8_t> icmp_hdr(uint8_t type, uint8_t code, size_t payload = 0) {
  std::vector<uint8_t> h(8 + payload, 'i');
  h[0] = type;
  h[1] = code;
  std::fill(h.begin() + 2, h.begin() + 8, 0);
  return h;
}

// IPv4 packet around `l4` (which may be a slice of a larger datagram when fragmenting).
inline std::vector<uint8_t> ipv4(const char* src, const char* dst, uint8_t proto, const std::vector<uint8_t>& l4,
                                 uint16_t id = 1, uint16_t frag_off_bytes = 0, bool mf = false) {
  std::vector<uint8_t> p;
  p.push_back(0x45);
  p.push_back(0);
  put16(p, static_cast<uint16_t>(20 + l4.size()));
  put16(p, id);
  put16(p, static_cast<uint16_t>((frag_off_bytes / 8) | (mf ? 0x2000 : 0)));
  p.push_back(64);
  p.push_back(proto);
  put16(p, 0);
  auto s = IpAddr::parse(src), d = IpAddr::parse(dst);
  p.insert(p.end(), s->bytes() + 12, s->bytes() + 16);
  p.insert(p.end(), d->bytes() + 12, d->bytes() + 16);
  p.insert(p.end(), l4.begin(), l4.end());
  return p;
}

// IPv6 packet; `ext` is a chain of extension headers already encoded (next header
// values must lead to `proto`), `first_nh` the next-header value of the fixed header.
inline std::vector<uint8_t> ipv6(const char* src, const char* dst, uint8_t first_nh, const std::vector<uint8_t>& rest) {
  std::vector<uint8_t> p;
  put32(p, 0x60000000);
  put16(p, static_cast<uint16_t>(rest.size()));
  p.push_back(first_nh);
  p.push_back(64);
  auto s = IpAddr::parse(src), d = IpAddr::parse(dst);
  p.insert(p.end(), s->bytes(), s->bytes() + 16);
  p.insert(p.end(), d->bytes(), d->bytes() + 16);
  p.insert(p.end(), rest.begin(), rest.end());
  return p;
}

inline std::vector<uint8_t> ether(const std::vector<uint8_t>& ip, uint16_t type = 0) {
  std::vector<uint8_t> f = {0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
  if (type == 0) type = (!ip.empty() && (ip[0] >> 4) == 6) ? 0x86DD : 0x0800;
  put16(f, type);
  f.insert(f.end(), ip.begin(), ip.end());
  return f;
}

inline std::vector<uint8_t> cat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
inline std::vector<uint8_t> slice(const std::vector<uint8_t>& v, size_t from, size_t to) {
  return std::vector<uint8_t>(v.begin() + static_cast<long>(from),
                              v.begin() + static_cast<long>(std::min(to, v.size())));
}

// Runs a shell command, returns its standard output; exit status in *status.
inline std::string run(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (status) *status = rc;
  return out;
}

inline bool have_program(const std::string& name) {
  int st = 0;
  run("command -v " + name + " >/dev/null 2>&1", &st);
  return st == 0;
}

}  // namespace omamori::metertest
