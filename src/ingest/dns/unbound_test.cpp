// End to end with a real resolver: Unbound on loopback, answering only from
// local data (local-zone "." static: it never recurses, nothing leaves the
// host), sends dnstap to omamori's listener over a Unix socket and over TCP
// (the latter to the `omamori dns listen` binary). dig sends the queries from
// fixed source ports; the test checks client address and port, names, types,
// rcodes and answers, and that Unbound's own query log says the same.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "detect/reputation/reputation.hpp"
#include "intel/feeds/feeds.hpp"
#include "ingest/dns/dnstap.hpp"
#include "ingest/dns/dnstap_listener.hpp"
#include "ingest/dns/reader.hpp"
#include "ingest/dns/test_util.hpp"

extern char** environ;

namespace omamori {
namespace {

using dnstest::run;

// A free port on loopback for both UDP and TCP (closed again before use).
uint16_t free_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int t = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    ::bind(t, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    ::getsockname(t, reinterpret_cast<sockaddr*>(&sa), &sl);
    uint16_t port = ntohs(sa.sin_port);
    int u = ::socket(AF_INET, SOCK_DGRAM, 0);
    bool ok = ::bind(u, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(u);
    ::close(t);
    if (ok) return port;
  }
  return 0;
}

// A child process, killed (SIGTERM) and reaped when the object goes.
struct Child {
  pid_t pid = -1;
  Child(const std::vector<std::string>& argv, const std::string& stdout_file = "") {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (!stdout_file.empty())
      posix_spawn_file_actions_addopen(&fa, 1, stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  // SIGTERM and wait; returns the exit status.
  int stop() {
    if (pid <= 0) return -1;
    ::kill(pid, SIGTERM);
    int st = 0;
    ::waitpid(pid, &st, 0);
    pid = -1;
    return st;
  }
  ~Child() { stop(); }
};

template <typename F>
bool wait_for(F cond, int ms = 10000) {
  for (int i = 0; i < ms / 20; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

std::string unbound_conf(const std::string& dir, uint16_t port, const std::string& dnstap_target) {
  return "server:\n"
         "  interface: 127.0.0.1\n"
         "  interface: ::1\n"
         "  port: " +
         std::to_string(port) +
         "\n"
         "  do-daemonize: no\n"
         "  use-syslog: no\n"
         "  logfile: \"" +
         dir +
         "/unbound.log\"\n"
         "  log-queries: yes\n"
         "  log-replies: yes\n"
         "  verbosity: 1\n"
         "  username: \"\"\n"
         "  chroot: \"\"\n"
         "  directory: \"" +
         dir +
         "\"\n"
         "  pidfile: \"\"\n"
         "  access-control: 127.0.0.0/8 allow\n"
         "  access-control: ::1 allow\n"
         "  module-config: \"iterator\"\n"
         "  do-not-query-localhost: yes\n"
         // Every name is under the root, so everything is answered from local data.
         "  local-zone: \".\" static\n"
         "  local-data: \"example.test. 60 IN A 192.0.2.10\"\n"
         "  local-data: \"example.test. 60 IN AAAA 2001:db8::10\"\n"
         "  local-data: \"www.example.test. 60 IN CNAME example.test.\"\n"
         "  local-data: \"c2.botnet.test. 60 IN A 198.51.100.66\"\n"
         // A subdomain of a name in the real Maltrail Mirai trail (see the reputation check below).
         "  local-data: \"cnc.cloudflarecock.club. 60 IN A 203.0.113.66\"\n"
         "  local-data: 'we\\032ird\\.label.example.test. 60 IN A 192.0.2.5'\n"
         "  dnstap:\n"
         "  dnstap-enable: yes\n" +
         dnstap_target +
         "  dnstap-send-identity: yes\n"
         "  dnstap-identity: \"unbound-e2e\"\n"
         "  dnstap-send-version: yes\n"
         "  dnstap-log-client-query-messages: yes\n"
         "  dnstap-log-client-response-messages: yes\n"
         "remote-control:\n"
         "  control-enable: no\n";
}

struct Query {
  std::string server;  // 127.0.0.1 or ::1
  std::string name;
  std::string type;
  bool tcp = false;
  // expected
  std::string qname;
  uint16_t qtype;
  uint16_t rcode;
  std::vector<std::string> answers;
  uint16_t sport = 0;
};

std::vector<Query> queries() {
  return {
      {"127.0.0.1", "example.test", "A", false, "example.test", dnstype::A, 0, {"192.0.2.10"}},
      {"::1", "example.test", "AAAA", false, "example.test", dnstype::AAAA, 0, {"2001:db8::10"}},
      {"127.0.0.1", "www.example.test", "A", false, "www.example.test", dnstype::A, 0, {"example.test"}},
      {"127.0.0.1", "nx.example.test", "A", false, "nx.example.test", dnstype::A, 3, {}},
      {"127.0.0.1", "C2.Botnet.TEST", "A", true, "c2.botnet.test", dnstype::A, 0, {"198.51.100.66"}},
      {"127.0.0.1", "cnc.cloudflarecock.club", "A", false, "cnc.cloudflarecock.club", dnstype::A, 0, {"203.0.113.66"}},
      {"127.0.0.1", "xcloudflarecock.club", "A", false, "xcloudflarecock.club", dnstype::A, 3, {}},
      {"127.0.0.1",
       "we\\032ird\\.label.example.test",
       "A",
       false,
       "we\\032ird\\.label.example.test",
       dnstype::A,
       0,
       {"192.0.2.5"}},
  };
}

// Sends the queries with dig from fixed source ports; returns the question
// names exactly as dig printed them.
std::vector<std::string> send_queries(std::vector<Query>& qs, uint16_t port) {
  std::vector<std::string> printed;
  for (auto& q : qs) {
    q.sport = free_port();
    std::string cmd = "dig @" + q.server + " -p " + std::to_string(port) + " -b " + q.server + "#" +
                      std::to_string(q.sport) + " +tries=1 +time=3 +noall +question +answer +comments " +
                      (q.tcp ? "+tcp " : "") + "'" + q.name + "' " + q.type;
    std::string out = run(cmd);
    // ";we\032ird\.label.example.test.	IN	A" in the question section
    std::string qline;
    for (const auto& l : dnstest::lines(out))
      if (l.size() > 1 && l[0] == ';' && l.find("\tIN\t") != std::string::npos && l[1] != ';') qline = l.substr(1);
    printed.push_back(qline.substr(0, qline.find('\t')));
    EXPECT_NE(out.find(q.rcode == 3 ? "status: NXDOMAIN" : "status: NOERROR"), std::string::npos) << out;
  }
  return printed;
}

void check_events(const std::vector<OwnedDnsEvent>& got, const std::vector<Query>& qs, uint16_t port,
                  const std::vector<std::string>& dig_names) {
  for (size_t i = 0; i < qs.size(); ++i) {
    const auto& q = qs[i];
    SCOPED_TRACE(q.name);
    const OwnedDnsEvent* cq = nullptr;
    const OwnedDnsEvent* cr = nullptr;
    for (const auto& e : got) {
      if (e.client_port != q.sport) continue;
      if (e.dnstap_type == 5) cq = &e;
      if (e.dnstap_type == 6) cr = &e;
    }
    ASSERT_TRUE(cq && cr) << "no CLIENT_QUERY/CLIENT_RESPONSE from port " << q.sport;
    for (const auto* e : {cq, cr}) {
      EXPECT_EQ(e->client.str(), q.server);
      EXPECT_EQ(e->resolver.str(), q.server);
      EXPECT_EQ(e->resolver_port, port);
      EXPECT_EQ(e->qname, q.qname);
      EXPECT_EQ(e->qtype, q.qtype);
      EXPECT_EQ(e->transport, q.tcp ? DnsTransport::Tcp : DnsTransport::Udp);
      EXPECT_GT(e->time, 0);
    }
    // Our name is dig's name with the trailing dot removed and lower-cased.
    std::string dn = dig_names[i];
    if (!dn.empty() && dn.back() == '.') dn.pop_back();
    for (auto& c : dn) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(cq->qname, dn);
    EXPECT_FALSE(cq->is_response());
    EXPECT_TRUE(cr->is_response());
    EXPECT_EQ(cr->rcode, q.rcode);
    EXPECT_EQ(cr->answers, q.answers);
  }
}

// Unbound's log-queries/log-replies lines of the same run tell the same story.
void check_unbound_log(const std::string& logfile, const std::vector<OwnedDnsEvent>& tap) {
  DnsFileReader r;
  dnstest::Collector c;
  std::string err;
  ASSERT_TRUE(r.read(logfile, DnsInputFormat::Unbound, c, err)) << err;
  EXPECT_EQ(r.log_errors().total(), 0u);
  size_t matched = 0;
  for (const auto& l : c.events) {
    if (l.qname.find('?') != std::string::npos) continue;  // Unbound logs odd bytes as '?'
    bool found = false;
    for (const auto& d : tap) {
      if (d.qname == l.qname && d.client == l.client && d.is_response() == l.is_response() &&
          (!l.is_response() || d.rcode == l.rcode) && std::abs(d.time - l.time) < 2000)
        found = true;
    }
    EXPECT_TRUE(found) << l.qname;
    matched += found;
  }
  EXPECT_GE(matched, 10u);
  // Nothing was recursed: Unbound's own statistics at shutdown.
  std::ifstream f(logfile);
  std::string all((std::istreambuf_iterator<char>(f)), {});
  EXPECT_NE(all.find(" 0 recursions"), std::string::npos) << all;
}

struct LockedCollector final : DnsSink {
  std::mutex mu;
  std::vector<OwnedDnsEvent> events;
  DnsSink* also = nullptr;  // e.g. a detector fed by the same live stream
  void on_dns(const DnsEvent& ev) override {
    std::lock_guard<std::mutex> g(mu);
    events.push_back(OwnedDnsEvent::from(ev));
    if (also) also->on_dns(ev);
  }
  size_t size() {
    std::lock_guard<std::mutex> g(mu);
    return events.size();
  }
};

TEST(UnboundDnstap, UnixSocketToListener) {
  ASSERT_TRUE(dnstest::have_program("unbound"));
  ASSERT_TRUE(dnstest::have_program("dig"));
  dnstest::TempDir dir;
  std::string sock = dir.str("dnstap.sock");
  std::string err;
  auto l = DnstapListener::unix_socket(sock, err);
  ASSERT_TRUE(l) << err;
  LockedCollector got;
  // The reputation detector on the live dnstap stream, with the real Mirai trail.
  intel::FeedConfig fc;
  fc.name = "maltrail-mirai";
  fc.format = "maltrail";
  std::string trail;
  ASSERT_TRUE(intel::read_text_file(std::string(OMAMORI_SHARED_DATA) + "/intel/maltrail/elf_mirai.txt", trail, err));
  intel::ParseResult parsed;
  ASSERT_TRUE(intel::parse_feed(trail, fc, "elf_mirai.txt", 0, parsed, err)) << err;
  intel::SnapshotBuilder sb;
  for (const auto& ind : parsed.indicators) sb.add(ind);
  reputation::Detector detector({}, sb.build());
  got.also = &detector;
  std::thread t([&] { l->run(got); });
  uint16_t port = free_port();
  {
    std::ofstream(dir.str("unbound.conf")) << unbound_conf(dir.str(), port, "  dnstap-socket-path: \"" + sock + "\"\n");
    Child unbound({"unbound", "-d", "-c", dir.str("unbound.conf")});
    ASSERT_GT(unbound.pid, 0);
    ASSERT_TRUE(wait_for([&] { return l->connections() >= 1; })) << "unbound did not connect its dnstap socket";
    // Unbound is up once it answers.
    ASSERT_TRUE(wait_for([&] {
      int st = 0;
      run("dig @127.0.0.1 -p " + std::to_string(port) + " +tries=1 +time=1 example.test >/dev/null 2>&1", &st);
      return st == 0;
    }));
    auto qs = queries();
    auto dig_names = send_queries(qs, port);
    ASSERT_TRUE(wait_for([&] {
      std::lock_guard<std::mutex> g(got.mu);
      size_t n = 0;
      for (const auto& e : got.events)
        for (const auto& q : qs) n += e.client_port == q.sport;
      return n == 2 * qs.size();
    }));
    EXPECT_EQ(unbound.stop(), 0);
    // On shutdown Unbound sends STOP and waits for our FINISH.
    EXPECT_TRUE(wait_for([&] { return l->finished() >= 1; }));
    l->stop();
    t.join();
    for (const auto& row : l->errors().snapshot(false)) ADD_FAILURE() << row.reason << ": " << row.count;
    for (const auto& row : l->decoder().errors().snapshot(false)) ADD_FAILURE() << row.reason << ": " << row.count;
    EXPECT_EQ(l->decoder().identity(), "unbound-e2e");
    check_events(got.events, qs, port, dig_names);
    check_unbound_log(dir.str("unbound.log"), got.events);
    // Exactly one finding: the client that looked up a subdomain of the listed
    // name; the near miss (xcloudflarecock.club) and the other names give none.
    FindingCollector findings;
    detector.findings(findings);
    ASSERT_EQ(findings.findings.size(), 1u);
    const Finding& f = findings.findings[0];
    EXPECT_EQ(f.type, "reputation-dns");
    EXPECT_EQ(f.host.str(), "127.0.0.1");
    EXPECT_EQ(f.indicator, "cloudflarecock.club");
    EXPECT_EQ(f.family, "mirai");
    EXPECT_EQ(f.events, 1u);  // the query and its response are one lookup
  }
}

TEST(UnboundDnstap, TcpToOmamoriBinary) {
  ASSERT_TRUE(dnstest::have_program("unbound"));
  dnstest::TempDir dir;
  uint16_t tap_port = free_port();
  uint16_t port = free_port();
  std::string out = dir.str("events.jsonl");
  Child omamori(
      {OMAMORI_BINARY, "dns", "listen", "--tcp", "127.0.0.1:" + std::to_string(tap_port), "-f", "jsonl", "--stats"},
      out);
  ASSERT_GT(omamori.pid, 0);
  ASSERT_TRUE(wait_for([&] {
    int st = 0;
    run("ss -ltn 2>/dev/null | grep -q '127.0.0.1:" + std::to_string(tap_port) + " '", &st);
    return st == 0;
  }));
  std::ofstream(dir.str("unbound.conf")) << unbound_conf(
      dir.str(), port, "  dnstap-ip: \"127.0.0.1@" + std::to_string(tap_port) + "\"\n  dnstap-tls: no\n");
  Child unbound({"unbound", "-d", "-c", dir.str("unbound.conf")});
  ASSERT_TRUE(wait_for([&] {
    int st = 0;
    run("dig @127.0.0.1 -p " + std::to_string(port) + " +tries=1 +time=1 example.test >/dev/null 2>&1", &st);
    return st == 0;
  }));
  auto qs = queries();
  auto dig_names = send_queries(qs, port);
  std::vector<OwnedDnsEvent> got;
  auto read_out = [&] {
    got.clear();
    std::ifstream f(out);
    std::string line;
    while (std::getline(f, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      OwnedDnsEvent e;
      e.client = *IpAddr::parse(j["client"].get<std::string>());
      e.client_port = j["client_port"].get<uint16_t>();
      if (!j["resolver"].is_null()) e.resolver = *IpAddr::parse(j["resolver"].get<std::string>());
      e.resolver_port = j["resolver_port"].get<uint16_t>();
      if (!j["transport"].is_null())
        e.transport = j["transport"].get<std::string>() == "tcp" ? DnsTransport::Tcp : DnsTransport::Udp;
      e.qname = j["qname"].get<std::string>();
      dns_type_from_name(j["qtype"].get<std::string>(), e.qtype);
      if (j["response"].get<bool>()) {
        e.flags = DnsEvent::kResponse;
        e.dnstap_type = 6;
        dns_rcode_from_name(j["rcode"].get<std::string>(), e.rcode);
      } else {
        e.dnstap_type = 5;
      }
      for (const auto& a : j["answers"]) e.answers.push_back(a.get<std::string>());
      e.time = j["time"].is_null() ? 0 : 1;
      got.push_back(e);
    }
    size_t n = 0;
    for (const auto& e : got)
      for (const auto& q : qs) n += e.client_port == q.sport;
    return n == 2 * qs.size();
  };
  ASSERT_TRUE(wait_for(read_out));
  EXPECT_EQ(unbound.stop(), 0);
  int st = omamori.stop();
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  check_events(got, qs, port, dig_names);
}

}  // namespace
}  // namespace omamori
