#include "attribution/accounting_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "attribution/readers.hpp"
#include "ingest/collector/collector.hpp"  // ListenAddress

namespace omamori {

// ---------------------------------------------------------------- NAS secrets

std::optional<NasClient> parse_nas_client(std::string_view s, char sep, std::string& err) {
  s = reader_detail::trim(s);
  size_t p = s.find(sep);
  if (p == std::string_view::npos) {
    err = fmt::format("NAS '{}': expected ADDRESS{}SECRET", s.substr(0, s.find_first_of(" =")), sep);
    return std::nullopt;
  }
  std::string_view addr = reader_detail::trim(s.substr(0, p));
  std::string_view secret = reader_detail::trim(s.substr(p + 1));
  auto net = Prefix::parse(addr);
  if (!net) {
    err = fmt::format("NAS '{}': bad address or network", addr);
    return std::nullopt;
  }
  if (secret.empty()) {
    err = fmt::format("NAS {}: empty shared secret", addr);
    return std::nullopt;
  }
  return NasClient{*net, std::string(secret)};
}

std::vector<NasClient> read_nas_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error(fmt::format("NAS file {}: {}", path, std::strerror(errno)));
  if (st.st_mode & 077)
    throw std::runtime_error(
        fmt::format("NAS file {} holds shared secrets but is accessible to group or others (mode {:o}); chmod 600 it",
                    path, st.st_mode & 0777));
  std::ifstream in(path);
  std::vector<NasClient> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::string_view l = reader_detail::trim(line);
    if (l.empty() || l.front() == '#') continue;
    std::string err;
    // "address secret": the first run of blanks separates them.
    size_t sp = l.find_first_of(" \t");
    std::string norm = sp == std::string_view::npos ? std::string(l) : std::string(l.substr(0, sp)) + " " +
                                                                           std::string(reader_detail::trim(l.substr(sp)));
    auto c = parse_nas_client(norm, ' ', err);
    if (!c) throw std::runtime_error(fmt::format("NAS file {} line {}: {}", path, n, err));
    out.push_back(*c);
  }
  return out;
}

// ---------------------------------------------------------------- server

AccountingServer::AccountingServer(RadiusServerConfig cfg, SessionStore& store)
    : cfg_(std::move(cfg)), store_(store) {}

AccountingServer::~AccountingServer() {
  for (int fd : fds_) ::close(fd);
}

bool AccountingServer::open(std::string& err) {
  for (const auto& s : cfg_.listen) {
    auto a = ListenAddress::parse(s, err);
    if (!a) return false;
    bool v6 = a->v6;
    int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 && a->any && errno == EAFNOSUPPORT) {
      v6 = false;
      fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    }
    if (fd < 0) {
      err = fmt::format("listen {}: socket: {}", s, std::strerror(errno));
      return false;
    }
    fds_.push_back(fd);
    if (v6) {
      int v6only = a->any ? 0 : 1;
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
      auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons(a->port);
      if (!a->any) std::memcpy(&s6->sin6_addr, a->addr.bytes(), 16);
      len = sizeof(sockaddr_in6);
    } else {
      auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
      s4->sin_family = AF_INET;
      s4->sin_port = htons(a->port);
      s4->sin_addr.s_addr = a->any ? htonl(INADDR_ANY) : htonl(a->addr.v4_host_order());
      len = sizeof(sockaddr_in);
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      err = fmt::format("listen {}: bind: {}", s, std::strerror(errno));
      return false;
    }
    sockaddr_storage b{};
    socklen_t bl = sizeof b;
    getsockname(fd, reinterpret_cast<sockaddr*>(&b), &bl);
    ports_.push_back(ntohs(b.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&b)->sin_port
                                                  : reinterpret_cast<sockaddr_in6*>(&b)->sin6_port));
  }
  return true;
}

std::vector<uint16_t> AccountingServer::ports() const { return ports_; }

const NasClient* AccountingServer::find_client(const IpAddr& src) const {
  const NasClient* best = nullptr;
  for (const auto& c : cfg_.clients)
    if (c.net.contains(src) && (!best || c.net.len128() > best->net.len128())) best = &c;
  return best;
}

void AccountingServer::reject(const IpAddr& src, const char* reason) {
  errors_.add(src, reason);
  if (log_limit_.allow()) spdlog::warn("radius: dropped request from={} reason=\"{}\"", src.str(), reason);
}

void AccountingServer::expire(TimeMs now) {
  while (!dedup_order_.empty() && (dedup_order_.front().first <= now || dedup_order_.size() > cfg_.dedup_max)) {
    auto it = dedup_.find(dedup_order_.front().second);
    if (it != dedup_.end() && it->second == dedup_order_.front().first) dedup_.erase(it);
    dedup_order_.pop_front();
  }
}

void AccountingServer::forget(const DedupKey& k) { dedup_.erase(k); }

bool AccountingServer::accept(std::span<const uint8_t> dgram, const IpAddr& src, uint16_t port, TimeMs now,
                              AcctEvent& e, bool& apply, uint8_t response[20]) {
  apply = false;
  ++counts_.received;
  const NasClient* nas = find_client(src);
  if (!nas) {
    reject(src, "unknown NAS");
    return false;
  }
  if (const char* why = radius::decode(dgram, req_)) {
    reject(src, why);
    return false;
  }
  if (!radius::verify_request(dgram.first(req_.length), nas->secret, md5_)) {
    reject(src, "bad authenticator (wrong shared secret?)");
    return false;
  }
  radius::encode_response(req_.id, req_.authenticator.data(), nas->secret, md5_, response);
  DedupKey key{src, port, req_.id, req_.authenticator};
  auto [it, fresh] = dedup_.try_emplace(key, now + cfg_.dedup_window_ms);
  if (!fresh) {
    ++counts_.duplicates;
    return true;  // answered again, not applied again
  }
  dedup_order_.emplace_back(it->second, key);

  using namespace radius;
  switch (req_.status) {
    case kStart: e.kind = AcctKind::kStart; break;
    case kStop: e.kind = AcctKind::kStop; break;
    case kInterimUpdate: e.kind = AcctKind::kInterim; break;
    case kAccountingOn: e.kind = AcctKind::kNasOn; break;
    case kAccountingOff: e.kind = AcctKind::kNasOff; break;
    default:
      forget(key);
      reject(src, req_.status == 0 ? "no Acct-Status-Type" : "unsupported Acct-Status-Type");
      return false;
  }
  bool per_session = e.kind != AcctKind::kNasOn && e.kind != AcctKind::kNasOff;
  if (per_session && req_.session_id.empty()) {
    forget(key);
    reject(src, "no Acct-Session-Id");
    return false;
  }
  e.time = req_.event_timestamp ? static_cast<TimeMs>(*req_.event_timestamp) * 1000
                                : now - static_cast<TimeMs>(req_.delay_time) * 1000;
  e.nas = req_.nas_ip.empty() ? src : req_.nas_ip;
  e.subscriber.assign(cfg_.subscriber == SubscriberAttr::kClass ? req_.class_attr : req_.user_name);
  e.session_id.assign(req_.session_id);
  e.calling_station.assign(req_.calling_station);
  e.class_attr.assign(req_.class_attr);
  e.framed_ip = req_.framed_ip;
  e.framed_v6 = req_.framed_v6;
  e.delegated = req_.delegated;
  e.session_time_s = req_.session_time ? static_cast<int64_t>(*req_.session_time) : -1;
  e.interim_ms = static_cast<int64_t>(req_.interim_interval) * 1000;
  apply = true;
  return true;
}

namespace {

IpAddr sockaddr_ip(const sockaddr_storage& ss, uint16_t& port) {
  if (ss.ss_family == AF_INET) {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
    port = ntohs(s4->sin_port);
    return IpAddr::v4_bytes(reinterpret_cast<const uint8_t*>(&s4->sin_addr));
  }
  const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  port = ntohs(s6->sin6_port);
  return IpAddr::v6_bytes(reinterpret_cast<const uint8_t*>(&s6->sin6_addr));
}

struct Pending {
  int fd;
  sockaddr_storage peer;
  socklen_t peer_len;
  uint8_t response[20];
  bool apply;
  size_t event;  // index into the batch's events when apply
};

}  // namespace

void AccountingServer::run(std::FILE* stats_out) {
  std::vector<pollfd> pfds;
  for (int fd : fds_) pfds.push_back({fd, POLLIN, 0});
  std::vector<Pending> pending(cfg_.batch);
  std::vector<AcctEvent> events(cfg_.batch);
  std::vector<uint8_t> buf(65536);
  while (!stop_.load()) {
    if (stats_.exchange(false) && stats_out) std::fputs(format_stats().c_str(), stats_out), std::fflush(stats_out);
    int r = ::poll(pfds.data(), pfds.size(), 200);
    if (r < 0 && errno != EINTR) {
      spdlog::error("radius: poll: {}", std::strerror(errno));
      break;
    }
    TimeMs now = now_ms();
    expire(now);
    if (r <= 0) continue;
    size_t np = 0, ne = 0;
    // Drain every socket, up to one batch.
    for (bool more = true; more && np < cfg_.batch;) {
      more = false;
      for (int fd : fds_) {
        if (np >= cfg_.batch) break;
        Pending& p = pending[np];
        p.peer_len = sizeof p.peer;
        ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&p.peer), &p.peer_len);
        if (n < 0) continue;
        more = true;
        uint16_t port = 0;
        IpAddr src = sockaddr_ip(p.peer, port);
        p.fd = fd;
        if (!accept(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)), src, port, now, events[ne], p.apply,
                    p.response))
          continue;
        if (p.apply) p.event = ne++;
        ++np;
      }
    }
    if (np == 0) continue;
    // Store first, answer after (RFC 2866 section 2).
    bool stored = true;
    if (ne > 0) {
      try {
        store_.begin();
        for (size_t i = 0; i < ne; ++i) results_.add(store_.apply(events[i]));
        store_.commit();
      } catch (const std::exception& ex) {
        stored = false;
        try {
          store_.rollback();
        } catch (...) {
        }
        counts_.store_failures += ne;
        spdlog::error("radius: could not store {} accounting request(s), not answering them: {}", ne, ex.what());
      }
    }
    for (size_t i = 0; i < np; ++i) {
      Pending& p = pending[i];
      if (p.apply && !stored) continue;  // unanswered: the NAS retransmits
      if (p.apply) {
        ++counts_.applied;
        uint32_t st = 0;
        switch (events[p.event].kind) {
          case AcctKind::kStart: st = 1; break;
          case AcctKind::kStop: st = 2; break;
          case AcctKind::kInterim: st = 3; break;
          case AcctKind::kNasOn: st = 7; break;
          case AcctKind::kNasOff: st = 8; break;
        }
        ++counts_.by_status[st];
      }
      if (::sendto(p.fd, p.response, 20, 0, reinterpret_cast<sockaddr*>(&p.peer), p.peer_len) == 20)
        ++counts_.answered;
    }
    if (!stored) {
      // Forget the remembered requests so that this batch's retransmissions
      // are applied (applying an earlier one again changes nothing).
      dedup_.clear();
      dedup_order_.clear();
    }
  }
  if (stats_out) std::fputs(format_stats().c_str(), stats_out), std::fflush(stats_out);
}

std::string AccountingServer::format_stats() const {
  const Counts& c = counts_;
  std::string s = fmt::format(
      "radius: received={} answered={} applied={} duplicates={} rejected={} store_failures={} start={} interim={} "
      "stop={} accounting_on={} accounting_off={}\n",
      c.received, c.answered, c.applied, c.duplicates, errors_.total(), c.store_failures, c.by_status[1],
      c.by_status[3], c.by_status[2], c.by_status[7], c.by_status[8]);
  for (const auto& row : errors_.snapshot(true))
    s += fmt::format("radius: rejected reason=\"{}\" nas={} count={}\n", row.reason, row.source, row.count);
  for (const auto& row : results_.snapshot(false))
    s += fmt::format("radius: stored result=\"{}\" count={}\n", row.reason, row.count);
  return s;
}

}  // namespace omamori
