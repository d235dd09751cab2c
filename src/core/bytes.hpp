// Bounds-checked big-endian reading of untrusted buffers.
//
// Every decoder of network input reads through ByteReader: a read past the
// end never touches memory, it sets the reader's failed flag and yields zero,
// so decoders check once per structure instead of per field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace omamori {

inline uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t load_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}
inline uint64_t load_be64(const uint8_t* p) { return (uint64_t(load_be32(p)) << 32) | load_be32(p + 4); }
// Big-endian unsigned integer of 1..8 bytes (NetFlow/IPFIX reduced-size encoding).
inline uint64_t load_be_n(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n && i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

class ByteReader {
 public:
  ByteReader() = default;
  ByteReader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  explicit ByteReader(std::span<const uint8_t> s) : p_(s.data()), n_(s.size()) {}

  size_t size() const { return n_; }
  size_t offset() const { return off_; }
  size_t remaining() const { return n_ - off_; }
  bool failed() const { return failed_; }
  bool ok() const { return !failed_; }
  const uint8_t* data() const { return p_; }
  const uint8_t* cur() const { return p_ + off_; }

  bool has(size_t k) const { return !failed_ && n_ - off_ >= k; }

  uint8_t u8() { return need(1) ? p_[off_++] : 0; }
  uint16_t u16() {
    if (!need(2)) return 0;
    uint16_t v = load_be16(p_ + off_);
    off_ += 2;
    return v;
  }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v = load_be32(p_ + off_);
    off_ += 4;
    return v;
  }
  uint64_t u64() {
    if (!need(8)) return 0;
    uint64_t v = load_be64(p_ + off_);
    off_ += 8;
    return v;
  }
  // Returns a pointer to k bytes and advances, or nullptr (and fails).
  const uint8_t* bytes(size_t k) {
    if (!need(k)) return nullptr;
    const uint8_t* r = p_ + off_;
    off_ += k;
    return r;
  }
  bool skip(size_t k) { return bytes(k) != nullptr || k == 0; }
  // A sub-reader over the next k bytes; this reader advances past them.
  ByteReader sub(size_t k) {
    const uint8_t* b = bytes(k);
    return b ? ByteReader(b, k) : failed_reader();
  }
  void fail() { failed_ = true; }

 private:
  static ByteReader failed_reader() {
    ByteReader r;
    r.failed_ = true;
    return r;
  }
  bool need(size_t k) {
    if (failed_ || n_ - off_ < k) {
      failed_ = true;
      return false;
    }
    return true;
  }

  const uint8_t* p_ = nullptr;
  size_t n_ = 0;
  size_t off_ = 0;
  bool failed_ = false;
};

}  // namespace omamori
