// remit-load's reading of answers to a request the client library sent more than once (after
// a dropped connection, `unavailable` or not_primary: gateway/client/client.hpp). Pure.
#pragma once

#include <cstdint>
#include <span>

#include "engine/types.hpp"

namespace remit::load {

// Turns into `ok` the results of `events` that an earlier send of the same request created:
// a chain (or a single transfer) whose first event answers `exists` and every other event
// `linked_event_failed` (a chain is created whole or not at all, and the resend fails on its
// first event, which exists). Anything else is left as it is: a transfer that failed on the
// first send answers id_already_failed, a failure either way. Only for a request whose ids
// are this run's own (a resend of it is the only way they can exist). Returns how many
// results it turned into `ok`; their timestamps stay (the original's for the first event).
std::uint64_t count_resent_as_done(std::span<const transfer> events, std::span<result> results);

}  // namespace remit::load
