// FlowWriter's hand-rolled text must be byte-identical to the fmt format
// strings it replaced (kept here as the reference).
#include <gtest/gtest.h>
#include <fmt/format.h>

#include <cstdio>
#include <iterator>
#include <limits>
#include <random>
#include <string>

#include "flow/format.hpp"

namespace omamori {
namespace {

std::string reference(const FlowRecord& r, OutputFormat f) {
  fmt::memory_buffer b;
  auto out = std::back_inserter(b);
  auto addr = [](const IpAddr& a) { return a.str(); };
  switch (f) {
    case OutputFormat::Jsonl:
      fmt::format_to(out, R"({{"start":"{}","end":"{}","src":"{}","dst":"{}")", format_rfc3339(r.start),
                     format_rfc3339(r.end), addr(r.src), addr(r.dst));
      fmt::format_to(out,
                     R"(,"sport":{},"dport":{},"proto":{},"tcp_flags":{},"packets":{},"bytes":{},"in_if":{},"out_if":{},"exporter":)",
                     r.sport, r.dport, r.proto, r.tcp_flags, r.packets, r.bytes, r.in_if, r.out_if);
      if (r.exporter.empty())
        fmt::format_to(out, "null");
      else
        fmt::format_to(out, "\"{}\"", addr(r.exporter));
      fmt::format_to(out, R"(,"sampling_rate":{},"src_as":{},"dst_as":{}}})", r.sampling_rate, r.src_as, r.dst_as);
      b.push_back('\n');
      break;
    case OutputFormat::Csv:
      fmt::format_to(out, "{},{},{},{},{},{},{},{},{},{},{},{},", format_rfc3339(r.start), format_rfc3339(r.end),
                     addr(r.src), addr(r.dst), r.sport, r.dport, r.proto, r.tcp_flags, r.packets, r.bytes, r.in_if,
                     r.out_if);
      if (!r.exporter.empty()) fmt::format_to(out, "{}", addr(r.exporter));
      fmt::format_to(out, ",{},{},{}\n", r.sampling_rate, r.src_as, r.dst_as);
      break;
    case OutputFormat::Table: {
      char flags[7] = "......";
      static const char kF[] = "FSRPAU";
      for (int i = 0; i < 6; ++i)
        if (r.tcp_flags & (1 << i)) flags[i] = kF[i];
      fmt::format_to(out, "{:<24} {:>8.3f} {:<39} {:>5} {:<39} {:>5} {:>5} {:>6} {:>10} {:>12} {:<15}\n",
                     format_rfc3339(r.start), static_cast<double>(r.end - r.start) / 1000.0, addr(r.src), r.sport,
                     addr(r.dst), r.dport, r.proto, r.proto == 6 ? flags : "", r.packets, r.bytes,
                     r.exporter.empty() ? std::string("-") : addr(r.exporter));
      break;
    }
  }
  return std::string(b.data(), b.size());
}

std::string written(const std::vector<FlowRecord>& rs, OutputFormat f) {
  char* data = nullptr;
  size_t size = 0;
  std::FILE* mem = open_memstream(&data, &size);
  {
    FlowWriter w(mem, f);
    for (const auto& r : rs) w.on_flow(r);
  }
  std::fclose(mem);
  std::string s(data, size);
  std::free(data);
  return s;
}

TEST(FlowWriter, TextMatchesFmtReference) {
  std::mt19937_64 rng(7);
  auto pick = [&](std::initializer_list<uint64_t> special) {
    uint64_t v = rng();
    switch (v % 4) {
      case 0: return *(special.begin() + (v >> 8) % special.size());
      case 1: return v >> (v % 64);
      default: return v % 100000;
    }
  };
  std::vector<FlowRecord> rs;
  for (int i = 0; i < 20000; ++i) {
    FlowRecord r;
    // Decoders clamp wire times to +-1e18 ms, so end - start cannot overflow.
    constexpr uint64_t kMax = 1'000'000'000'000'000'000ULL;
    r.start = int64_t(pick({0, 1, 999, 1700000000123ULL, 253402300799999ULL}) % kMax) - (i % 7 == 0 ? 5000 : 0);
    int64_t dur = int64_t(pick({0, 1, 999, 1000, 1001, 86400000}) % kMax);
    if (i % 11 == 0) dur = -dur;
    if (i % 97 == 0) dur = int64_t(rng() % kMax) * (i % 2 ? 1 : -1);  // beyond the exact range
    r.end = r.start + dur;
    uint8_t b[16];
    for (auto& c : b) c = uint8_t(rng() % 3 == 0 ? 0 : rng());
    r.src = i % 3 ? IpAddr::v4(uint32_t(rng())) : IpAddr::v6_bytes(b);
    r.dst = i % 5 ? IpAddr::v4(uint32_t(pick({0, 1, 0xffffffff}))) : IpAddr::v6_bytes(b);
    r.exporter = i % 4 == 0 ? IpAddr{} : i % 4 == 1 ? IpAddr::v6_bytes(b) : IpAddr::v4(uint32_t(rng()));
    r.packets = pick({0, 1, std::numeric_limits<uint64_t>::max()});
    r.bytes = pick({0, 10, 99, 100, std::numeric_limits<uint64_t>::max()});
    r.in_if = uint32_t(pick({0, 4294967295u}));
    r.out_if = uint32_t(pick({0, 7}));
    r.src_as = uint32_t(pick({0, 65535, 4294967295u}));
    r.dst_as = uint32_t(rng());
    r.sampling_rate = uint32_t(pick({1, 0, 1000}));
    r.sport = uint16_t(pick({0, 9, 10, 99999, 65535}));
    r.dport = uint16_t(rng());
    r.proto = uint8_t(i % 3 == 0 ? 6 : pick({0, 17, 255}));
    r.tcp_flags = uint8_t(rng());
    rs.push_back(r);
  }
  for (auto f : {OutputFormat::Csv, OutputFormat::Jsonl, OutputFormat::Table}) {
    std::string want;
    if (f == OutputFormat::Csv)
      want = "start,end,src,dst,sport,dport,proto,tcp_flags,packets,bytes,in_if,out_if,exporter,sampling_rate,"
             "src_as,dst_as\n";
    if (f == OutputFormat::Table)
      want = fmt::format("{:<24} {:>8} {:<39} {:>5} {:<39} {:>5} {:>5} {:>6} {:>10} {:>12} {:<15}\n", "start",
                         "dur_s", "src", "sport", "dst", "dport", "proto", "flags", "packets", "bytes", "exporter");
    for (const auto& r : rs) want += reference(r, f);
    std::string got = written(rs, f);
    ASSERT_EQ(got.size(), want.size()) << int(f);
    for (size_t i = 0; i < got.size(); ++i)
      if (got[i] != want[i]) {
        size_t line = got.rfind('\n', i);
        line = line == std::string::npos ? 0 : line + 1;
        FAIL() << "format " << int(f) << " differs at byte " << i << ":\n got: "
               << got.substr(line, got.find('\n', line) - line) << "\nwant: "
               << want.substr(line, want.find('\n', line) - line);
      }
    fmt::memory_buffer one;
    append_flow_json(one, rs[3]);
    std::string j = reference(rs[3], OutputFormat::Jsonl);
    EXPECT_EQ(std::string(one.data(), one.size()), j.substr(0, j.size() - 1));
  }
  EXPECT_EQ(written({}, OutputFormat::Csv), "");  // no header without records
}

}  // namespace
}  // namespace omamori
