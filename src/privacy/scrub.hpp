// Pseudonymising what leaves the system (docs/privacy.md, "Exports").
//
// An AddressScrubber replaces the addresses of the ISP's own space (the
// `internal` prefixes: subscribers, protected hosts) with their keyed,
// prefix-preserving pseudonyms (Crypto-PAn) wherever they appear: in address
// fields and inside free text (explanations, indicators, evidence values).
// Addresses outside that space (C&C servers, attack sources in other
// networks) stay as they are: they are what partners act on. With no
// internal prefixes, every address is pseudonymised.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/ip.hpp"
#include "core/lpm.hpp"
#include "detect/finding.hpp"
#include "privacy/pseudonym.hpp"

namespace omamori::privacy {

class AddressScrubber {
 public:
  AddressScrubber(const Pseudonymiser& p, const std::vector<Prefix>& internal);

  bool is_internal(const IpAddr& a) const { return all_ || internal_.lookup(a) != nullptr; }
  // The pseudonym of an internal address, else the address itself.
  IpAddr address(const IpAddr& a);
  // Replaces every internal IPv4/IPv6 literal in `s` (also "a.b.c.d:port",
  // "[v6]:port"); returns how many it replaced.
  size_t text(std::string& s);
  // Every address-bearing field of a finding: host, indicator, family,
  // explanation, detail values.
  Finding finding(const Finding& f);

  uint64_t replaced() const { return replaced_; }

 private:
  const Pseudonymiser& p_;
  LpmTable<uint8_t> internal_;
  bool all_ = false;
  uint64_t replaced_ = 0;
};

}  // namespace omamori::privacy
