// Reading pcap and pcapng files (libpcap offline mode).
//
// Classic pcap files (the common case for long captures) are read in large
// blocks with pread() into one reused buffer instead, without libpcap's call
// per packet: the kernel copies each block through its own direct mapping
// (no page-table work or TLB miss per 4 KiB page, as a memory mapping of
// the file costs), and the packets are decoded while the block is still in
// the cache. The packets and their order are the same as libpcap's. Anything
// this path does not handle (pcapng, standard input, link types whose
// pseudo-headers libpcap rewrites, odd capture lengths, a truncated record)
// goes through libpcap, from that record on, so errors read as libpcap words
// them.
//
// As with libpcap, a packet's data stays valid only until the next call.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/time.hpp"

struct pcap;

namespace omamori {

struct CapturedPacket {
  TimeMs ts = 0;      // capture time, UTC ms
  int64_t ts_us = 0;  // capture time, UTC microseconds
  uint32_t caplen = 0;
  uint32_t len = 0;  // original length on the wire
  const uint8_t* data = nullptr;
};

class PcapFile {
 public:
  // Opens a pcap/pcapng file ("-" is standard input). On failure returns
  // nullptr and sets err to a message naming the file.
  // buffer_bytes: the block buffer (0: 1 MiB; at least the largest record,
  // 256 KiB plus its header); smaller ones only make tests read more blocks.
  static std::unique_ptr<PcapFile> open(const std::string& path, std::string& err, size_t buffer_bytes = 0);
  ~PcapFile();
  PcapFile(const PcapFile&) = delete;
  PcapFile& operator=(const PcapFile&) = delete;

  int linktype() const { return link_; }
  // Next packet; false at the end of the file or on a read error (see error()).
  bool next(CapturedPacket& pkt);
  const std::string& error() const { return error_; }
  uint64_t packets() const { return count_; }
  const std::string& path() const { return path_; }
  // Whether the file was opened on the block-reading path (tests).
  bool block_reading() const { return blocks_; }

 private:
  PcapFile() = default;
  void open_blocks(size_t buffer_bytes);
  bool next_block(CapturedPacket& pkt);
  bool refill();  // moves the unread tail to the front and reads more; false at the end or on error
  pcap* h_ = nullptr;
  // Block reading of a classic pcap (fd_ < 0: libpcap reads).
  int fd_ = -1;
  std::unique_ptr<uint8_t[]> buf_;
  size_t buf_cap_ = 0;
  size_t buf_len_ = 0;    // valid bytes in buf_
  size_t buf_off_ = 0;    // next record in buf_
  uint64_t buf_pos_ = 0;  // file offset of buf_[0]
  bool eof_ = false;
  uint32_t snaplen_ = 0;
  bool swapped_ = false;
  bool nanos_ = false;
  bool blocks_ = false;
  int link_ = 0;
  uint64_t count_ = 0;
  std::string error_;
  std::string path_;
};

}  // namespace omamori
