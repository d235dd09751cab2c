// `omamori simulate`: a small ISP, generated deterministically, with real
// captures woven in - the data behind `omamori demo` (data/demo/).
//
// Output (relative to the output directory):
//   subscribers.csv                    contract data
//   radacct/<nas>/detail-YYYYMMDD      RADIUS accounting, FreeRADIUS detail format
//   radacct.csv                        the same sessions as a radacct table export
//   border.pcap                        subscriber traffic at the ISP's border tap
//   feeds/elf_mirai.txt                the threat feed (a cut of a real Maltrail trail)
//   truth.json                         ground truth: infections, C&C, woven captures
//   omamori.toml                       `omamori analyze` settings for the bundle
// The same options and the same real data give byte-identical files.
// See docs/simulate.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace omamori::sim {

struct Options {
  std::string out;
  uint64_t seed = 2026;
  size_t subscribers = 300;
  int hours = 24;
  std::string start = "2026-11-22T00:00:00Z";
  std::string shared_data;  // ../shared/data
};

struct Summary {
  size_t subscribers = 0, sessions = 0, frames = 0, infections = 0;
  std::vector<std::string> files;  // written, relative to out
};

// The command line that reproduces `o` (output directory as DIR, without the data directory).
std::string command_line(const Options& o);

// Generates the bundle; throws std::exception with a message on failure.
Summary simulate(const Options& o);

}  // namespace omamori::sim
