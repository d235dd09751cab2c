// The Internet the subscribers talk to, and their ordinary traffic.
//
// Sites carry real names (the most queried resolved names of a real Zeek
// dns.log first, then benign registered domains) with a Zipf-like
// popularity; their addresses are drawn from 198.18.0.0/15 (RFC 2544
// benchmarking space, standing in for the Internet) and, for some,
// 2001:db8:f000::/36. Every online household now and then visits a site:
// a DNS lookup at the ISP resolver (over IPv6 when the household has a
// delegated prefix and the site an AAAA record), then one or two HTTPS (or
// HTTP) connections; now and then a name that does not exist (real NXDOMAIN
// names of ordinary hosts); the home router asks the ISP's NTP server for
// the time two or three times a day. Visits follow the Japanese day
// (evening peak).
#pragma once

#include <string>
#include <vector>

#include "simulate/emit.hpp"
#include "simulate/isp.hpp"
#include "simulate/sources.hpp"

namespace omamori::sim {

struct Site {
  std::string name;
  IpAddr v4;
  IpAddr v6;  // empty: no AAAA record
  uint16_t port = 443;
};

struct Internet {
  std::vector<Site> sites;
  std::vector<uint64_t> weights;
  IpAddr resolver4, resolver6, ntp4;
  Prefix space4, darknet;
  // A random address of the simulated Internet (scan targets); may fall into the darknet.
  IpAddr random_v4(Rng& r) const;
  // A random address outside the darknet (servers).
  IpAddr server_v4(Rng& r) const;
};

Internet make_internet(const RealData& data, uint64_t seed);

// Background traffic of every subscriber over the window.
void background(const Isp& isp, const Internet& net, const RealData& data, Capture& cap, uint64_t seed);

}  // namespace omamori::sim
