#!/usr/bin/env bash
# run.sh: builds the libFuzzer target fuzz/fuzz_onnx.c against the library's sources with clang
# (-fsanitize=fuzzer,address,undefined -g -O1), writes the seed corpus (fuzz/make_corpus.py), runs the fuzzer
# for a number of executions at nice 19 and prints a summary. Everything it writes is under fuzz/out/
# (gitignored):
#   fuzz/out/build/        objects and the fuzz_onnx binary (rebuilt only where a source or header changed)
#   fuzz/out/seeds/        the seed corpus, rewritten every run; fuzz/out/onnx.dict the fuzzer's dictionary
#   fuzz/out/corpus/       inputs the fuzzer found interesting (kept between runs, so coverage accumulates)
#   fuzz/out/crashes/      crash-*, leak-*, timeout-*, oom-* files (libFuzzer's artifacts)
#   fuzz/out/fuzz.log      the fuzzer's output; fuzz/out/final_stats.txt its final stats and the summary
#
# Usage: fuzz/run.sh [--runs N] [--short] [--time SECONDS] [--build-only] [--fresh-corpus]
#   --runs N        executions (default 200000)
#   --short         2000 executions, a smoke test
#   --time S        stop after S seconds whatever the count (default 1200, 0: no limit)
#   --build-only    build the target and the seeds, do not fuzz
#   --fresh-corpus  start from the seeds alone (empties fuzz/out/corpus)
# To replay one input: fuzz/out/build/fuzz_onnx fuzz/out/crashes/crash-XXXX
# Limits: -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 -max_len=65536. The target also caps the
# library's live allocations at FUZZ_ONNX_BUDGET_MB (default 64) through cn_set_allocator.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
OUT=$ROOT/fuzz/out
BUILD=$OUT/build
RUNS=200000
TIME=1200
BUILD_ONLY=0
FRESH=0

die() {
    echo "fuzz/run.sh: error: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case $1 in
    --runs) [ $# -ge 2 ] || die "--runs needs a number"; RUNS=$2; shift 2 ;;
    --runs=*) RUNS=${1#--runs=}; shift ;;
    --short) RUNS=2000; shift ;;
    --time) [ $# -ge 2 ] || die "--time needs seconds"; TIME=$2; shift 2 ;;
    --time=*) TIME=${1#--time=}; shift ;;
    --build-only) BUILD_ONLY=1; shift ;;
    --fresh-corpus) FRESH=1; shift ;;
    -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
done
[[ $RUNS =~ ^[0-9]+$ ]] || die "--runs: $RUNS is not a number"
[[ $TIME =~ ^[0-9]+$ ]] || die "--time: $TIME is not a number"

CC=${CC:-clang}
command -v "$CC" >/dev/null || die "$CC not found (apt-get install clang libclang-rt-14-dev)"
command -v protoc-c >/dev/null || die "protoc-c not found (apt-get install protobuf-c-compiler)"
[ -x /usr/bin/python3 ] || die "/usr/bin/python3 not found"
ONNX_PROTO=${ONNX_PROTO:-/usr/include/onnx/onnx.proto}
[ -f "$ONNX_PROTO" ] || die "$ONNX_PROTO not found (apt-get install libonnx-dev)"
NICE="nice -n 19"
JOBS=${JOBS:-2}

mkdir -p "$BUILD/obj" "$OUT/crashes" "$OUT/corpus"

# ---------------------------------------------------------------- OpenMP
# clang's OpenMP is libomp (libomp-14-dev). Without it the library builds without -fopenmp: its SIMD macros
# then expand to nothing, and the threads code compiles its OpenMP parts out.
OMP=-fopenmp
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n' >"$probe/omp.c"
if ! "$CC" -fopenmp "$probe/omp.c" -o "$probe/omp" 2>/dev/null; then
    echo "fuzz/run.sh: note: clang's OpenMP (libomp-14-dev) is missing; building without -fopenmp" >&2
    OMP=
fi

# ---------------------------------------------------------------- the generated protobuf decoder
# protoc-c into a temporary directory; the copy in the build tree is replaced only when it changed, so an
# unchanged decoder is not recompiled.
mkdir -p "$probe/gen"
cp "$ONNX_PROTO" "$probe/gen/onnx.proto"
(cd "$probe/gen" && protoc-c --proto_path=. --c_out=. onnx.proto) || die "protoc-c failed on $ONNX_PROTO"
mkdir -p "$BUILD/gen"
for f in onnx.pb-c.c onnx.pb-c.h; do
    cmp -s "$probe/gen/$f" "$BUILD/gen/$f" || cp "$probe/gen/$f" "$BUILD/gen/$f"
done

# ---------------------------------------------------------------- compile and link
PKGS="openblas libcjson libprotobuf-c zlib stb"
PKG_CFLAGS=$(pkg-config --cflags $PKGS) || die "pkg-config: missing one of $PKGS (scripts/setup.sh installs them)"
PKG_LIBS=$(pkg-config --libs $PKGS)
SAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-std=c11 -g -O1 $SAN $OMP -Wall -Wextra -Wno-unused-parameter -Wno-pass-failed -D_POSIX_C_SOURCE=200809L"
CFLAGS="$CFLAGS -DCN_DATA_DIR=\"$ROOT/data\" -I$ROOT/include -I$ROOT/src -I$BUILD/gen $PKG_CFLAGS"
export CC CFLAGS BUILD ROOT NICE

# newest header the sources may include: any change to one rebuilds everything
newest_header=$(ls -t "$ROOT"/include/*.h "$ROOT"/src/*/*.h "$BUILD"/gen/onnx.pb-c.h | head -1)
export newest_header
compile_one() {
    src=$1
    rel=${src#"$ROOT"/}
    rel=${rel#fuzz/out/build/}
    obj=$BUILD/obj/$(echo "$rel" | tr / _).o
    if [ -f "$obj" ] && [ "$obj" -nt "$src" ] && [ "$obj" -nt "$newest_header" ] && [ "$obj" -nt "$ROOT/fuzz/run.sh" ]; then
        exit 0
    fi
    # -fsanitize=fuzzer at compile time only instruments (coverage); the fuzzer's main comes in at the link
    $NICE $CC $CFLAGS -c "$src" -o "$obj.tmp" && mv "$obj.tmp" "$obj"
}
export -f compile_one
SOURCES=$(ls "$ROOT"/src/*/*.c; echo "$BUILD/gen/onnx.pb-c.c"; echo "$ROOT/fuzz/fuzz_onnx.c")
echo "fuzz/run.sh: compiling $(echo "$SOURCES" | wc -l) files ($CC, -O1, fuzzer+ASan+UBSan${OMP:+, OpenMP}, $JOBS jobs)"
echo "$SOURCES" | xargs -P "$JOBS" -I{} bash -c 'compile_one "$1"' _ {} || die "compilation failed"
OBJS=$(echo "$SOURCES" | while read -r s; do r=${s#"$ROOT"/}; r=${r#fuzz/out/build/}; echo "$BUILD/obj/$(echo "$r" | tr / _).o"; done)
# shellcheck disable=SC2086
$NICE $CC $SAN $OMP -o "$BUILD/fuzz_onnx" $OBJS $PKG_LIBS -llapacke -lgsl -lm || die "link failed"
echo "fuzz/run.sh: built $BUILD/fuzz_onnx"

# ---------------------------------------------------------------- seeds
rm -rf "$OUT/seeds"
$NICE /usr/bin/python3 "$ROOT/fuzz/make_corpus.py" "$OUT/seeds" --dict "$OUT/onnx.dict" || die "make_corpus.py failed"
echo "fuzz/run.sh: $(ls "$OUT/seeds" | wc -l) seed files in $OUT/seeds"
[ "$BUILD_ONLY" = 1 ] && exit 0
[ "$FRESH" = 1 ] && rm -rf "$OUT/corpus" && mkdir -p "$OUT/corpus"

# ---------------------------------------------------------------- fuzz
before=$(ls "$OUT/crashes" | wc -l)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/lsan.supp}
limit=" (at most $TIME s)"
[ "$TIME" = 0 ] && limit=
echo "fuzz/run.sh: fuzzing for $RUNS executions$limit, log in $OUT/fuzz.log"
set +e
$NICE "$BUILD/fuzz_onnx" -runs="$RUNS" -max_total_time="$TIME" -max_len=65536 -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -timeout=10 -print_final_stats=1 -artifact_prefix="$OUT/crashes/" -dict="$OUT/onnx.dict" \
    "$OUT/corpus" "$OUT/seeds" >"$OUT/fuzz.log" 2>&1
status=$?
set -e

# ---------------------------------------------------------------- summary
log=$OUT/fuzz.log
stat() { grep -E "^stat::$1:" "$log" | tail -1 | awk '{print $2}'; }
execs=$(stat number_of_executed_units)
speed=$(stat average_exec_per_sec)
last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -1)
cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
corpus=$(echo "$last" | sed -n 's/.*corp: \([^ ]*\).*/\1/p')
after=$(ls "$OUT/crashes" | wc -l)
new=$((after - before))
{
    echo "final line: $last"
    grep -E '^stat::' "$log" || true
    echo "executions: ${execs:-?}"
    echo "execs/s:    ${speed:-?}"
    echo "coverage:   cov: ${cov:-?}  ft: ${ft:-?}  corpus: ${corpus:-?}"
    echo "exit:       $status"
    echo "crashes:    $new new artifact(s) this run, $after in $OUT/crashes"
    if [ "$new" -gt 0 ]; then
        ls -t "$OUT/crashes" | head -"$new" | sed "s|^|            $OUT/crashes/|"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5 | sed 's/^/            /'
    fi
} | tee "$OUT/final_stats.txt"
exit "$status"
