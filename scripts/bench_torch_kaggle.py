#!/usr/bin/python3
"""d2l 4.10 (Kaggle house prices, 5-fold) in PyTorch, as the book writes
it, for scripts/bench.sh: pandas preprocessing, a linear model, Adam lr 5,
weight decay 0, batch 64, 100 epochs. Prints each fold's log rmse, the
averages and the wall time of the k-fold part.

  bench_torch_kaggle.py TRAIN_CSV TEST_CSV [EPOCHS]

Threads: BENCH_THREADS, else the cores this process may run on (d2ltrain's
default)."""
import os
import sys
import time

import pandas as pd
import torch
from torch import nn


def main():
    torch.manual_seed(42)
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS") or len(os.sched_getaffinity(0))))
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    train_data, test_data = pd.read_csv(sys.argv[1]), pd.read_csv(sys.argv[2])
    all_features = pd.concat((train_data.iloc[:, 1:-1], test_data.iloc[:, 1:]))
    numeric = all_features.dtypes[all_features.dtypes != "object"].index
    all_features[numeric] = all_features[numeric].apply(lambda x: (x - x.mean()) / (x.std()))
    all_features[numeric] = all_features[numeric].fillna(0)
    all_features = pd.get_dummies(all_features, dummy_na=True) * 1
    n_train = train_data.shape[0]
    features = torch.tensor(all_features[:n_train].values.astype("float32"))
    labels = torch.tensor(train_data.SalePrice.values.reshape(-1, 1), dtype=torch.float32)
    print(f"features: {features.shape[1]} (pandas {pd.__version__})")
    loss = nn.MSELoss()

    def log_rmse(net, x, y):
        clipped = torch.clamp(net(x), 1, float("inf"))
        return torch.sqrt(loss(torch.log(clipped), torch.log(y))).item()

    def train(x, y, vx, vy, epochs=100, lr=5, wd=0, batch=64):
        net = nn.Sequential(nn.Linear(x.shape[1], 1))
        it = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch, shuffle=True)
        opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=wd)
        for _ in range(epochs):
            for bx, by in it:
                opt.zero_grad()
                loss(net(bx), by).backward()
                opt.step()
        return log_rmse(net, x, y), log_rmse(net, vx, vy)

    k = 5
    size = features.shape[0] // k
    start = time.perf_counter()
    train_sum = valid_sum = 0.0
    for i in range(k):
        valid = slice(i * size, (i + 1) * size)
        keep = torch.cat([torch.arange(0, i * size), torch.arange((i + 1) * size, k * size)])
        t, v = train(features[keep], labels[keep], features[valid], labels[valid], epochs)
        print(f"fold {i + 1}, train log rmse {t:f}, valid log rmse {v:f}")
        train_sum, valid_sum = train_sum + t, valid_sum + v
    elapsed = time.perf_counter() - start
    print(f"{k}-fold validation: avg train log rmse: {train_sum / k:f}, avg valid log rmse: {valid_sum / k:f}")
    print(f"kfold time {elapsed:.3f}s")


if __name__ == "__main__":
    main()
