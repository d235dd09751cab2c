// Plain data of the attribution component: accounting events (from the
// RADIUS server or a detail file), whole sessions (from radacct exports or
// the store), and CGNAT port-block events and rows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/ip.hpp"
#include "core/time.hpp"

namespace omamori {

enum class AcctKind : uint8_t { kStart, kInterim, kStop, kNasOn, kNasOff };

// One accounting request, already decoded and timed.
struct AcctEvent {
  AcctKind kind = AcctKind::kStart;
  TimeMs time = 0;  // Event-Timestamp, else receive time minus Acct-Delay-Time
  IpAddr nas;       // NAS-IP-Address / NAS-IPv6-Address, else the sender's address
  std::string subscriber;  // User-Name (or Class, see SubscriberAttr)
  std::string session_id;  // Acct-Session-Id
  std::string calling_station;
  std::string class_attr;
  IpAddr framed_ip;                 // empty: none
  std::optional<Prefix> framed_v6;  // Framed-IPv6-Prefix / Framed-IPv6-Address
  std::optional<Prefix> delegated;  // Delegated-IPv6-Prefix
  int64_t session_time_s = -1;      // Acct-Session-Time, -1: absent
  int64_t interim_ms = 0;           // Acct-Interim-Interval, 0: absent
};

// Which attribute names the subscriber.
enum class SubscriberAttr : uint8_t { kUserName, kClass };

// How a session ended (stored; shown by `who`).
enum class EndCause : uint8_t { kOpen = 0, kStop = 1, kNasOn = 2, kNasOff = 3, kImported = 4, kReplaced = 5 };

// A session as stored and as given to the index builder.
struct SessionRow {
  int64_t id = 0;  // store row id (load order; later rows win ties)
  IpAddr nas;
  std::string session_id;
  std::string subscriber;
  std::string calling_station;
  std::string class_attr;
  IpAddr framed_ip;
  std::optional<Prefix> framed_v6;
  std::optional<Prefix> delegated;
  TimeMs start = 0;
  TimeMs end = 0;  // 0: open (no Stop yet)
  TimeMs last_seen = 0;
  int64_t interim_ms = 0;
  EndCause cause = EndCause::kOpen;
};

// A CGNAT port-block allocation or release.
struct PortBlockEvent {
  bool alloc = true;  // false: release
  TimeMs time = 0;
  IpAddr box;  // the CGNAT device (from the log; empty if the format has none)
  IpAddr inside;
  IpAddr outside;
  uint16_t port_lo = 0, port_hi = 0;  // inclusive
};

struct PortBlockRow {
  int64_t id = 0;
  IpAddr box, inside, outside;
  uint16_t port_lo = 0, port_hi = 0;
  TimeMs start = 0;
  TimeMs end = 0;  // 0: still allocated
};

}  // namespace omamori
