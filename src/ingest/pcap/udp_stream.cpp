#include "ingest/pcap/udp_stream.hpp"

#include <algorithm>
#include <cstring>

#include "core/bytes.hpp"

namespace omamori {

namespace {
constexpr const char* kPayloadTruncated = "udp payload truncated by capture length";
}  // namespace

void Defragmenter::expire(TimeMs now, ReasonCounters& errors) {
  if (now - last_expire_ < 1000 && pending_.size() < limits_.max_pending) return;
  last_expire_ = now;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now - it->second.first_seen > limits_.timeout_ms) {
      errors.add("fragment reassembly timeout");
      pending_.erase(it++);
    } else {
      ++it;
    }
  }
  while (pending_.size() >= limits_.max_pending) {
    // Evict the oldest datagram to stay bounded.
    auto oldest = pending_.begin();
    for (auto it = pending_.begin(); it != pending_.end(); ++it)
      if (it->second.first_seen < oldest->second.first_seen) oldest = it;
    errors.add("fragment reassembly table full");
    pending_.erase(oldest);
  }
}

std::span<const uint8_t> Defragmenter::add(const PacketInfo& info, TimeMs ts, ReasonCounters& errors) {
  expire(ts, errors);
  if (info.ip_payload_caplen == 0 || info.ip_payload == nullptr) {
    // Nothing captured past the IP header: there is nothing to place, and an empty range would never complete.
    errors.add("empty fragment");
    return {};
  }
  Key k{info.src, info.dst, info.frag_id, info.proto};
  auto& pd = pending_[k];
  if (pd.ranges.empty()) pd.first_seen = ts;
  uint32_t begin = info.frag_offset;
  uint32_t len = info.ip_payload_caplen;
  uint32_t end = begin + len;
  if (end > 65535 + 8) {
    errors.add("fragment beyond maximum datagram size");
    pending_.erase(k);
    return {};
  }
  if (pd.data.size() < end) pd.data.resize(end);
  std::memcpy(pd.data.data() + begin, info.ip_payload, len);
  pd.ranges.emplace_back(begin, end);
  if (!info.more_fragments) pd.total = end;
  if (pd.total == 0) return {};
  std::sort(pd.ranges.begin(), pd.ranges.end());
  uint32_t covered = 0;
  for (auto [b, e] : pd.ranges) {
    if (b > covered) return {};
    covered = std::max(covered, e);
  }
  if (covered < pd.total) return {};
  done_.assign(pd.data.begin(), pd.data.begin() + pd.total);
  pending_.erase(k);
  return done_;
}

bool UdpExtractor::extract(int link, const uint8_t* p, size_t caplen, TimeMs ts, UdpDatagram& d) {
  // The usual exporter packet first: Ethernet, IPv4 without options, UDP, not
  // a fragment, and long enough for both headers. The result is the same as
  // the general decoder's below (tested against it); anything else takes it.
  if (link == linktype::ETHERNET && caplen >= 42 && load_be16(p + 12) == 0x0800 && p[14] == 0x45 && p[23] == 17 &&
      (load_be16(p + 20) & 0x3fff) == 0) {
    uint32_t total = load_be16(p + 16);
    if (total >= 28) {
      uint32_t ip_cap = std::min<uint32_t>(uint32_t(caplen - 14), total);
      uint32_t cap = ip_cap - 28;  // UDP payload bytes captured
      uint32_t ulen = load_be16(p + 38);
      uint32_t len = ulen >= 8 ? ulen - 8 : total - 28;  // as the UDP header says, else as the IP header does
      if (cap < len) errors_.add(kPayloadTruncated);
      d.ts = ts;
      d.src = IpAddr::v4_bytes(p + 26);
      d.dst = IpAddr::v4_bytes(p + 30);
      d.sport = load_be16(p + 34);
      d.dport = load_be16(p + 36);
      d.payload = std::span<const uint8_t>(p + 42, std::min(cap, len));
      return true;
    }
  }
  PacketInfo info;
  DecodeOptions opt;
  opt.decapsulate = false;  // exporter traffic: the outer UDP datagram is what we want
  if (const char* err = decode_packet(link, p, caplen, info, opt)) {
    errors_.add(err);
    return false;
  }
  if (info.proto != 17) return false;
  d.ts = ts;
  d.src = info.src;
  d.dst = info.dst;
  if (info.fragment) {
    ++fragments_;
    auto whole = defrag_.add(info, ts, errors_);
    if (whole.empty()) return false;
    if (whole.size() < 8) {
      errors_.add("reassembled datagram shorter than udp header");
      return false;
    }
    d.sport = load_be16(whole.data());
    d.dport = load_be16(whole.data() + 2);
    uint16_t ulen = load_be16(whole.data() + 4);
    size_t n = whole.size() - 8;
    if (ulen >= 8 && ulen - 8u < n) n = ulen - 8u;
    d.payload = whole.subspan(8, n);
    return true;
  }
  if (!info.has_ports) {
    errors_.add("truncated udp header");
    return false;
  }
  d.sport = info.sport;
  d.dport = info.dport;
  uint32_t n = std::min(info.l4_payload_caplen, info.l4_payload_len);
  if (info.l4_payload_caplen < info.l4_payload_len) errors_.add(kPayloadTruncated);
  d.payload = std::span<const uint8_t>(info.l4_payload, n);
  return true;
}

}  // namespace omamori
