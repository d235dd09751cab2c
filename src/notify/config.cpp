#include "notify/config.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <toml++/toml.h>

namespace omamori::notify {

int64_t RetryPolicy::delay_after(int attempts) const {
  int64_t d = base_ms;
  for (int i = 1; i < attempts && d < max_ms; ++i) d *= 2;
  return std::min(d, max_ms);
}

IspContact NotifyConfig::isp_for(const std::string& language) const {
  IspContact c;
  auto overlay = [&](const std::string& key) {
    auto it = isp.find(key);
    if (it == isp.end()) return;
    const IspContact& o = it->second;
    if (!o.name.empty()) c.name = o.name;
    if (!o.phone.empty()) c.phone = o.phone;
    if (!o.url.empty()) c.url = o.url;
    if (!o.email.empty()) c.email = o.email;
    if (!o.hours.empty()) c.hours = o.hours;
  };
  overlay("");
  overlay(language);
  return c;
}

namespace {

// Reads the keys of one table into fields; unknown keys and wrong types throw.
class TableReader {
 public:
  TableReader(const toml::table& t, std::string path) : t_(t), path_(std::move(path)) {}

  void str(const char* key, std::string& out) {
    known_.push_back(key);
    if (auto* n = t_.get(key)) {
      auto v = n->value<std::string>();
      if (!n->is_string() || !v) bad(key, "a string");
      out = *v;
    }
  }
  void boolean(const char* key, bool& out) {
    known_.push_back(key);
    if (auto* n = t_.get(key)) {
      if (!n->is_boolean()) bad(key, "true or false");
      out = *n->value<bool>();
    }
  }
  template <typename T>
  void integer(const char* key, T& out, int64_t lo, int64_t hi) {
    known_.push_back(key);
    if (auto* n = t_.get(key)) {
      if (!n->is_integer()) bad(key, "an integer");
      int64_t v = *n->value<int64_t>();
      if (v < lo || v > hi) bad(key, fmt::format("an integer from {} to {}", lo, hi));
      out = static_cast<T>(v);
    }
  }
  void table(std::string_view key) { known_.push_back(key); }
  void finish() const {
    for (const auto& [k, v] : t_) {
      if (std::find(known_.begin(), known_.end(), k.str()) == known_.end())
        throw std::runtime_error(fmt::format("{}: unknown key '{}'", path_, k.str()));
    }
  }

 private:
  [[noreturn]] void bad(const char* key, const std::string& want) const {
    throw std::runtime_error(fmt::format("{}.{}: must be {}", path_, key, want));
  }
  const toml::table& t_;
  std::string path_;
  std::vector<std::string_view> known_;
};

const toml::table* subtable(const toml::table& t, const char* key, const std::string& path) {
  auto* n = t.get(key);
  if (!n) return nullptr;
  if (!n->is_table()) throw std::runtime_error(fmt::format("{}.{}: must be a table", path, key));
  return n->as_table();
}

void read_isp(const toml::table& t, const std::string& path, IspContact& c, bool base) {
  TableReader r(t, path);
  if (!base) c.name.clear();
  r.str("name", c.name);
  r.str("phone", c.phone);
  r.str("url", c.url);
  r.str("email", c.email);
  r.str("hours", c.hours);
  if (base) {
    for (const auto& [k, v] : t) {
      if (v.is_table()) r.table(k.str());
    }
  }
  r.finish();
}

}  // namespace

NotifyConfig notify_config_from_toml(std::string_view text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw std::runtime_error(fmt::format("{}:{}:{}: {}", source, e.source().begin.line, e.source().begin.column,
                                         e.description()));
  }
  NotifyConfig c;
  const toml::table* n = subtable(root, "notify", source);
  if (!n) return c;
  TableReader r(*n, "notify");
  r.str("templates", c.templates_dir);
  r.str("default_language", c.default_language);
  r.integer("max_findings", c.max_findings, 1, 1000);
  r.str("reference_prefix", c.reference_prefix);
  r.str("outbox", c.outbox);
  r.integer("max_attempts", c.retry.max_attempts, 1, 100);
  int64_t base_s = c.retry.base_ms / 1000, max_s = c.retry.max_ms / 1000;
  r.integer("retry_base_seconds", base_s, 1, 7 * 86400);
  r.integer("retry_max_seconds", max_s, 1, 30 * 86400);
  c.retry.base_ms = base_s * 1000;
  c.retry.max_ms = std::max(max_s, base_s) * 1000;
  for (const char* t : {"isp", "smtp", "webhook", "csv"}) r.table(t);
  r.finish();

  if (const auto* isp = subtable(*n, "isp", "notify")) {
    read_isp(*isp, "notify.isp", c.isp[""], true);
    for (const auto& [k, v] : *isp) {
      if (!v.is_table()) continue;
      std::string lang(k.str());
      read_isp(*v.as_table(), "notify.isp." + lang, c.isp[lang], false);
    }
  }
  if (const auto* s = subtable(*n, "smtp", "notify")) {
    TableReader t(*s, "notify.smtp");
    auto& m = c.smtp;
    t.str("host", m.host);
    t.integer("port", m.port, 1, 65535);
    t.str("starttls", m.starttls);
    t.boolean("implicit_tls", m.implicit_tls);
    t.str("ca_file", m.ca_file);
    t.boolean("verify_peer", m.verify_peer);
    t.str("user", m.user);
    t.str("password_file", m.password_file);
    t.str("from", m.from);
    t.str("reply_to", m.reply_to);
    t.str("helo", m.helo);
    t.integer("connect_timeout_seconds", m.connect_timeout_seconds, 1, 600);
    t.integer("timeout_seconds", m.timeout_seconds, 1, 3600);
    t.boolean("allow_plaintext_auth", m.allow_plaintext_auth);
    t.finish();
    if (m.starttls != "off" && m.starttls != "try" && m.starttls != "required")
      throw std::runtime_error("notify.smtp.starttls: must be \"off\", \"try\" or \"required\"");
  }
  if (const auto* w = subtable(*n, "webhook", "notify")) {
    TableReader t(*w, "notify.webhook");
    t.str("url", c.webhook.url);
    t.str("secret_file", c.webhook.secret_file);
    t.str("ca_file", c.webhook.ca_file);
    t.boolean("verify_peer", c.webhook.verify_peer);
    t.integer("timeout_seconds", c.webhook.timeout_seconds, 1, 600);
    t.finish();
  }
  if (const auto* v = subtable(*n, "csv", "notify")) {
    TableReader t(*v, "notify.csv");
    t.str("path", c.csv.path);
    t.boolean("bom", c.csv.bom);
    t.boolean("excel_guard", c.csv.excel_guard);
    t.finish();
  }
  return c;
}

NotifyConfig load_notify_config(const std::string& path) {
  if (path.empty()) return {};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return notify_config_from_toml(ss.str(), path);
}

std::string read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot read the secret file", path));
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) throw std::runtime_error(fmt::format("{}: the secret file is empty", path));
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077))
    spdlog::warn("notify: secret file can be read by others file={} mode={:o}", path, st.st_mode & 0777);
  return line;
}

}  // namespace omamori::notify
