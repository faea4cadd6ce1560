// A journal's term history: which term (which primary) wrote which records.
//
// Each term that wrote records starts with a term_started record (engine/journal_format.hpp);
// the history lists those terms in order with the LSN of their first record. The records of
// a term run from its first_lsn to the next entry's first_lsn - 1 (the last one's, to the
// journal's end); the records before the first entry are of term 0. Terms strictly increase
// along the history, and so do the first LSNs. A primary compares a returning node's last
// term and its start with its own history to find where the two journals part
// (docs/CLUSTER.md, "How the primary answers").
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/assert.hpp"

namespace remit {

struct term_start {
  std::uint64_t term = 0;
  std::uint64_t first_lsn = 0;  // the LSN of the term's term_started record

  friend bool operator==(const term_start&, const term_start&) = default;
};

// The term of the last entry; 0 when there is none.
inline std::uint64_t last_term(std::span<const term_start> history) {
  return history.empty() ? 0 : history.back().term;
}

// A term_started record of `term` with LSN `lsn`: appends it when the term is newer than the
// last one and returns true. The same term again is a primary that restarted in its own
// term: nothing changes (false). An older term, or an LSN not after the last entry's, cannot
// come from a journal written by this rule.
inline bool add_term_start(std::vector<term_start>& history, std::uint64_t term,
                           std::uint64_t lsn) {
  REMIT_ASSERT(term >= last_term(history));
  if (term == last_term(history)) return false;
  REMIT_ASSERT(lsn >= 1 && (history.empty() || lsn > history.back().first_lsn));
  history.push_back(term_start{term, lsn});
  return true;
}

// Whether `history` could be one a journal up to `last_lsn` gives: terms from 1 and first
// LSNs from 1 strictly increasing, the last first LSN at most last_lsn. False with `why`.
[[nodiscard]] inline bool valid_term_history(std::span<const term_start> history,
                                             std::uint64_t last_lsn, std::string& why) {
  std::uint64_t term = 0;
  std::uint64_t lsn = 0;
  for (const term_start& t : history) {
    if (t.term <= term || t.first_lsn <= lsn || t.first_lsn > last_lsn) {
      why = "term " + std::to_string(t.term) + " from LSN " + std::to_string(t.first_lsn) +
            " does not follow term " + std::to_string(term) + " from LSN " + std::to_string(lsn) +
            " (last LSN " + std::to_string(last_lsn) + ")";
      return false;
    }
    term = t.term;
    lsn = t.first_lsn;
  }
  return true;
}

}  // namespace remit
