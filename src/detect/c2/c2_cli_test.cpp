// End to end through the omamori binary: `analyze --c2-db` records C&C
// candidates from traffic, `c2 candidates` lists them with their evidence,
// `c2 confirm` puts one into the intel store as feed local-discovery (and the
// next `analyze --db` flags the hosts contacting it), `c2 reject` keeps one
// from being proposed again until its evidence doubles.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/ip.hpp"
#include "test_support/run.hpp"

namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "omamori-c2cli-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    if (!std::getenv("OMAMORI_KEEP_TMP")) fs::remove_all(path);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

struct Result {
  int code = -1;
  std::string out, err;
};

// Runs the omamori binary with args (a shell fragment); env is prepended.
Result cli(const std::string& args, const std::string& env = "") {
  char tmpl[] = "/tmp/omamori-c2cli-err-XXXXXX";
  int fd = mkstemp(tmpl);
  close(fd);
  std::string cmd = env + (env.empty() ? "" : " ") + std::string(OMAMORI_BINARY) + " " + args + " 2>" + tmpl;
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream e(tmpl);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  unlink(tmpl);
  return r;
}

std::vector<nlohmann::json> jsonl(const std::string& s) {
  std::vector<nlohmann::json> v;
  for (const auto& line : omamori::test::lines(s))
    if (!line.empty()) v.push_back(nlohmann::json::parse(line));
  return v;
}

// A raw-IP (LINKTYPE_RAW) pcap of TCP handshakes, written by the test.
class PcapWriter {
 public:
  explicit PcapWriter(const std::string& path) : f_(path, std::ios::binary) {
    put32(0xa1b2c3d4);
    put16(2);
    put16(4);
    put32(0);
    put32(0);
    put32(65535);
    put32(101);  // LINKTYPE_RAW
  }
  // client -> server: SYN, SYN-ACK, ACK with a few bytes, FIN both ways.
  void connection(const char* client, const char* server, uint16_t dport, double t) {
    uint16_t sport = static_cast<uint16_t>(40000 + (next_port_++ % 20000));
    packet(client, server, sport, dport, 0x02, 0, t);
    packet(server, client, dport, sport, 0x12, 0, t + 0.001);
    packet(client, server, sport, dport, 0x18, 20, t + 0.002);
    packet(client, server, sport, dport, 0x11, 0, t + 0.003);
    packet(server, client, dport, sport, 0x11, 0, t + 0.004);
  }

 private:
  void packet(const char* src, const char* dst, uint16_t sp, uint16_t dp, uint8_t flags, size_t payload, double t) {
    std::vector<uint8_t> p;
    auto b16 = [&](uint16_t v) {
      p.push_back(static_cast<uint8_t>(v >> 8));
      p.push_back(static_cast<uint8_t>(v));
    };
    auto addr = [&](const char* s) {
      auto a = omamori::IpAddr::parse(s);
      const uint8_t* x = a->bytes();
      p.insert(p.end(), x + 12, x + 16);
    };
    p.push_back(0x45);
    p.push_back(0);
    b16(static_cast<uint16_t>(40 + payload));
    b16(0);
    b16(0x4000);
    p.push_back(64);
    p.push_back(6);
    b16(0);
    addr(src);
    addr(dst);
    b16(sp);
    b16(dp);
    b16(0), b16(1), b16(0), b16(1);  // seq, ack
    p.push_back(0x50);
    p.push_back(flags);
    b16(65535);
    b16(0);
    b16(0);
    p.resize(p.size() + payload, 'x');
    auto sec = static_cast<uint32_t>(t);
    put32(sec);
    put32(static_cast<uint32_t>((t - sec) * 1e6));
    put32(static_cast<uint32_t>(p.size()));
    put32(static_cast<uint32_t>(p.size()));
    f_.write(reinterpret_cast<const char*>(p.data()), static_cast<std::streamsize>(p.size()));
  }
  void put16(uint16_t v) { f_.write(reinterpret_cast<const char*>(&v), 2); }
  void put32(uint32_t v) { f_.write(reinterpret_cast<const char*>(&v), 4); }
  std::ofstream f_;
  uint32_t next_port_ = 0;
};

// A Zeek dns.log (TSV) of NOERROR lookups.
class ZeekDnsLog {
 public:
  explicit ZeekDnsLog(const std::string& path) : f_(path) {
    f_ << "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n"
          "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\t"
          "qclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n"
          "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\t"
          "string\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n";
  }
  void lookup(const std::string& client, const std::string& name, const char* answer, double t) {
    ++n_;
    f_ << fmt::format("{:.6f}\tC{}\t{}\t5353\t10.255.0.53\t53\tudp\t{}\t0.001\t{}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\t"
                      "F\tF\tT\tT\t0\t{}\t60.000000\tF\n",
                      t, n_, client, n_ % 65536, name, answer);
  }

 private:
  std::ofstream f_;
  uint32_t n_ = 0;
};

constexpr double kT0 = 1700000000;
const char* kListedC2 = "203.0.113.66";
const char* kUnlistedC2 = "203.0.113.77";
const char* kDomain = "unlisted-c2.example";

std::string host(int net, int i) {
  return fmt::format("10.{}.{}.{}", net, i / 250, i % 250 + 1);
}

// A population of `hosts` subscribers in 10.<net>/16: everybody uses a
// popular web service and one of 37 ordinary sites; the first `infected`
// of every 20 hosts talk to the listed C&C (so they become suspected) and to
// the unlisted address:port and domain, as do two clean hosts.
void make_traffic(const std::string& pcap, const std::string& dnslog, int net, int hosts, int infected,
                  double t0 = kT0) {
  PcapWriter w(pcap);
  ZeekDnsLog d(dnslog);
  double t = t0;
  for (int i = 0; i < hosts; ++i) {
    std::string h = host(net, i);
    w.connection(h.c_str(), "192.0.2.80", 443, t += 0.01);
    std::string site = fmt::format("198.51.100.{}", i % 37 + 1);
    w.connection(h.c_str(), site.c_str(), 443, t += 0.01);
    d.lookup(h, "www.popular.example", "192.0.2.80", t);
    d.lookup(h, fmt::format("site{}.example", i % 37), site.c_str(), t);
    bool bad = i % 20 == 0 && i / 20 < infected;
    bool clean_visitor = i == 3 || i == 5;
    if (bad) w.connection(h.c_str(), kListedC2, 23, t += 0.01);
    if (bad || clean_visitor) {
      w.connection(h.c_str(), kUnlistedC2, 6667, t += 0.01);
      d.lookup(h, std::string("update.") + kDomain, "192.0.2.99", t);
    }
  }
}

std::map<std::string, nlohmann::json> by_dest(const std::vector<nlohmann::json>& rows) {
  std::map<std::string, nlohmann::json> m;
  for (const auto& r : rows) m[r["dest"].get<std::string>()] = r;
  return m;
}

}  // namespace

TEST(C2Cli, CandidatesConfirmRejectAndReputationAfterwards) {
  TempDir tmp;
  const std::string db = tmp.file("omamori.db");
  const std::string feed = tmp.file("known.txt");
  std::ofstream(feed) << kListedC2 << "\n";
  make_traffic(tmp.file("run1.pcap"), tmp.file("run1.log"), 1, 200, 8);
  const std::string inputs1 = fmt::format("--pcap {} --dns {} --subscribers 10.0.0.0/8 --feed known=plain:{}",
                                          tmp.file("run1.pcap"), tmp.file("run1.log"), feed);

  // 1. Analysis records the candidates; the listed C&C is no candidate.
  auto a = cli(fmt::format("analyze {} --c2-db {} --format jsonl --no-summary", inputs1, db));
  ASSERT_EQ(a.code, 0) << a.err;
  std::set<std::string> cand, flagged;
  for (const auto& f : jsonl(a.out)) {
    if (f["type"] == "c2-candidate") cand.insert(f["indicator"].get<std::string>());
    if (f["type"] == "reputation-flow") flagged.insert(f["host"].get<std::string>());
  }
  EXPECT_EQ(cand, (std::set<std::string>{"203.0.113.77:6667/tcp", kDomain}));
  EXPECT_EQ(flagged.size(), 8u);
  EXPECT_NE(a.err.find("2 new"), std::string::npos) << a.err;

  // 2. A second run over more data accumulates.
  a = cli(fmt::format("analyze {} --c2-db {} --format jsonl --no-summary", inputs1, db));
  ASSERT_EQ(a.code, 0) << a.err;
  auto r = cli("c2 candidates --json --db " + db);
  ASSERT_EQ(r.code, 0) << r.err;
  auto rows = by_dest(jsonl(r.out));
  ASSERT_EQ(rows.size(), 2u) << r.out;
  const auto& c = rows["203.0.113.77:6667/tcp"];
  EXPECT_EQ(c["status"], "open");
  EXPECT_EQ(c["kind"], "address");
  EXPECT_EQ(c["suspected_hosts"], 8);
  EXPECT_EQ(c["hosts"], 10);
  EXPECT_EQ(c["population"], 200);
  EXPECT_EQ(c["suspected_population"], 8);
  EXPECT_LT(c["p_value"].get<double>(), 1e-6);
  EXPECT_LT(c["q_value"].get<double>(), 0.01);
  EXPECT_GE(c["q_value"].get<double>(), c["p_value"].get<double>());
  EXPECT_EQ(c["runs"], 2);
  EXPECT_EQ(c["first_seen"].get<std::string>().substr(0, 10), "2023-11-14");  // traffic time, kT0
  ASSERT_FALSE(c["example_hosts"].empty());
  for (const auto& h : c["example_hosts"]) EXPECT_TRUE(flagged.count(h.get<std::string>())) << h;
  EXPECT_EQ(rows[kDomain]["kind"], "domain");
  // The table, and the significance filter.
  r = cli("c2 candidates --db " + db);
  EXPECT_NE(r.out.find("203.0.113.77:6667/tcp"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 candidate(s)"), std::string::npos) << r.out;
  r = cli("c2 candidates --json --min-q 1e-300 --db " + db);
  EXPECT_TRUE(jsonl(r.out).empty()) << r.out;

  // Decisions need manage-cases and are audited in the state directory's log.
  const std::string state = tmp.file("state");
  fs::create_directories(state);
  std::ofstream(state + "/roles.toml") << "[roles]\nalice = [\"analyst\"]\nbob = [\"analyst\"]\n"
                                       << "carol = [\"auditor\"]\n";
  const std::string priv = " --state-dir " + state;

  // 3. Mistakes are refused with a clear message.
  r = cli("c2 confirm 198.51.100.250 --reason x --db " + db + priv);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no recorded C&C candidate"), std::string::npos) << r.err;
  r = cli("c2 confirm 10.0.0.0/8 --reason x --db " + db + priv);
  EXPECT_EQ(r.code, 2) << r.err;
  r = cli("c2 confirm 203.0.113.77:6667/tcp --db " + db + priv);
  EXPECT_EQ(r.code, 2) << r.err;  // --reason is required
  r = cli("c2 reject 203.0.113.77:6667/tcp --reason '  ' --db " + db + priv);
  EXPECT_EQ(r.code, 2) << r.err;  // ... and must say something

  // An auditor may not decide; the attempt is audited.
  r = cli("c2 confirm 203.0.113.77:6667/tcp --reason 'looks bad' --db " + db + priv, "OMAMORI_ACTOR=carol");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("access denied"), std::string::npos) << r.err;

  // 4. Confirm one, reject the other; who and when are kept.
  r = cli("c2 confirm 203.0.113.77:6667/tcp --reason 'sandboxed sample phones home here' --db " + db + priv,
              "OMAMORI_ACTOR=alice");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("feed local-discovery now has 1 indicator"), std::string::npos) << r.out;
  r = cli(fmt::format("c2 reject {} --reason 'a software update CDN' --db {}{}", kDomain, db, priv),
          "OMAMORI_ACTOR=bob");
  ASSERT_EQ(r.code, 0) << r.err;
  r = cli("c2 candidates --json --status all --db " + db);
  rows = by_dest(jsonl(r.out));
  EXPECT_EQ(rows["203.0.113.77:6667/tcp"]["status"], "confirmed");
  EXPECT_EQ(rows["203.0.113.77:6667/tcp"]["decided_by"], "alice");
  EXPECT_EQ(rows[kDomain]["status"], "rejected");
  EXPECT_EQ(rows[kDomain]["decided_by"], "bob");
  EXPECT_EQ(rows[kDomain]["reason"], "a software update CDN");
  EXPECT_TRUE(jsonl(cli("c2 candidates --json --db " + db).out).empty());  // nothing open
  auto h = jsonl(cli("c2 history --json --db " + db).out);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0]["actor"], "alice");
  EXPECT_EQ(h[0]["decision"], "confirmed");
  EXPECT_EQ(h[1]["actor"], "bob");
  EXPECT_EQ(h[1]["decision"], "rejected");
  // The audit log holds the roles file's first sight, the denial and both
  // decisions with their reasons, and verifies.
  r = cli("audit show --format jsonl --state-dir " + state);
  ASSERT_EQ(r.code, 0) << r.err;
  auto audit = jsonl(r.out);
  ASSERT_EQ(audit.size(), 4u) << r.out;
  EXPECT_EQ(audit[0]["action"], "config.change");
  EXPECT_EQ(audit[1]["action"], "access.denied");
  EXPECT_EQ(audit[1]["actor"], "carol");
  EXPECT_EQ(audit[2]["action"], "c2.confirm");
  EXPECT_EQ(audit[2]["actor"], "alice");
  EXPECT_EQ(audit[2]["role"], "analyst");
  EXPECT_EQ(audit[2]["subject"], "203.0.113.77:6667/tcp");
  EXPECT_EQ(audit[2]["reason"], "sandboxed sample phones home here");
  EXPECT_EQ(audit[3]["action"], "c2.reject");
  EXPECT_EQ(audit[3]["actor"], "bob");
  EXPECT_EQ(cli("audit verify --state-dir " + state).code, 0);

  // 5. The confirmed destination is in the intel store as feed local-discovery...
  r = cli("intel list --format jsonl --feed local-discovery --db " + db);
  ASSERT_EQ(r.code, 0) << r.err;
  auto inds = jsonl(r.out);
  ASSERT_EQ(inds.size(), 1u) << r.out;
  EXPECT_EQ(inds[0]["value"], "203.0.113.77:6667/tcp");
  EXPECT_EQ(inds[0]["kind"], "addr_port");
  EXPECT_EQ(inds[0]["category"], "c2");
  EXPECT_EQ(inds[0]["confidence"], 90);
  EXPECT_EQ(inds[0]["first_seen"].get<std::string>().substr(0, 10), "2023-11-14");

  // ... and from then on the reputation detector flags hosts that contact it.
  make_traffic(tmp.file("run3.pcap"), tmp.file("run3.log"), 2, 60, 3, kT0 + 86400);
  a = cli(fmt::format("analyze --pcap {} --subscribers 10.0.0.0/8 --db {} --format jsonl --no-summary",
                          tmp.file("run3.pcap"), db));
  ASSERT_EQ(a.code, 0) << a.err;
  std::set<std::string> hit;
  for (const auto& f : jsonl(a.out)) {
    if (f["type"] != "reputation-flow") continue;
    EXPECT_EQ(f["feed"], "local-discovery");
    EXPECT_EQ(f["category"], "c2");
    EXPECT_EQ(f["indicator"], "203.0.113.77:6667/tcp");
    hit.insert(f["host"].get<std::string>());
  }
  // Hosts 0, 20, 40 (infected) and 3, 5 (the clean visitors) of 10.2/16 contacted it; nobody else is flagged.
  EXPECT_EQ(hit, (std::set<std::string>{host(2, 0), host(2, 20), host(2, 40), host(2, 3), host(2, 5)}));

  // 6. The rejected domain is not proposed again with the same evidence...
  a = cli(fmt::format("analyze {} --c2-db {} --format jsonl --no-summary", inputs1, db));
  ASSERT_EQ(a.code, 0) << a.err;
  for (const auto& f : jsonl(a.out)) EXPECT_NE(f["indicator"], kDomain) << f.dump();
  EXPECT_NE(a.err.find("1 rejected before"), std::string::npos) << a.err;
  // ... but when twice as many suspected hosts share it, it is open again.
  make_traffic(tmp.file("run4.pcap"), tmp.file("run4.log"), 3, 400, 16);
  a = cli(fmt::format("analyze --pcap {} --dns {} --subscribers 10.0.0.0/8 --feed known=plain:{} --c2-db {} "
                          "--format jsonl --no-summary",
                          tmp.file("run4.pcap"), tmp.file("run4.log"), feed, db));
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_NE(a.err.find("1 reopened"), std::string::npos) << a.err;
  bool shown = false;
  for (const auto& f : jsonl(a.out)) shown |= f["type"] == "c2-candidate" && f["indicator"] == kDomain;
  EXPECT_TRUE(shown);
  rows = by_dest(jsonl(cli("c2 candidates --json --db " + db).out));
  ASSERT_EQ(rows.count(kDomain), 1u);
  EXPECT_EQ(rows[kDomain]["reopened"], true);
  EXPECT_EQ(rows[kDomain]["suspected_hosts"], 16);
  EXPECT_EQ(rows[kDomain]["decision"], "rejected");
  EXPECT_EQ(rows[kDomain]["decided_by"], "bob");
  EXPECT_EQ(rows[kDomain]["decided_evidence"], 8);
}
