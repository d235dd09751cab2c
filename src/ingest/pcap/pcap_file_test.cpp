// PcapFile reads classic pcap files in blocks of its own: the packets, their
// times and the errors must be what libpcap itself gives.
#include "ingest/pcap/pcap_file.hpp"

#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_support/run.hpp"

using namespace omamori;

namespace {
struct Pkt {
  int64_t ts_us;
  uint32_t caplen, len;
  std::string data;
  bool operator==(const Pkt&) const = default;
};
struct Read {
  std::vector<Pkt> pkts;
  std::string error;
  int link = -1;
  bool blocks = false;
};

Read by_libpcap(const std::string& path) {
  Read r;
  char eb[PCAP_ERRBUF_SIZE];
  pcap_t* h = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, eb);
  EXPECT_TRUE(h) << eb;
  if (!h) return r;
  r.link = pcap_datalink(h);
  pcap_pkthdr* hdr;
  const u_char* d;
  int rc;
  while ((rc = pcap_next_ex(h, &hdr, &d)) == 1)
    r.pkts.push_back({int64_t(hdr->ts.tv_sec) * 1000000 + hdr->ts.tv_usec, hdr->caplen, hdr->len,
                      std::string(reinterpret_cast<const char*>(d), hdr->caplen)});
  if (rc == PCAP_ERROR) r.error = pcap_geterr(h);
  pcap_close(h);
  return r;
}

Read by_pcapfile(const std::string& path, size_t buffer = 0) {
  Read r;
  std::string err;
  auto f = PcapFile::open(path, err, buffer);
  EXPECT_TRUE(f) << err;
  if (!f) return r;
  r.link = f->linktype();
  r.blocks = f->block_reading();
  CapturedPacket p;
  while (f->next(p)) {
    EXPECT_EQ(p.ts, p.ts_us / 1000);
    r.pkts.push_back({p.ts_us, p.caplen, p.len, std::string(reinterpret_cast<const char*>(p.data), p.caplen)});
  }
  r.error = f->error();
  return r;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void spit(const std::string& path, const std::string& s) {
  std::ofstream out(path, std::ios::binary);
  out << s;
}
void put32(std::string& s, size_t off, uint32_t v, bool swap) {
  if (swap) v = __builtin_bswap32(v);
  std::memcpy(s.data() + off, &v, 4);
}
uint32_t get32(const std::string& s, size_t off) {
  uint32_t v;
  std::memcpy(&v, s.data() + off, 4);
  return v;
}

// The same capture, rewritten: byte-swapped and/or with nanosecond times.
std::string rewrite(const std::string& in, bool swap, bool nanos) {
  std::string out = in;
  put32(out, 0, nanos ? 0xa1b23c4d : 0xa1b2c3d4, swap);
  uint16_t v[2] = {2, 4};
  if (swap) v[0] = __builtin_bswap16(v[0]), v[1] = __builtin_bswap16(v[1]);
  std::memcpy(out.data() + 4, v, 4);
  for (size_t off : {8, 12, 16, 20}) put32(out, off, get32(in, off), swap);
  size_t off = 24;
  while (off + 16 <= in.size()) {
    uint32_t caplen = get32(in, off + 8);
    put32(out, off, get32(in, off), swap);
    put32(out, off + 4, nanos ? get32(in, off + 4) * 1000 + 999 : get32(in, off + 4), swap);
    put32(out, off + 8, caplen, swap);
    put32(out, off + 12, get32(in, off + 12), swap);
    off += 16 + caplen;
  }
  return out;
}
}  // namespace

TEST(PcapFile, BlockReadingMatchesLibpcap) {
  std::string src = test::shared_data("flows/pmacct/100-IPFIXv10-CISCO/traffic-00.pcap");
  std::string orig = slurp(src);
  ASSERT_GT(orig.size(), 100u);
  auto dir = std::filesystem::temp_directory_path() / ("omamori_pcapfile_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  struct Case {
    const char* name;
    std::string bytes;
  };
  std::vector<Case> cases = {{"orig", orig},
                             {"swapped", rewrite(orig, true, false)},
                             {"nanos", rewrite(orig, false, true)},
                             {"swapped-nanos", rewrite(orig, true, true)}};
  // Cut inside the last record's data, inside a record header, and after the file header.
  cases.push_back({"cut-data", orig.substr(0, orig.size() - 7)});
  size_t second = 24 + 16 + get32(orig, 24 + 8);
  cases.push_back({"cut-header", orig.substr(0, second + 5)});
  cases.push_back({"header-only", orig.substr(0, 24)});
  // A record longer than the snapshot length: libpcap's business.
  std::string big = orig;
  put32(big, 16, 60, false);
  cases.push_back({"snaplen", big});
  for (const auto& c : cases) {
    std::string path = (dir / c.name).string() + ".pcap";
    spit(path, c.bytes);
    Read want = by_libpcap(path), got = by_pcapfile(path);
    EXPECT_EQ(got.link, want.link) << c.name;
    // Every case starts on the block-reading path (some leave it for libpcap).
    EXPECT_TRUE(got.blocks) << c.name;
    EXPECT_EQ(got.pkts.size(), want.pkts.size()) << c.name;
    EXPECT_TRUE(got.pkts == want.pkts) << c.name;
    EXPECT_EQ(got.error.empty(), want.error.empty()) << c.name << ": " << got.error << " / " << want.error;
    if (!want.error.empty()) {
      EXPECT_NE(got.error.find(want.error), std::string::npos) << c.name << ": " << got.error;
    }
  }
  EXPECT_GT(by_libpcap((dir / "orig.pcap").string()).pkts.size(), 2u);
  EXPECT_FALSE(by_libpcap((dir / "cut-data.pcap").string()).error.empty());
  std::filesystem::remove_all(dir);
}

// Files of many blocks, with records of every size up to the largest libpcap
// takes, so that records straddle block ends at every offset; then the same
// file cut inside its last record, and with a record libpcap must refuse in
// the middle (the rest is libpcap's).
TEST(PcapFile, RecordsAcrossBlocksMatchLibpcap) {
  auto dir = std::filesystem::temp_directory_path() / ("omamori_pcapblocks_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string file(24, '\0');
  put32(file, 0, 0xa1b2c3d4, false);
  uint16_t ver[2] = {2, 4};
  std::memcpy(file.data() + 4, ver, 4);
  put32(file, 16, 262144, false);  // snaplen
  put32(file, 20, 1, false);       // Ethernet
  uint64_t x = 0x9e3779b97f4a7c15ull;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  std::vector<size_t> starts;
  for (int i = 0; file.size() < (8u << 20); ++i) {
    uint32_t caplen = i % 50 == 7  ? 262144 - uint32_t(next() % 3)
                      : i % 5 == 0 ? uint32_t(next() % 70000)
                                   : uint32_t(next() % 1500);
    starts.push_back(file.size());
    std::string rec(16 + caplen, '\0');
    put32(rec, 0, 1700000000u + uint32_t(i), false);
    put32(rec, 4, uint32_t(next() % 1000000), false);
    put32(rec, 8, caplen, false);
    put32(rec, 12, caplen + uint32_t(next() % 3), false);
    for (size_t j = 16; j < rec.size(); ++j) rec[j] = char(next());
    file += rec;
  }
  std::string refused = file;
  put32(refused, starts[starts.size() / 2] + 8, 300000, false);  // caplen beyond libpcap's maximum
  struct Case {
    const char* name;
    std::string bytes;
  };
  std::vector<Case> cases = {
      {"blocks", file}, {"blocks-cut", file.substr(0, file.size() - 3)}, {"blocks-refused", refused}};
  for (const auto& c : cases) {
    std::string path = (dir / c.name).string() + ".pcap";
    spit(path, c.bytes);
    Read want = by_libpcap(path);
    for (size_t buffer : {size_t(0), size_t(1)}) {  // 1 MiB, and the smallest (one largest record)
      Read got = by_pcapfile(path, buffer);
      EXPECT_TRUE(got.blocks) << c.name;
      ASSERT_EQ(got.pkts.size(), want.pkts.size()) << c.name << " buffer " << buffer;
      EXPECT_TRUE(got.pkts == want.pkts) << c.name << " buffer " << buffer;
      EXPECT_EQ(got.error.empty(), want.error.empty()) << c.name << ": " << got.error << " / " << want.error;
      if (!want.error.empty()) {
        EXPECT_NE(got.error.find(want.error), std::string::npos) << c.name << ": " << got.error;
      }
    }
  }
  EXPECT_GT(by_libpcap((dir / "blocks.pcap").string()).pkts.size(), 500u);
  EXPECT_FALSE(by_libpcap((dir / "blocks-cut.pcap").string()).error.empty());
  EXPECT_FALSE(by_libpcap((dir / "blocks-refused.pcap").string()).error.empty());
  std::filesystem::remove_all(dir);
}
