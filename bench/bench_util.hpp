// Small helpers shared by the benchmark programs: command-line values, CPU
// time, big-endian writers for hand-built export datagrams.
#pragma once

#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace bench {

// The value after argv[i] (advancing i), or exit 2 with a message when there is none.
inline std::string arg_value(int argc, char** argv, int& i) {
  if (i + 1 >= argc) {
    std::fprintf(stderr, "%s needs a value\n", argv[i]);
    std::exit(2);
  }
  return argv[++i];
}

// CPU time of the calling thread, seconds: a busy machine does not understate per-core rates.
inline double thread_cpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

inline void put8(std::vector<uint8_t>& v, uint64_t x) { v.push_back(static_cast<uint8_t>(x)); }
inline void put16(std::vector<uint8_t>& v, uint64_t x) {
  put8(v, x >> 8);
  put8(v, x);
}
inline void put32(std::vector<uint8_t>& v, uint64_t x) {
  put16(v, x >> 16);
  put16(v, x);
}
inline void set16(std::vector<uint8_t>& v, size_t off, uint32_t x) {
  v[off] = static_cast<uint8_t>(x >> 8);
  v[off + 1] = static_cast<uint8_t>(x);
}

}  // namespace bench
