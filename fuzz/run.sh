#!/usr/bin/env bash
# run.sh: builds one libFuzzer target of fuzz/ (fuzz_TARGET.c) against the library's sources with clang
# (-fsanitize=fuzzer,address,undefined -g -O1), writes its seed corpus, runs the fuzzer for a number of
# executions at nice 19 and prints a summary. Targets, one per reader:
#   onnx        the ONNX reader (cn_net_from_onnx_buffer; seeds from fuzz/make_corpus.py)
#   checkpoint  model.cnm (cn_checkpoint_load)          spec      the model format (cn_net_from_spec)
#   idx         IDX images and labels, plain or gzip    npy       .npy inputs and labels (npy:FILE,LABELS)
#   images      a folder of images (images:DIR, stb)     cifar     CIFAR-10 binaries (cifar10:DIR)
#   zoo_spec    critnet zoo's spec files                 csv       the CSV tables `critnet stats` reads
#   all         each of them in turn, with the same options
# Everything it writes is under the output folder (fuzz/out, gitignored; --out to choose another):
#   build/            objects and the fuzz_TARGET binaries (rebuilt only where a source or header changed)
#   TARGET/seeds/     the seed corpus, rewritten every run (the targets write theirs with the library's own
#                     writers: FUZZ_WRITE_SEEDS=DIR build/fuzz_TARGET), with fuzz/regress/TARGET/: the inputs
#                     that once crashed a reader or made it allocate too much, replayed by every run
#   TARGET/corpus/    inputs the fuzzer found interesting (kept between runs, so coverage accumulates)
#   TARGET/crashes/   crash-*, leak-*, timeout-*, oom-* files (libFuzzer's artifacts)
#   TARGET/fuzz.log   the fuzzer's output; TARGET/final_stats.txt its final stats and the summary
#
# Usage: fuzz/run.sh [TARGET] [--runs N] [--short] [--time SECONDS] [--build-only] [--fresh-corpus] [--out DIR]
#   TARGET          one of the above (default onnx)
#   --runs N        executions (default 200000)
#   --short         2000 executions, a smoke test
#   --time S        stop after S seconds whatever the count (default 1200, 0: no limit)
#   --build-only    build the target and the seeds, do not fuzz
#   --fresh-corpus  start from the seeds alone (empties TARGET/corpus)
#   --out DIR       the output folder (default fuzz/out)
# To replay one input: fuzz/out/build/fuzz_TARGET fuzz/out/TARGET/crashes/crash-XXXX (FUZZ_VERBOSE=1 says
# what became of it). Limits: -rss_limit_mb=2048 -timeout=10, and per target a -max_len and a
# -malloc_limit_mb (the libc allocations a reader's libraries make: stb, zlib, the CLI's own). The targets
# also cap the library's live allocations at FUZZ_BUDGET_MB (default 64) through cn_set_allocator, and check
# that a reader asks for no more than its input justifies (fuzz/fuzz_common.h).
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
OUT=$ROOT/fuzz/out
TARGETS="onnx checkpoint spec idx npy images cifar zoo_spec csv"
TARGET=onnx
RUNS=200000
TIME=1200
BUILD_ONLY=0
FRESH=0

die() {
    echo "fuzz/run.sh: error: $*" >&2
    exit 1
}

ARGS=("$@")
while [ $# -gt 0 ]; do
    case $1 in
    --out) [ $# -ge 2 ] || die "--out needs a folder"; OUT=$2; shift 2 ;;
    --out=*) OUT=${1#--out=}; shift ;;
    --runs) [ $# -ge 2 ] || die "--runs needs a number"; RUNS=$2; shift 2 ;;
    --runs=*) RUNS=${1#--runs=}; shift ;;
    --short) RUNS=2000; shift ;;
    --time) [ $# -ge 2 ] || die "--time needs seconds"; TIME=$2; shift 2 ;;
    --time=*) TIME=${1#--time=}; shift ;;
    --build-only) BUILD_ONLY=1; shift ;;
    --fresh-corpus) FRESH=1; shift ;;
    -h | --help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) TARGET=$1; shift ;;
    esac
done
[[ $RUNS =~ ^[0-9]+$ ]] || die "--runs: $RUNS is not a number"
[[ $TIME =~ ^[0-9]+$ ]] || die "--time: $TIME is not a number"
if [ "$TARGET" = all ]; then
    # each target in turn with the same options; the status is the first failure's
    status=0
    for t in $TARGETS; do
        args=()
        for a in "${ARGS[@]}"; do [ "$a" = all ] || args+=("$a"); done
        "$0" "$t" "${args[@]}" || { [ "$status" != 0 ] || status=$?; }
    done
    exit "$status"
fi
case " $TARGETS " in *" $TARGET "*) ;; *) die "unknown target $TARGET (one of: $TARGETS, all)" ;; esac
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BUILD=$OUT/build
T=$OUT/$TARGET
# per target: the longest input, libc's largest single allocation (MiB), whether it links the CLI's sources
MAX_LEN=65536
MALLOC_MB=1024
CLI=0
QUIET=
case $TARGET in
images) MAX_LEN=8192; MALLOC_MB=256 ;;
cifar) MAX_LEN=16384 ;;
spec) MAX_LEN=4096 ;;
zoo_spec) MAX_LEN=4096; CLI=1; QUIET=1; MALLOC_MB=64 ;;
csv) MAX_LEN=16384; CLI=1; QUIET=1; MALLOC_MB=64 ;;
esac

CC=${CC:-clang}
command -v "$CC" >/dev/null || die "$CC not found (apt-get install clang libclang-rt-14-dev)"
command -v protoc-c >/dev/null || die "protoc-c not found (apt-get install protobuf-c-compiler)"
[ -x /usr/bin/python3 ] || die "/usr/bin/python3 not found"
ONNX_PROTO=${ONNX_PROTO:-/usr/include/onnx/onnx.proto}
[ -f "$ONNX_PROTO" ] || die "$ONNX_PROTO not found (apt-get install libonnx-dev)"
NICE="nice -n 19"
JOBS=${JOBS:-2}

mkdir -p "$BUILD/obj" "$BUILD/cli" "$T/crashes" "$T/corpus"

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
# plplot for every target (the CLI's headers), so that the flags, and with them the objects, are the same for all
PKGS="openblas libcjson libprotobuf-c zlib stb plplot"
PKG_CFLAGS=$(pkg-config --cflags $PKGS) || die "pkg-config: missing one of $PKGS (scripts/setup.sh installs them)"
PKG_LIBS=$(pkg-config --libs $PKGS)
SAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-std=c11 -g -O1 $SAN $OMP -Wall -Wextra -Wno-unused-parameter -Wno-pass-failed -D_POSIX_C_SOURCE=200809L"
CFLAGS="$CFLAGS -DCN_DATA_DIR=\"$ROOT/data\" -DCN_ZOO_DIR=\"$ROOT/examples/zoo\" -I$ROOT/include -I$ROOT/src"
CFLAGS="$CFLAGS -I$ROOT/cli -I$ROOT/fuzz -I$BUILD/gen $PKG_CFLAGS"
export CC CFLAGS BUILD ROOT NICE

# newest header the sources may include: any change to one rebuilds everything
newest_header=$(ls -t "$ROOT"/include/*.h "$ROOT"/src/*/*.h "$ROOT"/cli/*.h "$ROOT"/cli/*/*.h "$ROOT"/fuzz/*.h \
    "$BUILD"/gen/onnx.pb-c.h | head -1)
# the flags too: objects older than the file that records them are rebuilt (a change to run.sh alone is not one)
printf '%s\n' "$CC $CFLAGS" >"$BUILD/cflags.new"
if cmp -s "$BUILD/cflags.new" "$BUILD/cflags"; then rm "$BUILD/cflags.new"; else mv "$BUILD/cflags.new" "$BUILD/cflags"; fi
export newest_header
# the object of a source (build/gen/onnx.pb-c.c -> obj/gen_onnx.pb-c.c.o), in bash alone: run.sh names every
# object on each run, and a process per name cost seconds
obj_of() {
    local rel=${1#"$ROOT"/}
    rel=${rel#"$BUILD"/}
    echo "$BUILD/obj/${rel//\//_}.o"
}
export -f obj_of
compile_one() {
    # -fsanitize=fuzzer at compile time only instruments (coverage); the fuzzer's main comes in at the link
    $NICE $CC $CFLAGS -c "$1" -o "$2.tmp" && mv "$2.tmp" "$2"
}
export -f compile_one
SOURCES=$(ls "$ROOT"/src/*/*.c; echo "$BUILD/gen/onnx.pb-c.c"; echo "$ROOT/fuzz/fuzz_common.c")
# the CLI's sources (for the CLI's own readers) go into an archive, so that the link takes only what the
# target calls: not main(), not the plotting or MPI parts
CLI_SOURCES=
[ "$CLI" = 1 ] && CLI_SOURCES=$(ls "$ROOT"/cli/*.c "$ROOT"/cli/*/*.c | grep -v -e '/cli/main\.c$')
ALL="$SOURCES
$ROOT/fuzz/fuzz_$TARGET.c${CLI_SOURCES:+
$CLI_SOURCES}"
echo "fuzz/run.sh: checking $(echo "$ALL" | wc -l) files for fuzz_$TARGET ($CC, -O1, fuzzer+ASan+UBSan${OMP:+, OpenMP}, $JOBS jobs)"
# the sources whose object is missing or older than the source, the newest header or the flags
STALE=$(echo "$ALL" | while read -r src; do
    obj=$(obj_of "$src")
    [ -f "$obj" ] && [ "$obj" -nt "$src" ] && [ "$obj" -nt "$newest_header" ] && [ "$obj" -nt "$BUILD/cflags" ] ||
        printf '%s %s\n' "$src" "$obj"
done)
if [ -n "$STALE" ]; then
    echo "$STALE" | xargs -P "$JOBS" -L1 bash -c 'compile_one "$1" "$2"' _ || die "compilation failed"
fi
OBJS=$(echo "$SOURCES" | while read -r s; do obj_of "$s"; done)
ARCHIVE=
if [ "$CLI" = 1 ]; then
    ARCHIVE=$BUILD/cli/libcli.a
    CLI_OBJS=$(echo "$CLI_SOURCES" | while read -r s; do obj_of "$s"; done)
    # shellcheck disable=SC2086
    if [ ! -f "$ARCHIVE" ] || [ -n "$(find $CLI_OBJS -newer "$ARCHIVE" | head -1)" ]; then
        rm -f "$ARCHIVE"
        # shellcheck disable=SC2086
        ar rcs "$ARCHIVE" $CLI_OBJS || die "ar failed"
    fi
    PKG_LIBS="$PKG_LIBS -lgsl"
fi
BIN=$BUILD/fuzz_$TARGET
MAIN_OBJ=$(obj_of "$ROOT/fuzz/fuzz_$TARGET.c")
# linked again only when an object is newer than the binary (a link takes seconds; the suite's short run
# links every target)
# shellcheck disable=SC2086
if [ ! -x "$BIN" ] || [ -n "$(find "$MAIN_OBJ" $OBJS $ARCHIVE -newer "$BIN" 2>/dev/null | head -1)" ]; then
    # shellcheck disable=SC2086
    $NICE $CC $SAN $OMP -o "$BIN.tmp" "$MAIN_OBJ" $ARCHIVE $OBJS $PKG_LIBS -llapacke -lgsl -lm || die "link failed"
    mv "$BIN.tmp" "$BIN"
    echo "fuzz/run.sh: built $BIN"
fi

# ---------------------------------------------------------------- seeds
rm -rf "$T/seeds"
mkdir -p "$T/seeds"
DICT=
case $TARGET in
onnx)
    $NICE /usr/bin/python3 "$ROOT/fuzz/make_corpus.py" "$T/seeds" --dict "$T/onnx.dict" || die "make_corpus.py failed"
    DICT=$T/onnx.dict
    ;;
*)
    FUZZ_WRITE_SEEDS=$T/seeds "$BIN" >/dev/null 2>&1 || die "$BIN could not write its seeds (FUZZ_WRITE_SEEDS=$T/seeds)"
    ;;
esac
# inputs that once crashed a reader or made it allocate too much stay in the seeds: every run replays them
if [ -d "$ROOT/fuzz/regress/$TARGET" ]; then cp "$ROOT/fuzz/regress/$TARGET"/* "$T/seeds/"; fi
case $TARGET in
spec) cp "$ROOT"/examples/*.model "$ROOT"/examples/zoo/*.model "$T/seeds/" ;;
zoo_spec) cp "$ROOT"/examples/*.spec "$T/seeds/" ;;
esac
[ -f "$ROOT/fuzz/dict/$TARGET.dict" ] && DICT=$ROOT/fuzz/dict/$TARGET.dict
echo "fuzz/run.sh: $(ls "$T/seeds" | wc -l) seed files in $T/seeds"
[ "$BUILD_ONLY" = 1 ] && exit 0
[ "$FRESH" = 1 ] && rm -rf "$T/corpus" && mkdir -p "$T/corpus"

# ---------------------------------------------------------------- fuzz
before=$(ls "$T/crashes" | wc -l)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/lsan.supp}
limit=" (at most $TIME s)"
[ "$TIME" = 0 ] && limit=
echo "fuzz/run.sh: fuzzing fuzz_$TARGET for $RUNS executions$limit, log in $T/fuzz.log"
set +e
# -close_fd_mask=2 for the CLI targets: their readers print each refusal to stderr (cli_error), and the log
# keeps only libFuzzer's and the sanitizers' reports (made on a copy of stderr); the targets' own aborts say why
$NICE "$BIN" -runs="$RUNS" -max_total_time="$TIME" -max_len="$MAX_LEN" -rss_limit_mb=2048 \
    -malloc_limit_mb="$MALLOC_MB" -timeout=10 -print_final_stats=1 -artifact_prefix="$T/crashes/" ${DICT:+-dict="$DICT"} \
    ${QUIET:+-close_fd_mask=2} "$T/corpus" "$T/seeds" >"$T/fuzz.log" 2>&1
status=$?
set -e

# ---------------------------------------------------------------- summary
log=$T/fuzz.log
stat() { grep -E "^stat::$1:" "$log" | tail -1 | awk '{print $2}'; }
execs=$(stat number_of_executed_units)
speed=$(stat average_exec_per_sec)
last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -1)
cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
corpus=$(echo "$last" | sed -n 's/.*corp: \([^ ]*\).*/\1/p')
after=$(ls "$T/crashes" | wc -l)
new=$((after - before))
{
    echo "final line: $last"
    grep -E '^stat::' "$log" || true
    echo "executions: ${execs:-?}"
    echo "execs/s:    ${speed:-?}"
    echo "coverage:   cov: ${cov:-?}  ft: ${ft:-?}  corpus: ${corpus:-?}"
    echo "exit:       $status"
    echo "crashes:    $new new artifact(s) this run, $after in $T/crashes"
    if [ "$new" -gt 0 ]; then
        ls -t "$T/crashes" | head -"$new" | sed "s|^|            $T/crashes/|"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5 | sed 's/^/            /'
    fi
} | tee "$T/final_stats.txt"
exit "$status"
