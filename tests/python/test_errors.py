"""test_errors.py: bad inputs raise exceptions that say what was wrong and how to fix it, never a crash or
a silent copy: wrong dtype, wrong shape, non-contiguous arrays, NaN, bad files, bad options, and a network
used from a second thread while a call runs."""
import threading

import numpy as np
import pytest

import critnet

SPEC = "input 8\ndense out=8 act=tanh\ndense out=8 act=tanh\ndense out=2\n"


@pytest.fixture
def net():
    return critnet.from_spec(SPEC, seed=1)


@pytest.fixture
def x():
    return np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32)


@pytest.mark.parametrize("call", ["predict", "measure"])
def test_wrong_dtype(net, x, call):
    with pytest.raises(TypeError, match=r"dtype float64.*astype\(np.float32\)"):
        getattr(net, call)(x.astype(np.float64))
    with pytest.raises(TypeError, match="expected a numpy.ndarray, got list"):
        getattr(net, call)(x.tolist())


@pytest.mark.parametrize("call", ["predict", "measure"])
def test_wrong_shape(net, x, call):
    with pytest.raises(ValueError, match=r"shape \(16, 7\), but the network takes \(n, 8\)"):
        getattr(net, call)(np.ascontiguousarray(x[:, :7]))
    with pytest.raises(ValueError, match="shape"):
        getattr(net, call)(x[0])  # one example without its batch dimension
    with pytest.raises(ValueError, match="0 examples"):
        getattr(net, call)(x[:0])


@pytest.mark.parametrize("call", ["predict", "measure"])
def test_non_contiguous(net, x, call):
    wide = np.random.default_rng(1).standard_normal((16, 16)).astype(np.float32)
    with pytest.raises(ValueError, match=r"not a C-contiguous.*np.ascontiguousarray"):
        getattr(net, call)(wide[:, ::2])
    with pytest.raises(ValueError, match="not a C-contiguous"):
        getattr(net, call)(np.asfortranarray(x))
    getattr(net, call)(np.ascontiguousarray(wide[:, ::2]))  # the fix the message names works


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("call", ["predict", "measure"])
def test_nonfinite(net, x, call, bad):
    x = x.copy()
    x[5, 3] = bad
    with pytest.raises(critnet.Error, match=r"(example|input) 5 has a NaN or Inf value \(feature 3\)") as e:
        getattr(net, call)(x)
    assert e.value.status == "nonfinite"


@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_nonfinite_deep_in_a_large_input(net, bad):
    """predict's scan goes by chunks of 256 values; the first bad value is named wherever it lies"""
    x = np.random.default_rng(2).standard_normal((100, 8)).astype(np.float32)
    x[70, 2] = x[90, 1] = bad
    with pytest.raises(critnet.Error, match=r"example 70 has a NaN or Inf value \(feature 2\)"):
        net.predict(x)
    x[70, 2] = x[90, 1] = 0
    x[99, 7] = bad  # the last value, in the scalar tail
    with pytest.raises(critnet.Error, match=r"example 99 has a NaN or Inf value \(feature 7\)"):
        net.predict(x)


def test_bad_files(tmp_path):
    with pytest.raises(critnet.Error, match="nowhere.cnm") as e:
        critnet.load(tmp_path / "nowhere.cnm")
    assert e.value.status == "io"
    (tmp_path / "junk.cnm").write_bytes(b"not a checkpoint at all")
    with pytest.raises(critnet.Error, match="junk.cnm") as e:
        critnet.load(tmp_path / "junk.cnm")
    assert e.value.status == "format"
    (tmp_path / "junk.onnx").write_bytes(b"\xff\x00garbage")
    with pytest.raises(critnet.Error, match="junk.onnx"):
        critnet.load(tmp_path / "junk.onnx")
    with pytest.raises(critnet.Error, match="applies to ONNX models"):
        critnet.load(tmp_path / "junk.cnm", blocks="a,b")
    with pytest.raises(critnet.Error, match="<mine>"):
        critnet.from_onnx_bytes(b"\x08\x01garbage", name="<mine>")


def test_bad_spec_and_options(net, x):
    with pytest.raises(critnet.Error, match="model text") as e:
        critnet.from_spec("input 8\ndense outs=3\n")
    assert e.value.status in ("format", "arg")
    with pytest.raises(critnet.Error, match="init 'bogus'"):
        critnet.from_spec(SPEC, init="bogus")
    with pytest.raises(critnet.Error, match="spectrum 9 exceeds the narrowest layer") as e:
        net.measure(x, spectrum=9)
    assert e.value.status == "arg"
    with pytest.raises(ValueError, match="response 'loud'"):
        net.measure(x, dynamic_range=True, response="loud")
    with pytest.raises(TypeError, match="q0"):
        net.measure(x, spectrum=2, q0=np.eye(2, 8))  # float64
    with pytest.raises(ValueError, match=r"q0: shape \(3, 8\), expected .* \(2, 8\)"):
        net.measure(x, spectrum=2, q0=np.eye(3, 8, dtype=np.float32))
    with pytest.raises(ValueError, match="batch -1"):
        net.predict(x, batch=-1)


def test_bad_numbers_for_the_analyses():
    with pytest.raises(ValueError, match="act 'tan'.*tanh"):
        critnet.theory("tan", 1.0)
    with pytest.raises(ValueError, match="sigma_w >= 0"):
        critnet.theory("tanh", -1.0)
    with pytest.raises(critnet.Error, match="does not cross 1"):
        critnet.critical_sigma_w("tanh", sigma_b=0.3, lo=3, hi=5)
    with pytest.raises(critnet.Error) as e:
        critnet.powerlaw([1.0, 2.0, -3.0] * 40)
    assert e.value.status == "arg"
    with pytest.raises(critnet.Error) as e:
        critnet.branching([1.0, np.nan] * 100)
    assert e.value.status == "nonfinite"
    with pytest.raises(TypeError, match="x: expected a 1-D sequence"):
        critnet.mean_sd([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="they must pair up"):
        critnet.wilcoxon([1, 2, 3], [1, 2])


def test_second_thread_is_refused(net, x):
    """while measure runs (GIL released), the same network in another thread raises; another network works"""
    other = critnet.from_spec(SPEC, seed=2)
    seen = {}

    def progress(done, total):
        def use():
            for name, n in (("same", net), ("other", other)):
                try:
                    n.predict(x)
                    seen[name] = "ran"
                except critnet.Error as e:
                    seen[name] = str(e)
        t = threading.Thread(target=use)
        t.start()
        t.join()
    net.measure(x, batch=4, progress=progress)
    assert "in use by another thread" in seen["same"] and seen["other"] == "ran"


def test_progress_exception_is_raised(net, x):
    calls = []

    def progress(done, total):
        calls.append((done, total))
        if len(calls) == 2:
            raise KeyboardInterrupt  # what Ctrl-C raises in the callback
    with pytest.raises(KeyboardInterrupt):
        net.measure(x, batch=4, progress=progress)
    assert calls == [(4.0, 16.0), (8.0, 16.0)], "not called again after it raised"
    assert net.measure(x).sigma > 0, "the network is free again afterwards"
