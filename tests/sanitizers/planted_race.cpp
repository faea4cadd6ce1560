// planted_race: proof that ThreadSanitizer, with the project's suppressions
// (tests/sanitizers/tsan.supp), still sees the code of actor handlers.
//
// Every handler runs under CAF's scheduler, so every stack of a race in an account or shard
// handler has frames in the uninstrumented libcaf_core, and the worker thread was started
// from inside it: one suppression that matches such a frame hides every race in remit's
// actors. This program runs two typed actors on the engine's own scheduler settings
// (actors/system_config.hpp), with handlers written as remit's are (`received(self)` first,
// `send_to` for every send), and:
//
//   planted_race race      plants a data race: the two actors are activated at the same time
//                          on the two workers; the writer's handler stores to a plain field
//                          of a shared plan (planted_write) and the reader's handler loads it
//                          (planted_read), with nothing ordering the two. ThreadSanitizer
//                          must report it, naming both functions.
//   planted_race handoff   the control: the same store and load, but the reader loads only in
//                          the handler of the message the writer sent after its store, which
//                          is remit's hand-off. ThreadSanitizer must stay silent.
//
// Exit status: 0 when the run finished (and, under ThreadSanitizer, nothing was reported:
// TSan exits 66 on a report), 2 on bad usage, 3 when the actors did not run as planned.
// tests/sanitizers/CMakeLists.txt runs both modes through expect_tsan.cmake.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <future>
#include <string_view>
#include <thread>

#include <caf/all.hpp>

#include "actors/engine.hpp"
#include "actors/messages.hpp"
#include "actors/system_config.hpp"

namespace remit::actors::planted {

using go_atom = caf::atom_constant<caf::atom("go")>;
using value_atom = caf::atom_constant<caf::atom("value")>;

struct plan;
using plan_ptr = caf::intrusive_ptr<plan>;

// Both actors take the same messages: `go` starts a run, `value` says the store is done.
using probe_actor =
    caf::typed_actor<caf::reacts_to<go_atom, plan_ptr>, caf::reacts_to<value_atom, plan_ptr>>;

struct plan : shared_payload {  // messages.hpp: reference counting ThreadSanitizer sees
  bool rendezvous = false;      // race mode: both handlers run at the same time
  std::uint64_t value = 0;      // plain on purpose: the planted race is on this field
  std::uint64_t seen = 0;       // what the reader loaded
  std::atomic<int> arrived{0};  // relaxed only: gives ThreadSanitizer no ordering
  std::atomic<bool> together{false};
  probe_actor reader;
  std::promise<void> done;  // set by the reader when it has loaded
};

constexpr std::uint64_t planted_value = 42;

}  // namespace remit::actors::planted

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(remit::actors::planted::plan_ptr)

namespace remit::actors::planted {

namespace {

// The two accesses, out of line and kept whole (noipa: no inlining, and no IPA-SRA moving
// the load into the caller) so that the report names them.
[[gnu::noipa]] void planted_write(plan& p) {
  p.value = planted_value;
}
[[gnu::noipa]] std::uint64_t planted_read(const plan& p) {
  return p.value;
}

// Race mode: holds each handler until the other has started too, so the two run on
// different workers at the same moment. Relaxed atomics only, so ThreadSanitizer sees no
// happens-before between the handlers; the worker queue's mutex ordered both dequeues
// before this point, not the accesses after it.
void meet(plan& p) {
  if (!p.rendezvous) return;
  p.arrived.fetch_add(1, std::memory_order_relaxed);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (p.arrived.load(std::memory_order_relaxed) < 2) {
    if (std::chrono::steady_clock::now() > deadline) return;  // `together` stays false
    std::this_thread::yield();
  }
  p.together.store(true, std::memory_order_relaxed);
}

void read_and_finish(plan& p) {
  meet(p);
  p.seen = planted_read(p);
  p.done.set_value();
}

// Stateful, as remit's actors are, so that the handlers' stacks have the same frames.
struct probe_state {
  std::uint64_t activations = 0;
};
using probe_pointer = probe_actor::stateful_pointer<probe_state>;

probe_actor::behavior_type writer(probe_pointer self) {
  open_exit_activation(self);
  return {
      [self](go_atom, const plan_ptr& p) {
        const auto handoff = received(self);
        ++self->state.activations;
        meet(*p);
        planted_write(*p);
        if (!p->rendezvous) send_to(self, p->reader, value_atom::value, p);
      },
      [](value_atom, const plan_ptr&) {},
  };
}

probe_actor::behavior_type reader(probe_pointer self) {
  open_exit_activation(self);
  return {
      [self](go_atom, const plan_ptr& p) {  // race mode: at the same time as the writer
        const auto handoff = received(self);
        ++self->state.activations;
        read_and_finish(*p);
      },
      [self](value_atom, const plan_ptr& p) {  // hand-off mode: after the writer's send
        const auto handoff = received(self);
        ++self->state.activations;
        read_and_finish(*p);
      },
  };
}

int run(bool race) {
  engine_config ec;  // the engine's defaults: 2 workers, FIFO sharing
  caf::actor_system_config cfg;
  caf::actor_system sys{configure_system(cfg, ec)};
  auto p = caf::make_counted<plan>();
  p->rendezvous = race;
  p->reader = sys.spawn(reader);
  const auto w = sys.spawn(writer);
  auto done = p->done.get_future();
  anon_send_to(w, go_atom::value, p);
  if (race) anon_send_to(p->reader, go_atom::value, p);
  if (done.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    std::fprintf(stderr, "planted_race: the reader never ran\n");
    std::fflush(stderr);
    std::_Exit(3);  // the actor system would wait for the stuck actors forever
  }
  int rc = 0;
  if (race && !p->together.load(std::memory_order_relaxed)) {
    std::fprintf(stderr, "planted_race: the two handlers did not run at the same time\n");
    rc = 3;
  }
  if (!race && p->seen != planted_value) {
    std::fprintf(stderr, "planted_race: the reader saw %llu, not %llu\n",
                 static_cast<unsigned long long>(p->seen),
                 static_cast<unsigned long long>(planted_value));
    rc = 3;
  }
  std::printf("planted_race: %s mode done, the reader saw %llu\n", race ? "race" : "handoff",
              static_cast<unsigned long long>(p->seen));
  caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(p->reader, caf::exit_reason::user_shutdown);
  p->reader = probe_actor{};
  return rc;
}

}  // namespace

}  // namespace remit::actors::planted

int main(int argc, char** argv) {
  const std::string_view mode = argc == 2 ? argv[1] : "";
  if (mode != "race" && mode != "handoff") {
    std::fprintf(stderr, "usage: planted_race race|handoff\n");
    return 2;
  }
  return remit::actors::planted::run(mode == "race");
}
