"""train_critical.py: the example of docs/python.md, "Training": a tanh MLP started deep in the chaotic phase
(sigma_w = 4), trained with the criticality regulariser on three Gaussian blobs. Its output is the one the
page shows. Run from the repository root:  PYTHONPATH=build/python /usr/bin/python3 python/examples/train_critical.py
"""
import numpy as np, critnet

critnet.set_threads(1)
rng = np.random.default_rng(0)
centers = rng.standard_normal((3, 20)).astype(np.float32)
y = rng.integers(0, 3, 2000)
x = (centers[y] + 2 * rng.standard_normal((2000, 20))).astype(np.float32)

net = critnet.from_spec("input 20\n" + "dense out=32 act=tanh\n" * 3 + "dense out=3\n",
                        init="normal", sigma_w=4.0, seed=0)          # deep in the chaotic phase
h = critnet.train(net, (x[:1500], y[:1500]), test=(x[1500:], y[1500:]),
                  epochs=5, batch=32, seed=1, crit_weight=1.0, crit_probes=2)
print("test accuracy", np.round(h.test_accuracy, 3))
print("R            ", np.round(h.crit_reg, 4))
print("sigma        ", np.round(h.sigma, 3))
