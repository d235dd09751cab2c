// The scan detector on real background traffic: the shared flow exports
// (ISP routers, Cisco/Juniper exporters, sFlow agents) and the real DDoS
// captures (37,623 spoofed SYN-flood sources, SYN-ACK reflection, DNS
// amplification) contain no scanner: no scan or darknet finding may appear.
// Spoofed flood sources each hit one victim address, so per-source distinct
// destination counting never mistakes them for scanners.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_support/run.hpp"

namespace {

namespace fs = std::filesystem;

// Runs `omamori analyze ARGS` and returns the findings (exit 0, or 3 when
// some input records were malformed and counted: the shared exports include
// template-less data on purpose).
std::vector<nlohmann::json> findings(const std::string& args) {
  auto out = omamori::test::run(fmt::format("{} analyze {} --no-c2-discovery --format jsonl --no-summary; rc=$?; "
                                            "[ $rc -eq 0 ] || [ $rc -eq 3 ]",
                                            OMAMORI_BINARY, args));
  std::vector<nlohmann::json> v;
  for (const auto& line : omamori::test::lines(out))
    if (!line.empty()) v.push_back(nlohmann::json::parse(line));
  return v;
}

size_t count(const std::vector<nlohmann::json>& v, const char* type) {
  size_t n = 0;
  for (const auto& f : v) n += f["type"] == type;
  return n;
}

}  // namespace

TEST(ScanBackground, NoScannerInRealFlowExports) {
  std::string args;
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(omamori::test::shared_data("flows"))) {
    if (e.path().extension() != ".pcap") continue;
    args += " --flows " + e.path().string();
    ++files;
  }
  ASSERT_GT(files, 40u);
  // Every source judged (no subscriber space), with a darknet that real exports do reach: none.
  auto f = findings(args + " --darknet 198.18.0.0/15");
  EXPECT_EQ(count(f, "scan"), 0u);
  EXPECT_EQ(count(f, "darknet"), 0u);
}

TEST(ScanBackground, NoScannerInRealDdosCaptures) {
  for (const char* file : {"pkt.TCP.synflood.spoofed.pcap", "amp.TCP.reflection.SYNACK.pcap",
                           "amp.dns.RRSIG.fragmented.pcap"}) {
    auto f = findings(fmt::format("--pcap {} --protect 10.10.10.0/24 --ddos-pps 100",
                                  omamori::test::shared_data(std::string("ddos/") + file)));
    EXPECT_EQ(count(f, "scan"), 0u) << file;
    EXPECT_EQ(count(f, "darknet"), 0u) << file;
    // The attacks themselves are seen (the data did go through the detectors).
    EXPECT_GT(count(f, "ddos-target"), 0u) << file;
  }
}
