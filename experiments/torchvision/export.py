#!/usr/bin/python3
"""Export TorchVision classification models to ONNX for critnet (issue 7).

Random weights by default (torch.manual_seed(seed) before each model is built, so a file is reproducible);
--pretrained uses TorchVision's DEFAULT weights only where their file is already in the local torch hub cache
(nothing is downloaded). Each model is exported in eval mode at opset 17 with a dynamic batch axis.
Writes DIR/NAME.onnx and one JSON line per model to DIR/export.jsonl (status, why a model failed, seconds).
Run as /usr/bin/python3 (Debian's python3-torch and python3-torchvision)."""
import argparse, json, os, sys, time, traceback

import torch
import torchvision


def classification_models():
    return sorted(torchvision.models.list_models(module=torchvision.models))


def local_weights(name):
    """TorchVision's DEFAULT weights for name if their file is in the hub cache, else None."""
    try:
        weights = torchvision.models.get_model_weights(name).DEFAULT
    except Exception:
        return None
    fname = os.path.basename(weights.url)
    hub = os.path.join(torch.hub.get_dir(), "checkpoints", fname)
    return weights if os.path.exists(hub) else None


def input_size(name):
    # the sizes the models were trained at; all accept 224 except those that fix it
    return {"inception_v3": 299}.get(name, 224)


def export_one(name, out_dir, seed, pretrained, size):
    torch.manual_seed(seed)
    weights = local_weights(name) if pretrained else None
    kwargs = {"weights": weights}
    if name in ("googlenet", "inception_v3"):
        kwargs["aux_logits"] = weights is not None  # aux heads are training-only; weights need them built
        kwargs["init_weights"] = True if weights is None else None
        if kwargs["init_weights"] is None:
            del kwargs["init_weights"]
    model = torchvision.models.get_model(name, **kwargs).eval()
    s = size or input_size(name)
    x = torch.randn(1, 3, s, s)
    path = os.path.join(out_dir, name + ".onnx")
    # not under torch.no_grad(): there nn.MultiheadAttention takes its fused fast path, which has no ONNX form
    torch.onnx.export(model, x, path, opset_version=17, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True)
    return {"weights": "pretrained" if weights is not None else "random", "input": [3, s, s],
            "params": sum(p.numel() for p in model.parameters()), "bytes": os.path.getsize(path)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="folder for NAME.onnx and export.jsonl")
    ap.add_argument("--models", default="all", help="comma list of model names, or 'all' (default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pretrained", action="store_true", help="use locally cached DEFAULT weights where present")
    ap.add_argument("--size", type=int, default=0, help="input side (default: 224, 299 for inception_v3)")
    ap.add_argument("--skip-existing", action="store_true", help="keep NAME.onnx files already there")
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.out, exist_ok=True)
    names = classification_models() if a.models == "all" else a.models.split(",")
    unknown = [n for n in names if n not in classification_models()]
    if unknown:
        sys.exit("export.py: unknown model(s): " + ", ".join(unknown))
    log = open(os.path.join(a.out, "export.jsonl"), "a")
    for i, name in enumerate(names):
        path = os.path.join(a.out, name + ".onnx")
        if a.skip_existing and os.path.exists(path):
            continue
        t0 = time.time()
        row = {"model": name}
        try:
            row.update(export_one(name, a.out, a.seed, a.pretrained, a.size))
            row["status"] = "ok"
        except Exception as e:
            row["status"] = "failed"
            row["error"] = (type(e).__name__ + ": " + str(e)).splitlines()[0][:300]
            if os.path.exists(path):
                os.remove(path)
        row["seconds"] = round(time.time() - t0, 2)
        print(f"[{i + 1}/{len(names)}] {name}: {row['status']} ({row['seconds']} s)"
              + (" " + row.get("error", "") if row["status"] != "ok" else ""), flush=True)
        log.write(json.dumps(row) + "\n")
        log.flush()


if __name__ == "__main__":
    main()
