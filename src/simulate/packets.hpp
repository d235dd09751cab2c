// Building the simulated border capture: Ethernet/IPv4/IPv6/TCP/UDP frames
// with correct checksums, DNS messages, and a classic pcap writer.
//
// Frames are collected with their capture time and written sorted by time
// (ties keep insertion order), so one capture can be assembled from many
// independent generators. Written as classic pcap (magic a1b2c3d4,
// microsecond timestamps, LINKTYPE_ETHERNET), little-endian on every host.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ip.hpp"

namespace omamori::sim {

namespace tcp {
inline constexpr uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;
}

// Which way a frame crosses the tap: from the subscribers towards the core
// (up) or back (down). Only the MAC addresses depend on it.
enum class Dir : uint8_t { Up, Down };

struct Frame {
  int64_t ts_us = 0;
  uint64_t order = 0;
  uint32_t orig_len = 0;  // length on the wire (>= data.size() when truncated)
  std::vector<uint8_t> data;
};

class Capture {
 public:
  // Adds a frame; `snap` > 0 truncates what is stored to that many bytes
  // (the wire length is kept).
  void add(int64_t ts_us, std::vector<uint8_t> frame, size_t snap = 0);
  // Adds a frame read from another capture, with its original wire length.
  void add_captured(int64_t ts_us, std::vector<uint8_t> frame, uint32_t orig_len);
  size_t size() const { return frames_.size(); }
  // Sorts by time and writes a classic pcap file.
  bool write(const std::string& path, std::string& err);

 private:
  std::vector<Frame> frames_;
  uint64_t next_order_ = 0;
};

struct Ports {
  uint16_t src = 0, dst = 0;
};

// An IPv4 or IPv6 (by the addresses' family) UDP datagram in an Ethernet frame.
std::vector<uint8_t> udp_frame(Dir dir, const IpAddr& src, const IpAddr& dst, Ports p,
                               std::span<const uint8_t> payload, uint8_t ttl = 64);
// A TCP segment; `payload_len` bytes of filler payload when no payload is given.
std::vector<uint8_t> tcp_frame(Dir dir, const IpAddr& src, const IpAddr& dst, Ports p, uint32_t seq, uint32_t ack,
                               uint8_t flags, std::span<const uint8_t> payload, size_t payload_len = 0,
                               uint8_t ttl = 64, uint16_t window = 64240);

// The Internet checksum (RFC 1071) of data, continuing from `sum`.
uint32_t checksum_add(uint32_t sum, std::span<const uint8_t> data);
uint16_t checksum_fold(uint32_t sum);

// DNS messages (RFC 1035), answers compressed against the question name.
namespace dns {
inline constexpr uint16_t A = 1, CNAME = 5, AAAA = 28;
std::vector<uint8_t> query(uint16_t id, std::string_view qname, uint16_t qtype);
// A response: NOERROR with the given addresses (may be empty: NODATA), or an
// error rcode (3 = NXDOMAIN) with no answers. A non-empty cname is put first
// in the answer and the addresses are given for it.
std::vector<uint8_t> response(uint16_t id, std::string_view qname, uint16_t qtype, uint8_t rcode,
                              const std::vector<IpAddr>& addrs, uint32_t ttl, std::string_view cname = {});
}  // namespace dns

// Rewrites addresses of a captured Ethernet frame in place (IPv4 only):
// `map` holds (from, to) pairs. The IPv4 header checksum and the TCP/UDP
// checksum are updated incrementally (RFC 1624), so truncated frames and
// fragments stay consistent; a whole datagram's TCP/UDP checksum is
// recomputed (captures taken on the sender carry offload placeholders).
// Returns how many addresses were changed, or -1 when the frame is not IPv4
// over Ethernet (left unchanged).
int rewrite_ipv4(std::vector<uint8_t>& frame, std::span<const std::pair<IpAddr, IpAddr>> map);
// Replaces the Ethernet addresses with the tap's for the given direction.
void set_macs(std::vector<uint8_t>& frame, Dir dir);

}  // namespace omamori::sim
