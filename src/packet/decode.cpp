#include "packet/decode.hpp"

#include "core/bytes.hpp"

namespace omamori {

namespace {

constexpr uint16_t kEthIpv4 = 0x0800, kEthIpv6 = 0x86DD, kEthVlan = 0x8100, kEthQinQ = 0x88A8,
                   kEthQinQOld = 0x9100, kEthMpls = 0x8847, kEthMplsMc = 0x8848, kEthPppoeSession = 0x8864;
constexpr int kMaxDepth = 4;  // nested encapsulations we follow

const char* decode_ip_depth(const uint8_t* p, size_t n, PacketInfo& out, DecodeOptions opt, int depth);

const char* decode_eth_depth(const uint8_t* p, size_t n, PacketInfo& out, DecodeOptions opt, int depth) {
  if (n < 14) return "truncated ethernet header";
  uint16_t type = load_be16(p + 12);
  size_t off = 14;
  for (int tags = 0; type == kEthVlan || type == kEthQinQ || type == kEthQinQOld; ++tags) {
    if (tags > 8 || n < off + 4) return "truncated vlan tag";
    out.vlan = load_be16(p + off) & 0x0fff;
    type = load_be16(p + off + 2);
    off += 4;
  }
  if (type == kEthMpls || type == kEthMplsMc) {
    for (int labels = 0;; ++labels) {
      if (labels > 16 || n < off + 4) return "truncated mpls label stack";
      uint32_t lse = load_be32(p + off);
      off += 4;
      ++out.mpls_labels;
      if (lse & 0x100) break;  // bottom of stack
    }
    if (n <= off) return "truncated after mpls";
    uint8_t v = p[off] >> 4;
    if (v == 4) return decode_ip_depth(p + off, n - off, out, opt, depth);
    if (v == 6) return decode_ip_depth(p + off, n - off, out, opt, depth);
    // Ethernet pseudowire (RFC 4448), after an RFC 4385 control word (first nibble 0) when present.
    if (opt.decapsulate && depth < kMaxDepth) {
      for (size_t eth : {v == 0 ? off + 4 : off, off}) {
        if (n < eth + 14) continue;
        uint16_t inner = load_be16(p + eth + 12);
        if (inner == kEthIpv4 || inner == kEthIpv6 || inner == kEthVlan || inner == kEthQinQ) {
          ++out.tunnels;
          return decode_eth_depth(p + eth, n - eth, out, opt, depth + 1);
        }
      }
    }
    return "mpls payload is not ip";
  }
  if (type == kEthPppoeSession) {
    // PPPoE session header (RFC 2516, 6 bytes), then the 2-byte PPP protocol: 0x0021 IPv4, 0x0057 IPv6.
    if (n < off + 8) return "truncated pppoe header";
    uint16_t ppp = load_be16(p + off + 6);
    off += 8;
    if (ppp == 0x0021 || ppp == 0x0057) return decode_ip_depth(p + off, n - off, out, opt, depth);
    return "not ip";  // LCP, IPCP, ... control traffic
  }
  if (type == kEthIpv4 || type == kEthIpv6) return decode_ip_depth(p + off, n - off, out, opt, depth);
  return "not ip";
}

void decode_l4(const uint8_t* p, size_t caplen, size_t len, PacketInfo& out, DecodeOptions opt, int depth);

const char* decode_ipv4(const uint8_t* p, size_t n, PacketInfo& out, DecodeOptions opt, int depth) {
  if (n < 20) return "truncated ipv4 header";
  size_t ihl = static_cast<size_t>(p[0] & 0x0f) * 4;
  if (ihl < 20) return "bad ipv4 header length";
  if (n < ihl) return "truncated ipv4 options";
  uint16_t total = load_be16(p + 2);
  if (total < ihl) return "bad ipv4 total length";
  out.ip_version = 4;
  out.ip_len = total;
  out.ttl = p[8];
  out.proto = p[9];
  out.src = IpAddr::v4_bytes(p + 12);
  out.dst = IpAddr::v4_bytes(p + 16);
  uint16_t frag = load_be16(p + 6);
  out.frag_id = load_be16(p + 4);
  out.frag_offset = static_cast<uint16_t>((frag & 0x1fff) * 8);
  out.more_fragments = frag & 0x2000;
  out.fragment = out.more_fragments || out.frag_offset != 0;
  size_t caplen = n < total ? n : total;
  out.ip_payload = p + ihl;
  out.ip_payload_caplen = static_cast<uint32_t>(caplen - ihl);
  if (out.frag_offset != 0) return nullptr;  // no L4 header in later fragments
  decode_l4(p + ihl, caplen - ihl, total - ihl, out, opt, depth);
  return nullptr;
}

const char* decode_ipv6(const uint8_t* p, size_t n, PacketInfo& out, DecodeOptions opt, int depth) {
  if (n < 40) return "truncated ipv6 header";
  uint16_t plen = load_be16(p + 4);
  out.ip_version = 6;
  out.ip_len = 40u + plen;
  out.ttl = p[7];
  out.src = IpAddr::v6_bytes(p + 8);
  out.dst = IpAddr::v6_bytes(p + 24);
  size_t caplen = n < out.ip_len ? n : out.ip_len;
  uint8_t next = p[6];
  size_t off = 40;
  // Walk extension headers: hop-by-hop 0, routing 43, fragment 44, dest opts 60, mobility 135, AH 51.
  for (int i = 0; i < 10; ++i) {
    if (next == 0 || next == 43 || next == 60 || next == 135) {
      if (caplen < off + 8) return "truncated ipv6 extension header";
      uint8_t nh = p[off];
      off += (static_cast<size_t>(p[off + 1]) + 1) * 8;
      next = nh;
    } else if (next == 51) {
      if (caplen < off + 8) return "truncated ipv6 extension header";
      uint8_t nh = p[off];
      off += (static_cast<size_t>(p[off + 1]) + 2) * 4;
      next = nh;
    } else if (next == 44) {
      if (caplen < off + 8) return "truncated ipv6 fragment header";
      uint8_t nh = p[off];
      uint16_t fo = load_be16(p + off + 2);
      out.frag_offset = static_cast<uint16_t>(fo & 0xfff8);
      out.more_fragments = fo & 1;
      out.fragment = true;
      out.frag_id = load_be32(p + off + 4);
      off += 8;
      next = nh;
    } else {
      break;
    }
  }
  if (off > caplen) return "truncated ipv6 extension header";
  out.proto = next;
  out.ip_payload = p + off;
  out.ip_payload_caplen = static_cast<uint32_t>(caplen - off);
  if (out.frag_offset != 0) return nullptr;
  size_t l4len = out.ip_len > off ? out.ip_len - off : 0;
  decode_l4(p + off, caplen - off, l4len, out, opt, depth);
  return nullptr;
}

const char* decode_ip_depth(const uint8_t* p, size_t n, PacketInfo& out, DecodeOptions opt, int depth) {
  if (n < 1) return "truncated ip header";
  switch (p[0] >> 4) {
    case 4:
      return decode_ipv4(p, n, out, opt, depth);
    case 6:
      return decode_ipv6(p, n, out, opt, depth);
    default:
      return "bad ip version";
  }
}

// Replace `out` by the inner packet when decapsulation succeeds; keep the outer one otherwise.
void try_inner(const uint8_t* p, size_t n, bool ethernet, PacketInfo& out, DecodeOptions opt, int depth) {
  if (depth >= kMaxDepth) return;
  PacketInfo inner;
  inner.tunnels = static_cast<uint8_t>(out.tunnels + 1);
  const char* err =
      ethernet ? decode_eth_depth(p, n, inner, opt, depth + 1) : decode_ip_depth(p, n, inner, opt, depth + 1);
  if (!err) out = inner;
}

void decode_l4(const uint8_t* p, size_t caplen, size_t len, PacketInfo& out, DecodeOptions opt, int depth) {
  switch (out.proto) {
    case 6:  // TCP
      if (caplen >= 14) {
        out.sport = load_be16(p);
        out.dport = load_be16(p + 2);
        out.tcp_flags = p[13];
        out.has_ports = true;
        size_t doff = static_cast<size_t>(p[12] >> 4) * 4;
        if (doff >= 20 && caplen >= doff) {
          out.l4_payload = p + doff;
          out.l4_payload_caplen = static_cast<uint32_t>(caplen - doff);
          out.l4_payload_len = static_cast<uint32_t>(len > doff ? len - doff : 0);
        }
      }
      break;
    case 17:   // UDP
    case 136:  // UDP-Lite
      if (caplen >= 8) {
        out.sport = load_be16(p);
        out.dport = load_be16(p + 2);
        out.has_ports = true;
        uint16_t ulen = load_be16(p + 4);
        out.l4_payload = p + 8;
        out.l4_payload_caplen = static_cast<uint32_t>(caplen - 8);
        out.l4_payload_len = static_cast<uint32_t>(ulen >= 8 ? ulen - 8 : (len > 8 ? len - 8 : 0));
        if (opt.decapsulate && out.dport == 4789 && caplen >= 16 && (p[8] & 0x08))
          try_inner(p + 16, caplen - 16, true, out, opt, depth);
      }
      break;
    case 132:  // SCTP
      if (caplen >= 4) {
        out.sport = load_be16(p);
        out.dport = load_be16(p + 2);
        out.has_ports = true;
      }
      break;
    case 1:
    case 58:  // ICMP, ICMPv6
      if (caplen >= 2) {
        out.sport = 0;
        out.dport = static_cast<uint16_t>((p[0] << 8) | p[1]);
        out.has_ports = true;
      }
      break;
    case 4:  // IPv4 in IP
    case 41:  // IPv6 in IP
      if (opt.decapsulate) try_inner(p, caplen, false, out, opt, depth);
      break;
    case 47:  // GRE
      if (opt.decapsulate && caplen >= 4) {
        uint16_t flags = load_be16(p);
        uint16_t ptype = load_be16(p + 2);
        if ((flags & 0x0007) != 0) break;  // only GRE version 0
        size_t off = 4;
        if (flags & 0x8000) off += 4;  // checksum + reserved
        if (flags & 0x2000) off += 4;  // key
        if (flags & 0x1000) off += 4;  // sequence
        if (caplen < off) break;
        if (ptype == kEthIpv4 || ptype == kEthIpv6)
          try_inner(p + off, caplen - off, false, out, opt, depth);
        else if (ptype == 0x6558)  // transparent Ethernet bridging
          try_inner(p + off, caplen - off, true, out, opt, depth);
      }
      break;
    default:
      break;
  }
}

}  // namespace

const char* decode_ethernet(const uint8_t* p, size_t caplen, PacketInfo& out, DecodeOptions opt) {
  return decode_eth_depth(p, caplen, out, opt, 0);
}

const char* decode_ip(const uint8_t* p, size_t caplen, PacketInfo& out, DecodeOptions opt) {
  return decode_ip_depth(p, caplen, out, opt, 0);
}

const char* decode_packet(int link, const uint8_t* p, size_t caplen, PacketInfo& out, DecodeOptions opt) {
  out = PacketInfo{};
  switch (link) {
    case linktype::ETHERNET:
      return decode_ethernet(p, caplen, out, opt);
    case linktype::RAW:
    case linktype::RAW_OLD12:
    case linktype::RAW_OLD14:
    case linktype::IPV4:
    case linktype::IPV6:
      return decode_ip(p, caplen, out, opt);
    case linktype::NULL_LOOP:
    case linktype::LOOP:
      if (caplen < 4) return "truncated loopback header";
      return decode_ip(p + 4, caplen - 4, out, opt);
    case linktype::LINUX_SLL: {
      if (caplen < 16) return "truncated linux cooked header";
      uint16_t proto = load_be16(p + 14);
      if (proto != kEthIpv4 && proto != kEthIpv6) return "not ip";
      return decode_ip(p + 16, caplen - 16, out, opt);
    }
    case linktype::LINUX_SLL2: {
      if (caplen < 20) return "truncated linux cooked v2 header";
      uint16_t proto = load_be16(p);
      if (proto != kEthIpv4 && proto != kEthIpv6) return "not ip";
      return decode_ip(p + 20, caplen - 20, out, opt);
    }
    default:
      return "unsupported link type";
  }
}

}  // namespace omamori
