// Reading pcap and pcapng files (libpcap offline mode).
//
// Classic pcap files (the common case for long captures) are read from a
// memory mapping instead, without a copy or a read() call per packet; the
// packets and their order are the same. Anything the fast path does not
// handle (pcapng, standard input, link types whose pseudo-headers libpcap
// rewrites, odd capture lengths, a truncated record) goes through libpcap,
// from that record on, so errors read as libpcap words them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/time.hpp"

struct pcap;

namespace omamori {

struct CapturedPacket {
  TimeMs ts = 0;       // capture time, UTC ms
  int64_t ts_us = 0;   // capture time, UTC microseconds
  uint32_t caplen = 0;
  uint32_t len = 0;    // original length on the wire
  const uint8_t* data = nullptr;
};

class PcapFile {
 public:
  // Opens a pcap/pcapng file ("-" is standard input). On failure returns
  // nullptr and sets err to a message naming the file.
  static std::unique_ptr<PcapFile> open(const std::string& path, std::string& err);
  ~PcapFile();
  PcapFile(const PcapFile&) = delete;
  PcapFile& operator=(const PcapFile&) = delete;

  int linktype() const { return link_; }
  // Next packet; false at the end of the file or on a read error (see error()).
  bool next(CapturedPacket& pkt);
  const std::string& error() const { return error_; }
  uint64_t packets() const { return count_; }
  const std::string& path() const { return path_; }
  // Whether the file was opened on the memory-mapped path (tests).
  bool mapped() const { return mapped_; }

 private:
  PcapFile() = default;
  void map_classic();
  bool next_mapped(CapturedPacket& pkt);
  pcap* h_ = nullptr;
  // Memory-mapped classic pcap (nullptr: libpcap reads).
  const uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  size_t map_off_ = 0;
  size_t populated_ = 0;   // bytes of the mapping populated ahead of reading
  size_t prefetched_ = 0;  // bytes of the mapping prefetched into the cache
  uint32_t snaplen_ = 0;
  bool swapped_ = false;
  bool nanos_ = false;
  bool mapped_ = false;
  int link_ = 0;
  uint64_t count_ = 0;
  std::string error_;
  std::string path_;
};

}  // namespace omamori
