#include "simulate/emit.hpp"

#include <algorithm>

namespace omamori::sim {

int64_t Emitter::dns(int64_t t, const IpAddr& client, const IpAddr& server, std::string_view qname, uint16_t qtype,
                     int rcode, const std::vector<IpAddr>& answers, int64_t rtt_us, uint32_t ttl,
                     std::string_view cname) {
  uint16_t id = static_cast<uint16_t>(r_.next());
  Ports p{ephemeral(), 53};
  auto q = dns::query(id, qname, qtype);
  cap_.add(t, udp_frame(Dir::Up, client, server, p, q));
  if (rcode < 0) return t;
  auto a = dns::response(id, qname, qtype, static_cast<uint8_t>(rcode), answers, ttl, cname);
  cap_.add(t + rtt_us, udp_frame(Dir::Down, server, client, {p.dst, p.src}, a, 60));
  return t + rtt_us;
}

int64_t Emitter::tcp_session(int64_t t, const IpAddr& client, const IpAddr& server, uint16_t port, int64_t rtt_us,
                             size_t request_bytes, size_t response_bytes, int requests, int64_t think_us) {
  TcpStream c(*this, client, server, port);
  t = c.open(t, rtt_us);
  for (int i = 0; i < requests; ++i) {
    c.up(t + 200, request_bytes);
    t += rtt_us;
    // The response in segments of at most 1448 bytes; the client acks every second one.
    size_t left = response_bytes;
    int seg = 0;
    while (left > 0) {
      size_t n = std::min<size_t>(left, 1448);
      left -= n;
      c.down(t, n, left ? tcp::ACK : tcp::PSH | tcp::ACK);
      t += 120 + static_cast<int64_t>(r_.below(400));
      if (++seg % 2 == 0 || left == 0) c.up(t + rtt_us / 8, 0, tcp::ACK);
    }
    t += think_us;
  }
  return c.close(t + 1000, rtt_us);
}

TcpStream::TcpStream(Emitter& e, const IpAddr& client, const IpAddr& server, uint16_t port)
    : e_(e),
      client_(client),
      server_(server),
      up_{e.ephemeral(), port},
      down_{port, up_.src},
      cs_(static_cast<uint32_t>(e.rng().next())),
      ss_(static_cast<uint32_t>(e.rng().next())),
      ttl_in_(static_cast<uint8_t>(e.rng().range(44, 58))) {}

int64_t TcpStream::open(int64_t t, int64_t rtt_us) {
  up(t, 0, tcp::SYN);
  down(t + rtt_us * 3 / 4, 0, tcp::SYN | tcp::ACK);
  up(t + rtt_us, 0, tcp::ACK);
  return t + rtt_us;
}

void TcpStream::up(int64_t t, size_t len, uint8_t flags) {
  e_.capture().add(t, tcp_frame(Dir::Up, client_, server_, up_, cs_, ss_, flags, {}, len), kSnap);
  cs_ += static_cast<uint32_t>(len) + ((flags & (tcp::SYN | tcp::FIN)) ? 1 : 0);
}

void TcpStream::down(int64_t t, size_t len, uint8_t flags) {
  e_.capture().add(t, tcp_frame(Dir::Down, server_, client_, down_, ss_, cs_, flags, {}, len, ttl_in_), kSnap);
  ss_ += static_cast<uint32_t>(len) + ((flags & (tcp::SYN | tcp::FIN)) ? 1 : 0);
}

int64_t TcpStream::close(int64_t t, int64_t rtt_us) {
  up(t, 0, tcp::FIN | tcp::ACK);
  down(t + rtt_us, 0, tcp::FIN | tcp::ACK);
  up(t + rtt_us + 100, 0, tcp::ACK);
  return t + rtt_us + 100;
}

void Emitter::syn_probe(int64_t t, const IpAddr& client, const IpAddr& target, uint16_t port, bool rst_reply,
                        int64_t rtt_us) {
  Ports p{ephemeral(), port};
  uint32_t seq = static_cast<uint32_t>(r_.next());
  cap_.add(t, tcp_frame(Dir::Up, client, target, p, seq, 0, tcp::SYN, {}, 0, 64, 14600));
  if (rst_reply)
    cap_.add(t + rtt_us, tcp_frame(Dir::Down, target, client, {p.dst, p.src}, 0, seq + 1, tcp::RST | tcp::ACK, {}, 0,
                                   static_cast<uint8_t>(r_.range(40, 60)), 0));
}

void Emitter::udp_exchange(int64_t t, const IpAddr& client, const IpAddr& server, uint16_t sport, uint16_t dport,
                           std::span<const uint8_t> request, std::span<const uint8_t> reply, int64_t rtt_us) {
  cap_.add(t, udp_frame(Dir::Up, client, server, {sport, dport}, request));
  if (!reply.empty()) cap_.add(t + rtt_us, udp_frame(Dir::Down, server, client, {dport, sport}, reply, 60));
}

void Emitter::udp_one(int64_t t, Dir dir, const IpAddr& src, const IpAddr& dst, Ports p, size_t payload_len,
                      size_t snap) {
  std::vector<uint8_t> payload(payload_len);
  for (size_t i = 0; i < payload_len; ++i) payload[i] = static_cast<uint8_t>(i * 37 + p.src);
  cap_.add(t, udp_frame(dir, src, dst, p, payload), snap);
}

}  // namespace omamori::sim
