"""train.py: critnet.train, a network trained in place by libcritnet's cn_train, and its per-epoch metrics."""
import math
import numbers
import os

import numpy as np

from .result import Result

METRICS = ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "sigma", "lambda_max", "crit_reg",
           "seconds")


class TrainResult(Result):
    """The per-epoch metrics of critnet.train, each an ndarray with one value per epoch (metrics.csv's columns).

    epochs_done                       epochs completed
    train_loss, train_accuracy        running means over the epoch's minibatches
    test_loss, test_accuracy          eval mode on the test split (the training data when none was given)
    sigma, lambda_max                 sigma and lambda_0 on the first track_samples test inputs after each
                                      epoch (NaN with track_samples=0)
    crit_reg                          R, the criticality regulariser's mean over the epoch (NaN when off)
    seconds                           the epoch's wall time
    settings                          the options of the call
    """

    def __init__(self, flat, settings):
        fields = {"epochs_done": flat["epochs_done"]}
        fields.update({k: np.asarray(flat[k], dtype=np.float64) for k in METRICS})
        fields["settings"] = settings
        super().__init__(fields)


def _int(name, value, lo, hi=2**31 - 1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} {value}: must be between {lo} and {hi}")
    return int(value)


def _real(name, value, lo, hi, hi_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < lo or value > hi or (hi_open and value >= hi):
        raise ValueError(f"{name} {value:g}: must be in [{lo:g}, {hi:g}{')' if hi_open else ']'}")
    return value


def _choice(name, value, choices):
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a str, one of {', '.join(choices)}")
    if value not in choices:
        raise ValueError(f"{name} '{value}': expected one of {', '.join(choices)}")
    return value


def train(net, data, *, epochs=5, batch=128, optim="sgd", lr=None, momentum=0.9, nesterov=False, weight_decay=0.0,
          beta1=0.9, beta2=0.999, eps=1e-8, sched="constant", step_size=1, gamma=0.1, seed=0, loss="cross_entropy",
          crit_weight=0.0, crit_target="sigma", crit_probes=1, crit_every=1, crit_batch=0,
          crit_include_readout=False, test=None, track_samples=200, limit_train=0, limit_test=0, out=None,
          progress=None):
    """Trains net in place with libcritnet's training loop (as `critnet train`) and returns a TrainResult of
    per-epoch metrics: train/test loss and accuracy, sigma, lambda_max and the regulariser R (crit_reg).

    data           (x, y): x a C-contiguous float32 array (n, in_size) or (n, *in_shape), read in place; y the
                   integer class labels (n,) in [0, net.out_size). Or a data set's name as `critnet train
                   --data` takes it ('gaussian', 'mnist', 'fashion-mnist', 'idx:DIR', 'npy:FILE,LABELS', ...),
                   with gaussian data drawn for the net's in_size and out_size from seed.
    test           optional (x_test, y_test) evaluated after every epoch; without it, the training data
    epochs, batch, optim ('sgd'|'adam'|'adamw'), lr (default 0.05 for sgd, 0.001 otherwise), momentum,
    nesterov, weight_decay, beta1, beta2, eps, sched ('constant'|'step'|'cosine'), step_size, gamma, seed,
    loss ('cross_entropy'|'mse')   as the CLI's options of the same names
    crit_weight    the criticality regulariser's weight (0: off); crit_target 'sigma' (mean (ln sigma_l)^2) or
                   'lambda' (lambda_0^2); crit_probes, crit_every, crit_batch; crit_include_readout: the
                   readout block too (--crit-layers all). docs/critical-training.md has the definitions.
    track_samples  test inputs on which sigma and lambda_0 are measured after each epoch (0: off)
    limit_train, limit_test   use only the first N examples (0: all)
    out            optional folder for model.cnm, metrics.csv and summary.json, as the CLI writes them
    progress       optional callable(dict) after every epoch, with its metrics

    Options are checked before anything runs: a wrong type raises TypeError and a value out of range
    ValueError, naming the option. The same seed and thread count give bit-identical weights. A run that
    diverges (NaN or Inf) raises critnet.Error (status 'nonfinite') with the library's message; the net is then
    restored to the end of its last completed epoch (or to where it was, if none completed). Ctrl-C stops the
    run within a step and raises KeyboardInterrupt, with the net restored the same way. Releases the GIL."""
    from .net import Net
    if not isinstance(net, Net):
        raise TypeError(f"net: expected a critnet.Net, got {type(net).__name__}")
    optim = _choice("optim", optim, ("sgd", "adam", "adamw"))
    if lr is None:
        lr = 0.05 if optim == "sgd" else 0.001  # the CLI's defaults
    settings = {
        "epochs": _int("epochs", epochs, 1, 1000000), "batch": _int("batch", batch, 1, 1 << 20), "optim": optim,
        "lr": _real("lr", lr, 0, 1e6), "momentum": _real("momentum", momentum, 0, 1, hi_open=True),
        "nesterov": bool(nesterov), "weight_decay": _real("weight_decay", weight_decay, 0, 1e6),
        "beta1": _real("beta1", beta1, 0, 1, hi_open=True), "beta2": _real("beta2", beta2, 0, 1, hi_open=True),
        "eps": _real("eps", eps, 0, 1), "sched": _choice("sched", sched, ("constant", "step", "cosine")),
        "step_size": _int("step_size", step_size, 1, 1000000), "gamma": _real("gamma", gamma, 0, 1e6),
        "seed": _int("seed", seed, 0, 2**64 - 1), "loss": _choice("loss", loss, ("cross_entropy", "mse")),
        "crit_weight": _real("crit_weight", crit_weight, 0, 1e9),
        "crit_target": _choice("crit_target", crit_target, ("sigma", "lambda")),
        "crit_probes": _int("crit_probes", crit_probes, 1, 100000), "crit_every": _int("crit_every", crit_every, 1),
        "crit_batch": _int("crit_batch", crit_batch, 0), "crit_include_readout": bool(crit_include_readout),
        "track_samples": _int("track_samples", track_samples, 0), "limit_train": _int("limit_train", limit_train, 0),
        "limit_test": _int("limit_test", limit_test, 0),
    }
    if progress is not None and not callable(progress):
        raise TypeError("progress: expected a callable(dict) or None")
    x = y = x_test = y_test = spec = None
    if isinstance(data, str):
        spec = data
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
    else:
        raise TypeError("data: expected (x, y) arrays or a data set's name such as 'gaussian'")
    if test is not None:
        if spec is not None:
            raise ValueError("test: a named data set has its own test split")
        if not (isinstance(test, (tuple, list)) and len(test) == 2):
            raise TypeError("test: expected (x_test, y_test)")
        x_test, y_test = test
    if out is not None:
        out = os.fspath(out)
        os.makedirs(out, exist_ok=True)
    s = settings
    flat = net._c._train(x, y, x_test, y_test, spec, s["epochs"], s["batch"], optim, s["lr"], s["momentum"],
                         s["nesterov"], s["weight_decay"], s["beta1"], s["beta2"], s["eps"], s["sched"],
                         s["step_size"], s["gamma"], s["seed"], s["loss"], s["crit_weight"], s["crit_target"],
                         s["crit_probes"], s["crit_every"], s["crit_batch"], s["crit_include_readout"],
                         s["track_samples"], s["limit_train"], s["limit_test"],
                         out, progress)
    settings["data"] = spec if spec is not None else "arrays"
    return TrainResult(flat, settings)
