// The UDP flow collector: receives NetFlow v5/v9, IPFIX and sFlow v5 exports.
//
// Threads:
//   - Per listen address, N worker threads, each with its own SO_REUSEPORT
//     socket, its own receive buffers (recvmmsg batches) and its own
//     FlowDatagramDecoder. The kernel hashes each exporter's 4-tuple to one
//     socket; templates and sampling state learnt by one worker reach the
//     others of its listen address through a TemplateExchange (ordered
//     changes, no lock on the data path), so templates and data may arrive
//     at different workers.
//   - One output thread (the caller of run()) that takes the decoded records
//     from every worker through a bounded lock-free SPSC queue per worker
//     (records travel in batches) and hands them to a FlowSink. When every
//     queue is empty it sleeps on an eventfd that a worker writes only when
//     it publishes a batch while the output thread sleeps: no polling, and
//     no system call per batch while records flow.
// A worker never blocks indefinitely: when its queue stays full for
// queue_wait_us, the records are dropped and counted ("output queue full").
// Kernel drops (socket buffer overflow) are read from SO_RXQ_OVFL and
// /proc/net/udp{,6}. Every drop and every decode error is counted by reason
// (decode errors also by exporter).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/counters.hpp"
#include "core/ip.hpp"
#include "flow/record.hpp"
#include "ingest/netflow/netflow.hpp"

namespace omamori {

// A listen address: "0.0.0.0:2055", "127.0.0.1:2055", "[::]:4739" (IPv6 only),
// "[::1]:9995", ":6343" or "6343" (all addresses, IPv4 and IPv6: dual-stack).
struct ListenAddress {
  IpAddr addr;        // unspecified for "all addresses"
  bool any = false;   // ":PORT" / "PORT": dual-stack wildcard
  bool v6 = false;    // IPv6 socket (also for any)
  uint16_t port = 0;  // 0: the kernel picks one (tests)

  static std::optional<ListenAddress> parse(std::string_view s, std::string& err);
  std::string str() const;
};

struct CollectorConfig {
  std::vector<std::string> listen;       // ListenAddress strings
  unsigned workers = 1;                  // worker threads (sockets) per listen address
  int rcvbuf = 32 << 20;                 // SO_RCVBUF(FORCE) bytes per socket
  unsigned batch = 64;                   // datagrams per recvmmsg call
  size_t max_datagram = 65535;           // receive buffer per datagram; longer ones are counted as truncated
  size_t queue_records = 1 << 16;        // per-worker output queue capacity, in records
  int64_t queue_wait_us = 2000;          // how long a worker waits for queue space before dropping
  std::string templates;                 // template state file ("" = none)
  double template_save_interval = 60;    // seconds; 0 = only at stop
  double stats_interval = 0;             // seconds between periodic stats (0 = none)
  uint64_t count = 0;                    // stop after this many records (0 = no limit)
  double duration = 0;                   // stop after this many seconds (0 = no limit)
  NetflowConfig netflow;
};

// One worker's counters, as last published (at most ~0.5 s old while running,
// exact after run() returned).
struct WorkerStats {
  std::string listen;  // the listen address as given
  uint16_t port = 0;   // bound port
  unsigned worker = 0;
  uint64_t datagrams = 0;
  uint64_t bytes = 0;
  uint64_t records = 0;           // records decoded (before the output queue)
  uint64_t decode_errors = 0;     // sum of all decode error counters
  uint64_t queue_full_drops = 0;  // records dropped: output queue full
  uint64_t truncated_drops = 0;   // datagrams longer than max_datagram (not decoded)
  uint64_t kernel_drops = 0;      // datagrams dropped by the kernel (socket buffer full)
  uint64_t receive_errors = 0;    // recvmmsg failures other than timeouts
  uint64_t templates_saved = 0;   // successful template saves by this worker
  uint64_t templates_expired = 0; // templates aged out (NetflowConfig::template_timeout_ms)
  uint64_t templates_shared = 0;  // template definitions learnt from the other workers of its listen address
  ReasonCounters errors;          // decode errors by reason and exporter
  ReasonCounters drops;           // drops by reason
};

struct CollectorTotals {
  uint64_t datagrams = 0, bytes = 0, records = 0, output = 0, decode_errors = 0, queue_full_drops = 0,
           truncated_drops = 0, kernel_drops = 0, receive_errors = 0;
  uint64_t drops() const { return queue_full_drops + truncated_drops + kernel_drops; }
};

class Collector {
 public:
  explicit Collector(CollectorConfig cfg);
  ~Collector();
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  // Parses the listen addresses, opens and binds every socket and loads the
  // template file. False with err on failure (nothing keeps running).
  bool open(std::string& err);
  // The bound port of each listen address, in config order (after open()).
  std::vector<uint16_t> ports() const;

  // Starts the workers and runs the output loop on the calling thread until
  // stop(), --count or --duration; then drains the queues, joins the workers,
  // saves templates and returns. Periodic stats go to stats_out (if not null).
  void run(FlowSink& sink, std::FILE* stats_out = nullptr);
  // Asks run() to finish. Async-signal-safe; callable from any thread.
  void stop() { stop_.store(true, std::memory_order_relaxed); }
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }

  // Called by the output thread when it is idle and at the end, so that a
  // buffered writer can flush (set before run()).
  void set_idle_hook(std::function<void()> f);

  std::vector<WorkerStats> worker_stats() const;
  CollectorTotals totals() const;
  uint64_t records_output() const { return output_.load(std::memory_order_relaxed); }
  // Decode errors of all workers merged (by reason and exporter).
  ReasonCounters all_errors() const;
  ReasonCounters all_drops() const;
  // Human-readable stats block: one total line, one line per worker.
  std::string format_stats(bool with_reasons) const;
  // True once every worker has its socket open and is receiving.
  bool receiving() const;

  struct Worker;
  // Wakes the sleeping output thread (workers call notify() after publishing a batch).
  struct Waker {
    int fd = -1;  // eventfd
    std::atomic<bool> sleeping{false};
    void notify();
  };

 private:
  void worker_main(Worker& w);
  bool save_merged_templates(bool remove_parts, std::string& err);

  CollectorConfig cfg_;
  std::vector<ListenAddress> addrs_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> output_{0};
  std::atomic<uint64_t> save_gen_{0};
  Waker waker_;
  std::function<void()> idle_hook_;
  int64_t started_ms_ = 0;
};

}  // namespace omamori
