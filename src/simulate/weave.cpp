#include "simulate/weave.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "ingest/pcap/pcap_file.hpp"

namespace omamori::sim {

namespace {

struct Spec {
  const char* file;
  const char* source;
  const char* role;
  const char* client;    // the capture's client address -> a subscriber's
  const char* resolver;  // a private resolver -> the ISP's (or nullptr)
  int pct;               // where in the window
};

const Spec kDnsCaptures[] = {
    {"dns/pcap/dns_ambiguous_names.pcap", "nDPI test suite (LGPL-3.0)",
     "real lookups (Apple push, Teams, Google) at 8.8.8.8, one NXDOMAIN", "10.200.2.11", nullptr, 15},
    {"dns/pcap/dns_tcp.pcapng", "nDPI test suite (LGPL-3.0)", "real DNS over TCP", "192.168.11.62", "192.168.11.1",
     33},
    {"dns/pcap/dns_isp_hijack.pcapng", "nDPI test suite (LGPL-3.0)",
     "a real NXDOMAIN answered by an ISP's hijacking resolver, then the web page it points to", "172.16.16.170",
     nullptr, 50},
    {"dns/pcap/dns_query_nonexistent.pcapng", "chrissanders/packets (free to use, cite the author)",
     "a real lookup of a name that does not exist", "172.16.16.170", nullptr, 78},
};

constexpr size_t kFloodPackets = 8000;

struct Raw {
  int64_t ts_us;
  std::vector<uint8_t> data;
  uint32_t orig_len;
};

std::vector<Raw> read_capture(const std::string& path, size_t max_packets) {
  std::string err;
  auto f = PcapFile::open(path, err);
  if (!f) throw std::runtime_error(err);
  if (f->linktype() != 1) throw std::runtime_error(path + ": not an Ethernet capture");
  std::vector<Raw> out;
  CapturedPacket p;
  while (out.size() < max_packets && f->next(p))
    out.push_back({p.ts_us, std::vector<uint8_t>(p.data, p.data + p.caplen), p.len});
  if (!f->error().empty()) throw std::runtime_error(f->error());
  return out;
}

// Adds the frames shifted to start at `at`; returns the time of the last one.
// Frames that are not IPv4 are left out; `used` counts the others.
int64_t put(Capture& cap, std::vector<Raw>& frames, int64_t at, const std::vector<std::pair<IpAddr, IpAddr>>& map,
            const IpAddr& inside, size_t& used) {
  int64_t first = frames.empty() ? 0 : frames.front().ts_us, last = at;
  for (auto& f : frames) {
    if (rewrite_ipv4(f.data, map) < 0) continue;
    IpAddr src = IpAddr::v4_bytes(&f.data[14 + 12]);
    set_macs(f.data, src == inside ? Dir::Up : Dir::Down);
    last = at + (f.ts_us - first);
    cap.add_captured(last, std::move(f.data), f.orig_len);
    ++used;
  }
  return last;
}

}  // namespace

std::vector<WovenCapture> weave(const Isp& isp, const Internet& net, const RealData& data, Truth& truth, Capture& cap,
                                uint64_t seed) {
  Rng r(seed, "weave");
  std::vector<WovenCapture> out;
  std::vector<bool> busy(isp.subs.size(), false);
  for (size_t s : truth.busy_subs) busy[s] = true;
  std::vector<size_t> order;
  for (size_t i = 0; i < isp.sessions.size(); ++i) order.push_back(i);
  r.shuffle(order);
  const int64_t w = isp.cfg.end - isp.cfg.start;
  auto when = [&](int pct) { return isp.cfg.start + (w * pct / 100) / kSecond * kSecond + r.range(0, 600) * kSecond; };

  // The SYN flood: on a business subscriber (a protected host).
  {
    const Session* victim = nullptr;
    for (size_t i : order) {
      const Session& s = isp.sessions[i];
      if (isp.subs[s.sub].business && !busy[s.sub]) {
        victim = &s;
        break;
      }
    }
    if (!victim) throw std::runtime_error("no business subscriber left for the DDoS victim");
    busy[victim->sub] = true;
    std::string file = "ddos/pkt.TCP.synflood.spoofed.pcap";
    auto frames = read_capture(data.shared + "/" + file, kFloodPackets);
    WovenCapture wc{file, "StopDDoS packet-captures (free to use for DDoS protection; L.F. Haaijer 2022)",
                    "a real spoofed TCP SYN flood (its first packets), now against a business subscriber",
                    0, frames.front().ts_us, when(38), 0, {{"10.10.10.10", victim->v4.str()}},
                    isp.subs[victim->sub].id};
    wc.last = put(cap, frames, wc.first, {{*IpAddr::parse("10.10.10.10"), victim->v4}}, IpAddr{}, wc.packets);
    Infection inf{"ddos-target", "ddos-target", victim->sub, victim, victim->v4, wc.first, wc.last, {"ddos-target"},
                  fmt::format("under a real spoofed TCP SYN flood to port 25565 ({} packets in {:.2f} s, from {})",
                              wc.packets, static_cast<double>(wc.last - wc.first) / kSecond, file),
                  {}};
    truth.infections.push_back(std::move(inf));
    out.push_back(std::move(wc));
  }

  // Real DNS: ordinary subscribers.
  for (const auto& spec : kDnsCaptures) {
    auto frames = read_capture(data.shared + "/" + spec.file, 100000);
    if (frames.empty()) continue;
    int64_t at = when(spec.pct);
    int64_t dur = frames.back().ts_us - frames.front().ts_us;
    const Session* who = nullptr;
    for (size_t i : order) {
      const Session& s = isp.sessions[i];
      if (!isp.subs[s.sub].business && !busy[s.sub] && s.start < at && s.end > at + dur + kMinute) {
        who = &s;
        break;
      }
    }
    if (!who) continue;
    busy[who->sub] = true;
    std::vector<std::pair<IpAddr, IpAddr>> map{{*IpAddr::parse(spec.client), who->v4}};
    WovenCapture wc{spec.file, spec.source, spec.role, 0, frames.front().ts_us, at, 0,
                    {{spec.client, who->v4.str()}}, isp.subs[who->sub].id};
    if (spec.resolver) {
      map.emplace_back(*IpAddr::parse(spec.resolver), net.resolver4);
      wc.rewrites.emplace_back(spec.resolver, net.resolver4.str());
    }
    wc.last = put(cap, frames, at, map, who->v4, wc.packets);
    out.push_back(std::move(wc));
  }
  return out;
}

}  // namespace omamori::sim
