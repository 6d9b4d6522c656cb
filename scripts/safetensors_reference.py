"""An independent check of d2ltrain's checkpoints and forward pass.

Reads a model.safetensors that `d2ltrain run --out` wrote, without
d2ltrain: the 8-byte header size, the JSON header, little-endian float32
tensors named as PyTorch's nn.Sequential state_dict ("1.weight" [out, in],
"1.bias" [out]). Applies the model as nn.Sequential(Flatten, Linear, ReLU,
..., Linear) would, in float64 with numpy, to the Fashion-MNIST test images
(pixels / 255), and compares with d2ltrain's predictions.csv.

usage: safetensors_reference.py MODEL IMAGES.gz LABELS.gz PREDICTIONS.csv
prints: "reference test_acc A, agrees with d2ltrain on N of M"
"""
import csv
import gzip
import json
import struct
import sys

import numpy as np


def load_safetensors(path):
    data = open(path, "rb").read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    body = data[8 + header_len :]
    tensors = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            sys.exit(f"{path}: tensor {name} is {t['dtype']}, not F32")
        begin, end = t["data_offsets"]
        tensors[name] = np.frombuffer(body[begin:end], dtype="<f4").reshape(t["shape"]).astype(np.float64)
    return tensors


def read_idx(path, dims):
    raw = gzip.open(path).read()
    shape = struct.unpack(">" + "I" * dims, raw[4 : 4 + 4 * dims])
    return np.frombuffer(raw[4 + 4 * dims :], dtype=np.uint8).reshape(shape)


def main():
    model, images, labels, predictions = sys.argv[1:5]
    tensors = load_safetensors(model)
    layers = sorted({int(name.split(".")[0]) for name in tensors})
    x = read_idx(images, 3).reshape(-1, 28 * 28).astype(np.float64) / 255.0
    y = read_idx(labels, 1)
    for i, layer in enumerate(layers):
        x = x @ tensors[f"{layer}.weight"].T
        if f"{layer}.bias" in tensors:
            x = x + tensors[f"{layer}.bias"]
        if i < len(layers) - 1:
            x = np.maximum(x, 0)  # the hidden activation of d2l's MLPs
    ours = x.argmax(axis=1)
    rows = list(csv.DictReader(open(predictions)))
    theirs = np.array([int(float(r["predicted"])) for r in rows])
    if len(theirs) != len(ours):
        sys.exit(f"{predictions}: {len(theirs)} rows, the test set has {len(ours)}")
    agree = int((ours == theirs).sum())
    print(f"reference test_acc {(ours == y).mean():.4f}, agrees with d2ltrain on {agree} of {len(ours)}")


main()
