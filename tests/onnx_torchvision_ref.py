#!/usr/bin/python3
"""onnx_torchvision_ref.py: the PyTorch side of tests/test_onnx_torchvision.c: six TorchVision models at random
initialisation, exported to ONNX, and references for critnet's forward, block jvps, lambda_0 and sigma on them.
Run as /usr/bin/python3 (Debian's python3-torch 1.13, python3-torchvision 0.14, python3-onnx 1.12).

Modes (the C test runs the first two; DIR is its temporary directory):

  export DIR NAME:N,NAME:N,...
      Writes DIR/inputs.f32 (2 x 3x224x224 float32, N(0,1), fixed seed) and DIR/q0.f32 (a unit vector of
      3*224*224 float32: critnet's cfg.q0, k = 1), prints "inputs", then for each model: builds it at random
      initialisation (torch.manual_seed(0) before the build, as experiments/torchvision/export.py), re-draws
      a classifier that TorchVision zero-initialises (see fix_zero_head), exports it exactly as export.py
      does (eval mode, opset 17, dynamic batch, not under torch.no_grad()) to DIR/NAME.onnx, writes the torch
      float32 logits of the 2 inputs to DIR/NAME.logits.f32 and DIR/NAME.torch.txt with ln |J q0| at the
      logits for the first N inputs, J the Jacobian of the ORIGINAL torch model (forward-mode AD on
      torch.nn, not on the ONNX graph), and prints "ready NAME" so the C side can start on it while the next
      model exports.

  ref DIR NAME
      Reads what the C side wrote (DIR/NAME.crit: its blocks, settings; DIR/NAME.crit_out.f32: its block-end
      values for input 0 and its jvps of the deterministic tangents) and writes DIR/NAME.ref, computed with
      tests/onnx_torch_interp.py on DIR/NAME.onnx:
        - the interpreter's float64 logits against the torch float32 logits (validates the interpreter);
        - each block end named by critnet: that it exists, is a cut of the graph, and has critnet's n_in,
          n_out; critnet's value there (input 0) against the interpreter's, relative to its largest entry;
        - per block, J_l u_l (input 0) for the deterministic tangents u_l of det_tangent() (the same numbers
          critnet used, generated bit for bit alike on both sides) against critnet's, relative to the largest
          entry: a check of every block's jvp with no noise in it. Entries that a Relu, Clip or MaxPool
          decision within rounding of its bend can change are left out (tangent_pass, kink_mask);
        - lambda_0 for k = 1 from critnet's Q0: with one exponent the QR chain telescopes, so over L blocks
          lambda_0(x) = (1/L) [ln |J q0| + 0.5 ln(n_0 / n_L)], J the Jacobian from the input to the L-th
          block end; critnet reports the mean over inputs. Written for L = the blocks without the readout
          (at the last block end) and with it (at the logits), from the interpreter in float64, and with the
          readout from the torch model's ln |J q0| of the export step;
        - per block, sigma_l(x) by critnet's ratio estimator 0.5 ln(sum_p |J u_p|^2/n_out / sum_p
          |u_p|^2/n_in) with probes_ref Gaussian probes of its own (torch.Generator), the mean of ln sigma_l
          over the inputs, and the estimator's noise from the probes themselves (see sigma_stats).
        The jvps run in one pass of the graph each: the tangent is injected at every block start, which
        replaces the one arriving from upstream, so the tangent read at a block end is that block's jvp.
        Rows of q0 tangents are never replaced (they carry J q0 from the input to the logits). Three passes:
        float64 with the q0 rows (logits, block-end values, lambda_0), float32 with the deterministic
        tangents, float32 with the probes.

  debug DIR NAME BLOCK TOL_VALUE TOL_JVP
      Node by node inside one block: DIR/NAME.nodes.bin holds critnet's values and tangents of the tensors
      the block's nodes write (the C test dumps them when a block disagrees, or for CN_TV_DEBUG); prints each
      against the interpreter and names the first node whose value or tangent is off by more than its
      tolerance (relative to the largest entry) while its inputs are not. A kink node that diverges in its
      tangent is shown with its count of inputs within KINK_MARGIN of the bend (float32 rounding flipping a
      ReLU, not a bug, when that count is not 0).

  calibrate [NAME [PROBES [REPEATS]]]
      Derivation of the sigma tolerance: for one model (default resnet18) and input 0, the estimator with
      PROBES probes (default 32) is redrawn REPEATS times (default 16); prints per block the spread of
      ln sigma_hat over the redraws against the standard error sigma_stats predicts from one draw.

Precision and time. The interpreter runs the logits, the block-end values and lambda_0 in float64. The
deterministic jvps and the sigma probes run it in float32: torch's float64 convolutions on the CPU are 5-10x
slower than its float32 ones (no oneDNN kernels; grouped ones loop over groups), and the test must fit in a
few minutes on 2 cores. The float32 jvps carry ~1e-6 relative rounding, three decades below their tolerance
(1e-3 relative); float32 moves ln sigma by ~1e-6, far below the probe noise that sets that tolerance. The
torch model's jvp for lambda_0 runs in float32 too: its rounding (~1e-6 relative in |J q0|) is ~1e-7 in
lambda_0, against a tolerance of 1e-3. Run with MALLOC_TRIM_THRESHOLD_ and MALLOC_TOP_PAD_ set large (the C
test does) this script spends half the CPU time it otherwise would.
"""
import math
import os
import struct
import sys
import time
import warnings

import numpy as np
import onnx
import torch
from torch.autograd import forward_ad as fwAD

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_torch_interp import OnnxInterp  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(1)

SIZE = 224
N_INPUTS = 2
INPUT_SEED = 20240611
Q0_SEED = 7
PROBE_SEED = 11
HEAD_SEED = 1
HEAD_STD = 0.02


# ---------------------------------------------------------------- shared with the C side

def det_tangent(seed, block, b, n):
    """the deterministic tangent of block `block`, input b, n values: splitmix64 of a counter, uniform with
    unit variance, rounded to float32 (test_onnx_torchvision.c's det_tangent, bit for bit)"""
    with np.errstate(over="ignore"):
        i = np.arange(n, dtype=np.uint64)
        ctr = (np.uint64(block * 4 + b) << np.uint64(32)) | i
        z = ctr * np.uint64(0x9E3779B97F4A7C15) + np.uint64(seed)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    return (math.sqrt(3.0) * (2.0 * u - 1.0)).astype(np.float32).astype(np.float64)


def read_kv(path):
    """a text file of 'key values...' lines -> {key: [fields]}; 'block' lines -> list"""
    kv, blocks = {}, []
    with open(path) as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            if w[0] == "block":
                blocks.append((int(w[1]), w[2], int(w[3]), int(w[4])))
            else:
                kv[w[0]] = w[1:]
    return kv, blocks


def f32_file(path, shape=None):
    a = np.fromfile(path, dtype="<f4")
    return a.reshape(shape) if shape is not None else a


# ---------------------------------------------------------------- export

def build(name):
    import torchvision
    torch.manual_seed(0)
    return torchvision.models.get_model(name, weights=None).eval()


def fix_zero_head(model, x):
    """TorchVision zero-initialises some classifiers (vit_b_16's heads.head): the logits are then all 0 and
    nothing can be compared. Such a last nn.Linear gets N(0, HEAD_STD^2) weights (its bias stays 0)."""
    with torch.no_grad():
        y = model(x)
    if torch.count_nonzero(y) > 0:
        return None
    last = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)][-1]
    g = torch.Generator().manual_seed(HEAD_SEED)
    with torch.no_grad():
        last[1].weight.copy_(torch.randn(last[1].weight.shape, generator=g) * HEAD_STD)
    return last[0]


def export_model(name, n_use, d, x, q0):
    t0 = time.time()
    model = build(name)
    fixed = fix_zero_head(model, x[:1])
    path = os.path.join(d, name + ".onnx")
    dummy = torch.randn(1, 3, SIZE, SIZE)
    # as experiments/torchvision/export.py: not under torch.no_grad(), where nn.MultiheadAttention takes its
    # fused fast path, which has no ONNX form
    torch.onnx.export(model, dummy, path, opset_version=17, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True)
    t1 = time.time()
    with torch.no_grad():
        logits = model(x)
    logits.numpy().astype("<f4").tofile(os.path.join(d, name + ".logits.f32"))
    # ln |J q0| of the torch model itself, forward-mode AD, float32 (grad stays enabled: see above)
    xs = x[:n_use]
    with fwAD.dual_level():
        y = model(fwAD.make_dual(xs, q0.reshape(1, 3, SIZE, SIZE).expand_as(xs).contiguous()))
        jq = fwAD.unpack_dual(y).tangent.detach().double()
        y = fwAD.unpack_dual(y).primal.detach()
    ln_jq = [math.log(float(v)) for v in jq.reshape(n_use, -1).norm(dim=1)]
    t2 = time.time()
    with open(os.path.join(d, name + ".torch.txt"), "w") as f:
        f.write("logit_absmax %.17g\n" % float(logits.abs().max()))
        f.write("n_classes %d\n" % logits.shape[1])
        f.write("ln_jq0_logits %s\n" % " ".join("%.17g" % v for v in ln_jq))
        f.write("jvp_primal_vs_logits %.17g\n" % float((y - logits[:n_use]).abs().max() / logits.abs().max()))
        f.write("head_redrawn %s\n" % (fixed or "-"))
        f.write("seconds_export %.3f\nseconds_torch_jvp %.3f\n" % (t1 - t0, t2 - t1))


def mode_export(d, spec):
    g = torch.Generator().manual_seed(INPUT_SEED)
    x = torch.randn(N_INPUTS, 3, SIZE, SIZE, generator=g)
    x.numpy().astype("<f4").tofile(os.path.join(d, "inputs.f32"))
    g = torch.Generator().manual_seed(Q0_SEED)
    q = torch.randn(3 * SIZE * SIZE, generator=g, dtype=torch.float64)
    q0 = (q / q.norm()).float()
    q0.numpy().astype("<f4").tofile(os.path.join(d, "q0.f32"))
    print("inputs", flush=True)
    for item in spec.split(","):
        name, n_use = item.split(":")
        export_model(name, int(n_use), d, x, q0)
        print("ready " + name, flush=True)


# ---------------------------------------------------------------- ref

KINK_OPS = ("Relu", "Clip", "MaxPool")
KINK_MARGIN = 1e-5   # relative to the largest |input| of the op: float32 rounding of critnet's values is ~1e-6
AMBIGUOUS_MAX = 1e-3 # at most this fraction of a block's kink units may be near a bend (else the margin is
                     # too wide for the values' scale and would hide too much)
COMPARED_MIN = 0.25  # at least this fraction of a block's jvp entries must be compared (densenet121's dense
                     # blocks spread one unit near a bend into ~half of the block's output)


def chain(fs):
    """one hook from several, applied in order, each seeing the tangent the previous one left; None when none
    of them changed it"""
    def f(p, t):
        changed = False
        for g in fs:
            r = g(p, t)
            if r is not None:
                t, changed = r, True
        return t if changed else None
    return f


def kink_mask(it, node, z):
    """the outputs of a Relu, Clip or MaxPool node (input z, one example) whose derivative float32 rounding
    could flip: an input within KINK_MARGIN (relative to the largest |z|) of a bend, not on it (a value
    exactly at a bend, such as the 0 of an all-zero window, is exact on both sides), or a max-pool window
    whose two largest values are that close (exact ties left out likewise)"""
    z = z.detach()
    s = float(z.abs().max())
    eps = KINK_MARGIN * s
    if node.op_type == "Relu":
        return (z != 0) & (z.abs() < eps)
    if node.op_type == "Clip":
        m = torch.zeros_like(z, dtype=torch.bool)
        for j in (1, 2):
            if len(node.input) > j and node.input[j]:
                v = float(it.const_value(node.input[j]))
                m |= (z != v) & ((z - v).abs() < eps)
        return m
    a = it.attrs[it.nodes.index(node)]
    k = list(a["kernel_shape"])
    st = list(a.get("strides", [1, 1]))
    pads = list(a.get("pads", [0, 0, 0, 0]))
    if len(k) != 2 or a.get("ceil_mode", 0) or any(d != 1 for d in a.get("dilations", [1, 1])):
        raise NotImplementedError("kink_mask: MaxPool other than 2-d, floor mode, no dilation")
    zp = torch.nn.functional.pad(z, OnnxInterp._torch_pads(pads), value=-math.inf)
    cols = torch.nn.functional.unfold(zp, k, stride=st)
    B, C = z.shape[:2]
    top = cols.view(B, C, k[0] * k[1], -1).topk(2, dim=2).values
    gap = top[:, :, 0] - top[:, :, 1]
    Ho = (zp.shape[2] - k[0]) // st[0] + 1
    Wo = (zp.shape[3] - k[1]) // st[1] + 1
    return ((gap > 0) & (gap < eps)).view(B, C, Ho, Wo)


def sigma_stats(a, b, m):
    """a, b: (inputs, P) per-probe |J u|^2/n_out and |u|^2/n_in. The ratio estimator of one input and block,
    ln sigma_hat = 0.5 ln(mean a / mean b), has by the delta method Var = v/(4P) and bias -v/(4P), with
    v = Var_p(a_p/mean a - b_p/mean b) (for Gaussian probes v = 2 r, r = tr(A^2)/tr(A)^2 - 1/n_in,
    A = J^T J: tests/torch_measure.py). Returns: mean over inputs of ln sigma_hat; its standard error with
    these P probes; the one critnet's m probes give on the same inputs; and the expected difference of
    critnet's value and this one, from the two biases."""
    P = a.shape[1]
    ln = 0.5 * np.log(a.sum(1) / b.sum(1))
    v = np.var(a / a.mean(1, keepdims=True) - b / b.mean(1, keepdims=True), axis=1, ddof=1)
    n = a.shape[0]
    return (ln.mean(), math.sqrt(v.sum() / (4 * P)) / n, math.sqrt(v.sum() / (4 * m)) / n,
            float(-(v / 4).mean() * (1.0 / m - 1.0 / P)))


def probe_pass(it, x, ends, n_in, probes, seed, chunk):
    """per block l (ends[l] closes it; block 0 starts at the input) and input: the arrays a, b of
    sigma_stats, from `probes` Gaussian probes per input drawn by a torch.Generator(seed)"""
    N, L = x.shape[0], len(ends)
    a = np.zeros((L, N, probes))
    b = np.zeros((L, N, probes))
    gen = torch.Generator().manual_seed(seed)
    rows = [(i, p) for i in range(N) for p in range(probes)]
    starts = [it.input_name] + ends[:-1]
    for c0 in range(0, len(rows), chunk):
        part = rows[c0:c0 + chunk]
        xi = x[[i for i, _ in part]].to(it.dtype)
        hooks = {}

        def hook(l_end, l_start):
            def f(primal, tan):
                if l_end is not None:
                    s = (tan if tan is not None else torch.zeros_like(primal)).reshape(len(part), -1)
                    a_ = (s.double() ** 2).sum(1) / s.shape[1]
                    for r, (i, p) in enumerate(part):
                        a[l_end, i, p] = float(a_[r])
                if l_start is None:
                    return None
                u = torch.randn(primal.shape, generator=gen, dtype=torch.float32).to(primal.dtype)
                assert u[0].numel() == n_in[l_start], (l_start, u[0].numel(), n_in[l_start])
                b_ = (u.reshape(len(part), -1).double() ** 2).sum(1) / n_in[l_start]
                for r, (i, p) in enumerate(part):
                    b[l_start, i, p] = float(b_[r])
                return u
            return f

        for l in range(L + 1):
            name = starts[l] if l < L else ends[-1]
            hooks[name] = hook(l - 1 if l > 0 else None, l if l < L else None)
        it.run(xi, hooks=hooks)
    return a, b


def tangent_pass(it, x, ends, L, q0, nq, det_seed, crit, fwd_off, det_off):
    """One run of the graph with forward-mode AD on these rows:
      - nq rows, x[:nq], tangent q0 at the input, never replaced: J q0 at every block end (for lambda_0); the
        values of row 0 at the block ends are compared with critnet's (crit[fwd_off[l]:...]);
      - if det_seed is not None, one row of x[0] whose tangent is replaced at every block start l by
        det_tangent(det_seed, l, 0): each block's jvp, compared with critnet's (crit[det_off[l]:...]); and, in
        graphs with a Relu, Clip or MaxPool, one more row of x[0], the "kink influence": zero at every block
        start, plus 1 at each output of such a node whose decision rounding could flip (kink_mask). An entry of
        a block end where the influence is not zero may legitimately differ from critnet's (a unit on one side
        of a bend here and on the other there) and is left out of the jvp comparison, counted.
    Returns a dict of per-block results."""
    LA = len(ends)
    n_out = [det_off[l + 1] - det_off[l] if l + 1 < LA else crit.size - det_off[l] for l in range(LA)]
    det = det_seed is not None
    kinks = [n for n in it.nodes if n.op_type in KINK_OPS and n.input[0] not in it.consts] if det else []
    ID, II = nq, nq + 1
    rows_x = [x[:nq]] + ([x[:1]] if det else []) + ([x[:1]] if kinks else [])
    xx = torch.cat(rows_x).to(it.dtype)
    R = xx.shape[0]
    starts = [it.input_name] + ends[:-1]
    res = {"fwd": [float("nan")] * LA, "det": [float("nan")] * LA, "masked": [0] * LA, "ln_jq": [None] * LA,
           "n_in": [0] * LA, "n_out": [0] * LA, "ambiguous": 0, "amb": [0] * LA, "kink_units": [0] * LA}
    end_node = [it.producer[e] for e in ends]
    hooks = {}

    def add_hook(name, f):
        hooks.setdefault(name, []).append(f)

    pre = {}
    for k, node in enumerate(kinks):
        def record(p, t, k=k):
            pre[k] = p[II:II + 1]
            return None

        def influence(p, t, k=k, node=node):
            if k not in pre:
                return None
            mask = kink_mask(it, node, pre.pop(k)).to(p.dtype)
            blk = next(l for l in range(LA) if it.producer[node.output[0]] <= end_node[l])
            res["ambiguous"] += int(mask.sum())
            res["amb"][blk] += int(mask.sum())
            res["kink_units"][blk] += mask.numel()
            t = t.clone() if t is not None else torch.zeros_like(p)
            t[II] += mask[0]
            return t
        add_hook(node.input[0], record)
        add_hook(node.output[0], influence)

    def block_hook(l_end, l_start):
        def f(primal, tan):
            if l_end is not None:
                res["n_out"][l_end] = primal[0].numel()
                t = (tan if tan is not None else torch.zeros_like(primal)).reshape(R, -1)
                if nq:
                    ref_y = primal[:1].reshape(-1).double().numpy()
                    c = crit[fwd_off[l_end]:fwd_off[l_end] + n_out[l_end]]
                    if c.size == ref_y.size:
                        res["fwd"][l_end] = float(np.abs(c - ref_y).max() / max(np.abs(ref_y).max(), 1e-300))
                    res["ln_jq"][l_end] = [math.log(float(v)) for v in t[:nq].double().norm(dim=1)]
                    if l_end == LA - 1:
                        res["logits"] = primal[:nq].double().numpy().copy()
                if det:
                    ref_t = t[ID].double().numpy()
                    c = crit[det_off[l_end]:det_off[l_end] + n_out[l_end]]
                    if c.shape == ref_t.shape:
                        diff = np.abs(c - ref_t)
                        if kinks:
                            excl = t[II].numpy() != 0
                            res["masked"][l_end] = int(excl.sum())
                            diff[excl] = 0
                        res["det"][l_end] = float(diff.max() / max(np.abs(ref_t).max(), 1e-300))
            if l_start is None:
                return None
            n = primal[0].numel()
            res["n_in"][l_start] = n
            if l_start == 0:
                keep = q0.reshape(1, -1).expand(nq, -1)
            else:
                keep = tan.reshape(R, -1)[:nq] if tan is not None else torch.zeros(nq, n, dtype=primal.dtype)
            new = [keep.to(primal.dtype)]
            if det:
                new.append(torch.from_numpy(det_tangent(det_seed, l_start, 0, n)).reshape(1, -1).to(primal.dtype))
            if kinks:
                new.append(torch.zeros(1, n, dtype=primal.dtype))
            return torch.cat(new).reshape(primal.shape)
        return f

    for l in range(LA + 1):
        add_hook(starts[l] if l < LA else ends[-1], block_hook(l - 1 if l > 0 else None, l if l < LA else None))
    it.run(xx, hooks={k: chain(v) for k, v in hooks.items()})
    return res


def mode_ref(d, name):
    t0 = time.time()
    kv, blocks = read_kv(os.path.join(d, name + ".crit"))
    N, m, P = int(kv["inputs"][0]), int(kv["probes_crit"][0]), int(kv["probes_ref"][0])
    seed, L = int(kv["det_seed"][0]), int(kv["readout_excluded_blocks"][0])
    chunk = int(kv["chunk"][0])
    ends = [bl[1] for bl in blocks]            # L + 1 block ends, the last the logits
    n_in = [bl[2] for bl in blocks]
    n_out = [bl[3] for bl in blocks]
    LA = len(blocks)
    x_all = torch.from_numpy(f32_file(os.path.join(d, "inputs.f32"), (N_INPUTS, 3, SIZE, SIZE)).copy())
    x = x_all[:N].double()
    q0 = torch.from_numpy(f32_file(os.path.join(d, "q0.f32")).astype(np.float64))
    n0 = q0.numel()
    crit = f32_file(os.path.join(d, name + ".crit_out.f32")).astype(np.float64)
    tkv, _ = read_kv(os.path.join(d, name + ".torch.txt"))
    torch_logits = f32_file(os.path.join(d, name + ".logits.f32"), (N_INPUTS, -1)).astype(np.float64)
    out = open(os.path.join(d, name + ".ref"), "w")
    problems = []

    it = OnnxInterp(os.path.join(d, name + ".onnx"), dtype=torch.float64)
    if ends[-1] != it.output_name:
        problems.append("the last block ends at %s, not the graph output %s" % (ends[-1], it.output_name))
    missing = [e for e in ends if e not in it.producer]
    if missing:
        problems.append("block ends that no node writes: " + ", ".join(missing))
    fwd_off = list(np.cumsum([0] + n_out[:-1]))
    det_off = [sum(n_out) + o for o in fwd_off]
    if crit.size != 2 * sum(n_out):
        problems.append("crit_out.f32 holds %d values, expected %d" % (crit.size, 2 * sum(n_out)))
    if missing or crit.size != 2 * sum(n_out):
        for p in problems:
            out.write("problem %s\n" % p.replace("\n", " "))
        out.close()
        print("%s: %s" % (name, "; ".join(problems)))
        return 1
    t_load = time.time() - t0

    # float64: the logits, the block-end values and J q0 (lambda_0) of the N inputs
    r64 = tangent_pass(it, x, ends, L, q0, N, None, crit, fwd_off, det_off)
    active = it.active_tensors()
    t1 = time.time()
    # float32: the block jvps of det_tangent (see the note on precision at the top), then the sigma probes
    it32 = OnnxInterp(it.model, dtype=torch.float32)
    it = None  # the float64 weights are no longer needed
    r32 = tangent_pass(it32, x.float(), ends, L, q0.float(), 0, seed, crit, fwd_off, det_off)
    t2 = time.time()
    a, b = probe_pass(it32, x.float(), ends, n_in, P, PROBE_SEED, chunk)
    t3 = time.time()

    for e in ends[:-1]:
        if not it32.is_cut(e, active):
            problems.append("block end %s is not a cut of the graph" % e)
    for l in range(LA):
        if (r64["n_in"][l], r64["n_out"][l]) != (n_in[l], n_out[l]):
            problems.append("block %d (%s): %d -> %d units in the graph, critnet says %d -> %d"
                            % (l, ends[l], r64["n_in"][l], r64["n_out"][l], n_in[l], n_out[l]))
        if r32["amb"][l] > AMBIGUOUS_MAX * r32["kink_units"][l]:
            problems.append("block %d (%s): %d of its %d Relu/Clip/MaxPool outputs lie within %.0e of a bend, "
                            "more than %.0e of them" % (l, ends[l], r32["amb"][l], r32["kink_units"][l],
                                                        KINK_MARGIN, AMBIGUOUS_MAX))
        if r32["masked"][l] > (1 - COMPARED_MIN) * n_out[l]:
            problems.append("block %d (%s): %d of %d entries of the jvp depend on a unit near a bend and are not "
                            "compared, more than %.0f%%" % (l, ends[l], r32["masked"][l], n_out[l],
                                                           100 * (1 - COMPARED_MIN)))
    interp_err = float(np.abs(r64["logits"] - torch_logits[:N]).max() / np.abs(torch_logits[:N]).max())
    lam_L = float(np.mean([(v + 0.5 * math.log(n0 / n_out[L - 1])) / L for v in r64["ln_jq"][L - 1]]))
    lam_all = float(np.mean([(v + 0.5 * math.log(n0 / n_out[-1])) / LA for v in r64["ln_jq"][-1]]))
    ln_t = [float(v) for v in tkv["ln_jq0_logits"]][:N]
    lam_torch = float(np.mean([(v + 0.5 * math.log(n0 / n_out[-1])) / LA for v in ln_t]))

    out.write("interp_logits_relerr %.6e\n" % interp_err)
    out.write("lambda_L %.17g\nlambda_all %.17g\nlambda_all_torch %.17g\n" % (lam_L, lam_all, lam_torch))
    for l in range(LA):
        s = sigma_stats(a[l], b[l], m)
        out.write("block %d %s %.17g %.6e %.6e %.6e %.6e %.6e %d\n" % (l, ends[l], s[0], s[1], s[2], s[3],
                                                                      r64["fwd"][l], r32["det"][l], r32["masked"][l]))
    out.write("kink_ambiguous %d\n" % r32["ambiguous"])
    for p in problems:
        out.write("problem %s\n" % p.replace("\n", " "))
    out.write("seconds %.3f\n" % (t3 - t0))
    out.close()
    print("%s: reference in %.1f s (loading %.1f s, float64 pass %.1f s, float32 jvp pass %.1f s, %d x %d float32 "
          "probes %.1f s; CPU %.1f s)%s" % (name, t3 - t0, t_load, t1 - t0 - t_load, t2 - t1, N, P, t3 - t2,
                                            time.process_time(), "".join("\n  problem: " + p for p in problems)),
          flush=True)
    return 0


# ---------------------------------------------------------------- debug

def mode_debug(d, name, blk, tol_val, tol_tan):
    """DIR/NAME.nodes.bin: per tensor written by a node of block blk: name (u32 length + bytes), ndim (u32),
    dims (i64 each), has_tangent (u32), the values (float32), then the tangent (float32) if has_tangent;
    critnet's, after a forward of the first N inputs and its jvp of that block for det_tangent(seed, blk, b)
    in row b. Compared with the interpreter's, node by node in graph order."""
    path = os.path.join(d, name + ".nodes.bin")
    dumped = []
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos < len(data):
        (ln,) = struct.unpack_from("<I", data, pos)
        pos += 4
        nm = data[pos:pos + ln].decode()
        pos += ln
        (nd,) = struct.unpack_from("<I", data, pos)
        pos += 4
        dims = struct.unpack_from("<%dq" % nd, data, pos)
        pos += 8 * nd
        (has_tan,) = struct.unpack_from("<I", data, pos)
        pos += 4
        cnt = int(np.prod(dims)) if nd else 1
        v = np.frombuffer(data, dtype="<f4", count=cnt, offset=pos).astype(np.float64).reshape(dims)
        pos += 4 * cnt
        t = None
        if has_tan:
            t = np.frombuffer(data, dtype="<f4", count=cnt, offset=pos).astype(np.float64).reshape(dims)
            pos += 4 * cnt
        dumped.append((nm, v, t))
    kv, blocks = read_kv(os.path.join(d, name + ".crit"))
    N, seed = int(kv["inputs"][0]), int(kv["det_seed"][0])
    x = torch.from_numpy(f32_file(os.path.join(d, "inputs.f32"), (N_INPUTS, 3, SIZE, SIZE)).copy())[:N]
    it = OnnxInterp(os.path.join(d, name + ".onnx"), dtype=torch.float64)
    start = it.input_name if blk == 0 else blocks[blk - 1][1]

    def inject(p):
        n = p[0].numel()
        return torch.stack([torch.from_numpy(det_tangent(seed, blk, b, n)) for b in range(N)]).reshape(p.shape)
    names = {nm for nm, _, _ in dumped}
    ref = it.run(x.double(), inject={start: inject}, keep=names)
    err = {}
    first = {}
    print("%s block %d (%s): critnet against the interpreter (float64), node by node, max|diff| / max|ref| of "
          "the values and of the jvp of det_tangent:" % (name, blk, blocks[blk][1]))
    for nm, v, t in dumped:
        r, rt = ref[nm][0].numpy(), ref[nm][1]
        rt = np.zeros_like(r) if rt is None else rt.numpy()
        same = r.shape == v.shape
        ev = float(np.abs(v - r).max() / max(np.abs(r).max(), 1e-300)) if same else float("inf")
        et = float("nan")
        if t is not None and same:
            et = float(np.abs(t - rt).max() / max(np.abs(rt).max(), 1e-300)) if np.abs(rt).max() > 0 else \
                float(np.abs(t).max())
        err[nm] = (ev, et)
        node = it.nodes[it.producer[nm]]
        ins = [err[i] for i in node.input if i in err]
        note = ""
        for kind, e, tol, j in (("value", ev, tol_val, 0), ("jvp", et, tol_tan, 1)):
            if e > tol and kind not in first and all(not (i[j] > tol) for i in ins):
                first[kind] = (node, nm, e, tol)
                note += "   <-- first diverging %s" % kind
        if node.op_type in KINK_OPS and node.input[0] in ref and et > tol_tan:
            z = ref[node.input[0]][0][:1]
            note += "   (%d units of input 0 within %.0e of a bend)" % (int(kink_mask(it, node, z).sum()),
                                                                         KINK_MARGIN)
        print("  %-18s %-62s value %9.2e  jvp %9.2e%s%s" % (node.op_type, nm[-62:], ev, et,
                                                          "" if same else " shape %s vs %s" % (v.shape, r.shape),
                                                          note))
    for kind in ("value", "jvp"):
        if kind in first:
            node, nm, e, tol = first[kind]
            attrs = {a.name: str(onnx.helper.get_attribute_value(a))[:60] for a in node.attribute}
            print("FIRST DIVERGING NODE (%s): %s (%s) -> %s, error %.3e (tolerance %.0e); inputs %s; attributes %s"
                  % (kind, node.name, node.op_type, nm, e, tol, list(node.input), attrs))
        else:
            print("no node of the block diverges in %s beyond %.0e with its inputs within it" %
                  (kind, tol_val if kind == "value" else tol_tan))
    return 0


# ---------------------------------------------------------------- calibrate

def mode_calibrate(name="resnet18", probes=32, repeats=16):
    import tempfile
    d = tempfile.mkdtemp(prefix="critnet_tv_cal_")
    g = torch.Generator().manual_seed(INPUT_SEED)
    x = torch.randn(1, 3, SIZE, SIZE, generator=g)
    model = build(name)
    fix_zero_head(model, x)
    path = os.path.join(d, name + ".onnx")
    torch.onnx.export(model, torch.randn(1, 3, SIZE, SIZE), path, opset_version=17, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    it = OnnxInterp(path, dtype=torch.float32)
    active = it.active_tensors(x)
    # every nonlinearity output that is a cut: near enough critnet's default blocks for this purpose
    ends = [o for n in it.nodes for o in n.output
            if n.op_type in ("Relu", "Clip", "Mul", "Add", "Concat") and o in active and it.is_cut(o, active)]
    ends.append(it.output_name)
    sizes = it.shapes(x, ends)
    n_out = [int(np.prod(sizes[e][1:])) for e in ends]
    n_in = [3 * SIZE * SIZE] + n_out[:-1]
    lns, preds = [], []
    t0 = time.time()
    for r in range(repeats):
        a, b = probe_pass(it, x, ends, n_in, probes, 1000 + r, 16)
        lns.append([0.5 * math.log(a[l, 0].sum() / b[l, 0].sum()) for l in range(len(ends))])
        preds.append([sigma_stats(a[l], b[l], probes)[1] for l in range(len(ends))])
    lns, preds = np.array(lns), np.array(preds)
    print("%s, input 0, %d probes, %d redraws (%.0f s): per block, ln sigma_hat mean, its spread over the redraws,"
          " the standard error sigma_stats predicts from one draw (mean, min, max over the draws)"
          % (name, probes, repeats, time.time() - t0))
    ratios = []
    for l, e in enumerate(ends):
        sd = lns[:, l].std(ddof=1)
        ratios.append(sd / preds[:, l].mean())
        print("  %2d %-50s %9.5f  sd %.2e  predicted %.2e [%.2e, %.2e]  sd/pred %.2f" % (
            l, e[-50:], lns[:, l].mean(), sd, preds[:, l].mean(), preds[:, l].min(), preds[:, l].max(), ratios[-1]))
    print("sd/predicted over blocks: median %.2f, max %.2f" % (np.median(ratios), max(ratios)))
    os.remove(path)
    os.rmdir(d)


def main():
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "export":
        return mode_export(a[1], a[2])
    if len(a) == 3 and a[0] == "ref":
        return mode_ref(a[1], a[2])
    if len(a) == 6 and a[0] == "debug":
        return mode_debug(a[1], a[2], int(a[3]), float(a[4]), float(a[5]))
    if a and a[0] == "calibrate":
        return mode_calibrate(*(a[1:2] + [int(v) for v in a[2:4]]))
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main() or 0)
