// The RADIUS accounting server (RFC 2866 over UDP).
//
// One thread, one socket per listen address (IPv4 and IPv6). Each receive
// round drains the sockets, checks every Accounting-Request (known NAS,
// Request Authenticator with that NAS's shared secret, well-formed), applies
// the batch to the SessionStore in one transaction, and only then answers
// each request with an Accounting-Response (RFC 2866: no response before the
// record is stored). A retransmission (same source address and port,
// Identifier and Request Authenticator within the duplicate window) is
// answered again but applied once. Packets that fail a check get no answer
// and are counted by reason and source, and logged (rate-limited).
#pragma once

#include <absl/container/flat_hash_map.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "attribution/radius.hpp"
#include "attribution/session.hpp"
#include "attribution/store.hpp"
#include "core/counters.hpp"
#include "core/log.hpp"

namespace omamori {

struct NasClient {
  Prefix net;  // a NAS address, or a network of NASes sharing one secret
  std::string secret;
};

// Parses "ADDRESS[/LEN]=SECRET" (the --nas option) or "ADDRESS[/LEN] SECRET" (a --nas-file line).
std::optional<NasClient> parse_nas_client(std::string_view s, char sep, std::string& err);
// Reads a NAS secrets file; refuses files that group or others can read or write.
std::vector<NasClient> read_nas_file(const std::string& path);

struct RadiusServerConfig {
  std::vector<std::string> listen;      // "127.0.0.1:1813", "[::1]:1813", ":1813" (dual stack)
  std::vector<NasClient> clients;
  int64_t dedup_window_ms = 30000;      // how long a request is remembered as answered
  size_t dedup_max = 1 << 20;           // entries at most (oldest dropped first)
  SubscriberAttr subscriber = SubscriberAttr::kUserName;
  size_t batch = 256;                   // requests per transaction at most
};

class AccountingServer {
 public:
  AccountingServer(RadiusServerConfig cfg, SessionStore& store);
  ~AccountingServer();

  bool open(std::string& err);
  std::vector<uint16_t> ports() const;  // bound ports, in listen order
  const std::vector<std::string>& listen() const { return cfg_.listen; }
  // Runs until stop(); prints stats to stats_out when request_stats() was called.
  void run(std::FILE* stats_out = nullptr);
  void stop() { stop_.store(true); }            // async-signal-safe
  void request_stats() { stats_.store(true); }  // async-signal-safe

  struct Counts {
    uint64_t received = 0, answered = 0, duplicates = 0, applied = 0, store_failures = 0;
    uint64_t by_status[9] = {};  // Acct-Status-Type 1..8 applied
  };
  const Counts& counts() const { return counts_; }
  const ReasonCounters& errors() const { return errors_; }   // rejected packets, by reason and NAS
  const ReasonCounters& results() const { return results_; }  // what the store did with each event
  std::string format_stats() const;

  // One datagram, as the receive loop handles it (tests, fuzzing): returns
  // true if it was accepted (answered after commit). Fills event when it must be applied.
  bool accept(std::span<const uint8_t> dgram, const IpAddr& src, uint16_t port, TimeMs now, AcctEvent& event,
              bool& apply, uint8_t response[20]);

 private:
  struct DedupKey {
    IpAddr src;
    uint16_t port;
    uint8_t id;
    std::array<uint8_t, 16> auth;
    bool operator==(const DedupKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const DedupKey& k) {
      return H::combine(std::move(h), k.src, k.port, k.id, k.auth);
    }
  };
  const NasClient* find_client(const IpAddr& src) const;
  void expire(TimeMs now);
  void forget(const DedupKey& k);
  void reject(const IpAddr& src, const char* reason);

  RadiusServerConfig cfg_;
  SessionStore& store_;
  std::vector<int> fds_;
  std::vector<uint16_t> ports_;
  std::atomic<bool> stop_{false}, stats_{false};
  radius::Md5 md5_;
  absl::flat_hash_map<DedupKey, TimeMs> dedup_;  // -> expiry
  std::deque<std::pair<TimeMs, DedupKey>> dedup_order_;
  Counts counts_;
  ReasonCounters errors_, results_;
  RateLimit log_limit_;
  radius::AccountingRequest req_;  // reused per packet
};

}  // namespace omamori
