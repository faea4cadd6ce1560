#include "actors/work_counters.hpp"

#include <memory>
#include <mutex>
#include <vector>

namespace remit {
namespace actors {
namespace {

constexpr int kinds = static_cast<int>(work::count_);

struct registry {
  std::mutex m;
  std::vector<work_block*> live;      // under m
  std::uint64_t retired[kinds] = {};  // under m: the blocks of threads that have ended
};

registry& reg() {
  static registry* r = new registry;  // never destroyed: threads may end after main
  return *r;
}

// Registers this thread's block, and folds it into `retired` when the thread ends.
struct holder {
  work_block block;
  holder() {
    registry& r = reg();
    std::lock_guard<std::mutex> lock(r.m);
    r.live.push_back(&block);
  }
  ~holder() {
    registry& r = reg();
    std::lock_guard<std::mutex> lock(r.m);
    for (int i = 0; i < kinds; ++i) r.retired[i] += block.n[i].load(std::memory_order_relaxed);
    std::erase(r.live, &block);
  }
};

}  // namespace

work_block& local_work_block() {
  thread_local holder h;
  return h.block;
}

}  // namespace actors

work_counters engine_work_counters() {
  actors::registry& r = actors::reg();
  std::uint64_t sum[actors::kinds];
  {
    std::lock_guard<std::mutex> lock(r.m);
    for (int i = 0; i < actors::kinds; ++i) {
      sum[i] = r.retired[i];
      for (const actors::work_block* b : r.live) sum[i] += b->n[i].load(std::memory_order_relaxed);
    }
  }
  using actors::work;
  work_counters c;
  c.messages = sum[static_cast<int>(work::message)];
  c.account_messages = sum[static_cast<int>(work::account_message)];
  c.rounds = sum[static_cast<int>(work::round)];
  c.batches = sum[static_cast<int>(work::batch)];
  return c;
}

}  // namespace remit
