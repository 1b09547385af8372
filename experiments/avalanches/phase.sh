#!/usr/bin/env bash
# phase.sh: where are avalanches in random tanh MLPs closest to power laws, and is that the mean-field critical
# line? For each sigma_b and threshold, critnet measure --avalanches over a grid of sigma_w (W ~ N(0,
# sigma_w^2/fan_in), b ~ N(0, sigma_b^2), Gaussian inputs of mean square 1), then summary.py: per sigma_w the fits
# of sizes and durations, the likelihood ratio R against the exponential, gamma measured, predicted and from the
# collapse; per sigma_b and threshold the sigma_w with the largest R for the sizes against the mean-field critical
# sigma_w (critnet theory --critical) and against where lambda_0 crosses zero. The full mode writes
# experiments/avalanches/phase.md, which docs/avalanches.md quotes.
#
# usage: experiments/avalanches/phase.sh [--short] [--work DIR]
#   --short   a 3-point grid of small networks: seconds, for tests/cli/avalanches.sh; writes nothing
#   --work    keep the JSON files in DIR (default: a temporary folder, removed)
# env: CRITNET_BIN (default build/critnet)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${CRITNET_BIN:-$root/build/critnet}
short=0
work=
while [ $# -gt 0 ]; do
    case $1 in
    --short) short=1; shift ;;
    --work) work=$2; shift 2 ;;
    *) echo "phase.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ -z "$work" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
if [ $short = 1 ]; then
    net=(--width 32 --depth 12 --in 32)
    run=(--samples 30 --aval-trials 5)
    sws="0.8 1.2 1.6"; sbs="0.05"; thresholds="2"
else
    net=(--width 128 --depth 50 --in 128)
    run=(--samples 200 --aval-trials 10)
    sws=$(seq 0.8 0.1 1.9); sbs="0.05 0.3"; thresholds="1.5 2 2.5"
fi
t0=$(date +%s)
for sb in $sbs; do
    "$bin" theory --act tanh --sigma-b "$sb" --critical >"$work/theory_$sb.txt"
    for c in $thresholds; do
        for sw in $sws; do
            # one network draw per sigma_w (seed 1): lambda_0 beside the cascades; sigma is not needed (--probes 0)
            "$bin" measure --arch mlp "${net[@]}" --act tanh --init normal --sigma-w "$sw" --sigma-b "$sb" \
                --data gaussian "${run[@]}" --probes 0 --seed 1 --avalanches --aval-threshold "$c" --quiet \
                --json "$work/sb${sb}_c${c}_sw${sw}.json" >/dev/null
        done
    done
done
secs=$(($(date +%s) - t0))
/usr/bin/python3 "$here/phase_summary.py" "$work" | tee "$work/phase.md"
echo "phase.sh: $secs s of runs (critnet measure ${net[*]} ${run[*]}; sigma_w ${sws//$'\n'/ }; sigma_b $sbs; thresholds $thresholds)" | tee -a "$work/phase.md"
[ $short = 1 ] || cp "$work/phase.md" "$here/phase.md"
