// Tests of the UDP collector on loopback: a real exporter (softflowd) whose
// exports must all arrive, malformed datagrams, several exporters over two
// workers, kernel and queue drops, template persistence across a restart, and
// the CLI with a TOML config file.
#include "ingest/collector/collector.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "core/bytes.hpp"
#include "ingest/collector/spsc_queue.hpp"
#include "ingest/flow_decoder.hpp"
#include "ingest/pcap/pcap_file.hpp"
#include "ingest/pcap/udp_stream.hpp"

namespace omamori {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---------------------------------------------------------------- helpers

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

// Collects every record the output thread delivers; read only after run() returned.
class CollectingSink final : public FlowSink {
 public:
  void on_flow(const FlowRecord& r) override {
    while (!open.load()) std::this_thread::sleep_for(1ms);
    if (delay_us) std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    records.push_back(r);
  }
  std::vector<FlowRecord> records;
  int delay_us = 0;
  std::atomic<bool> open{true};  // false: the output thread stalls (a blocked consumer)
};

// A collector running in a background thread.
class Running {
 public:
  explicit Running(CollectorConfig cfg) : col(std::move(cfg)) {}
  ~Running() { stop(); }
  ::testing::AssertionResult start() {
    std::string err;
    if (!col.open(err)) return ::testing::AssertionFailure() << "open: " << err;
    thread = std::thread([this] { col.run(sink); });
    if (!wait_until([&] { return col.receiving(); }, 5s)) return ::testing::AssertionFailure() << "not receiving";
    return ::testing::AssertionSuccess();
  }
  void stop() {
    col.stop();
    if (thread.joinable()) thread.join();
  }
  uint16_t port() const { return col.ports().at(0); }

  Collector col;
  CollectingSink sink;
  std::thread thread;
};

CollectorConfig local_config(unsigned workers = 1) {
  CollectorConfig c;
  c.listen = {"127.0.0.1:0"};
  c.workers = workers;
  c.rcvbuf = 8 << 20;
  return c;
}

// A UDP socket on 127.0.0.1 (ephemeral source port unless given).
class Sender {
 public:
  explicit Sender(uint16_t src_port = 0) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(src_port);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ADD_FAILURE() << "bind: " << strerror(errno);
  }
  ~Sender() { ::close(fd_); }
  uint16_t port() const {
    sockaddr_in a{};
    socklen_t l = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &l);
    return ntohs(a.sin_port);
  }
  void send(uint16_t dport, const std::vector<uint8_t>& d) const {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(dport);
    ssize_t n = ::sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
    if (n != static_cast<ssize_t>(d.size())) ADD_FAILURE() << "sendto: " << strerror(errno);
  }

 private:
  int fd_ = -1;
};

void put16(std::vector<uint8_t>& v, uint32_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}
void put32(std::vector<uint8_t>& v, uint32_t x) {
  put16(v, x >> 16);
  put16(v, x & 0xffff);
}

// A NetFlow v5 datagram (the simplest export format, no templates) with one
// record per entry of `pkts`: 10.0.<seq>.<i> -> 192.0.2.1, tcp port 1000+i -> 80.
std::vector<uint8_t> netflow_v5(uint32_t seq, const std::vector<uint32_t>& pkts) {
  std::vector<uint8_t> d;
  put16(d, 5);
  put16(d, static_cast<uint32_t>(pkts.size()));
  put32(d, 100000);      // sys uptime ms
  put32(d, 1700000000);  // unix secs
  put32(d, 0);           // nsecs
  put32(d, seq);         // flow sequence
  d.push_back(0);        // engine type
  d.push_back(0);        // engine id
  put16(d, 0);           // sampling
  for (size_t i = 0; i < pkts.size(); ++i) {
    put32(d, (10u << 24) | ((seq & 0xff) << 8) | static_cast<uint32_t>(i));
    put32(d, (192u << 24) | (2u << 8) | 1);
    put32(d, 0);  // next hop
    put16(d, 1);  // input if
    put16(d, 2);  // output if
    put32(d, pkts[i]);
    put32(d, pkts[i] * 100);
    put32(d, 90000);  // first
    put32(d, 95000);  // last
    put16(d, static_cast<uint32_t>(1000 + i));
    put16(d, 80);
    d.push_back(0);     // pad
    d.push_back(0x12);  // tcp flags
    d.push_back(6);     // proto
    d.push_back(0);     // tos
    put16(d, 0);
    put16(d, 0);
    d.push_back(24);
    d.push_back(24);
    put16(d, 0);
  }
  return d;
}

// Runs a command, returns its exit status; stdout+stderr go to `log`.
int run_cmd(const std::string& cmd, std::string* log = nullptr) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  char b[4096];
  std::string out;
  while (size_t n = fread(b, 1, sizeof b, p)) out.append(b, n);
  int st = pclose(p);
  if (log) *log = out;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool have_program(const std::string& name) { return run_cmd("command -v " + name + " >/dev/null") == 0; }

// Starts a background process with its output to a file; returns its pid.
pid_t spawn(const std::vector<std::string>& argv, const std::string& out_path) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* f = std::fopen(out_path.c_str(), "w");
    if (f) {
      dup2(fileno(f), 1);
      dup2(fileno(f), 2);
    }
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  return pid;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / fmt::format("omamori-collector-{}-{}", name, getpid());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

using FlowKey = std::tuple<IpAddr, IpAddr, uint16_t, uint16_t, uint8_t>;
struct Sums {
  uint64_t flows = 0, packets = 0, bytes = 0;
  bool operator==(const Sums&) const = default;
};
std::map<FlowKey, Sums> by_key(const std::vector<FlowRecord>& rs) {
  std::map<FlowKey, Sums> m;
  for (const auto& r : rs) {
    auto& s = m[{r.src, r.dst, r.sport, r.dport, r.proto}];
    ++s.flows;
    s.packets += r.packets;
    s.bytes += r.bytes;
  }
  return m;
}

// ---------------------------------------------------------------- the SPSC queue

TEST(SpscQueue, DeliversEverySlotInOrderAcrossThreads) {
  struct Slot {
    uint32_t n;
    uint32_t v[15];
  };
  SpscQueue<Slot> q(6);
  EXPECT_EQ(q.capacity(), 8u);
  const uint32_t kN = 300000;
  std::thread producer([&] {
    for (uint32_t i = 0; i < kN; ++i) {
      Slot* s;
      while (!(s = q.producer_slot())) std::this_thread::yield();
      s->n = i;
      for (auto& x : s->v) x = i * 7;
      q.push();
    }
  });
  uint32_t bad = 0;
  for (uint32_t i = 0; i < kN; ++i) {
    Slot* s;
    while (!(s = q.front())) std::this_thread::yield();
    bad += s->n != i;
    for (auto x : s->v) bad += x != i * 7;
    q.pop();
  }
  producer.join();
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(q.front(), nullptr);
  // Full: capacity slots can be published, no more.
  for (size_t i = 0; i < q.capacity(); ++i) {
    ASSERT_NE(q.producer_slot(), nullptr);
    q.push();
  }
  EXPECT_EQ(q.producer_slot(), nullptr);
  EXPECT_EQ(q.size(), q.capacity());
}

// ---------------------------------------------------------------- listen addresses

TEST(ListenAddress, Parses) {
  std::string err;
  auto a = ListenAddress::parse("0.0.0.0:2055", err);
  ASSERT_TRUE(a) << err;
  EXPECT_FALSE(a->v6);
  EXPECT_FALSE(a->any);
  EXPECT_EQ(a->port, 2055);
  EXPECT_EQ(a->str(), "0.0.0.0:2055");
  a = ListenAddress::parse("[::]:4739", err);
  ASSERT_TRUE(a) << err;
  EXPECT_TRUE(a->v6);
  EXPECT_EQ(a->port, 4739);
  EXPECT_EQ(a->str(), "[::]:4739");
  a = ListenAddress::parse(":6343", err);
  ASSERT_TRUE(a) << err;
  EXPECT_TRUE(a->any);
  EXPECT_EQ(a->port, 6343);
  a = ListenAddress::parse("9995", err);
  ASSERT_TRUE(a) << err;
  EXPECT_TRUE(a->any);
  a = ListenAddress::parse("[::1]:9995", err);
  ASSERT_TRUE(a) << err;
  EXPECT_EQ(a->addr, *IpAddr::parse("::1"));
  for (const char* bad : {"", "1.2.3.4", "1.2.3.4:", "1.2.3.4:99999", "::1:2055", "[::1]2055", "[::1", "x.y:1",
                          "1.2.3.4:20x5"}) {
    EXPECT_FALSE(ListenAddress::parse(bad, err)) << bad;
    EXPECT_FALSE(err.empty());
  }
}

TEST(Collector, RejectsBadConfig) {
  std::string err;
  CollectorConfig c;
  EXPECT_FALSE(Collector(c).open(err));
  c.listen = {"127.0.0.1:nope"};
  EXPECT_FALSE(Collector(c).open(err));
  EXPECT_NE(err.find("bad port"), std::string::npos) << err;
  // A port held by a socket without SO_REUSEPORT cannot be shared.
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t l = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &l);
  c.listen = {fmt::format("127.0.0.1:{}", ntohs(a.sin_port))};
  EXPECT_FALSE(Collector(c).open(err));
  EXPECT_NE(err.find("bind"), std::string::npos) << err;
  ::close(fd);
}

TEST(Collector, ListensOnIpv6AndDualStack) {
  CollectorConfig c;
  c.listen = {"[::1]:0", ":0"};
  Running r(c);
  ASSERT_TRUE(r.start());
  auto ports = r.col.ports();
  ASSERT_EQ(ports.size(), 2u);
  // One garbage datagram to each: over IPv6 to [::1], over IPv4 to the dual-stack socket.
  int fd6 = ::socket(AF_INET6, SOCK_DGRAM, 0);
  sockaddr_in6 a6{};
  a6.sin6_family = AF_INET6;
  a6.sin6_addr = in6addr_loopback;
  a6.sin6_port = htons(ports[0]);
  uint8_t junk[8] = {0, 99, 0, 0, 0, 0, 0, 0};
  ASSERT_EQ(::sendto(fd6, junk, sizeof junk, 0, reinterpret_cast<sockaddr*>(&a6), sizeof a6), 8);
  ::close(fd6);
  Sender s4;
  s4.send(ports[1], {0, 98, 0, 0});
  ASSERT_TRUE(wait_until([&] { return r.col.totals().datagrams == 2; }, 5s));
  r.stop();
  auto errs = r.col.all_errors();
  std::set<std::string> sources;
  for (const auto& row : errs.snapshot(true)) sources.insert(row.source);
  EXPECT_EQ(sources, (std::set<std::string>{"::1", "127.0.0.1"}));
}

// ---------------------------------------------------------------- malformed input

TEST(Collector, CountsMalformedDatagramsByReasonAndKeepsWorking) {
  auto cfg = local_config();
  cfg.max_datagram = 1024;
  Running r(cfg);
  ASSERT_TRUE(r.start());
  Sender s;
  s.send(r.port(), {0x00, 0x05});                                 // too short for any format
  s.send(r.port(), {0x12, 0x34, 0x00, 0x01, 0, 0, 0, 0});         // unknown version
  s.send(r.port(), std::vector<uint8_t>(2000, 0xab));             // longer than the receive buffer
  auto v5 = netflow_v5(1, {1, 2, 3});
  auto truncated = v5;
  truncated.resize(24 + 48 + 10);  // header says 3 records, one and a bit are there
  s.send(r.port(), truncated);
  s.send(r.port(), {0x00, 0x0a, 0x00, 0x08, 0, 0, 0, 0});  // IPFIX header claiming 8 bytes, 8 sent: too short
  // Then valid data, which must still decode.
  s.send(r.port(), netflow_v5(3, {7, 8}));
  // The truncated v5 datagram still holds one whole record, which the decoder keeps.
  ASSERT_TRUE(wait_until([&] { return r.col.records_output() == 3; }, 5s)) << r.col.format_stats(true);
  r.stop();

  auto t = r.col.totals();
  EXPECT_EQ(t.datagrams, 6u);
  EXPECT_EQ(t.truncated_drops, 1u);
  EXPECT_EQ(t.kernel_drops, 0u);
  EXPECT_EQ(t.queue_full_drops, 0u);
  auto errs = r.col.all_errors();
  EXPECT_EQ(errs.count("datagram too short for any flow format"), 1u);
  EXPECT_EQ(errs.count("unknown flow export version"), 1u);
  // The truncated v5 datagram and the short IPFIX message: counted by the NetFlow decoder.
  EXPECT_GE(errs.total(), 4u) << r.col.format_stats(true);
  for (const auto& row : errs.snapshot(true)) EXPECT_EQ(row.source, "127.0.0.1");
  auto drops = r.col.all_drops();
  EXPECT_EQ(drops.count("datagrams dropped: longer than the receive buffer"), 1u);

  ASSERT_EQ(r.sink.records.size(), 3u);
  std::sort(r.sink.records.begin(), r.sink.records.end(),
            [](const FlowRecord& a, const FlowRecord& b) { return a.packets < b.packets; });
  EXPECT_EQ(r.sink.records[0].packets, 1u);  // from the truncated datagram
  EXPECT_EQ(r.sink.records[0].src, *IpAddr::parse("10.0.1.0"));
  r.sink.records.erase(r.sink.records.begin());
  const auto& f = r.sink.records[0];
  EXPECT_EQ(f.src, *IpAddr::parse("10.0.3.0"));
  EXPECT_EQ(f.dst, *IpAddr::parse("192.0.2.1"));
  EXPECT_EQ(f.sport, 1000);
  EXPECT_EQ(f.dport, 80);
  EXPECT_EQ(f.proto, 6);
  EXPECT_EQ(f.packets, 7u);
  EXPECT_EQ(f.bytes, 700u);
  EXPECT_EQ(f.exporter, *IpAddr::parse("127.0.0.1"));
  EXPECT_EQ(r.sink.records[1].packets, 8u);
  std::string stats = r.col.format_stats(true);
  EXPECT_NE(stats.find("decode error: datagram too short for any flow format (from 127.0.0.1): 1"), std::string::npos)
      << stats;
}

// ---------------------------------------------------------------- drops are counted, never silent

TEST(Collector, OutputQueueFullIsCountedNotSilent) {
  auto cfg = local_config();
  cfg.queue_records = 128;  // 2 batches
  cfg.queue_wait_us = 0;
  Running r(cfg);
  r.sink.open = false;  // the consumer is stuck until everything was received
  ASSERT_TRUE(r.start());
  Sender s;
  const int kDatagrams = 200;
  std::vector<uint32_t> pk(30, 1);
  for (int i = 0; i < kDatagrams; ++i) s.send(r.port(), netflow_v5(static_cast<uint32_t>(i), pk));
  ASSERT_TRUE(wait_until([&] { return r.col.totals().datagrams == kDatagrams; }, 10s)) << r.col.format_stats(true);
  r.sink.open = true;
  r.stop();
  auto t = r.col.totals();
  EXPECT_EQ(t.records, 30u * kDatagrams);
  EXPECT_GT(t.queue_full_drops, 0u);
  EXPECT_EQ(t.output + t.queue_full_drops, t.records);
  EXPECT_EQ(r.sink.records.size(), t.output);
  EXPECT_EQ(r.col.all_drops().count("records dropped: output queue full"), t.queue_full_drops);
}

TEST(Collector, KernelDropsAreCountedExactly) {
  auto cfg = local_config();
  cfg.rcvbuf = 1;            // the kernel's minimum receive buffer: a few datagrams
  cfg.queue_records = 128;   // and a worker that waits on a full queue, so the socket overflows
  cfg.queue_wait_us = 50000;
  cfg.batch = 1;
  Running r(cfg);
  r.sink.open = false;  // the consumer is stuck: the worker fills its queue, then waits, then drops
  ASSERT_TRUE(r.start());
  Sender s;
  const int kDatagrams = 300;
  std::vector<uint32_t> pk(30, 1);
  for (int i = 0; i < kDatagrams; ++i) s.send(r.port(), netflow_v5(static_cast<uint32_t>(i), pk));
  // Every datagram is either received or counted as a kernel drop.
  ASSERT_TRUE(wait_until(
      [&] {
        auto t = r.col.totals();
        return t.datagrams + t.kernel_drops == kDatagrams;
      },
      30s))
      << r.col.format_stats(true);
  r.sink.open = true;
  r.stop();
  auto t = r.col.totals();
  EXPECT_GT(t.kernel_drops, 0u);
  EXPECT_EQ(t.datagrams + t.kernel_drops, static_cast<uint64_t>(kDatagrams));
  EXPECT_EQ(t.output + t.queue_full_drops, t.records);
}

// ---------------------------------------------------------------- several exporters, two workers

TEST(Collector, SeveralExportersOverTwoWorkersLoseNothing) {
  Running r(local_config(2));
  ASSERT_TRUE(r.start());
  // Exporters (distinct source ports) until both workers have one: the kernel
  // hashes each 4-tuple to one of the two sockets.
  std::vector<std::unique_ptr<Sender>> senders;
  uint64_t expect_records = 0, expect_packets = 0;
  uint32_t seq = 0;
  auto both_busy = [&] {
    auto ws = r.col.worker_stats();
    return ws[0].datagrams > 0 && ws[1].datagrams > 0;
  };
  while (senders.size() < 64 && (senders.size() < 6 || !both_busy())) {
    senders.push_back(std::make_unique<Sender>());
    std::vector<uint32_t> pk{1, 2, 3, 4, 5};
    senders.back()->send(r.port(), netflow_v5(seq++, pk));
    expect_records += 5;
    expect_packets += 15;
    wait_until([&] { return r.col.totals().datagrams == seq; }, 2s);
  }
  ASSERT_TRUE(both_busy()) << r.col.format_stats(false);
  // Then every exporter sends a burst, all interleaved.
  for (int round = 0; round < 50; ++round)
    for (auto& s : senders) {
      std::vector<uint32_t> pk(20, static_cast<uint32_t>(round + 1));
      s->send(r.port(), netflow_v5(seq++, pk));
      expect_records += 20;
      expect_packets += 20u * (round + 1);
    }
  ASSERT_TRUE(wait_until([&] { return r.col.records_output() == expect_records; }, 20s)) << r.col.format_stats(true);
  r.stop();
  auto t = r.col.totals();
  EXPECT_EQ(t.datagrams, seq);
  EXPECT_EQ(t.drops(), 0u);
  EXPECT_EQ(t.decode_errors, 0u);
  uint64_t packets = 0;
  for (const auto& f : r.sink.records) packets += f.packets;
  EXPECT_EQ(r.sink.records.size(), expect_records);
  EXPECT_EQ(packets, expect_packets);
  // An exporter's datagrams all went to one worker: per worker, the datagram
  // counts are sums of whole exporters' counts.
  auto ws = r.col.worker_stats();
  EXPECT_EQ(ws[0].datagrams + ws[1].datagrams, seq);
}

// ---------------------------------------------------------------- templates at one worker, data at another

// IPFIX message: header, then sets.
std::vector<uint8_t> ipfix_msg(uint32_t seq, const std::vector<std::vector<uint8_t>>& sets) {
  std::vector<uint8_t> m;
  put16(m, 10);
  put16(m, 0);  // length, below
  put32(m, 1700000000);
  put32(m, seq);
  put32(m, 7);  // observation domain
  for (const auto& s : sets) m.insert(m.end(), s.begin(), s.end());
  m[2] = uint8_t(m.size() >> 8);
  m[3] = uint8_t(m.size());
  return m;
}
std::vector<uint8_t> ipfix_set(uint16_t id, const std::vector<uint8_t>& body) {
  std::vector<uint8_t> s;
  put16(s, id);
  put16(s, uint32_t(body.size() + 4));
  s.insert(s.end(), body.begin(), body.end());
  return s;
}
// Template 300: (element, length) pairs.
std::vector<uint8_t> ipfix_template(const std::vector<std::pair<uint16_t, uint16_t>>& fields) {
  std::vector<uint8_t> b;
  put16(b, 300);
  put16(b, uint32_t(fields.size()));
  for (auto [id, len] : fields) {
    put16(b, id);
    put16(b, len);
  }
  return ipfix_set(2, b);
}

TEST(Collector, TemplateAtOneWorkerServesDataAtAnother) {
  auto dir = temp_dir("shared-templates");
  std::string tfile = (dir / "templates.bin").string();
  auto cfg = local_config(2);
  cfg.templates = tfile;
  cfg.template_save_interval = 0;
  Running r(cfg);
  ASSERT_TRUE(r.start());
  // Find a sender socket (source port) that the kernel hashes to each worker:
  // header-only IPFIX messages as probes.
  std::unique_ptr<Sender> to[2];
  uint64_t sent = 0;
  for (int tries = 0; tries < 128 && (!to[0] || !to[1]); ++tries) {
    auto s = std::make_unique<Sender>();
    auto before = r.col.worker_stats();
    s->send(r.port(), ipfix_msg(0, {}));
    ++sent;
    ASSERT_TRUE(wait_until([&] { return r.col.totals().datagrams == sent; }, 2s));
    auto after = r.col.worker_stats();
    for (int w = 0; w < 2; ++w)
      if (after[w].datagrams > before[w].datagrams && !to[w]) to[w] = std::move(s);
  }
  ASSERT_TRUE(to[0] && to[1]) << r.col.format_stats(false);

  // The template goes to worker 0 only.
  auto v1 = ipfix_template({{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {2, 4}, {1, 4}});
  uint64_t w0_before = r.col.worker_stats()[0].datagrams;
  to[0]->send(r.port(), ipfix_msg(1, {v1}));
  ++sent;
  ASSERT_TRUE(wait_until([&] { return r.col.totals().datagrams == sent; }, 2s));
  EXPECT_EQ(r.col.worker_stats()[0].datagrams, w0_before + 1);
  // Its data to worker 1 only: 3 records.
  std::vector<uint8_t> recs;
  for (uint8_t i = 1; i <= 3; ++i) {
    recs.insert(recs.end(), {10, 0, 0, i, 192, 0, 2, 7});
    put16(recs, 1000 + i);
    put16(recs, 443);
    recs.push_back(6);
    put32(recs, i);
    put32(recs, 100u * i);
  }
  uint64_t w1_before = r.col.worker_stats()[1].datagrams;
  to[1]->send(r.port(), ipfix_msg(2, {ipfix_set(300, recs)}));
  ++sent;
  ASSERT_TRUE(wait_until([&] { return r.col.records_output() == 3; }, 5s)) << r.col.format_stats(true);
  EXPECT_EQ(r.col.worker_stats()[1].datagrams, w1_before + 1);

  // The exporter redefines template 300 (addresses swapped, 8-byte bytes) towards worker 1; data in the
  // new layout then reaches worker 0, which must use the new definition.
  auto v2 = ipfix_template({{12, 4}, {8, 4}, {4, 1}, {1, 8}});
  to[1]->send(r.port(), ipfix_msg(3, {v2}));
  ++sent;
  ASSERT_TRUE(wait_until([&] { return r.col.totals().datagrams == sent; }, 2s));
  std::vector<uint8_t> rec2 = {10, 9, 9, 9, 10, 1, 1, 1, 17};
  put32(rec2, 0);
  put32(rec2, 4242);
  to[0]->send(r.port(), ipfix_msg(4, {ipfix_set(300, rec2)}));
  ++sent;
  ASSERT_TRUE(wait_until([&] { return r.col.records_output() == 4; }, 5s)) << r.col.format_stats(true);
  r.stop();

  EXPECT_EQ(r.col.totals().decode_errors, 0u) << r.col.format_stats(true);
  ASSERT_EQ(r.sink.records.size(), 4u);
  uint64_t bytes = 0;
  for (int i = 0; i < 3; ++i) bytes += r.sink.records[i].bytes;
  EXPECT_EQ(bytes, 600u);
  EXPECT_EQ(r.sink.records[3].src.str(), "10.1.1.1");
  EXPECT_EQ(r.sink.records[3].dst.str(), "10.9.9.9");
  EXPECT_EQ(r.sink.records[3].proto, 17);
  EXPECT_EQ(r.sink.records[3].bytes, 4242u);
  auto ws = r.col.worker_stats();
  EXPECT_GE(ws[0].templates_shared, 1u);
  EXPECT_GE(ws[1].templates_shared, 1u);

  // The saved state holds the latest definition (no stale copy merged back).
  ASSERT_TRUE(fs::exists(tfile));
  EXPECT_FALSE(fs::exists(tfile + ".part0"));
  NetflowDecoder d;
  std::string err;
  ASSERT_TRUE(d.load_templates(tfile, err)) << err;
  EXPECT_EQ(d.template_count(), 1u);
  CollectingSink out;
  auto msg = ipfix_msg(5, {ipfix_set(300, rec2)});
  d.decode(*IpAddr::parse("127.0.0.1"), 0, msg, out);
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_EQ(out.records[0].bytes, 4242u);
  fs::remove_all(dir);
}

// ---------------------------------------------------------------- --count and --duration

TEST(Collector, StopsAfterCountAndDuration) {
  auto cfg = local_config();
  cfg.count = 7;
  Running r(cfg);
  ASSERT_TRUE(r.start());
  Sender s;
  s.send(r.port(), netflow_v5(1, {1, 1, 1, 1, 1}));
  s.send(r.port(), netflow_v5(2, {1, 1, 1, 1, 1}));
  ASSERT_TRUE(wait_until([&] { return r.col.stopping(); }, 5s));
  r.stop();
  EXPECT_EQ(r.sink.records.size(), 7u);

  auto cfg2 = local_config();
  cfg2.duration = 0.3;
  Collector c(cfg2);
  std::string err;
  ASSERT_TRUE(c.open(err)) << err;
  CollectingSink sink;
  auto t0 = std::chrono::steady_clock::now();
  c.run(sink);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(ms, 290);
  EXPECT_LT(ms, 3000);
}

// ---------------------------------------------------------------- a real exporter: softflowd

struct SoftflowdRun {
  uint64_t flows = 0, records = 0, datagrams = 0, failures = 0;  // from its exit statistics
  uint64_t packets = 0, octets = 0;                              // per-protocol statistics, summed
  std::string log;
};

// Runs softflowd over a pcap, exporting to 127.0.0.1:port, and parses its statistics.
SoftflowdRun run_softflowd(const std::string& pcap, uint16_t port, const std::string& version, const fs::path& dir) {
  SoftflowdRun s;
  // -r implies no control socket; "-c none" keeps it so (softflowd 1.1.0 reads uninitialised poll
  // results for a control socket given with -r and may block in accept()).
  std::string cmd = fmt::format("softflowd -d -r '{}' -n 127.0.0.1:{} -v {} -p '{}' -c none", pcap, port, version,
                                (dir / "softflowd.pid").string());
  int rc = run_cmd(cmd, &s.log);
  EXPECT_EQ(rc, 0) << cmd << "\n" << s.log;
  std::smatch m;
  std::regex exported(R"(Flows exported: (\d+) \((\d+) records\) in (\d+) packets \((\d+) failures\))");
  EXPECT_TRUE(std::regex_search(s.log, m, exported)) << s.log;
  if (m.size() == 5) {
    s.flows = std::stoull(m[1]);
    s.records = std::stoull(m[2]);
    s.datagrams = std::stoull(m[3]);
    s.failures = std::stoull(m[4]);
  }
  std::regex proto(R"(\n\s+\S+ \(\d+\):\s+(\d+)\s+(\d+)\s)");
  for (auto it = std::sregex_iterator(s.log.begin(), s.log.end(), proto); it != std::sregex_iterator(); ++it) {
    s.octets += std::stoull((*it)[1]);
    s.packets += std::stoull((*it)[2]);
  }
  return s;
}

// dumpcap on lo, started and confirmed capturing before the exporter runs.
class LoopbackCapture {
 public:
  LoopbackCapture(const fs::path& file, uint16_t port) : file_(file) {
    // Probes go to a port this process holds (and never reads), so no other test's collector gets them.
    probe_port_ = probe_sink_.port();
    pid_ = spawn({"dumpcap", "-i", "lo", "-f", fmt::format("udp port {} or udp port {}", port, probe_port_), "-w",
                  file.string()},
                 file.string() + ".log");
    // Probe datagrams to a closed port until one shows up in the file.
    Sender probe;
    ready_ = wait_until(
        [&] {
          probe.send(probe_port_, {'p'});
          std::error_code ec;
          auto sz = fs::file_size(file_, ec);
          if (ec) return false;
          if (first_size_ == 0) first_size_ = sz;
          return sz > first_size_;
        },
        15s);
  }
  ~LoopbackCapture() { stop(); }
  bool ready() const { return ready_; }
  // Stops dumpcap; returns its log (which reports drops).
  std::string stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int st;
      waitpid(pid_, &st, 0);
      pid_ = -1;
    }
    return slurp(file_.string() + ".log");
  }

 private:
  fs::path file_;
  pid_t pid_ = -1;
  Sender probe_sink_;
  uint16_t probe_port_;
  uintmax_t first_size_ = 0;
  bool ready_ = false;
};

// The export datagrams sent to `port` found in a capture, in order.
std::vector<std::vector<uint8_t>> datagrams_in(const std::string& pcap, uint16_t port) {
  std::string err;
  auto f = PcapFile::open(pcap, err);
  EXPECT_TRUE(f) << err;
  std::vector<std::vector<uint8_t>> out;
  if (!f) return out;
  UdpExtractor udp;
  CapturedPacket pkt;
  UdpDatagram d;
  while (f->next(pkt))
    if (udp.extract(f->linktype(), pkt.data, pkt.caplen, pkt.ts, d) && d.dport == port)
      out.emplace_back(d.payload.begin(), d.payload.end());
  return out;
}

// Decodes datagrams offline with a fresh decoder, as the collector would.
std::vector<FlowRecord> decode_offline(const std::vector<std::vector<uint8_t>>& ds) {
  struct Vec final : FlowSink {
    std::vector<FlowRecord> v;
    void on_flow(const FlowRecord& r) override { v.push_back(r); }
  } sink;
  FlowDatagramDecoder dec;
  for (const auto& d : ds) dec.decode(*IpAddr::parse("127.0.0.1"), now_ms(), d, sink);
  dec.finish();
  EXPECT_EQ(dec.all_errors().total(), 0u);
  return sink.v;
}

// tshark's decode of the same capture: records, packet and byte sums.
Sums tshark_sums(const std::string& pcap, uint16_t port) {
  std::string out;
  int rc = run_cmd(fmt::format("tshark -n -r '{}' -d udp.port=={},cflow -Y 'udp.dstport=={}' -T fields -e "
                               "cflow.packets -e cflow.octets",
                               pcap, port, port),
                   &out);
  EXPECT_EQ(rc, 0) << out;
  Sums s;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    std::istringstream p(line.substr(0, tab)), o(line.substr(tab + 1));
    std::string v;
    while (std::getline(p, v, ',')) {
      ++s.flows;
      s.packets += std::stoull(v);
    }
    while (std::getline(o, v, ',')) s.bytes += std::stoull(v);
  }
  return s;
}

class SoftflowdExport : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(SoftflowdExport, EveryRecordArrives) {
  const auto& [version, pcap_name] = GetParam();
  ASSERT_TRUE(have_program("softflowd")) << "softflowd missing: run scripts/setup.sh";
  ASSERT_TRUE(have_program("dumpcap")) << "dumpcap (tshark) missing: run scripts/setup.sh";
  std::string pcap = std::string(OMAMORI_SHARED_DATA) + "/" + pcap_name;
  ASSERT_TRUE(fs::exists(pcap)) << pcap;
  auto dir = temp_dir("softflowd-" + version + "-" + fs::path(pcap_name).stem().string());
  Running r(local_config());
  ASSERT_TRUE(r.start());
  uint16_t port = r.port();
  auto cap_file = (dir / "lo.pcapng").string();
  LoopbackCapture cap(cap_file, port);
  ASSERT_TRUE(cap.ready()) << slurp(cap_file + ".log");

  SoftflowdRun sf = run_softflowd(pcap, port, version, dir);
  ASSERT_GT(sf.records, 0u) << sf.log;
  EXPECT_EQ(sf.failures, 0u);
  ASSERT_TRUE(wait_until([&] { return r.col.totals().datagrams >= sf.datagrams; }, 20s)) << r.col.format_stats(true);
  ASSERT_TRUE(wait_until([&] { return r.col.records_output() >= sf.records; }, 10s)) << r.col.format_stats(true);
  std::this_thread::sleep_for(100ms);  // anything extra would show now
  // dumpcap writes in batches: wait until the capture holds every export datagram.
  wait_until([&] { return datagrams_in(cap_file, port).size() >= sf.datagrams; }, 10s);
  std::string caplog = cap.stop();
  r.stop();

  // The collector: every datagram and every record softflowd says it sent, nothing dropped or undecodable.
  auto t = r.col.totals();
  EXPECT_EQ(t.datagrams, sf.datagrams);
  EXPECT_EQ(t.records, sf.records);
  EXPECT_EQ(t.output, sf.records);
  EXPECT_EQ(t.drops(), 0u);
  EXPECT_EQ(t.decode_errors, 0u) << r.col.format_stats(true);
  Sums got;
  for (const auto& f : r.sink.records) {
    ++got.flows;
    got.packets += f.packets;
    got.bytes += f.bytes;
    EXPECT_EQ(f.exporter, *IpAddr::parse("127.0.0.1"));
  }
  // softflowd's own totals (a bidirectional flow is exported as one record per direction, so records >= flows).
  EXPECT_EQ(got.flows, sf.records);
  EXPECT_GE(sf.records, sf.flows);
  EXPECT_EQ(got.packets, sf.packets);
  EXPECT_EQ(got.bytes, sf.octets);
  // What went over loopback: tshark's decode of the capture, and ours of the same capture, per flow key.
  EXPECT_NE(caplog.find("dropped on interface 'Loopback: lo': "), std::string::npos) << caplog;
  EXPECT_EQ(tshark_sums(cap_file, port), got);
  auto ds = datagrams_in(cap_file, port);
  EXPECT_EQ(ds.size(), sf.datagrams);
  EXPECT_EQ(by_key(decode_offline(ds)), by_key(r.sink.records));
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(
    Real, SoftflowdExport,
    ::testing::Combine(::testing::Values("9", "10"),
                       ::testing::Values("ddos/amp.TCP.reflection.SYNACK.pcap",  // 7.8k IPv4 flows
                                         "ddos/pkt.TCP.synflood.spoofed.pcap",   // 37k flows, table evictions
                                         "dns/pcap/dns_fragmented.pcap")),
    [](const auto& info) {
      std::string n = std::get<1>(info.param);
      n = n.substr(n.rfind('/') + 1);
      for (auto& c : n)
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      return "v" + std::get<0>(info.param) + "_" + n;
    });

// ---------------------------------------------------------------- template persistence

// NetFlow v9 / IPFIX datagrams that carry no template set.
bool has_template_set(const std::vector<uint8_t>& d) {
  uint16_t ver = load_be16(d.data());
  size_t off = ver == 9 ? 20 : 16;
  while (off + 4 <= d.size()) {
    uint16_t id = load_be16(&d[off]), len = load_be16(&d[off + 2]);
    if (ver == 9 ? id <= 1 : (id == 2 || id == 3)) return true;
    if (len < 4) break;
    off += len;
  }
  return false;
}

void persistence_case(unsigned workers, const std::string& version) {
  ASSERT_TRUE(have_program("softflowd")) << "softflowd missing: run scripts/setup.sh";
  auto dir = temp_dir("templates-" + version + "-" + std::to_string(workers));
  std::string tfile = (dir / "templates.bin").string();
  std::string pcap = std::string(OMAMORI_SHARED_DATA) + "/ddos/amp.TCP.reflection.SYNACK.pcap";
  std::vector<std::vector<uint8_t>> ds;
  {
    // First run: a real exporter teaches the collector its templates; they are saved at stop.
    auto cfg = local_config(workers);
    cfg.templates = tfile;
    cfg.template_save_interval = 0.3;
    Running r(cfg);
    ASSERT_TRUE(r.start());
    auto cap_file = (dir / "lo.pcapng").string();
    LoopbackCapture cap(cap_file, r.port());
    ASSERT_TRUE(cap.ready());
    SoftflowdRun sf = run_softflowd(pcap, r.port(), version, dir);
    ASSERT_TRUE(wait_until([&] { return r.col.records_output() >= sf.records; }, 20s)) << r.col.format_stats(true);
    wait_until([&] { return datagrams_in(cap_file, r.port()).size() >= sf.datagrams; }, 10s);
    cap.stop();
    // Saved periodically while running (merged from the workers' parts when there are several).
    auto after = fs::file_time_type::clock::now();
    EXPECT_TRUE(wait_until(
        [&] {
          std::error_code ec;
          return fs::exists(tfile, ec) && fs::last_write_time(tfile, ec) > after;
        },
        10s));
    r.stop();
    EXPECT_EQ(r.col.totals().decode_errors, 0u);
    ds = datagrams_in(cap_file, r.port());
    ASSERT_EQ(ds.size(), sf.datagrams);
  }
  ASSERT_TRUE(fs::exists(tfile));
  for (unsigned i = 0; i < workers; ++i) EXPECT_FALSE(fs::exists(tfile + ".part" + std::to_string(i)));
  // Datagrams without templates, and what they hold when the templates are known.
  std::vector<std::vector<uint8_t>> data_only;
  for (const auto& d : ds)
    if (!has_template_set(d)) data_only.push_back(d);
  ASSERT_GT(data_only.size(), 10u);
  size_t expect = 0;
  {
    auto all = decode_offline(ds);
    std::vector<std::vector<uint8_t>> with_templates;
    for (const auto& d : ds)
      if (has_template_set(d)) with_templates.push_back(d);
    expect = all.size() - decode_offline(with_templates).size();
  }
  ASSERT_GT(expect, 100u);
  auto replay = [&](const std::string& templates) {
    auto cfg = local_config(workers);
    cfg.templates = templates;
    cfg.netflow.pending_hold_ms = 600000;
    Running r(cfg);
    EXPECT_TRUE(r.start());
    Sender s;
    for (const auto& d : data_only) s.send(r.port(), d);
    wait_until([&] { return r.col.totals().datagrams == data_only.size(); }, 10s);
    wait_until([&] { return r.col.records_output() >= expect; }, 3s);
    r.stop();
    EXPECT_EQ(r.col.totals().datagrams, data_only.size());
    return r.sink.records.size();
  };
  // Second run with the saved state: every data record decodes at once.
  EXPECT_EQ(replay(tfile), expect);
  // Control: without it, none can.
  EXPECT_EQ(replay(""), 0u);
  fs::remove_all(dir);
}

TEST(CollectorTemplates, SurviveRestart_v9) { persistence_case(1, "9"); }
TEST(CollectorTemplates, SurviveRestart_ipfix_two_workers) { persistence_case(2, "10"); }

// ---------------------------------------------------------------- the CLI

// Starts `omamori ... flows collect ...`, returns pid; stderr goes to err_path, stdout to out_path.
pid_t start_cli(const std::vector<std::string>& args, const std::string& out_path, const std::string& err_path) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* o = std::fopen(out_path.c_str(), "w");
    FILE* e = std::fopen(err_path.c_str(), "w");
    if (o) dup2(fileno(o), 1);
    if (e) dup2(fileno(e), 2);
    std::vector<char*> a;
    a.push_back(const_cast<char*>(OMAMORI_BINARY));
    for (const auto& s : args) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execv(OMAMORI_BINARY, a.data());
    _exit(127);
  }
  return pid;
}

uint16_t cli_port(const std::string& err_path) {
  uint16_t port = 0;
  wait_until(
      [&] {
        std::smatch m;
        std::string s = slurp(err_path);
        if (std::regex_search(s, m, std::regex(R"(collector: listening \S+->(\d+))"))) port = std::stoi(m[1]);
        return port != 0;
      },
      10s);
  return port;
}

int wait_exit(pid_t pid, std::chrono::seconds timeout) {
  int st = 0;
  bool done = wait_until([&] { return waitpid(pid, &st, WNOHANG) == pid; }, timeout);
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

TEST(CollectCli, TomlConfigCountAndJsonOutput) {
  auto dir = temp_dir("cli-config");
  std::string conf = (dir / "omamori.toml").string();
  {
    std::ofstream c(conf);
    c << "[flows.collect]\n"
         "listen = [\"127.0.0.1:0\"]\n"
         "workers = 2\n"
         "count = 5\n"
         "format = \"jsonl\"\n"
         "stats = true\n";
  }
  std::string out = (dir / "out.jsonl").string(), err = (dir / "err.txt").string();
  pid_t pid = start_cli({"-c", conf, "flows", "collect"}, out, err);
  uint16_t port = cli_port(err);
  ASSERT_NE(port, 0) << slurp(err);
  // Stats show two workers from the config file.
  Sender s;
  s.send(port, netflow_v5(1, {1, 2, 3, 4, 5, 6}));
  int rc = wait_exit(pid, 15s);
  EXPECT_EQ(rc, 0) << slurp(err);
  std::string o = slurp(out);
  EXPECT_EQ(std::count(o.begin(), o.end(), '\n'), 5) << o;
  EXPECT_NE(o.find(R"("src":"10.0.1.0","dst":"192.0.2.1","sport":1000,"dport":80,"proto":6)"), std::string::npos) << o;
  std::string e = slurp(err);
  EXPECT_NE(e.find("#1 (port"), std::string::npos) << e;  // the second worker
  fs::remove_all(dir);
}

TEST(CollectCli, SigtermStopsCleanlyReportsErrorsAndSavesTemplates) {
  auto dir = temp_dir("cli-sigterm");
  std::string out = (dir / "out.csv").string(), err = (dir / "err.txt").string();
  std::string tfile = (dir / "t.bin").string();
  pid_t pid = start_cli({"flows", "collect", "--listen", "127.0.0.1:0", "--format", "csv", "--stats-interval", "0.2",
                         "--templates", tfile, "--metrics", "127.0.0.1:0"},
                        out, err);
  uint16_t port = cli_port(err);
  ASSERT_NE(port, 0) << slurp(err);
  Sender s;
  s.send(port, {0x77, 0x77, 0, 0, 0, 0});
  s.send(port, netflow_v5(9, {4, 4}));
  // Records are written out while running, not only at exit.
  ASSERT_TRUE(wait_until(
      [&] {
        std::string o = slurp(out);
        return std::count(o.begin(), o.end(), '\n') == 3;  // header + 2 records
      },
      10s))
      << slurp(out);
  // The same counters on the Prometheus endpoint (workers publish them every 0.5 s).
  std::smatch mp;
  std::string e0 = slurp(err);
  ASSERT_TRUE(std::regex_search(e0, mp, std::regex(R"(metrics on 127\.0\.0\.1:0 \(port (\d+)\))"))) << e0;
  std::string metrics;
  EXPECT_TRUE(wait_until(
      [&] {
        metrics.clear();
        run_cmd("curl -s --max-time 5 http://127.0.0.1:" + mp[1].str() + "/metrics", &metrics);
        return metrics.find("omamori_collector_decode_errors_by_exporter_total{source=\"127.0.0.1\",reason=\"unknown "
                            "flow export version\"} 1") != std::string::npos;
      },
      10s))
      << metrics;
  EXPECT_NE(metrics.find(R"(omamori_collector_records_total{listen="127.0.0.1:0",port=")" + std::to_string(port) +
                         R"(",worker="0"} 2)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(omamori_collector_decode_errors_by_reason_total{reason="unknown flow export version"} 1)"),
            std::string::npos)
      << metrics;
  std::this_thread::sleep_for(300ms);
  kill(pid, SIGTERM);
  int rc = wait_exit(pid, 15s);
  EXPECT_EQ(rc, 3) << slurp(err);  // finished, but input had malformed records
  std::string e = slurp(err);
  EXPECT_NE(e.find("decode: unknown flow export version (from 127.0.0.1): 1"), std::string::npos) << e;
  EXPECT_NE(e.find("records=2"), std::string::npos) << e;      // periodic and final stats
  EXPECT_NE(e.find("records/s"), std::string::npos) << e;
  EXPECT_TRUE(fs::exists(tfile)) << e;  // saved at stop
  fs::remove_all(dir);
}

}  // namespace
}  // namespace omamori
