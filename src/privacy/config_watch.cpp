#include "privacy/config_watch.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/time.hpp"
#include "privacy/audit.hpp"
#include "privacy/fileutil.hpp"

namespace omamori::privacy {

namespace {

struct LockFile {
  int fd = -1;
  explicit LockFile(const std::string& path) {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX) != 0) {
      ::close(fd);
      throw std::runtime_error("cannot lock " + path + ": " + std::strerror(errno));
    }
  }
  ~LockFile() {
    if (fd >= 0) ::close(fd);  // releases the lock
  }
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;
};

std::string owner_name(uid_t uid) {
  if (const passwd* pw = ::getpwuid(uid)) return pw->pw_name;
  return std::to_string(uid);
}

}  // namespace

std::vector<ConfigChange> note_config_changes(const std::string& state_dir, const std::string& audit_log,
                                              const std::vector<std::string>& files, const std::string& noticed_by) {
  std::vector<ConfigChange> changes;
  std::error_code ec;
  if (state_dir.empty() || !std::filesystem::is_directory(state_dir, ec)) return changes;
  const std::string seen_path = state_dir + "/config.seen";
  LockFile lock(seen_path + ".lock");

  nlohmann::json seen = nlohmann::json::object();
  std::string text;
  if (read_file(seen_path, text) && !text.empty()) {
    seen = nlohmann::json::parse(text, nullptr, false);
    if (!seen.is_object()) seen = nlohmann::json::object();  // damaged: every file counts as first seen
  }
  std::vector<nlohmann::json> details;
  for (const auto& f : files) {
    if (f.empty()) continue;
    std::string key = std::filesystem::absolute(f, ec).lexically_normal().string();
    if (ec) key = f;
    std::string content, now;
    struct stat st {};
    bool present = read_file(f, content) && ::stat(f.c_str(), &st) == 0;
    if (present) now = sha256_hex(content);
    std::string before = seen.contains(key) && seen[key].is_string() ? seen[key].get<std::string>() : "";
    if (before == now) continue;
    changes.push_back({key, before, now});
    nlohmann::json d = {{"file", key},
                        {"before", before.empty() ? nlohmann::json(nullptr) : nlohmann::json(before)},
                        {"after", now.empty() ? nlohmann::json(nullptr) : nlohmann::json(now)},
                        {"change", before.empty() ? "first seen" : now.empty() ? "removed" : "modified"},
                        {"noticed_by", noticed_by}};
    if (present) {
      d["size"] = static_cast<int64_t>(st.st_size);
      d["owner"] = owner_name(st.st_uid);
      d["mtime"] = format_rfc3339(static_cast<TimeMs>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000);
    }
    details.push_back(std::move(d));
    if (now.empty())
      seen.erase(key);
    else
      seen[key] = now;
  }
  if (changes.empty()) return changes;
  // The audit entries first: a crash between the two makes the next command
  // report the change again rather than never.
  AuditLog log(audit_log);
  for (auto& d : details) {
    AuditEvent ev;
    ev.actor = "omamori";
    ev.role = "system";
    ev.action = std::string(kActionConfigChange);
    ev.subject = d["file"].get<std::string>();
    ev.detail = std::move(d);
    log.append(ev);
  }
  replace_file(seen_path, seen.dump(1) + "\n", 0600);
  return changes;
}

}  // namespace omamori::privacy
