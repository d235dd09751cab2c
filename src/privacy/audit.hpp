// The tamper-evident audit log (docs/privacy.md, "Audit log").
//
// One JSON object per line, members in this order:
//   {"seq":7,"time":"2024-05-01T09:30:00.123Z","actor":"alice","role":"notifier",
//    "action":"identity.reveal","subject":"sub-1a2b...","reason":"warning for case 12",
//    "detail":{...},"prev":"<hash of seq 6>","hash":"<64 hex>"}
// hash = SHA-256 of the line's bytes with the hash member removed, i.e. of
// `{"seq":...,"prev":"..."}`; prev = the hash of the entry before (64 zeros
// for seq 1); seq counts 1, 2, 3 ... so entry n is on line n. A sidecar file
// `<log>.head` holds {"seq":N,"hash":"..."} of the last entry and is replaced
// atomically after each append, so that cutting entries off the end shows.
//
// Appends from any number of processes are serialised with flock() on the
// log; each entry is one write() on an O_APPEND descriptor followed by fsync.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"

namespace omamori::privacy {

// Actions recorded (free-form strings; these are the ones omamori writes):
inline constexpr std::string_view kActionIdentityReveal = "identity.reveal";
inline constexpr std::string_view kActionExport = "export";
inline constexpr std::string_view kActionWarningSend = "warning.send";
inline constexpr std::string_view kActionLogin = "login";
inline constexpr std::string_view kActionConfigChange = "config.change";
inline constexpr std::string_view kActionAccessDenied = "access.denied";
inline constexpr std::string_view kActionRetentionPurge = "retention.purge";

struct AuditEvent {
  std::string actor;
  std::string role;
  std::string action;
  std::string subject;
  std::string reason;
  nlohmann::json detail;  // null when there is nothing more to say
};

// An entry as read back.
struct AuditEntry {
  uint64_t seq = 0;
  std::string time;  // RFC 3339 UTC
  AuditEvent event;
  std::string prev;
  std::string hash;
};

// Thrown when the log cannot be appended to (I/O error, or a damaged tail or
// head that must be looked at with `omamori audit verify` first: the log
// refuses to extend a chain it cannot vouch for).
struct AuditError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class AuditLog {
 public:
  // The file (and its directory, mode 0700) is created on the first append.
  explicit AuditLog(std::string path);

  // Appends the event; returns its seq. Throws AuditError; throws
  // std::invalid_argument for an event without action or with a detail
  // larger than kMaxDetailBytes when serialised.
  uint64_t append(const AuditEvent& e);

  const std::string& path() const { return path_; }
  static std::string head_path(const std::string& log) { return log + ".head"; }
  static constexpr size_t kMaxDetailBytes = 64 * 1024;

 private:
  std::string path_;
};

struct VerifyResult {
  bool ok = false;
  uint64_t entries = 0;    // entries that verified before the first problem (all of them when ok)
  uint64_t bad_seq = 0;    // the entry named by the problem (0 when ok)
  size_t bad_line = 0;     // 1-based line of the problem (0 when ok or not tied to a line)
  std::string problem;     // what is wrong, e.g. "altered: ...", "removed: ...", "truncated: ..."
  std::string last_hash;   // hash of the last entry (when ok)
  std::string note;        // remarks that are not tampering (e.g. head one entry behind after a crash)
};

// Verifies the whole chain and the head file. Problems found, first one wins:
// malformed (not JSON, missing/misplaced members, unterminated last line),
// altered (hash does not match the line), removed (seq gap), reordered (a
// later seq earlier), duplicate/inserted (a seq repeated), chain broken (prev
// does not match), truncated (head records more entries than the log has),
// head mismatch (last entry differs from the head), head missing.
VerifyResult verify_audit(const std::string& path);

// The same, and each anchor (a seq and hash written down elsewhere earlier,
// e.g. from `omamori audit head`) must still match its entry: this shows a
// rewrite of the whole chain by someone able to write log and head file.
struct AuditHead;
VerifyResult verify_audit(const std::string& path, const std::vector<AuditHead>& anchors);

// Checks one line on its own (JSON, members and their order and types, the
// hash); on success fills `entry` and returns "", else returns the problem
// ("malformed: ..." or "altered: ..."). The chain (seq, prev) is the caller's.
// (The line parser of verify_audit; exposed for the fuzz target.)
std::string check_audit_line(std::string_view line, AuditEntry& entry);

// Parses a line without checking the chain; nullopt when malformed.
std::optional<AuditEntry> parse_audit_line(std::string_view line);

// Calls fn for every well-formed entry in file order; returns false when the
// file cannot be read. Malformed lines are skipped and counted in *skipped.
bool read_audit(const std::string& path, const std::function<void(const AuditEntry&)>& fn,
                uint64_t* skipped = nullptr);

// The head file's contents, when present and well-formed.
struct AuditHead {
  uint64_t seq = 0;
  std::string hash;
};
std::optional<AuditHead> read_audit_head(const std::string& log_path, std::string* error = nullptr);

// SHA-256 of data as 64 lower-case hex digits.
std::string sha256_hex(std::string_view data);

}  // namespace omamori::privacy
