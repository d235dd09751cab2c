// Load generator for the UDP collector benchmark: sends pre-encoded NetFlow v9
// or IPFIX datagrams (or NetFlow v5) (one template, then data sets of ~1400 bytes) with
// sendmmsg at a controlled record rate, to a loopback address only.
//
//   udp_sender --dst 127.0.0.1:PORT --format v9|ipfix|v5 --rate RECORDS_PER_S --seconds S
//
// Prints "sent datagrams=N records=M seconds=T records_per_s=R send_errors=E".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench_util.hpp"

namespace {

using bench::put16;
using bench::put32;
using bench::put8;
using bench::set16;
void put64(std::vector<uint8_t>& v, uint64_t x) {
  put32(v, x >> 32);
  put32(v, x);
}
void set32(uint8_t* p, uint32_t x) {
  p[0] = static_cast<uint8_t>(x >> 24);
  p[1] = static_cast<uint8_t>(x >> 16);
  p[2] = static_cast<uint8_t>(x >> 8);
  p[3] = static_cast<uint8_t>(x);
}

struct Field {
  uint16_t type, len;
};

constexpr uint16_t kTemplateId = 300;
constexpr uint32_t kUnixSecs = 1700000000;

// v9: first/last switched as sysUpTime ms (21/22); IPFIX: flowStart/EndMilliseconds (152/153).
std::vector<Field> fields(bool ipfix) {
  std::vector<Field> f = {{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {6, 1}, {2, 4}, {1, 4}};
  if (ipfix) {
    f.push_back({152, 8});
    f.push_back({153, 8});
  } else {
    f.push_back({22, 4});
    f.push_back({21, 4});
  }
  f.insert(f.end(), {{10, 4}, {14, 4}, {16, 4}, {17, 4}});
  return f;
}

size_t record_len(bool ipfix) {
  size_t n = 0;
  for (auto f : fields(ipfix)) n += f.len;
  return n;
}

void header(std::vector<uint8_t>& d, bool ipfix, uint16_t count) {
  if (ipfix) {
    put16(d, 10);
    put16(d, 0);  // length, patched
    put32(d, kUnixSecs);
    put32(d, 0);  // sequence
    put32(d, 1);  // observation domain
  } else {
    put16(d, 9);
    put16(d, count);
    put32(d, 3600000);  // sysUpTime ms
    put32(d, kUnixSecs);
    put32(d, 0);  // sequence
    put32(d, 1);  // source id
  }
}

void finish(std::vector<uint8_t>& d, bool ipfix) {
  if (ipfix) set16(d, 2, static_cast<uint32_t>(d.size()));
}

std::vector<uint8_t> template_datagram(bool ipfix) {
  std::vector<uint8_t> d;
  header(d, ipfix, 1);
  auto fs = fields(ipfix);
  put16(d, ipfix ? 2 : 0);
  put16(d, 4 + 4 + 4 * fs.size());
  put16(d, kTemplateId);
  put16(d, fs.size());
  for (auto f : fs) {
    put16(d, f.type);
    put16(d, f.len);
  }
  finish(d, ipfix);
  return d;
}

std::vector<uint8_t> data_datagram(bool ipfix, unsigned records, std::mt19937_64& rng) {
  std::vector<uint8_t> d;
  header(d, ipfix, static_cast<uint16_t>(records));
  put16(d, kTemplateId);
  put16(d, 4 + records * record_len(ipfix));
  for (unsigned i = 0; i < records; ++i) {
    uint64_t r = rng();
    put32(d, (100u << 24) | (r & 0xffffff));          // src 100.x.y.z
    put32(d, (198u << 24) | (51u << 16) | (r >> 48));  // dst 198.51.x.y
    put16(d, 1024 + (r >> 24 & 0x7fff));
    static const uint16_t ports[] = {53, 80, 123, 443, 23, 8080};
    put16(d, ports[(r >> 40) % 6]);
    put8(d, (r >> 44) & 1 ? 6 : 17);
    put8(d, 0x1b);
    uint32_t pk = 1 + (r >> 32) % 100;
    put32(d, pk);
    put32(d, pk * 576);
    if (ipfix) {
      put64(d, uint64_t(kUnixSecs) * 1000 - 5000);
      put64(d, uint64_t(kUnixSecs) * 1000 - 1000);
    } else {
      put32(d, 3595000);
      put32(d, 3599000);
    }
    put32(d, 1 + (r & 7));
    put32(d, 9);
    put32(d, 64500 + (r >> 8 & 15));
    put32(d, 15169);
  }
  finish(d, ipfix);
  return d;
}

// NetFlow v5: 24-byte header, 30 records of 48 bytes.
std::vector<uint8_t> v5_datagram(std::mt19937_64& rng) {
  std::vector<uint8_t> d;
  put16(d, 5);
  put16(d, 30);
  put32(d, 3600000);
  put32(d, kUnixSecs);
  put32(d, 0);
  put32(d, 0);  // sequence
  put16(d, 0);  // engine
  put16(d, 0);  // sampling
  for (int i = 0; i < 30; ++i) {
    uint64_t r = rng();
    put32(d, (100u << 24) | (r & 0xffffff));
    put32(d, (198u << 24) | (51u << 16) | (r >> 48));
    put32(d, 0);
    put16(d, 1 + (r & 7));
    put16(d, 9);
    uint32_t pk = 1 + (r >> 32) % 100;
    put32(d, pk);
    put32(d, pk * 576);
    put32(d, 3595000);
    put32(d, 3599000);
    put16(d, 1024 + (r >> 24 & 0x7fff));
    put16(d, 443);
    put8(d, 0);
    put8(d, 0x1b);
    put8(d, 6);
    put8(d, 0);
    put16(d, 64500);
    put16(d, 15169);
    put8(d, 24);
    put8(d, 24);
    put16(d, 0);
  }
  return d;
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: udp_sender --dst 127.0.0.1:PORT [--format v9|ipfix|v5] [--rate RECORDS_PER_S] [--seconds S] "
               "[--batch N]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dst, format = "v9";
  double rate = 100000, seconds = 3;
  unsigned batch = 32;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage();
    if (a == "--dst") dst = argv[++i];
    else if (a == "--format") format = argv[++i];
    else if (a == "--rate") rate = std::atof(argv[++i]);
    else if (a == "--seconds") seconds = std::atof(argv[++i]);
    else if (a == "--batch") batch = static_cast<unsigned>(std::atoi(argv[++i]));
    else usage();
  }
  auto colon = dst.rfind(':');
  if (colon == std::string::npos || (format != "v9" && format != "ipfix" && format != "v5") || rate <= 0 || batch == 0) usage();
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(std::atoi(dst.c_str() + colon + 1)));
  if (inet_pton(AF_INET, dst.substr(0, colon).c_str(), &to.sin_addr) != 1 ||
      (ntohl(to.sin_addr.s_addr) >> 24) != 127) {
    std::fprintf(stderr, "udp_sender: --dst must be a 127.0.0.0/8 address\n");
    return 2;
  }
  bool ipfix = format == "ipfix", v5 = format == "v5";
  const unsigned per = v5 ? 30 : static_cast<unsigned>((1400 - 24) / record_len(ipfix));
  std::mt19937_64 rng(42);
  const size_t kPool = 4096;
  std::vector<std::vector<uint8_t>> pool;
  for (size_t i = 0; i < kPool; ++i) pool.push_back(v5 ? v5_datagram(rng) : data_datagram(ipfix, per, rng));
  auto tmpl = template_datagram(ipfix);

  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  int sndbuf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    std::perror("connect");
    return 1;
  }
  uint64_t seq = 0;
  auto send_one = [&](std::vector<uint8_t>& d) { return ::send(fd, d.data(), d.size(), 0) == ssize_t(d.size()); };
  uint64_t send_errors = 0;
  if (!v5 && !send_one(tmpl)) ++send_errors;
  usleep(20000);  // let the template be decoded first

  std::vector<mmsghdr> msgs(batch);
  std::vector<iovec> iov(batch);
  const double dgram_rate = rate / per;
  uint64_t sent = 0, next = 0;
  auto t0 = std::chrono::steady_clock::now();
  const auto end = t0 + std::chrono::duration<double>(seconds);
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    if (now >= end) break;
    // Pace: the datagram numbered `sent` is due at t0 + sent / dgram_rate.
    double due = sent / dgram_rate;
    double el = std::chrono::duration<double>(now - t0).count();
    if (due > el) {
      double wait = due - el;
      if (wait > 200e-6) {
        timespec ts{0, static_cast<long>((wait - 100e-6) * 1e9)};
        nanosleep(&ts, nullptr);
      }
      continue;
    }
    unsigned n = batch;
    for (unsigned i = 0; i < n; ++i) {
      auto& d = pool[next++ % kPool];
      // Sequence numbers as a real exporter would count them.
      if (v5) {
        set32(&d[16], static_cast<uint32_t>(seq));
        seq += per;
      } else if (ipfix) {
        set32(&d[8], static_cast<uint32_t>(seq));
        seq += per;
      } else {
        set32(&d[12], static_cast<uint32_t>(seq++));
      }
      iov[i] = {d.data(), d.size()};
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(fd, msgs.data(), n, 0);
    if (r < 0) {
      ++send_errors;
      continue;
    }
    sent += static_cast<unsigned>(r);
    if (static_cast<unsigned>(r) < n) next -= n - r;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("sent datagrams=%llu records=%llu seconds=%.3f records_per_s=%.0f send_errors=%llu\n",
              static_cast<unsigned long long>(sent + (v5 ? 0 : 1)), static_cast<unsigned long long>(sent * per), secs,
              sent * per / secs, static_cast<unsigned long long>(send_errors));
  ::close(fd);
  return 0;
}
