#!/usr/bin/env bash
# critnet measure --jacobian-spectrum from the shell: a linear MLP with orthogonal weights has every singular
# value of its input-output Jacobian at 1 (JSON mean_s2 and s_min/s_max, the CSV's rows), a tanh MLP's
# spectrum spreads (mean s^4 / mean s^2^2 > 1), the plot is written, and the options are checked.
set -uo pipefail
: "${CRITNET_BIN:?}"
bin=$CRITNET_BIN
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }

common=(--data fashion-mnist --samples 4 --probes 0 --spectrum 0 --quiet --width 64 --depth 3 --jacobian-spectrum)
"$bin" measure "${common[@]}" --act identity --init orthogonal --jacobian-samples 2 --json "$tmp/lin.json" \
    --jacobian-csv "$tmp/lin.csv" --plot "$tmp/plots" && ok || bad "linear orthogonal"
$py - "$tmp/lin.json" "$tmp/lin.csv" <<'PY' && ok || bad "orthogonal weights must give s = 1"
import json, sys
j = json.load(open(sys.argv[1]))["jacobian"]
rows = open(sys.argv[2]).read().split()[1:]
assert j["inputs"] == 2 and j["n_in"] == 784 and j["n_out"] == 64 and len(rows) == 2 * 64, (j, len(rows))
assert abs(j["mean_s2"] - 1) < 1e-4 and abs(j["s_min"] - 1) < 1e-4 and abs(j["s_max"] - 1) < 1e-4, j
PY
[[ -s "$tmp/plots/jacobian_spectrum.png" ]] && ok || bad "no jacobian_spectrum.png"
"$bin" measure "${common[@]}" --act tanh --init normal --sigma-w 2.5 --json "$tmp/tanh.json" && ok || bad "tanh"
$py -c "import json,sys; j=json.load(open(sys.argv[1]))['jacobian']; sys.exit(0 if j['mean_s4'] > 1.2 * j['mean_s2']**2 else 1)" \
    "$tmp/tanh.json" && ok || bad "a chaotic tanh net's singular values must spread"
out=$("$bin" measure --data fashion-mnist --jacobian-samples 3 2>&1)
[[ $? -eq 2 ]] && echo "$out" | grep -q "need --jacobian-spectrum" && ok || bad "an option without the flag: $out"
out=$("$bin" measure --data fashion-mnist --jacobian-spectrum --jacobian-samples 0 2>&1)
[[ $? -eq 2 ]] && ok || bad "--jacobian-samples 0 must be refused: $out"

echo "jacobian: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
