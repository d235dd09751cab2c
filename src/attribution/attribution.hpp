// Attribution: which subscriber had a given address (or address and port
// behind carrier-grade NAT) at a given time. The plain data type that the
// session index produces and that cases consume; neither side sees the
// other's internals.
#pragma once

#include <cstdint>
#include <string>

#include "core/ip.hpp"
#include "core/time.hpp"

namespace omamori {

enum class AttributionMatch : uint8_t {
  kAddress,      // Framed-IP-Address of a session
  kPrefix,       // inside a Framed-IPv6-Prefix / Delegated-IPv6-Prefix
  kAddressPort,  // public address + port through a CGNAT port-block allocation
};

struct Attribution {
  std::string subscriber;     // the subscriber id (RADIUS User-Name, or Class where configured)
  std::string session_id;     // Acct-Session-Id (or the CGNAT allocation's id)
  IpAddr nas;                 // NAS-IP-Address (or the CGNAT box)
  IpAddr inside;              // CGNAT: the internal address; otherwise the looked-up address
  TimeMs session_start = 0;   // when the session (or port block) began
  TimeMs session_end = 0;     // when it ended; 0 while still open
  AttributionMatch match = AttributionMatch::kAddress;
};

}  // namespace omamori
