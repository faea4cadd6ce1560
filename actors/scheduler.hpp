// remit's own scheduler for CAF 0.17 (engine_config::scheduler_policy = "remit"): one FIFO
// queue shared by every worker, as CAF's work-sharing policy, with three differences that the
// per-transfer counters and the profile asked for:
//
// - An idle worker spins for up to `spin` on the queue before it sleeps, so a message sent
//   to an idle engine does not wait for a thread to wake (tens of microseconds on this
//   machine's virtual CPUs, the bulk of a batch-1 transfer's latency). A sender wakes a
//   worker (a futex call) only when one is asleep.
// - No allocation per scheduled actor: CAF's sharing policy splices a std::list node for
//   each; this queue is a ring that grows and stays.
// - No dynamic_cast per activation: CAF's worker loop casts every job to find its actor id
//   for the logger, even with logging compiled out (about 5% of the engine's CPU).
//
// The spin costs CPU while the engine is busy enough to keep workers spinning and idle
// otherwise: a worker that finds nothing for `spin` sleeps until a message comes.
#pragma once

#include <chrono>

#include <caf/actor_system_config.hpp>

namespace remit::actors {

// Loads the scheduler into `cfg`; the worker count is `scheduler.max-threads`.
void load_remit_scheduler(caf::actor_system_config& cfg, std::chrono::nanoseconds spin);

}  // namespace remit::actors
