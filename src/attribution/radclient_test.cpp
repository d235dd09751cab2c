// The accounting server with the real radclient (freeradius-utils): the
// `omamori radius serve` binary on loopback with an ephemeral port, Start /
// Interim-Update / Stop / Accounting-On with explicit Event-Timestamps, then
// lookups on the persisted state at the session boundaries (through the
// index and through `omamori who`); a wrong secret gets no answer and is
// counted; a retransmission is answered twice and applied once.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <thread>

#include "attribution/radius.hpp"
#include "attribution/store.hpp"
#include "test_support/run.hpp"

#include <nlohmann/json.hpp>

namespace omamori {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int64_t T0 = 1700000000;  // 2023-11-14T22:13:20Z
const char* kSecret = "testing123";

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

// `omamori radius serve` in the background.
class Server {
 public:
  Server(const fs::path& dir, const std::string& listen, const std::string& nas) : dir_(dir) {
    err_ = dir / "serve.err";
    pid_ = fork();
    if (pid_ == 0) {
      FILE* e = std::fopen(err_.c_str(), "w");
      if (e) dup2(fileno(e), 2);
      std::string state = (dir / "state").string();
      execl(OMAMORI_BINARY, OMAMORI_BINARY, "radius", "serve", "--listen", listen.c_str(), "--nas", nas.c_str(),
            "--state-dir", state.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    wait_until(
        [&] {
          std::smatch m;
          std::string s = slurp(err_);
          if (std::regex_search(s, m, std::regex(R"(radius: listening \S+->(\d+))"))) port = std::stoi(m[1]);
          return port != 0;
        },
        20s);
  }
  ~Server() { stop(); }
  // SIGTERM, wait; returns the exit code (-1: had to be killed).
  int stop() {
    if (pid_ <= 0) return rc_;
    kill(pid_, SIGTERM);
    int st = 0;
    if (!wait_until([&] { return waitpid(pid_, &st, WNOHANG) == pid_; }, 20s)) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &st, 0);
      rc_ = -1;
    } else {
      rc_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    pid_ = 0;
    return rc_;
  }
  std::string stderr_text() const { return slurp(err_); }
  uint16_t port = 0;

 private:
  fs::path dir_, err_;
  pid_t pid_ = 0;
  int rc_ = -1;
};

// Runs radclient with one request; returns its exit code (0: answered).
int radclient(const fs::path& dir, const std::string& server, const std::string& secret, const std::string& attrs) {
  fs::path f = dir / "request.txt";
  std::ofstream(f) << attrs << "\n";
  std::string cmd = fmt::format("radclient -r 1 -t 3 -f {} {} acct {} >>{} 2>&1", f.string(), server, secret,
                                (dir / "radclient.log").string());
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string acct(const char* status, const char* user, const char* sid, const char* nas, int64_t t,
                 const std::string& extra = "") {
  std::string s = fmt::format(
      "Acct-Status-Type = {}, NAS-IP-Address = {}, Event-Timestamp = {}", status, nas, t);
  if (user) s += fmt::format(", User-Name = \"{}\"", user);
  if (sid) s += fmt::format(", Acct-Session-Id = \"{}\"", sid);
  return s + extra;
}

fs::path temp_dir(const std::string& tag) {
  fs::path p = fs::temp_directory_path() / fmt::format("omamori-radclient-{}-{}", getpid(), tag);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

std::string who_index(const SessionIndex& idx, const char* addr, int64_t t_ms) {
  AttributionRef r;
  return idx.lookup(ip(addr), t_ms, r) ? std::string(r.subscriber) : "-";
}

TEST(RadclientAccounting, SessionsAtBoundariesAccountingOnAndWrongSecret) {
  fs::path dir = temp_dir("main");
  Server srv(dir, "127.0.0.1:0", std::string("127.0.0.1=") + kSecret);
  ASSERT_NE(srv.port, 0) << srv.stderr_text();
  std::string to = fmt::format("127.0.0.1:{}", srv.port);

  // alice: Start, Interim-Update, Stop on NAS 192.0.2.1, with IPv4 and IPv6 prefixes.
  ASSERT_EQ(radclient(dir, to, kSecret,
                      acct("Start", "alice", "A-1", "192.0.2.1", T0,
                           ", Framed-IP-Address = 100.64.0.7, Framed-IPv6-Prefix = 2001:db8:0:7::/64, "
                           "Delegated-IPv6-Prefix = 2001:db8:1100::/56, Acct-Interim-Interval = 300")),
            0)
      << slurp(dir / "radclient.log");
  ASSERT_EQ(radclient(dir, to, kSecret, acct("Interim-Update", "alice", "A-1", "192.0.2.1", T0 + 300,
                                             ", Framed-IP-Address = 100.64.0.7")),
            0);
  ASSERT_EQ(radclient(dir, to, kSecret, acct("Stop", "alice", "A-1", "192.0.2.1", T0 + 3600,
                                             ", Framed-IP-Address = 100.64.0.7, Acct-Session-Time = 3600")),
            0);
  // bob on the same NAS (left open), carol on another NAS.
  ASSERT_EQ(radclient(dir, to, kSecret,
                      acct("Start", "bob", "B-1", "192.0.2.1", T0 + 100, ", Framed-IP-Address = 100.64.0.8")),
            0);
  ASSERT_EQ(radclient(dir, to, kSecret,
                      acct("Start", "carol", "C-1", "192.0.2.2", T0 + 100, ", Framed-IP-Address = 100.64.0.9")),
            0);
  // NAS 192.0.2.1 reboots: Accounting-On closes bob's session, not carol's.
  ASSERT_EQ(radclient(dir, to, kSecret, acct("Accounting-On", nullptr, nullptr, "192.0.2.1", T0 + 7200)), 0);
  // A wrong secret: no answer, nothing stored.
  EXPECT_NE(radclient(dir, to, "not-the-secret",
                      acct("Start", "mallory", "M-1", "192.0.2.1", T0, ", Framed-IP-Address = 100.64.0.66")),
            0);

  // The persisted state, read by another reader while the server runs.
  SessionStore ro((dir / "state" / "sessions.db").string(), true);
  auto idx = ro.load_index({});
  const int64_t s = T0 * 1000, e = (T0 + 3600) * 1000;
  EXPECT_EQ(who_index(*idx, "100.64.0.7", s - 1), "-");
  EXPECT_EQ(who_index(*idx, "100.64.0.7", s), "alice");
  EXPECT_EQ(who_index(*idx, "100.64.0.7", s + 1800 * 1000), "alice");
  EXPECT_EQ(who_index(*idx, "100.64.0.7", e - 1), "alice");
  EXPECT_EQ(who_index(*idx, "100.64.0.7", e), "-");
  EXPECT_EQ(who_index(*idx, "100.64.0.7", e + 1), "-");
  EXPECT_EQ(who_index(*idx, "2001:db8:1100:42::1", s), "alice");  // Delegated-IPv6-Prefix
  EXPECT_EQ(who_index(*idx, "2001:db8:0:7::99", s + 1), "alice");  // Framed-IPv6-Prefix
  EXPECT_EQ(who_index(*idx, "2001:db8:1101::1", s + 1), "-");
  EXPECT_EQ(who_index(*idx, "2001:db8:1100:42::1", e), "-");
  EXPECT_EQ(who_index(*idx, "100.64.0.8", (T0 + 7200) * 1000 - 1), "bob");
  EXPECT_EQ(who_index(*idx, "100.64.0.8", (T0 + 7200) * 1000), "-");
  EXPECT_EQ(who_index(*idx, "100.64.0.9", (T0 + 9000) * 1000), "carol");
  EXPECT_EQ(who_index(*idx, "100.64.0.66", s + 1), "-");
  AttributionRef r;
  ASSERT_TRUE(idx->lookup(ip("100.64.0.7"), s + 5, r));
  EXPECT_EQ(r.session_id, "A-1");
  EXPECT_EQ(r.nas, ip("192.0.2.1"));
  EXPECT_EQ(r.end, e);

  // The lookup command on the same state (another process).
  std::string state = (dir / "state").string();
  std::string out = test::run(fmt::format("{} who 100.64.0.7 2023-11-14T22:13:20Z --state-dir {} --format json",
                                          OMAMORI_BINARY, state));
  EXPECT_NE(out.find("\"session_id\":\"A-1\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"match\":\"address\""), std::string::npos) << out;
  EXPECT_EQ(out.find("alice"), std::string::npos) << "pseudonymous by default: " << out;
  out = test::run(fmt::format("{} who 100.64.0.7 2023-11-14T22:13:19.999Z --state-dir {} --format json; true",
                              OMAMORI_BINARY, state));
  EXPECT_EQ(out.find("A-1"), std::string::npos) << out;

  ASSERT_EQ(srv.stop(), 3) << srv.stderr_text();  // data errors: the rejected request
  std::string err = srv.stderr_text();
  EXPECT_NE(err.find("applied=6 "), std::string::npos) << err;
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(rejected reason="bad authenticator[^"]*" nas=127.0.0.1 count=[1-9])")))
      << err;
  fs::remove_all(dir);
}

// Sends one datagram and waits for an answer; returns the answer (empty on timeout).
std::vector<uint8_t> exchange(int fd, uint16_t port, const std::vector<uint8_t>& p) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sendto(fd, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  std::vector<uint8_t> buf(4096);
  ssize_t n = recv(fd, buf.data(), buf.size(), 0);
  buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return buf;
}

TEST(RadclientAccounting, RetransmissionAnsweredTwiceAppliedOnce) {
  fs::path dir = temp_dir("retransmit");
  Server srv(dir, "127.0.0.1:0", std::string("127.0.0.1=") + kSecret);
  ASSERT_NE(srv.port, 0) << srv.stderr_text();
  using namespace radius;
  auto p = build_request(77,
                         {attr_u32(kAcctStatusType, kStart), attr_string(kUserName, "dora"),
                          attr_string(kAcctSessionId, "D-1"), attr_ipv4(kFramedIpAddress, ip("100.64.1.1")),
                          attr_u32(kEventTimestamp, static_cast<uint32_t>(T0))},
                         kSecret);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto a1 = exchange(fd, srv.port, p);
  auto a2 = exchange(fd, srv.port, p);  // same socket: same source port, Identifier and authenticator
  close(fd);
  ASSERT_EQ(a1.size(), 20u);
  EXPECT_EQ(a1, a2);
  // The answer is signed with the secret over the request authenticator.
  Md5 md5;
  uint8_t want[20];
  encode_response(77, p.data() + 4, kSecret, md5, want);
  EXPECT_EQ(a1, std::vector<uint8_t>(want, want + 20));
  ASSERT_EQ(srv.stop(), 0) << srv.stderr_text();
  std::string err = srv.stderr_text();
  EXPECT_NE(err.find("received=2 answered=2 applied=1 duplicates=1"), std::string::npos) << err;
  EXPECT_NE(err.find("stored result=\"start\" count=1"), std::string::npos) << err;
  fs::remove_all(dir);
}

TEST(RadclientAccounting, Ipv6ListenerWithRadclient) {
  fs::path dir = temp_dir("v6");
  Server srv(dir, "[::1]:0", std::string("::1=") + kSecret);
  ASSERT_NE(srv.port, 0) << srv.stderr_text();
  ASSERT_EQ(radclient(dir, fmt::format("[::1]:{}", srv.port), kSecret,
                      acct("Start", "erin", "E-1", "192.0.2.1", T0, ", Delegated-IPv6-Prefix = 2001:db8:2200::/48")),
            0)
      << slurp(dir / "radclient.log");
  SessionStore ro((dir / "state" / "sessions.db").string(), true);
  auto idx = ro.load_index({});
  EXPECT_EQ(who_index(*idx, "2001:db8:2200:ffff::1", T0 * 1000), "erin");
  EXPECT_EQ(who_index(*idx, "2001:db8:2201::1", T0 * 1000), "-");
  EXPECT_EQ(srv.stop(), 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace omamori

namespace omamori {
namespace {

// `omamori who` on imported files: identity only with --reveal, a reason and
// a role allowed to; the reveal and the refusal are in the audit log.
TEST(WhoCli, ImportedSessionsPortBlocksRevealAndAudit) {
  fs::path dir = temp_dir("who");
  std::string state = (dir / "state").string();
  std::string bin = OMAMORI_BINARY;
  std::string td = OMAMORI_TESTDATA;
  // radacct rows: three good, three rejected -> exit code 3.
  int st = std::system(fmt::format("{} radius import --format radacct {}/radacct-sample.csv --state-dir {} 2>{}/imp.err",
                                   bin, td, state, dir.string())
                           .c_str());
  EXPECT_EQ(WEXITSTATUS(st), 3) << slurp(dir / "imp.err");
  EXPECT_NE(slurp(dir / "imp.err").find("radacct-sample.csv:5: radacct: bad nasipaddress"), std::string::npos)
      << slurp(dir / "imp.err");
  test::run(fmt::format("{} radius import --format cgnat --cgnat-box 192.0.2.50 {}/cgnat-generic.csv --state-dir {}; true",
                        bin, td, state));
  std::string out = test::run(fmt::format("{} radius status --state-dir {}", bin, state));
  EXPECT_NE(out.find("sessions 3 (open 2), port blocks 3"), std::string::npos) << out;

  // alice held 100.64.0.7 from 22:13:20 to 23:13:20; the port block 1024-2047 of
  // 203.0.113.5 was 100.64.0.7's from 22:00 to 23:00.
  out = test::run(fmt::format("{} who 203.0.113.5:1500 2023-11-14T22:30:00Z --state-dir {} -f json", bin, state));
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["match"], "address-port");
  EXPECT_EQ(j["inside"], "100.64.0.7");
  EXPECT_EQ(j["inside_session_id"], "0001A");
  EXPECT_EQ(j["nas"], "192.0.2.50");
  EXPECT_TRUE(j["subscriber"].get<std::string>().starts_with("sub-")) << out;
  std::string pseudonym = j["subscriber"];
  EXPECT_FALSE(j.contains("identity"));
  // The same subscriber through the plain address: the same pseudonym.
  out = test::run(fmt::format("{} who 100.64.0.7 2023-11-14T22:30:00Z --state-dir {} -f json", bin, state));
  EXPECT_EQ(nlohmann::json::parse(out)["subscriber"], pseudonym);
  // IPv6 prefix from the export.
  out = test::run(fmt::format("{} who 2001:db8:1100:ab::1 2023-11-14T22:30:00Z --state-dir {} -f json", bin, state));
  EXPECT_EQ(nlohmann::json::parse(out)["match"], "prefix");
  // Nobody: exit 1.
  st = std::system(fmt::format("{} who 100.64.0.7 2023-11-14T23:13:20Z --state-dir {} >/dev/null", bin, state).c_str());
  EXPECT_EQ(WEXITSTATUS(st), 1);

  // Reveal: needs a reason ...
  st = std::system(
      fmt::format("{} who 100.64.0.7 2023-11-14T22:30:00Z --state-dir {} --reveal >/dev/null 2>&1", bin, state).c_str());
  EXPECT_EQ(WEXITSTATUS(st), 2);
  // ... and a role that may reveal (analyst may not: refused and audited) ...
  st = std::system(fmt::format("{} who 100.64.0.7 2023-11-14T22:30:00Z --state-dir {} --reveal --reason 'case 7' "
                               "--role analyst >{}/o 2>&1",
                               bin, state, dir.string())
                       .c_str());
  EXPECT_EQ(WEXITSTATUS(st), 1);
  EXPECT_EQ(slurp(dir / "o").find("alice"), std::string::npos);
  // ... then the identity is shown and the reveal is in the audit log.
  out = test::run(fmt::format("{} who 100.64.0.7 2023-11-14T22:30:00Z --state-dir {} --reveal --reason 'case 7' "
                              "--role notifier -f json",
                              bin, state));
  EXPECT_EQ(nlohmann::json::parse(out)["identity"], "alice") << out;
  std::string audit = slurp(fs::path(state) / "audit.log");
  EXPECT_NE(audit.find("\"action\":\"access.denied\""), std::string::npos) << audit;
  EXPECT_NE(audit.find("\"action\":\"identity.reveal\""), std::string::npos) << audit;
  EXPECT_NE(audit.find("\"reason\":\"case 7\""), std::string::npos) << audit;
  EXPECT_NE(audit.find(pseudonym), std::string::npos) << audit;
  EXPECT_EQ(audit.find("alice"), std::string::npos) << "the audit log names the pseudonym, not the identity";
  test::run(fmt::format("{} audit verify --state-dir {}", bin, state));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace omamori
