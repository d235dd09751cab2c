#include "privacy/retention.hpp"

#include <fmt/format.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>

namespace omamori::privacy {

namespace {

struct Hook {
  DataKind kind;
  PurgeHook fn;
};

std::mutex& hooks_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, Hook>& hooks() {
  static std::map<std::string, Hook> h;
  return h;
}

bool matches(const std::vector<std::string>& globs, const std::string& name) {
  if (globs.empty()) return true;
  for (const auto& g : globs)
    if (fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

TimeMs mtime_ms(const struct stat& st) {
  return static_cast<TimeMs>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

void purge_spool(const std::string& dir, const RetentionPolicy& p, TimeMs cutoff, bool dry_run, PurgeCount& c,
                 std::vector<std::string>& removed) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    c.error = fmt::format("spool directory {} does not exist", dir);
    return;
  }
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) {
    c.error = fmt::format("cannot read {}: {}", dir, ec.message());
    return;
  }
  for (; it != end; it.increment(ec)) {
    if (ec) {
      c.error = fmt::format("cannot read {}: {}", dir, ec.message());
      return;
    }
    const auto& path = it->path();
    struct stat st;
    // lstat: a symlink is neither followed nor deleted.
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (!matches(p.spool_patterns, path.filename().string())) continue;
    if (mtime_ms(st) >= cutoff) continue;
    if (!dry_run && ::unlink(path.c_str()) != 0) {
      if (c.error.empty()) c.error = fmt::format("cannot delete {}: {}", path.string(), std::strerror(errno));
      continue;
    }
    ++c.items;
    c.bytes += static_cast<uint64_t>(st.st_size);
    removed.push_back(path.string());
  }
}

}  // namespace

std::string_view data_kind_name(DataKind k) {
  switch (k) {
    case DataKind::kRawTelemetry: return "raw_telemetry";
    case DataKind::kFindings: return "findings";
    case DataKind::kClosedCases: return "cases_closed";
    case DataKind::kSessions: return "sessions";
  }
  return "?";
}

void RetentionPolicy::validate() const {
  const std::pair<const char*, int> all[] = {{"raw_telemetry_days", raw_telemetry_days},
                                             {"findings_days", findings_days},
                                             {"cases_closed_days", cases_closed_days},
                                             {"sessions_days", sessions_days},
                                             {"audit_days", audit_days}};
  for (auto [name, v] : all)
    if (v < 1 || v > 36500) throw std::invalid_argument(fmt::format("retention {} = {}: must be 1-36500", name, v));
  if (audit_days < kMinAuditDays)
    throw std::invalid_argument(fmt::format(
        "retention audit_days = {}: audit logs are kept at least {} days (6-12 months, ISO 27001 A.10.10)",
        audit_days, kMinAuditDays));
}

int RetentionPolicy::days(DataKind k) const {
  switch (k) {
    case DataKind::kRawTelemetry: return raw_telemetry_days;
    case DataKind::kFindings: return findings_days;
    case DataKind::kClosedCases: return cases_closed_days;
    case DataKind::kSessions: return sessions_days;
  }
  return raw_telemetry_days;
}

void register_purge(std::string what, DataKind kind, PurgeHook hook) {
  std::lock_guard lock(hooks_mutex());
  hooks()[std::move(what)] = Hook{kind, std::move(hook)};
}

void register_purge(std::string what, PurgeHook hook) {
  auto starts = [&](std::string_view p) { return what.compare(0, p.size(), p) == 0; };
  DataKind k = starts("session")   ? DataKind::kSessions
               : starts("finding") ? DataKind::kFindings
               : starts("case")    ? DataKind::kClosedCases
                                   : DataKind::kRawTelemetry;
  register_purge(std::move(what), k, std::move(hook));
}

void clear_purge_hooks() {
  std::lock_guard lock(hooks_mutex());
  hooks().clear();
}

uint64_t RetentionReport::errors() const {
  uint64_t n = 0;
  for (const auto& c : counts) n += !c.error.empty();
  return n;
}

RetentionReport run_retention(const RetentionPolicy& p, TimeMs now, bool dry_run) {
  p.validate();
  RetentionReport r;
  r.dry_run = dry_run;
  r.now = now;
  for (const auto& dir : p.spool_dirs) {
    PurgeCount c;
    c.what = "spool:" + dir;
    c.kind = DataKind::kRawTelemetry;
    c.cutoff = p.cutoff(c.kind, now);
    purge_spool(dir, p, c.cutoff, dry_run, c, r.removed_files);
    r.counts.push_back(std::move(c));
  }
  std::map<std::string, Hook> hs;
  {
    std::lock_guard lock(hooks_mutex());
    hs = hooks();
  }
  for (const auto& [name, h] : hs) {
    PurgeCount c;
    c.what = name;
    c.kind = h.kind;
    c.cutoff = p.cutoff(h.kind, now);
    if (dry_run) {
      c.skipped = true;
    } else {
      try {
        c.items = h.fn(c.cutoff);
      } catch (const std::exception& e) {
        c.error = e.what();
      }
    }
    r.counts.push_back(std::move(c));
  }
  return r;
}

}  // namespace omamori::privacy
