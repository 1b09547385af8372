"""test_leaks.py: the module's leak check. The ASan build cannot load the extension (tests/CMakeLists.txt
says why), so the module counts libcritnet's live allocations through the library's allocation hook
(python/src/alloc_count.c): every network, measurement and failed call must give back all it took, and
Python objects must not pile up over repeated calls."""
import gc
import tracemalloc

import numpy as np
import pytest

import critnet
from critnet import _critnet

SPEC = "input 8\ndense out=8 act=tanh\ndense out=8 act=relu\ndense out=3\n"


def exercise(tmp_path):
    """one of everything, the failures included"""
    x = np.random.default_rng(0).standard_normal((20, 8)).astype(np.float32)
    net = critnet.from_spec(SPEC, init="normal", sigma_w=1.3, seed=1)
    net.predict(x, batch=3)
    net.measure(x, spectrum=2, dynamic_range=True, dr_points=8, batch=6).to_dict()
    net.blocks(include_readout=True)
    net.save(tmp_path / "m.cnm")
    critnet.load(tmp_path / "m.cnm").measure(x)
    bad = x.copy()
    bad[3, 3] = np.nan
    y = np.arange(20) % 3
    critnet.train(net, (x, y), test=(x, y), epochs=2, batch=7, crit_weight=0.1, optim="adam")
    relu = critnet.from_spec("input 8\ndense out=16 act=relu\ndense out=16 act=relu\ndense out=3\n", seed=1)
    for call in (lambda: net.measure(bad), lambda: net.measure(x, spectrum=99),
                 lambda: critnet.load(tmp_path / "missing.cnm"), lambda: critnet.from_spec("input 8\nbogus\n"),
                 lambda: net.measure(x, progress=lambda d, t: 1 / 0),
                 lambda: critnet.train(net, (bad, y)), lambda: critnet.train(net, (x, y), progress=lambda e: 1 / 0),
                 lambda: critnet.train(relu, (x, y), epochs=2, batch=4, lr=1e3)):
        with pytest.raises(Exception):
            call()
    critnet.powerlaw(np.arange(1, 300), discrete=True, bootstrap=3)
    critnet.branching(np.sin(np.arange(400) / 5.0) + 2, kmax=10, bootstrap=3, blocks=4)
    critnet.bootstrap_ci(np.arange(20.0), resamples=50)
    critnet.spearman(np.arange(10.0), np.arange(10.0) ** 2)


def test_library_allocations_come_back(tmp_path):
    exercise(tmp_path)  # first use: anything allocated once, for good
    gc.collect()
    before = _critnet._live_allocations()
    for _ in range(3):
        exercise(tmp_path)
    gc.collect()
    assert _critnet._live_allocations() == before
    net = critnet.from_spec(SPEC)
    assert _critnet._live_allocations() > before, "the counter sees a network's allocations"
    del net
    assert _critnet._live_allocations() == before


def test_python_memory_stays_flat():
    """the result dicts and arrays of repeated calls, and the exceptions of failed ones, are freed: the memory
    Python allocates (tracemalloc, which sees NumPy's array data too) stays flat over 200 rounds"""
    net = critnet.from_spec(SPEC, seed=2)
    x = np.random.default_rng(1).standard_normal((10, 8)).astype(np.float32)

    def round_():
        net.measure(x, spectrum=2, dynamic_range=True, dr_points=8).to_dict()
        net.predict(x)
        with pytest.raises(critnet.Error):
            net.measure(x, spectrum=99)
    for _ in range(5):
        round_()
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            round_()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # one result kept per round would be ~200 x 3 KB; allow the interpreter's own caches a little
    assert grown < 40_000, f"{grown} bytes more after 200 rounds"
