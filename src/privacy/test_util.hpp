// Helpers of the privacy tests: a temporary directory, running the real binary.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace omamori::privacy::testing {

struct TempDir {
  std::string path;
  TempDir() {
    char d[] = "/tmp/omamori-privacy-XXXXXX";
    path = mkdtemp(d);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

struct Result {
  int code;
  std::string out;  // stdout and stderr
};

// Runs `omamori ARGS` with OMAMORI_ACTOR and OMAMORI_STATE_DIR cleared, then
// `env` (e.g. "OMAMORI_ACTOR=alice") set.
inline Result run_omamori(const std::string& args, const std::string& env = "") {
  std::string cmd = "env -u OMAMORI_ACTOR -u OMAMORI_STATE_DIR " + env + " " OMAMORI_BINARY " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

}  // namespace omamori::privacy::testing
