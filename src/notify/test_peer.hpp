// Test helpers for the notify tests: a peer program (the aiosmtpd SMTP sink)
// started as a child whose first stdout line is its port; it stops when its
// stdin is closed (and is killed and reaped in any case).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace omamori::notify::test {

class Peer {
 public:
  explicit Peer(const std::vector<std::string>& argv) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    std::string line;
    char c;
    pollfd p{out[0], POLLIN, 0};
    while (::poll(&p, 1, 60000) > 0 && ::read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    if (line.empty()) {
      stop();
      throw std::runtime_error("peer did not start: " + argv[0] + " " + (argv.size() > 1 ? argv[1] : ""));
    }
    port_ = std::stoi(line);
  }
  ~Peer() { stop(); }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  int port() const { return port_; }

  void stop() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st;
      ::waitpid(pid_, &st, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int port_ = 0;
};

// A loopback port that nothing listens on (bound, then closed).
inline int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The .eml files in dir, waiting (up to a minute) until there are n.
inline std::vector<std::filesystem::path> wait_for_mail(const std::filesystem::path& dir, size_t n) {
  std::vector<std::filesystem::path> out;
  for (int i = 0; i < 600; ++i) {
    out.clear();
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().extension() == ".eml") out.push_back(e.path());
    if (out.size() >= n) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::filesystem::path unique_dir(const std::string& prefix) {
  namespace fs = std::filesystem;
  static int counter = 0;
  fs::path d = fs::temp_directory_path() / (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace omamori::notify::test
