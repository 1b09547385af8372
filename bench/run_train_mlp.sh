#!/usr/bin/env bash
# run_train_mlp.sh: critnet's training step on the MLP 784-256-256-256-10 against its PyTorch peer, in
# one run. Builds the benchmark if needed, runs bench_train_mlp and torch_train_mlp.py alternately,
# prints a table (critnet and torch samples/s, their ratio, the fraction of the sgemm peak, where
# critnet's time goes, and whether OpenBLAS plus OpenMP threads oversubscribe the cores) and writes
# bench/results/train_mlp.json.
#
# usage: bench/run_train_mlp.sh [--short] [--no-build] [--require-ratio X]
#   --short            a few steps (under 20 s), for the test suite; numbers are indicative only
#   --no-build         use the binaries as they are (the test suite builds them first)
#   --require-ratio X  exit 3 when critnet/torch is below X (never by default: a shared machine
#                      cannot promise a speed)
# env: BUILD_DIR (default build/), BENCH_OUT (default bench/results/train_mlp.json), BENCH_DATA
#      (fashion-mnist, or random when it is not installed)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
OUT_JSON=${BENCH_OUT:-$ROOT/bench/results/train_mlp.json}
PY=/usr/bin/python3 # Debian's python3-torch; never a virtualenv's python
BIN=$BUILD_DIR/bench/bench_train_mlp
MODE=full
BUILD=1
REQUIRE=0

while [ $# -gt 0 ]; do
    case $1 in
    --short) MODE=short ;;
    --no-build) BUILD=0 ;;
    --require-ratio) REQUIRE=${2:?--require-ratio needs a number}; shift ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "run_train_mlp.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done

# a full run keeps its report beside the JSON: bench/results/train_mlp.txt
if [ "$MODE" = full ]; then
    mkdir -p "$ROOT/bench/results"
    exec > >(tee "$ROOT/bench/results/train_mlp.txt") 2>&1
fi

DATA=${BENCH_DATA:-}
if [ -z "$DATA" ]; then
    if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then DATA=fashion-mnist; else DATA=random; fi
fi

build() {
    if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
        cmake -S "$ROOT" -B "$BUILD_DIR" >/dev/null
    fi
    if cmake --build "$BUILD_DIR" --target help 2>/dev/null | grep -q 'bench_train_mlp'; then
        cmake --build "$BUILD_DIR" --target bench_train_mlp -j2 >/dev/null
    else
        # bench/ is not (yet) a subdirectory of the top-level CMakeLists: build the library there and
        # compile the benchmark against it by hand, with the library's own flags
        cmake --build "$BUILD_DIR" --target critnet_static -j2 >/dev/null
        mkdir -p "$BUILD_DIR/bench"
        if [ ! -x "$BIN" ] || [ "$ROOT/bench/bench_train_mlp.c" -nt "$BIN" ] || [ "$BUILD_DIR/libcritnet.a" -nt "$BIN" ]; then
            # shellcheck disable=SC2046
            cc -std=c11 -O2 -g -Wall -Wextra -Wno-unused-parameter -D_POSIX_C_SOURCE=200809L -fopenmp \
                -I"$ROOT/include" -I"$ROOT/src" $(pkg-config --cflags openblas) \
                "$ROOT/bench/bench_train_mlp.c" "$BUILD_DIR/libcritnet.a" \
                $(pkg-config --libs openblas zlib libcjson) -lgsl -llapacke -lm -o "$BIN"
        fi
    fi
}

if [ "$BUILD" = 1 ]; then build; fi
[ -x "$BIN" ] || { echo "run_train_mlp.sh: $BIN is missing (run without --no-build)" >&2; exit 1; }
"$PY" -c 'import torch' 2>/dev/null || { echo "run_train_mlp.sh: $PY cannot import torch (apt install python3-torch)" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# the main runs set their threads themselves; inherited settings would skew them
unset OPENBLAS_NUM_THREADS OMP_NUM_THREADS OMP_WAIT_POLICY GOMP_SPINCOUNT

if [ "$MODE" = short ]; then
    ROUNDS=1
    C_ARGS=(--steps 10 --warmup 3 --reps 2 --sgemm-n 1024 --breakdown-steps 5)
    T_ARGS=(--steps 10 --warmup 3 --reps 2)
    ENV_CASES=()
else
    ROUNDS=3
    C_ARGS=(--steps 100 --warmup 30 --reps 5 --sgemm-n 2048 --breakdown-steps 100)
    T_ARGS=(--steps 100 --warmup 30 --reps 5)
    # OpenBLAS (pthreads) and OpenMP keep separate pools; these settle whether they fight over the cores
    ENV_CASES=("OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1" "OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=1"
               "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=2" "OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2"
               "OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive")
fi

read -r LOAD_START _ </proc/loadavg
echo "train_mlp benchmark ($MODE), data $DATA, load average $LOAD_START on $(nproc) cores" >&2
# alternate critnet and torch so that both see the same background load; the report keeps the best of
# the rounds, and the breakdown of the round whose step was quickest
for r in $(seq 1 "$ROUNDS"); do
    "$BIN" "${C_ARGS[@]}" --data "$DATA" --json "$TMP/critnet_$r.json" >"$TMP/critnet_$r.txt"
    "$PY" "$ROOT/bench/torch_train_mlp.py" "${T_ARGS[@]}" --data "$DATA" \
        --json "$TMP/torch_$r.json" >"$TMP/torch_$r.txt"
done
i=0
for case in ${ENV_CASES[@]+"${ENV_CASES[@]}"}; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    env $case "$BIN" --threads env --steps 100 --warmup 30 --reps 3 --sgemm-n 0 --no-breakdown --no-flat \
        --data "$DATA" --json "$TMP/env_$i.json" >"$TMP/env_$i.txt"
    echo "$case" >"$TMP/env_$i.case"
done
read -r LOAD_END _ </proc/loadavg

mkdir -p "$(dirname "$OUT_JSON")"
"$PY" - "$TMP" "$OUT_JSON" "$MODE" "$ROUNDS" "$i" "$LOAD_START" "$LOAD_END" "$REQUIRE" <<'EOF'
import json, os, sys, time
tmp, out, mode, rounds, nenv, load0, load1, require = sys.argv[1:]
rounds, nenv, require = int(rounds), int(nenv), float(require)
rd = lambda p: json.load(open(os.path.join(tmp, p)))
cr = [rd(f"critnet_{r}.json") for r in range(1, rounds + 1)]
tr = [rd(f"torch_{r}.json") for r in range(1, rounds + 1)]

BREAKDOWN = ("phases_ms", "layers", "dense_kernels_ms", "train_extras_ms")

def best_by(configs, key):
    """for each key: the configuration with the most samples/s, and the breakdown of the run whose phases
    took least in all (the quietest moment, as other processes share the machine)"""
    best, quiet = {}, {}
    for c in configs:
        k = key(c)
        if k not in best or c["samples_per_s_best"] > best[k]["samples_per_s_best"]:
            best[k] = c
        if "phases_ms" in c and (k not in quiet or sum(c["phases_ms"].values()) < sum(quiet[k]["phases_ms"].values())):
            quiet[k] = c
    out = {}
    for k, c in best.items():
        out[k] = {f: v for f, v in c.items() if f not in BREAKDOWN}
        if k in quiet:
            out[k].update({f: quiet[k][f] for f in BREAKDOWN if f in quiet[k]})
    return out

sgemm = {}
for c in cr:
    for t, g in c["sgemm"]["gflops"].items():
        sgemm[t] = max(sgemm.get(t, 0), g)
peak_machine = max(sgemm.values()) if sgemm else 0
cbest = best_by([dict(c, variant=c["variant"]) for run in cr for c in run["configs"]],
                lambda c: (c["variant"], c["threads"]))
useful = cr[0]["flops_per_step_useful"]
for c in cbest.values():  # peak fractions against the best sgemm of all rounds
    g = useful / (c["step_ms_best"] * 1e-3) / 1e9
    c["gflops"] = g
    c["peak_fraction_same_threads"] = g / sgemm[str(c["threads"])] if str(c["threads"]) in sgemm else None
    c["peak_fraction_machine"] = g / peak_machine if peak_machine else None
cli = {t: c for (v, t), c in cbest.items() if v == "cli"}
flat = {t: c for (v, t), c in cbest.items() if v == "flat"}
c_top = max(cli.values(), key=lambda c: c["samples_per_s_best"])
tbest = best_by([c for run in tr for c in run["configs"]], lambda c: (c["threads"], str(c["blas"])))
t_by_threads = {}
for (t, b), c in tbest.items():
    if t not in t_by_threads or c["samples_per_s_best"] > t_by_threads[t]["samples_per_s_best"]:
        t_by_threads[t] = c
t_top = max(t_by_threads.values(), key=lambda c: c["samples_per_s_best"])
ratio = c_top["samples_per_s_best"] / t_top["samples_per_s_best"]

envs = []
for i in range(1, nenv + 1):
    e = rd(f"env_{i}.json")["configs"][0]
    case = open(os.path.join(tmp, f"env_{i}.case")).read().split()
    envs.append({"env": dict(kv.split("=", 1) for kv in case), "blas_threads": e["blas_threads"],
                 "omp_threads": e["omp_threads"], "samples_per_s_best": e["samples_per_s_best"],
                 "samples_per_s_median": e["samples_per_s_median"], "step_ms_best": e["step_ms_best"]})
api = {t: cli[t]["samples_per_s_best"] for t in sorted(cli)}
faster = max(api, key=api.get)

res = {
    "bench": "train_mlp", "mode": mode, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "data": cr[0]["data"],
    "model": "784-256-256-256-10 relu (critnet: --arch mlp, with its flatten layer)", "batch": cr[0]["batch"],
    "optimizer": "sgd lr 0.05 momentum 0.9", "rounds": rounds, "steps": cr[0]["steps"], "reps": cr[0]["reps"],
    "host": {"cores": os.cpu_count(), "loadavg_start": float(load0), "loadavg_end": float(load1),
             "openblas": cr[0]["openblas"]},
    "torch_version": tr[0]["torch_version"],
    "flops_per_step_useful": useful, "flops_per_step_executed": cr[0]["flops_per_step_executed"],
    "sgemm_n": cr[0]["sgemm"]["n"], "sgemm_gflops": sgemm,
    "critnet": {"threads": {str(t): c for t, c in cli.items()},
                "no_flatten_variant": {str(t): c for t, c in flat.items()},
                "best": {"threads": c_top["threads"], "samples_per_s": c_top["samples_per_s_best"]}},
    "torch": {"configs": list(tbest.values()),
              "threads": {str(t): c for t, c in t_by_threads.items()},
              "best": {"threads": t_top["threads"], "blas": t_top["blas"],
                       "samples_per_s": t_top["samples_per_s_best"]}},
    "ratio": ratio, "target_ratio": 1.5, "meets_target": ratio >= 1.5,
    "peak_fraction": {"same_threads": c_top["peak_fraction_same_threads"], "machine": c_top["peak_fraction_machine"]},
    "threads_check": {"cn_set_threads": {str(t): v for t, v in api.items()}, "faster": faster, "env": envs},
}
P = lambda x: "-" if x is None else f"{100 * x:.1f}%"
print(f"\ntrain step, MLP 784-256-256-256-10 relu, batch {res['batch']}, SGD momentum 0.9, data {res['data']} "
      f"({mode}, best of {rounds} round(s) x {res['reps']} reps x {res['steps']} steps; load {load0} -> {load1})")
print(f"{'':34s}{'samples/s':>11s}{'median':>10s}{'ms/step':>9s}{'GFLOP/s':>9s}{'of peak':>9s}")
for t, c in sorted(cli.items()):
    print(f"{'critnet  threads %d' % t:34s}{c['samples_per_s_best']:11.0f}{c['samples_per_s_median']:10.0f}"
          f"{c['step_ms_best']:9.3f}{c['gflops']:9.1f}{P(c['peak_fraction_same_threads']):>9s}")
for t, c in sorted(flat.items()):
    print(f"{'critnet  threads %d, no flatten' % t:34s}{c['samples_per_s_best']:11.0f}{c['samples_per_s_median']:10.0f}"
          f"{c['step_ms_best']:9.3f}{c['gflops']:9.1f}{P(c['peak_fraction_same_threads']):>9s}")
for (t, b), c in sorted(tbest.items()):
    g = useful / (c["step_ms_best"] * 1e-3) / 1e9
    pk = sgemm.get(str(t))
    label = "torch    threads %d (blas %s%s)" % (t, c["blas_threads"], ", default" if b == "default" else "")
    print(f"{label:34s}{c['samples_per_s_best']:11.0f}{c['samples_per_s_median']:10.0f}{c['step_ms_best']:9.3f}"
          f"{g:9.1f}{P(g / pk if pk else None):>9s}")
print(f"sgemm {res['sgemm_n']}^2 peak: " + ", ".join(f"{t} thread(s) {g:.1f} GFLOP/s" for t, g in sorted(sgemm.items())))
print(f"ratio critnet/torch = {c_top['samples_per_s_best']:.0f} (critnet, {c_top['threads']} thr) / "
      f"{t_top['samples_per_s_best']:.0f} (torch, {t_top['threads']} thr) = {ratio:.2f}x "
      f"(target >= 1.5x: {'met' if ratio >= 1.5 else 'NOT met'})")
print(f"fraction of sgemm peak (critnet best): {P(c_top['peak_fraction_same_threads'])} of the same thread count, "
      f"{P(c_top['peak_fraction_machine'])} of the machine's best; "
      f"{useful / 1e6:.1f} MFLOP useful per step ({res['flops_per_step_executed'] / 1e6:.1f} executed)")
b = cli[min(cli, key=lambda t: cli[t]["step_ms_best"])]
if "phases_ms" in b:
    ph = b["phases_ms"]
    tot = sum(ph.values())
    print(f"critnet time per step at {b['threads']} thread(s) (ms): " +
          ", ".join(f"{k} {v:.3f} ({100 * v / tot:.0f}%)" for k, v in ph.items()))
    tp = t_by_threads.get(b["threads"], {}).get("phases_ms")
    if tp:
        print(f"torch   time per step at {b['threads']} thread(s) (ms): " +
              ", ".join(f"{k} {tp[k]:.3f}" for k in ph if k in tp))
    ks = b.get("dense_kernels_ms", [])
    if ks:
        names = [k for k in ks[0] if k not in ("layer", "in", "out", "dx_needed", "dx_computed")]
        print("critnet dense kernels (ms/step, summed over layers): " +
              ", ".join(f"{n} {sum(k[n] for k in ks):.3f}" for n in names))
        waste = sum(k["bwd_dx_gemm"] for k in ks if k["dx_computed"] and not k["dx_needed"])
        if waste:
            print(f"  first-layer dx computed but never used: {waste:.3f} ms/step")
        floor = sum(k["fwd_gemm"] + k["bwd_dW_gemm"] + (k["bwd_dx_gemm"] if k["dx_needed"] else 0) for k in ks)
        res["gemm_floor_ms"] = floor
        tms = 1e3 * res["batch"] / t_top["samples_per_s_best"]
        print(f"  the GEMMs a step needs take {floor:.3f} ms at {b['threads']} thread(s): with everything else free, "
              f"critnet/torch could reach {tms / floor:.2f}x; at 100% of the machine's best sgemm rate, "
              f"{tms / (1e3 * useful / (peak_machine * 1e9)):.2f}x")
    ex = b.get("train_extras_ms")
    if ex:
        print(f"  cn_train adds per step: gather {ex['gather']:.3f} ms, finite check {ex['finite_check']:.3f} ms")
print("threads: cn_set_threads " + ", ".join(f"{t}: {v:.0f}" for t, v in api.items()) +
      f" samples/s -> {faster} thread(s) faster")
for e in envs:
    print("  env " + " ".join(f"{k}={v}" for k, v in e["env"].items()) +
          f": {e['samples_per_s_best']:.0f} samples/s best ({e['samples_per_s_median']:.0f} median)")
with open(out, "w") as f:
    json.dump(res, f, indent=1)
    f.write("\n")
print(f"wrote {out}")
if require and ratio < require:
    sys.exit(3)
EOF
