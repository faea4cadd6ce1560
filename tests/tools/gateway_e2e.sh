#!/usr/bin/env bash
# End to end through a real remitd (started by tests/protocol/run_with_remitd.sh, which
# appends HOST PORT KEYS_FILE): remit-load over the wire in batches and at batch 1, then the
# CLI creating accounts, moving money, refusing an overdraft with its result code, and
# reading balances, history and stats back as JSON.
#   gateway_e2e.sh REMIT_LOAD REMIT_CLI HOST PORT KEYS_FILE
set -euo pipefail
load=$1 cli=$2 host=$3 port=$4 keys=$5
fail() { echo "FAIL: $*" >&2; exit 1; }
json() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print($1)"; }

out=$("$load" --target "$host:$port" --key-file "$keys" --connections 2 --accounts 1000 \
        --transfers 20000 --json)
[ "$(json 'd["conserved"]' <<<"$out")" = True ] || fail "remit-load batches: not conserved: $out"
[ "$(json 'd["transfers"]' <<<"$out")" = 20000 ] || fail "remit-load batches: transfers: $out"
out=$("$load" --target "$host:$port" --key-file "$keys" --connections 2 --accounts 1000 \
        --mix mixed --batch 1 --inflight 16 --transfers 3000 --mac --json)
[ "$(json 'd["conserved"]' <<<"$out")" = True ] || fail "remit-load batch 1: not conserved: $out"
[ "$(json 'd["transfers"]' <<<"$out")" = 3000 ] || fail "remit-load batch 1: transfers: $out"

r=(--server "$host:$port" --key-file "$keys")
"$cli" "${r[@]}" ping >/dev/null || fail "ping"
"$cli" "${r[@]}" create-account --id 900001 --ledger 9 --code 1 >/dev/null || fail "create 900001"
"$cli" "${r[@]}" create-account --id 900002 --ledger 9 --code 1 \
  --flags debits_must_not_exceed_credits >/dev/null || fail "create 900002"
"$cli" "${r[@]}" transfer --id 910001 --debit 900001 --credit 900002 --amount 700 \
  --ledger 9 --code 1 >/dev/null || fail "transfer 910001"
set +e
err=$("$cli" "${r[@]}" transfer --id 910002 --debit 900002 --credit 900001 --amount 701 \
        --ledger 9 --code 1 2>&1 >/dev/null)
rc=$?
set -e
[ "$rc" = 1 ] || fail "an overdraft exited $rc, expected 1"
grep -q exceeds_credits <<<"$err" || fail "the overdraft's message does not name exceeds_credits: $err"
set +e
"$cli" "${r[@]}" transfer --id 910003 --debit 900001 --credit 900002 --amount 12x \
  --ledger 9 --code 1 >/dev/null 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "a bad amount exited $rc, expected 2"
acct=$("$cli" "${r[@]}" --json lookup-account 900001 900002)
python3 - "$acct" <<'PY' || fail "lookup-account: $acct"
import json, sys
d = json.loads(sys.argv[1])
accounts = d["accounts"] if isinstance(d, dict) else d
by_id = {a["id"]: a for a in accounts}
assert by_id["900001"]["debits_posted"] == "700", by_id
assert by_id["900002"]["credits_posted"] == "700", by_id
assert by_id["900002"]["debits_posted"] == "0", by_id
PY
hist=$("$cli" "${r[@]}" --json history --account 900002)
grep -q 910001 <<<"$hist" || fail "history of 900002 lacks 910001: $hist"
grep -q 910002 <<<"$hist" && fail "history of 900002 shows the refused 910002: $hist"
stats=$("$cli" "${r[@]}" --json stats --ledger 9)
python3 - "$stats" <<'PY' || fail "stats: $stats"
import json, sys
d = json.loads(sys.argv[1])
s = d.get("stats", d)
assert int(s["accounts"]) == 2, s
assert int(s["transfers_posted"]) == 1, s
assert int(s["volume_posted"]) == 700, s
PY
echo "ok: remit-load over the wire and the CLI end to end"
