// libFuzzer target for the template state file loader: the input is the file
// body; the target appends the XXH64 checksum the loader verifies, so that the
// fuzzer reaches the parser behind it. Loading must fail cleanly or succeed.
#include <unistd.h>
#include <xxhash.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "ingest/netflow/netflow.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/fuzz_netflow_state." + std::to_string(getpid());
  uint64_t sum = XXH64(data, size, 0);
  uint8_t be[8];
  for (int i = 0; i < 8; ++i) be[i] = uint8_t(sum >> (56 - 8 * i));
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fwrite(be, 1, 8, f);
  std::fclose(f);
  omamori::NetflowDecoder dec;
  std::string err;
  if (!dec.load_templates(path, err) && err.empty()) __builtin_trap();
  return 0;
}
