// walk_chains: the one loop that walks a batch's linked chains (docs/PROTOCOL.md section 7,
// "Linked chains"), for accounts and transfers alike, for every owner that decides a batch.
//
// Events take effect one by one; a linked chain takes effect whole or not at all. The first
// event of a chain that fails keeps its code and the chain's later events get
// linked_event_failed without being applied; once it has failed, what the chain applied is
// rolled back and its earlier events are rewritten to linked_event_failed. A chain still open
// at the end of the batch fails whole (`open_chain_start`) and none of it is applied.
//
// Like TigerBeetle's scope_open/scope_close (src/state_machine.zig), the walker only says
// when a chain begins and when it must be undone; what "apply" and "undo" mean is the
// caller's, through its hooks:
//
//   h.begin_chain();    a chain begins: what is applied from now on may have to be undone
//   Code h.apply(const Event&, std::size_t index, bool chained, std::uint64_t& ts_out);
//                       the event's code; on ok or exists, ts_out is the timestamp to answer
//                       (the new object's, or the original's). `index` is the event's place in
//                       the batch, from which the hook computes the event's timestamp.
//   h.rollback();       undo everything applied since begin_chain (called once per failed
//                       chain, right after the failing apply, whose ts_out was read before)
//
// Results are result{code, 0, ts}, the timestamp kept only for ok and exists. Does not
// allocate. The chain state is two locals, asserted closed at the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/assert.hpp"
#include "engine/rules.hpp"
#include "engine/types.hpp"

namespace remit {

template <class Code, class Event, class Hooks>
void walk_chains(std::span<const Event> events, std::uint16_t linked_flag, std::span<result> out,
                 Hooks&& h) {
  REMIT_ASSERT(linked_flag != 0);
  REMIT_ASSERT(out.size() >= events.size());
  const auto code_of = [](Code c) { return static_cast<std::uint32_t>(c); };
  const std::size_t n = events.size();
  const std::size_t open_start = open_chain_start(events, linked_flag);
  for (std::size_t i = open_start; i < n; ++i) {
    const Code code = i + 1 == n ? Code::linked_event_chain_open : Code::linked_event_failed;
    out[i] = result{code_of(code), 0, 0};
  }

  constexpr std::size_t no_chain = SIZE_MAX;
  std::size_t chain_start = no_chain;  // the first event of the chain we are in
  bool chain_broken = false;           // an event of it failed: the rest are not applied
  for (std::size_t i = 0; i < open_start; ++i) {
    const bool linked = (events[i].flags & linked_flag) != 0;
    if (chain_start == no_chain && linked) {
      chain_start = i;
      h.begin_chain();
    }
    const bool chained = chain_start != no_chain;
    Code code = Code::linked_event_failed;
    std::uint64_t ts = 0;
    if (!chain_broken) {
      code = h.apply(events[i], i, chained, ts);
      // These two codes are the walker's alone.
      REMIT_ASSERT(code != Code::linked_event_failed);
      REMIT_ASSERT(code != Code::linked_event_chain_open);
    }
    const bool has_ts = code == Code::ok || code == Code::exists;
    out[i] = result{code_of(code), 0, has_ts ? ts : 0};
    if (chained && !chain_broken && code != Code::ok) {
      h.rollback();
      chain_broken = true;
      for (std::size_t j = chain_start; j < i; ++j)
        out[j] = result{code_of(Code::linked_event_failed), 0, 0};
    }
    if (chained && !linked) {  // the chain's last event
      chain_start = no_chain;
      chain_broken = false;
    }
  }
  // The events before open_start end with an unlinked one, which closed any chain.
  REMIT_ASSERT(chain_start == no_chain);
  REMIT_ASSERT(!chain_broken);
}

}  // namespace remit
