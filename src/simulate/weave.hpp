// Real captures woven into the simulated border capture, time-shifted into
// the window and with their private addresses rewritten to the simulated
// ISP's (IPv4 header and TCP/UDP checksums fixed, Ethernet addresses set to
// the tap's):
//  - the start of a real spoofed TCP SYN flood (StopDDoS packet-captures,
//    victim anonymised to 10.10.10.10) becomes an attack on a business
//    subscriber's static address (ground truth: ddos-target);
//  - small real DNS captures (nDPI test suite, chrissanders/packets) become
//    ordinary subscribers' lookups (background, no finding expected).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "simulate/background.hpp"
#include "simulate/infect.hpp"

namespace omamori::sim {

struct WovenCapture {
  std::string file;    // relative to the shared data directory
  std::string source;  // attribution
  std::string role;
  size_t packets = 0;
  int64_t original_first = 0;  // capture time of the first packet used
  int64_t first = 0, last = 0; // in the bundle
  std::vector<std::pair<std::string, std::string>> rewrites;  // from -> to
  std::string subscriber;
};

// Weaves the captures in; adds the attacked subscriber to the truth.
std::vector<WovenCapture> weave(const Isp& isp, const Internet& net, const RealData& data, Truth& truth, Capture& cap,
                                uint64_t seed);

}  // namespace omamori::sim
