#include "ingest/dns/pcap_dns.hpp"

#include <algorithm>
#include <cstring>

#include "core/bytes.hpp"
#include "packet/decode.hpp"

namespace omamori {

namespace {
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04;
}

DnsPacketDecoder::DnsPacketDecoder(DnsPcapOptions opt) : opt_(std::move(opt)) {
  for (uint16_t p : opt_.ports) port_map_[p] = true;
}

bool DnsPacketDecoder::is_dns_port(uint16_t p) const {
  return port_map_[p];
}

void DnsPacketDecoder::message(const uint8_t* m, size_t n, const IpAddr& src, const IpAddr& dst, uint16_t sport,
                               uint16_t dport, TimeMs ts, DnsTransport tr, DnsSink& sink) {
  ev_.clear();
  DnsParse r = parse_dns_message(m, n, ev_, errors_, &wire_, &src);
  if (r == DnsParse::Failed) return;
  bool s = is_dns_port(sport), d = is_dns_port(dport);
  // The client is the side that is not the DNS server port; when both or neither
  // side is, the QR bit says who asked.
  bool src_is_client = (d && !s) ? true : (s && !d) ? false : !ev_.is_response();
  if (src_is_client) {
    ev_.client = src;
    ev_.client_port = sport;
    ev_.resolver = dst;
    ev_.resolver_port = dport;
  } else {
    ev_.client = dst;
    ev_.client_port = dport;
    ev_.resolver = src;
    ev_.resolver_port = sport;
  }
  ev_.time = ts;
  ev_.transport = tr;
  ev_.source = DnsSource::Pcap;
  ++stats_.events;
  sink.on_dns(ev_);
}

void DnsPacketDecoder::packet(int link, const uint8_t* p, size_t caplen, TimeMs ts, DnsSink& sink) {
  ++stats_.packets;
  PacketInfo info;
  DecodeOptions dopt;
  dopt.decapsulate = opt_.decapsulate;
  if (const char* err = decode_packet(link, p, caplen, info, dopt)) {
    packet_errors_.add(err);
    return;
  }
  if (info.proto != 17 && info.proto != 6) return;
  expire(ts);
  if (info.fragment) {
    ++stats_.fragments;
    auto whole = defrag_.add(info, ts, packet_errors_);
    if (whole.empty()) return;
    if (info.proto == 17)
      udp(whole.data(), whole.size(), whole.size(), info.src, info.dst, ts, sink);
    else
      tcp(whole.data(), whole.size(), whole.size(), info.src, info.dst, ts, sink);
    return;
  }
  size_t l4len = info.ip_payload_caplen;
  // The IP payload is the L4 header; its length on the wire comes from the IP header.
  size_t wire_len =
      info.l4_payload ? static_cast<size_t>(info.l4_payload - info.ip_payload) + info.l4_payload_len : l4len;
  if (info.proto == 17)
    udp(info.ip_payload, l4len, wire_len, info.src, info.dst, ts, sink);
  else
    tcp(info.ip_payload, l4len, wire_len, info.src, info.dst, ts, sink);
}

void DnsPacketDecoder::udp(const uint8_t* l4, size_t caplen, size_t len, const IpAddr& src, const IpAddr& dst,
                           TimeMs ts, DnsSink& sink) {
  if (caplen < 8) {
    packet_errors_.add("truncated udp header");
    return;
  }
  uint16_t sport = load_be16(l4), dport = load_be16(l4 + 2);
  if (!is_dns_port(sport) && !is_dns_port(dport)) return;
  ++stats_.dns_packets;
  uint16_t ulen = load_be16(l4 + 4);
  size_t want = ulen >= 8 ? ulen - 8u : (len > 8 ? len - 8 : 0);
  size_t have = caplen - 8;
  if (have < want) errors_.add(src, "udp payload truncated by capture length");
  size_t n = std::min(have, want);
  ++stats_.udp_messages;
  message(l4 + 8, n, src, dst, sport, dport, ts, DnsTransport::Udp, sink);
}

void DnsPacketDecoder::tcp(const uint8_t* l4, size_t caplen, size_t len, const IpAddr& src, const IpAddr& dst,
                           TimeMs ts, DnsSink& sink) {
  if (caplen < 20) {
    packet_errors_.add("truncated tcp header");
    return;
  }
  uint16_t sport = load_be16(l4), dport = load_be16(l4 + 2);
  if (!is_dns_port(sport) && !is_dns_port(dport)) return;
  ++stats_.dns_packets;
  uint32_t seq = load_be32(l4 + 4);
  size_t doff = static_cast<size_t>(l4[12] >> 4) * 4;
  uint8_t flags = l4[13];
  if (doff < 20 || doff > caplen) {
    errors_.add(src, "bad tcp header length");
    return;
  }
  TcpKey k{src, dst, sport, dport};
  size_t plen = len > doff ? len - doff : 0;
  size_t have = caplen - doff;

  if (flags & kSyn) {
    if (tcp_.size() >= opt_.max_tcp_streams && !tcp_.contains(k)) {
      sweep(ts);
      if (tcp_.size() >= opt_.max_tcp_streams) {
        errors_.add(src, "tcp stream table full");
        return;
      }
    }
    TcpDir& d = tcp_[k];
    if (d.buf.size() > d.start) errors_.add(src, "tcp stream restarted inside a message");
    d = TcpDir{};
    d.next_seq = seq + 1;
    d.last = ts;
    seq += 1;
    if (plen > 0) {
      if (have < plen) {
        errors_.add(src, "tcp segment truncated by capture length");
        d.broken = true;
      } else {
        tcp_data(d, k, seq, l4 + doff, plen, ts, sink);
      }
    }
  } else if (plen > 0) {
    ++stats_.tcp_segments;
    auto it = tcp_.find(k);
    if (it == tcp_.end()) {
      if (tcp_.size() >= opt_.max_tcp_streams) {
        sweep(ts);
        if (tcp_.size() >= opt_.max_tcp_streams) {
          errors_.add(src, "tcp stream table full");
          return;
        }
      }
      // Joined mid-stream: assume a message starts here (the usual case for
      // captures started between exchanges); a wrong guess shows as bad messages.
      ++stats_.tcp_midstream;
      it = tcp_.try_emplace(k).first;
      it->second.next_seq = seq;
    }
    TcpDir& d = it->second;
    d.last = ts;
    if (have < plen) {
      if (!d.broken) errors_.add(src, "tcp segment truncated by capture length");
      d.broken = true;
    } else {
      tcp_data(d, k, seq, l4 + doff, plen, ts, sink);
    }
  }
  if (flags & (kFin | kRst)) {
    auto it = tcp_.find(k);
    if (it != tcp_.end()) {
      // A FIN's own data was handled above; anything left is an unfinished message.
      TcpDir& d = it->second;
      if (!d.broken && (d.buf.size() > d.start || !d.held.empty()))
        errors_.add(src, "tcp stream ended inside a message");
      tcp_.erase(it);
    }
  }
}

void DnsPacketDecoder::tcp_data(TcpDir& d, const TcpKey& k, uint32_t seq, const uint8_t* p, size_t n, TimeMs ts,
                                DnsSink& sink) {
  if (d.broken) return;
  int32_t diff = static_cast<int32_t>(seq - d.next_seq);
  if (diff > 0) {
    // A gap: hold the segment until the missing bytes arrive.
    ++stats_.tcp_out_of_order;
    if (d.held.size() >= opt_.max_out_of_order || d.held_bytes + n > opt_.max_out_of_order_bytes) {
      errors_.add(k.src, "tcp gap not filled (segments lost)");
      d.broken = true;
      d.held.clear();
      d.held_bytes = 0;
      return;
    }
    d.held.push_back(Segment{seq, std::vector<uint8_t>(p, p + n)});
    d.held_bytes += n;
    return;
  }
  if (diff < 0) {
    size_t old = static_cast<size_t>(-static_cast<int64_t>(diff));
    if (old >= n) {
      ++stats_.tcp_retransmitted;
      return;
    }
    p += old;
    n -= old;
  }
  tcp_append(d, k, p, n, ts, sink);
  // Held segments that now fit.
  bool progress = true;
  while (progress && !d.held.empty() && !d.broken) {
    progress = false;
    for (size_t i = 0; i < d.held.size(); ++i) {
      int32_t hd = static_cast<int32_t>(d.held[i].seq - d.next_seq);
      if (hd > 0) continue;
      Segment s = std::move(d.held[i]);
      d.held.erase(d.held.begin() + static_cast<ptrdiff_t>(i));
      d.held_bytes -= s.data.size();
      size_t old = static_cast<size_t>(-static_cast<int64_t>(hd));
      if (old < s.data.size()) tcp_append(d, k, s.data.data() + old, s.data.size() - old, ts, sink);
      progress = true;
      break;
    }
  }
}

void DnsPacketDecoder::tcp_append(TcpDir& d, const TcpKey& k, const uint8_t* p, size_t n, TimeMs ts, DnsSink& sink) {
  d.next_seq += static_cast<uint32_t>(n);
  const uint8_t* data;
  size_t avail;
  bool direct = d.buf.size() == d.start;
  if (direct) {
    // Nothing pending: parse straight from the segment, keep only a tail.
    data = p;
    avail = n;
  } else {
    d.buf.insert(d.buf.end(), p, p + n);
    data = d.buf.data() + d.start;
    avail = d.buf.size() - d.start;
  }
  size_t used = 0;
  while (avail - used >= 2) {
    size_t mlen = load_be16(data + used);
    if (avail - used < 2 + mlen) break;
    if (mlen == 0) {
      errors_.add(k.src, "tcp dns message of length zero");
    } else {
      ++stats_.tcp_messages;
      message(data + used + 2, mlen, k.src, k.dst, k.sport, k.dport, ts, DnsTransport::Tcp, sink);
    }
    used += 2 + mlen;
  }
  if (direct) {
    d.buf.clear();
    d.start = 0;
    if (used < avail) d.buf.assign(p + used, p + avail);
  } else {
    d.start += used;
    if (d.start == d.buf.size()) {
      d.buf.clear();
      d.start = 0;
    } else if (d.start > 4096) {
      d.buf.erase(d.buf.begin(), d.buf.begin() + static_cast<ptrdiff_t>(d.start));
      d.start = 0;
    }
  }
}

void DnsPacketDecoder::expire(TimeMs now) {
  if (now - last_expire_ < 1000) return;
  last_expire_ = now;
  sweep(now);
}

void DnsPacketDecoder::sweep(TimeMs now) {
  for (auto it = tcp_.begin(); it != tcp_.end();) {
    if (now - it->second.last > opt_.tcp_idle_ms) {
      const TcpDir& d = it->second;
      if (!d.broken && (d.buf.size() > d.start || !d.held.empty()))
        errors_.add(it->first.src, "tcp stream idle inside a message");
      tcp_.erase(it++);
    } else {
      ++it;
    }
  }
}

void DnsPacketDecoder::finish() {
  for (auto& [k, d] : tcp_)
    if (!d.broken && (d.buf.size() > d.start || !d.held.empty()))
      errors_.add(k.src, "tcp stream ended inside a message");
  tcp_.clear();
}

}  // namespace omamori
