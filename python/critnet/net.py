"""net.py: critnet.Net, a network of libcritnet, and the ways to get one (load, from_spec, from_onnx_bytes)."""
import os

from . import _critnet
from .measure import MeasureResult


class Net:
    """A network of libcritnet: from critnet.load, critnet.from_spec, critnet.from_onnx_bytes or
    critnet.from_torch.

    Inputs are numpy arrays of critnet.real_dtype (float32), C-contiguous, of shape (n, in_size) or
    (n, c, h, w) with (c, h, w) = in_shape. They are read in place, never copied, so any other dtype or
    layout raises TypeError or ValueError with the fix in the message; NaN or Inf raises critnet.Error.
    Each Net owns its work buffers: two networks never interfere, and one network used from a second thread
    while a call runs raises critnet.Error.
    """

    __slots__ = ("_c",)

    def __init__(self, c_net):
        self._c = c_net

    in_shape = property(lambda self: self._c.in_shape, doc="input shape (c, h, w); an MLP's is (n, 1, 1)")
    in_size = property(lambda self: self._c.in_size, doc="inputs per example, c * h * w")
    out_size = property(lambda self: self._c.out_size, doc="outputs (logits) per example")
    layer_count = property(lambda self: self._c.layer_count, doc="layers (ONNX: graph segments) of the chain")
    param_count = property(lambda self: self._c.param_count, doc="trained parameters (0 for an ONNX model)")
    imported = property(lambda self: self._c.imported, doc="True for an imported (ONNX) model")
    inference_only = property(lambda self: self._c.inference_only,
                              doc="True when the network has no backward (an ONNX operator without one)")
    spec = property(lambda self: self._c.spec, doc="the network as model-format text (docs/model-format.md)")
    source = property(lambda self: self._c.source, doc="the file, '<spec>' or the name given to ONNX bytes")

    def __repr__(self):
        return repr(self._c)

    def predict(self, x, batch=0):
        """The outputs (logits, before any softmax) on x, as an ndarray (n, out_size) of float32.

        Eval mode (running batch-norm statistics, no dropout), as `critnet predict`. batch: examples per
        pass (0: 500, or 16 for an ONNX model). Releases the GIL while it runs."""
        return self._c.predict(x, batch)

    def blocks(self, include_readout=False):
        """The blocks that the measures take as units of depth (docs/criticality-measures.md), as dicts
        (index, name, first_layer, last_layer, units_in, units); the readout is left out unless asked for."""
        return self._c.blocks(include_readout)

    def save(self, path):
        """Writes a bare checkpoint (model text and parameters) that critnet.load and `critnet measure
        --model` read. Not for an ONNX model."""
        self._c.save(os.fspath(path))

    def measure(self, x, *, spectrum=1, probes=8, dynamic_range=False, include_readout=False, batch=None, seed=0,
                dr_points=60, dr_smin=1e-4, dr_smax=1e2, stimulus="additive", response="tv", dr_block=None,
                q0=None, progress=None):
        """How close the network's dynamics are to criticality, on the inputs x (as `critnet measure`).

        Returns a MeasureResult: sigma (critical at 1), lambda_max = lambda_0 and the Lyapunov spectrum
        (critical at 0), sigma_activity, the per-block profile and, with dynamic_range=True, Delta; its
        to_dict() has the layout of `critnet measure --json`. The same inputs and options give the CLI's
        numbers.

        spectrum       Lyapunov exponents k (0: none)
        probes         Gaussian probes per block for sigma (0: sigma is NaN)
        dynamic_range  also measure Delta (which does not find criticality on random networks: docs/phase.md)
        include_readout  measure the readout block too (the CLI's --layers all)
        batch          inputs per pass (default 100, 8 for an ONNX model): memory does not grow with n
        seed           the CLI's --seed: the probes and initial tangents
        dr_points, dr_smin, dr_smax, stimulus ('additive'|'contrast'), response ('tv'|'activity'|'hidden'|
                       'hidden-rel'), dr_block   the dynamic range's grid and response, as the CLI's options
        q0             optional (spectrum, in_size) float32 array: the initial orthonormal tangents, the same for
                       every input, so that another implementation can reproduce the spectrum to rounding
        progress       optional callable(done, total), called between batches

        Releases the GIL while it runs. Ctrl-C (or an exception in progress) stops the measurement after the
        batch in progress and is raised then."""
        if batch is None:
            batch = 8 if self.imported else 100  # the CLI's defaults
        flat = self._c._measure(x, probes, spectrum, include_readout, batch, seed, dynamic_range, dr_points,
                                dr_smin, dr_smax, stimulus, response, -1 if dr_block is None else dr_block, q0,
                                progress)
        settings = {"model": self.source, "seed": seed, "probes": probes, "spectrum": spectrum,
                    "layers": "all" if include_readout else "hidden", "batch": batch}
        if dynamic_range:
            settings.update(dr_points=dr_points, dr_smin=dr_smin, dr_smax=dr_smax, stimulus=stimulus,
                            response=response)
        return MeasureResult(flat, settings)


def load(path, blocks=None, max_bytes=0):
    """A network from a file: a checkpoint written by `critnet train` (model.cnm) or Net.save, or an ONNX
    model (FILE.onnx, told apart by the extension as the CLI does).

    blocks: ONNX only, a comma list of tensor or node names that end blocks, replacing the default rule
    (docs/onnx.md#blocks). max_bytes: ONNX only, refuse larger files (0: 2 GiB - 1). Raises critnet.Error
    with the reader's message for a missing or malformed file."""
    return Net(_critnet.load(os.fspath(path), blocks, max_bytes))


def from_onnx_bytes(data, name="<bytes>", blocks=None):
    """A network from an ONNX model held in memory (bytes), as load() reads a file; name is for messages."""
    return Net(_critnet.from_onnx_bytes(data, name, blocks))


def from_spec(text, init="torch", sigma_w=1.0, sigma_b=0.0, seed=0):
    """A network from model-format text (docs/model-format.md), initialised as `critnet measure --model-file F
    --init INIT --sigma-w W --sigma-b B --seed S` does, so both draw the same weights.

    init: torch, kaiming_uniform, kaiming_normal, xavier, orthogonal or normal (W ~ N(0, sigma_w^2/fan_in),
    b ~ N(0, sigma_b^2))."""
    return Net(_critnet.from_spec(text, init, sigma_w, sigma_b, seed))
