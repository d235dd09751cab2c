// Real scan traffic: network namespaces made by the test (a router, one
// scanning subscriber, three benign subscribers, a server network), the real
// nmap doing a SYN scan of IoT ports over an empty (blackholed) /24 and three
// live hosts running real services (python3 http.server, ncat, unbound),
// while the benign subscribers browse, resolve names, open an ssh-like
// connection, and one crawls a farm of 120 web servers (as many port-80
// destinations as a scanner, but all answered). tcpdump on the router's subscriber-facing bridge captures it
// all; `omamori analyze` on the capture must find the scanner and nothing
// else, and the darknet finding when the blackholed /24 is configured as
// darknet. Every address exists only inside the namespaces; none of them has
// a route to the host.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "test_support/run.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;

// True if this process may create network namespaces (CAP_SYS_ADMIN to
// mount them under /run/netns, CAP_NET_ADMIN to configure them).
bool may_create_namespaces(std::string& why) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    uint64_t caps = std::stoull(line.substr(7), nullptr, 16);
    const bool net_admin = caps >> 12 & 1, sys_admin = caps >> 21 & 1;
    if (net_admin && sys_admin) return true;
    why = std::string("this test creates network namespaces and needs ") +
          (!net_admin ? "CAP_NET_ADMIN" : "") + (!net_admin && !sys_admin ? " and " : "") +
          (!sys_admin ? "CAP_SYS_ADMIN" : "") + " (run it as root, as CI does)";
    return false;
  }
  why = "cannot read the capabilities of this process";
  return false;
}

int sh(const std::string& cmd) {
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// The namespaces, processes and files of one test run; torn down in the
// destructor, so also when an assertion ends the test early.
class Lab {
 public:
  Lab() {
    static int seq = 0;
    id_ = fmt::format("omscan{}x{}", getpid(), seq++);
    std::string tmpl = (fs::temp_directory_path() / "omamori-scanlab-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  ~Lab() {
    for (pid_t p : pids_) stop_quietly(p, SIGTERM);
    for (const auto& ns : namespaces_) {
      // Anything still running in our namespaces was started by this test.
      sh(fmt::format("for p in $(ip netns pids {0} 2>/dev/null); do kill -9 $p; done; ip netns del {0} 2>/dev/null",
                     ns));
    }
    if (!std::getenv("OMAMORI_KEEP_LAB")) fs::remove_all(dir_);
  }
  const std::string& dir() const { return dir_; }
  std::string file(const std::string& name) const { return (fs::path(dir_) / name).string(); }

  std::string ns(const std::string& role) const { return id_ + "-" + role; }
  // Runs a command, failing the test (via the return value) when it fails.
  bool run(const std::string& cmd) {
    int rc = sh(cmd + " >>" + file("setup.log") + " 2>&1");
    if (rc != 0) ADD_FAILURE() << "failed (" << rc << "): " << cmd << "\n" << read(file("setup.log"));
    return rc == 0;
  }
  bool in(const std::string& role, const std::string& cmd) { return run("ip netns exec " + ns(role) + " " + cmd); }
  bool add_namespace(const std::string& role) {
    if (!run("ip netns add " + ns(role))) return false;
    namespaces_.push_back(ns(role));
    return run(fmt::format("ip -n {} link set lo up", ns(role)));
  }
  // Starts a long-running command inside a namespace; stdout/stderr to log.
  pid_t start(const std::string& role, const std::string& cmd, const std::string& log) {
    std::string line = fmt::format("exec ip netns exec {} {} >{} 2>&1", ns(role), cmd, file(log));
    const char* argv[] = {"/bin/sh", "-c", line.c_str(), nullptr};
    pid_t pid = -1;
    if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ) != 0) {
      ADD_FAILURE() << "cannot start " << cmd;
      return -1;
    }
    pids_.push_back(pid);
    return pid;
  }
  // Stops a started process with a signal and waits for it (SIGKILL after 5 s).
  void stop(pid_t pid, int sig) {
    stop_quietly(pid, sig);
    std::erase(pids_, pid);
  }
  static void stop_quietly(pid_t pid, int sig) {
    kill(pid, sig);
    for (int i = 0; i < 250; ++i) {
      if (waitpid(pid, nullptr, WNOHANG) == pid) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  static std::string read(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
  // Waits up to 10 s for a condition.
  template <typename F>
  static bool wait_for(F&& cond) {
    for (int i = 0; i < 500; ++i) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return cond();
  }

 private:
  std::string id_, dir_;
  std::vector<std::string> namespaces_;
  std::vector<pid_t> pids_;
};

constexpr const char* kScanner = "10.77.0.10";
const std::map<std::string, std::string> kBenign = {
    {"web", "10.77.0.21"}, {"ssh", "10.77.0.22"}, {"mixed", "10.77.0.23"}, {"crawler", "10.77.0.24"}};
constexpr int kWebFarm = 120;  // live web servers 198.18.2.1-120: the crawler visits them all
constexpr const char* kDarknet = "198.19.5.0/24";  // routed to a blackhole on the router: nobody lives there
constexpr const char* kIotPorts = "23,2323,22,7547,5555,37215,52869,80,8080,81,8291";

// Builds the topology:
//   scanner, web, ssh, mixed, crawler (10.77.0.0/24) --veth-- br0 [router] up0 --veth-- servers
//   (198.18.1.0/24: three live hosts and a resolver; 198.18.2.0/24: a farm of 120 web servers)
// The router forwards between them and blackholes 198.19.5.0/24.
bool build(Lab& lab) {
  for (const char* role : {"router", "servers", "scanner", "web", "ssh", "mixed", "crawler"})
    if (!lab.add_namespace(role)) return false;
  const std::string r = lab.ns("router");
  bool ok = lab.run(fmt::format("ip -n {0} link add br0 type bridge && ip -n {0} link set br0 up && "
                                "ip -n {0} addr add 10.77.0.1/24 dev br0",
                                r)) &&
            lab.in("router", "sysctl -q -w net.ipv4.ip_forward=1") &&
            lab.run(fmt::format("ip -n {} route add blackhole {}", r, kDarknet));
  std::map<std::string, std::string> subs = kBenign;
  subs["scanner"] = kScanner;
  int port = 0;
  for (const auto& [role, addr] : subs) {
    std::string s = lab.ns(role), v = fmt::format("sub{}", port++);
    ok = ok && lab.run(fmt::format("ip -n {0} link add {1} type veth peer name eth0 netns {2} && "
                                   "ip -n {0} link set {1} master br0 up && "
                                   "ip -n {2} addr add {3}/24 dev eth0 && ip -n {2} link set eth0 up && "
                                   "ip -n {2} route add 198.18.0.0/15 via 10.77.0.1",
                                   r, v, s, addr));
  }
  std::string sv = lab.ns("servers");
  ok = ok && lab.run(fmt::format("ip -n {0} link add up0 type veth peer name eth0 netns {1} && "
                                 "ip -n {0} addr add 198.18.1.1/24 dev up0 && ip -n {0} link set up0 up && "
                                 "ip -n {1} link set eth0 up",
                                 r, sv));
  for (const char* a : {"198.18.1.10", "198.18.1.11", "198.18.1.12", "198.18.1.53"})
    ok = ok && lab.run(fmt::format("ip -n {} addr add {}/24 dev eth0", sv, a));
  {
    std::ofstream batch(lab.file("webfarm.batch"));
    for (int i = 1; i <= kWebFarm; ++i) batch << fmt::format("addr add 198.18.2.{}/24 dev eth0\n", i);
  }
  ok = ok && lab.run(fmt::format("ip -n {} -batch {}", sv, lab.file("webfarm.batch"))) &&
       lab.run(fmt::format("ip -n {} addr add 198.18.2.254/24 dev up0", r));
  return ok && lab.run(fmt::format("ip -n {} route add 10.77.0.0/24 via 198.18.1.1", sv));
}

std::string unbound_conf(const std::string& dir) {
  return fmt::format(
      "server:\n"
      "  interface: 198.18.1.53\n"
      "  port: 53\n"
      "  do-daemonize: no\n"
      "  use-syslog: no\n"
      "  logfile: \"\"\n"
      "  username: \"\"\n"
      "  chroot: \"\"\n"
      "  directory: \"{0}\"\n"
      "  pidfile: \"\"\n"
      "  do-ip6: no\n"
      "  access-control: 10.77.0.0/24 allow\n"
      "  module-config: \"iterator\"\n"
      "  local-zone: \".\" static\n"
      "  local-data: \"www.lab.test. 60 IN A 198.18.1.10\"\n"
      "  local-data: \"files.lab.test. 60 IN A 198.18.1.12\"\n"
      "  local-data: \"shell.lab.test. 60 IN A 198.18.1.11\"\n",
      dir);
}

bool have(const char* prog) {
  return sh(fmt::format("command -v {} >/dev/null 2>&1", prog)) == 0;
}

std::string python3() {
  return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

struct Findings {
  std::vector<nlohmann::json> all;
  std::vector<nlohmann::json> of(const std::string& type) const {
    std::vector<nlohmann::json> v;
    for (const auto& f : all)
      if (f["type"] == type) v.push_back(f);
    return v;
  }
};

Findings analyze(const std::string& args) {
  Findings f;
  auto out = omamori::test::run(std::string(OMAMORI_BINARY) + " analyze " + args + " --format jsonl --no-summary");
  for (const auto& line : omamori::test::lines(out))
    if (!line.empty()) f.all.push_back(nlohmann::json::parse(line));
  return f;
}

}  // namespace

TEST(ScanLab, NmapScannerFoundBenignSubscribersNot) {
  std::string why;
  if (!may_create_namespaces(why)) GTEST_SKIP() << why;
  for (const char* p : {"ip", "nmap", "tcpdump", "ncat", "unbound", "dig", "curl", "wget"})
    ASSERT_TRUE(have(p)) << p << " is not installed (scripts/setup.sh installs it)";

  Lab lab;
  ASSERT_TRUE(build(lab));

  // Real services on the live hosts.
  fs::create_directories(lab.file("www"));
  std::ofstream(lab.file("www/index.html")) << "<html>lab</html>\n";
  std::ofstream(lab.file("unbound.conf")) << unbound_conf(lab.dir());
  std::string py = python3();
  lab.start("servers", fmt::format("{} -m http.server 80 --bind 0.0.0.0 --directory {}", py, lab.file("www")), "http80.log");
  lab.start("servers", fmt::format("{} -m http.server 8080 --bind 0.0.0.0 --directory {}", py, lab.file("www")),
            "http8080.log");
  lab.start("servers", "ncat -l -k -p 22 --recv-only", "ssh.log");
  lab.start("servers", "unbound -d -c " + lab.file("unbound.conf"), "unbound.log");
  std::string sv = lab.ns("servers");
  auto listening = [&](const char* port) {
    return sh(fmt::format("ip netns exec {} ss -Hlntu 2>/dev/null | grep -q '{}'", sv, port)) == 0;
  };
  ASSERT_TRUE(Lab::wait_for([&] { return listening(":80 ") && listening(":8080 ") && listening(":22 ") && listening("198.18.1.53:53 "); }))
      << "services did not start\n" << Lab::read(lab.file("unbound.log")) << Lab::read(lab.file("http80.log"));

  // Capture on the router's subscriber side, as an ISP's aggregation link.
  pid_t cap = lab.start("router", "tcpdump -i br0 -n -U -s 256 -Z root -w " + lab.file("lab.pcap"), "tcpdump.log");
  ASSERT_TRUE(Lab::wait_for([&] { return Lab::read(lab.file("tcpdump.log")).find("listening on") != std::string::npos; }))
      << Lab::read(lab.file("tcpdump.log"));

  // Benign subscribers: look names up, browse, download, an ssh-like session,
  // and one attempt to an address that does not exist.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(lab.in("web", "dig +short +time=2 +tries=1 @198.18.1.53 www.lab.test"));
    ASSERT_TRUE(lab.in("web", "curl -sf --max-time 5 -o /dev/null http://198.18.1.10/"));
    ASSERT_TRUE(lab.in("web", "curl -sf --max-time 5 -o /dev/null http://198.18.1.10:8080/index.html"));
  }
  ASSERT_TRUE(lab.in("ssh", "dig +short +time=2 +tries=1 @198.18.1.53 shell.lab.test"));
  ASSERT_TRUE(lab.in("ssh", "sh -c \"printf 'SSH-2.0-OpenSSH_9.2 lab\\r\\n' | ncat --send-only -w 3 198.18.1.11 22\""));
  ASSERT_TRUE(lab.in("mixed", "dig +short +time=2 +tries=1 @198.18.1.53 files.lab.test"));
  ASSERT_TRUE(lab.in("mixed", "wget -q -T 5 -t 1 -O /dev/null http://198.18.1.12/index.html"));
  ASSERT_TRUE(lab.in("mixed", "curl -sf --max-time 5 -o /dev/null http://198.18.1.11:8080/"));
  // A busy but benign host: completed web connections to 120 different servers
  // (as many destinations on port 80 as a scanner, but every one answered).
  ASSERT_TRUE(lab.in("crawler", fmt::format("sh -c \"curl -sf --max-time 60 'http://198.18.2.[1-{}]/index.html' "
                                            ">/dev/null\"",
                                            kWebFarm)));
  EXPECT_FALSE(sh(fmt::format("ip netns exec {} curl -s --max-time 2 -o /dev/null http://198.19.5.77/ >/dev/null 2>&1",
                              lab.ns("mixed"))) == 0);  // blackholed: no answer

  // The scanner: a SYN scan of the IoT ports over the empty /24 and the live hosts.
  ASSERT_TRUE(lab.in("scanner", fmt::format("nmap -n -Pn -sS -p {} --max-retries 1 --min-rate 800 --max-rate 1500 "
                                "--host-timeout 60s -oG {} 198.19.5.0/24 198.18.1.10-12",
                                kIotPorts, lab.file("nmap.txt"))));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  lab.stop(cap, SIGINT);

  // nmap found the real services: the scan reached live hosts.
  std::string nm = Lab::read(lab.file("nmap.txt"));
  EXPECT_NE(nm.find("80/open/tcp"), std::string::npos) << nm;
  EXPECT_NE(nm.find("8080/open/tcp"), std::string::npos) << nm;
  EXPECT_NE(nm.find("22/open/tcp"), std::string::npos) << nm;
  ASSERT_GT(fs::file_size(lab.file("lab.pcap")), 100000u) << Lab::read(lab.file("tcpdump.log"));

  // Without darknet configuration: exactly one scan finding, for the scanner; nothing about anybody else.
  const std::string base = "--pcap " + lab.file("lab.pcap") + " --subscribers 10.77.0.0/24 --no-c2-discovery";
  Findings f = analyze(base);
  auto scans = f.of("scan");
  ASSERT_EQ(scans.size(), 1u) << f.all.size() << " findings";
  EXPECT_EQ(scans[0]["host"], kScanner);
  EXPECT_EQ(scans[0]["feed"], "scan-detector");
  EXPECT_GE(std::stoi(scans[0]["details"]["distinct_destinations"].get<std::string>()), 200);
  EXPECT_TRUE(f.of("darknet").empty());
  for (const auto& x : f.all) EXPECT_EQ(x["host"], kScanner) << x.dump();

  // With the darknet configured: the scanner also gets a darknet finding; the
  // benign host that tried one dead address does not.
  f = analyze(base + " --darknet " + kDarknet);
  ASSERT_EQ(f.of("scan").size(), 1u);
  auto dark = f.of("darknet");
  ASSERT_EQ(dark.size(), 1u);
  EXPECT_EQ(dark[0]["host"], kScanner);
  EXPECT_GE(std::stoi(dark[0]["details"]["distinct_destinations"].get<std::string>()), 128);
  std::set<std::string> hosts;
  for (const auto& x : f.all) hosts.insert(x["host"].get<std::string>());
  EXPECT_EQ(hosts, std::set<std::string>{kScanner});

  // The benign subscribers are in the capture (their traffic was seen, and judged clean).
  auto flows = omamori::test::run(std::string(OMAMORI_BINARY) + " flows meter --format csv " + lab.file("lab.pcap"));
  std::map<std::string, size_t> seen;
  std::set<std::string> crawled;
  for (const auto& line : omamori::test::lines(flows)) {
    auto col = omamori::test::split(line, ',');  // start,end,src,dst,sport,dport,proto,...
    if (col.size() < 7) continue;
    ++seen[col[2]];
    if (col[2] == kBenign.at("crawler") && col[5] == "80" && col[3].rfind("198.18.2.", 0) == 0) crawled.insert(col[3]);
  }
  for (const auto& [role, addr] : kBenign) EXPECT_GT(seen[addr], 0u) << role;
  EXPECT_EQ(crawled.size(), static_cast<size_t>(kWebFarm));  // as many destinations as a scan, yet not one
}
