"""test_train.py: critnet.train (cn_train from Python) and Ctrl-C stopping long calls part-way."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import critnet

SPEC = "input 20\ndense out=32 act=tanh\ndense out=32 act=tanh\ndense out=32 act=tanh\ndense out=3\n"


def blobs(n, seed, noise=2.0):
    """three Gaussian clusters in 20-D, overlapping enough that one epoch does not solve them"""
    centers = np.random.default_rng(99).standard_normal((3, 20)).astype(np.float32)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (centers[y] + noise * rng.standard_normal((n, 20))).astype(np.float32)
    return x, y


def accuracy(net, x, y):
    return float((net.predict(x).argmax(axis=1) == y).mean())


def weights(net, path):
    net.save(path)
    return path.read_bytes()


def test_accuracy_rises_above_chance():
    x, y = blobs(1500, 1)
    xt, yt = blobs(600, 2)
    net = critnet.from_spec(SPEC, seed=0)
    before = accuracy(net, xt, yt)
    h = critnet.train(net, (x, y), test=(xt, yt), epochs=4, batch=32, seed=1)
    assert h.epochs_done == 4 and h.test_accuracy.shape == (4,)
    assert h.test_accuracy[-1] > 0.6 > before + 0.1, (before, h.test_accuracy)  # chance is 1/3
    assert h.test_accuracy[-1] == pytest.approx(accuracy(net, xt, yt)), "the net was trained in place"
    assert np.all(np.isfinite(h.sigma)) and np.all(np.isfinite(h.lambda_max)) and np.all(np.isnan(h.crit_reg))


def test_same_seed_gives_identical_weights(tmp_path):
    x, y = blobs(400, 3)
    runs = []
    for i, seed in enumerate((5, 5, 6)):
        net = critnet.from_spec(SPEC, seed=0)
        critnet.train(net, (x, y), epochs=2, batch=16, optim="adam", seed=seed, crit_weight=0.05)
        runs.append(weights(net, tmp_path / f"w{i}.cnm"))
    assert runs[0] == runs[1], "the same seed gave different weights"
    assert runs[0] != runs[2], "another seed (another shuffle and probes) gave the same weights"


def test_crit_weight_lowers_R():
    x, y = blobs(800, 4)
    runs = {}
    for weight in (0.0, 1.0):
        # sigma_w = 4 puts a tanh MLP in the chaotic phase: ln sigma_l well above 0
        net = critnet.from_spec(SPEC, init="normal", sigma_w=4.0, seed=0)
        runs[weight] = critnet.train(net, (x, y), epochs=5, batch=32, seed=1, crit_weight=weight, crit_probes=2)
    R = runs[1.0].crit_reg
    assert np.all(np.isnan(runs[0.0].crit_reg)) and np.all(np.isfinite(R))
    assert np.all(np.diff(R) < 0) and R[-1] < 0.75 * R[0], R
    # and the tracked sigma (held-out probes, not the regulariser's own) ends nearer 1 than without it
    assert abs(np.log(runs[1.0].sigma[-1])) < abs(np.log(runs[0.0].sigma[-1])), (runs[1.0].sigma, runs[0.0].sigma)


def test_named_dataset_and_out_folder(tmp_path):
    net = critnet.from_spec(SPEC, seed=0)
    h = critnet.train(net, "gaussian", epochs=2, batch=64, seed=2, out=tmp_path / "run")
    assert h.epochs_done == 2
    assert {"model.cnm", "metrics.csv", "summary.json"} <= set(os.listdir(tmp_path / "run"))
    assert critnet.load(tmp_path / "run" / "model.cnm").predict(np.zeros((1, 20), np.float32)).shape == (1, 3)


@pytest.mark.parametrize("options, exc, name", [
    ({"epochs": 0}, ValueError, "epochs"),
    ({"epochs": 2.5}, TypeError, "epochs"),
    ({"batch": -1}, ValueError, "batch"),
    ({"optim": "rmsprop"}, ValueError, "optim"),
    ({"lr": "fast"}, TypeError, "lr"),
    ({"lr": float("nan")}, ValueError, "lr"),
    ({"momentum": 1.0}, ValueError, "momentum"),
    ({"weight_decay": -1e-4}, ValueError, "weight_decay"),
    ({"crit_weight": -1}, ValueError, "crit_weight"),
    ({"crit_target": "chi"}, ValueError, "crit_target"),
    ({"crit_probes": 0}, ValueError, "crit_probes"),
    ({"sched": "linear"}, ValueError, "sched"),
    ({"loss": "hinge"}, ValueError, "loss"),
    ({"progress": 3}, TypeError, "progress"),
    ({"no_such_option": 1}, TypeError, "no_such_option"),
])
def test_bad_options_raise_naming_the_option(options, exc, name):
    x, y = blobs(50, 5)
    with pytest.raises(exc, match=name):
        critnet.train(critnet.from_spec(SPEC, seed=0), (x, y), **options)


def test_bad_data_raises():
    net = critnet.from_spec(SPEC, seed=0)
    x, y = blobs(50, 5)
    with pytest.raises(TypeError, match="dtype"):
        critnet.train(net, (x.astype(np.float64), y))
    with pytest.raises(TypeError, match="y: expected a 1-D array of integer"):
        critnet.train(net, (x, y.astype(np.float32)))
    with pytest.raises(ValueError, match=r"y\[0\] = 7"):
        critnet.train(net, (x, np.full(50, 7)))
    with pytest.raises(ValueError, match="49 labels for 50"):
        critnet.train(net, (x, y[:49]))
    x[3, 4] = np.nan
    with pytest.raises(critnet.Error, match="NaN"):
        critnet.train(net, (x, y))


def test_divergence_raises_and_keeps_the_last_good_state(tmp_path):
    """a ReLU MLP at lr 1000 survives one epoch and overflows in the second: the error names the step, and the
    net is left as the first epoch ended, bit for bit what a one-epoch run of the same seed gives"""
    x, y = blobs(200, 6)
    relu = "input 20\ndense out=32 act=relu\ndense out=32 act=relu\ndense out=3\n"
    options = dict(lr=1e3, momentum=0.0, seed=1)
    one = critnet.from_spec(relu, seed=0)
    critnet.train(one, (x, y), epochs=1, **options)
    net = critnet.from_spec(relu, seed=0)
    epochs = []
    with pytest.raises(critnet.Error, match="diverged at epoch 2") as e:
        critnet.train(net, (x, y), epochs=3, progress=epochs.append, **options)
    assert e.value.status == "nonfinite" and len(epochs) == 1
    assert weights(net, tmp_path / "after.cnm") == weights(one, tmp_path / "one.cnm"), "not the epoch-1 state"
    assert np.isfinite(net.predict(x)).all()


# ------------------------------------------------------------------ Ctrl-C

CHILD_MEASURE = """
    import sys, time, numpy as np, critnet
    critnet.set_threads(1)
    net = critnet.from_spec("input 256\\n" + "dense out=256 act=tanh\\n" * 8 + "dense out=10\\n", seed=0)
    x = np.random.default_rng(0).standard_normal((20000, 256)).astype(np.float32)
    seen = {}
    def progress(done, total):
        if not seen:
            print("started", flush=True)
        seen.update(done=done, total=total)
    try:
        net.measure(x, spectrum=16, batch=20, progress=progress)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", int(seen["done"]), int(seen["total"]), flush=True)
"""

CHILD_TRAIN = """
    import sys, numpy as np, critnet
    critnet.set_threads(1)
    net = critnet.from_spec("input 256\\n" + "dense out=256 act=tanh\\n" * 6 + "dense out=10\\n", seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20000, 256)).astype(np.float32)
    y = rng.integers(0, 10, 20000)
    epochs = []
    print("started", flush=True)
    try:
        critnet.train(net, (x, y), epochs=1000, batch=32, crit_weight=0.1, progress=epochs.append)
        print("finished", flush=True)
    except KeyboardInterrupt:
        ok = bool(np.isfinite(net.predict(x[:10])).all())
        print("interrupted", len(epochs), ok, flush=True)
"""


def interrupt(child, settle):
    """runs child in a fresh python, sends SIGINT `settle` s after it prints 'started', and returns (its
    last line, seconds from the signal to its exit)"""
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(child)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "started"
        time.sleep(settle)
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=60)
        return out.strip().splitlines()[-1], time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_ctrl_c_stops_measure_part_way():
    last, seconds = interrupt(CHILD_MEASURE, 0.5)
    word, done, total = last.split()
    assert word == "interrupted" and 0 < int(done) < int(total) // 2, last
    assert seconds < 3, f"KeyboardInterrupt came {seconds:.1f} s after SIGINT"


def test_ctrl_c_stops_train_part_way():
    last, seconds = interrupt(CHILD_TRAIN, 1.0)
    word, epochs, finite = last.split()
    assert word == "interrupted" and int(epochs) < 1000 and finite == "True", last
    assert seconds < 3, f"KeyboardInterrupt came {seconds:.1f} s after SIGINT"
