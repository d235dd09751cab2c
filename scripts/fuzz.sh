#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for N seconds (default 20),
# seeded from the component's testdata and ../shared/data where present.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-20}
"$top/scripts/build.sh" fuzz
mkdir -p "$top/build-fuzz/corpus"
fail=0
for t in $(find "$top/build-fuzz/src" -maxdepth 3 -type f -name 'fuzz_*' -perm -u+x | sort); do
  name=$(basename "$t")
  corpus="$top/build-fuzz/corpus/$name"
  mkdir -p "$corpus"
  seeds=()
  [ -d "$top/fuzz/seeds/$name" ] && seeds+=("$top/fuzz/seeds/$name")
  while IFS= read -r d; do seeds+=("$d"); done < <(find "$top/src" -type d -path "*/testdata/$name")
  echo "fuzz: $name for ${secs}s" >&2
  if ! "$t" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=0 \
      "$corpus" "${seeds[@]}" >"$top/build-fuzz/$name.log" 2>&1; then
    echo "fuzz: $name FAILED, see build-fuzz/$name.log" >&2
    tail -40 "$top/build-fuzz/$name.log" >&2
    fail=1
  fi
done
exit $fail
