#!/usr/bin/env bash
# The main demo: set up (packages, data), build critnet, train an MLP on Fashion-MNIST, evaluate it and
# measure its criticality.
# Run from anywhere; the run lands in runs/demo/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
build/critnet train --data fashion-mnist --arch mlp --width 256 --depth 3 --act relu \
    --optim sgd --lr 0.05 --momentum 0.9 --batch 128 --epochs 5 --seed 0 --out runs/demo
build/critnet eval --model runs/demo/model.cnm --data fashion-mnist
# how close to criticality the trained network sits: sigma, the Lyapunov spectrum, Delta
build/critnet measure --model runs/demo/model.cnm --data fashion-mnist --samples 1000 --spectrum 8 \
    --dynamic-range --json runs/demo/measure.json --csv runs/demo/profile.csv --plot runs/demo/plots
echo "demo done: runs/demo/{model.cnm,metrics.csv,summary.json,measure.json,profile.csv,plots/}"
