#include "simulate/packets.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>

namespace omamori::sim {

namespace {

// The tap sits between the access routers (BNG) and the core; locally
// administered MAC addresses.
constexpr uint8_t kBngMac[6] = {0x02, 0x00, 0x5e, 0x0a, 0x00, 0x01};
constexpr uint8_t kCoreMac[6] = {0x02, 0x00, 0x5e, 0x0b, 0x00, 0x01};

void put16(std::vector<uint8_t>& v, size_t at, uint16_t x) {
  v[at] = static_cast<uint8_t>(x >> 8);
  v[at + 1] = static_cast<uint8_t>(x);
}
void put32(std::vector<uint8_t>& v, size_t at, uint32_t x) {
  for (int i = 0; i < 4; ++i) v[at + i] = static_cast<uint8_t>(x >> (24 - 8 * i));
}
uint16_t get16(const std::vector<uint8_t>& v, size_t at) { return static_cast<uint16_t>(v[at] << 8 | v[at + 1]); }

void ethernet(std::vector<uint8_t>& f, Dir dir, bool v6) {
  f.resize(14);
  set_macs(f, dir);
  put16(f, 12, v6 ? 0x86dd : 0x0800);
}

// Appends the IP header for an L4 payload of `l4_len` bytes; returns the
// pseudo-header checksum sum.
uint32_t ip_header(std::vector<uint8_t>& f, const IpAddr& src, const IpAddr& dst, uint8_t proto, size_t l4_len,
                   uint8_t ttl) {
  size_t at = f.size();
  uint32_t pseudo = 0;
  if (src.is_v4()) {
    f.resize(at + 20);
    f[at] = 0x45;
    put16(f, at + 2, static_cast<uint16_t>(20 + l4_len));
    // Identification from the addresses and length: deterministic, varied.
    put16(f, at + 4, static_cast<uint16_t>(src.v4_host_order() * 31 + dst.v4_host_order() * 7 + l4_len * 131));
    put16(f, at + 6, 0x4000);  // don't fragment
    f[at + 8] = ttl;
    f[at + 9] = proto;
    std::copy(src.bytes() + 12, src.bytes() + 16, f.begin() + static_cast<long>(at + 12));
    std::copy(dst.bytes() + 12, dst.bytes() + 16, f.begin() + static_cast<long>(at + 16));
    put16(f, at + 10, checksum_fold(checksum_add(0, {f.data() + at, 20})));
    pseudo = checksum_add(0, {src.bytes() + 12, 4});
    pseudo = checksum_add(pseudo, {dst.bytes() + 12, 4});
  } else {
    f.resize(at + 40);
    f[at] = 0x60;
    put16(f, at + 4, static_cast<uint16_t>(l4_len));
    f[at + 6] = proto;
    f[at + 7] = ttl;
    std::copy(src.bytes(), src.bytes() + 16, f.begin() + static_cast<long>(at + 8));
    std::copy(dst.bytes(), dst.bytes() + 16, f.begin() + static_cast<long>(at + 24));
    pseudo = checksum_add(0, {src.bytes(), 16});
    pseudo = checksum_add(pseudo, {dst.bytes(), 16});
  }
  pseudo += proto;
  pseudo += static_cast<uint32_t>(l4_len);
  return pseudo;
}

void put_name(std::vector<uint8_t>& m, std::string_view name) {
  while (!name.empty()) {
    size_t dot = name.find('.');
    std::string_view label = name.substr(0, dot);
    m.push_back(static_cast<uint8_t>(std::min<size_t>(label.size(), 63)));
    m.insert(m.end(), label.begin(), label.begin() + static_cast<long>(std::min<size_t>(label.size(), 63)));
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  m.push_back(0);
}

void header(std::vector<uint8_t>& m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an) {
  m.resize(12);
  put16(m, 0, id);
  put16(m, 2, flags);
  put16(m, 4, qd);
  put16(m, 6, an);
}

void le16(std::FILE* f, uint16_t x) {
  uint8_t b[2] = {static_cast<uint8_t>(x), static_cast<uint8_t>(x >> 8)};
  std::fwrite(b, 1, 2, f);
}
void le32(std::FILE* f, uint32_t x) {
  uint8_t b[4] = {static_cast<uint8_t>(x), static_cast<uint8_t>(x >> 8), static_cast<uint8_t>(x >> 16),
                  static_cast<uint8_t>(x >> 24)};
  std::fwrite(b, 1, 4, f);
}

}  // namespace

uint32_t checksum_add(uint32_t sum, std::span<const uint8_t> d) {
  size_t i = 0;
  for (; i + 1 < d.size(); i += 2) sum += static_cast<uint32_t>(d[i] << 8 | d[i + 1]);
  if (i < d.size()) sum += static_cast<uint32_t>(d[i] << 8);
  return sum;
}

uint16_t checksum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void set_macs(std::vector<uint8_t>& f, Dir dir) {
  if (f.size() < 12) return;
  const uint8_t* dst = dir == Dir::Up ? kCoreMac : kBngMac;
  const uint8_t* src = dir == Dir::Up ? kBngMac : kCoreMac;
  std::copy(dst, dst + 6, f.begin());
  std::copy(src, src + 6, f.begin() + 6);
}

std::vector<uint8_t> udp_frame(Dir dir, const IpAddr& src, const IpAddr& dst, Ports p, std::span<const uint8_t> payload,
                               uint8_t ttl) {
  std::vector<uint8_t> f;
  f.reserve(14 + 40 + 8 + payload.size());
  ethernet(f, dir, !src.is_v4());
  size_t l4 = 8 + payload.size();
  uint32_t sum = ip_header(f, src, dst, 17, l4, ttl);
  size_t at = f.size();
  f.resize(at + 8);
  put16(f, at, p.src);
  put16(f, at + 2, p.dst);
  put16(f, at + 4, static_cast<uint16_t>(l4));
  f.insert(f.end(), payload.begin(), payload.end());
  uint16_t c = checksum_fold(checksum_add(sum, {f.data() + at, l4}));
  put16(f, at + 6, c == 0 ? 0xffff : c);
  return f;
}

std::vector<uint8_t> tcp_frame(Dir dir, const IpAddr& src, const IpAddr& dst, Ports p, uint32_t seq, uint32_t ack,
                               uint8_t flags, std::span<const uint8_t> payload, size_t payload_len, uint8_t ttl,
                               uint16_t window) {
  std::vector<uint8_t> f;
  size_t plen = payload.empty() ? payload_len : payload.size();
  bool syn = flags & tcp::SYN;
  size_t hlen = syn ? 24 : 20;  // SYNs carry an MSS option
  f.reserve(14 + 40 + hlen + plen);
  ethernet(f, dir, !src.is_v4());
  size_t l4 = hlen + plen;
  uint32_t sum = ip_header(f, src, dst, 6, l4, ttl);
  size_t at = f.size();
  f.resize(at + hlen);
  put16(f, at, p.src);
  put16(f, at + 2, p.dst);
  put32(f, at + 4, seq);
  put32(f, at + 8, (flags & tcp::ACK) ? ack : 0);
  f[at + 12] = static_cast<uint8_t>((hlen / 4) << 4);
  f[at + 13] = flags;
  put16(f, at + 14, window);
  if (syn) {
    f[at + 20] = 2;
    f[at + 21] = 4;
    put16(f, at + 22, src.is_v4() ? 1460 : 1440);
  }
  if (!payload.empty()) {
    f.insert(f.end(), payload.begin(), payload.end());
  } else {
    // Filler standing for encrypted content: varied but deterministic.
    // (printable, so that text protocols such as telnet decode as text).
    for (size_t i = 0; i < plen; ++i) f.push_back(static_cast<uint8_t>(0x20 + ((seq + i * 167) >> 3) % 95));
  }
  put16(f, at + 16, checksum_fold(checksum_add(sum, {f.data() + at, l4})));
  return f;
}

void Capture::add(int64_t ts_us, std::vector<uint8_t> frame, size_t snap) {
  Frame fr;
  fr.ts_us = ts_us;
  fr.order = next_order_++;
  fr.orig_len = static_cast<uint32_t>(frame.size());
  if (snap > 0 && frame.size() > snap) frame.resize(snap);
  fr.data = std::move(frame);
  frames_.push_back(std::move(fr));
}

void Capture::add_captured(int64_t ts_us, std::vector<uint8_t> frame, uint32_t orig_len) {
  Frame fr;
  fr.ts_us = ts_us;
  fr.order = next_order_++;
  fr.orig_len = std::max<uint32_t>(orig_len, static_cast<uint32_t>(frame.size()));
  fr.data = std::move(frame);
  frames_.push_back(std::move(fr));
}

bool Capture::write(const std::string& path, std::string& err) {
  std::sort(frames_.begin(), frames_.end(), [](const Frame& a, const Frame& b) {
    return a.ts_us != b.ts_us ? a.ts_us < b.ts_us : a.order < b.order;
  });
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) {
    err = "cannot write " + path;
    return false;
  }
  le32(f.get(), 0xa1b2c3d4);
  le16(f.get(), 2);
  le16(f.get(), 4);
  le32(f.get(), 0);      // thiszone: UTC
  le32(f.get(), 0);      // sigfigs
  le32(f.get(), 65535);  // snaplen
  le32(f.get(), 1);      // LINKTYPE_ETHERNET
  for (const auto& fr : frames_) {
    le32(f.get(), static_cast<uint32_t>(fr.ts_us / 1000000));
    le32(f.get(), static_cast<uint32_t>(fr.ts_us % 1000000));
    le32(f.get(), static_cast<uint32_t>(fr.data.size()));
    le32(f.get(), fr.orig_len);
    std::fwrite(fr.data.data(), 1, fr.data.size(), f.get());
  }
  if (std::ferror(f.get())) {
    err = "write error on " + path;
    return false;
  }
  return true;
}

int rewrite_ipv4(std::vector<uint8_t>& f, std::span<const std::pair<IpAddr, IpAddr>> map) {
  if (f.size() < 14 + 20 || get16(f, 12) != 0x0800 || (f[14] >> 4) != 4) return -1;
  size_t ihl = static_cast<size_t>(f[14] & 0x0f) * 4;
  if (ihl < 20 || f.size() < 14 + ihl) return -1;
  uint8_t proto = f[14 + 9];
  uint16_t frag = get16(f, 14 + 6);
  bool first_fragment = (frag & 0x1fff) == 0;
  size_t total = get16(f, 14 + 2);
  size_t l4_min = proto == 6 ? 20 : 8;
  bool whole = first_fragment && !(frag & 0x2000) && total >= ihl + l4_min && f.size() >= 14 + total;
  size_t l4 = 14 + ihl;
  // Where the L4 checksum lives, when it is in the capture and covers the addresses.
  size_t ck = 0;
  if (first_fragment && proto == 6 && f.size() >= l4 + 18) ck = l4 + 16;
  if (first_fragment && proto == 17 && f.size() >= l4 + 8 && get16(f, l4 + 6) != 0) ck = l4 + 6;
  int changed = 0;
  for (size_t off : {size_t{14 + 12}, size_t{14 + 16}}) {
    IpAddr cur = IpAddr::v4_bytes(&f[off]);
    for (const auto& [from, to] : map) {
      if (cur != from) continue;
      for (size_t w = 0; w < 4; w += 2) {
        uint16_t old_w = get16(f, off + w);
        uint16_t new_w = static_cast<uint16_t>(to.bytes()[12 + w] << 8 | to.bytes()[13 + w]);
        // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')
        for (size_t at : {size_t{14 + 10}, ck}) {
          if (at == 0) continue;
          uint32_t s = static_cast<uint16_t>(~get16(f, at));
          s += static_cast<uint16_t>(~old_w);
          s += new_w;
          put16(f, at, checksum_fold(s));
        }
      }
      std::copy(to.bytes() + 12, to.bytes() + 16, f.begin() + static_cast<long>(off));
      ++changed;
      break;
    }
  }
  // A whole datagram gets its TCP/UDP checksum computed afresh: captures made
  // on the sending host carry placeholders (checksum offload).
  if (whole && ck) {
    size_t len = total - ihl;
    put16(f, ck, 0);
    uint32_t sum = checksum_add(0, {&f[14 + 12], 8});
    sum += proto;
    sum += static_cast<uint32_t>(len);
    uint16_t c = checksum_fold(checksum_add(sum, {&f[l4], len}));
    put16(f, ck, proto == 17 && c == 0 ? 0xffff : c);
  }
  return changed;
}

namespace dns {

std::vector<uint8_t> query(uint16_t id, std::string_view qname, uint16_t qtype) {
  std::vector<uint8_t> m;
  header(m, id, 0x0100, 1, 0);  // RD
  put_name(m, qname);
  m.push_back(static_cast<uint8_t>(qtype >> 8));
  m.push_back(static_cast<uint8_t>(qtype));
  m.push_back(0);
  m.push_back(1);
  return m;
}

std::vector<uint8_t> response(uint16_t id, std::string_view qname, uint16_t qtype, uint8_t rcode,
                              const std::vector<IpAddr>& addrs, uint32_t ttl, std::string_view cname) {
  std::vector<uint8_t> m;
  uint16_t an = rcode == 0 ? static_cast<uint16_t>(addrs.size() + (cname.empty() ? 0 : 1)) : 0;
  header(m, id, static_cast<uint16_t>(0x8180 | (rcode & 0x0f)), 1, an);  // QR RD RA
  put_name(m, qname);
  m.push_back(static_cast<uint8_t>(qtype >> 8));
  m.push_back(static_cast<uint8_t>(qtype));
  m.push_back(0);
  m.push_back(1);
  if (rcode != 0) return m;
  auto rr_head = [&](uint16_t name_ptr, uint16_t type) {
    m.push_back(static_cast<uint8_t>(0xc0 | name_ptr >> 8));
    m.push_back(static_cast<uint8_t>(name_ptr));
    m.push_back(static_cast<uint8_t>(type >> 8));
    m.push_back(static_cast<uint8_t>(type));
    m.push_back(0);
    m.push_back(1);
    for (int i = 0; i < 4; ++i) m.push_back(static_cast<uint8_t>(ttl >> (24 - 8 * i)));
  };
  uint16_t owner = 12;
  if (!cname.empty()) {
    rr_head(owner, CNAME);
    size_t len_at = m.size();
    m.resize(m.size() + 2);
    owner = static_cast<uint16_t>(m.size());
    put_name(m, cname);
    put16(m, len_at, static_cast<uint16_t>(m.size() - len_at - 2));
  }
  for (const auto& a : addrs) {
    bool v4 = a.is_v4();
    rr_head(owner, v4 ? A : AAAA);
    m.push_back(0);
    m.push_back(v4 ? 4 : 16);
    const uint8_t* b = a.bytes() + (v4 ? 12 : 0);
    m.insert(m.end(), b, b + (v4 ? 4 : 16));
  }
  return m;
}

}  // namespace dns

}  // namespace omamori::sim
