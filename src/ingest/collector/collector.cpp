#include "ingest/collector/collector.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/log.hpp"
#include "core/time.hpp"
#include "ingest/collector/spsc_queue.hpp"
#include "ingest/flow_decoder.hpp"
#include "ingest/netflow/exchange.hpp"

namespace omamori {

namespace {

constexpr size_t kBatchRecords = 64;
constexpr int kRecvTimeoutMs = 100;      // how often an idle worker looks at the stop flag
constexpr TimeMs kPublishEveryMs = 500;  // workers publish their error counters this often
constexpr TimeMs kIdleHookMs = 100;      // the idle hook's period while idle; the longest idle sleep

struct Batch {
  uint32_t n = 0;
  FlowRecord recs[kBatchRecords];
};

void sleep_us(long us) {
  timespec ts{us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, nullptr);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

int64_t steady_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

IpAddr sockaddr_ip(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
    return IpAddr::v4_bytes(reinterpret_cast<const uint8_t*>(&s4->sin_addr));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    // An IPv4 sender on a dual-stack socket arrives as ::ffff:a.b.c.d, which
    // is exactly how IpAddr holds IPv4.
    return IpAddr::v6_bytes(reinterpret_cast<const uint8_t*>(&s6->sin6_addr));
  }
  return IpAddr();
}

// The "drops" column of /proc/net/udp and /proc/net/udp6 for the socket with
// this inode (0 if not found).
uint64_t proc_udp_drops(uint64_t inode) {
  for (const char* path : {"/proc/net/udp", "/proc/net/udp6"}) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string f[13];
      int k = 0;
      while (k < 13 && ls >> f[k]) ++k;
      if (k < 13) continue;
      if (std::strtoull(f[9].c_str(), nullptr, 10) == inode) return std::strtoull(f[12].c_str(), nullptr, 10);
    }
  }
  return 0;
}

uint64_t decoder_error_total(const FlowDatagramDecoder& d) {
  return d.errors().total() + d.netflow().errors().total() + d.sflow().errors().total();
}

// Puts decoded records into the worker's output queue, a batch at a time.
class QueueSink final : public FlowSink {
 public:
  QueueSink(SpscQueue<Batch>& q, int64_t wait_us, Collector::Waker& waker) : q_(q), wait_us_(wait_us), waker_(waker) {}

  void on_flow(const FlowRecord& r) override {
    ++records_;
    if (!slot_ && !acquire()) {
      ++dropped_;
      return;
    }
    slot_->recs[slot_->n++] = r;
    if (slot_->n == kBatchRecords) {
      q_.push();
      waker_.notify();
      slot_ = nullptr;
    }
  }
  // Publishes a partly filled batch (end of a receive batch) and ends a congestion episode.
  void flush() {
    if (slot_ && slot_->n) {
      q_.push();
      waker_.notify();
      slot_ = nullptr;
    }
    congested_ = false;
  }
  uint64_t records() const { return records_; }
  uint64_t dropped() const { return dropped_; }

 private:
  // A free slot; waits up to wait_us for one, once per receive batch: when
  // the queue stays full the rest of the batch is dropped without waiting.
  bool acquire() {
    slot_ = q_.producer_slot();
    if (!slot_ && !congested_) {
      int64_t deadline = steady_us() + wait_us_;
      for (unsigned spin = 0; !slot_; ++spin) {
        if (spin < 64) {
          cpu_relax();
        } else if (spin < 96) {
          sched_yield();
        } else {
          if (steady_us() >= deadline) break;
          sleep_us(20);
        }
        slot_ = q_.producer_slot();
      }
      if (!slot_) congested_ = true;
    }
    if (!slot_) return false;
    slot_->n = 0;
    return true;
  }

  SpscQueue<Batch>& q_;
  int64_t wait_us_;
  Collector::Waker& waker_;
  Batch* slot_ = nullptr;
  bool congested_ = false;
  uint64_t records_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------

std::optional<ListenAddress> ListenAddress::parse(std::string_view s, std::string& err) {
  ListenAddress a;
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      err = fmt::format("listen address '{}': expected [IPV6]:PORT", s);
      return std::nullopt;
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      port = s;
    } else {
      if (s.find(':') != colon) {
        err = fmt::format("listen address '{}': put IPv6 addresses in brackets, e.g. [::1]:2055", s);
        return std::nullopt;
      }
      host = s.substr(0, colon);
      port = s.substr(colon + 1);
    }
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
      std::stoul(std::string(port)) > 65535) {
    err = fmt::format("listen address '{}': bad port '{}'", s, port);
    return std::nullopt;
  }
  a.port = static_cast<uint16_t>(std::stoul(std::string(port)));
  if (host.empty() || host == "*") {
    a.any = true;
    a.v6 = true;
    return a;
  }
  auto ip = IpAddr::parse(host);
  if (!ip) {
    err = fmt::format("listen address '{}': bad address '{}'", s, host);
    return std::nullopt;
  }
  a.addr = *ip;
  // "[::ffff:a.b.c.d]" is an IPv6 socket address; IpAddr cannot tell, so go by the brackets.
  a.v6 = s.front() == '[';
  return a;
}

std::string ListenAddress::str() const {
  if (any) return fmt::format(":{}", port);
  if (v6) return fmt::format("[{}]:{}", addr.str(), port);
  return fmt::format("{}:{}", addr.str(), port);
}

namespace {

// Opens one SO_REUSEPORT socket bound to a (port 0 = kernel's choice).
int open_socket(const ListenAddress& a, uint16_t port, int rcvbuf, std::string& err) {
  bool v6 = a.v6;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 && a.any && errno == EAFNOSUPPORT) {
    v6 = false;  // no IPv6 on this host: all IPv4 addresses
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  }
  if (fd < 0) {
    err = fmt::format("listen {}: socket: {}", a.str(), std::strerror(errno));
    return -1;
  }
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    err = fmt::format("listen {}: SO_REUSEPORT: {}", a.str(), std::strerror(errno));
    ::close(fd);
    return -1;
  }
  if (v6) {
    int v6only = a.any ? 0 : 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  }
  if (rcvbuf > 0) {
    // SO_RCVBUFFORCE passes net.core.rmem_max when we have CAP_NET_ADMIN.
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int got = 0;
    socklen_t gl = sizeof got;
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl);
    // The kernel reports twice the usable size.
    if (got / 2 < rcvbuf / 2)
      spdlog::warn("collector: listen={} receive buffer is {} bytes, asked for {} (raise net.core.rmem_max or run "
                   "with CAP_NET_ADMIN)",
                   a.str(), got / 2, rcvbuf);
  }
  setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
  timeval tv{0, kRecvTimeoutMs * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    if (!a.any) std::memcpy(&s6->sin6_addr, a.addr.bytes(), 16);
    len = sizeof(sockaddr_in6);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    s4->sin_addr.s_addr = a.any ? htonl(INADDR_ANY) : htonl(a.addr.v4_host_order());
    len = sizeof(sockaddr_in);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    err = fmt::format("listen {}: bind: {}", a.str(), std::strerror(errno));
    ::close(fd);
    return -1;
  }
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

}  // namespace

// ---------------------------------------------------------------------------

struct Collector::Worker {
  explicit Worker(size_t queue_slots, NetflowConfig nf) : dec(nf), queue(queue_slots) {}
  ~Worker() {
    if (fd >= 0) ::close(fd);
  }

  unsigned index = 0;  // among the workers of its listen address
  std::string listen;
  uint16_t port = 0;
  int fd = -1;
  uint64_t inode = 0;
  std::string template_path;  // where this worker saves its template state
  FlowDatagramDecoder dec;    // touched only by the worker thread while it runs
  SpscQueue<Batch> queue;
  std::thread thread;

  // Live counters: written by the worker only, read by anyone.
  std::atomic<uint64_t> datagrams{0}, bytes{0}, records{0}, decode_errors{0}, queue_drops{0}, truncated{0},
      kernel_rxq{0}, recv_errors{0}, templates_saved{0}, templates_expired{0}, templates_shared{0};
  std::atomic<bool> running{false}, done{false};
  std::atomic<uint64_t> saved_gen{0};

  mutable std::mutex mu;
  ReasonCounters pub_errors;  // guarded by mu: a copy of the decoder's error counters
};

// The publish (queue push, release) and the load of `sleeping` are ordered by
// a full fence, as are the output thread's store of `sleeping` and its look at
// the queues: either the worker sees the sleeper and writes the eventfd, or
// the output thread sees the batch and does not sleep.
void Collector::Waker::notify() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleeping.load(std::memory_order_relaxed)) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
  }
}

Collector::Collector(CollectorConfig cfg) : cfg_(std::move(cfg)) {
  waker_.fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

Collector::~Collector() {
  stop();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
  if (waker_.fd >= 0) ::close(waker_.fd);
}

void Collector::set_idle_hook(std::function<void()> f) { idle_hook_ = std::move(f); }

bool Collector::open(std::string& err) {
  if (waker_.fd < 0) {
    err = std::string("cannot create the output thread's eventfd: ") + std::strerror(errno);
    return false;
  }
  if (cfg_.listen.empty()) {
    err = "no listen address (--listen ADDR:PORT)";
    return false;
  }
  if (cfg_.workers == 0 || cfg_.workers > 256) {
    err = "workers must be between 1 and 256";
    return false;
  }
  if (cfg_.batch == 0 || cfg_.batch > 1024) {
    err = "batch must be between 1 and 1024";
    return false;
  }
  if (cfg_.max_datagram < 512 || cfg_.max_datagram > 65535) cfg_.max_datagram = 65535;
  for (const auto& s : cfg_.listen) {
    auto a = ListenAddress::parse(s, err);
    if (!a) return false;
    addrs_.push_back(*a);
  }
  size_t slots = std::max<size_t>(2, (cfg_.queue_records + kBatchRecords - 1) / kBatchRecords);
  // With several workers per listen address they share one template state
  // (netflow/exchange.hpp), and the first of them saves it for all.
  const bool shared = cfg_.workers > 1;
  size_t savers = shared ? addrs_.size() : addrs_.size() * cfg_.workers;
  for (size_t ai = 0; ai < addrs_.size(); ++ai) {
    uint16_t port = addrs_[ai].port;
    std::shared_ptr<netflow::TemplateExchange> exchange;
    if (shared) exchange = std::make_shared<netflow::TemplateExchange>(cfg_.netflow.max_templates);
    for (unsigned wi = 0; wi < cfg_.workers; ++wi) {
      auto w = std::make_unique<Worker>(slots, cfg_.netflow);
      if (exchange) w->dec.netflow().share(exchange);
      w->index = wi;
      w->listen = cfg_.listen[ai];
      w->fd = open_socket(addrs_[ai], port, cfg_.rcvbuf, err);
      if (w->fd < 0) {
        workers_.clear();
        return false;
      }
      // With port 0 the first socket gets a port from the kernel; the others join it.
      if (port == 0) port = bound_port(w->fd);
      w->port = port;
      struct stat st {};
      if (fstat(w->fd, &st) == 0) w->inode = st.st_ino;
      if (!cfg_.templates.empty() && (!shared || wi == 0))
        w->template_path = savers == 1 ? cfg_.templates : fmt::format("{}.part{}", cfg_.templates, workers_.size());
      workers_.push_back(std::move(w));
    }
  }
  if (!cfg_.templates.empty()) {
    std::error_code ec;
    if (std::filesystem::exists(cfg_.templates, ec)) {
      // Every worker learns every saved template: after a restart the kernel
      // may hash an exporter to another socket. Workers that share their
      // state learn it from the first of them.
      bool ok = true;
      for (auto& w : workers_) {
        if (shared && w->index != 0) continue;
        std::string e;
        if (!w->dec.netflow().load_templates(cfg_.templates, e)) {
          spdlog::warn("collector: templates={} not loaded: {} (starting without saved templates)", cfg_.templates,
                       e);
          ok = false;
          break;
        }
      }
      if (ok) spdlog::info("collector: templates loaded from {}", cfg_.templates);
    } else {
      spdlog::info("collector: no template file {} yet; starting without saved templates", cfg_.templates);
    }
  }
  return true;
}

std::vector<uint16_t> Collector::ports() const {
  std::vector<uint16_t> p;
  for (size_t i = 0; i < workers_.size(); i += cfg_.workers) p.push_back(workers_[i]->port);
  return p;
}

bool Collector::receiving() const {
  for (const auto& w : workers_)
    if (!w->running.load(std::memory_order_acquire)) return false;
  return !workers_.empty();
}

void Collector::worker_main(Worker& w) {
  const unsigned B = cfg_.batch;
  const size_t dlen = cfg_.max_datagram;
  std::vector<uint8_t> buf(B * dlen);
  std::vector<mmsghdr> msgs(B);
  std::vector<iovec> iov(B);
  std::vector<sockaddr_storage> names(B);
  struct alignas(cmsghdr) Ctl {
    uint8_t b[CMSG_SPACE(sizeof(uint32_t)) + 64];
  };
  std::vector<Ctl> ctl(B);
  for (unsigned i = 0; i < B; ++i) {
    iov[i] = {buf.data() + i * dlen, dlen};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  QueueSink sink(w.queue, cfg_.queue_wait_us, waker_);
  RateLimit log_limit(5, 10000);
  std::map<std::string, uint64_t> logged;  // error counts by reason at the last log message
  uint64_t datagrams = 0, bytes = 0, truncated = 0, recv_errors = 0, kernel = 0;
  uint64_t err_total = decoder_error_total(w.dec);
  TimeMs next_publish = 0;

  auto publish = [&] {
    w.templates_expired.store(w.dec.netflow().stats().templates_expired, std::memory_order_relaxed);
    w.templates_shared.store(w.dec.netflow().stats().templates_shared, std::memory_order_relaxed);
    std::lock_guard lk(w.mu);
    w.pub_errors = w.dec.all_errors();
  };
  auto save_templates = [&] {
    if (w.template_path.empty()) return;
    std::string e;
    if (w.dec.netflow().save_templates(w.template_path, e))
      w.templates_saved.fetch_add(1, std::memory_order_relaxed);
    else
      spdlog::warn("collector: saving templates to {} failed: {}", w.template_path, e);
  };
  auto log_errors = [&](const IpAddr& from, size_t len) {
    if (!log_limit.allow()) return;
    std::string reasons;
    for (const auto& row : w.dec.all_errors().snapshot(false)) {
      uint64_t& seen = logged[row.reason];
      if (row.count > seen) {
        if (!reasons.empty()) reasons += "; ";
        reasons += row.reason;
        seen = row.count;
      }
    }
    spdlog::warn("collector: malformed flow export: exporter={} listen={} worker={} bytes={} reason=\"{}\" "
                 "(at most 5 messages per 10 s; {} suppressed so far)",
                 from.str(), w.listen, w.index, len, reasons, log_limit.suppressed());
  };
  auto process = [&](int n, TimeMs now) {
    for (int i = 0; i < n; ++i) {
      msghdr& h = msgs[i].msg_hdr;
      for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
          uint32_t v;
          std::memcpy(&v, CMSG_DATA(c), sizeof v);
          if (v > kernel) kernel = v;
        }
      }
      size_t len = msgs[i].msg_len;
      ++datagrams;
      bytes += len;
      if (h.msg_flags & MSG_TRUNC) {
        ++truncated;
        continue;
      }
      IpAddr from = sockaddr_ip(names[i]);
      w.dec.decode(from, now, {buf.data() + i * dlen, len}, sink);
      uint64_t et = decoder_error_total(w.dec);
      if (et != err_total) {
        err_total = et;
        log_errors(from, len);
      }
    }
    sink.flush();
    w.datagrams.store(datagrams, std::memory_order_relaxed);
    w.bytes.store(bytes, std::memory_order_relaxed);
    w.records.store(sink.records(), std::memory_order_relaxed);
    w.queue_drops.store(sink.dropped(), std::memory_order_relaxed);
    w.truncated.store(truncated, std::memory_order_relaxed);
    w.kernel_rxq.store(kernel, std::memory_order_relaxed);
    w.decode_errors.store(err_total, std::memory_order_relaxed);
  };
  auto receive = [&](int flags) {
    for (unsigned i = 0; i < B; ++i) {
      msghdr& h = msgs[i].msg_hdr;
      h.msg_name = &names[i];
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_control = ctl[i].b;
      h.msg_controllen = sizeof(ctl[i].b);
      h.msg_flags = 0;
      msgs[i].msg_len = 0;
    }
    return recvmmsg(w.fd, msgs.data(), B, flags, nullptr);
  };

  w.running.store(true, std::memory_order_release);
  uint64_t my_gen = 0;
  while (!stopping()) {
    int n = receive(MSG_WAITFORONE);
    TimeMs now = now_ms();
    // What the other workers learnt (held data it completes is decoded), and
    // template ageing while idle; per datagram decode() does the same.
    w.dec.netflow().sync(now, sink);
    if (n > 0) {
      process(n, now);
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      w.recv_errors.store(++recv_errors, std::memory_order_relaxed);
      spdlog::error("collector: listen={} worker={} recvmmsg: {}", w.listen, w.index, std::strerror(errno));
      sleep_us(10000);
    }
    if (n <= 0) sink.flush();
    if (now >= next_publish) {
      publish();
      next_publish = now + kPublishEveryMs;
    }
    uint64_t gen = save_gen_.load(std::memory_order_acquire);
    if (gen != my_gen) {
      my_gen = gen;
      save_templates();
      w.saved_gen.store(gen, std::memory_order_release);
    }
  }
  // Stopping: take what the socket already holds, then finish.
  for (int rounds = 0; rounds < 100000; ++rounds) {
    int n = receive(MSG_DONTWAIT);
    if (n <= 0) break;
    process(n, now_ms());
  }
  sink.flush();
  w.dec.finish();
  w.decode_errors.store(decoder_error_total(w.dec), std::memory_order_relaxed);
  publish();
  save_templates();
  w.saved_gen.store(save_gen_.load(std::memory_order_acquire), std::memory_order_release);
  w.done.store(true, std::memory_order_release);
}

bool Collector::save_merged_templates(bool remove_parts, std::string& err) {
  size_t savers = 0;
  for (const auto& w : workers_) savers += !w->template_path.empty();
  if (cfg_.templates.empty() || savers <= 1) return true;
  NetflowDecoder merged(cfg_.netflow);
  size_t loaded = 0;
  std::error_code ec;
  for (const auto& w : workers_) {
    if (w->template_path.empty() || !std::filesystem::exists(w->template_path, ec)) continue;
    if (!merged.load_templates(w->template_path, err)) return false;
    ++loaded;
  }
  if (loaded == 0) return true;
  if (!merged.save_templates(cfg_.templates, err)) return false;
  // Parts stay until the end: a stopping worker may be writing its last one while we merge.
  if (remove_parts)
    for (const auto& w : workers_)
      if (!w->template_path.empty()) std::filesystem::remove(w->template_path, ec);
  return true;
}

void Collector::run(FlowSink& sink, std::FILE* stats_out) {
  started_ms_ = now_ms();
  for (auto& w : workers_) {
    Worker* wp = w.get();
    wp->thread = std::thread([this, wp] { worker_main(*wp); });
  }
  const uint64_t limit = cfg_.count;
  const TimeMs deadline = cfg_.duration > 0 ? started_ms_ + static_cast<TimeMs>(cfg_.duration * 1000) : 0;
  const TimeMs stats_every = static_cast<TimeMs>(cfg_.stats_interval * 1000);
  const TimeMs save_every = static_cast<TimeMs>(cfg_.template_save_interval * 1000);
  TimeMs next_stats = started_ms_ + stats_every;
  TimeMs next_save = started_ms_ + save_every;
  uint64_t merged_gen = 0;
  uint64_t out = 0;
  CollectorTotals prev{};
  TimeMs prev_ms = started_ms_;
  bool idle = false;  // nothing was delivered last time round
  TimeMs next_hook = 0;

  auto deliver = [&](Worker& w, unsigned max_batches) {
    bool any = false;
    for (unsigned k = 0; k < max_batches; ++k) {
      Batch* b = w.queue.front();
      if (!b) break;
      any = true;
      for (uint32_t i = 0; i < b->n; ++i) {
        if (limit && out >= limit) break;
        sink.on_flow(b->recs[i]);
        ++out;
      }
      w.queue.pop();
    }
    return any;
  };
  auto maybe_merge = [&] {
    uint64_t gen = save_gen_.load(std::memory_order_relaxed);
    if (gen == merged_gen || workers_.size() <= 1) return;
    for (const auto& w : workers_)
      if (w->saved_gen.load(std::memory_order_acquire) != gen && !w->done.load(std::memory_order_acquire)) return;
    merged_gen = gen;
    std::string err;
    if (!save_merged_templates(false, err)) spdlog::warn("collector: merging template state failed: {}", err);
  };

  for (;;) {
    bool any = false;
    for (auto& w : workers_) any |= deliver(*w, 32);
    output_.store(out, std::memory_order_relaxed);
    if (limit && out >= limit) stop();
    TimeMs now = now_ms();
    if (deadline && now >= deadline) stop();
    if (stats_out && stats_every > 0 && now >= next_stats) {
      CollectorTotals t = totals();
      double secs = std::max<double>(1e-3, (now - prev_ms) / 1000.0);
      fmt::print(stats_out, "{}collector: last {:.1f}s: {:.0f} datagrams/s, {:.0f} records/s, {} new drops\n",
                 format_stats(false), secs, (t.datagrams - prev.datagrams) / secs,
                 (t.records - prev.records) / secs, t.drops() - prev.drops());
      std::fflush(stats_out);
      prev = t;
      prev_ms = now;
      next_stats = now + stats_every;
    }
    if (!cfg_.templates.empty() && save_every > 0 && now >= next_save) {
      save_gen_.fetch_add(1, std::memory_order_acq_rel);
      next_save = now + save_every;
    }
    maybe_merge();
    if (stopping()) {
      bool all_done = true;
      for (const auto& w : workers_) all_done &= w->done.load(std::memory_order_acquire);
      bool empty = true;
      for (const auto& w : workers_) empty &= w->queue.front() == nullptr;
      if (all_done && empty) break;
    }
    if (any) {
      idle = false;
      continue;
    }
    // Idle: the hook runs on entering idle and then every kIdleHookMs (a
    // buffered writer flushes, a live detector's clock moves on).
    if (idle_hook_ && (!idle || now >= next_hook)) {
      idle_hook_();
      next_hook = now + kIdleHookMs;
    }
    idle = true;
    // Sleep until a worker publishes a batch, or until the next timed duty.
    TimeMs wake = now + kIdleHookMs;
    if (deadline) wake = std::min(wake, deadline);
    if (stats_out && stats_every > 0) wake = std::min(wake, next_stats);
    if (!cfg_.templates.empty() && save_every > 0) wake = std::min(wake, next_save);
    // Stopping: the workers finish within their receive timeout; look every millisecond.
    int timeout = stopping() ? 1 : static_cast<int>(std::clamp<TimeMs>(wake - now, 1, kIdleHookMs));
    waker_.sleeping.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    bool pending = false;
    for (auto& w : workers_) pending |= w->queue.front() != nullptr;
    if (!pending) {
      pollfd pfd{waker_.fd, POLLIN, 0};
      ::poll(&pfd, 1, timeout);
      uint64_t v;
      [[maybe_unused]] ssize_t n = ::read(waker_.fd, &v, sizeof v);
    }
    waker_.sleeping.store(false, std::memory_order_relaxed);
  }
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
  for (auto& w : workers_) deliver(*w, UINT32_MAX);
  output_.store(out, std::memory_order_relaxed);
  if (cfg_.workers > 1 && !cfg_.templates.empty()) {
    // The saving worker of each shared group may have stopped before the
    // others published their last changes: bring it up to date, save again.
    struct Discard final : FlowSink {
      void on_flow(const FlowRecord&) override {}
    } discard;
    for (auto& w : workers_) {
      if (w->template_path.empty()) continue;
      w->dec.netflow().sync(now_ms(), discard);
      std::string e;
      if (!w->dec.netflow().save_templates(w->template_path, e))
        spdlog::warn("collector: saving templates to {} failed: {}", w->template_path, e);
    }
  }
  if (workers_.size() > 1 && !cfg_.templates.empty()) {
    std::string err;
    if (!save_merged_templates(true, err)) spdlog::warn("collector: merging template state failed: {}", err);
  }
  if (idle_hook_) idle_hook_();
}

std::vector<WorkerStats> Collector::worker_stats() const {
  std::vector<WorkerStats> v;
  for (const auto& w : workers_) {
    WorkerStats s;
    s.listen = w->listen;
    s.port = w->port;
    s.worker = w->index;
    s.datagrams = w->datagrams.load(std::memory_order_relaxed);
    s.bytes = w->bytes.load(std::memory_order_relaxed);
    s.records = w->records.load(std::memory_order_relaxed);
    s.decode_errors = w->decode_errors.load(std::memory_order_relaxed);
    s.queue_full_drops = w->queue_drops.load(std::memory_order_relaxed);
    s.truncated_drops = w->truncated.load(std::memory_order_relaxed);
    s.kernel_drops = std::max<uint64_t>(w->kernel_rxq.load(std::memory_order_relaxed), proc_udp_drops(w->inode));
    s.receive_errors = w->recv_errors.load(std::memory_order_relaxed);
    s.templates_saved = w->templates_saved.load(std::memory_order_relaxed);
    s.templates_expired = w->templates_expired.load(std::memory_order_relaxed);
    s.templates_shared = w->templates_shared.load(std::memory_order_relaxed);
    {
      std::lock_guard lk(w->mu);
      s.errors = w->pub_errors;
    }
    if (s.queue_full_drops) s.drops.add("records dropped: output queue full", s.queue_full_drops);
    if (s.truncated_drops) s.drops.add("datagrams dropped: longer than the receive buffer", s.truncated_drops);
    if (s.kernel_drops) s.drops.add("datagrams dropped by the kernel: socket receive buffer full", s.kernel_drops);
    if (s.receive_errors) s.drops.add("receive errors (recvmmsg failed)", s.receive_errors);
    v.push_back(std::move(s));
  }
  return v;
}

CollectorTotals Collector::totals() const {
  CollectorTotals t;
  for (const auto& s : worker_stats()) {
    t.datagrams += s.datagrams;
    t.bytes += s.bytes;
    t.records += s.records;
    t.decode_errors += s.decode_errors;
    t.queue_full_drops += s.queue_full_drops;
    t.truncated_drops += s.truncated_drops;
    t.kernel_drops += s.kernel_drops;
    t.receive_errors += s.receive_errors;
  }
  t.output = records_output();
  return t;
}

ReasonCounters Collector::all_errors() const {
  ReasonCounters all;
  for (const auto& w : workers_) {
    std::lock_guard lk(w->mu);
    all.merge(w->pub_errors);
  }
  return all;
}

ReasonCounters Collector::all_drops() const {
  ReasonCounters all;
  for (const auto& s : worker_stats()) all.merge(s.drops);
  return all;
}

std::string Collector::format_stats(bool with_reasons) const {
  auto ws = worker_stats();
  CollectorTotals t = totals();
  std::string o;
  double up = (now_ms() - started_ms_) / 1000.0;
  fmt::format_to(std::back_inserter(o),
                 "collector: up={:.1f}s datagrams={} bytes={} records={} output={} decode_errors={} "
                 "queue_full_drops={} truncated_drops={} kernel_drops={} receive_errors={}\n",
                 up, t.datagrams, t.bytes, t.records, t.output, t.decode_errors, t.queue_full_drops,
                 t.truncated_drops, t.kernel_drops, t.receive_errors);
  for (const auto& s : ws)
    fmt::format_to(std::back_inserter(o),
                   "collector:   worker {}#{} (port {}): datagrams={} bytes={} records={} decode_errors={} "
                   "queue_full_drops={} truncated_drops={} kernel_drops={} templates_expired={} "
                   "templates_shared={}\n",
                   s.listen, s.worker, s.port, s.datagrams, s.bytes, s.records, s.decode_errors, s.queue_full_drops,
                   s.truncated_drops, s.kernel_drops, s.templates_expired, s.templates_shared);
  if (with_reasons) {
    ReasonCounters errs, drops;
    for (const auto& s : ws) {
      errs.merge(s.errors);
      drops.merge(s.drops);
    }
    for (const auto& row : errs.snapshot(true))
      fmt::format_to(std::back_inserter(o), "collector: decode error: {} (from {}): {}\n", row.reason, row.source,
                     row.count);
    for (const auto& row : drops.snapshot(false))
      fmt::format_to(std::back_inserter(o), "collector: drop: {}: {}\n", row.reason, row.count);
  }
  return o;
}

}  // namespace omamori
