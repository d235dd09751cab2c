// CSV export for call centres and letters: one row per warning, appended to
// a file (RFC 4180: CRLF between records, fields quoted when needed).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "notify/channels.hpp"

namespace omamori::notify {
namespace {

bool write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    s.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

const std::vector<std::string>& CsvSender::columns() {
  static const std::vector<std::string> c = {"case_id",    "reference", "subscriber_id", "email",
                                             "language",   "severity",  "first_seen",    "last_seen",
                                             "finding_types", "subject", "body",         "exported_at"};
  return c;
}

std::string CsvSender::field(std::string_view v, bool excel_guard) {
  std::string s;
  if (excel_guard && !v.empty() && std::string_view("=+-@\t\r").find(v.front()) != std::string_view::npos) s = "'";
  s.append(v);
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

CsvSender::CsvSender(const NotifyConfig& cfg, TemplateSet templates) : cfg_(cfg), templates_(std::move(templates)) {
  if (cfg_.csv.path.empty()) throw std::invalid_argument("notify.csv.path is not set");
}

DeliveryResult CsvSender::send(const WarningRequest& req) {
  DeliveryResult r;
  r.channel = "csv";
  RenderedWarning w;
  try {
    w = render_warning(req, templates_, cfg_);
  } catch (const std::exception& e) {
    r.error = fmt::format("cannot render the warning: {}", e.what());
    return r;
  }
  std::vector<std::string_view> seen;
  std::string types;
  for (const auto& f : req.findings) {
    if (std::find(seen.begin(), seen.end(), f.type) != seen.end()) continue;
    seen.push_back(f.type);
    if (!types.empty()) types += ';';
    types += f.type;
  }
  bool g = cfg_.csv.excel_guard;
  TimeMs now = now_ms();
  std::vector<std::string> vals = {std::to_string(req.case_id), w.reference, req.subscriber_id, req.email,
                                   w.language, req.severity, format_rfc3339(req.first_seen),
                                   format_rfc3339(req.last_seen), types, w.subject, w.body, format_rfc3339(now)};
  std::string row;
  for (size_t i = 0; i < vals.size(); ++i) {
    if (i) row += ',';
    row += field(vals[i], g);
  }
  row += "\r\n";

  const std::string& path = cfg_.csv.path;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    r.error = fmt::format("csv {}: {}", path, std::strerror(errno));
    return r;
  }
  // Several exporters may append to one file: one lock, whole rows.
  if (::flock(fd, LOCK_EX) != 0) {
    r.error = fmt::format("csv {}: lock: {}", path, std::strerror(errno));
    ::close(fd);
    return r;
  }
  struct stat st{};
  std::string out;
  if (::fstat(fd, &st) == 0 && st.st_size == 0) {
    if (cfg_.csv.bom) out += "\xef\xbb\xbf";
    for (size_t i = 0; i < columns().size(); ++i) {
      if (i) out += ',';
      out += columns()[i];
    }
    out += "\r\n";
  }
  out += row;
  off_t before = st.st_size;
  bool ok = write_all(fd, out) && ::fsync(fd) == 0;
  if (!ok) {
    r.error = fmt::format("csv {}: write: {}", path, std::strerror(errno));
    // Do not leave half a row behind.
    if (::ftruncate(fd, before) != 0) r.error += " (and the partial row could not be removed)";
  } else {
    r.ok = true;
    r.message_id = fmt::format("csv:{}@{}", path, static_cast<long long>(before));
  }
  ::flock(fd, LOCK_UN);
  ::close(fd);
  return r;
}

}  // namespace omamori::notify
