#!/usr/bin/env bash
# remitd with TLS: the CLI and remit-load reach it over TLS with the server's certificate as
# their CA, and a plain TCP client is refused. The certificate is made here with openssl.
#   tls_e2e.sh REMITD REMIT_CLI
set -euo pipefail
remitd=$1 cli=$2
dir=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$dir/log" ] && cat "$dir/log" >&2; exit 1; }

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
"$remitd" --data-dir "$dir/data" --listen 127.0.0.1:0 --metrics off --durability off \
  --tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem" --port-file "$dir/port" 2>"$dir/log" &
pid=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
[ -s "$dir/port" ] || fail "remitd did not listen"
r=(--server "127.0.0.1:$(cat "$dir/port")" --key-file "$dir/data/keys")

"$cli" "${r[@]}" --tls --tls-ca "$dir/cert.pem" ping >/dev/null || fail "ping over TLS"
"$cli" "${r[@]}" --tls --tls-ca "$dir/cert.pem" --mac create-account --id 1 --ledger 1 --code 1 \
  >/dev/null || fail "create-account over TLS with MAC"
"$cli" "${r[@]}" --tls --tls-ca "$dir/cert.pem" create-account --id 2 --ledger 1 --code 1 \
  >/dev/null || fail "create-account over TLS"
"$cli" "${r[@]}" --tls --tls-ca "$dir/cert.pem" transfer --id 10 --debit 1 --credit 2 \
  --amount 5 --ledger 1 --code 1 >/dev/null || fail "transfer over TLS"
out=$("$cli" "${r[@]}" --tls --tls-ca "$dir/cert.pem" --json lookup-account 2)
grep -q '"credits_posted": *"5"' <<<"$out" || fail "lookup over TLS: $out"
set +e
"$cli" "${r[@]}" ping >/dev/null 2>&1
plain=$?
set -e
[ "$plain" -ne 0 ] || fail "a plain TCP client was served by a TLS-only server"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" -eq 0 ] || fail "remitd exited $rc after SIGTERM"
echo "ok: TLS (with and without MAC), and plain TCP refused"
