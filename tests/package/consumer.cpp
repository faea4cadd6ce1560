// Embeds remit from the installed package: two accounts, one transfer, a lookup. Exits 0
// only if the money moved.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "actors/engine.hpp"

int main() {
  // A fresh data directory: the engine is durable by default and recovers what it finds.
  char dir[] = "/tmp/remit-consumer-XXXXXX";
  if (mkdtemp(dir) == nullptr) return 2;
  remit::engine_config cfg;
  cfg.data_dir = dir;
  remit::engine e(cfg);
  std::vector<remit::account> accounts(2, remit::account{});
  for (int i = 0; i < 2; ++i) {
    accounts[i].id = static_cast<remit::u128>(i + 1);
    accounts[i].ledger = 1;
    accounts[i].code = 1;
  }
  auto created = e.create_accounts(accounts).get();
  remit::transfer t{};
  t.id = 7;
  t.debit_account_id = 1;
  t.credit_account_id = 2;
  t.amount = 5;
  t.ledger = 1;
  t.code = 1;
  auto moved = e.create_transfers(std::vector<remit::transfer>{t}).get();
  std::vector<remit::u128> ids{2};
  auto looked = e.lookup_accounts(ids).get();
  const bool ok = created.results.size() == 2 && created.results[0].status == 0 &&
                  moved.results.size() == 1 && moved.results[0].status == 0 &&
                  looked.accounts.size() == 1 && looked.accounts[0].credits_posted == 5;
  std::printf("consumer: %s\n", ok ? "money moved" : "FAILED");
  return ok ? 0 : 1;
}
