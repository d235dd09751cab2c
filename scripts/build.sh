#!/usr/bin/env bash
# Builds omamori. Usage: scripts/build.sh [release|asan|fuzz]  (default release)
#   release -> build/        asan -> build-asan/ (ASan+UBSan, for the tests)
#   fuzz    -> build-fuzz/ (clang, libFuzzer targets)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-release}
case "$kind" in
  release) dir=build; args=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan) dir=build-asan; args=(-DCMAKE_BUILD_TYPE=Debug -DOMAMORI_SANITIZE=ON -DOMAMORI_BENCH=OFF) ;;
  fuzz) dir=build-fuzz; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DOMAMORI_FUZZ=ON -DOMAMORI_TESTS=OFF
                              -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++) ;;
  *) echo "usage: $0 [release|asan|fuzz]" >&2; exit 2 ;;
esac
# ccache (when installed) makes rebuilds across worktrees and CI reruns cheap.
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$top")}"
  args+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$top" -B "$top/$dir" -G Ninja "${args[@]}" >/dev/null
ninja -C "$top/$dir" ${NINJA_JOBS:+-j "$NINJA_JOBS"}
