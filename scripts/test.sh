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
# leaks inside the plotting stack's font libraries are not ours: tests/lsan.supp names them
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    LSAN_OPTIONS=suppressions=$root/tests/lsan.supp \
    ctest --output-on-failure -j"$jobs" --timeout 900)
