// dnstap: a file written by BIND 9.18 (testdata/bind-9.18.dnstap, see
// testdata/README.md) read by omamori and by BIND's own dnstap-read; the Frame
// Streams framing; the socket listener fed by libfstrm's Unix and TCP writers
// (the library resolvers use to send dnstap) and by misbehaving clients.
#include "ingest/dns/dnstap.hpp"

#include <fstrm.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

#include "core/time.hpp"
#include "ingest/dns/dnstap_listener.hpp"
#include "ingest/dns/logs.hpp"
#include "ingest/dns/test_util.hpp"

namespace omamori {
namespace {

using dnstest::Collector;
using dnstest::testdata;

std::vector<OwnedDnsEvent> read_file(const std::string& path, DnstapDecoder& dec) {
  Collector c;
  std::string err;
  EXPECT_TRUE(read_dnstap_file(path, dec, c, err)) << err;
  return c.events;
}

TEST(DnstapFile, AgreesWithDnstapRead) {
  ASSERT_TRUE(dnstest::have_program("dnstap-read"));
  const std::string file = testdata("bind-9.18.dnstap");
  DnstapDecoder dec;
  auto ev = read_file(file, dec);
  EXPECT_EQ(dec.errors().total(), 0u);
  EXPECT_EQ(dec.identity(), "ns-test");
  // "21-Nov-2026 23:35:21.095 RQ :::40238 -> 2001:500:a8::e:53 UDP 40b ./IN/DNSKEY"
  auto want = dnstest::lines(dnstest::run("TZ=UTC dnstap-read '" + file + "'"));
  ASSERT_EQ(ev.size(), want.size());
  ASSERT_EQ(want.size(), 22u);
  auto split_ap = [](const std::string& s, std::string& a, std::string& p) {
    auto c = s.rfind(':');
    a = s.substr(0, c);
    p = s.substr(c + 1);
  };
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(want[i]);
    auto f = dnstest::split(want[i], ' ');
    ASSERT_EQ(f.size(), 9u);
    const auto& e = ev[i];
    // Time: dd-Mon-yyyy hh:mm:ss.mmm in UTC.
    TimeMs t = 0;
    ASSERT_GT(parse_log_time_prefix(f[0] + " " + f[1], 0, t), 0u);
    EXPECT_EQ(e.time, t);
    EXPECT_EQ(dnstap_type_short(e.dnstap_type), f[2]);
    std::string qa, qp, ra, rp;
    split_ap(f[3], qa, qp);
    split_ap(f[5], ra, rp);
    EXPECT_EQ(e.client.str(), qa);
    EXPECT_EQ(std::to_string(e.client_port), qp);
    EXPECT_EQ(e.resolver.str(), ra);
    EXPECT_EQ(std::to_string(e.resolver_port), rp);
    EXPECT_EQ(f[4], e.is_response() ? "<-" : "->");
    EXPECT_EQ(f[6], e.transport == DnsTransport::Tcp ? "TCP" : "UDP");
    auto q = dnstest::split(f[8], '/');
    ASSERT_EQ(q.size(), 3u);
    std::string name = q[0];
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(e.qname, name);
    EXPECT_EQ(dns_type_str(e.qtype), q[2]);
  }
}

// ---------------------------------------------------------------- framing

struct FrameLog final : FrameHandler {
  std::vector<std::string> data;
  std::vector<std::pair<uint32_t, std::vector<std::string>>> controls;
  void on_data(const uint8_t* p, size_t n) override { data.emplace_back(reinterpret_cast<const char*>(p), n); }
  void on_control(uint32_t type, const std::string_view* ct, size_t n) override {
    std::vector<std::string> v;
    for (size_t i = 0; i < n; ++i) v.emplace_back(ct[i]);
    controls.emplace_back(type, v);
  }
};

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

TEST(FrameStreams, ParsesBindsFileByteByByte) {
  auto bytes = file_bytes(testdata("bind-9.18.dnstap"));
  // Whole buffer at once.
  FrameLog all;
  const char* err = nullptr;
  EXPECT_EQ(parse_frames(bytes.data(), bytes.size(), 1 << 20, all, err), bytes.size());
  EXPECT_EQ(err, nullptr);
  ASSERT_EQ(all.controls.size(), 2u);
  EXPECT_EQ(all.controls[0].first, fstrm_proto::kStart);
  EXPECT_EQ(all.controls[0].second, std::vector<std::string>{"protobuf:dnstap.Dnstap"});
  EXPECT_EQ(all.controls[1].first, fstrm_proto::kStop);
  EXPECT_EQ(all.data.size(), 22u);
  // Fed in pieces of every size from 1 to 64 bytes: same frames.
  for (size_t step = 1; step <= 64; ++step) {
    FrameLog part;
    std::vector<uint8_t> buf;
    for (size_t off = 0; off < bytes.size(); off += step) {
      buf.insert(buf.end(), bytes.begin() + off, bytes.begin() + std::min(bytes.size(), off + step));
      size_t used = parse_frames(buf.data(), buf.size(), 1 << 20, part, err);
      ASSERT_EQ(err, nullptr);
      buf.erase(buf.begin(), buf.begin() + used);
    }
    EXPECT_TRUE(buf.empty());
    EXPECT_EQ(part.data, all.data);
    EXPECT_EQ(part.controls, all.controls);
  }
}

TEST(FrameStreams, ControlFrameEncodingAndErrors) {
  uint8_t buf[64];
  size_t n = encode_control_frame(fstrm_proto::kAccept, fstrm_proto::kDnstapContentType, buf, sizeof buf);
  FrameLog log;
  const char* err = nullptr;
  EXPECT_EQ(parse_frames(buf, n, 100, log, err), n);
  ASSERT_EQ(log.controls.size(), 1u);
  EXPECT_EQ(log.controls[0].first, fstrm_proto::kAccept);
  EXPECT_EQ(log.controls[0].second, std::vector<std::string>{"protobuf:dnstap.Dnstap"});
  // libfstrm decodes what we encode.
  fstrm_control* c = fstrm_control_init();
  EXPECT_EQ(fstrm_control_decode(c, buf + 8, n - 8, 0), fstrm_res_success);
  fstrm_control_type type;
  EXPECT_EQ(fstrm_control_get_type(c, &type), fstrm_res_success);
  EXPECT_EQ(type, FSTRM_CONTROL_ACCEPT);
  EXPECT_EQ(fstrm_control_match_field_content_type(c, reinterpret_cast<const uint8_t*>("protobuf:dnstap.Dnstap"), 22),
            fstrm_res_success);
  fstrm_control_destroy(&c);

  const uint8_t too_big[] = {0, 0x10, 0, 0, 1, 2, 3};
  EXPECT_EQ(parse_frames(too_big, sizeof too_big, 1024, log, err), 0u);
  EXPECT_STREQ(err, "frame streams data frame too large");
  const uint8_t bad_ctl[] = {0, 0, 0, 0, 0, 0, 0x10, 0};
  parse_frames(bad_ctl, sizeof bad_ctl, 1024, log, err);
  EXPECT_STREQ(err, "frame streams bad control frame length");
  const uint8_t bad_field[] = {0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 9};
  parse_frames(bad_field, sizeof bad_field, 1024, log, err);
  EXPECT_STREQ(err, "frame streams bad control field");
}

TEST(DnstapDecoder, BadPayloadsAreCounted) {
  DnstapDecoder dec;
  Collector c;
  const uint8_t junk[] = {0xff, 0xff, 0xff};
  EXPECT_FALSE(dec.decode(junk, sizeof junk, c));
  // A valid Dnstap with type MESSAGE but no message field: 0x78 0x01 is field 15 varint 1.
  const uint8_t empty[] = {0x78, 0x01};
  EXPECT_FALSE(dec.decode(empty, sizeof empty, c));
  EXPECT_EQ(dec.errors().count("dnstap protobuf undecodable"), 1u);
  EXPECT_EQ(dec.errors().count("dnstap frame without message"), 1u);
  // Message{type=CLIENT_QUERY} without the query bytes.
  const uint8_t noq[] = {0x78, 0x01, 0x72, 0x02, 0x08, 0x05};
  EXPECT_FALSE(dec.decode(noq, sizeof noq, c));
  EXPECT_EQ(dec.errors().count("dnstap message without dns payload"), 1u);
  // An enum value outside the schema (found by fuzzing): read as a number, refused.
  const uint8_t odd_type[] = {0x78, 0xff, 0xff, 0xff, 0xff, 0x07};
  EXPECT_FALSE(dec.decode(odd_type, sizeof odd_type, c));
  EXPECT_EQ(dec.errors().count("dnstap frame without message"), 2u);
  EXPECT_TRUE(c.events.empty());
  // query_time_sec = 2^62 (found by fuzzing): the event comes, without a time, counted.
  const uint8_t huge_time[] = {0x78, 0x01, 0x72, 0x1a, 0x08, 0x05, 0x40, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                               0x40, 0x52, 0x0c, 0x12, 0x34, 0x01, 0x00, 0,    0,    0,    0,    0,    0,    0,    0};
  EXPECT_TRUE(dec.decode(huge_time, sizeof huge_time, c));
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].time, 0);
  EXPECT_EQ(c.events[0].id, 0x1234);
  EXPECT_EQ(dec.errors().count("dnstap message without a valid time"), 1u);
}

// ---------------------------------------------------------------- listener

struct LockedCollector final : DnsSink {
  std::mutex mu;
  std::vector<OwnedDnsEvent> events;
  void on_dns(const DnsEvent& ev) override {
    std::lock_guard<std::mutex> g(mu);
    events.push_back(OwnedDnsEvent::from(ev));
  }
  size_t size() {
    std::lock_guard<std::mutex> g(mu);
    return events.size();
  }
};

template <typename F>
bool wait_for(F cond, int ms = 5000) {
  for (int i = 0; i < ms / 10; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

// Sends every data frame of BIND's file through a libfstrm writer.
void send_with_fstrm(fstrm_writer* w, const std::vector<std::string>& frames) {
  ASSERT_NE(w, nullptr);
  ASSERT_EQ(fstrm_writer_open(w), fstrm_res_success);
  for (const auto& f : frames) ASSERT_EQ(fstrm_writer_write(w, f.data(), f.size()), fstrm_res_success);
  ASSERT_EQ(fstrm_writer_close(w), fstrm_res_success);  // STOP, then waits for our FINISH
  fstrm_writer_destroy(&w);
}

fstrm_writer_options* dnstap_writer_options() {
  fstrm_writer_options* wopt = fstrm_writer_options_init();
  fstrm_writer_options_add_content_type(wopt, fstrm_proto::kDnstapContentType.data(),
                                        fstrm_proto::kDnstapContentType.size());
  return wopt;
}

std::vector<std::string> bind_frames() {
  auto bytes = file_bytes(testdata("bind-9.18.dnstap"));
  FrameLog log;
  const char* err = nullptr;
  parse_frames(bytes.data(), bytes.size(), 1 << 20, log, err);
  return log.data;
}

void expect_same(const std::vector<OwnedDnsEvent>& a, const std::vector<OwnedDnsEvent>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].time, b[i].time);
    EXPECT_EQ(a[i].client, b[i].client);
    EXPECT_EQ(a[i].qname, b[i].qname);
    EXPECT_EQ(a[i].answers, b[i].answers);
    EXPECT_EQ(a[i].dnstap_type, b[i].dnstap_type);
  }
}

TEST(DnstapListener, UnixSocketWithLibfstrmWriter) {
  dnstest::TempDir dir;
  std::string err;
  auto l = DnstapListener::unix_socket(dir.str("dnstap.sock"), err);
  ASSERT_TRUE(l) << err;
  LockedCollector got;
  std::thread t([&] { l->run(got); });
  auto frames = bind_frames();
  fstrm_unix_writer_options* uwopt = fstrm_unix_writer_options_init();
  fstrm_unix_writer_options_set_socket_path(uwopt, dir.str("dnstap.sock").c_str());
  fstrm_writer_options* wopt = dnstap_writer_options();
  send_with_fstrm(fstrm_unix_writer_init(uwopt, wopt), frames);
  fstrm_unix_writer_options_destroy(&uwopt);
  fstrm_writer_options_destroy(&wopt);
  EXPECT_TRUE(wait_for([&] { return got.size() == frames.size(); }));
  EXPECT_TRUE(wait_for([&] { return l->finished() == 1; }));  // STOP answered with FINISH
  l->stop();
  t.join();
  EXPECT_EQ(l->errors().total(), 0u);
  DnstapDecoder dec;
  expect_same(got.events, read_file(testdata("bind-9.18.dnstap"), dec));
}

TEST(DnstapListener, TcpWithLibfstrmWriter) {
  std::string err;
  auto l = DnstapListener::tcp("127.0.0.1:0", err);
  ASSERT_TRUE(l) << err;
  ASSERT_NE(l->port(), 0);
  LockedCollector got;
  std::thread t([&] { l->run(got); });
  auto frames = bind_frames();
  fstrm_tcp_writer_options* twopt = fstrm_tcp_writer_options_init();
  fstrm_tcp_writer_options_set_socket_address(twopt, "127.0.0.1");
  fstrm_tcp_writer_options_set_socket_port(twopt, std::to_string(l->port()).c_str());
  fstrm_writer_options* wopt = dnstap_writer_options();
  send_with_fstrm(fstrm_tcp_writer_init(twopt, wopt), frames);
  fstrm_tcp_writer_options_destroy(&twopt);
  fstrm_writer_options_destroy(&wopt);
  EXPECT_TRUE(wait_for([&] { return got.size() == frames.size(); }));
  l->stop();
  t.join();
  EXPECT_EQ(l->errors().total(), 0u);
  EXPECT_EQ(l->connections(), 1u);
}

// A raw client for the cases libfstrm never produces.
int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), path.size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST(DnstapListener, MisbehavingClientsAreCountedAndDropped) {
  dnstest::TempDir dir;
  std::string err;
  auto l = DnstapListener::unix_socket(dir.str("s"), err);
  ASSERT_TRUE(l) << err;
  LockedCollector got;
  std::thread t([&] { l->run(got); });
  auto frames = bind_frames();
  // 1. Data before START.
  int fd = connect_unix(dir.str("s"));
  ASSERT_GE(fd, 0);
  uint32_t flen = static_cast<uint32_t>(frames[0].size());
  std::vector<uint8_t> msg = {uint8_t(flen >> 24), uint8_t(flen >> 16), uint8_t(flen >> 8), uint8_t(flen)};
  msg.insert(msg.end(), frames[0].begin(), frames[0].end());
  ASSERT_EQ(::write(fd, msg.data(), msg.size()), static_cast<ssize_t>(msg.size()));
  char c;
  EXPECT_EQ(::read(fd, &c, 1), 0);  // the listener closes the connection
  ::close(fd);
  // 2. Unidirectional START with a wrong content type.
  fd = connect_unix(dir.str("s"));
  uint8_t buf[64];
  size_t n = encode_control_frame(fstrm_proto::kStart, "protobuf:other.Thing", buf, sizeof buf);
  ASSERT_EQ(::write(fd, buf, n), static_cast<ssize_t>(n));
  EXPECT_EQ(::read(fd, &c, 1), 0);
  ::close(fd);
  // 3. Unidirectional, a good frame, then garbage protobuf, then a frame cut by the close.
  fd = connect_unix(dir.str("s"));
  n = encode_control_frame(fstrm_proto::kStart, fstrm_proto::kDnstapContentType, buf, sizeof buf);
  ASSERT_EQ(::write(fd, buf, n), static_cast<ssize_t>(n));
  ASSERT_EQ(::write(fd, msg.data(), msg.size()), static_cast<ssize_t>(msg.size()));
  const uint8_t junk[] = {0, 0, 0, 3, 0xff, 0xff, 0xff, 0, 0, 0, 50, 1, 2};
  ASSERT_EQ(::write(fd, junk, sizeof junk), static_cast<ssize_t>(sizeof junk));
  ::close(fd);
  EXPECT_TRUE(wait_for([&] { return l->connections() == 3 && got.size() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  l->stop();
  t.join();
  EXPECT_EQ(got.size(), 1u);
  EXPECT_EQ(l->errors().count("frame streams data frame before START"), 1u);
  EXPECT_EQ(l->errors().count("frame streams content type not dnstap"), 1u);
  EXPECT_EQ(l->errors().count("frame streams connection closed inside a frame"), 1u);
  EXPECT_EQ(l->decoder().errors().count("dnstap protobuf undecodable"), 1u);
}

}  // namespace
}  // namespace omamori
