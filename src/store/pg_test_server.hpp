// For tests: a real PostgreSQL server, started once per test process.
//
// The cluster is made once per machine by initdb (UTF8, trust auth, no
// fsync) into a template directory under $TMPDIR and copied for each server,
// because initdb is the slow part. Each server runs on a free 127.0.0.1 port
// (listen_addresses = 127.0.0.1 only; its unix socket sits in its own temp
// dir), as user postgres when the test runs as root (postgres refuses root),
// with PR_SET_PDEATHSIG so that it dies with the test process even on a
// crash. Each test gets a fresh database from create_database().
#pragma once

#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/db.hpp"

namespace omamori::test {

class PgTestServer {
 public:
  // The process-wide server, started on first use and stopped at exit.
  static PgTestServer& shared() {
    static PgTestServer s;
    return s;
  }

  // Creates an empty database and returns its URL.
  std::string create_database(const std::string& prefix = "t") {
    static std::atomic<int> n{0};
    std::string name = prefix + "_" + std::to_string(getpid()) + "_" + std::to_string(n++);
    auto db = store::open(url("postgres"));
    db->exec_script("CREATE DATABASE " + name);
    return url(name);
  }

  std::string url(const std::string& dbname) const {
    return "postgresql://omamori@127.0.0.1:" + std::to_string(port_) + "/" + dbname;
  }
  int port() const { return port_; }

  ~PgTestServer() {
    if (pid_ > 0) {
      kill(pid_, SIGINT);  // fast shutdown
      int st;
      waitpid(pid_, &st, 0);
    }
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

 private:
  PgTestServer() {
    bin_ = find_bin();
    root_ = geteuid() == 0;
    if (root_) {
      passwd* pw = getpwnam("postgres");
      if (!pw) throw std::runtime_error("tests run as root but there is no postgres user");
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
    }
    std::string templ = template_cluster();
    char buf[] = "/tmp/omamori-pg-XXXXXX";
    if (!mkdtemp(buf)) throw std::runtime_error("mkdtemp failed");
    dir_ = buf;
    sh("cp -a " + templ + " " + dir_ + "/data");
    own(dir_);
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_port();
      if (start()) return;
    }
    throw std::runtime_error("postgres did not start; log:\n" + read_file(dir_ + "/log"));
  }

  static std::string find_bin() {
    for (const char* v : {"15", "16", "17", "14", "13"}) {
      std::string b = std::string("/usr/lib/postgresql/") + v + "/bin";
      if (std::filesystem::exists(b + "/postgres")) return b;
    }
    throw std::runtime_error("PostgreSQL server binaries not found (apt-get install postgresql)");
  }

  static void sh(const std::string& cmd) {
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("command failed: " + cmd);
  }
  static std::string read_file(const std::string& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  void own(const std::string& p) const {
    if (root_) sh("chown -R " + std::to_string(uid_) + ":" + std::to_string(gid_) + " " + p);
  }
  std::string as_postgres() const { return root_ ? "runuser -u postgres -- " : ""; }

  // initdb once per machine (per server version and user); later runs copy it.
  std::string template_cluster() {
    const char* tmp = std::getenv("TMPDIR");
    std::string base = std::string(tmp && *tmp ? tmp : "/tmp") + "/omamori-pg-template-" +
                       std::filesystem::path(bin_).parent_path().filename().string() + "-" + std::to_string(geteuid());
    std::string data = base + "/data";
    std::filesystem::create_directories(base);
    int fd = ::open((base + ".lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot open template lock");
    flock(fd, LOCK_EX);
    if (!std::filesystem::exists(data + "/PG_VERSION")) {
      std::string work = base + "/work";
      std::error_code ec;
      std::filesystem::remove_all(work, ec);
      std::filesystem::create_directories(work);
      own(base);
      sh(as_postgres() + bin_ + "/initdb -D " + work + " -A trust -U omamori -E UTF8 --locale=C --no-sync >" + base +
         "/initdb.log 2>&1");
      std::filesystem::rename(work, data);
    }
    flock(fd, LOCK_UN);
    ::close(fd);
    return data;
  }

  static int free_port() {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (s < 0 || bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot find a free port");
    close(s);
    return ntohs(a.sin_port);
  }

  bool start() {
    std::vector<std::string> args;
    if (root_) {
      args = {"/usr/bin/setpriv", "--reuid=" + std::to_string(uid_), "--regid=" + std::to_string(gid_),
              "--init-groups", "--pdeathsig=QUIT", "--"};
    }
    for (std::string a : {bin_ + "/postgres", std::string("-D"), dir_ + "/data", std::string("-p"),
                          std::to_string(port_), std::string("-k"), dir_})
      args.push_back(a);
    for (const char* c : {"listen_addresses=127.0.0.1", "fsync=off", "synchronous_commit=off",
                          "full_page_writes=off", "shared_buffers=16MB", "max_connections=40", "max_wal_senders=0",
                          "autovacuum=off"}) {
      args.push_back("-c");
      args.push_back(c);
    }
    std::string log = dir_ + "/log";
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGQUIT);
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    pid_ = pid;
    std::string conninfo = url("postgres");
    for (int i = 0; i < 1200; ++i) {  // up to 60 s on a loaded machine
      int st;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return false;  // exited: port taken, or a real failure (the caller shows the log)
      }
      if (PQping(conninfo.c_str()) == PQPING_OK) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGQUIT);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return false;
  }

  std::string bin_, dir_;
  bool root_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace omamori::test
