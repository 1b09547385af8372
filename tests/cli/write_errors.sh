#!/usr/bin/env bash
# Crash-safe writes of the critnet program under a file-size limit (ulimit -f; critnet ignores SIGXFSZ, so a
# write fails with EFBIG), on a full disk (a tiny tmpfs, where mount namespaces are allowed) and with a file's
# temporary blocked by a folder: every failure ends
# with exit 1 and a message naming the file, never a death by signal, and leaves the earlier file as it was;
# train then resumes once the limit is gone, to the same rows as a run that never met it.
set -uo pipefail
: "${CRITNET_BIN:?}"
bin=$CRITNET_BIN
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# the columns of metrics.csv that a rerun reproduces: all but the seconds
rows() { cut -d, -f1-8 "$1"; }

train=(train --data gaussian --in 20 --classes 3 --arch mlp --width 96 --depth 2 --epochs 3 --threads 1 --quiet)
"$bin" "${train[@]}" --out "$tmp/straight" >/dev/null 2>&1 || bad "the uninterrupted run failed"
"$bin" "${train[@]}" --stop-after 1 --out "$tmp/run" >/dev/null 2>&1 || bad "the first epoch failed"
ck=$(stat -c %s "$tmp/run/model.cnm")
[ "$ck" -gt 20000 ] || bad "the checkpoint is only $ck bytes; the limit below would not bite"
cp "$tmp/run/model.cnm" "$tmp/model.before"
cp "$tmp/run/summary.json" "$tmp/summary.before"

# 1. the checkpoint exceeds a 16 KiB limit: the run ends with exit 1 and EFBIG named, the epoch-1 files stay
(ulimit -f 16 && exec "$bin" train --resume "$tmp/run" --stop-after 1 --quiet) >"$tmp/out1" 2>&1
rc=$?
if [ "$rc" = 1 ] && grep -q "model.cnm.tmp: write failed, .*model.cnm was left as it was: File too large" "$tmp/out1"; then
    ok
else
    bad "checkpoint under ulimit -f 16: exit $rc (153 is death by SIGXFSZ): $(cat "$tmp/out1")"
fi
cmp -s "$tmp/model.before" "$tmp/run/model.cnm" && ok || bad "the checkpoint of epoch 1 changed"
cmp -s "$tmp/summary.before" "$tmp/run/summary.json" && ok || bad "summary.json changed after a failed epoch"
[ ! -e "$tmp/run/model.cnm.tmp" ] && ok || bad "model.cnm.tmp left behind"
grep -qE "Sanitizer|runtime error" "$tmp/out1" && bad "a sanitizer report: $(cat "$tmp/out1")" || ok

# 2. summary.json cannot be replaced (a folder holds its temporary's name): the run reports it and fails
mkdir "$tmp/run/summary.json.tmp"
"$bin" train --resume "$tmp/run" --stop-after 1 --quiet >"$tmp/out2" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q "summary.json.tmp: cannot create" "$tmp/out2" && ok ||
    bad "a blocked summary.json: exit $rc: $(cat "$tmp/out2")"
cmp -s "$tmp/summary.before" "$tmp/run/summary.json" && ok || bad "summary.json changed though it could not be written"
rmdir "$tmp/run/summary.json.tmp"

# 3. with the way clear the run resumes and ends as the uninterrupted one did
"$bin" train --resume "$tmp/run" --quiet >"$tmp/out3" 2>&1 || bad "resume after the failures: $(cat "$tmp/out3")"
if [ "$(rows "$tmp/run/metrics.csv")" = "$(rows "$tmp/straight/metrics.csv")" ]; then ok; else
    bad "metrics.csv after the failures differs from the uninterrupted run's:"
    diff <(rows "$tmp/run/metrics.csv") <(rows "$tmp/straight/metrics.csv")
fi
grep -q '"status":[[:space:]]*"done"' "$tmp/run/summary.json" && ok || bad "summary.json does not say done"

# 4. a report (theory --csv of a long sweep) past a 1 KiB limit: exit 1, EFBIG named, the earlier file kept
echo "earlier" >"$tmp/sweep.csv"
# (the table on stdout would meet the limit too, in the file the test keeps it in)
(ulimit -f 1 && exec "$bin" theory --act tanh --sweep 0.5:2.5:200 --csv "$tmp/sweep.csv") >/dev/null 2>"$tmp/out4"
rc=$?
[ "$rc" = 1 ] && grep -q "sweep.csv.tmp: write failed.*File too large" "$tmp/out4" && ok ||
    bad "theory --csv under ulimit -f 1: exit $rc: $(tail -3 "$tmp/out4")"
[ "$(cat "$tmp/sweep.csv")" = earlier ] && ok || bad "sweep.csv was changed"

# 5. a full disk: a 256 KiB tmpfs in a private mount namespace (unshare), the run copied onto it and the rest
# filled but for 40 KiB, less than a checkpoint: exit 1 naming ENOSPC, the checkpoint kept; with the filler gone
# the run resumes to the uninterrupted run's rows. Without mount namespaces this part is skipped, with a line.
"$bin" "${train[@]}" --stop-after 1 --out "$tmp/run5" >/dev/null 2>&1 || bad "the first epoch of run 5 failed"
if unshare -rm true 2>/dev/null; then
    out=$(BIN=$bin T=$tmp unshare -rm bash -c '
        set -u
        mkdir -p "$T/disk" && mount -t tmpfs -o size=256k tmpfs "$T/disk" || { echo "MOUNT FAILED"; exit 0; }
        cp -r "$T/run5" "$T/disk/run" && cp "$T/disk/run/model.cnm" "$T/model5.before"
        dd if=/dev/zero of="$T/disk/filler" bs=4k 2>/dev/null
        truncate -s -40K "$T/disk/filler"
        "$BIN" train --resume "$T/disk/run" --stop-after 1 --quiet 2>&1; echo "EXIT $?"
        cmp -s "$T/model5.before" "$T/disk/run/model.cnm" && echo "KEPT"
        [ -e "$T/disk/run/model.cnm.tmp" ] && echo "TMP LEFT"
        rm "$T/disk/filler"
        "$BIN" train --resume "$T/disk/run" --quiet 2>&1 && cut -d, -f1-8 "$T/disk/run/metrics.csv" >"$T/rows5"
        umount "$T/disk"' 2>&1)
    if grep -q "MOUNT FAILED" <<<"$out"; then
        echo "write_errors: no tmpfs in a mount namespace here; the full-disk part is skipped"
    else
        grep -q "model.cnm.tmp: write failed, .*No space left on device" <<<"$out" && grep -q "^EXIT 1$" <<<"$out" &&
            ok || bad "a full disk: $out"
        grep -q "^KEPT$" <<<"$out" && ok || bad "a full disk changed the checkpoint: $out"
        grep -q "^TMP LEFT$" <<<"$out" && bad "a full disk left model.cnm.tmp" || ok
        [ "$(cat "$tmp/rows5" 2>/dev/null)" = "$(rows "$tmp/straight/metrics.csv")" ] && ok ||
            bad "after the disk was freed, metrics.csv differs from the uninterrupted run's: $out"
    fi
else
    echo "write_errors: unshare -rm is not allowed here; the full-disk part is skipped"
fi

echo "write_errors: $pass passed, $fail failed"
[ "$fail" = 0 ]
