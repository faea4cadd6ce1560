#!/usr/bin/env bash
# The tracked Markdown files still read as Markdown: outside code fences, a heading has a
# space after its #s, and no line starts with a C++ formatter's continuation indent before
# a heading. A C++ formatter run over a .md file (it happened once) breaks both.
#   check_markdown.sh SOURCE_DIR
set -euo pipefail
cd "$1"
files=$(git ls-files '*.md' 2>/dev/null || find . -name '*.md' -not -path './build/*')
bad=0
for f in $files; do
  if ! awk -v file="$f" '
    /^```/ { fence = !fence; next }
    fence { next }
    /^#+[^# ]/ { printf "%s:%d: a heading without a space after its #s: %s\n", file, NR, $0; bad = 1 }
    /^ +#+ / { printf "%s:%d: an indented heading: %s\n", file, NR, $0; bad = 1 }
    END { exit bad }' "$f"; then
    bad=1
  fi
done
[ "$bad" = 0 ] || { echo "restore the file's Markdown (git log -p FILE)" >&2; exit 1; }
echo "markdown: $(wc -w <<<"$files") files clean"
