#!/usr/bin/env python3
"""torch_onnx_sgd.py OUTDIR: the PyTorch side of tests/test_onnx_sgd.c, one SGD step of an imported
ResNet-style network with batch norm.

A small ResNet (a stem, an identity block and a strided block with a projection shortcut, every convolution
followed by BatchNorm2d, global average pooling and a Linear head), its batch-norm statistics and affine
parameters randomised so that eval and training differ, is exported in eval mode (the batch axis dynamic,
opset 13; PRESERVE and no constant folding, so that the exporter does not fold batch norm into the convolutions) to OUTDIR/resnet_bn.onnx. Then, in double
precision from the same float32 weights: a training-mode forward of x (batch 8) with labels y, the mean
cross-entropy, its backward and one SGD step (lr 0.5, no momentum, no weight decay; BatchNorm momentum 0.1,
which the export writes as ONNX momentum 0.9), and an eval-mode forward of x afterwards. OUTDIR/sgd.ref (the
CNONNX1 format of onnx_ops_ref.py) holds x, y, the loss and the logits of both forwards; OUTDIR/cases.txt
names it.
"""
import io
import os
import sys

import onnx
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import onnx_ops_ref  # noqa: E402  (the reference file writer)

BATCH, LR = 8, 0.5


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.skip = None
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = torch.relu(self.b1(self.c1(x)))
        h = self.b2(self.c2(h))
        return torch.relu(h + (x if self.skip is None else self.skip(x)))


def model():
    return nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         Block(8, 8, 1), Block(8, 16, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def main():
    out = sys.argv[1]
    torch.manual_seed(3)
    m = model()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.normal_(0, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.normal_(1, 0.2)
                mod.bias.normal_(0, 0.2)
    m.eval()
    x = torch.randn(BATCH, 3, 8, 8)
    y = torch.randint(0, 10, (BATCH,))
    f = io.BytesIO()
    torch.onnx.export(m, x, f, input_names=["input"], output_names=["output"], opset_version=13,
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE)
    model_bytes = f.getvalue()
    ops = [n.op_type for n in onnx.load_from_string(model_bytes).graph.node]
    if ops.count("BatchNormalization") != 6:
        sys.exit("torch_onnx_sgd.py: the export folded batch norm away (%s)" % ops)
    with open(os.path.join(out, "resnet_bn.onnx"), "wb") as fo:
        fo.write(model_bytes)

    m = m.double()
    xd = x.double()
    m.train()
    logits_train = m(xd)
    loss = nn.functional.cross_entropy(logits_train, y)
    loss.backward()
    with torch.no_grad():
        for p in m.parameters():
            p -= LR * p.grad
    m.eval()
    with torch.no_grad():
        logits_after = m(xd)
    onnx_ops_ref.B = BATCH
    onnx_ops_ref.write_file(os.path.join(out, "sgd.ref"), "resnet_bn", "onnx resnet_bn.onnx lr %g" % LR,
                            [("x", xd), ("y", y.double()), ("loss", [loss.item()]),
                             ("logits_train", logits_train.detach()), ("logits_after", logits_after)])
    with open(os.path.join(out, "cases.txt"), "w") as fc:
        fc.write("sgd.ref\n")
    print("torch_onnx_sgd.py: loss %.6f, %d BatchNormalization nodes" % (loss.item(), ops.count("BatchNormalization")))


if __name__ == "__main__":
    main()
