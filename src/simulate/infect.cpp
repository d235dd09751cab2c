#include "simulate/infect.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>
#include <stdexcept>

namespace omamori::sim {

namespace {

constexpr uint16_t kReportPort = 48101;  // Mirai's scan-result report port
const IpAddr kGoogleDns = *IpAddr::parse("8.8.8.8");

using Pred = std::function<bool(const Session&)>;

class Chooser {
 public:
  Chooser(const Isp& isp, Rng& r) : isp_(isp), used_(isp.subs.size(), false) {
    for (size_t i = 0; i < isp.sessions.size(); ++i) order_.push_back(i);
    r.shuffle(order_);
  }
  // A home subscriber online with one address over [a, b] that fits `pred`.
  const Session& home(int64_t a, int64_t b, const Pred& pred, const char* what) {
    for (size_t i : order_) {
      const Session& s = isp_.sessions[i];
      if (isp_.subs[s.sub].business || used_[s.sub] || s.start > a - 5 * kMinute || s.end < b + 5 * kMinute) continue;
      if (!pred(s)) continue;
      used_[s.sub] = true;
      return s;
    }
    throw std::runtime_error(fmt::format("no subscriber fits the {} (give more subscribers or hours)", what));
  }
  const Subscriber* business(size_t& index) {
    for (size_t i : order_) {
      size_t sub = isp_.sessions[i].sub;
      if (isp_.subs[sub].business && !used_[sub]) {
        used_[sub] = true;
        index = sub;
        return &isp_.subs[sub];
      }
    }
    throw std::runtime_error("not enough business subscribers");
  }
  std::vector<size_t> used() const {
    std::vector<size_t> out;
    for (size_t i = 0; i < used_.size(); ++i)
      if (used_[i]) out.push_back(i);
    return out;
  }

 private:
  const Isp& isp_;
  std::vector<bool> used_;
  std::vector<size_t> order_;
};

// Sessions of other subscribers that held s's IPv4 address earlier in the window.
std::vector<const Session*> earlier_holders(const Isp& isp, const Session& s) {
  std::vector<const Session*> out;
  for (const Session* h : isp.holders(s.v4))
    if (h->sub != s.sub && h->end <= s.start && h->end > isp.cfg.start) out.push_back(h);
  return out;
}

struct Bot {
  Emitter& em;
  const Internet& net;
  const RealData& data;
  IpAddr host, report;
  Rng& r;
  std::set<IpAddr>& taken;  // scan targets of all bots: random IPv4 scans practically never meet
  int64_t last = 0;
  int64_t first_report = 0, last_report = 0;

  // Keeps a C&C connection up over [t0, t1], re-resolving and reconnecting every quarter hour.
  void command_channel(int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1;) {
      int64_t tr = em.dns(t, host, kGoogleDns, data.c2_domain, dns::A, 0, {data.c2_addr}, r.range(15000, 45000), 60);
      int64_t rtt = r.range(150000, 280000);
      TcpStream c(em, host, data.c2_addr, data.c2_port);
      int64_t u = c.open(tr + 500, rtt);
      c.up(u + 100, 4);  // hello
      c.down(u + rtt, 0, tcp::ACK);
      int64_t end = std::min(t1, t + 15 * kMinute);
      for (u += 60 * kSecond; u < end; u += 60 * kSecond) {
        c.up(u, 2);  // ping
        c.down(u + rtt, 2);
      }
      last = std::max(last, c.close(end, rtt));
      t = end + r.range(5, 30) * kSecond;
    }
  }

  // Telnet scanning over [t0, t1] at about one probe a second.
  void scan(int64_t t0, int64_t t1) {
    int logins = 0;
    for (int64_t t = t0; t < t1; t += r.range(400, 1600) * 1000) {
      IpAddr target = net.random_v4(r);
      while (!taken.insert(target).second) target = net.random_v4(r);
      uint16_t port = r.chance(100) ? 2323 : 23;
      uint64_t u = r.below(1000);
      if (u >= 20) {
        em.syn_probe(t, host, target, port, u < 70, r.range(20000, 250000));
        last = std::max(last, t);
        continue;
      }
      // Someone answers: try a default password; now and then it works.
      int64_t rtt = r.range(20000, 250000);
      TcpStream c(em, host, target, port);
      int64_t x = c.open(t, rtt);
      c.down(x + 30000, 12);  // "login: "
      c.up(x + 40000, 6);
      c.down(x + 40000 + rtt, 11);  // "Password: "
      c.up(x + 50000 + rtt, 8);
      c.down(x + 60000 + 2 * rtt, 24);
      int64_t e = c.close(x + 200000 + 2 * rtt, rtt);
      last = std::max(last, e);
      if (++logins % 3 == 1) {
        // Report the working credentials.
        TcpStream rep(em, host, report, kReportPort);
        int64_t y = rep.open(e + 10000, 4000);
        rep.up(y + 100, 14);
        rep.down(y + 4000, 0, tcp::ACK);
        last = std::max(last, rep.close(y + 8000, 4000));
        if (!first_report) first_report = e + 10000;
        last_report = y + 8000;
      }
    }
  }

  // A UDP flood (Mirai's "udpplain") for `secs` seconds at `pps`.
  void flood(int64_t t0, const IpAddr& target, uint16_t dport, int secs, int pps) {
    Ports p{em.ephemeral(), dport};
    int64_t step = kSecond / pps;
    for (int64_t i = 0; i < static_cast<int64_t>(secs) * pps; ++i)
      em.udp_one(t0 + i * step + static_cast<int64_t>(r.below(static_cast<uint64_t>(step))), Dir::Up, host, target,
                 p, 512, 60);
    last = std::max(last, t0 + secs * kSecond);
  }
};

// A DGA-infected computer: a burst of lookups of its family's names, nearly
// all NXDOMAIN, until the one registered name resolves and is contacted.
int64_t dga_burst(Emitter& em, Rng& r, const IpAddr& client, const IpAddr& resolver, std::vector<std::string> family,
                  const std::string& registered, const IpAddr& c2, int64_t t0, int64_t t1) {
  r.shuffle(family);
  int64_t t = t0;
  size_t k = 0;
  for (; t < t1; t += r.range(2000, 10000) * 1000)
    em.dns(t, client, resolver, family[k++ % family.size()], client.is_v4() ? dns::A : dns::AAAA, 3, {},
           r.range(5000, 90000));
  int64_t tr = em.dns(t, client, resolver, registered, client.is_v4() ? dns::A : dns::AAAA, 0, {c2}, 20000, 300);
  return em.tcp_session(tr + 3000, client, c2, 80, r.range(150000, 300000), 420, 180);
}

int64_t at_fraction(const Isp& isp, int pct, Rng& r) {
  int64_t w = isp.cfg.end - isp.cfg.start;
  return isp.cfg.start + (w * pct / 100) / kSecond * kSecond + r.range(0, 300) * kSecond;
}

}  // namespace

Truth infect(const Isp& isp, const Internet& net, const RealData& data, Capture& cap, uint64_t seed) {
  if (isp.cfg.end - isp.cfg.start < 6 * kHour) throw std::invalid_argument("the simulated window needs 6 hours or more");
  Truth truth;
  Rng r(seed, "infections");
  Emitter em(cap, r);
  Chooser choose(isp, r);
  const int64_t mirai_dur = 40 * kMinute, dga_dur = 30 * kMinute;

  // The C&C inside the ISP: a business subscriber's server collects the bots' reports.
  size_t report_sub = 0;
  const Subscriber* rs = choose.business(report_sub);
  IpAddr report = rs->static_addr;

  auto add = [&](const std::string& id, const std::string& kind, const Session& s, IpAddr host, int64_t first,
                 int64_t last, std::vector<std::string> expected, std::string description) {
    Infection inf{id, kind, s.sub, &s, host, first, last, std::move(expected), std::move(description), {}};
    if (host.is_v4()) inf.previous_holders = earlier_holders(isp, s);
    truth.infections.push_back(std::move(inf));
  };
  auto allowed = [&](const Session& s) { return isp.subs[s.sub].warnings_allowed; };
  const std::vector<std::string> mirai_types = {"scan", "darknet", "reputation-dns", "reputation-flow"};
  int64_t first_report = 0, last_report = 0;
  std::set<IpAddr> scan_targets;
  for (const auto& site : net.sites) scan_targets.insert(site.v4);
  auto run_bot = [&](const std::string& id, const Session& s, int64_t t0, bool ddos, const std::string& what) {
    Bot b{em, net, data, s.v4, report, r, scan_targets};
    b.command_channel(t0, t0 + mirai_dur + (ddos ? 10 * kMinute : 0));
    b.scan(t0 + 2 * kMinute, t0 + 27 * kMinute);
    std::vector<std::string> types = mirai_types;
    std::string desc = "Mirai-like IoT bot: resolves the C&C " + data.c2_domain + " at 8.8.8.8, keeps a connection to " +
                       data.c2_addr.str() + ":" + std::to_string(data.c2_port) +
                       ", scans telnet (23/2323) at random addresses, reports logins to " + report.str() + ":" +
                       std::to_string(kReportPort);
    if (ddos) {
      IpAddr target = net.server_v4(r);
      b.flood(t0 + 30 * kMinute, target, 27015, 2, 6000);
      types.push_back("ddos-source");
      desc += "; commanded into a 2-second UDP flood (6000 packets/s) against " + target.str() + ":27015";
    }
    if (b.first_report && (!first_report || b.first_report < first_report)) first_report = b.first_report;
    last_report = std::max(last_report, b.last_report);
    add(id, ddos ? "mirai-ddos" : "mirai-scanner", s, s.v4, t0, b.last, types, desc + what);
  };

  // (a) a bot on a subscriber who allows warnings.
  int64_t t = at_fraction(isp, 8, r);
  run_bot("mirai-1", choose.home(t, t + mirai_dur, allowed, "first Mirai bot"), t, false, "");
  // (b) a DGA-infected computer (IPv4).
  std::vector<std::string> family;
  for (int i = 0; i < 400; ++i) family.push_back(data.dga[r.below(data.dga.size())]);
  std::string registered = r.pick(data.dga);
  IpAddr dga_c2 = net.server_v4(r);
  t = at_fraction(isp, 20, r);
  {
    const Session& s = choose.home(t, t + dga_dur + 2 * kMinute, allowed, "first DGA host");
    int64_t e = dga_burst(em, r, s.v4, net.resolver4, family, registered, dga_c2, t, t + dga_dur);
    add("dga-1", "dga", s, s.v4, t, e, {"nxdomain", "dga"},
        "DGA malware: a burst of lookups of algorithmically generated names (real DGA names), nearly all "
        "NXDOMAIN, until " + registered + " resolves and is contacted");
  }
  // (d) a bot on a subscriber whose terms do not allow warnings (manual queue).
  t = at_fraction(isp, 45, r);
  run_bot("mirai-2", choose.home(t, t + mirai_dur, [&](const Session& s) { return !allowed(s); }, "no-consent bot"),
          t, false, " (the subscriber's terms do not allow warnings)");
  // (e) after the NAS reboot: a bot on an address another subscriber held earlier today.
  t = at_fraction(isp, 62, r);
  {
    const Session& s = choose.home(
        t, t + mirai_dur, [&](const Session& x) { return allowed(x) && !earlier_holders(isp, x).empty(); },
        "bot on a reused address");
    run_bot("mirai-3", s, t, false, " (its address belonged to another subscriber earlier the same day)");
  }
  // (c) a bot that takes part in a DDoS attack.
  t = at_fraction(isp, 70, r);
  run_bot("mirai-4", choose.home(t, t + mirai_dur + 10 * kMinute, allowed, "DDoS bot"), t, true, "");
  // A second DGA host of the same family, over IPv6.
  t = at_fraction(isp, 85, r);
  {
    const Session& s = choose.home(
        t, t + dga_dur + 2 * kMinute, [&](const Session& x) { return allowed(x) && x.v6.len() > 0; },
        "IPv6 DGA host");
    IpAddr host = isp.v6_host(s);
    int64_t e = dga_burst(em, r, host, net.resolver6, family, registered, dga_c2, t, t + dga_dur);
    add("dga-2", "dga", s, host, t, e, {"nxdomain", "dga"},
        "DGA malware of the same family as dga-1, over IPv6 (host inside the delegated prefix " + s.v6.str() + ")");
  }
  // The report server's subscriber.
  if (!first_report) throw std::runtime_error("the bots found nothing to report (window too short)");
  {
    const Session* s = nullptr;
    for (const auto& x : isp.sessions)
      if (x.sub == report_sub) s = &x;
    add("c2-server", "c2-server", *s, report, first_report, last_report, {"c2-candidate"},
        "a business subscriber's server at " + report.str() + " collects the Mirai bots' reports on port " +
            std::to_string(kReportPort) + ": a C&C inside the ISP that no feed lists");
  }
  truth.c2.push_back({data.c2_addr.str() + ":" + std::to_string(data.c2_port) + "/tcp", true,
                      "Mirai C&C from the Maltrail trail " + data.feed_file});
  truth.c2.push_back({data.c2_domain, true, "Mirai C&C name from the Maltrail trail " + data.feed_file});
  truth.c2.push_back({report.str() + ":" + std::to_string(kReportPort) + "/tcp", false,
                      "Mirai report server inside the ISP (business subscriber); in no feed"});
  truth.c2.push_back({dga_c2.str() + ":80/tcp", false,
                      "the DGA family's C&C (" + registered + "); only two hosts reach it"});
  truth.busy_subs = choose.used();
  return truth;
}

}  // namespace omamori::sim
