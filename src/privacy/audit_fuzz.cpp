// fuzz_audit_verify: arbitrary bytes as an audit log (and, split at the first
// NUL, its head file) through verify_audit and the line parser.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "privacy/audit.hpp"

namespace {
std::string temp_log() {
  char d[] = "/tmp/fuzz-audit-XXXXXX";
  if (!mkdtemp(d)) std::abort();
  return std::string(d) + "/audit.log";
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string log = temp_log();
  std::string_view all(reinterpret_cast<const char*>(data), size);
  auto nul = all.find('\0');
  std::string_view body = all.substr(0, nul);
  std::ofstream(log, std::ios::trunc | std::ios::binary) << body;
  if (nul != std::string_view::npos)
    std::ofstream(omamori::privacy::AuditLog::head_path(log), std::ios::trunc | std::ios::binary)
        << all.substr(nul + 1);
  else
    ::unlink(omamori::privacy::AuditLog::head_path(log).c_str());
  auto r = omamori::privacy::verify_audit(log);
  if (r.ok && !r.problem.empty()) std::abort();
  if (!r.ok && r.problem.empty()) std::abort();
  size_t start = 0;
  while (start <= body.size()) {
    size_t nl = body.find('\n', start);
    std::string_view line = body.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    omamori::privacy::AuditEntry e;
    std::string problem = omamori::privacy::check_audit_line(line, e);
    if (problem.empty() && e.hash.size() != 64) std::abort();
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return 0;
}
