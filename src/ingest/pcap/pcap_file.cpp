#include "ingest/pcap/pcap_file.hpp"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace omamori {

std::unique_ptr<PcapFile> PcapFile::open(const std::string& path, std::string& err, size_t buffer_bytes) {
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
  if (path != "-") f->open_blocks(buffer_bytes);
  return f;
}

PcapFile::~PcapFile() {
  if (h_) pcap_close(h_);
}

namespace {
constexpr size_t kFileHeader = 24, kRecordHeader = 16;
constexpr uint32_t kMaxCaplen = 262144;  // libpcap's MAXIMUM_SNAPLEN
constexpr size_t kDefaultBuffer = 1 << 20;

uint32_t rd32(const uint8_t* p, bool swapped) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return swapped ? __builtin_bswap32(v) : v;
}
}  // namespace

void PcapFile::open_blocks(size_t buffer_bytes) {
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
  uint8_t hdr[kFileHeader];
  if (pread(fd, hdr, kFileHeader, 0) != ssize_t(kFileHeader)) return;
  const uint8_t* p = hdr;
  uint32_t magic;
  std::memcpy(&magic, p, 4);
  switch (magic) {
    case 0xa1b2c3d4:
      break;
    case 0xd4c3b2a1:
      swapped_ = true;
      break;
    case 0xa1b23c4d:
      nanos_ = true;
      break;
    case 0x4d3cb2a1:
      swapped_ = nanos_ = true;
      break;
    default:
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
  if (major != 2 || minor != 4 || snaplen_ == 0) return;
  buf_cap_ = std::max(buffer_bytes ? buffer_bytes : kDefaultBuffer, size_t(kMaxCaplen) + kRecordHeader);
  buf_ = std::make_unique<uint8_t[]>(buf_cap_);
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  fd_ = fd;
  blocks_ = true;
  buf_pos_ = kFileHeader;
}

bool PcapFile::refill() {
  size_t left = buf_len_ - buf_off_;
  if (eof_) return false;
  std::memmove(buf_.get(), buf_.get() + buf_off_, left);
  buf_pos_ += buf_off_;
  buf_off_ = 0;
  buf_len_ = left;
  while (buf_len_ < buf_cap_) {
    ssize_t n = pread(fd_, buf_.get() + buf_len_, buf_cap_ - buf_len_, off_t(buf_pos_ + buf_len_));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_ = path_ + ": packet " + std::to_string(count_ + 1) + ": read error: " + std::strerror(errno);
      eof_ = true;
      return false;
    }
    if (n == 0) {
      eof_ = true;
      break;
    }
    buf_len_ += size_t(n);
    if (buf_len_ >= kRecordHeader + kMaxCaplen) break;  // enough for any record; read the rest later
  }
  return buf_len_ > left;
}

bool PcapFile::next_block(CapturedPacket& pkt) {
  for (;;) {
    size_t left = buf_len_ - buf_off_;
    const uint8_t* h = buf_.get() + buf_off_;
    if (left >= kRecordHeader) {
      uint32_t sec = rd32(h, swapped_), frac = rd32(h + 4, swapped_), caplen = rd32(h + 8, swapped_),
               len = rd32(h + 12, swapped_);
      // libpcap cuts records longer than the snapshot length and rejects huge
      // ones; it has the words for those.
      if (!(caplen <= kMaxCaplen && caplen <= snaplen_ && frac < (nanos_ ? 1000000000u : 1000000u))) break;
      if (caplen <= left - kRecordHeader) {
        // Signed 32-bit seconds, as libpcap reads them.
        pkt.ts_us = int64_t(int32_t(sec)) * 1000000 + (nanos_ ? frac / 1000 : frac);
        pkt.ts = pkt.ts_us / 1000;
        pkt.caplen = caplen;
        pkt.len = len;
        pkt.data = h + kRecordHeader;
        buf_off_ += kRecordHeader + caplen;
        ++count_;
        return true;
      }
    }
    if (!refill()) {
      if (!error_.empty()) return false;
      if (buf_len_ == buf_off_) return false;  // the end, on a record boundary
      break;                                   // a truncated record: libpcap reports it
    }
  }
  // Hand the rest of the file to libpcap, from this record on.
  std::FILE* fp = pcap_file(h_);
  uint64_t at = buf_pos_ + buf_off_;
  fd_ = -1;
  buf_.reset();
  if (!fp || std::fseek(fp, long(at), SEEK_SET) != 0) {
    error_ = path_ + ": packet " + std::to_string(count_ + 1) + ": cannot seek";
    return false;
  }
  return next(pkt);
}

bool PcapFile::next(CapturedPacket& pkt) {
  if (fd_ >= 0) return next_block(pkt);
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
