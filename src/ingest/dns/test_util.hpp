// Helpers shared by the DNS tests (not part of the library).
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "ingest/dns/event.hpp"
#include "test_support/run.hpp"

namespace omamori::dnstest {

// Runs a shell command and returns its standard output; fails the test when it
// cannot be started or exits non-zero.
inline std::string run(const std::string& cmd, int* status = nullptr) {
  std::string out;
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    ADD_FAILURE() << "cannot run: " << cmd;
    return out;
  }
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  if (status)
    *status = rc;
  else if (rc != 0)
    ADD_FAILURE() << "command failed (" << rc << "): " << cmd;
  return out;
}

// Fails the test when a peer program is missing (the tests need them; scripts/setup.sh installs them).
inline bool have_program(const std::string& name) {
  int st = 0;
  run("command -v " + name + " >/dev/null 2>&1", &st);
  if (st != 0) ADD_FAILURE() << name << " is not installed (run scripts/setup.sh)";
  return st == 0;
}

using test::lines;
using test::split;

// Collects events.
struct Collector final : DnsSink {
  std::vector<OwnedDnsEvent> events;
  void on_dns(const DnsEvent& ev) override { events.push_back(OwnedDnsEvent::from(ev)); }
};

using test::shared_data;
inline std::string testdata(const std::string& rel) {
  return std::string(OMAMORI_TESTDATA) + "/" + rel;
}

// A fresh temporary directory, removed with the object.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/omamori-dns-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string str(const std::string& name = "") const { return name.empty() ? path.string() : (path / name).string(); }
};

}  // namespace omamori::dnstest
