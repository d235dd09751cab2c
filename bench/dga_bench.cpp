// DGA scorer throughput (names/s on one core, thread CPU time) over the
// labelled names of shared/data/dga, and a digest of every decision value so
// that a speed-up can be checked to leave the scores bit for bit unchanged.
//
//   dga_bench [--seconds S] [--model FILE] [DGA.csv BENIGN.csv]
//
// Prints "names=N cpu_s=T names_per_s=R digest=HEX flagged=K".
#include <time.h>

#include <bit>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "detect/dga/model.hpp"

using namespace omamori;

namespace {
bool read_names(const std::string& path, std::vector<std::string>& out) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    size_t c = line.find(',');
    if (c != std::string::npos) line.resize(c);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  return true;
}
}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  std::string model_path;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (a == "--model" && i + 1 < argc) model_path = argv[++i];
    else if (!a.empty() && a[0] != '-') files.push_back(a);
    else {
      std::fprintf(stderr, "usage: dga_bench [--seconds S] [--model FILE] [DGA.csv BENIGN.csv]\n");
      return 2;
    }
  }
  if (files.empty()) {
    std::string d = OMAMORI_SHARED_DATA "/dga/";
    files = {d + "dga_domains.csv", d + "benign_domains.csv"};
  }
  std::string err;
  std::unique_ptr<dga::Model> owned;
  const dga::Model* m = nullptr;
  if (!model_path.empty()) {
    owned = dga::Model::load(model_path, err);
    m = owned.get();
  } else {
    m = dga::Model::builtin(err);
  }
  if (!m) {
    std::fprintf(stderr, "dga_bench: %s\n", err.c_str());
    return 1;
  }
  std::vector<std::string> names;
  for (const auto& f : files)
    if (!read_names(f, names)) {
      std::fprintf(stderr, "dga_bench: cannot read %s\n", f.c_str());
      return 1;
    }
  dga::Scorer sc(*m);
  // Digest of the exact scores (FNV-1a over the doubles' bits), one pass.
  uint64_t digest = 0xcbf29ce484222325ull;
  size_t flagged = 0;
  for (const auto& n : names) {
    auto r = sc.score(n);
    digest = (digest ^ std::bit_cast<uint64_t>(r.score)) * 0x100000001b3ull;
    flagged += r.dga;
  }
  uint64_t scored = 0;
  double t0 = bench::thread_cpu(), secs = 0;
  size_t sink = 0;
  while (secs < seconds) {
    for (const auto& n : names) sink += sc.score(n).dga;
    scored += names.size();
    secs = bench::thread_cpu() - t0;
  }
  std::printf("names=%zu scored=%llu cpu_s=%.2f names_per_s=%.0f digest=%016llx flagged=%zu (%zu)\n", names.size(),
              static_cast<unsigned long long>(scored), secs, static_cast<double>(scored) / secs,
              static_cast<unsigned long long>(digest), flagged, sink % 2);
  return 0;
}
