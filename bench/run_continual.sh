#!/usr/bin/env bash
# run_continual.sh: the speed of `critnet continual --method bp` (Online Permuted MNIST, 784 -> 3 hidden
# ReLU layers of width W -> 10, batch 1, SGD at 0.003, each example scored before its update) against the
# same batch-1 loop in PyTorch (bench/torch_continual.py), in one run, at 1 and 2 threads each. Prints a
# markdown table (steps/s of both, the ratio of the bests, the issue-5 target), then the memory-bandwidth
# limit at the largest width: a STREAM-like test compiled here measures the machine's bandwidth, and the
# report gives the fraction of the resulting steps/s limit that critnet reaches.
# Targets (issue 5): >= 10x PyTorch's steps/s at width 100, >= 2x at width 2000.
#
# usage: bench/run_continual.sh [--short | --render FILE.json]
#   (full)         widths 100 and 2000, 20,000 and 2,000 timed steps, best of 3 rounds; writes
#                  bench/results/continual.md and continual.json (every round's figures)
#   --short        widths 100 and 500, 1,000 and 200 steps, one round (under 30 s), for the test suite;
#                  writes nothing; numbers are indicative only
#   --render FILE  measure nothing: rewrite continual.md (and .json) from the figures a full run stored
#                  in FILE, after a change to the report's wording
# env: CRITNET_BIN (default build/critnet), CC (default cc)
# Exit status: 0, or 1 when a step failed. Never on speed: a shared machine cannot promise one.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${CRITNET_BIN:-$ROOT/build/critnet}
PY=/usr/bin/python3 # Debian's python3-torch; never a virtualenv's python
MODE=full
while [ $# -gt 0 ]; do
    case $1 in
    --short) MODE=short ;;
    --render) MODE=render; RENDER=${2:?--render needs a continual.json}; shift ;;
    -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "run_continual.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done

L2_BYTES=$(getconf LEVEL2_CACHE_SIZE 2>/dev/null || true)
export L2_BYTES
if [ "$MODE" = render ]; then
    exec "$PY" "$ROOT/bench/continual_report.py" --render "$RENDER" --out-dir "$ROOT/bench/results"
fi

[ -x "$BIN" ] || { echo "run_continual.sh: $BIN is missing (build critnet first)" >&2; exit 1; }
[ -f "$ROOT/data/mnist/all-images-idx3-ubyte.gz" ] ||
    { echo "run_continual.sh: no data/mnist (run scripts/setup.sh)" >&2; exit 1; }
"$PY" -c 'import torch' 2>/dev/null || { echo "run_continual.sh: $PY cannot import torch (apt install python3-torch)" >&2; exit 1; }

if [ "$MODE" = short ]; then
    WIDTHS=(100 500); STEPS=(1000 200); ROUNDS=1; WARMUP=20
    STREAM_N=$((16 * 1024 * 1024)); STREAM_REPS=4
else
    WIDTHS=(100 2000); STEPS=(20000 2000); ROUNDS=3; WARMUP=200
    STREAM_N=$((64 * 1024 * 1024)); STREAM_REPS=10
fi
THREADS=(1 2)

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# both sides set their threads themselves; inherited settings would skew them
unset OPENBLAS_NUM_THREADS OMP_NUM_THREADS OMP_WAIT_POLICY GOMP_SPINCOUNT

# ---------------------------------------------------------------- memory bandwidth
# read: s += a[i] (what a gemv does to W); update: a[i] = q a[i] + r in place (what the fused SGD update,
# a rank-1 ger on W, does: read and write back); triad: a[i] = b[i] + q c[i], STREAM's figure. Bytes are
# counted as STREAM does (4 per float read or written; the write-allocate read of triad not counted).
cat >"$TMP/stream.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <omp.h>
static double best(double a, double b) { return a < b ? a : b; }
int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    const long n = atol(argv[1]);
    const int reps = atoi(argv[2]);
    float *a = aligned_alloc(64, ((size_t)n * 4 + 63) / 64 * 64), *b = aligned_alloc(64, ((size_t)n * 4 + 63) / 64 * 64),
          *c = aligned_alloc(64, ((size_t)n * 4 + 63) / 64 * 64);
    if (!a || !b || !c) return 1;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) a[i] = 1, b[i] = 2, c[i] = 0.5f;
    double tr = 1e30, tu = 1e30, tt = 1e30, sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = omp_get_wtime(), s = 0;
        /* 64 independent partial sums, so that the adds' latency does not limit the read rate */
#pragma omp parallel reduction(+ : s)
        {
            float acc[64] = {0};
#pragma omp for schedule(static)
            for (long i = 0; i < n / 64 * 64; i += 64)
                for (int j = 0; j < 64; j++) acc[j] += a[i + j];
            for (int j = 0; j < 64; j++) s += acc[j];
        }
        double t1 = omp_get_wtime();
#pragma omp parallel for simd schedule(static)
        for (long i = 0; i < n; i++) a[i] = 0.999f * a[i] + 0.001f;
        double t2 = omp_get_wtime();
#pragma omp parallel for simd schedule(static)
        for (long i = 0; i < n; i++) c[i] = a[i] + 0.5f * b[i];
        double t3 = omp_get_wtime();
        tr = best(tr, t1 - t0), tu = best(tu, t2 - t1), tt = best(tt, t3 - t2), sink += s + c[r];
    }
    printf("{\"floats\": %ld, \"threads\": %d, \"read_GBs\": %.3f, \"update_GBs\": %.3f, \"triad_GBs\": %.3f, \"sink\": %g}\n",
           n, omp_get_max_threads(), 4e-9 * n / tr, 8e-9 * n / tu, 12e-9 * n / tt, sink);
    free(a), free(b), free(c);
    return 0;
}
EOF
"${CC:-cc}" -std=c11 -O3 -march=native -fopenmp "$TMP/stream.c" -o "$TMP/stream"
# the parameter count of the largest width: the working set critnet sweeps every step
WMAX=${WIDTHS[-1]}
NPARAM=$((784 * WMAX + WMAX + 2 * (WMAX * WMAX + WMAX) + WMAX * 10 + 10))
read -r LOAD_START _ </proc/loadavg
echo "continual benchmark ($MODE): widths ${WIDTHS[*]}, load average $LOAD_START on $(nproc) cores" >&2
for t in "${THREADS[@]}"; do
    OMP_NUM_THREADS=$t "$TMP/stream" "$STREAM_N" "$STREAM_REPS" >"$TMP/stream_dram_$t.json"
    OMP_NUM_THREADS=$t "$TMP/stream" "$NPARAM" "$STREAM_REPS" >"$TMP/stream_weights_$t.json"
done

# ---------------------------------------------------------------- critnet and PyTorch, alternating
# critnet: --tasks x --examples-per-task = the timed steps (a task holds at most the 8,000 training digits);
# its summary.json reports steps_per_second over the training loop only, so the data loading and the
# per-task measurements (kept small anyway: --probe-samples 100 --track 0) are left out.
steps_csv=$(IFS=,; echo "${STEPS[*]}")
widths_csv=$(IFS=,; echo "${WIDTHS[*]}")
for r in $(seq 1 "$ROUNDS"); do
    for i in "${!WIDTHS[@]}"; do
        w=${WIDTHS[$i]} n=${STEPS[$i]}
        ept=$((n < 5000 ? n : 5000))
        for t in "${THREADS[@]}"; do
            "$BIN" continual --data mnist --data-root "$ROOT/data" --method bp --width "$w" \
                --tasks $((n / ept)) --examples-per-task "$ept" --threads "$t" --probe-samples 100 --track 0 \
                --checkpoint-every 1000 --no-plot --quiet --out "$TMP/cn_${w}_${t}_$r" >/dev/null
        done
    done
    "$PY" "$ROOT/bench/torch_continual.py" --widths "$widths_csv" --steps "$steps_csv" --threads 1,2 \
        --reps 1 --warmup "$WARMUP" --data-root "$ROOT/data/mnist" --json "$TMP/torch_$r.json" >&2
done
read -r LOAD_END _ </proc/loadavg

# ---------------------------------------------------------------- report
# the report (table, bandwidth limit) is bench/continual_report.py, so that --render can redo it from the JSON
OUT=()
[ "$MODE" = full ] && OUT=(--out-dir "$ROOT/bench/results")
"$PY" "$ROOT/bench/continual_report.py" --collect "$TMP" --mode "$MODE" --rounds "$ROUNDS" --widths "$widths_csv" \
    --steps "$steps_csv" --warmup "$WARMUP" --load "$LOAD_START" "$LOAD_END" ${OUT[@]+"${OUT[@]}"}
