#include "actors/scheduler.hpp"

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include "engine/assert.hpp"

namespace remit::actors {
namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// The queue of runnable actors: FIFO, one for all workers, guarded by a mutex. `size_`
// mirrors the count for workers that spin on it without the lock.
class run_queue {
 public:
  void push(caf::resumable* job) {
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(m_);
      if (count_ == ring_.size()) grow();
      ring_[(head_ + count_) & (ring_.size() - 1)] = job;
      ++count_;
      size_.store(count_, std::memory_order_relaxed);
      wake = sleepers_ > 0;
    }
    if (wake) cv_.notify_one();
  }

  // The next job; spins up to `spin`, then sleeps, while there is none.
  caf::resumable* pop(std::chrono::nanoseconds spin) {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(m_);
        if (count_ > 0) return take();
      }
      if (spin.count() > 0 && spin_for(spin)) continue;
      std::unique_lock<std::mutex> lock(m_);
      ++sleepers_;
      cv_.wait(lock, [&] { return count_ > 0; });
      --sleepers_;
      return take();
    }
  }

  // Every job left, for the shutdown's clean-up.
  template <class F>
  void drain(F&& f) {
    std::lock_guard<std::mutex> lock(m_);
    while (count_ > 0) f(take());
  }

 private:
  // True when a job came within `spin`.
  bool spin_for(std::chrono::nanoseconds spin) const {
    const auto deadline = std::chrono::steady_clock::now() + spin;
    for (;;) {
      for (int i = 0; i < 16; ++i) {
        if (size_.load(std::memory_order_relaxed) != 0) return true;
        cpu_relax();
      }
      if (std::chrono::steady_clock::now() >= deadline) return false;
    }
  }

  caf::resumable* take() {  // under m_, count_ > 0
    caf::resumable* job = ring_[head_];
    head_ = (head_ + 1) & (ring_.size() - 1);
    --count_;
    size_.store(count_, std::memory_order_relaxed);
    return job;
  }

  void grow() {  // under m_
    std::vector<caf::resumable*> bigger(ring_.empty() ? 1024 : ring_.size() * 2);
    for (std::size_t i = 0; i < count_; ++i) bigger[i] = ring_[(head_ + i) & (ring_.size() - 1)];
    ring_ = std::move(bigger);
    head_ = 0;
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::vector<caf::resumable*> ring_;  // capacity a power of two
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::uint32_t sleepers_ = 0;
  std::atomic<std::size_t> size_{0};
};

// Ends the worker that resumes it (one per worker at shutdown).
class stop_job final : public caf::resumable {
 public:
  resume_result resume(caf::execution_unit*, std::size_t) override {
    return shutdown_execution_unit;
  }
  void intrusive_ptr_add_ref_impl() override {}
  void intrusive_ptr_release_impl() override {}
};

class fifo_coordinator final : public caf::scheduler::abstract_coordinator {
 public:
  fifo_coordinator(caf::actor_system& sys, std::chrono::nanoseconds spin)
      : abstract_coordinator(sys), spin_(spin) {}

  void enqueue(caf::resumable* job) override { queue_.push(job); }
  caf::detail::thread_safe_actor_clock& clock() noexcept override { return clock_; }

 protected:
  void start() override {
    const std::size_t n = num_workers();
    REMIT_ASSERT(n >= 1);
    workers_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) workers_.push_back(std::make_unique<worker>(this));
    for (auto& w : workers_) {
      worker* self = w.get();
      w->thread = std::thread([self] { self->run(); });
    }
    timer_ = std::thread([this] {
      CAF_SET_LOGGER_SYS(&system());
      caf::detail::set_thread_name("caf.clock");
      system().thread_started();
      clock_.run_dispatch_loop();
      system().thread_terminates();
    });
    abstract_coordinator::start();
  }

  void stop() override {
    // As CAF's coordinator: the workers end first (each takes one stop job off the FIFO
    // queue after what was queued before it), then the utility actors are told to stop and
    // whatever is still queued is released.
    std::vector<stop_job> stops(workers_.size());
    for (stop_job& s : stops) queue_.push(&s);
    for (auto& w : workers_) w->thread.join();
    stop_actors();
    queue_.drain([](caf::resumable* job) { cleanup_and_release(job); });
    clock_.cancel_dispatch_loop();
    timer_.join();
  }

 private:
  class worker final : public caf::execution_unit {
   public:
    explicit worker(fifo_coordinator* parent)
        : caf::execution_unit(&parent->system()), parent_(parent) {}

    // An actor running here scheduled another: it goes to the back of the shared queue.
    void exec_later(caf::resumable* job) override { parent_->queue_.push(job); }

    void run() {
      CAF_SET_LOGGER_SYS(&system());
      caf::detail::set_thread_name("caf.worker");
      system().thread_started();
      for (;;) {
        caf::resumable* job = parent_->queue_.pop(parent_->spin_);
        switch (job->resume(this, parent_->max_throughput())) {
          case caf::resumable::resume_later:
            parent_->queue_.push(job);  // it keeps its reference
            break;
          case caf::resumable::done:
          case caf::resumable::awaiting_message:
            caf::intrusive_ptr_release(job);
            break;
          case caf::resumable::shutdown_execution_unit:
            system().thread_terminates();
            return;
        }
      }
    }

    std::thread thread;

   private:
    fifo_coordinator* parent_;
  };

  const std::chrono::nanoseconds spin_;
  run_queue queue_;
  caf::detail::thread_safe_actor_clock clock_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::thread timer_;
};

}  // namespace

void load_remit_scheduler(caf::actor_system_config& cfg, std::chrono::nanoseconds spin) {
  cfg.module_factories.push_back([spin](caf::actor_system& sys) -> caf::actor_system::module* {
    return new fifo_coordinator(sys, spin);
  });
}

}  // namespace remit::actors
