#!/usr/bin/env bash
# Builds critnet and runs every test: the normal build (warnings are errors), then the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer. Run from anywhere; .ci/run calls this.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
jobs=$(nproc)
echo "== normal build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCN_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 900)
echo "== ASan+UBSan build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCN_WERROR=ON -DCN_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
# OpenBLAS and the Python reference are not instrumented; leaks inside them are not ours
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j"$jobs" --timeout 900)
