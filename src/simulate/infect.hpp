// The infected (and attacked) subscribers: the ground truth of the bundle
// and the traffic that goes with it.
//
//  - Mirai-like IoT bots: resolve the C&C name (a real Maltrail entry) at
//    8.8.8.8 as Mirai does, keep a TCP connection to the C&C address:port
//    with 2-byte pings, scan random addresses on telnet (23, and 2323 one
//    time in ten) - some of them in unused (darknet) space -, log in to the
//    few that answer, and report each login to a report server. The report
//    server is run from a business subscriber's static address (a C&C inside
//    the ISP's own network that nobody has listed yet).
//  - one of the bots is commanded into a UDP flood against an external host;
//  - DGA-infected computers: bursts of lookups of names from a real DGA
//    list, nearly all NXDOMAIN; one over IPv6;
//  - a business subscriber under a real SYN flood (the DDoS capture is woven
//    in by weave.hpp; its victim is chosen here).
// Infected subscribers are chosen so that one has terms that do not allow
// warnings, and one had, at infection time, an address that another
// subscriber held earlier the same day.
#pragma once

#include <string>
#include <vector>

#include "simulate/background.hpp"
#include "simulate/isp.hpp"
#include "simulate/sources.hpp"

namespace omamori::sim {

struct Infection {
  std::string id;    // "mirai-1"
  std::string kind;  // mirai-scanner, mirai-ddos, dga, ddos-target, c2-server
  size_t sub = 0;
  const Session* session = nullptr;
  IpAddr host;
  int64_t first = 0, last = 0;  // activity window
  std::vector<std::string> expected;  // finding types
  std::string description;
  std::vector<const Session*> previous_holders;  // other subscribers' sessions on `host` earlier in the window
};

struct C2Truth {
  std::string dest;  // "176.65.139.202:1337/tcp", or a name
  bool listed = false;
  std::string description;
};

struct Truth {
  std::vector<Infection> infections;
  std::vector<C2Truth> c2;
  std::vector<size_t> busy_subs;  // subscribers with a part in the story (not reused for woven captures)
};

// Chooses the subscribers and emits the traffic. Throws when the simulated
// ISP has no subscriber that fits (window too short).
Truth infect(const Isp& isp, const Internet& net, const RealData& data, Capture& cap, uint64_t seed);

}  // namespace omamori::sim
