"""conftest.py: what the tests of the Python module share: the critnet program to compare with, a small
trained checkpoint, and its inputs as a .npy file that both sides read.

Run through ctest (python_* tests), which sets PYTHONPATH=BUILD/python and CRITNET_BIN; by hand:
    PYTHONPATH=build/python CRITNET_BIN=build/critnet /usr/bin/python3 -m pytest tests/python
"""
import json
import os
import subprocess

import numpy as np
import pytest

import critnet

# the hidden 3-layer tanh MLP that tests/cli/measure.sh trains too: seconds on Gaussian data
TRAIN = ["train", "--data", "gaussian", "--in", "20", "--classes", "3", "--arch", "mlp", "--width", "16",
         "--depth", "3", "--act", "tanh", "--epochs", "2", "--quiet"]


def _bin():
    path = os.environ.get("CRITNET_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "critnet"))
    if not os.path.exists(path):
        pytest.skip(f"no critnet program at {path} (set CRITNET_BIN)")
    return path


@pytest.fixture(scope="session")
def cli():
    """run(*args) -> stdout of `critnet ARGS` (failing the test on a non-zero exit); run.json(*args) parses it."""
    exe = _bin()

    def run(*args):
        p = subprocess.run([exe, *map(str, args)], capture_output=True, text=True)
        assert p.returncode == 0, f"critnet {' '.join(map(str, args))}: {p.stderr}"
        return p.stdout
    run.json = lambda *args: json.loads(run(*args))
    run.exe = exe
    return run


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("critnet")


@pytest.fixture(scope="session")
def checkpoint(cli, work):
    """model.cnm of a two-epoch run of critnet train"""
    cli(*TRAIN, "--out", work / "run")
    return work / "run" / "model.cnm"


@pytest.fixture(scope="session")
def inputs(work):
    """(x, path): 64 inputs of the checkpoint's size, float32, also written as x.npy for --data npy:"""
    x = np.random.default_rng(7).standard_normal((64, 20)).astype(np.float32)
    path = work / "x.npy"
    np.save(path, x)
    return x, path


@pytest.fixture(autouse=True)
def one_thread():
    """the CLI's measure runs on one thread; OpenBLAS's sums can round differently on two"""
    critnet.set_threads(1)
