#!/usr/bin/env bash
# The test command: installs what is missing, builds with ASan+UBSan, runs
# every test against real peers on loopback, then runs each fuzz target
# briefly. Usage: scripts/test.sh [--no-fuzz]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh" asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd "$top/build-asan" && ctest --output-on-failure -j2 --timeout 600)
if [ "${1:-}" != "--no-fuzz" ]; then
  "$top/scripts/fuzz.sh" "${FUZZ_SECONDS:-10}"
fi
echo "all tests passed"
