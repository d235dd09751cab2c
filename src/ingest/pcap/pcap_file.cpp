#include "ingest/pcap/pcap_file.hpp"

#include <pcap/pcap.h>

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
  return f;
}

PcapFile::~PcapFile() {
  if (h_) pcap_close(h_);
}

bool PcapFile::next(CapturedPacket& pkt) {
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
