#include "ingest/dns/dnstap_listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace omamori {

struct DnstapListener::Conn final : FrameHandler {
  enum class St { Initial, Ready, Started, Stopped };
  DnstapListener* l = nullptr;
  DnsSink* sink = nullptr;
  int fd = -1;
  std::vector<uint8_t> in;
  size_t have = 0;
  St st = St::Initial;
  bool bidirectional = false;
  bool close = false;

  ~Conn() override {
    if (fd >= 0) ::close(fd);
  }

  bool send_control(uint32_t type, std::string_view ct) {
    uint8_t buf[64];
    size_t n = encode_control_frame(type, ct, buf, sizeof buf);
    ssize_t w = ::send(fd, buf, n, MSG_NOSIGNAL);
    if (w != static_cast<ssize_t>(n)) {
      // Some senders (Unbound) close right after STOP without waiting for FINISH:
      // nothing is lost then. A failed ACCEPT is a real failure.
      if (type != fstrm_proto::kFinish) l->errors_.add("frame streams reply could not be sent");
      close = true;
      return false;
    }
    return true;
  }

  void on_data(const uint8_t* p, size_t n) override {
    if (close) return;
    if (st != St::Started) {
      l->errors_.add("frame streams data frame before START");
      close = true;
      return;
    }
    l->frames_.fetch_add(1, std::memory_order_relaxed);
    if (l->decoder_.decode(p, n, *sink)) l->events_.fetch_add(1, std::memory_order_relaxed);
  }

  void on_control(uint32_t type, const std::string_view* cts, size_t n) override {
    if (close) return;
    auto has_dnstap = [&] {
      if (n == 0) return true;  // no content type named: accept (fstrm does the same)
      for (size_t i = 0; i < n; ++i)
        if (cts[i] == fstrm_proto::kDnstapContentType) return true;
      return false;
    };
    switch (type) {
      case fstrm_proto::kReady:
        if (st != St::Initial) {
          l->errors_.add("frame streams unexpected READY");
          close = true;
          return;
        }
        bidirectional = true;
        if (!has_dnstap()) {
          l->errors_.add("frame streams content type not dnstap");
          send_control(fstrm_proto::kAccept, {});  // accepting none of the offered types
          close = true;
          return;
        }
        send_control(fstrm_proto::kAccept, fstrm_proto::kDnstapContentType);
        st = St::Ready;
        return;
      case fstrm_proto::kStart:
        if (st != St::Initial && st != St::Ready) {
          l->errors_.add("frame streams unexpected START");
          close = true;
          return;
        }
        if (!has_dnstap()) {
          l->errors_.add("frame streams content type not dnstap");
          close = true;
          return;
        }
        st = St::Started;
        return;
      case fstrm_proto::kStop:
        if (bidirectional) send_control(fstrm_proto::kFinish, {});
        st = St::Stopped;
        l->finished_.fetch_add(1, std::memory_order_relaxed);
        close = true;
        return;
      default:
        l->errors_.add("frame streams unexpected control frame");
        close = true;
        return;
    }
  }
};

bool DnstapListener::setup_wake(std::string& err) {
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    err = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  return true;
}

std::unique_ptr<DnstapListener> DnstapListener::unix_socket(const std::string& path, std::string& err,
                                                            DnstapListenerOptions opt) {
  std::unique_ptr<DnstapListener> l(new DnstapListener(opt));
  if (!l->setup_wake(err)) return nullptr;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof sa.sun_path) {
    err = "unix socket path empty or too long: " + path;
    return nullptr;
  }
  std::memcpy(sa.sun_path, path.data(), path.size());
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      err = path + ": exists and is not a socket";
      return nullptr;
    }
    ::unlink(path.c_str());  // stale socket of an earlier run
  }
  l->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (l->listen_fd_ < 0 || ::bind(l->listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(l->listen_fd_, 64) != 0) {
    err = path + ": " + std::strerror(errno);
    return nullptr;
  }
  if (opt.socket_mode >= 0 && ::chmod(path.c_str(), static_cast<mode_t>(opt.socket_mode)) != 0) {
    err = path + ": chmod: " + std::strerror(errno);
    return nullptr;
  }
  l->is_unix_ = true;
  l->path_ = path;
  return l;
}

std::unique_ptr<DnstapListener> DnstapListener::tcp(const std::string& addr_port, std::string& err,
                                                    DnstapListenerOptions opt) {
  std::unique_ptr<DnstapListener> l(new DnstapListener(opt));
  if (!l->setup_wake(err)) return nullptr;
  auto colon = addr_port.rfind(':');
  if (colon == std::string::npos) {
    err = "expected ADDR:PORT, got " + addr_port;
    return nullptr;
  }
  std::string host = addr_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto ps = std::string_view(addr_port).substr(colon + 1);
  auto [pe, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  auto ip = IpAddr::parse(host);
  if (ec != std::errc() || pe != ps.data() + ps.size() || port > 65535 || !ip) {
    err = "expected ADDR:PORT, got " + addr_port;
    return nullptr;
  }
  sockaddr_storage ss{};
  socklen_t sl;
  int family;
  if (ip->is_v4()) {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&s4->sin_addr, ip->bytes() + 12, 4);
    sl = sizeof *s4;
    family = AF_INET;
  } else {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&s6->sin6_addr, ip->bytes(), 16);
    sl = sizeof *s6;
    family = AF_INET6;
  }
  l->listen_fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  if (l->listen_fd_ >= 0) ::setsockopt(l->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (l->listen_fd_ < 0 || ::bind(l->listen_fd_, reinterpret_cast<sockaddr*>(&ss), sl) != 0 ||
      ::listen(l->listen_fd_, 64) != 0) {
    err = addr_port + ": " + std::strerror(errno);
    return nullptr;
  }
  sockaddr_storage bound{};
  socklen_t bl = sizeof bound;
  ::getsockname(l->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &bl);
  l->port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                     : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  return l;
}

DnstapListener::DnstapListener(DnstapListenerOptions opt) : opt_(opt) {}

DnstapListener::~DnstapListener() {
  conns_.clear();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (is_unix_ && !path_.empty()) ::unlink(path_.c_str());
  for (int fd : wake_)
    if (fd >= 0) ::close(fd);
}

void DnstapListener::stop() {
  stopping_.store(true);
  if (wake_[1] >= 0) {
    char c = 1;
    [[maybe_unused]] ssize_t w = ::write(wake_[1], &c, 1);
  }
}

void DnstapListener::accept_all() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (conns_.size() >= opt_.max_connections) {
      errors_.add("too many dnstap connections");
      ::close(fd);
      continue;
    }
    auto c = std::make_unique<Conn>();
    c->l = this;
    c->fd = fd;
    c->in.resize(64 * 1024);
    conns_.push_back(std::move(c));
    connections_.fetch_add(1, std::memory_order_relaxed);
  }
}

bool DnstapListener::on_readable(Conn& c, DnsSink& sink) {
  c.sink = &sink;
  for (int round = 0; round < 16; ++round) {
    if (c.have == c.in.size()) {
      size_t limit = opt_.max_frame + 8;
      if (c.in.size() >= limit) {
        errors_.add("frame streams data frame too large");
        return false;
      }
      c.in.resize(std::min(limit, c.in.size() * 2));
    }
    ssize_t r = ::read(c.fd, c.in.data() + c.have, c.in.size() - c.have);
    if (r == 0) {
      if (c.have > 0) errors_.add("frame streams connection closed inside a frame");
      return false;
    }
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (errno == EINTR) continue;
      errors_.add("frame streams read error");
      return false;
    }
    c.have += static_cast<size_t>(r);
    const char* err = nullptr;
    size_t used = parse_frames(c.in.data(), c.have, opt_.max_frame, c, err);
    if (err) {
      errors_.add(err);
      return false;
    }
    if (used > 0) {
      std::memmove(c.in.data(), c.in.data() + used, c.have - used);
      c.have -= used;
    }
    if (c.close) return false;
  }
  return true;
}

void DnstapListener::run(DnsSink& sink) {
  std::vector<pollfd> pfds;
  while (!stopping_.load()) {
    pfds.clear();
    pfds.push_back({wake_[0], POLLIN, 0});
    pfds.push_back({listen_fd_, POLLIN, 0});
    for (auto& c : conns_) pfds.push_back({c->fd, POLLIN, 0});
    int n = ::poll(pfds.data(), pfds.size(), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      errors_.add("poll failed");
      break;
    }
    if (pfds[0].revents) {
      char buf[64];
      while (::read(wake_[0], buf, sizeof buf) > 0) {
      }
      if (stopping_.load()) break;
    }
    // Connections first (their indices match pfds), then new ones.
    std::vector<size_t> dead;
    for (size_t i = 0; i < conns_.size(); ++i) {
      if (pfds[2 + i].revents == 0) continue;
      if (!on_readable(*conns_[i], sink)) dead.push_back(i);
    }
    for (auto it = dead.rbegin(); it != dead.rend(); ++it) conns_.erase(conns_.begin() + static_cast<ptrdiff_t>(*it));
    if (pfds[1].revents & POLLIN) accept_all();
  }
  conns_.clear();
}

}  // namespace omamori
