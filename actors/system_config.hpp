// The settings remit gives CAF's actor system, from an engine_config: the worker count and
// the scheduler policy. remit::engine uses this, and so does any program that must run
// actors on the same scheduler as the engine (the ThreadSanitizer checks in
// tests/sanitizers).
#pragma once

#include <caf/actor_system_config.hpp>

#include "actors/engine.hpp"

namespace remit::actors {

// Sets `scheduler.max-threads` and `scheduler.policy` in `cfg` and returns it.
caf::actor_system_config& configure_system(caf::actor_system_config& cfg, const engine_config& ec);

}  // namespace remit::actors
