// The model, the serial reference ledger and the actor engine fed the same requests at the
// same injected time, one request at a time (each waits for the previous answer), so
// section 8 leaves no room for a race between them.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "actors/engine.hpp"
#include "engine/reference_ledger.hpp"
#include "engine/types.hpp"
#include "tests/model/ledger_model.hpp"
#include "tests/support/builders.hpp"
#include "tests/support/engine_calls.hpp"

namespace remit::model {

// The same call's answers from the three sides.
template <class T>
struct answers {
  std::vector<T> model;
  std::vector<T> reference;
  std::vector<T> engine;
};

inline engine_config three_sides_config(std::uint32_t shards) {
  engine_config c;
  c.shards = shards;
  c.threads = 2;
  c.durability = false;
  c.snapshot_at_shutdown = false;
  c.expiry_interval_ms = 1;  // the sweep reads the injected clock this often
  return c;
}

class three_sides {
 public:
  explicit three_sides(std::uint32_t shards = 2, std::uint64_t start_ns = test::epoch_2023_ns)
      : clock_(start_ns) {
    engine_config cfg = three_sides_config(shards);
    cfg.clock = clock_.fn();
    eng_ = std::make_unique<engine>(std::move(cfg));
  }

  std::uint64_t now() const { return clock_.get(); }
  void set_clock(std::uint64_t ns) { clock_.set(ns); }
  engine& eng() { return *eng_; }
  reference_ledger& ref() { return ref_; }
  ledger_model& model() { return model_; }

  answers<result> accounts(const std::vector<account>& events) {
    answers<result> a;
    a.model = model_.create_accounts(events, now());
    a.reference.resize(events.size());
    ref_.create_accounts(events, now(), a.reference);
    a.engine = test::create_accounts(*eng_, events);
    return a;
  }
  answers<result> transfers(const std::vector<transfer>& events) {
    answers<result> a;
    a.model = model_.create_transfers(events, now());
    a.reference.resize(events.size());
    ref_.create_transfers(events, now(), a.reference);
    a.engine = test::create_transfers(*eng_, events);
    return a;
  }
  answers<result> controls(const std::vector<account_controls>& events) {
    answers<result> a;
    a.model = model_.set_account_controls(events);
    a.reference.resize(events.size());
    ref_.set_account_controls(events, a.reference);
    a.engine = test::set_controls(*eng_, events);
    return a;
  }
  answers<account> lookup_accounts(const std::vector<u128>& ids) {
    answers<account> a;
    a.model = model_.lookup_accounts(ids);
    a.reference.resize(ids.size());
    a.reference.resize(ref_.lookup_accounts(ids, a.reference));
    a.engine = test::lookup_accounts(*eng_, ids);
    return a;
  }
  answers<transfer> lookup_transfers(const std::vector<u128>& ids) {
    answers<transfer> a;
    a.model = model_.lookup_transfers(ids);
    a.reference.resize(ids.size());
    a.reference.resize(ref_.lookup_transfers(ids, a.reference));
    a.engine = test::lookup_transfers(*eng_, ids);
    return a;
  }
  answers<transfer> account_transfers(const account_filter& f) {
    answers<transfer> a;
    a.model = model_.get_account_transfers(f);
    a.reference.resize(f.limit);
    a.reference.resize(ref_.get_account_transfers(f, a.reference));
    engine_reply r = test::get_reply(eng_->get_account_transfers(f), "get_account_transfers");
    a.engine = std::move(r.transfers);
    return a;
  }
  answers<ledger_stats> stats(std::uint32_t ledger) {
    answers<ledger_stats> a;
    a.model = {model_.get_ledger_stats(ledger)};
    a.reference = {ref_.get_ledger_stats(ledger)};
    a.engine = {test::stats(*eng_, ledger)};
    return a;
  }

 private:
  test::manual_clock clock_;
  std::unique_ptr<engine> eng_;
  reference_ledger ref_;
  ledger_model model_;
};

// Two lists equal item by item, byte for byte; the message shows the first differences.
template <class T>
::testing::AssertionResult same_items(const std::vector<T>& expected,
                                      const std::vector<T>& actual) {
  if (expected.size() != actual.size()) {
    return ::testing::AssertionFailure()
           << expected.size() << " items expected, " << actual.size() << " found";
  }
  ::testing::AssertionResult r = ::testing::AssertionSuccess();
  int diffs = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (test::same_bytes(expected[i], actual[i])) continue;
    if (diffs++ == 0) r = ::testing::AssertionFailure();
    if (diffs <= 4) {
      r << "\n  [" << i << "] expected " << test::describe(expected[i]) << "\n  [" << i
        << "] actual   " << test::describe(actual[i]);
    }
  }
  return r;
}

inline std::vector<std::uint32_t> codes_of(const std::vector<result>& rs) {
  std::vector<std::uint32_t> out;
  for (const result& r : rs) out.push_back(r.status);
  return out;
}

}  // namespace remit::model
