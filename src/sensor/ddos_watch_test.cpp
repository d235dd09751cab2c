// Live DDoS detection: the traffic clock of DdosWatch (unit), and
// `omamori ddos watch` receiving a real exporter's NetFlow v9 (softflowd
// replaying a real SYN flood capture) on loopback.
#include "sensor/ddos_watch.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "core/time.hpp"
#include "test_support/run.hpp"

using namespace omamori;
namespace fs = std::filesystem;

namespace {

ddos::Config small_host_config(TimeMs end_after_ms) {
  ddos::Config c;
  ddos::Thresholds th;
  th.pps = 100;
  c.groups.push_back(ddos::HostGroup{"victims", {*Prefix::parse("10.10.10.0/24")}, th, {}});
  c.end_after_ms = end_after_ms;
  return c;
}

FlowRecord syn(TimeMs t, uint32_t src_host) {
  FlowRecord r;
  r.start = r.end = t;
  r.src = *IpAddr::parse(fmt::format("198.51.{}.{}", (src_host >> 8) & 255, src_host & 255));
  r.dst = *IpAddr::parse("10.10.10.10");
  r.sport = static_cast<uint16_t>(1024 + src_host);
  r.dport = 80;
  r.proto = 6;
  r.tcp_flags = 0x02;
  r.packets = 1;
  r.bytes = 60;
  return r;
}

struct Events {
  std::vector<std::pair<bool, ddos::Attack>> seen;  // (start?, attack)
};

}  // namespace

// Traffic time drives detection; when records stop, the wall clock moves it on
// from the last record, so the attack ends end_after later, at its last packet.
TEST(DdosWatch, AttackEndsWhenTrafficStopsByWallClock) {
  int64_t wall = 5'000'000;  // unrelated to traffic time (a replayed capture from another day)
  sensor::DdosWatch w(small_host_config(3000), [&] { return wall; });
  Events ev;
  w.on_event = [&](const ddos::Attack& a, bool start) { ev.seen.emplace_back(start, a); };
  const TimeMs t0 = 1'700'000'000'000;
  // 2 s of 500 SYN/s from 1000 sources.
  for (int i = 0; i < 1000; ++i) w.on_flow(syn(t0 + i * 2, static_cast<uint32_t>(i)));
  ASSERT_EQ(ev.seen.size(), 1u);
  EXPECT_TRUE(ev.seen[0].first);
  EXPECT_EQ(ev.seen[0].second.target.str(), "10.10.10.10");
  EXPECT_EQ(ev.seen[0].second.vector(), "syn-flood");
  EXPECT_EQ(ev.seen[0].second.start, t0);
  EXPECT_LE(ev.seen[0].second.detected, t0 + 1000);
  const TimeMs last = t0 + 999 * 2;
  EXPECT_EQ(w.traffic_time(), last);
  // The first idle tick after records arrived only notes the wall time.
  wall += 100;
  w.idle();
  // Quiet for less than end_after (3 s) of wall time: still active.
  for (int i = 0; i < 25; ++i) {
    wall += 100;
    w.idle();
  }
  ASSERT_EQ(ev.seen.size(), 1u) << "ended after only 2.5 s of quiet";
  // Idle calls closer together than a tick do nothing.
  w.idle();
  w.idle();
  for (int i = 0; i < 15; ++i) {
    wall += 100;
    w.idle();
  }
  ASSERT_EQ(ev.seen.size(), 2u) << "not ended 4 s after the traffic stopped";
  EXPECT_FALSE(ev.seen[1].first);
  EXPECT_EQ(ev.seen[1].second.end, last);
  EXPECT_EQ(ev.seen[1].second.packets, 1000u);
  EXPECT_EQ(ev.seen[1].second.sources.size(), 1000u);
  w.finish();
  EXPECT_EQ(ev.seen.size(), 2u) << "finish() reported an ended attack again";
}

// Without idle ticks (a busy collector), records alone keep the clock going;
// finish() ends an attack still active.
TEST(DdosWatch, FinishEndsActiveAttacks) {
  int64_t wall = 0;
  sensor::DdosWatch w(small_host_config(30000), [&] { return wall; });
  Events ev;
  w.on_event = [&](const ddos::Attack& a, bool start) { ev.seen.emplace_back(start, a); };
  for (int i = 0; i < 300; ++i) w.on_flow(syn(1000 + i, static_cast<uint32_t>(i)));
  ASSERT_EQ(ev.seen.size(), 1u);
  w.finish();
  ASSERT_EQ(ev.seen.size(), 2u);
  EXPECT_FALSE(ev.seen[1].first);
  EXPECT_EQ(w.records(), 300u);
}

TEST(DdosWatch, EventLinesAndReportNames) {
  int64_t wall = 0;
  sensor::DdosWatch w(small_host_config(1000), [&] { return wall; });
  std::vector<std::string> lines;
  std::string name;
  w.on_event = [&](const ddos::Attack& a, bool start) {
    lines.push_back(sensor::event_json(a, start, 1'700'000'000'000, 3));
    if (!start) name = sensor::report_file_name(a);
  };
  for (int i = 0; i < 300; ++i) w.on_flow(syn(1'700'000'000'000 + i, static_cast<uint32_t>(i % 7)));
  w.finish();
  ASSERT_EQ(lines.size(), 2u);
  auto s = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(s["event"], "attack_start");
  EXPECT_EQ(s["target"], "10.10.10.10");
  EXPECT_EQ(s["direction"], "inbound");
  EXPECT_EQ(s["group"], "victims");
  EXPECT_EQ(s["vector"], "syn-flood");
  EXPECT_EQ(s["wall"], "2023-11-14T22:13:20.000Z");
  EXPECT_FALSE(s.contains("end"));
  auto e = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(e["event"], "attack_end");
  EXPECT_EQ(e["packets"], 300);
  EXPECT_EQ(e["distinct_sources"], 7);
  EXPECT_EQ(e["top_sources"].size(), 3u);
  EXPECT_EQ(name, "20231114T221320_000Z-10.10.10.10-inbound.json");
}

// ---------------------------------------------------------------- live, through the binary

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool wait_for(const std::function<bool()>& ok, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ok();
}

pid_t spawn(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* o = freopen(out.c_str(), "w", stdout);
    FILE* e = freopen(err.c_str(), "w", stderr);
    if (!o || !e) _exit(127);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

// softflowd replays the real SYN flood capture as NetFlow v9 to `omamori ddos
// watch` on loopback: one attack on 10.10.10.10, SYN flood, reported when it
// starts; the Prometheus endpoint counts every record and the attack as
// active; SIGTERM ends the run and the attack (with every source, its report
// and its finding). The capture spans 24 s of traffic time and softflowd
// exports its flows out of time order (it force-expires flows beyond its table
// and flushes the rest at the end), so the quiet time is set longer than the
// capture (one attack however the records come); the wall-clock end after quiet
// is tested in DdosWatch.AttackEndsWhenTrafficStopsByWallClock.
TEST(DdosWatchLive, SoftflowdSynFloodIsReportedAtStartAndEnd) {
  ASSERT_EQ(system("command -v softflowd >/dev/null"), 0) << "softflowd missing: run scripts/setup.sh";
  const std::string pcap = test::shared_data("ddos/pkt.TCP.synflood.spoofed.pcap");
  ASSERT_TRUE(fs::exists(pcap)) << pcap;
  auto dir = fs::temp_directory_path() / fmt::format("omamori-ddos-watch-{}", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto out = dir / "events.jsonl", err = dir / "stderr.txt", findings = dir / "findings.jsonl";
  pid_t pid = spawn({OMAMORI_BINARY, "ddos", "watch", "-l", "127.0.0.1:0", "--protect", "10.10.10.0/24", "--ddos-pps",
                     "100", "--ddos-end-after", "60", "-f", "jsonl", "--reports", (dir / "reports").string(),
                     "--findings", findings.string(), "--metrics", "127.0.0.1:0"},
                    out, err);
  ASSERT_GT(pid, 0);
  std::smatch m;
  std::regex listening(R"(listening 127\.0\.0\.1:0->(\d+))");
  std::string log;
  ASSERT_TRUE(wait_for(
      [&] {
        log = slurp(err);
        return std::regex_search(log, m, listening);
      },
      std::chrono::seconds(20)))
      << log;
  int port = std::stoi(m[1]);
  std::string sf = test::run(fmt::format("softflowd -d -r '{}' -n 127.0.0.1:{} -v 9 -c none 2>&1", pcap, port));
  std::smatch rec;
  std::regex flows_exported(R"(Flows exported: (\d+))");
  ASSERT_TRUE(std::regex_search(sf, rec, flows_exported)) << sf;
  // Scrape until every exported record has reached the detector.
  std::string metrics, errlog = slurp(err);
  std::smatch mp;
  std::regex metrics_port(R"(metrics on 127\.0\.0\.1:0 \(port (\d+)\))");
  ASSERT_TRUE(std::regex_search(errlog, mp, metrics_port)) << errlog;
  const std::string all_records = "omamori_ddos_records_total " + rec[1].str() + "\n";
  bool complete = wait_for(
      [&] {
        metrics = test::run(fmt::format("curl -s --max-time 10 http://127.0.0.1:{}/metrics", mp[1].str()));
        return metrics.find(all_records) != std::string::npos;
      },
      std::chrono::seconds(20));
  EXPECT_TRUE(complete) << metrics;
  EXPECT_NE(metrics.find("omamori_ddos_attacks_started_total{direction=\"inbound\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("omamori_ddos_attacks_ended_total{direction=\"inbound\"} 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("omamori_ddos_attacks_active 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(R"(omamori_collector_records_total{listen="127.0.0.1:0",port=")"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("omamori_collector_kernel_drops_total{"), std::string::npos) << metrics;
  EXPECT_EQ(slurp(out).find("attack_end"), std::string::npos) << "ended before SIGTERM: " << slurp(out);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << slurp(err);
  auto events = test::lines(slurp(out));
  ASSERT_EQ(events.size(), 2u) << slurp(out);
  auto start = nlohmann::json::parse(events[0]), end = nlohmann::json::parse(events[1]);
  EXPECT_EQ(start["event"], "attack_start");
  EXPECT_EQ(end["event"], "attack_end");
  for (const auto& j : {start, end}) {
    EXPECT_EQ(j["target"], "10.10.10.10");
    EXPECT_EQ(j["vector"], "syn-flood");
    EXPECT_EQ(j["direction"], "inbound");
  }
  // The attack's sources are the capture's (tshark), nothing invented. With flows out of time order, the
  // detector's second-by-second accounting may see the onset later than the capture's first packet, and the
  // few sources seen only before it are not part of the attack: at least 95 % are.
  std::set<std::string> srcs;
  for (const auto& l : test::lines(test::run("tshark -r '" + pcap + "' -Y 'ip.dst==10.10.10.10' -T fields -e ip.src")))
    if (!l.empty()) srcs.insert(l);
  ASSERT_FALSE(srcs.empty());
  size_t n = end["distinct_sources"];
  EXPECT_LE(n, srcs.size());
  EXPECT_GE(n * 100, srcs.size() * 95) << n << " of " << srcs.size();
  // The report for sharing lists every source of the attack, each one of the capture's.
  std::vector<fs::path> reports;
  for (const auto& e : fs::directory_iterator(dir / "reports")) reports.push_back(e.path());
  ASSERT_EQ(reports.size(), 1u);
  auto report = nlohmann::json::parse(slurp(reports[0]));
  EXPECT_EQ(report["target"], "10.10.10.10");
  EXPECT_EQ(report["sources"].size(), n);
  size_t foreign = 0;
  for (const auto& src : report["sources"]) foreign += !srcs.count(src["address"].get<std::string>());
  EXPECT_EQ(foreign, 0u);
  // Detected in traffic time within 2 s of the attack's start (softflowd maps the capture's times onto its own
  // clock, so they cannot be compared with the capture's).
  auto detected = parse_time(end["detected"].get<std::string>()), began = parse_time(end["start"].get<std::string>());
  ASSERT_TRUE(detected && began);
  EXPECT_GE(*detected, *began);
  EXPECT_LE(*detected - *began, 2000);
  auto flines = test::lines(slurp(findings));
  ASSERT_EQ(flines.size(), 1u);
  Finding f;
  const char* perr = nullptr;
  ASSERT_TRUE(finding_from_json(flines[0], f, &perr)) << (perr ? perr : "");
  EXPECT_EQ(f.type, "ddos-target");
  EXPECT_EQ(f.host.str(), "10.10.10.10");
  fs::remove_all(dir);
}

// Host groups from the command line (the same option `ddos watch` takes): the
// real SYN flood in `analyze` is an attack of group "victims"; a malformed
// group is a usage error that names the problem.
TEST(DdosCli, HostGroupsFromTheCommandLine) {
  const std::string pcap = test::shared_data("ddos/pkt.TCP.synflood.spoofed.pcap");
  std::string out = test::run(fmt::format(
      "'{}' analyze --pcap '{}' --ddos-group 'victims=10.10.10.0/24;pps=100' --ddos-group 'other=192.0.2.0/24' "
      "--no-c2-discovery --no-summary -f jsonl",
      OMAMORI_BINARY, pcap));
  size_t targets = 0;
  for (const auto& l : test::lines(out)) {
    auto j = nlohmann::json::parse(l);
    if (j["type"] != "ddos-target") continue;
    ++targets;
    EXPECT_EQ(j["host"], "10.10.10.10");
    EXPECT_EQ(j["details"]["group"], "victims");
  }
  EXPECT_EQ(targets, 1u) << out;
  auto dir = fs::temp_directory_path() / fmt::format("omamori-ddos-cli-{}", getpid());
  fs::create_directories(dir);
  int rc = system(fmt::format("'{}' analyze --pcap '{}' --ddos-group 'victims=10.10.10.0/24;pps=lots' 2>'{}'",
                              OMAMORI_BINARY, pcap, (dir / "err").string())
                      .c_str());
  ASSERT_TRUE(WIFEXITED(rc));
  EXPECT_EQ(WEXITSTATUS(rc), 2);
  EXPECT_NE(slurp(dir / "err").find("--ddos-group: host group 'victims': 'pps=lots' wants KEY=NUMBER"),
            std::string::npos)
      << slurp(dir / "err");
  fs::remove_all(dir);
}

// Outbound thresholds from the command line: the bundled demo ISP has one
// subscriber flooding at 6,000 packets/s (truth.json: ddos-source). The
// default outbound threshold (5,000) finds it; 7,000 does not.
TEST(DdosCli, OutboundThresholdsFromTheCommandLine) {
  const std::string demo = "../../data/demo";  // tests run in src/sensor
  ASSERT_TRUE(fs::exists(demo + "/omamori.toml"));
  auto sources = [&](const std::string& extra) {
    std::string out =
        test::run(fmt::format("cd '{}' && '{}' -c omamori.toml analyze --no-c2-discovery --no-summary "
                              "-f jsonl {}",
                              demo, OMAMORI_BINARY, extra));
    std::vector<std::string> hosts;
    for (const auto& l : test::lines(out)) {
      auto j = nlohmann::json::parse(l);
      if (j["type"] == "ddos-source") hosts.push_back(j["host"]);
    }
    return hosts;
  };
  auto by_default = sources("");
  ASSERT_EQ(by_default.size(), 1u);
  EXPECT_EQ(sources("--ddos-out-pps 7000").size(), 0u);
  EXPECT_EQ(sources("--ddos-out-pps 5500"), by_default);
}

// C&C discovery's memory bounds from the command line: at tiny bounds on the
// demo ISP, destinations are evicted and the evictions are reported.
TEST(DdosCli, C2MemoryBoundsFromTheCommandLineAreReported) {
  const std::string demo = "../../data/demo";
  auto dir = fs::temp_directory_path() / fmt::format("omamori-c2-bounds-{}", getpid());
  fs::create_directories(dir);
  auto err = dir / "err";
  // (test::run sends the command's own stderr to /dev/null: the inner redirection keeps it.)
  test::run(
      fmt::format("cd '{}' && ('{}' -c omamori.toml analyze --no-summary -f jsonl --c2-max-destinations 1024 "
                  "--c2-max-contacts 2048 >/dev/null 2>'{}')",
                  demo, OMAMORI_BINARY, err.string()));
  std::string e = slurp(err);
  EXPECT_NE(e.find("c2: c2 destination evicted ("), std::string::npos) << e;
  EXPECT_NE(e.find("c2: c2 contacts dropped with evicted destinations: "), std::string::npos) << e;
  test::run(fmt::format("cd '{}' && ('{}' -c omamori.toml analyze --no-summary -f jsonl >/dev/null 2>'{}')", demo,
                        OMAMORI_BINARY, err.string()));
  EXPECT_EQ(slurp(err).find("c2 destination evicted"), std::string::npos) << slurp(err);
  fs::remove_all(dir);
}
