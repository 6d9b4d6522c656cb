#!/usr/bin/python3
"""The d2l Fashion-MNIST models of configs/ in PyTorch on the same files,
for scripts/bench.sh: MODEL mlp (784-256-ReLU-10, SGD lr 0.1; the default),
softmax (784-10, lr 0.1) or dropout (784-256-ReLU-dropout 0.2-256-ReLU-
dropout 0.5-10, lr 0.5); normal(0, 0.01) init, batch 256. Threads:
BENCH_THREADS, else the cores this process may run on (d2ltrain's default).

  bench_torch.py DIR resident EPOCHS [DEVICE [MODEL]]   data as two tensors in memory
                                       (on DEVICE), batches by indexing with a
                                       random permutation
  bench_torch.py DIR d2l EPOCHS [DEVICE [MODEL]]        d2l's loader: a Dataset yielding
                                       one image at a time (ToTensor's /255),
                                       DataLoader(shuffle=True, num_workers=4),
                                       each batch copied to DEVICE
DEVICE is cpu (the default) or cuda; on cuda the per-batch float() reads
synchronise, as d2l's Accumulator does.

Prints one line per epoch: `epoch N loss L train_acc A test_acc T time S`
(time covers training and the test-set evaluation, like d2ltrain's)."""
import gzip
import os
import sys
import time

import numpy as np
import torch
from torch import nn


def read_idx(path, header):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=header)


def load(directory):
    def images(name):
        return torch.from_numpy(read_idx(f"{directory}/{name}-images-idx3-ubyte.gz", 16).reshape(-1, 784).copy())

    def labels(name):
        return torch.from_numpy(read_idx(f"{directory}/{name}-labels-idx1-ubyte.gz", 8).astype(np.int64))

    return images("train"), labels("train"), images("t10k"), labels("t10k")


class OneImageAtATime(torch.utils.data.Dataset):
    """What torchvision's FashionMNIST + ToTensor hands the DataLoader."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i].reshape(1, 28, 28).float().div(255), self.y[i]


# configs/mlp_fashion.yaml, softmax_fashion.yaml, dropout_fashion.yaml: the
# network and its learning rate
MODELS = {
    "mlp": lambda: (nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)), 0.1),
    "softmax": lambda: (nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), 0.1),
    "dropout": lambda: (nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2),
                                      nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10)), 0.5),
}


def main():
    directory, mode, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    device = torch.device(sys.argv[4] if len(sys.argv) > 4 else "cpu")
    torch.manual_seed(42)
    model = sys.argv[5] if len(sys.argv) > 5 else "mlp"
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS") or len(os.sched_getaffinity(0))))
    xtr, ytr, xte, yte = load(directory)
    net, lr = MODELS[model]()
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)
    net.to(device)
    loss = nn.CrossEntropyLoss(reduction="none")
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    batch = 256
    if mode == "d2l":
        train_iter = torch.utils.data.DataLoader(OneImageAtATime(xtr, ytr), batch, shuffle=True, num_workers=4)
        test_iter = torch.utils.data.DataLoader(OneImageAtATime(xte, yte), batch, shuffle=False, num_workers=4)
    else:
        xtr_f, xte_f = xtr.to(device).float().div(255), xte.to(device).float().div(255)
        ytr, yte = ytr.to(device), yte.to(device)

        def train_batches():
            order = torch.randperm(len(ytr), device=device)
            for s in range(0, len(ytr), batch):
                idx = order[s : s + batch]
                yield xtr_f[idx], ytr[idx]

        def test_batches():
            for s in range(0, len(yte), batch):
                yield xte_f[s : s + batch], yte[s : s + batch]

    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        net.train()
        total_loss = correct = count = 0.0
        for x, y in (train_iter if mode == "d2l" else train_batches()):
            x, y = x.to(device), y.to(device)
            y_hat = net(x)
            l = loss(y_hat, y)
            trainer.zero_grad()
            l.mean().backward()
            trainer.step()
            total_loss += float(l.sum())
            correct += float((y_hat.argmax(1) == y).sum())
            count += len(y)
        net.eval()
        test_correct = 0.0
        with torch.no_grad():
            for x, y in (test_iter if mode == "d2l" else test_batches()):
                x, y = x.to(device), y.to(device)
                test_correct += float((net(x).argmax(1) == y).sum())
        elapsed = time.perf_counter() - t0
        print(f"epoch {epoch} loss {total_loss / count:.4f} train_acc {correct / count:.4f} "
              f"test_acc {test_correct / len(yte):.4f} time {elapsed:.3f}s", flush=True)


if __name__ == "__main__":
    main()
