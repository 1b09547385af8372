"""test_torch.py: critnet.from_torch on small torch modules: the outputs are torch's, and lambda_0 and the
Lyapunov spectrum are those of an autograd reference in float64.

The reference needs no block partition: Benettin's QR steps telescope. With Z_l = J_l Q_{l-1} = Q_l R_l,
R_L ... R_1 is the R of J Q_0, J = J_L ... J_1 the Jacobian from the input to the last measured block, so
sum over blocks of ln |R_ii| = ln |R_ii| of qr(J Q_0), and lambda_i = (that + sum_l 1/2 ln(n_in_l/n_l)) / L.
J comes from torch.autograd.functional.jacobian on the module cut before its readout, in float64 on the
module's float32 weights; critnet runs in float32, hence the tolerance."""
import numpy as np
import pytest

import critnet

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")  # torch.onnx.export needs it

LAMBDA_TOL = 1e-6  # float32 against float64 over three blocks; measured 2e-8 here


def mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.Tanh(),
                               torch.nn.Linear(16, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))


def cnn():
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(6 * 4 * 4, 20), torch.nn.ReLU(), torch.nn.Linear(20, 5))


def reference_spectrum(module, x, q0, blocks):
    """mean over inputs of lambda_i, and each input's lambda_0: the telescoped Benettin product (see above)"""
    body = torch.nn.Sequential(*list(module.children())[:-1]).double().eval()  # up to the readout
    shape = x.shape[1:]
    width = sum(0.5 * np.log(b["units_in"] / b["units"]) for b in blocks)
    per_input = []
    for xi in torch.from_numpy(x).double():
        jac = torch.autograd.functional.jacobian(lambda v: body(v.reshape(1, *shape)).reshape(-1), xi.reshape(-1))
        assert jac.shape[0] == blocks[-1]["units"], "the cut ends where critnet's last block does"
        r = torch.linalg.qr(jac @ torch.from_numpy(q0).double().T)[1]
        per_input.append((torch.log(torch.abs(torch.diagonal(r))).numpy() + width) / len(blocks))
    per_input = np.array(per_input)
    return per_input.mean(axis=0), per_input[:, 0]


def orthonormal(k, n, seed):
    q = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, k)))[0].T
    return np.ascontiguousarray(q, dtype=np.float32)


@pytest.mark.parametrize("make,shape,k", [(mlp, (12,), 3), (cnn, (2, 8, 8), 2)])
def test_from_torch_matches_autograd(make, shape, k):
    module = make()
    x = np.random.default_rng(4).standard_normal((10, *shape)).astype(np.float32)
    net = critnet.from_torch(module, torch.from_numpy(x[:2]))
    assert net.imported and not net.inference_only and net.in_size == int(np.prod(shape))
    assert module.training, "from_torch gives the module back in the mode it had"

    with torch.no_grad():
        expected = module.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(net.predict(x), expected, rtol=1e-5, atol=1e-6)

    blocks = net.blocks()
    q0 = orthonormal(k, net.in_size, seed=5)
    r = net.measure(x, spectrum=k, q0=q0, probes=0)
    spectrum, lambda0 = reference_spectrum(module, x, q0, blocks)
    gap = np.max(np.abs(r.spectrum - spectrum))
    print(f"{make.__name__}: {len(blocks)} blocks, lambda_0 {r.lambda_max:+.7f} vs torch {spectrum[0]:+.7f}, "
          f"largest gap over the spectrum {gap:.1e}")
    np.testing.assert_allclose(r.spectrum, spectrum, atol=LAMBDA_TOL, rtol=0)
    # the standard error is that of the per-input values (sample sd / sqrt n)
    assert r.lambda_max_stderr == pytest.approx(lambda0.std(ddof=1) / np.sqrt(len(x)), rel=1e-3)
    # a different Q0 changes the spectrum of a finite sample: the comparison can tell them apart
    assert abs(net.measure(x, spectrum=k, q0=orthonormal(k, net.in_size, seed=6), probes=0).lambda_max
               - r.lambda_max) > 10 * LAMBDA_TOL


def test_sigma_near_exact_jacobian():
    """sigma_l from Hutchinson probes, against the exact sqrt(|J_l|_F^2 / n_l) of each tanh block"""
    module = mlp().double().eval()
    x = np.random.default_rng(8).standard_normal((32, 12)).astype(np.float32)
    net = critnet.from_torch(mlp(), torch.from_numpy(x[:2]))
    r = net.measure(x, spectrum=0, probes=256)
    layers = list(module.children())
    exact = np.zeros(3)
    for xi in torch.from_numpy(x).double():
        h = xi
        for b in range(3):
            lin, act = layers[2 * b], layers[2 * b + 1]
            jac = torch.autograd.functional.jacobian(lambda v: act(lin(v)), h)
            exact[b] += 0.5 * np.log(float((jac ** 2).sum()) / jac.shape[0]) / len(x)
            h = act(lin(h))
    print(f"ln sigma_l: probes vs exact, largest gap {np.max(np.abs(np.log(r.sigma_per_block) - exact)):.4f}")
    # 0.03: about 7 standard errors of the probes' noise here (about 0.004; tests/torch_measure.py derives it)
    np.testing.assert_allclose(np.log(r.sigma_per_block), exact, atol=0.03)


def test_from_torch_batch_is_dynamic():
    module = mlp()
    net = critnet.from_torch(module, torch.zeros(1, 12))
    x = np.random.default_rng(9).standard_normal((37, 12)).astype(np.float32)
    assert net.predict(x).shape == (37, 4)
