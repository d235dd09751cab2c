// Memory accounting for the detectors' hash tables: what a table's slots and
// control bytes take on the heap (Abseil's Swiss tables: one slot plus one
// control byte per bucket of capacity).
#pragma once

#include <cstddef>
#include <string>

namespace omamori {

template <typename Map>
size_t table_bytes(const Map& m) {
  return m.capacity() == 0 ? 0 : m.capacity() * (sizeof(typename Map::value_type) + 1);
}

// Heap bytes of a std::string beyond its inline buffer.
inline size_t string_heap_bytes(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; }

}  // namespace omamori
