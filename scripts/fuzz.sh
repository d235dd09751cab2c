#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for N seconds (default 20),
# seeded from the component's testdata and ../shared/data where present.
# FUZZ_JOBS targets run at once (default: the number of cores).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-20}
jobs=${FUZZ_JOBS:-$(nproc)}
"$top/scripts/build.sh" fuzz
mkdir -p "$top/build-fuzz/corpus"

run_one() {
  local t=$1 name corpus seeds=()
  name=$(basename "$t")
  corpus="$top/build-fuzz/corpus/$name"
  mkdir -p "$corpus"
  [ -d "$top/fuzz/seeds/$name" ] && seeds+=("$top/fuzz/seeds/$name")
  while IFS= read -r d; do seeds+=("$d"); done < <(find "$top/src" -type d -path "*/testdata/$name")
  echo "fuzz: $name for ${secs}s" >&2
  if ! "$t" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=0 \
      "$corpus" "${seeds[@]}" >"$top/build-fuzz/$name.log" 2>&1; then
    echo "fuzz: $name FAILED, see build-fuzz/$name.log" >&2
    tail -40 "$top/build-fuzz/$name.log" >&2
    return 1
  fi
}

fail=0
running=0
for t in $(find "$top/build-fuzz/src" -maxdepth 3 -type f -name 'fuzz_*' -perm -u+x | sort); do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || fail=1
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || fail=1
  running=$((running - 1))
done
[ "$fail" -eq 0 ] && echo "fuzz: every target ran ${secs}s clean" >&2
exit $fail
