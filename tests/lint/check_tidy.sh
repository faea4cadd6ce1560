#!/usr/bin/env bash
# clang-tidy, with the checks of the root .clang-tidy (which says why those), over the
# project's own sources in the given directories; any warning fails, and so does any compile
# error (a missing include path is a `file not found` error, never a skipped file).
#   check_tidy.sh SOURCE_DIR BUILD_DIR DIR...
# BUILD_DIR must hold compile_commands.json (CMAKE_EXPORT_COMPILE_COMMANDS, on in every
# preset). REMIT_TIDY_JOBS clang-tidy processes run at once (default 2); CLANG_TIDY names
# the binary (default clang-tidy-14, which tools/deps installs). REMIT_TIDY_ANALYZER=1 adds
# the clang static analyzer (clang-analyzer-*): by hand, not in the suite; it takes about
# 25 minutes on 2 cores for the tree.
#
# The build may be g++'s, which clang does not fully understand: the compile commands are
# copied to a temporary directory without the flags listed in `gcc_only` below. A g++ flag
# that is not listed there shows as clang's unknown-warning-option or as an error, and fails
# the run: add it to the list rather than silence the diagnostic.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 SOURCE_DIR BUILD_DIR DIR..." >&2; exit 2; }
source_dir=$(cd "$1" && pwd)
build_dir=$(cd "$2" && pwd)
shift 2
clang_tidy=${CLANG_TIDY:-clang-tidy-14}
jobs=${REMIT_TIDY_JOBS:-2}
command -v "$clang_tidy" >/dev/null ||
  { echo "$clang_tidy is not installed (tools/deps installs clang-tidy)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is not installed (tools/deps)" >&2; exit 1; }
[ -f "$build_dir/compile_commands.json" ] || {
  echo "$build_dir/compile_commands.json is missing: configure with" \
    "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON (every preset sets it)" >&2
  exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/remit-tidy.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The compile commands of the sources under DIR... (not tests, benchmarks or fetched
# dependencies, which live elsewhere), without g++-only flags; one file name a line in
# $work/files. A directory without any source is a mistake in the caller: refuse it.
python3 - "$source_dir" "$build_dir" "$work" "$@" <<'EOF'
import json, os, shlex, sys
source_dir, build_dir, work, dirs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
# -Wno-error=restrict: GCC 12's bug 105329 workaround (cmake/remit_options.cmake).
# -Werror: compiler warnings are g++'s to judge; clang-tidy's own are errors below.
gcc_only = {"-Wno-error=restrict", "-Werror"}
with open(build_dir + "/compile_commands.json") as f:
    entries = json.load(f)
kept, files, seen = [], [], {d: 0 for d in dirs}
for e in entries:
    d = next((d for d in dirs if e["file"].startswith(f"{source_dir}/{d}/")), None)
    if d is None:
        continue
    args = e["arguments"] if "arguments" in e else shlex.split(e["command"])
    kept.append({"directory": e["directory"], "file": e["file"],
                 "arguments": [a for a in args if a not in gcc_only]})
    files.append(e["file"])
    seen[d] += 1
empty = [d for d, n in seen.items() if n == 0]
if empty:
    sys.exit(f"check_tidy: no compiled source under {', '.join(empty)} in {build_dir}")
with open(work + "/compile_commands.json", "w") as f:
    json.dump(kept, f)
with open(work + "/files", "w") as f:
    # The biggest first (a rough guess at the slowest), so that no long file starts last.
    unique = sorted(dict.fromkeys(files), key=lambda f: -os.path.getsize(f))
    f.write("\n".join(unique) + "\n")
EOF

# Headers are reported only under the directories checked, so that a directory not yet
# clean does not fail a run over the others through the headers they include.
header_filter="^${source_dir}/($(IFS='|'; echo "$*"))/"
checks=
if [ "${REMIT_TIDY_ANALYZER:-0}" = 1 ]; then
  checks="--checks=clang-analyzer-*,-clang-analyzer-optin.*,-clang-analyzer-webkit.*"
fi
export clang_tidy work header_filter checks
started=$SECONDS
# One log per file, so the outputs of parallel runs do not interleave; kept only when the
# file has findings or does not compile. A mark per file finished, so that a run cut short
# cannot pass.
mkdir "$work/done"
xargs -a "$work/files" -P "$jobs" -I{} bash -c '
  name=$(echo "$1" | tr / _)
  log="$work/$name.log"
  if "$clang_tidy" -p "$work" --quiet --warnings-as-errors="*" \
       --header-filter="$header_filter" ${checks:+"$checks"} \
       "$1" >"$log" 2>&1; then
    rm "$log"
  fi
  touch "$work/done/$name"' _ {} || true

count=$(wc -l <"$work/files")
finished=$(find "$work/done" -type f | wc -l)
if [ "$finished" -ne "$count" ]; then
  echo "clang-tidy: only $finished of $count files were checked" >&2
  exit 1
fi
failed=$(find "$work" -name '*.log' | sort)
if [ -n "$failed" ]; then
  # shellcheck disable=SC2086
  cat $failed
  echo "clang-tidy: $(wc -l <<<"$failed") of $count files have findings or do not compile" \
    "($((SECONDS - started)) s)" >&2
  exit 1
fi
echo "clang-tidy: $count files clean under $* ($((SECONDS - started)) s, $jobs jobs)"
