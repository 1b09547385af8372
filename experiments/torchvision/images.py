#!/usr/bin/python3
"""Write the first N Fashion-MNIST test images as PNG files in ImageFolder layout (DIR/<label>/<index>.png),
the inputs experiments/torchvision/run.sh measures the TorchVision models on when the user gives no images of
their own. critnet's image loader then resizes them (28 -> 256 -> centre 224, or 299 for inception_v3), makes
them RGB and applies the ImageNet normalisation, as it would for any photograph."""
import gzip, os, sys

import numpy as np
from PIL import Image

SRC = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"  # Debian's dataset-fashion-mnist
LABELS = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: images.py N DIR")
    n, out = int(sys.argv[1]), sys.argv[2]
    with gzip.open(SRC) as f:
        raw = f.read()
    with gzip.open(LABELS) as f:
        labels = f.read()[8:]
    if int.from_bytes(raw[:4], "big") != 2051:
        sys.exit(f"images.py: {SRC}: not an IDX image file")
    count, rows, cols = (int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(3))
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows, cols)
    for i in range(min(n, count)):
        d = os.path.join(out, str(labels[i]))
        os.makedirs(d, exist_ok=True)
        Image.fromarray(pixels[i], mode="L").save(os.path.join(d, f"{i:05d}.png"))


if __name__ == "__main__":
    main()
