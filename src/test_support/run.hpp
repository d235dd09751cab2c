// Helpers for tests that run real peer programs (tshark, softflowd, ...).
#pragma once

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace omamori::test {

// Runs a shell command and returns its standard output; throws when it cannot
// be started or exits non-zero (so a missing peer tool fails the test).
inline std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r");
  if (!p) throw std::runtime_error("cannot run: " + cmd);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (rc != 0) throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + cmd);
  return out;
}

inline std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find('\n', i);
    if (j == std::string::npos) j = s.size();
    v.emplace_back(s.substr(i, j - i));
    i = j + 1;
  }
  return v;
}

inline std::string shared_data(const std::string& rel) {
#ifdef OMAMORI_SHARED_DATA
  return std::string(OMAMORI_SHARED_DATA) + "/" + rel;
#else
  return "../shared/data/" + rel;
#endif
}

}  // namespace omamori::test
