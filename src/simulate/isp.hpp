// The simulated ISP: subscribers (contract data), access routers (NAS) with
// dynamic address pools, and the subscribers' sessions over the simulated
// window, as RADIUS accounting would record them.
//
// Sessions: most subscribers are already online when the window opens
// (their sessions started up to three days earlier and show up through
// Interim-Updates); sessions end by session timeout (daily re-authentication),
// user request (router reboot), lost carrier, and restart with a *different*
// address drawn at random from the NAS's free pool, so addresses pass from
// one subscriber to another over the day. A few Stops are lost on the way to
// the RADIUS server, and one NAS reboots (Accounting-On): every session on it
// ends without a Stop and reconnects minutes later with new addresses.
// Business subscribers have static addresses (RADIUS Framed-IP-Address from
// their profile) in a separate prefix.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/ip.hpp"
#include "simulate/rng.hpp"

namespace omamori::sim {

inline constexpr int64_t kSecond = 1'000'000;  // microseconds
inline constexpr int64_t kMinute = 60 * kSecond;
inline constexpr int64_t kHour = 60 * kMinute;

struct Subscriber {
  std::string id;        // "K0001234"
  std::string email;
  std::string language;  // ja | en
  bool warnings_allowed = true;
  std::string terms_version;
  std::string service;   // fiber-home | fiber-mansion | business-static
  int nas = 0;           // index into Isp::nas
  bool ipv6 = false;     // gets a delegated IPv6 prefix
  bool business = false;
  IpAddr static_addr;    // business: the fixed address
  std::string mac;       // CPE MAC (Calling-Station-Id)
  uint64_t iid = 0;      // interface id of the household's IPv6 devices
};

enum class SessionEnd : uint8_t {
  Stop,       // Stop record written
  LostStop,   // ended, but the Stop never reached the RADIUS server
  NasReboot,  // ended by the NAS reboot (no Stop; Accounting-On follows)
  Open,       // still up when the window closes
};

struct Session {
  size_t sub = 0;
  int nas = 0;
  std::string session_id;  // Acct-Session-Id
  std::string unique_id;   // Acct-Unique-Session-Id
  IpAddr v4;
  Prefix v6;               // delegated prefix (len 0 = none)
  int64_t start = 0, end = 0;  // microseconds since the epoch; end = real end (also for lost stops)
  SessionEnd end_kind = SessionEnd::Open;
  std::string terminate_cause;  // for Stop
  uint32_t interim_s = 21600;   // Acct-Interim-Interval
  uint64_t in_rate = 0, out_rate = 0;  // bytes per second (for the octet counters)
};

struct Nas {
  std::string name;
  IpAddr ip;
  Prefix pool4;
  Prefix pool6;  // /56s are delegated from it
};

struct NasReboot {
  int nas = 0;
  int64_t at = 0;  // when the Accounting-On was sent
};

struct IspConfig {
  uint64_t seed = 1;
  size_t subscribers = 300;
  int64_t start = 0;  // microseconds since the epoch
  int64_t end = 0;
};

struct Isp {
  IspConfig cfg;
  std::vector<Nas> nas;
  std::vector<Subscriber> subs;
  std::vector<Session> sessions;  // sorted by start
  std::vector<NasReboot> reboots;

  // The session of subscriber `sub` at time t (nullptr when offline).
  const Session* session_at(size_t sub, int64_t t) const;
  // Sessions that held address `a` (v4) or whose prefix holds it (v6), by start.
  std::vector<const Session*> holders(const IpAddr& a) const;
  // An address of the household inside the delegated prefix.
  IpAddr v6_host(const Session& s) const;
};

// Address plan (documentation and benchmarking ranges only).
namespace plan {
inline const char* const kNasPool4[] = {"198.51.100.0/24", "203.0.113.0/24"};
inline const char* const kNasPool6[] = {"2001:db8:1000::/47", "2001:db8:1100::/47"};
inline const char* const kNasAddr[] = {"192.0.2.1", "192.0.2.2"};
inline constexpr const char* kBusiness = "192.0.2.128/25";
inline constexpr const char* kInfrastructure4 = "192.0.2.0/26";
inline constexpr const char* kInfrastructure6 = "2001:db8::/48";
inline constexpr const char* kSubscribers6 = "2001:db8:1000::/36";
inline constexpr const char* kResolver4 = "192.0.2.53";
inline constexpr const char* kResolver6 = "2001:db8::53";
inline constexpr const char* kNtp4 = "192.0.2.123";
inline constexpr const char* kInternet4 = "198.18.0.0/15";        // RFC 2544 benchmarking space stands for the Internet
inline constexpr const char* kInternet6 = "2001:db8:f000::/36";
inline constexpr const char* kDarknet = "198.19.240.0/20";       // unused part of it
}  // namespace plan

Isp build_isp(const IspConfig& cfg);

}  // namespace omamori::sim
