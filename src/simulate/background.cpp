#include "simulate/background.hpp"

#include <algorithm>
#include <array>

namespace omamori::sim {

namespace {

// Relative activity by hour of the Japanese day (JST = UTC+9): quiet at
// night, a morning bump, an evening peak. Mean 8.
constexpr std::array<int, 24> kActivity = {7, 4, 2, 2, 2, 2, 4, 8, 10, 8, 7, 7,
                                           9, 8, 7, 7, 8, 9, 11, 13, 14, 14, 13, 10};

std::array<uint8_t, 48> ntp_packet(int64_t t_us, bool reply) {
  std::array<uint8_t, 48> p{};
  p[0] = reply ? 0x24 : 0x23;  // LI 0, version 4, mode 4 (server) / 3 (client)
  p[1] = reply ? 2 : 0;        // stratum
  p[2] = 6;                    // poll
  p[3] = 0xe9;                 // precision
  uint64_t secs = static_cast<uint64_t>(t_us / kSecond) + 2208988800ULL;  // NTP era 0
  uint64_t frac = (static_cast<uint64_t>(t_us % kSecond) << 32) / 1000000;
  for (int i = 0; i < 4; ++i) {
    p[40 + i] = static_cast<uint8_t>(secs >> (24 - 8 * i));
    p[44 + i] = static_cast<uint8_t>(frac >> (24 - 8 * i));
  }
  if (reply) {
    p[12] = 192;  // reference id: an upstream server (documentation address)
    p[13] = 0;
    p[14] = 2;
    p[15] = 1;
  }
  return p;
}

IpAddr v6_in(const Prefix& p, Rng& r) {
  IpAddr a = p.addr();
  uint64_t x = r.next();
  // Keep the prefix bits (/36) and randomise the rest.
  for (int k = 5; k < 16; ++k) a.bytes()[k] = static_cast<uint8_t>(x >> ((k % 8) * 8));
  a.bytes()[4] = static_cast<uint8_t>(a.bytes()[4] | (x >> 60));
  return a;
}

}  // namespace

IpAddr Internet::random_v4(Rng& r) const {
  uint32_t base = space4.addr().v4_host_order();
  for (;;) {
    uint32_t a = base + static_cast<uint32_t>(r.below(1u << (32 - space4.len())));
    if ((a & 0xff) != 0 && (a & 0xff) != 255) return IpAddr::v4(a);
  }
}

IpAddr Internet::server_v4(Rng& r) const {
  for (;;) {
    IpAddr a = random_v4(r);
    if (!darknet.contains(a) && a.v4_host_order() >= space4.addr().v4_host_order() + 256) return a;
  }
}

Internet make_internet(const RealData& data, uint64_t seed) {
  Internet net;
  net.resolver4 = *IpAddr::parse(plan::kResolver4);
  net.resolver6 = *IpAddr::parse(plan::kResolver6);
  net.ntp4 = *IpAddr::parse(plan::kNtp4);
  net.space4 = *Prefix::parse(plan::kInternet4);
  net.darknet = *Prefix::parse(plan::kDarknet);
  Prefix space6 = *Prefix::parse(plan::kInternet6);
  Rng r(seed, "internet");
  std::vector<std::string> names = data.popular;
  std::vector<size_t> idx(data.benign.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  r.shuffle(idx);
  for (size_t i = 0; i < 1500 && i < idx.size(); ++i) {
    const std::string& d = data.benign[idx[i]];
    names.push_back(r.chance(500) ? "www." + d : d);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    Site s;
    s.name = names[i];
    s.v4 = net.server_v4(r);
    if (r.chance(i < data.popular.size() ? 700 : 300)) s.v6 = v6_in(space6, r);
    s.port = r.chance(150) ? 80 : 443;
    net.sites.push_back(std::move(s));
    net.weights.push_back(1'000'000'000ULL / (i + 8));
  }
  return net;
}

void background(const Isp& isp, const Internet& net, const RealData& data, Capture& cap, uint64_t seed) {
  Rng r(seed, "background");
  Emitter em(cap, r);
  WeightedPicker pick(net.weights);
  const int64_t w0 = isp.cfg.start, w1 = isp.cfg.end;
  for (const auto& s : isp.sessions) {
    int64_t from = std::max(s.start, w0), to = std::min(s.end, w1);
    if (to <= from) continue;
    // The home router keeps its clock.
    for (int64_t t = from + r.range(0, 8 * 3600) * kSecond; t < to; t += r.range(6 * 3600, 12 * 3600) * kSecond) {
      auto q = ntp_packet(t, false);
      int64_t rtt = r.range(800, 4000);
      auto a = ntp_packet(t + rtt / 2, true);
      em.udp_exchange(t, s.v4, net.ntp4, 123, 123, q, a, rtt);
    }
    int64_t t = from + r.range(0, 7200) * kSecond;
    while (t < to - 10 * kSecond) {
      if (r.chance(25)) {
        // A name that does not exist: typos, stale configuration, probes.
        const std::string& name = r.pick(data.nx_noise);
        int64_t rtt = r.range(2000, 30000);
        em.dns(t, s.v4, net.resolver4, name, dns::A, 3, {}, rtt);
      } else {
        const Site& site = net.sites[pick.pick(r)];
        bool v6 = s.v6.len() && !site.v6.empty() && r.chance(600);
        IpAddr client = v6 ? isp.v6_host(s) : s.v4;
        IpAddr dst = v6 ? site.v6 : site.v4;
        int64_t rtt = r.range(1000, 8000);
        auto ttl = static_cast<uint32_t>(r.range(60, 3600));
        int64_t tr = em.dns(t, client, v6 ? net.resolver6 : net.resolver4, site.name, v6 ? dns::AAAA : dns::A, 0,
                            {dst}, rtt, ttl);
        int conns = r.chance(300) ? 2 : 1;
        for (int c = 0; c < conns; ++c) {
          int64_t at = tr + r.range(1000, 30000);
          at += c * r.range(50000, 900000);
          int64_t web_rtt = r.range(8000, 180000);
          auto request = static_cast<size_t>(r.range(300, 900));
          auto response = static_cast<size_t>(r.range(800, 4500));
          em.tcp_session(at, client, dst, site.port, web_rtt, request, response);
        }
      }
      int hour = static_cast<int>(((t / kHour) + 9) % 24);
      int64_t mean_s = 5 * 3600 * 8 / kActivity[static_cast<size_t>(hour)];
      t += std::max<int64_t>(30, r.wait(mean_s)) * kSecond;
    }
  }
}

}  // namespace omamori::sim
