// A dnstap receiver: listens on a Unix or TCP socket for Frame Streams
// connections from resolvers (Unbound dnstap-socket-path / dnstap-ip, BIND
// dnstap-output unix, Knot mod-dnstap, dnsdist) and turns each data frame into
// DnsEvents.
//
// Both Frame Streams modes are served: bidirectional (READY -> ACCEPT, START,
// data, STOP -> FINISH), which is what resolvers speak on sockets, and
// unidirectional (START, data, STOP). One thread runs every connection with
// poll(); the sink is called from that thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/counters.hpp"
#include "ingest/dns/dnstap.hpp"
#include "ingest/dns/event.hpp"

namespace omamori {

struct DnstapListenerOptions {
  size_t max_connections = 256;
  size_t max_frame = 1 << 20;  // larger data frames close the connection (counted)
  int socket_mode = -1;        // Unix socket permissions (e.g. 0660); -1 leaves the umask's
};

class DnstapListener {
 public:
  // Binds a Unix stream socket at path (a stale socket file there is replaced).
  static std::unique_ptr<DnstapListener> unix_socket(const std::string& path, std::string& err,
                                                     DnstapListenerOptions opt = {});
  // Binds "ADDR:PORT" or "[V6ADDR]:PORT"; port 0 picks a free port (see port()).
  static std::unique_ptr<DnstapListener> tcp(const std::string& addr_port, std::string& err,
                                             DnstapListenerOptions opt = {});
  ~DnstapListener();
  DnstapListener(const DnstapListener&) = delete;
  DnstapListener& operator=(const DnstapListener&) = delete;

  // Serves connections until stop(); events go to sink from the calling thread.
  void run(DnsSink& sink);
  // Makes run() return soon; safe from other threads and signal handlers.
  void stop();

  uint16_t port() const { return port_; }
  const std::string& path() const { return path_; }

  // Readable from any thread while running.
  uint64_t connections() const { return connections_.load(std::memory_order_relaxed); }
  uint64_t frames() const { return frames_.load(std::memory_order_relaxed); }
  uint64_t events() const { return events_.load(std::memory_order_relaxed); }
  uint64_t finished() const { return finished_.load(std::memory_order_relaxed); }  // clean STOP/FINISH closes
  // Read these after run() has returned.
  const ReasonCounters& errors() const { return errors_; }
  const DnstapDecoder& decoder() const { return decoder_; }

 private:
  struct Conn;
  explicit DnstapListener(DnstapListenerOptions opt);
  bool setup_wake(std::string& err);
  void accept_all();
  // Returns false when the connection must be closed.
  bool on_readable(Conn& c, DnsSink& sink);

  DnstapListenerOptions opt_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  bool is_unix_ = false;
  std::string path_;
  uint16_t port_ = 0;
  std::vector<std::unique_ptr<Conn>> conns_;
  DnstapDecoder decoder_;
  ReasonCounters errors_;
  std::atomic<uint64_t> connections_{0}, frames_{0}, events_{0}, finished_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace omamori
