#include "ingest/pcap/pcap_file.hpp"

#include <pcap/pcap.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

namespace omamori {

std::unique_ptr<PcapFile> PcapFile::open(const std::string& path, std::string& err) {
  char ebuf[PCAP_ERRBUF_SIZE] = {0};
  pcap_t* h = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, ebuf);
  if (!h) {
    err = path + ": cannot open as pcap/pcapng: " + ebuf;
    return nullptr;
  }
  std::unique_ptr<PcapFile> f(new PcapFile());
  f->h_ = h;
  f->link_ = pcap_datalink(h);
  f->path_ = path;
  if (path != "-") f->map_classic();
  return f;
}

PcapFile::~PcapFile() {
  if (map_) munmap(const_cast<uint8_t*>(map_), map_size_);
  if (h_) pcap_close(h_);
}

namespace {
constexpr size_t kFileHeader = 24, kRecordHeader = 16;
constexpr uint32_t kMaxCaplen = 262144;  // libpcap's MAXIMUM_SNAPLEN
constexpr size_t kPopulateChunk = 16 << 20;
constexpr size_t kPrefetchAhead = 4096;
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

uint32_t rd32(const uint8_t* p, bool swapped) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return swapped ? __builtin_bswap32(v) : v;
}
}  // namespace

void PcapFile::map_classic() {
  // Link types whose packets libpcap passes through unchanged.
  switch (link_) {
    case DLT_EN10MB:
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_LINUX_SLL:
      break;
    default:
      return;
  }
  std::FILE* fp = pcap_file(h_);
  if (!fp) return;
  int fd = fileno(fp);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || size_t(st.st_size) < kFileHeader) return;
  // libpcap has read the file header and nothing else.
  if (std::ftell(fp) != long(kFileHeader)) return;
  size_t size = size_t(st.st_size);
  void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (m == MAP_FAILED) return;
  madvise(m, size, MADV_SEQUENTIAL);
  const auto* p = static_cast<const uint8_t*>(m);
  uint32_t magic;
  std::memcpy(&magic, p, 4);
  switch (magic) {
    case 0xa1b2c3d4: break;
    case 0xd4c3b2a1: swapped_ = true; break;
    case 0xa1b23c4d: nanos_ = true; break;
    case 0x4d3cb2a1: swapped_ = nanos_ = true; break;
    default:
      munmap(m, size);
      return;
  }
  uint16_t major, minor;
  std::memcpy(&major, p + 4, 2);
  std::memcpy(&minor, p + 6, 2);
  if (swapped_) {
    major = __builtin_bswap16(major);
    minor = __builtin_bswap16(minor);
  }
  snaplen_ = rd32(p + 16, swapped_);
  // Version 2.4 only (older files may have caplen and len swapped); a zero
  // snapshot length gets libpcap's per-link-type default.
  if (major != 2 || minor != 4 || snaplen_ == 0) {
    munmap(m, size);
    return;
  }
  map_ = p;
  mapped_ = true;
  map_size_ = size;
  map_off_ = kFileHeader;
  populated_ = 0;
}

bool PcapFile::next_mapped(CapturedPacket& pkt) {
  if (map_off_ + kMaxCaplen + kRecordHeader > populated_ && populated_ < map_size_) {
    // Map the page-cache pages of the next chunk in one call instead of a
    // page fault every few pages (Linux 5.14+; harmless where unsupported).
    size_t n = std::min(kPopulateChunk, map_size_ - populated_);
    madvise(const_cast<uint8_t*>(map_) + populated_, n, MADV_POPULATE_READ);
    populated_ += n;
  }
  size_t left = map_size_ - map_off_;
  if (left == 0) return false;
  const uint8_t* h = map_ + map_off_;
  if (left >= kRecordHeader) {
    uint32_t sec = rd32(h, swapped_), frac = rd32(h + 4, swapped_), caplen = rd32(h + 8, swapped_),
             len = rd32(h + 12, swapped_);
    // libpcap cuts records longer than the snapshot length and rejects huge
    // ones; it has the words for those, and for a truncated record.
    if (caplen <= kMaxCaplen && caplen <= snaplen_ && caplen <= left - kRecordHeader &&
        frac < (nanos_ ? 1000000000u : 1000000u)) {
      // Signed 32-bit seconds, as libpcap reads them.
      pkt.ts_us = int64_t(int32_t(sec)) * 1000000 + (nanos_ ? frac / 1000 : frac);
      pkt.ts = pkt.ts_us / 1000;
      pkt.caplen = caplen;
      pkt.len = len;
      pkt.data = h + kRecordHeader;
      map_off_ += kRecordHeader + caplen;
      // Keep the next few KiB on their way into the cache while this packet
      // is decoded (the hardware prefetcher stops at page boundaries).
      size_t ahead = std::min(map_size_, map_off_ + kPrefetchAhead);
      if (prefetched_ < map_off_) prefetched_ = map_off_ & ~size_t(63);
      for (; prefetched_ < ahead; prefetched_ += 64) __builtin_prefetch(map_ + prefetched_);
      ++count_;
      return true;
    }
  }
  // Hand the rest of the file to libpcap, from this record on.
  std::FILE* fp = pcap_file(h_);
  munmap(const_cast<uint8_t*>(map_), map_size_);
  map_ = nullptr;
  if (!fp || std::fseek(fp, long(map_off_), SEEK_SET) != 0) {
    error_ = path_ + ": packet " + std::to_string(count_ + 1) + ": cannot seek";
    return false;
  }
  return next(pkt);
}

bool PcapFile::next(CapturedPacket& pkt) {
  if (map_) return next_mapped(pkt);
  struct pcap_pkthdr* hdr;
  const u_char* data;
  int rc = pcap_next_ex(h_, &hdr, &data);
  if (rc == 1) {
    pkt.ts_us = static_cast<int64_t>(hdr->ts.tv_sec) * 1000000 + hdr->ts.tv_usec;
    pkt.ts = pkt.ts_us / 1000;
    pkt.caplen = hdr->caplen;
    pkt.len = hdr->len;
    pkt.data = data;
    ++count_;
    return true;
  }
  if (rc == PCAP_ERROR) error_ = path_ + ": packet " + std::to_string(count_ + 1) + ": " + pcap_geterr(h_);
  return false;
}

}  // namespace omamori
