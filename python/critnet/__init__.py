"""critnet: criticality in deep networks, from Python (libcritnet's C API with NumPy arrays in and out).

    import numpy as np, critnet
    net = critnet.load("runs/mlp/model.cnm")             # or an .onnx file, or critnet.from_torch(module, x)
    x = np.random.default_rng(0).random((200, net.in_size), dtype=np.float32)
    r = net.measure(x, spectrum=8, dynamic_range=True)   # sigma, lambda_max, spectrum, Delta, per-block profile
    print(r.sigma, r.lambda_max, r.to_dict()["sigma"]["per_layer"])
    logits = net.predict(x)                               # ndarray (200, net.out_size)
    hist = critnet.train(net, (x, y), epochs=5, crit_weight=0.1)   # in place; hist.test_accuracy, hist.sigma
    critnet.theory("tanh", 1.5, 0.3).chi1; critnet.critical_sigma_w("tanh", sigma_b=0.3)

Failures that the library reports raise critnet.Error with its message (and .status: 'io', 'format', 'arg',
'nonfinite', ...); a wrong dtype or layout raises TypeError or ValueError. Long calls release the GIL.
docs/python.md has the guide.
"""
from ._critnet import Error, get_threads, set_threads, version, real_dtype
from .analysis import (bootstrap_ci, branching, critical_sigma_w, mann_whitney, mean_sd, mixed_intercept, pearson,
                       powerlaw, spearman, theory, wilcoxon)
from .measure import MeasureResult
from .net import Net, from_onnx_bytes, from_spec, load
from .result import Result
from .train import TrainResult, train
from ._torch import from_torch

__version__ = version
__all__ = ["Error", "Net", "MeasureResult", "Result", "TrainResult", "train", "load", "from_spec", "from_onnx_bytes", "from_torch",
           "theory", "critical_sigma_w", "powerlaw", "branching", "mean_sd", "wilcoxon", "pearson", "spearman",
           "mann_whitney", "bootstrap_ci", "mixed_intercept", "set_threads", "get_threads", "version", "real_dtype"]
