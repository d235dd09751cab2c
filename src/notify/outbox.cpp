#include "notify/outbox.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "notify/request_json.hpp"

namespace omamori::notify {
namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxItemFile = 64 * 1024 * 1024;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot read", p.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > kMaxItemFile) throw std::invalid_argument("outbox item too large");
  return s;
}

void write_atomic(const fs::path& p, const std::string& data) {
  fs::path tmp = p;
  tmp += ".tmp";
  {
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error(fmt::format("{}: cannot write", tmp.string()));
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd, data.data() + off, data.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        ::close(fd);
        throw std::runtime_error(fmt::format("{}: write failed", tmp.string()));
      }
      off += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) throw std::runtime_error(fmt::format("{}: write failed", tmp.string()));
  }
  fs::rename(tmp, p);
}

class DirLock {
 public:
  explicit DirLock(const fs::path& dir) {
    fd_ = ::open((dir / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0) throw std::runtime_error(fmt::format("{}: cannot lock", dir.string()));
  }
  ~DirLock() {
    if (fd_ >= 0) {
      ::flock(fd_, LOCK_UN);
      ::close(fd_);
    }
  }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

bool safe_id(std::string_view id) {
  if (id.empty() || id.size() > 100) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

}  // namespace

std::string outbox_item_to_json(const OutboxItem& it) {
  nlohmann::ordered_json j;
  j["id"] = it.id;
  j["channel"] = it.channel;
  j["state"] = it.state;
  j["created"] = it.created;
  j["next_attempt"] = it.next_attempt;
  j["last_attempt"] = it.last_attempt;
  j["attempts"] = it.attempts;
  j["last_error"] = it.last_error;
  j["message_id"] = it.message_id;
  j["request"] = nlohmann::ordered_json::parse(request_to_json(it.request));
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

OutboxItem outbox_item_from_json(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw std::invalid_argument("outbox item: not a JSON object");
  OutboxItem it;
  auto str = [&](const char* k, std::string& out) {
    auto f = j.find(k);
    if (f == j.end() || !f->is_string()) throw std::invalid_argument(fmt::format("outbox item: '{}' must be a string", k));
    out = f->get<std::string>();
  };
  auto num = [&](const char* k, int64_t& out) {
    auto f = j.find(k);
    if (f == j.end() || !f->is_number_integer()) throw std::invalid_argument(fmt::format("outbox item: '{}' must be an integer", k));
    out = f->get<int64_t>();
  };
  str("id", it.id);
  str("channel", it.channel);
  str("state", it.state);
  str("last_error", it.last_error);
  str("message_id", it.message_id);
  num("created", it.created);
  num("next_attempt", it.next_attempt);
  num("last_attempt", it.last_attempt);
  int64_t attempts = 0;
  num("attempts", attempts);
  if (attempts < 0 || attempts > 1000000) throw std::invalid_argument("outbox item: 'attempts' out of range");
  it.attempts = static_cast<int>(attempts);
  if (!safe_id(it.id)) throw std::invalid_argument("outbox item: malformed 'id'");
  auto r = j.find("request");
  if (r == j.end()) throw std::invalid_argument("outbox item: 'request' is missing");
  it.request = request_from_json(r->dump());
  return it;
}

Outbox::Outbox(std::string dir, RetryPolicy policy) : dir_(std::move(dir)), policy_(policy) {
  for (const char* sub : {"pending", "sent", "failed"}) fs::create_directories(fs::path(dir_) / sub);
}

std::string Outbox::enqueue(const WarningRequest& req, const std::string& channel, TimeMs now) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  OutboxItem it;
  it.id = fmt::format("{}-{}-{:08x}", now, req.case_id < 0 ? 0 : req.case_id, static_cast<uint32_t>(rng()));
  it.channel = channel;
  it.state = "pending";
  it.created = now;
  it.next_attempt = now;
  it.request = req;
  write_atomic(fs::path(dir_) / "pending" / (it.id + ".json"), outbox_item_to_json(it));
  return it.id;
}

Outbox::RunStats Outbox::run(const std::map<std::string, WarningSender*>& senders, TimeMs now) {
  RunStats st;
  fs::path root(dir_);
  DirLock lock(root);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(root / "pending"))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& p : files) {
    OutboxItem it;
    try {
      it = outbox_item_from_json(read_file(p));
    } catch (const std::exception& e) {
      spdlog::error("notify outbox: unreadable item file={} error={}", p.string(), e.what());
      std::error_code ec;
      fs::rename(p, root / "failed" / (p.filename().string() + ".bad"), ec);
      ++st.unreadable;
      continue;
    }
    if (it.next_attempt > now) continue;
    auto s = senders.find(it.channel);
    if (s == senders.end() || !s->second) continue;
    ++st.attempted;
    DeliveryResult r;
    try {
      r = s->second->send(it.request);
    } catch (const std::exception& e) {
      r.ok = false;
      r.error = e.what();
    }
    ++it.attempts;
    it.last_attempt = now;
    if (r.ok) {
      it.state = "sent";
      it.last_error.clear();
      it.message_id = r.message_id;
      write_atomic(root / "sent" / p.filename(), outbox_item_to_json(it));
      fs::remove(p);
      ++st.sent;
      continue;
    }
    it.last_error = r.error.empty() ? "delivery failed (no reason given)" : r.error;
    if (it.attempts >= policy_.max_attempts) {
      it.state = "failed";
      write_atomic(root / "failed" / p.filename(), outbox_item_to_json(it));
      fs::remove(p);
      ++st.failed;
      spdlog::warn("notify outbox: gave up id={} case={} channel={} attempts={} error={}", it.id, it.request.case_id,
                   it.channel, it.attempts, it.last_error);
    } else {
      it.next_attempt = now + policy_.delay_after(it.attempts);
      write_atomic(p, outbox_item_to_json(it));
      ++st.deferred;
      spdlog::info("notify outbox: will retry id={} case={} channel={} attempts={} error={}", it.id,
                   it.request.case_id, it.channel, it.attempts, it.last_error);
    }
  }
  return st;
}

std::vector<OutboxItem> Outbox::list(const std::string& state) const {
  std::vector<OutboxItem> out;
  fs::path d = fs::path(dir_) / state;
  std::error_code ec;
  if (!fs::is_directory(d, ec)) return out;
  for (const auto& e : fs::directory_iterator(d)) {
    if (e.path().extension() != ".json") continue;
    try {
      out.push_back(outbox_item_from_json(read_file(e.path())));
    } catch (const std::exception& ex) {
      spdlog::warn("notify outbox: unreadable item file={} error={}", e.path().string(), ex.what());
    }
  }
  std::sort(out.begin(), out.end(), [](const OutboxItem& a, const OutboxItem& b) { return a.created < b.created; });
  return out;
}

bool Outbox::retry(const std::string& id, TimeMs now) {
  if (!safe_id(id)) return false;
  fs::path root(dir_);
  DirLock lock(root);
  fs::path p = root / "failed" / (id + ".json");
  std::error_code ec;
  if (!fs::exists(p, ec)) return false;
  OutboxItem it = outbox_item_from_json(read_file(p));
  it.state = "pending";
  it.attempts = 0;
  it.next_attempt = now;
  write_atomic(root / "pending" / (id + ".json"), outbox_item_to_json(it));
  fs::remove(p);
  return true;
}

}  // namespace omamori::notify
