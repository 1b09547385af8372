#!/usr/bin/env bash
# zoo.sh: critnet zoo on a tiny spec (4-5 models, a few hundred Fashion-MNIST training examples, 20 measure
# inputs): the rows and columns of zoo.csv and zoo.json; a model set up to diverge recorded as diverged while the
# others finish; a rerun skips the models done; a run killed (SIGKILL) after its first row resumes and ends with
# the rows and checkpoints of an uninterrupted run; `mpirun -np 2` gives the rows of one process (skipped, with a
# message, only when the program was built without MPI); a spec changed under a finished id is refused; bad spec
# lines (malformed, unknown act, duplicate id) stop the zoo with FILE:LINE before anything trains; the presets
# parse and build. Runs in well under a minute on 2 cores.
set -uo pipefail
: "${CRITNET_BIN:?}"
bin=$CRITNET_BIN
src=${CRITNET_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}
# mpirun refuses root without these; harmless otherwise
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# zoo.csv without the columns that hold times (they differ from run to run), and the row checksums that cover them
strip() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = $i != "train_seconds" && $i != "measure_seconds" && $i != "row_crc32" }
             { s = ""; n = 0; for (i = 1; i <= NF; i++) if (keep[i]) s = s (n++ ? "," : "") $i; print s }' "$1"
}
col() { # col FILE ID COLUMN: the cell of that row
    awk -F, -v id="$2" -v c="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next } $1 == id { print $k }' "$1"
}

# the LeNet line names its model file relative to the spec's folder
mkdir -p "$tmp/spec"
cp "$src/examples/zoo/lenet5.model" "$tmp/spec/"
cat >"$tmp/spec/tiny.spec" <<'EOF'
# a tiny zoo: seconds in all
id=relu  family=mlp-relu era=2010s arch=mlp act=relu width=32 depth=2 init=kaiming_normal epochs=1 limit-train=300 batch=32 seed=1
id=tanh  family=mlp-tanh era=1990s arch=mlp act=tanh width=32 depth=3 init=normal sigma-w=1.5 optim=adam epochs=2 limit-train=300 batch=32 seed=2   # chaotic start
id=boom  family=linear   era=none  arch=mlp act=identity width=32 depth=2 optim=sgd lr=1e6 epochs=1 limit-train=300 batch=32 seed=3
id=lenet family=lenet    era=1990s model-file=lenet5.model init=torch epochs=1 limit-train=200 batch=50 seed=4
EOF
zoo=(zoo --data fashion-mnist --samples 20 --quiet)

# ---------------------------------------------------------------- a run: rows, columns, diverged
"$bin" "${zoo[@]}" --spec "$tmp/spec/tiny.spec" --out "$tmp/a" >"$tmp/a.out" 2>&1 && ok || bad "zoo run: $(cat "$tmp/a.out")"
csv=$tmp/a/zoo.csv
[ "$(wc -l <"$csv")" = 5 ] && ok || bad "zoo.csv should have a header and 4 rows: $(cat "$csv")"
for c in id family era depth width params optim lr epochs batch init sigma_w act norm dropout seed status \
    test_accuracy sigma lambda0 delta train_seconds settings; do
    head -1 "$csv" | tr , '\n' | grep -qx "$c" || bad "zoo.csv has no column $c"
done
ok
awk -F, 'NR == 1 { n = NF } NF != n { exit 1 }' "$csv" && ok || bad "rows with the wrong number of fields"
[ "$(cut -d, -f1 "$csv" | tr '\n' ' ')" = "id relu tanh boom lenet " ] && ok || bad "rows not in spec order"
[ "$(col "$csv" boom status)" = diverged ] && ok || bad "boom (lr 1e6) is not recorded as diverged: $(grep ^boom "$csv")"
col "$csv" boom message | grep -q "nan\|inf\|not finite" && ok || bad "diverged row without its message"
for id in relu tanh lenet; do
    [ "$(col "$csv" $id status)" = ok ] && ok || bad "$id: status $(col "$csv" $id status): $(grep "^$id," "$csv")"
    for c in test_accuracy sigma lambda0 train_seconds; do
        v=$(col "$csv" $id $c)
        awk -v v="$v" 'BEGIN { exit !(v ~ /^-?[0-9.e+-]+$/ && v != "") }' && ok || bad "$id: $c is '$v'"
    done
done
[ "$(col "$csv" relu depth),$(col "$csv" relu width),$(col "$csv" lenet act)" = "2,32,tanh" ] && ok ||
    bad "depth/width/act: $(col "$csv" relu depth),$(col "$csv" relu width),$(col "$csv" lenet act)"
col "$csv" tanh settings | grep -q "^id=tanh family=mlp-tanh era=1990s .*sigma-w=1.5.*optim=adam" && ok ||
    bad "settings column: $(col "$csv" tanh settings)"
/usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert len(d["rows"]) == 4, d["rows"]
assert d["rows"][2]["status"] == "diverged" and d["rows"][0]["test_accuracy"] > 0.1 and d["settings"]["threads"] == 1' \
    "$tmp/a/zoo.json" && ok || bad "zoo.json"
[ -s "$tmp/a/models/lenet/model.cnm" ] && "$bin" eval --model "$tmp/a/models/lenet/model.cnm" --threads 1 >/dev/null &&
    ok || bad "the model folder's checkpoint does not evaluate"

# ---------------------------------------------------------------- a rerun skips what is done
cp "$csv" "$tmp/a.csv"
touch "$tmp/marker"
"$bin" zoo --data fashion-mnist --samples 20 --spec "$tmp/spec/tiny.spec" --out "$tmp/a" >"$tmp/rerun.out" 2>&1 &&
    grep -q "4 done before: skipped" "$tmp/rerun.out" && ok || bad "rerun: $(cat "$tmp/rerun.out")"
cmp -s "$csv" "$tmp/a.csv" && ok || bad "a rerun changed zoo.csv"
[ -z "$(find "$tmp/a/models" -newer "$tmp/marker" -type f)" ] && ok || bad "a rerun trained again"

# ---------------------------------------------------------------- a changed spec under a finished id is refused
sed 's/^id=relu \(.*\)width=32/id=relu \1width=48/' "$tmp/spec/tiny.spec" >"$tmp/spec/changed.spec"
out=$("$bin" "${zoo[@]}" --spec "$tmp/spec/changed.spec" --out "$tmp/a" 2>&1)
[ $? = 2 ] && grep -q "relu was made with settings" <<<"$out" && grep -q "changed.spec:2" <<<"$out" && ok ||
    bad "changed spec not refused: $out"
cmp -s "$csv" "$tmp/a.csv" && ok || bad "a refused rerun changed zoo.csv"

# ---------------------------------------------------------------- zoo.csv as read back: damaged rows refused
# Each row carries the CRC-32 of its text; a rerun takes the rows it finds as finished models, so a changed or
# damaged one is refused with the file and the line named, and zoo.csv is left as it was. A last row cut short
# (a kill inside its write) is the one damage that is safe to mend: it is dropped and its model runs again.
damaged() { # what pattern: runs the zoo on $tmp/i (prepared by the caller) and expects a refusal
    cp "$tmp/i/zoo.csv" "$tmp/i.before"
    local out rc
    out=$("$bin" "${zoo[@]}" --spec "$tmp/spec/tiny.spec" --out "$tmp/i" 2>&1)
    rc=$?
    if [ $rc = 2 ] && grep -q -- "$2" <<<"$out"; then ok; else bad "$1: rc=$rc $out"; fi
    cmp -s "$tmp/i.before" "$tmp/i/zoo.csv" && ok || bad "$1: the refused rerun changed zoo.csv"
}
rm -rf "$tmp/i" && cp -r "$tmp/a" "$tmp/i"
# one digit of tanh's test accuracy changed
awk -F, -v OFS=, '$1 == "tanh" { $25 = ($25 == "0.5" ? "0.6" : "0.5") } 1' "$csv" >"$tmp/i/zoo.csv"
damaged "a changed cell" "zoo.csv: line 3: checksum mismatch: the row was changed or damaged"
cp "$csv" "$tmp/i/zoo.csv" && sed -i '3s/$/x/' "$tmp/i/zoo.csv"
damaged "a row with a longer checksum" "zoo.csv: line 3: not a row of [0-9]* comma-separated fields ending in its checksum"
cp "$csv" "$tmp/i/zoo.csv" && sed -i '3s/,[0-9a-f]*$//' "$tmp/i/zoo.csv"
damaged "a row without its checksum" "zoo.csv: line 3: not a row of"
cp "$csv" "$tmp/i/zoo.csv" && sed -i '3s/^/\n/' "$tmp/i/zoo.csv"
damaged "an empty line" "zoo.csv: line 3: empty"
cp "$csv" "$tmp/i/zoo.csv" && sed -i '1s/,row_crc32$//; 2,$s/,[0-9a-f]*$//' "$tmp/i/zoo.csv"
damaged "a zoo.csv of an earlier version" "zoo.csv: line 1: .*an earlier critnet, whose rows carry no checksum"
# the last row cut short in the middle: dropped with a warning, its model made again, the file as before
size=$(stat -c %s "$csv")
head -c $((size - 40)) "$csv" >"$tmp/i/zoo.csv"
out=$("$bin" zoo --data fashion-mnist --samples 20 --spec "$tmp/spec/tiny.spec" --out "$tmp/i" 2>&1)
rc=$?
[ $rc = 0 ] && grep -q "zoo.csv: line 5 is cut short (a killed run); that model will run again" <<<"$out" &&
    grep -q "3 done before: skipped" <<<"$out" && ok || bad "a torn last row: rc=$rc $out"
[ "$(strip "$tmp/i/zoo.csv")" = "$(strip "$csv")" ] && ok ||
    bad "zoo.csv after mending a torn row: $(diff <(strip "$tmp/i/zoo.csv") <(strip "$csv"))"

# ---------------------------------------------------------------- SIGKILL after the first row, then resume
# five models of half a second or more each, so that the kill lands between rows
{
    for s in 1 2 3 4 5; do
        echo "id=k$s family=mlp era=x arch=mlp act=tanh width=256 depth=3 epochs=2 limit-train=5000 batch=32 seed=$s"
    done
} >"$tmp/spec/kill.spec"
"$bin" "${zoo[@]}" --spec "$tmp/spec/kill.spec" --out "$tmp/b" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 3000); do # up to 60 s
    [ -f "$tmp/b/zoo.csv" ] && [ "$(wc -l <"$tmp/b/zoo.csv")" -ge 2 ] && break
    sleep 0.02
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
rows=$(($(wc -l <"$tmp/b/zoo.csv") - 1))
[ "$rows" -ge 1 ] && [ "$rows" -lt 5 ] && ok || bad "kill -9 should land between rows (zoo.csv had $rows rows)"
"$bin" "${zoo[@]}" --spec "$tmp/spec/kill.spec" --out "$tmp/b" >"$tmp/resume.out" 2>&1 && ok ||
    bad "resume after kill: $(cat "$tmp/resume.out")"
"$bin" "${zoo[@]}" --spec "$tmp/spec/kill.spec" --out "$tmp/c" >/dev/null 2>&1 && ok || bad "uninterrupted run"
[ "$(strip "$tmp/b/zoo.csv")" = "$(strip "$tmp/c/zoo.csv")" ] && ok ||
    bad "killed and resumed zoo.csv differs from an uninterrupted one: $(diff <(strip "$tmp/b/zoo.csv") <(strip "$tmp/c/zoo.csv"))"
for s in 1 2 3 4 5; do
    cmp -s "$tmp/b/models/k$s/model.cnm" "$tmp/c/models/k$s/model.cnm" || bad "k$s: checkpoint differs after resume"
done
ok

# ---------------------------------------------------------------- MPI: two ranks give the rows of one process
if ! "$bin" zoo --help | grep -q "MPI: this build has it"; then
    echo "SKIP: mpirun -np 2 check: $bin was built without MPI (CMake found none)"
elif ! command -v mpirun >/dev/null 2>&1; then
    bad "the program has MPI but there is no mpirun on the PATH (Debian: openmpi-bin)"
else
    # in a sanitized build, the full unwind lets tests/lsan.supp name a block Open MPI's own thread keeps
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:fast_unwind_on_malloc=0" \
        mpirun -np 2 --oversubscribe "$bin" "${zoo[@]}" --spec "$tmp/spec/tiny.spec" --out "$tmp/mpi" >"$tmp/mpi.out" 2>&1 &&
        ok || bad "mpirun -np 2: $(cat "$tmp/mpi.out")"
    [ "$(strip "$tmp/mpi/zoo.csv")" = "$(strip "$csv")" ] && ok ||
        bad "2 ranks and 1 process give different rows: $(diff <(strip "$tmp/mpi/zoo.csv") <(strip "$csv"))"
fi

# ---------------------------------------------------------------- bad specs stop before anything trains
expect_error() { # what pattern spec-text
    printf '%s\n' "$3" >"$tmp/spec/bad.spec"
    local out rc
    out=$("$bin" "${zoo[@]}" --spec "$tmp/spec/bad.spec" --out "$tmp/bad" 2>&1)
    rc=$?
    if [ $rc = 2 ] && grep -q -- "$2" <<<"$out" && [ ! -e "$tmp/bad/zoo.csv" ]; then ok; else bad "$1: rc=$rc $out"; fi
}
good="id=g family=f era=e width=8 depth=1 epochs=1 limit-train=50"
expect_error "malformed line" "bad.spec:3: 'depth': expected key=value" "$good
# comment
id=x family=f era=e width=8 depth"
expect_error "unknown act" "bad.spec:2: --act tanhh: unknown activation" "$good
id=x family=f era=e act=tanhh"
expect_error "unknown key" "bad.spec:1: unknown key 'widht'" "id=x family=f era=e widht=8"
expect_error "unknown arch" "bad.spec:1: --arch transformer" "id=x family=f era=e arch=transformer"
expect_error "duplicate id" "bad.spec:3: id=g is already used on line 1" "$good
id=h family=f era=e
id=g family=f era=e"
expect_error "missing era" "bad.spec:1: .*missing: era=" "id=x family=f width=8"
expect_error "missing model file" "bad.spec:1: .*nonexistent.model" "id=x family=f era=e model-file=nonexistent.model"
expect_error "zoo-wide key" "bad.spec:1: threads= cannot be set per model" "id=x family=f era=e threads=4"

# ---------------------------------------------------------------- presets: specs that parse and build
n_small=$("$bin" zoo --preset small --print-spec | grep -c '^id=')
n_full=$("$bin" zoo --preset full --print-spec | grep -c '^id=')
[ "$n_small" -ge 20 ] && [ "$n_full" -ge 80 ] && ok || bad "presets: small $n_small, full $n_full models"
# the printed text, saved beside the model files, is a spec that gives the same settings
mkdir -p "$tmp/presets"
cp "$src"/examples/zoo/*.model "$tmp/presets/"
"$bin" zoo --preset full --print-spec >"$tmp/presets/full.spec"
"$bin" zoo --spec "$tmp/presets/full.spec" --check >"$tmp/check.out" 2>&1 && grep -q "96 models" "$tmp/check.out" &&
    ok || bad "the printed full preset does not check: $(cat "$tmp/check.out")"
"$bin" zoo --preset small --check >"$tmp/check.out" 2>&1 && ok || bad "preset small: $(cat "$tmp/check.out")"
"$bin" zoo --spec "$src/examples/zoo-example.spec" --check >"$tmp/check.out" 2>&1 && ok ||
    bad "examples/zoo-example.spec: $(cat "$tmp/check.out")"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
