// Reading pcap and pcapng files (libpcap offline mode).
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

 private:
  PcapFile() = default;
  pcap* h_ = nullptr;
  int link_ = 0;
  uint64_t count_ = 0;
  std::string error_;
  std::string path_;
};

}  // namespace omamori
