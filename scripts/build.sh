#!/usr/bin/env bash
# Builds omamori. Usage: scripts/build.sh [release|asan|fuzz]  (default release)
#   release -> build/        asan -> build-asan/ (ASan+UBSan, for the tests)
#   fuzz    -> build-fuzz/ (clang, libFuzzer targets)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-release}
case "$kind" in
  release) dir=build; args=(-DCMAKE_BUILD_TYPE=Release) ;;
  # -g1 (line tables) is all the sanitizers' reports need, and compiles a
  # quarter faster than -g; the fuzz targets run at -O1 for the same reason.
  asan) dir=build-asan; args=(-DCMAKE_BUILD_TYPE=Debug -DOMAMORI_SANITIZE=ON -DOMAMORI_BENCH=OFF
                              -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCMAKE_C_FLAGS_DEBUG=-g1) ;;
  fuzz) dir=build-fuzz; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DOMAMORI_FUZZ=ON -DOMAMORI_TESTS=OFF
                              -DOMAMORI_BENCH=OFF "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1"
                              "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1"
                              -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++) ;;
  *) echo "usage: $0 [release|asan|fuzz]" >&2; exit 2 ;;
esac
# ccache (when installed) makes rebuilds across worktrees and CI reruns cheap.
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$top")}"
  args+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$top" -B "$top/$dir" -G Ninja "${args[@]}" >/dev/null
targets=()
if [ "$kind" = fuzz ]; then
  # Only the fuzz targets (and the library they link), not the command line.
  mapfile -t targets < <(ninja -C "$top/$dir" -t targets all | sed -n 's/^\(\(.*\/\)\?fuzz_[A-Za-z0-9_]*\): .*/\1/p' | grep -v '\.')
fi
ninja -C "$top/$dir" ${NINJA_JOBS:+-j "$NINJA_JOBS"} "${targets[@]}"
