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

inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

// The lines of s, without a trailing empty line.
inline std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out = split(s, '\n');
  if (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

inline std::string shared_data(const std::string& rel) {
#ifdef OMAMORI_SHARED_DATA
  return std::string(OMAMORI_SHARED_DATA) + "/" + rel;
#else
  return "../shared/data/" + rel;
#endif
}

}  // namespace omamori::test
