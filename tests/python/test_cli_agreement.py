"""test_cli_agreement.py: the module's numbers are the CLI's on the same inputs: measure (a trained
checkpoint and a fresh network from model text), predict, theory, the critical sigma_w, powerlaw and
branching. Both sides run the same library code on the same float32 inputs, so they agree to the last digit
that cJSON prints (it writes 15 to 17 significant digits, enough to round-trip a double)."""
import json
import math

import numpy as np
import pytest

import critnet

RTOL = 1e-12


def flatten(d, prefix=""):
    """{"a": {"b": [1, 2]}} -> {"a.b.0": 1, "a.b.1": 2}: every number and flag of a JSON document"""
    out = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            out.update(flatten(v, f"{prefix}{i}."))
    else:
        out[prefix[:-1]] = d
    return out


def assert_same_numbers(ours, theirs, keys):
    """every number under `keys` of the CLI's document equals ours to RTOL; returns the largest relative gap"""
    a, b = flatten({k: ours[k] for k in keys}), flatten({k: theirs[k] for k in keys})
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))
    worst = 0.0
    for k in b:
        if isinstance(b[k], (int, float)) and not isinstance(b[k], bool) and a[k] is not None:
            gap = abs(a[k] - b[k]) / max(abs(b[k]), 1e-300)
            worst = max(worst, gap)
            assert gap <= RTOL, f"{k}: module {a[k]!r}, CLI {b[k]!r}"
        else:
            assert a[k] == b[k], f"{k}: module {a[k]!r}, CLI {b[k]!r}"
    return worst


MEASURED = ["sigma", "lambda_max", "lyapunov_spectrum", "lyapunov_spectrum_stderr", "local_exponents",
            "degenerate_directions", "sigma_activity", "activity", "activity_slope", "dynamic_range", "blocks"]


def test_measure_checkpoint_equals_cli(cli, checkpoint, inputs, work):
    x, npy = inputs
    cli("measure", "--model", checkpoint, "--data", f"npy:{npy}", "--samples", 64, "--spectrum", 4,
        "--dynamic-range", "--dr-points", 20, "--seed", 5, "--json", work / "m.json", "--quiet")
    theirs = json.load(open(work / "m.json"))
    r = critnet.load(checkpoint).measure(x, spectrum=4, dynamic_range=True, dr_points=20, seed=5)
    ours = r.to_dict()
    worst = assert_same_numbers(ours, theirs, MEASURED)
    print(f"measure on a checkpoint: largest relative gap to the CLI {worst:.2e}")
    assert ours["mean_field"] is None and theirs["mean_field"] is None
    # the attributes are the document's numbers
    assert r.sigma == ours["sigma"]["value"] and r.lambda_max == r.spectrum[0]
    assert r.sigma_per_block.shape == (3,) and r.local_exponents.shape == (3, 4)
    # a different seed draws other probes: the comparison above can tell seeds apart
    other = critnet.load(checkpoint).measure(x, spectrum=4, seed=6)
    assert other.sigma != r.sigma


def test_measure_fresh_spec_equals_cli(cli, inputs, work):
    """from_spec draws the weights `critnet measure --model-file --init --seed` draws; the readout included"""
    x, npy = inputs
    spec = "input 20\n" + "dense out=24 act=relu\n" * 4 + "dense out=3\n"
    (work / "net.model").write_text(spec)
    cli("measure", "--model-file", work / "net.model", "--init", "normal", "--sigma-w", 1.6, "--sigma-b", 0.2,
        "--seed", 3, "--data", f"npy:{npy}", "--samples", 40, "--spectrum", 2, "--layers", "all",
        "--batch", 16, "--json", work / "f.json", "--quiet")
    theirs = json.load(open(work / "f.json"))
    net = critnet.from_spec(spec, init="normal", sigma_w=1.6, sigma_b=0.2, seed=3)
    ours = net.measure(x[:40], spectrum=2, include_readout=True, batch=16, seed=3).to_dict()
    assert_same_numbers(ours, theirs, MEASURED)
    assert len(ours["blocks"]) == 5


def test_predict_equals_cli(cli, checkpoint, inputs, work):
    x, npy = inputs
    cli("predict", "--model", checkpoint, "--data", f"npy:{npy}", "--out", work / "logits.npy")
    theirs = np.load(work / "logits.npy")
    net = critnet.load(checkpoint)
    ours = net.predict(x)
    assert ours.dtype == np.float32 and ours.shape == (64, 3)
    np.testing.assert_array_equal(ours, theirs)
    # other batches give the same rows up to the GEMM's blocking, which rounds differently
    np.testing.assert_allclose(net.predict(x, batch=7), theirs, rtol=1e-4, atol=1e-7)


def test_save_then_cli_reads_it(cli, inputs, work):
    """Net.save writes a checkpoint the CLI measures to the same numbers"""
    x, npy = inputs
    net = critnet.from_spec("input 20\ndense out=10 act=tanh\ndense out=10 act=tanh\ndense out=2\n", seed=1)
    net.save(work / "saved.cnm")
    cli("predict", "--model", work / "saved.cnm", "--data", f"npy:{npy}", "--out", work / "saved.npy")
    np.testing.assert_array_equal(critnet.load(work / "saved.cnm").predict(x), np.load(work / "saved.npy"))
    np.testing.assert_array_equal(net.predict(x), np.load(work / "saved.npy"))


@pytest.mark.parametrize("act,sw,sb", [("tanh", 1.5, 0.3), ("relu", 1.2, 0.1), ("gelu", 1.7, 0.05)])
def test_theory_equals_cli(cli, act, sw, sb):
    theirs = cli.json("theory", "--act", act, "--sigma-w", sw, "--sigma-b", sb, "--json")
    ours = critnet.theory(act, sw, sb).to_dict()
    for k in ["q_star", "chi1", "xi_c", "lambda_pred", "iterations", "converged", "phase", "sigma_w", "sigma_b"]:
        if isinstance(theirs[k], float):
            assert ours[k] == pytest.approx(theirs[k], rel=RTOL), k
        else:
            assert ours[k] == theirs[k], k


def test_critical_sigma_w_equals_cli(cli):
    theirs = cli.json("theory", "--act", "tanh", "--sigma-b", 0.3, "--critical", "--json")
    ours = critnet.critical_sigma_w("tanh", sigma_b=0.3)
    assert ours == pytest.approx(theirs["sigma_w_critical"], rel=RTOL)
    assert abs(math.log(critnet.theory("tanh", ours, 0.3).chi1)) < 1e-6  # it is where chi1 = 1


def test_powerlaw_equals_cli(cli, work):
    rng = np.random.default_rng(2)
    sizes = np.floor(5 * (1 - rng.random(3000)) ** (-1 / 1.5)).astype(np.int64)  # discrete, alpha ~ 2.5
    (work / "sizes.csv").write_text("size\n" + "\n".join(map(str, sizes)) + "\n")
    cli("powerlaw", "--csv", work / "sizes.csv", "--discrete", "--bootstrap", 20, "--seed", 4, "--json",
        work / "pl.json")
    theirs = json.load(open(work / "pl.json"))
    ours = critnet.powerlaw(sizes, discrete=True, bootstrap=20, seed=4).to_dict()
    assert_same_numbers(ours, theirs, ["fit", "likelihood_ratio"])
    assert 2.2 < ours["fit"]["alpha"] < 2.8


def test_branching_equals_cli(cli, work):
    rng = np.random.default_rng(3)
    a = np.empty(5000)
    a[0] = 100
    for t in range(1, len(a)):  # a branching process with immigration, m = 0.9
        a[t] = rng.poisson(0.9 * a[t - 1] + 10)
    (work / "act.csv").write_text("spikes\n" + "\n".join(f"{v:.17g}" for v in a) + "\n")
    cli("branching", "--csv", work / "act.csv", "--json", work / "mr.json", "--bootstrap", 10)
    theirs = json.load(open(work / "mr.json"))
    ours = critnet.branching(a, bootstrap=10).to_dict()
    assert_same_numbers(ours, theirs, ["m", "b", "m_naive", "tau", "m_ci", "r_k", "kmax", "replicates"])
    assert abs(ours["m"] - 0.9) < 0.03
