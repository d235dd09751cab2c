// Notifier configuration: the [notify] tables of the omamori TOML file.
//
//   [notify]          templates, default_language, max_findings, reference_prefix,
//                     outbox, max_attempts, retry_base_seconds, retry_max_seconds
//   [notify.isp]      name, phone, url, email, hours  ([notify.isp.ja] / [notify.isp.en]
//                     override them per language)
//   [notify.smtp]     host, port, starttls (off|try|required), implicit_tls, ca_file,
//                     verify_peer, user, password_file, from, reply_to, helo,
//                     connect_timeout_seconds, timeout_seconds, allow_plaintext_auth
//   [notify.webhook]  url, secret_file, ca_file, verify_peer, timeout_seconds
//   [notify.csv]      path, bom, excel_guard
//
// Unknown keys are errors (a misspelt `pasword_file` must not be ignored).
// See docs/notify.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace omamori::notify {

struct IspContact {
  std::string name;  // empty: "ご利用のプロバイダ" / "your internet provider"
  std::string phone, url, email, hours;
};

struct SmtpConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 25;
  std::string starttls = "try";  // off: never; try: when offered; required: fail without it
  bool implicit_tls = false;     // smtps (TLS from the first byte, usually port 465)
  std::string ca_file;           // CA bundle for the server certificate (default: system)
  bool verify_peer = true;
  std::string user;
  std::string password_file;     // the password is read from this file (first line)
  std::string from;              // e.g. "Example ISP <abuse@isp.example>"
  std::string reply_to;
  std::string helo;              // EHLO name (default: the domain of `from`)
  long connect_timeout_seconds = 10;
  long timeout_seconds = 60;
  bool allow_plaintext_auth = false;  // AUTH without TLS (tests on loopback only)
};

struct WebhookConfig {
  std::string url;
  std::string secret_file;  // shared secret for the HMAC-SHA256 signature
  std::string ca_file;
  bool verify_peer = true;
  long timeout_seconds = 15;
};

struct CsvConfig {
  std::string path;
  bool bom = false;          // UTF-8 byte order mark at the start of a new file (Excel)
  bool excel_guard = false;  // prefix ' to cells starting with = + - @ (formula injection)
};

struct RetryPolicy {
  int max_attempts = 8;
  int64_t base_ms = 5 * 60 * 1000;       // first retry after 5 minutes, then doubling
  int64_t max_ms = 6 * 60 * 60 * 1000;  // at most 6 hours between attempts
  // Delay before the attempt after `attempts` failed ones (attempts >= 1).
  int64_t delay_after(int attempts) const;
};

struct NotifyConfig {
  std::string templates_dir;  // operator templates (DIR/<lang>/warning.txt); empty: bundled only
  std::string default_language = "ja";
  size_t max_findings = 10;            // findings listed in one warning; the rest are counted
  std::string reference_prefix = "OM-";  // reference quoted to the call centre: prefix + case id
  std::string outbox;                  // delivery outbox directory
  std::map<std::string, IspContact> isp;  // "" = all languages, then per language
  SmtpConfig smtp;
  WebhookConfig webhook;
  CsvConfig csv;
  RetryPolicy retry;

  // The ISP contact for a language: [notify.isp] overlaid with [notify.isp.<lang>].
  IspContact isp_for(const std::string& language) const;
};

// Reads the [notify] table of TOML text (absent: defaults); other tables are
// ignored. Throws std::runtime_error naming the key for syntax errors, wrong
// types or unknown keys.
NotifyConfig notify_config_from_toml(std::string_view toml_text, const std::string& source = "config");

// Reads a TOML file; an empty path gives the defaults.
NotifyConfig load_notify_config(const std::string& path);

// Reads a secret (password, HMAC key) from a file: the first line, without
// the line end. Throws when the file cannot be read or is empty; warns (log)
// when the file can be read by group or others.
std::string read_secret_file(const std::string& path);

}  // namespace omamori::notify
