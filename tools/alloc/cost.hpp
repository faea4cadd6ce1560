// What the process has spent, and the difference of two marks per transfer: the per-transfer
// figures of remit-load (`per_transfer`) and of the engine benchmark.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <optional>

#include "actors/engine.hpp"
#include "tools/alloc/alloc_count.hpp"

namespace remit {

struct cost_mark {
  double cpu_s = 0;                          // the whole process, user and system
  std::optional<std::uint64_t> allocations;  // where the counting hook is linked in
  std::optional<work_counters> work;         // where an engine runs in this process

  static cost_mark now(std::optional<work_counters> work) {
    cost_mark m;
    rusage ru{};
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
      m.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    }
    m.allocations = allocations_so_far();
    m.work = work;
    return m;
  }
};

// From mark `a` to mark `b`, divided by `transfers` (rounds: by the batches run). A figure
// is absent when either mark lacks it.
struct cost_per_transfer {
  double cpu_us = 0;
  std::optional<double> allocations;
  std::optional<double> messages;
  std::optional<double> account_activations;
  std::optional<double> rounds_per_batch;  // absent too when no batch ran
};

inline cost_per_transfer per_transfer(const cost_mark& a, const cost_mark& b,
                                      std::uint64_t transfers) {
  cost_per_transfer c;
  if (transfers == 0) return c;
  const double n = static_cast<double>(transfers);
  c.cpu_us = (b.cpu_s - a.cpu_s) * 1e6 / n;
  if (a.allocations && b.allocations)
    c.allocations = static_cast<double>(*b.allocations - *a.allocations) / n;
  if (a.work && b.work) {
    c.messages = static_cast<double>(b.work->messages - a.work->messages) / n;
    c.account_activations =
        static_cast<double>(b.work->account_messages - a.work->account_messages) / n;
    if (const std::uint64_t batches = b.work->batches - a.work->batches; batches != 0) {
      c.rounds_per_batch =
          static_cast<double>(b.work->rounds - a.work->rounds) / static_cast<double>(batches);
    }
  }
  return c;
}

}  // namespace remit
