#!/usr/bin/env bash
# The TorchVision survey (issue 7): exports every TorchVision classification model to ONNX with Debian's
# python3-torchvision (random weights unless --pretrained finds TorchVision's weights in the local torch hub
# cache), measures each with `critnet measure` (sigma, lambda_0, Delta) on the same images, evaluates top-1/top-5
# when labelled images are given, and writes one table with every model, the ones that failed and why.
#   bash experiments/torchvision/run.sh --work ~/tv-runs     # all 80 models (docs/onnx.md#the-survey: times)
#   bash experiments/torchvision/run.sh --short              # 3 small models (or --models), 2 images: the
#                                                            # test suite's run
#   options: --work DIR      keep exports and results there; a rerun skips what is done (after a kill too)
#            --models a,b    only these models
#            --images DIR    inputs: an image folder (default: the first --samples Fashion-MNIST test images)
#            --labelled DIR  an ImageNet-style folder (one folder per class, sorted = class index): adds top-1/5
#            --samples N     images measured per model (default 4)
#            --pretrained    TorchVision's DEFAULT weights where cached locally (nothing is downloaded)
# Full mode (all models, no --models) writes docs/torchvision/: results.md and table.csv.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${CRITNET_BIN:-$root/build/critnet}
py=/usr/bin/python3 # Debian's python3-torch and python3-torchvision
[ -x "$bin" ] || { echo "build critnet first (cmake -B build && cmake --build build)" >&2; exit 1; }

short=0 work="" models=all images="" labelled="" samples=4 pretrained=()
while [ $# -gt 0 ]; do
    case $1 in
    --short) short=1 ;;
    --work) work=${2:?--work needs a folder}; shift ;;
    --models) models=${2:?--models needs a list}; shift ;;
    --images) images=${2:?--images needs a folder}; shift ;;
    --labelled) labelled=${2:?--labelled needs a folder}; shift ;;
    --samples) samples=${2:?--samples needs a number}; shift ;;
    --pretrained) pretrained=(--pretrained) ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
    esac
    shift
done
[[ $samples =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --samples must be a positive integer, not '$samples'" >&2; exit 2; }
# Delta's response curve costs a forward pass per stimulus point and input: 30 points keep the 80 models near
# an hour and a half on 2 cores; the short run keeps the suite fast
dr=(--dynamic-range --dr-points 30) probes=4
if [ $short = 1 ]; then
    [ "$models" = all ] && models=resnet18,mobilenet_v3_small,squeezenet1_1
    samples=2 dr=(--dynamic-range --dr-points 8) probes=2
fi
if [ -z "$work" ]; then work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
mkdir -p "$work/onnx" "$work/measure" "$work/eval"
settings="models=$models samples=$samples probes=$probes ${dr[*]} images=${images:-fashion-mnist} labelled=${labelled:-none} ${pretrained[*]}"
if [ -s "$work/settings" ] && [ "$(cat "$work/settings")" != "$settings" ]; then
    echo "run.sh: $work holds results made with other settings ($(cat "$work/settings")); use another --work" >&2
    exit 2
fi
echo "$settings" >"$work/settings"

if [ -z "$images" ]; then
    images=$work/images
    [ -d "$images" ] || "$py" "$here/images.py" "$samples" "$images"
fi

echo "== export (python3-torchvision)"
"$py" "$here/export.py" --out "$work/onnx" --models "$models" --skip-existing "${pretrained[@]}"
mapfile -t names < <("$py" -c "
import json, sys
rows = {}
for line in open(sys.argv[1]):
    r = json.loads(line); rows[r['model']] = r
want = sys.argv[2].split(',') if sys.argv[2] != 'all' else sorted(rows)
print('\n'.join(m for m in want if m in rows and rows[m]['status'] == 'ok'))" "$work/onnx/export.jsonl" "$models")

echo "== measure (${#names[@]} models, $samples images each)"
i=0
for m in "${names[@]}"; do
    i=$((i + 1))
    json=$work/measure/$m.json
    [ -s "$json" ] && continue
    start=$SECONDS
    if "$bin" measure --model "$work/onnx/$m.onnx" --data "images:$images" --samples "$samples" --probes "$probes" \
        "${dr[@]}" --threads 2 --quiet --json "$json.tmp" >"$work/measure/$m.out" 2>"$work/measure/$m.err"; then
        mv "$json.tmp" "$json"
        rm -f "$work/measure/$m.err"
        status=ok
    else
        rm -f "$json.tmp"
        status="failed: $(tail -1 "$work/measure/$m.err")"
    fi
    echo $((SECONDS - start)) >"$work/measure/$m.seconds"
    printf '[%d/%d] %s: %s (%d s)\n' "$i" "${#names[@]}" "$m" "$status" $((SECONDS - start))
done

if [ -n "$labelled" ]; then
    echo "== eval on $labelled"
    for m in "${names[@]}"; do
        [ -s "$work/eval/$m.json" ] && continue
        "$bin" eval --model "$work/onnx/$m.onnx" --data "images:$labelled" --top5 --threads 2 --json \
            >"$work/eval/$m.json.tmp" 2>"$work/eval/$m.err" && mv "$work/eval/$m.json.tmp" "$work/eval/$m.json" ||
            echo "$m: eval failed: $(tail -1 "$work/eval/$m.err")"
    done
fi

out=$work/report
[ $short = 0 ] && [ "$models" = all ] && out=$root/docs/torchvision
"$py" "$here/table.py" "$work" "$out"
if [ $short = 1 ]; then
    # the smoke run must have measured its models: a table of failures is not a pass
    want=$(tr ',' '\n' <<<"$models" | grep -c .)
    n=$(grep -c ',ok,' "$out/table.csv" || true)
    [ "$n" -eq "$want" ] || { echo "run.sh --short: $n of $want models measured" >&2; cat "$out/results.md" >&2; exit 1; }
fi
echo "results: $out/results.md"
