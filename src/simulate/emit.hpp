// Conversations as frames on the border tap: DNS exchanges, TCP connections
// (handshake, request, response, close), unanswered SYNs, UDP datagrams.
// The subscriber side is the client (frames from it go up, answers down).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/ip.hpp"
#include "simulate/packets.hpp"
#include "simulate/rng.hpp"

namespace omamori::sim {

// Web payload frames are kept to this many bytes (a header capture);
// DNS, NTP and handshake frames are small and kept whole.
inline constexpr size_t kSnap = 96;

class Emitter {
 public:
  Emitter(Capture& cap, Rng& rng) : cap_(cap), r_(rng) {}

  // Query and (unless rcode < 0) response after `rtt_us`; returns the time of the response.
  int64_t dns(int64_t t, const IpAddr& client, const IpAddr& server, std::string_view qname, uint16_t qtype,
              int rcode, const std::vector<IpAddr>& answers, int64_t rtt_us, uint32_t ttl = 300,
              std::string_view cname = {});
  // A complete TCP connection: handshake, `requests` request/response rounds
  // of the given sizes, FIN exchange. Returns the time of the last frame.
  int64_t tcp_session(int64_t t, const IpAddr& client, const IpAddr& server, uint16_t port, int64_t rtt_us,
                      size_t request_bytes, size_t response_bytes, int requests = 1, int64_t think_us = 0);
  // A SYN that nobody answers (a scan probe), or that is answered with RST.
  void syn_probe(int64_t t, const IpAddr& client, const IpAddr& target, uint16_t port, bool rst_reply,
                 int64_t rtt_us);
  // A datagram and (when reply is non-empty) its answer.
  void udp_exchange(int64_t t, const IpAddr& client, const IpAddr& server, uint16_t sport, uint16_t dport,
                    std::span<const uint8_t> request, std::span<const uint8_t> reply, int64_t rtt_us);
  uint16_t ephemeral() { return static_cast<uint16_t>(r_.range(32768, 60999)); }
  // A datagram one way only (floods).
  void udp_one(int64_t t, Dir dir, const IpAddr& src, const IpAddr& dst, Ports p, size_t payload_len, size_t snap);
  Capture& capture() { return cap_; }
  Rng& rng() { return r_; }

 private:
  Capture& cap_;
  Rng& r_;
};

// One TCP connection whose segments are emitted one by one (long-lived
// C&C connections, telnet logins); sequence numbers are tracked.
class TcpStream {
 public:
  TcpStream(Emitter& e, const IpAddr& client, const IpAddr& server, uint16_t port);
  // Handshake starting at t; returns the time the client's ACK goes out.
  int64_t open(int64_t t, int64_t rtt_us);
  void up(int64_t t, size_t len, uint8_t flags = tcp::PSH | tcp::ACK);
  void down(int64_t t, size_t len, uint8_t flags = tcp::PSH | tcp::ACK);
  // FIN from the client, answered; returns the time of the last frame.
  int64_t close(int64_t t, int64_t rtt_us);

 private:
  Emitter& e_;
  IpAddr client_, server_;
  Ports up_, down_;
  uint32_t cs_, ss_;
  uint8_t ttl_in_;
};

}  // namespace omamori::sim
