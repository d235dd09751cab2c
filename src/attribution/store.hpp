// The persisted session state: STATE_DIR/sessions.db (SQLite, WAL).
//
// One row per session and per CGNAT port block. The accounting server and
// `radius import` apply events to it (Start inserts, Interim-Update and Stop
// update, Accounting-On/Off close every open session of the NAS); the WAL is
// the journal and the tables are the compact snapshot. Readers (`who`, the
// pipeline) load it into a SessionIndex; several processes may read while
// one writes. Applying an event twice leaves the same state (retransmissions
// that slip past the server's duplicate cache, re-imported files).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "attribution/session.hpp"
#include "attribution/session_index.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace omamori {

class SessionStore {
 public:
  // Opens (read_only: without creating) the database at path.
  // Throws std::runtime_error with a clear message on failure.
  SessionStore(const std::string& path, bool read_only = false);
  ~SessionStore();
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // Group commit: callers apply a batch between begin() and commit().
  void begin();
  void commit();
  void rollback();

  // Applies one accounting event; returns what it did, a static string:
  // "start", "start (replaces open session)", "start (late)", "interim", "interim (no open session)",
  // "stop", "stop (no start)", "stop (already closed)", "nas on/off", "duplicate".
  const char* apply(const AcctEvent& e);
  // "alloc", "alloc (replaces open block)", "release", "release (no open block)", "duplicate".
  const char* apply(const PortBlockEvent& e);
  // A whole session (radacct export): inserted, or merged into the row with
  // the same NAS, session id and start. Returns "session" or "session (updated)".
  const char* put(const SessionRow& s);

  // Feeds every session and port block, in row order, to the builder.
  void load(IndexBuilder& b) const;
  std::unique_ptr<SessionIndex> load_index(const IndexPolicy& p) const;

  struct Counts {
    int64_t sessions = 0, open_sessions = 0, port_blocks = 0;
  };
  Counts counts() const;

  // Retention (privacy::RetentionPolicy::sessions_days): deletes sessions
  // that ended before `cutoff`, sessions whose Stop was lost (open, with an
  // interim interval, and silent for three intervals) before it, and port
  // blocks released before it. Open sessions without interim updates stay:
  // they may still be live. Returns the rows deleted, in one transaction.
  uint64_t purge_before(TimeMs cutoff);

  const std::string& path() const { return path_; }

 private:
  struct Stmts;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Stmts> st_;
  std::string path_;
  bool in_tx_ = false;
};

// STATE_DIR resolution: explicit option, else $OMAMORI_STATE_DIR, else /var/lib/omamori.
std::string default_state_dir();

}  // namespace omamori
