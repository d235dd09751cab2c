// Configuration changes in the audit log.
//
// omamori's configuration is files an administrator edits: the -c config file
// and the roles file. Whoever edits them, the audit log must show that the
// configuration changed. Every command that checks access (privacy::authorize)
// first compares the SHA-256 of those files with what it saw last (kept in
// <state-dir>/config.seen) and appends one "config.change" entry per file
// that is new, changed or gone: the file, its old and new hash, size, owner
// and modification time, and who ran the command that noticed.
#pragma once

#include <string>
#include <vector>

namespace omamori::privacy {

struct ConfigChange {
  std::string file;
  std::string before, after;  // SHA-256 hex; "" = absent (first seen / removed)
};

// Checks `files` (empty paths ignored) against <state_dir>/config.seen,
// records every change there and, as "config.change", in the audit log
// `audit_log`; returns the changes. Does nothing (returns {}) when the state
// directory does not exist. Safe for concurrent processes (flock). Throws
// std::runtime_error when the state or the audit log cannot be written.
std::vector<ConfigChange> note_config_changes(const std::string& state_dir, const std::string& audit_log,
                                              const std::vector<std::string>& files, const std::string& noticed_by);

}  // namespace omamori::privacy
