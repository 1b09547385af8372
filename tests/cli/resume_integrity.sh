#!/usr/bin/env bash
# resume_integrity.sh: the files a resume reads back, damaged. A resume must refuse a damaged file, naming it
# and the problem, and leave the run's files as they were, or mend it where that is safe, never carry the
# damage on. model.cnm (train and continual, the continual state inside it) carries a CRC-32 and is refused;
# continual's tasks.csv is rewritten from the checkpoint's rows, so any damage to it is mended; train's
# metrics.csv rows are not in the checkpoint, so the rows a resume keeps are checked and a bad one is refused.
# (zoo.csv's rows are tested in zoo.sh.) Needs CRITNET_BIN and the mnist digits (scripts/setup.sh).
set -uo pipefail
bin=${CRITNET_BIN:?set CRITNET_BIN to the critnet program}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}
# refused WHAT DIR PATTERN COMMAND...: exit 1 (no signal), stderr matches PATTERN, DIR's files unchanged
refused() {
    local what=$1 dir=$2 want=$3 rc=0
    shift 3
    (cd "$dir" && find . -type f -exec md5sum {} + | sort) >before.txt
    "$@" >out.txt 2>err.txt || rc=$?
    if [ "$rc" != 1 ]; then
        bad "$what: exit status $rc (1 expected): $(head -c 300 err.txt)"
    elif grep -qE "Sanitizer|runtime error" err.txt; then
        bad "$what: a sanitizer report: $(grep -m1 -E 'Sanitizer|runtime error' err.txt)"
    elif ! grep -qE -- "$want" err.txt; then
        bad "$what: stderr does not match '$want': $(head -c 300 err.txt)"
    else
        ok
    fi
    (cd "$dir" && find . -type f -exec md5sum {} + | sort) | cmp -s - before.txt || bad "$what: the refusal changed $dir"
}
flip() { # flip FILE OFFSET: one byte inverted
    printf "$(printf '\\%03o' $((0xff ^ $(od -An -tu1 -j "$2" -N1 "$1"))))" |
        dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# ---------------------------------------------------------------- train: model.cnm and metrics.csv
train=(train --data gaussian --in 12 --classes 3 --width 16 --depth 1 --epochs 3 --limit-train 300 --threads 1 --quiet)
"$bin" "${train[@]}" --out S >/dev/null 2>&1 || bad "the uninterrupted train run failed"
"$bin" "${train[@]}" --stop-after 2 --out R >/dev/null 2>&1 || bad "train --stop-after 2 failed"
cp -r R R.good
fresh() { rm -rf R && cp -r R.good R; }
size=$(stat -c %s R/model.cnm)
flip R/model.cnm $((size / 2))
refused "train: a byte of model.cnm changed" R "R/model.cnm: checksum mismatch" "$bin" train --resume R --quiet
fresh && truncate -s $((size - 100)) R/model.cnm
refused "train: model.cnm cut short" R "R/model.cnm: .*(truncated|checksum)" "$bin" train --resume R --quiet
fresh && sed -i '3s/^2,\([0-9]\)/2,x/' R/metrics.csv
refused "train: a field of metrics.csv changed" R "R/metrics.csv: line 3: field 2 is not a number" \
    "$bin" train --resume R --quiet
fresh && sed -i '3d' R/metrics.csv
refused "train: epoch 2's row gone" R "R/metrics.csv: line 3: missing; the checkpoint has 2 epochs" \
    "$bin" train --resume R --quiet
fresh && sed -i '2d' R/metrics.csv
refused "train: epoch 1's row gone" R "R/metrics.csv: line 2: not the row of epoch 1" "$bin" train --resume R --quiet
fresh && truncate -s -5 R/metrics.csv
refused "train: the last row cut short" R "R/metrics.csv: line 3: cut short" "$bin" train --resume R --quiet
fresh && sed -i '3s/,[^,]*$//' R/metrics.csv
refused "train: a row missing a field" R "R/metrics.csv: line 3: 8 fields, not 9" "$bin" train --resume R --quiet
fresh && sed -i '1s/epoch/epochs/' R/metrics.csv
refused "train: another header" R "R/metrics.csv: line 1: not the header" "$bin" train --resume R --quiet
fresh && rm R/metrics.csv
refused "train: metrics.csv gone" R "R/metrics.csv: cannot read the rows of the 2 epochs" "$bin" train --resume R --quiet
# a row of a killed run's later epoch is dropped, as before, and the undamaged run resumes to the straight rows
fresh && tail -1 R/metrics.csv | sed 's/^2,/3,/' >>R/metrics.csv
"$bin" train --resume R --quiet >out.txt 2>&1 && ok || bad "train: resume with a later epoch's row: $(cat out.txt)"
[ "$(cut -d, -f1-8 R/metrics.csv)" = "$(cut -d, -f1-8 S/metrics.csv)" ] && ok ||
    bad "train: resumed metrics.csv differs: $(diff <(cut -d, -f1-8 R/metrics.csv) <(cut -d, -f1-8 S/metrics.csv))"

# ---------------------------------------------------------------- continual: model.cnm refused, tasks.csv mended
cont=(continual --data mnist --tasks 3 --examples-per-task 300 --width 16 --seed 3 --quiet --no-plot --threads 1)
"$bin" "${cont[@]}" --out A >/dev/null 2>&1 || bad "the uninterrupted continual run failed"
"$bin" "${cont[@]}" --stop-after 2 --out P >/dev/null 2>&1 || bad "continual --stop-after 2 failed"
cp -r P P.good
cfresh() { rm -rf P && cp -r P.good P; }
size=$(stat -c %s P/model.cnm)
flip P/model.cnm $((size - 40)) # inside the continual state, at the end of the file
refused "continual: a byte of the continual state changed" P "P/model.cnm: checksum mismatch" \
    "$bin" continual --resume P
cfresh && truncate -s $((size / 3)) P/model.cnm
refused "continual: model.cnm cut short" P "P/model.cnm: .*(truncated|checksum)" "$bin" continual --resume P
# tasks.csv damaged in four ways: the resume rewrites it from the checkpoint's rows, and it ends as A's
for damage in "sed -i 2s/^1,0/1,9/ P/tasks.csv" "sed -i 3d P/tasks.csv" "truncate -s -7 P/tasks.csv" "rm P/tasks.csv"; do
    cfresh && $damage
    if "$bin" continual --resume P >out.txt 2>&1 && cmp -s A/tasks.csv P/tasks.csv; then ok; else
        bad "continual: tasks.csv damaged ($damage) and resumed: $(cat out.txt) $(diff A/tasks.csv P/tasks.csv)"
    fi
done

echo "resume_integrity: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
