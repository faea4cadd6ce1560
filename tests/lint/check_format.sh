#!/usr/bin/env bash
# Every C++ file the repository tracks is formatted as .clang-format says.
#   check_format.sh SOURCE_DIR
set -euo pipefail
cd "$1"
command -v clang-format >/dev/null || { echo "clang-format is not installed (tools/deps installs clang)"; exit 1; }
files=$(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find engine actors gateway tools tests bench -name '*.[ch]pp')
# shellcheck disable=SC2086
if ! clang-format --dry-run --Werror $files; then
  echo "run: git ls-files '*.cpp' '*.hpp' | xargs clang-format -i" >&2
  exit 1
fi
echo "clang-format: $(wc -w <<<"$files") files clean"
