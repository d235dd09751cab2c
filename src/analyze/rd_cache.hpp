// Registered domains of recently seen names, for the per-event DNS path:
// libpsl takes ~1.7 us a call, and resolver traffic repeats the same names.
// A direct-mapped cache keyed by the whole name and verified against the
// stored text (no false hits); names longer than kMaxName bypass it.
// Fixed size (1 MiB), no allocation per name; not thread-safe.
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "core/psl.hpp"

namespace omamori {

class RegisteredDomainCache {
 public:
  RegisteredDomainCache() : slots_(new Slot[kSlots]) {}
  // registered_domain(name), from the cache when name was seen recently.
  std::string_view get(std::string_view name) {
    if (name.size() > kMaxName) return registered_domain(name);
    uint64_t h = XXH3_64bits(name.data(), name.size());
    Slot& s = slots_[h & (kSlots - 1)];
    if (s.hash == h && s.len == name.size() && std::memcmp(s.text, name.data(), name.size()) == 0)
      return s.rd_off < 0 ? std::string_view{} : name.substr(static_cast<size_t>(s.rd_off));
    std::string_view rd = registered_domain(name);
    s.hash = h;
    s.len = static_cast<uint8_t>(name.size());
    std::memcpy(s.text, name.data(), name.size());
    s.rd_off = rd.empty() ? int8_t{-1} : static_cast<int8_t>(rd.data() - name.data());
    return rd;
  }

 private:
  static constexpr size_t kSlots = 1 << 14;
  static constexpr size_t kMaxName = 54;
  struct Slot {
    uint64_t hash = 0;
    uint8_t len = 0;
    int8_t rd_off = -1;  // where the registered domain starts in the name; -1 = none
    char text[kMaxName] = {};
  };
  static_assert(sizeof(Slot) == 64);
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace omamori
