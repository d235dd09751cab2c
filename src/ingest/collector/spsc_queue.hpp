// A bounded single-producer single-consumer ring of fixed-size slots.
//
// The producer (one collector worker) fills the slot it got from
// producer_slot(), then publishes it with push(); the consumer (the output
// thread) reads front() and releases it with pop(). No locks and no
// allocation after construction; head and tail live on their own cache lines
// and each side caches the other's index to touch the shared line rarely.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>

namespace omamori {

template <typename Slot>
class SpscQueue {
 public:
  // capacity: number of slots (rounded up to a power of two, at least 2).
  explicit SpscQueue(size_t capacity) {
    size_t c = 2;
    while (c < capacity) c <<= 1;
    mask_ = c - 1;
    slots_ = std::make_unique<Slot[]>(c);
  }
  SpscQueue(const SpscQueue&) = delete;
  SpscQueue& operator=(const SpscQueue&) = delete;

  size_t capacity() const { return mask_ + 1; }

  // Producer: the next free slot, or nullptr when the queue is full.
  Slot* producer_slot() {
    size_t h = head_.load(std::memory_order_relaxed);
    if (h - tail_cache_ > mask_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (h - tail_cache_ > mask_) return nullptr;
    }
    return &slots_[h & mask_];
  }
  // Producer: publishes the slot returned by producer_slot().
  void push() { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

  // Consumer: the oldest published slot, or nullptr when empty.
  Slot* front() {
    size_t t = tail_.load(std::memory_order_relaxed);
    if (t == head_cache_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (t == head_cache_) return nullptr;
    }
    return &slots_[t & mask_];
  }
  // Consumer: releases the slot returned by front().
  void pop() { tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

  // Approximate number of published slots (any thread).
  size_t size() const {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }

 private:
  static constexpr size_t kLine = 64;
  alignas(kLine) std::atomic<size_t> head_{0};  // written by the producer
  size_t tail_cache_ = 0;                       // producer's view of tail_
  alignas(kLine) std::atomic<size_t> tail_{0};  // written by the consumer
  size_t head_cache_ = 0;                       // consumer's view of head_
  alignas(kLine) size_t mask_ = 0;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace omamori
