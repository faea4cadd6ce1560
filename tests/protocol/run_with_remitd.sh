#!/usr/bin/env bash
# Starts remitd on a scratch data directory and a free port, runs a command against it with
# HOST PORT KEYS_FILE appended, then stops remitd with SIGTERM and requires a clean exit 0.
#   run_with_remitd.sh REMITD [remitd flags...] -- COMMAND [args...]
set -euo pipefail
remitd=$1; shift
flags=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do flags+=("$1"); shift; done
shift
dir=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
"$remitd" --data-dir "$dir/data" --listen 127.0.0.1:0 --metrics off --port-file "$dir/port" \
  "${flags[@]}" 2>"$dir/log" &
pid=$!
for _ in $(seq 100); do
  [ -s "$dir/port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/log" >&2; echo "remitd exited before listening" >&2; exit 1; }
  sleep 0.1
done
[ -s "$dir/port" ] || { cat "$dir/log" >&2; echo "remitd did not listen within 10 s" >&2; exit 1; }
status=0
"$@" 127.0.0.1 "$(cat "$dir/port")" "$dir/data/keys" || status=$?
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
cat "$dir/log" >&2
if [ "$rc" -ne 0 ]; then echo "remitd exited with $rc after SIGTERM" >&2; exit 1; fi
if grep -q "$(awk '{print $2}' "$dir/data/keys" | grep -v '^$' | tail -1)" "$dir/log"; then
  echo "remitd logged a secret" >&2; exit 1
fi
exit "$status"
