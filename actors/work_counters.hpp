// Per-transfer work counters of the actor engine: messages handled, account activations,
// rounds and batches. Each worker thread counts into a block of its own (a relaxed load and
// store of a counter only that thread writes, so counting costs no shared cache line); a
// reader sums every block, and the blocks of threads that have ended.
//
// Process-wide: every engine in the process counts into the same totals. Read them before
// and after a measured phase and divide the difference by the transfers it answered.
#pragma once

#include <atomic>
#include <cstdint>

#include "actors/engine.hpp"

namespace remit::actors {

enum class work : std::uint8_t {
  message,          // a message handled by any of the engine's actors
  account_message,  // of those, handled by an account host (one per host touched by a wave)
  round,            // a wave of a transfer batch sent to the accounts
  batch,            // a transfer batch run by a coordinator
  count_
};

struct work_block {
  std::atomic<std::uint64_t> n[static_cast<int>(work::count_)]{};
};

// This thread's block (registered on first use).
work_block& local_work_block();

inline void count(work w) noexcept {
  std::atomic<std::uint64_t>& c = local_work_block().n[static_cast<int>(w)];
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace remit::actors
