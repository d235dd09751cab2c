// Fuzzes the L2-L4 packet decoder over every supported link type.
#include <cstddef>
#include <cstdint>

#include "packet/decode.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const int kLinks[] = {omamori::linktype::ETHERNET, omamori::linktype::RAW, omamori::linktype::LINUX_SLL,
                               omamori::linktype::LINUX_SLL2, omamori::linktype::NULL_LOOP};
  int link = kLinks[data[0] % 5];
  omamori::PacketInfo pi;
  if (!omamori::decode_packet(link, data + 1, size - 1, pi)) {
    if (pi.l4_payload && pi.l4_payload_caplen) {
      volatile uint8_t last = pi.l4_payload[pi.l4_payload_caplen - 1];
      (void)last;
    }
  }
  return 0;
}
