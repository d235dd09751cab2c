#include "intel/export.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "intel/feeds/feeds.hpp"

using namespace omamori;
using namespace omamori::intel;

namespace {

const std::string kTrails = std::string(OMAMORI_SHARED_DATA) + "/intel/maltrail/";

Indicator ind(Kind k, std::string v, Category c, std::string family = "") {
  Indicator i;
  i.kind = k;
  i.value = std::move(v);
  i.category = c;
  i.family = std::move(family);
  i.feed = "test";
  i.first_seen = 1'700'000'000'000;
  i.last_seen = 1'700'000'100'000;
  return i;
}

std::string run(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int st = pclose(p);
  if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

uint16_t free_udp_port() {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/omamori-rpz-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

}  // namespace

TEST(Rpz, IpTriggerOwners) {
  EXPECT_EQ(rpz_ip_owner(Kind::kIpv4, "192.0.2.1"), "32.1.2.0.192.rpz-ip");
  EXPECT_EQ(rpz_ip_owner(Kind::kCidr, "198.51.100.0/24"), "24.0.100.51.198.rpz-ip");
  EXPECT_EQ(rpz_ip_owner(Kind::kIpv6, "2001:db8::1"), "128.1.zz.db8.2001.rpz-ip");
  EXPECT_EQ(rpz_ip_owner(Kind::kCidr, "2001:db8::/32"), "32.zz.db8.2001.rpz-ip");
  EXPECT_EQ(rpz_ip_owner(Kind::kIpv6, "2001:db8:0:1:0:0:0:5"), "128.5.zz.1.0.db8.2001.rpz-ip");
  EXPECT_EQ(rpz_ip_owner(Kind::kDomain, "evil.example"), "");
}

TEST(Rpz, LogOnlyIsTheDefaultAndActionsAreConfigurable) {
  std::vector<Indicator> v = {ind(Kind::kDomain, "evil.example", Category::kC2, "mirai"),
                              ind(Kind::kDomain, "phish.example", Category::kPhishing),
                              ind(Kind::kIpv4, "192.0.2.1", Category::kC2),
                              ind(Kind::kUrl, "evil.example/x", Category::kMalwareDownload),
                              ind(Kind::kAddrPort, "192.0.2.1:23", Category::kC2)};
  RpzOptions opt;
  ReasonCounters skipped;
  std::string z = export_rpz(v, opt, skipped, 1'700'000'000'000);
  EXPECT_NE(z.find("$ORIGIN rpz.omamori.local.\n"), std::string::npos);
  EXPECT_NE(z.find("@ SOA localhost. hostmaster.localhost. 1700000000 "), std::string::npos);
  EXPECT_NE(z.find("\nevil.example CNAME rpz-passthru. ; test c2 mirai\n"), std::string::npos);
  EXPECT_NE(z.find("\n*.evil.example CNAME rpz-passthru."), std::string::npos);
  EXPECT_NE(z.find("\n32.1.2.0.192.rpz-ip CNAME rpz-passthru."), std::string::npos);
  EXPECT_EQ(z.find("CNAME .\n"), std::string::npos);
  EXPECT_EQ(skipped.count("rpz: url indicator not expressible"), 1u);
  EXPECT_EQ(skipped.count("rpz: address:port indicator not expressible"), 1u);

  std::string err;
  ASSERT_TRUE(parse_action_map("c2=nxdomain, phishing=walled-garden:garden.isp.example.", opt, err)) << err;
  opt.comments = false;
  z = export_rpz(v, opt, skipped, 0);
  EXPECT_NE(z.find("\nevil.example CNAME .\n"), std::string::npos);
  EXPECT_NE(z.find("\n*.evil.example CNAME .\n"), std::string::npos);
  EXPECT_NE(z.find("\nphish.example CNAME garden.isp.example.\n"), std::string::npos);
  EXPECT_FALSE(parse_action_map("c2=block", opt, err));
  EXPECT_FALSE(parse_action_map("colour=nxdomain", opt, err));
  // The most severe action wins when two feeds list the same name.
  std::vector<Indicator> two = {ind(Kind::kDomain, "x.example", Category::kSinkhole),
                                ind(Kind::kDomain, "x.example", Category::kC2)};
  z = export_rpz(two, opt, skipped, 0);
  EXPECT_NE(z.find("\nx.example CNAME .\n"), std::string::npos);
  EXPECT_EQ(z.find("x.example CNAME rpz-passthru."), std::string::npos);
}

TEST(Stix, ExportIsValidAndRoundTrips) {
  std::vector<Indicator> v = {ind(Kind::kDomain, "evil.example", Category::kC2, "mirai"),
                              ind(Kind::kIpv4, "192.0.2.1", Category::kC2, "mirai"),
                              ind(Kind::kIpv6, "2001:db8::1", Category::kScanner),
                              ind(Kind::kCidr, "198.51.100.0/24", Category::kSpam),
                              ind(Kind::kUrl, "dl.evil.example/bins/x86", Category::kMalwareDownload, "gafgyt"),
                              ind(Kind::kUrl, "/bins/x86", Category::kMalwareDownload),
                              ind(Kind::kAddrPort, "192.0.2.9:23", Category::kC2)};
  v[0].expiry = 1'800'000'000'000;
  v[0].reference = "https://example.org/report";
  ReasonCounters skipped;
  std::string text = export_stix(v, skipped, 1'700'000'200'000);
  EXPECT_EQ(skipped.count("stix: host-less url path not expressible"), 1u);
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["type"], "bundle");
  std::string bid = j["id"];
  ASSERT_TRUE(bid.starts_with("bundle--"));
  EXPECT_TRUE(is_valid_uuid(bid.substr(8), 4)) << bid;
  size_t indicators = 0, malware = 0, rels = 0;
  for (const auto& o : j["objects"]) {
    EXPECT_EQ(o["spec_version"], "2.1");
    std::string id = o["id"];
    std::string type = o["type"];
    ASSERT_TRUE(id.starts_with(type + "--"));
    EXPECT_TRUE(is_valid_uuid(id.substr(type.size() + 2), 5)) << id;
    EXPECT_TRUE(o.contains("created") && o.contains("modified"));
    if (type == "indicator") {
      ++indicators;
      EXPECT_EQ(o["pattern_type"], "stix");
      EXPECT_TRUE(o.contains("valid_from"));
      EXPECT_TRUE(parse_time(o["valid_from"].get<std::string>()).has_value());
    }
    malware += type == "malware";
    rels += type == "relationship";
  }
  EXPECT_EQ(indicators, 6u);
  EXPECT_EQ(malware, 2u);
  EXPECT_EQ(rels, 3u);
  // Deterministic ids: the same indicator gets the same id in the next export.
  std::string again = export_stix(v, skipped, 1'700'000'300'000);
  EXPECT_EQ(nlohmann::json::parse(again)["objects"][0]["id"], j["objects"][0]["id"]);

  // Our own importer reads it back, address:port included.
  FeedConfig cfg;
  cfg.name = "back";
  auto r = parse_stix(text, cfg, 0);
  EXPECT_EQ(r.indicators.size(), 6u);
  EXPECT_EQ(r.skipped.total(), 0u);
  std::map<std::string, Indicator> got;
  for (const auto& i : r.indicators) got[i.value] = i;
  EXPECT_EQ(got["evil.example"].category, Category::kC2);
  EXPECT_EQ(got["evil.example"].family, "mirai");
  EXPECT_EQ(got["evil.example"].expiry, 1'800'000'000'000);
  EXPECT_EQ(got["evil.example"].first_seen, 1'700'000'000'000);
  EXPECT_EQ(got["evil.example"].reference, "https://example.org/report");
  EXPECT_EQ(got["2001:db8::1"].category, Category::kScanner);
  EXPECT_EQ(got["198.51.100.0/24"].kind, Kind::kCidr);
  EXPECT_EQ(got["dl.evil.example/bins/x86"].family, "gafgyt");
  EXPECT_EQ(got["dl.evil.example/bins/x86"].kind, Kind::kUrl);
  EXPECT_EQ(got["192.0.2.9:23"].kind, Kind::kAddrPort);
}

TEST(Plain, ExportListsEachValueOnce) {
  std::vector<Indicator> v = {ind(Kind::kDomain, "a.example", Category::kC2),
                              ind(Kind::kDomain, "a.example", Category::kC2),
                              ind(Kind::kIpv4, "192.0.2.1", Category::kC2)};
  std::string t = export_plain(v, 0);
  EXPECT_NE(t.find("# omamori indicators, 2 values"), std::string::npos);
  FeedConfig cfg;
  auto r = parse_plain(t, cfg, 0);
  EXPECT_EQ(r.indicators.size(), 2u);
  EXPECT_EQ(r.skipped.total(), 0u);
}

// The CLI imports real Maltrail trails and exports an RPZ zone; a real Unbound loads it
// and applies it: NXDOMAIN for a listed C2 domain and its subdomains, passthru (log only)
// for sinkholes, a walled garden for phishing, response-IP triggers, nothing for clean names.
// Unbound answers from a local root zone and never queries the internet.
TEST(Rpz, UnboundAppliesTheExportedZone) {
  ASSERT_EQ(std::system("command -v unbound >/dev/null && command -v dig >/dev/null"), 0)
      << "unbound and dig (packages unbound, bind9-dnsutils) are needed";
  TempDir t;
  std::string bin = OMAMORI_BINARY;
  std::string db = t.path + "/intel.db";
  write_file(t.path + "/extra.txt", "phish.example\n");
  write_file(t.path + "/ips.txt", "198.51.100.7\n");
  int st = -1;
  run(bin + " intel import --db " + db + " --feed maltrail --format maltrail " + kTrails + "conficker.txt " + kTrails +
          "sinkhole_conficker.txt 2>&1",
      &st);
  ASSERT_EQ(st, 0);
  run(bin + " intel import --db " + db + " --feed phish --format plain --category phishing " + t.path +
          "/extra.txt 2>&1",
      &st);
  ASSERT_EQ(st, 0);
  run(bin + " intel import --db " + db + " --feed ips --format plain --category c2 " + t.path + "/ips.txt 2>&1", &st);
  ASSERT_EQ(st, 0);
  std::string zone = t.path + "/rpz.zone";
  run(bin + " intel export --db " + db +
          " --format rpz --action-map c2=nxdomain,phishing=walled-garden:garden.isp.example -o " + zone + " 2>&1",
      &st);
  ASSERT_EQ(st, 0);

  write_file(t.path + "/root.zone",
             ". 3600 IN SOA a.root.test. hostmaster.root.test. 1 3600 600 86400 300\n"
             ". 3600 IN NS a.root.test.\n"
             "a.root.test. 3600 IN A 127.0.0.1\n"
             "btddc.com. 3600 IN A 192.0.2.10\n"
             "www.btddc.com. 3600 IN A 192.0.2.11\n"
             "conficker-sinkhole.org. 3600 IN A 192.0.2.12\n"
             "phish.example. 3600 IN A 192.0.2.13\n"
             "garden.isp.example. 3600 IN A 192.0.2.80\n"
             "clean.example. 3600 IN A 192.0.2.14\n"
             "xbtddc.com. 3600 IN A 192.0.2.15\n"
             "badip.example. 3600 IN A 198.51.100.7\n");
  uint16_t port = free_udp_port();
  std::string log = t.path + "/unbound.log";
  write_file(t.path + "/unbound.conf",
             "server:\n  interface: 127.0.0.1\n  port: " + std::to_string(port) +
                 "\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"" + t.path +
                 "\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"" + log +
                 "\"\n  verbosity: 1\n  module-config: \"respip iterator\"\n  access-control: 127.0.0.0/8 allow\n"
                 "  do-not-query-localhost: yes\n"
                 "auth-zone:\n  name: \".\"\n  zonefile: \"" +
                 t.path +
                 "/root.zone\"\n  for-downstream: no\n"
                 "  for-upstream: yes\n  fallback-enabled: no\n"
                 "rpz:\n  name: \"rpz.omamori.local.\"\n  zonefile: \"" +
                 zone +
                 "\"\n  rpz-log: yes\n  rpz-log-name: \"omamori\"\n"
                 "remote-control:\n  control-enable: no\n");
  ASSERT_EQ(std::system(("unbound-checkconf " + t.path + "/unbound.conf >/dev/null").c_str()), 0);
  pid_t pid = fork();
  if (pid == 0) {
    execlp("unbound", "unbound", "-d", "-c", (t.path + "/unbound.conf").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  auto dig = [&](const std::string& name) {
    return run("dig +time=2 +tries=1 @127.0.0.1 -p " + std::to_string(port) + " " + name +
               " A +noall +comments +answer");
  };
  bool up = false;
  for (int i = 0; i < 50 && !up; ++i) {
    up = dig("clean.example").find("status: NOERROR") != std::string::npos;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::string r_listed = dig("btddc.com"), r_sub = dig("www.btddc.com"), r_sink = dig("conficker-sinkhole.org"),
              r_phish = dig("phish.example"), r_clean = dig("clean.example"), r_near = dig("xbtddc.com"),
              r_ip = dig("badip.example"), r_internet = dig("debian.org");
  kill(pid, SIGTERM);
  int wst;
  waitpid(pid, &wst, 0);
  ASSERT_TRUE(up) << "unbound did not answer";
  EXPECT_NE(r_listed.find("status: NXDOMAIN"), std::string::npos) << r_listed;
  EXPECT_NE(r_sub.find("status: NXDOMAIN"), std::string::npos) << r_sub;
  EXPECT_NE(r_sink.find("status: NOERROR"), std::string::npos) << r_sink;
  EXPECT_NE(r_sink.find("192.0.2.12"), std::string::npos) << r_sink;
  EXPECT_NE(r_phish.find("CNAME\tgarden.isp.example."), std::string::npos) << r_phish;
  EXPECT_NE(r_phish.find("192.0.2.80"), std::string::npos) << r_phish;
  EXPECT_NE(r_clean.find("192.0.2.14"), std::string::npos) << r_clean;
  EXPECT_NE(r_near.find("192.0.2.15"), std::string::npos) << r_near;
  EXPECT_NE(r_ip.find("status: NXDOMAIN"), std::string::npos) << r_ip;
  EXPECT_NE(r_internet.find("status: NXDOMAIN"), std::string::npos) << r_internet;  // local root only
  std::ifstream lf(log);
  std::string logtext((std::istreambuf_iterator<char>(lf)), std::istreambuf_iterator<char>());
  EXPECT_NE(logtext.find("rpz: applied [omamori] btddc.com. rpz-nxdomain"), std::string::npos) << logtext;
  EXPECT_NE(logtext.find("rpz: applied [omamori] *.btddc.com. rpz-nxdomain"), std::string::npos) << logtext;
  EXPECT_NE(logtext.find("rpz: applied [omamori] conficker-sinkhole.org. rpz-passthru"), std::string::npos) << logtext;
  EXPECT_NE(logtext.find("198.51.100.7/32 rpz-nxdomain"), std::string::npos) << logtext;
  EXPECT_EQ(logtext.find("error"), std::string::npos) << logtext;
}
