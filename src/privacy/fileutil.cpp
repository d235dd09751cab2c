#include "privacy/fileutil.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace omamori::privacy {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw std::runtime_error(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

std::string temp_name(const std::string& path) {
  uint8_t r[8];
  if (RAND_bytes(r, sizeof r) != 1) throw std::runtime_error("OpenSSL RAND_bytes failed");
  std::string s = path + ".tmp.";
  for (uint8_t b : r) s += fmt::format("{:02x}", b);
  return s;
}

}  // namespace

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void make_dirs(const std::string& dir, unsigned mode) {
  if (dir.empty() || dir == "." || dir == "/") return;
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw std::runtime_error(fmt::format("{} is not a directory", dir));
    return;
  }
  make_dirs(dir_of(dir), mode);
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) fail("cannot create directory", dir);
}

bool read_file(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.clear();
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      errno = e;
      return false;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

void replace_file(const std::string& path, const std::string& content, unsigned mode) {
  std::string tmp = temp_name(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) fail("cannot create", tmp);
  if (::fchmod(fd, mode) != 0 || !write_all(fd, content.data(), content.size()) || ::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    errno = e;
    fail("cannot write", tmp);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    errno = e;
    fail("cannot replace", path);
  }
  fsync_dir(dir_of(path));
}

std::vector<uint8_t> read_or_create_secret(const std::string& path, size_t create_bytes, const char* what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    make_dirs(dir_of(path), 0700);
    // Write a complete temp file, then link it into place: a concurrent
    // creator either wins (we read its key) or loses (it reads ours).
    std::vector<uint8_t> key(create_bytes);
    if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
      throw std::runtime_error("OpenSSL RAND_bytes failed");
    std::string tmp = temp_name(path);
    int t = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (t < 0) fail(fmt::format("cannot create {}", what), tmp);
    bool ok = write_all(t, reinterpret_cast<const char*>(key.data()), key.size()) && ::fsync(t) == 0;
    ::close(t);
    if (!ok || (::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST)) {
      int e = errno;
      ::unlink(tmp.c_str());
      errno = e;
      fail(fmt::format("cannot create {}", what), path);
    }
    ::unlink(tmp.c_str());
    fsync_dir(dir_of(path));
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) fail(fmt::format("cannot read {}", what), path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail(fmt::format("cannot stat {}", what), path);
  }
  if (st.st_mode & S_IRWXO) {
    ::close(fd);
    throw std::runtime_error(fmt::format("{} {} is accessible by others (mode {:o}); chmod 600 it", what, path,
                                         st.st_mode & 07777));
  }
  std::vector<uint8_t> key;
  uint8_t buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      fail(fmt::format("cannot read {}", what), path);
    }
    if (n == 0) break;
    key.insert(key.end(), buf, buf + n);
    if (key.size() > 1 << 16) {
      ::close(fd);
      throw std::runtime_error(fmt::format("{} {} is too large to be a key", what, path));
    }
  }
  ::close(fd);
  return key;
}

}  // namespace omamori::privacy
