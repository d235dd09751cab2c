#include "privacy/audit.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "privacy/fileutil.hpp"

namespace omamori::privacy {

namespace {

using ojson = nlohmann::ordered_json;

const std::string kGenesis(64, '0');
constexpr std::string_view kHashMember = ",\"hash\":\"";
constexpr size_t kHashSuffix = kHashMember.size() + 64 + 2;  // ,"hash":"<64 hex>"}
constexpr size_t kMaxLine = 1 << 20;
constexpr const char* kMembers[] = {"seq",     "time",   "actor",  "role", "action",
                                    "subject", "reason", "detail", "prev", "hash"};

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string problem_at(const char* what, const std::string& detail) { return fmt::format("{}: {}", what, detail); }

// The n-th line (1-based) of the file, or nullopt.
std::optional<std::string> line_at(const std::string& path, uint64_t n) {
  std::ifstream f(path, std::ios::binary);
  std::string line;
  for (uint64_t i = 1; std::getline(f, line); ++i)
    if (i == n) return line;
  return std::nullopt;
}

// The seq a line claims, read from its start ({"seq":N,...); 0 when none.
uint64_t claimed_seq(std::string_view line) {
  constexpr std::string_view kStart = "{\"seq\":";
  if (line.substr(0, kStart.size()) != kStart) return 0;
  uint64_t v = 0;
  for (size_t i = kStart.size(); i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) {
    if (v > (UINT64_MAX - 9) / 10) return 0;
    v = v * 10 + static_cast<uint64_t>(line[i] - '0');
  }
  return v;
}

// The first line at or after `from` whose seq is `seq`; 0 when none.
uint64_t find_seq(const std::string& path, uint64_t seq, uint64_t from) {
  std::ifstream f(path, std::ios::binary);
  std::string line;
  for (uint64_t i = 1; std::getline(f, line); ++i)
    if (i >= from && claimed_seq(line) == seq) return i;
  return 0;
}

// The last line of the open log (without its newline); "" for an empty file.
std::string last_line(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) throw AuditError(fmt::format("cannot stat {}: {}", path, std::strerror(errno)));
  const auto size = static_cast<size_t>(st.st_size);
  if (size == 0) return {};
  std::string buf;
  for (size_t want = std::min<size_t>(size, 4096);; want = std::min(size, want * 4)) {
    buf.resize(want);
    size_t got = 0;
    while (got < want) {
      ssize_t n = ::pread(fd, buf.data() + got, want - got, static_cast<off_t>(size - want + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw AuditError(fmt::format("cannot read {}: {}", path, n < 0 ? std::strerror(errno) : "short"));
      got += static_cast<size_t>(n);
    }
    if (buf.back() != '\n')
      throw AuditError(fmt::format("audit log {} ends in an unterminated line; run `omamori audit verify`", path));
    size_t nl = want >= 2 ? buf.rfind('\n', want - 2) : std::string::npos;
    if (nl != std::string::npos) return buf.substr(nl + 1, want - nl - 2);
    if (want == size) return buf.substr(0, want - 1);
    if (want >= kMaxLine) throw AuditError(fmt::format("audit log {}: last line longer than {} bytes", path, kMaxLine));
  }
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1 || len != 32)
    throw std::runtime_error("OpenSSL: SHA-256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(64, '0');
  for (unsigned i = 0; i < 32; ++i) {
    s[2 * i] = kHex[md[i] >> 4];
    s[2 * i + 1] = kHex[md[i] & 15];
  }
  return s;
}

std::string check_audit_line(std::string_view line, AuditEntry& e) {
  if (line.empty()) return "malformed: empty line";
  if (line.size() > kMaxLine) return fmt::format("malformed: line longer than {} bytes", kMaxLine);
  if (line.size() < kHashSuffix + 2 || line.substr(line.size() - kHashSuffix, kHashMember.size()) != kHashMember ||
      line.substr(line.size() - 2) != "\"}" || !is_hex64(line.substr(line.size() - 66, 64)))
    return "malformed: the line does not end with the hash member";
  ojson j;
  try {
    j = ojson::parse(line);
  } catch (const nlohmann::json::exception& ex) {
    return problem_at("malformed", fmt::format("not JSON ({})", ex.what()));
  }
  if (!j.is_object()) return "malformed: not a JSON object";
  size_t k = 0;
  for (auto it = j.begin(); it != j.end(); ++it, ++k) {
    if (k >= std::size(kMembers) || it.key() != kMembers[k])
      return fmt::format("malformed: member {} is '{}', expected '{}'", k + 1, it.key(),
                         k < std::size(kMembers) ? kMembers[k] : "(none)");
    if (it.key() == "seq" ? !it->is_number_unsigned() : it.key() != "detail" && !it->is_string())
      return fmt::format("malformed: member '{}' has the wrong type", it.key());
  }
  if (k != std::size(kMembers)) return fmt::format("malformed: {} members, expected {}", k, std::size(kMembers));
  e.seq = j["seq"].get<uint64_t>();
  e.time = j["time"].get<std::string>();
  e.event.actor = j["actor"].get<std::string>();
  e.event.role = j["role"].get<std::string>();
  e.event.action = j["action"].get<std::string>();
  e.event.subject = j["subject"].get<std::string>();
  e.event.reason = j["reason"].get<std::string>();
  e.event.detail = nlohmann::json(j["detail"]);
  e.prev = j["prev"].get<std::string>();
  e.hash = j["hash"].get<std::string>();
  if (e.seq == 0) return "malformed: seq 0";
  if (!is_hex64(e.prev)) return "malformed: prev is not 64 hex digits";
  std::string body(line.substr(0, line.size() - kHashSuffix));
  body += '}';
  if (sha256_hex(body) != e.hash) return "altered: the entry's hash does not match its contents";
  return {};
}

std::optional<AuditEntry> parse_audit_line(std::string_view line) {
  AuditEntry e;
  if (!check_audit_line(line, e).empty()) return std::nullopt;
  return e;
}

std::optional<AuditHead> read_audit_head(const std::string& log_path, std::string* error) {
  if (error) error->clear();
  std::string path = AuditLog::head_path(log_path), text;
  if (!read_file(path, text)) {
    if (errno != ENOENT && error) *error = fmt::format("cannot read {}: {}", path, std::strerror(errno));
    return std::nullopt;
  }
  try {
    auto j = nlohmann::json::parse(text);
    AuditHead h{j.at("seq").get<uint64_t>(), j.at("hash").get<std::string>()};
    if (is_hex64(h.hash)) return h;
  } catch (const nlohmann::json::exception&) {
  }
  if (error) *error = fmt::format("head file {} is malformed", path);
  return std::nullopt;
}

AuditLog::AuditLog(std::string path) : path_(std::move(path)) {}

uint64_t AuditLog::append(const AuditEvent& ev) {
  if (ev.action.empty()) throw std::invalid_argument("audit event without action");
  const auto err = nlohmann::json::error_handler_t::replace;
  if (!ev.detail.is_null() && ev.detail.dump(-1, ' ', false, err).size() > kMaxDetailBytes)
    throw std::invalid_argument(fmt::format("audit event detail larger than {} bytes", kMaxDetailBytes));

  make_dirs(dir_of(path_), 0700);
  int fd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw AuditError(fmt::format("cannot open audit log {}: {}", path_, std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }  // also releases the lock
  } closer{fd};
  while (::flock(fd, LOCK_EX) != 0)
    if (errno != EINTR) throw AuditError(fmt::format("cannot lock {}: {}", path_, std::strerror(errno)));

  // Continue the chain from the last entry, which must agree with the head.
  uint64_t seq = 0;
  std::string prev = kGenesis;
  std::string last = last_line(fd, path_);
  std::string head_err;
  auto head = read_audit_head(path_, &head_err);
  if (!head_err.empty()) throw AuditError(head_err + "; run `omamori audit verify`");
  if (!last.empty()) {
    AuditEntry le;
    std::string problem = check_audit_line(last, le);
    if (!problem.empty())
      throw AuditError(fmt::format("audit log {}: last entry: {}; run `omamori audit verify`", path_, problem));
    bool agrees = head && ((head->seq == le.seq && head->hash == le.hash) ||
                           (head->seq + 1 == le.seq && head->hash == le.prev));
    if (!agrees)
      throw AuditError(fmt::format("audit log {} and its head file disagree (log ends at seq {}, head {}); run "
                                   "`omamori audit verify`",
                                   path_, le.seq, head ? std::to_string(head->seq) : "missing"));
    seq = le.seq;
    prev = le.hash;
  } else if (head && head->seq != 0) {
    throw AuditError(fmt::format("audit log {} is empty but its head records {} entries; run `omamori audit verify`",
                                 path_, head->seq));
  }

  ojson j;
  j["seq"] = seq + 1;
  j["time"] = format_rfc3339(now_ms());
  j["actor"] = ev.actor;
  j["role"] = ev.role;
  j["action"] = ev.action;
  j["subject"] = ev.subject;
  j["reason"] = ev.reason;
  j["detail"] = ojson(ev.detail);
  j["prev"] = prev;
  std::string line = j.dump(-1, ' ', false, err);
  std::string hash = sha256_hex(line);
  line.pop_back();
  line += fmt::format("{}{}\"}}\n", kHashMember, hash);

  ssize_t w;
  do w = ::write(fd, line.data(), line.size());
  while (w < 0 && errno == EINTR);
  if (w != static_cast<ssize_t>(line.size()))
    throw AuditError(fmt::format("cannot append to audit log {}: {}", path_, w < 0 ? std::strerror(errno) : "short write"));
  if (::fsync(fd) != 0) throw AuditError(fmt::format("cannot sync audit log {}: {}", path_, std::strerror(errno)));
  // The head gets the log's mode, so that a group sharing the log shares the head.
  struct stat st;
  unsigned mode = ::fstat(fd, &st) == 0 ? (st.st_mode & 0666) : 0600;
  replace_file(head_path(path_), fmt::format("{{\"seq\":{},\"hash\":\"{}\"}}\n", seq + 1, hash), mode);
  return seq + 1;
}

VerifyResult verify_audit(const std::string& path) {
  VerifyResult r;
  auto fail = [&](uint64_t seq, size_t line, std::string problem) {
    r.ok = false;
    r.bad_seq = seq;
    r.bad_line = line;
    r.problem = std::move(problem);
    return r;
  };
  // A shared lock: appends (exclusive) wait, so log and head are read as one state.
  int lock_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (lock_fd < 0) return fail(0, 0, fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{lock_fd};
  while (::flock(lock_fd, LOCK_SH) != 0 && errno == EINTR) {
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) return fail(0, 0, fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  std::string line, prev = kGenesis, before_prev = kGenesis;
  uint64_t n = 0;
  while (std::getline(f, line)) {
    const uint64_t ln = n + 1;
    if (f.eof()) return fail(ln, ln, "malformed: the last line is not terminated (an interrupted or cut write)");
    AuditEntry e;
    std::string problem = check_audit_line(line, e);
    if (!problem.empty()) return fail(ln, ln, problem);
    if (e.seq < ln) {
      auto first = line_at(path, e.seq);
      if (first && *first == line)
        return fail(e.seq, ln, fmt::format("duplicate: line {} repeats entry seq {} (line {})", ln, e.seq, e.seq));
      // Two entries claim seq s. If the chain goes on from this one (the next
      // line's prev, or the head, is its hash), the earlier one was slipped in.
      auto next = line_at(path, ln + 1);
      auto ne = next ? parse_audit_line(*next) : std::nullopt;
      auto head = next ? std::nullopt : read_audit_head(path);
      if ((ne && ne->prev == e.hash) || (head && head->hash == e.hash))
        return fail(e.seq, e.seq,
                    fmt::format("inserted: line {} (seq {}) is not part of the chain: line {} holds seq {} too and "
                                "the chain continues from it",
                                e.seq, e.seq, ln, e.seq));
      return fail(e.seq, ln,
                  fmt::format("inserted: line {} claims seq {}, which line {} already holds", ln, e.seq, e.seq));
    }
    if (e.seq > ln) {
      if (uint64_t at = find_seq(path, ln, ln + 1))
        return fail(e.seq, ln,
                    fmt::format("reordered: line {} holds seq {}; seq {} is at line {}", ln, e.seq, ln, at));
      return fail(ln, ln,
                  e.seq == ln + 1
                      ? fmt::format("removed: entry seq {} is missing (line {} holds seq {})", ln, ln, e.seq)
                      : fmt::format("removed: entries seq {}-{} are missing (line {} holds seq {})", ln, e.seq - 1,
                                    ln, e.seq));
    }
    if (e.prev != prev)
      return fail(ln, ln,
                  ln == 1 ? std::string("chain broken: the first entry's prev is not the genesis value")
                          : fmt::format("chain broken: prev of seq {} does not match the hash of seq {} (line {}): "
                                        "one of the two was rewritten",
                                        ln, ln - 1, ln - 1));
    before_prev = prev;
    prev = e.hash;
    n = ln;
    r.entries = n;
  }
  if (f.bad()) return fail(n + 1, n + 1, fmt::format("cannot read {}: {}", path, std::strerror(errno)));

  std::string head_err;
  auto head = read_audit_head(path, &head_err);
  if (!head_err.empty()) return fail(n, 0, "head: " + head_err);
  if (!head) {
    if (n == 0) {
      r.ok = true;
      return r;
    }
    return fail(n, 0,
                fmt::format("head missing: {} is gone, so entries cut off the end would not show",
                            AuditLog::head_path(path)));
  }
  if (head->seq > n)
    return fail(n + 1, n + 1,
                fmt::format("truncated: the head records {} entries but the log ends at seq {} (seq {}{} removed)",
                            head->seq, n, n + 1, head->seq > n + 1 ? fmt::format("-{}", head->seq) : ""));
  if (head->seq == n && head->hash != prev)
    return fail(n, n, fmt::format("head mismatch: the last entry (seq {}) is not the one the head records: replaced", n));
  if (head->seq + 1 == n) {
    if (head->hash != before_prev)
      return fail(n - 1, n - 1,
                  fmt::format("head mismatch: entry seq {} is not the one the head records: replaced", n - 1));
    r.note = fmt::format("the head is one entry behind (seq {}): an append was interrupted before the head update",
                         head->seq);
  } else if (head->seq + 1 < n) {
    return fail(head->seq + 1, head->seq + 1,
                fmt::format("appended outside omamori: the head records {} entries, the log has {} (seq {}-{} not "
                            "covered)",
                            head->seq, n, head->seq + 1, n));
  }
  r.ok = true;
  r.last_hash = prev;
  return r;
}

VerifyResult verify_audit(const std::string& path, const std::vector<AuditHead>& anchors) {
  VerifyResult r = verify_audit(path);
  if (!r.ok) return r;
  for (const auto& a : anchors) {
    std::optional<std::string> line = a.seq ? line_at(path, a.seq) : std::nullopt;
    std::optional<AuditEntry> e = line ? parse_audit_line(*line) : std::nullopt;
    if (!e || e->hash != a.hash) {
      r.ok = false;
      r.bad_seq = a.seq;
      r.bad_line = line ? a.seq : 0;
      r.problem = e ? fmt::format("anchor mismatch: entry seq {} is not the one anchored (hash {}): the chain was "
                                  "rewritten",
                                  a.seq, a.hash.substr(0, 16))
                    : fmt::format("anchor mismatch: the anchored entry seq {} is not in the log", a.seq);
      return r;
    }
  }
  return r;
}

bool read_audit(const std::string& path, const std::function<void(const AuditEntry&)>& fn, uint64_t* skipped) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::string line;
  while (std::getline(f, line)) {
    AuditEntry e;
    if (check_audit_line(line, e).empty()) fn(e);
    else if (skipped) ++*skipped;
  }
  return true;
}

}  // namespace omamori::privacy
