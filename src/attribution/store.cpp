#include "attribution/store.hpp"

#include <sqlite3.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace omamori {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES('schema', '1');
CREATE TABLE IF NOT EXISTS sessions(
  id INTEGER PRIMARY KEY,
  nas BLOB NOT NULL,
  session_id TEXT NOT NULL,
  subscriber TEXT NOT NULL,
  calling_station TEXT NOT NULL DEFAULT '',
  class TEXT NOT NULL DEFAULT '',
  framed_ip BLOB,
  framed_v6 BLOB, framed_v6_len INTEGER,
  delegated BLOB, delegated_len INTEGER,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER,
  last_seen_ms INTEGER NOT NULL,
  interim_ms INTEGER NOT NULL DEFAULT 0,
  cause INTEGER NOT NULL DEFAULT 0,
  UNIQUE(nas, session_id, start_ms)
);
CREATE INDEX IF NOT EXISTS sessions_open ON sessions(nas) WHERE end_ms IS NULL;
CREATE TABLE IF NOT EXISTS port_blocks(
  id INTEGER PRIMARY KEY,
  box BLOB NOT NULL,
  outside BLOB NOT NULL,
  port_lo INTEGER NOT NULL,
  port_hi INTEGER NOT NULL,
  inside BLOB NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER,
  UNIQUE(outside, port_lo, port_hi, start_ms)
);
CREATE INDEX IF NOT EXISTS port_blocks_open ON port_blocks(outside, port_lo) WHERE end_ms IS NULL;
)sql";

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("sessions.db: ") + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    return *this;
  }
  Stmt& i64(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& opt_i64(int i, int64_t v) {  // 0 -> NULL
    if (v)
      sqlite3_bind_int64(s_, i, v);
    else
      sqlite3_bind_null(s_, i);
    return *this;
  }
  Stmt& text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& ip(int i, const IpAddr& a) {  // empty -> NULL
    if (a.empty())
      sqlite3_bind_null(s_, i);
    else
      sqlite3_bind_blob(s_, i, a.bytes(), 16, SQLITE_STATIC);
    return *this;
  }
  Stmt& ip_always(int i, const IpAddr& a) {
    sqlite3_bind_blob(s_, i, a.bytes(), 16, SQLITE_STATIC);
    return *this;
  }
  Stmt& prefix(int i, const std::optional<Prefix>& p) {  // binds i (address) and i+1 (length)
    if (!p) {
      sqlite3_bind_null(s_, i);
      sqlite3_bind_null(s_, i + 1);
    } else {
      sqlite3_bind_blob(s_, i, p->addr().bytes(), 16, SQLITE_STATIC);
      sqlite3_bind_int(s_, i + 1, p->len());
    }
    return *this;
  }
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw std::runtime_error(std::string("sessions.db: ") + sqlite3_errmsg(sqlite3_db_handle(s_)));
  }
  void run() {
    while (step()) {
    }
  }
  int64_t col_i64(int c) const { return sqlite3_column_int64(s_, c); }
  bool col_null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  std::string_view col_text(int c) const {
    const char* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, c));
    return p ? std::string_view(p, sqlite3_column_bytes(s_, c)) : std::string_view();
  }
  IpAddr col_ip(int c) const {
    if (sqlite3_column_type(s_, c) != SQLITE_BLOB || sqlite3_column_bytes(s_, c) != 16) return IpAddr();
    return IpAddr::v6_bytes(static_cast<const uint8_t*>(sqlite3_column_blob(s_, c)));
  }
  std::optional<Prefix> col_prefix(int c) const {
    if (col_null(c)) return std::nullopt;
    return Prefix(col_ip(c), static_cast<uint8_t>(col_i64(c + 1)));
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

}  // namespace

struct SessionStore::Stmts {
  explicit Stmts(sqlite3* db)
      : latest(db,
               "SELECT id, start_ms, end_ms FROM sessions WHERE nas=?1 AND session_id=?2 AND start_ms<=?3 "
               "ORDER BY start_ms DESC LIMIT 1"),
        open_any(db,
                 "SELECT id, start_ms FROM sessions WHERE nas=?1 AND session_id=?2 AND end_ms IS NULL "
                 "ORDER BY start_ms DESC LIMIT 1"),
        insert(db,
               "INSERT INTO sessions(nas, session_id, subscriber, calling_station, class, framed_ip, framed_v6, "
               "framed_v6_len, delegated, delegated_len, start_ms, end_ms, last_seen_ms, interim_ms, cause) "
               "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15) "
               "ON CONFLICT(nas, session_id, start_ms) DO UPDATE SET "
               "end_ms=COALESCE(end_ms, excluded.end_ms), last_seen_ms=MAX(last_seen_ms, excluded.last_seen_ms), "
               "cause=CASE WHEN end_ms IS NULL THEN excluded.cause ELSE cause END"),
        update(db,
               "UPDATE sessions SET "
               "subscriber=CASE WHEN ?2<>'' THEN ?2 ELSE subscriber END, "
               "calling_station=CASE WHEN ?3<>'' THEN ?3 ELSE calling_station END, "
               "class=CASE WHEN ?4<>'' THEN ?4 ELSE class END, "
               "framed_ip=COALESCE(?5, framed_ip), framed_v6=COALESCE(?6, framed_v6), "
               "framed_v6_len=COALESCE(?7, framed_v6_len), delegated=COALESCE(?8, delegated), "
               "delegated_len=COALESCE(?9, delegated_len), last_seen_ms=MAX(last_seen_ms, ?10), "
               "interim_ms=CASE WHEN ?11>0 THEN ?11 ELSE interim_ms END, "
               "end_ms=COALESCE(end_ms, ?12), cause=CASE WHEN end_ms IS NULL AND ?12 IS NOT NULL THEN ?13 ELSE cause END "
               "WHERE id=?1"),
        close_nas(db,
                  "UPDATE sessions SET end_ms=?2, cause=?3 WHERE nas=?1 AND end_ms IS NULL AND start_ms<=?2"),
        close(db, "UPDATE sessions SET end_ms=?2, cause=?3 WHERE id=?1"),
        block_open(db,
                   "SELECT id, inside, start_ms FROM port_blocks WHERE outside=?1 AND port_lo=?2 AND port_hi=?3 "
                   "AND end_ms IS NULL ORDER BY start_ms DESC LIMIT 1"),
        block_insert(db,
                     "INSERT OR IGNORE INTO port_blocks(box, outside, port_lo, port_hi, inside, start_ms) "
                     "VALUES(?1,?2,?3,?4,?5,?6)"),
        block_close(db, "UPDATE port_blocks SET end_ms=?2 WHERE id=?1"),
        load_sessions(db,
                      "SELECT id, nas, session_id, subscriber, framed_ip, framed_v6, framed_v6_len, delegated, "
                      "delegated_len, start_ms, end_ms, last_seen_ms, interim_ms FROM sessions ORDER BY id"),
        load_blocks(db,
                    "SELECT id, box, outside, port_lo, port_hi, inside, start_ms, end_ms FROM port_blocks ORDER BY "
                    "id") {}
  Stmt latest, open_any, insert, update, close_nas, close, block_open, block_insert, block_close, load_sessions,
      load_blocks;
};

namespace {

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error("sessions.db: " + m);
  }
}

}  // namespace

SessionStore::SessionStore(const std::string& path, bool read_only) : path_(path) {
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string m = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("cannot open " + path + ": " + m);
  }
  sqlite3_busy_timeout(db_, 10000);
  try {
    if (!read_only) {
      exec(db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
      exec(db_, kSchema);
    }
    st_ = std::make_unique<Stmts>(db_);
  } catch (...) {
    st_.reset();
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

SessionStore::~SessionStore() {
  if (in_tx_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  st_.reset();
  sqlite3_close(db_);
}

void SessionStore::begin() {
  exec(db_, "BEGIN IMMEDIATE");
  in_tx_ = true;
}
void SessionStore::commit() {
  exec(db_, "COMMIT");
  in_tx_ = false;
}
void SessionStore::rollback() {
  exec(db_, "ROLLBACK");
  in_tx_ = false;
}

namespace {

// Binds the attribute columns shared by insert: ?1..?10 except times.
void bind_insert(Stmt& s, const IpAddr& nas, std::string_view sid, std::string_view sub, std::string_view calling,
                 std::string_view cls, const IpAddr& framed, const std::optional<Prefix>& v6,
                 const std::optional<Prefix>& del) {
  s.reset().ip_always(1, nas).text(2, sid).text(3, sub).text(4, calling).text(5, cls).ip(6, framed).prefix(7, v6).prefix(
      9, del);
}

}  // namespace

const char* SessionStore::apply(const AcctEvent& e) {
  Stmts& s = *st_;
  auto insert = [&](TimeMs start, TimeMs end, EndCause cause) {
    bind_insert(s.insert, e.nas, e.session_id, e.subscriber, e.calling_station, e.class_attr, e.framed_ip, e.framed_v6,
                e.delegated);
    s.insert.i64(11, start).opt_i64(12, end).i64(13, e.time).i64(14, e.interim_ms).i64(15, int(cause)).run();
  };
  auto update = [&](int64_t id, TimeMs end, EndCause cause) {
    auto& u = s.update.reset();
    u.i64(1, id).text(2, e.subscriber).text(3, e.calling_station).text(4, e.class_attr).ip(5, e.framed_ip);
    u.prefix(6, e.framed_v6).prefix(8, e.delegated).i64(10, e.time).i64(11, e.interim_ms);
    u.opt_i64(12, end).i64(13, int(cause)).run();
  };
  switch (e.kind) {
    case AcctKind::kNasOn:
    case AcctKind::kNasOff:
      s.close_nas.reset()
          .ip_always(1, e.nas)
          .i64(2, e.time)
          .i64(3, int(e.kind == AcctKind::kNasOn ? EndCause::kNasOn : EndCause::kNasOff))
          .run();
      return "nas on/off";
    case AcctKind::kStart: {
      auto& q = s.open_any.reset().ip_always(1, e.nas).text(2, e.session_id);
      if (q.step()) {
        int64_t id = q.col_i64(0);
        TimeMs open_start = q.col_i64(1);
        q.reset();
        if (open_start == e.time) {
          update(id, 0, EndCause::kOpen);
          return "duplicate";
        }
        if (open_start < e.time) {
          // The NAS reused the session id (its Stop was lost, or it restarted
          // without Accounting-On): the open session ended when this began.
          s.close.reset().i64(1, id).i64(2, e.time).i64(3, int(EndCause::kReplaced)).run();
          insert(e.time, 0, EndCause::kOpen);
          return "start (replaces open session)";
        }
        // A late Start older than the open session with that id.
        insert(e.time, open_start, EndCause::kReplaced);
        return "start (late)";
      }
      auto& l = s.latest.reset().ip_always(1, e.nas).text(2, e.session_id).i64(3, e.time);
      bool same = l.step() && l.col_i64(1) == e.time;
      l.reset();
      if (same) return "duplicate";
      insert(e.time, 0, EndCause::kOpen);
      return "start";
    }
    case AcctKind::kInterim:
    case AcctKind::kStop: {
      bool stop = e.kind == AcctKind::kStop;
      auto& l = s.latest.reset().ip_always(1, e.nas).text(2, e.session_id).i64(3, e.time);
      if (l.step()) {
        int64_t id = l.col_i64(0);
        bool open = l.col_null(2);
        TimeMs end = open ? 0 : l.col_i64(2);
        l.reset();
        if (open) {
          update(id, stop ? e.time : 0, EndCause::kStop);
          return stop ? "stop" : "interim";
        }
        if (end >= e.time) return stop && end == e.time ? "duplicate" : stop ? "stop (already closed)" : "interim (late)";
      } else {
        l.reset();
      }
      // No session holds this id at that time: the Start was lost. Acct-Session-Time says when it began.
      TimeMs start = e.session_time_s >= 0 ? e.time - e.session_time_s * 1000 : e.time;
      insert(start, stop ? e.time : 0, stop ? EndCause::kStop : EndCause::kOpen);
      return stop ? "stop (no start)" : "interim (no open session)";
    }
  }
  return "?";
}

const char* SessionStore::put(const SessionRow& r) {
  Stmts& s = *st_;
  bind_insert(s.insert, r.nas, r.session_id, r.subscriber, r.calling_station, r.class_attr, r.framed_ip, r.framed_v6,
              r.delegated);
  s.insert.i64(11, r.start).opt_i64(12, r.end).i64(13, std::max(r.last_seen, r.start)).i64(14, r.interim_ms);
  s.insert.i64(15, int(r.end ? EndCause::kImported : EndCause::kOpen)).run();
  return sqlite3_changes(db_) > 0 ? "session" : "session (unchanged)";
}

const char* SessionStore::apply(const PortBlockEvent& e) {
  Stmts& s = *st_;
  auto& q = s.block_open.reset().ip_always(1, e.outside).i64(2, e.port_lo).i64(3, e.port_hi);
  bool have = q.step();
  int64_t id = have ? q.col_i64(0) : 0;
  IpAddr inside = have ? q.col_ip(1) : IpAddr();
  TimeMs start = have ? q.col_i64(2) : 0;
  q.reset();
  if (!e.alloc) {
    if (!have || start > e.time) return "release (no open block)";
    s.block_close.reset().i64(1, id).i64(2, e.time).run();
    return "release";
  }
  const char* what = "alloc";
  if (have) {
    if (inside == e.inside) return start == e.time ? "duplicate" : "alloc (already open)";
    if (start <= e.time) {
      // Reallocated to another inside address without a release log: the old block ended now.
      s.block_close.reset().i64(1, id).i64(2, e.time).run();
      what = "alloc (replaces open block)";
    }
  }
  s.block_insert.reset().ip_always(1, e.box).ip_always(2, e.outside).i64(3, e.port_lo).i64(4, e.port_hi);
  s.block_insert.ip_always(5, e.inside).i64(6, e.time).run();
  return sqlite3_changes(db_) > 0 ? what : "duplicate";
}

void SessionStore::load(IndexBuilder& b) const {
  Stmts& s = *st_;
  SessionRow r;
  auto& q = s.load_sessions.reset();
  while (q.step()) {
    r.id = q.col_i64(0);
    r.nas = q.col_ip(1);
    r.session_id.assign(q.col_text(2));
    r.subscriber.assign(q.col_text(3));
    r.framed_ip = q.col_ip(4);
    r.framed_v6 = q.col_prefix(5);
    r.delegated = q.col_prefix(7);
    r.start = q.col_i64(9);
    r.end = q.col_null(10) ? 0 : q.col_i64(10);
    r.last_seen = q.col_i64(11);
    r.interim_ms = q.col_i64(12);
    b.add(r);
  }
  q.reset();
  PortBlockRow pb;
  auto& bq = s.load_blocks.reset();
  while (bq.step()) {
    pb.id = bq.col_i64(0);
    pb.box = bq.col_ip(1);
    pb.outside = bq.col_ip(2);
    pb.port_lo = static_cast<uint16_t>(bq.col_i64(3));
    pb.port_hi = static_cast<uint16_t>(bq.col_i64(4));
    pb.inside = bq.col_ip(5);
    pb.start = bq.col_i64(6);
    pb.end = bq.col_null(7) ? 0 : bq.col_i64(7);
    b.add(pb);
  }
  bq.reset();
}

std::unique_ptr<SessionIndex> SessionStore::load_index(const IndexPolicy& p) const {
  IndexBuilder b(p);
  load(b);
  return b.build();
}

SessionStore::Counts SessionStore::counts() const {
  Counts c;
  Stmt q(db_,
         "SELECT (SELECT COUNT(*) FROM sessions), (SELECT COUNT(*) FROM sessions WHERE end_ms IS NULL), "
         "(SELECT COUNT(*) FROM port_blocks)");
  if (q.step()) {
    c.sessions = q.col_i64(0);
    c.open_sessions = q.col_i64(1);
    c.port_blocks = q.col_i64(2);
  }
  return c;
}

uint64_t SessionStore::purge_before(TimeMs cutoff) {
  begin();
  try {
    Stmt s(db_,
           "DELETE FROM sessions WHERE (end_ms IS NOT NULL AND end_ms < ?1) OR "
           "(end_ms IS NULL AND interim_ms > 0 AND last_seen_ms + 3 * interim_ms < ?1)");
    s.i64(1, cutoff).run();
    auto n = static_cast<uint64_t>(sqlite3_changes(db_));
    Stmt b(db_, "DELETE FROM port_blocks WHERE end_ms IS NOT NULL AND end_ms < ?1");
    b.i64(1, cutoff).run();
    n += static_cast<uint64_t>(sqlite3_changes(db_));
    commit();
    return n;
  } catch (...) {
    rollback();
    throw;
  }
}

std::string default_state_dir() {
  const char* e = std::getenv("OMAMORI_STATE_DIR");
  return e && *e ? e : "/var/lib/omamori";
}

}  // namespace omamori
