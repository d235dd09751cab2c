// Structured logging (spdlog) and a rate limiter for logging per-input errors.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdint>
#include <string_view>

#include "core/time.hpp"

namespace omamori {

// Configure the default logger: level name ("trace".."off"), output to stderr,
// UTC timestamps. Messages carry their context as key=value pairs.
void setup_logging(std::string_view level);

// Allows at most `burst` messages per `period_ms`; counts what it suppresses.
class RateLimit {
 public:
  explicit RateLimit(uint32_t burst = 10, int64_t period_ms = 10000) : burst_(burst), period_(period_ms) {}
  bool allow() {
    TimeMs now = now_ms();
    if (now - window_start_ >= period_) {
      window_start_ = now;
      used_ = 0;
    }
    if (used_ < burst_) {
      ++used_;
      return true;
    }
    ++suppressed_;
    return false;
  }
  uint64_t suppressed() const { return suppressed_; }

 private:
  uint32_t burst_;
  int64_t period_;
  TimeMs window_start_ = 0;
  uint32_t used_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace omamori
