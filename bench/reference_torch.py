#!/usr/bin/python3
"""mnistnn's PyTorch reference: the same algorithm as bench/reference_numpy.py, float32 on the
CPU, with the backward pass written by hand (no autograd).

Reads the CSV with pandas, shuffles with a seeded generator, holds out the first --holdout
rows, scales by 1/255 and trains 784→H→10 ReLU/softmax by full-batch gradient descent:

    Z1 = W1·X + b1   A1 = max(Z1, 0)   Z2 = W2·A1 + b2   P = softmax(Z2)  (max subtracted)
    dZ2 = P − Y      dW2 = dZ2·A1ᵀ/m   db2 = Σ_j dZ2/m
    dZ1 = W2ᵀ·dZ2 ⊙ [Z1 > 0]           dW1 = dZ1·Xᵀ/m    db1 = Σ_j dZ1/m

m is the number of training rows. The shuffle and the initial weights come from numpy's
default_rng(seed), exactly as in reference_numpy.py, so both start from the same point.
The last line on stdout is one JSON object with the same keys as reference_numpy.py.

Usage: /usr/bin/python3 bench/reference_torch.py [CSV] [--iters N] [--alpha A] [--hidden H]
       [--threads T] [--holdout N] [--seed S]
"""
import argparse
import json
import os
import sys
import time

from benchlib import blas_library, default_data_path, log

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("csv", nargs="?", help="labelled CSV (default: data/train.csv of the repository)")
ap.add_argument("--data", help="same as the positional CSV")
ap.add_argument("--dtype", choices=["float32"], default="float32", help="only float32 (the point of this reference)")
ap.add_argument("--iters", type=int, default=200)
ap.add_argument("--alpha", type=float, default=0.1)
ap.add_argument("--hidden", type=int, default=10)
ap.add_argument("--holdout", type=int, default=1000)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: torch's default)")
ap.add_argument("--log-every", type=int, default=100, help="progress line on stderr every N iterations (0: none)")
args = ap.parse_args()

if args.threads > 0:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402


def main():
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    path = args.csv or args.data or default_data_path("train.csv")
    rng = np.random.default_rng(args.seed)

    t0 = time.perf_counter()
    data = pd.read_csv(path).to_numpy()
    load_s = time.perf_counter() - t0
    if data.shape[1] != 785:
        sys.exit(f"{path}: expected 785 columns (label + 784 pixels), found {data.shape[1]}")

    data = data[rng.permutation(data.shape[0])]
    holdout, train = data[: args.holdout], data[args.holdout:]
    del data
    Y = torch.from_numpy(train[:, 0].astype(np.int64))
    X = torch.from_numpy(np.ascontiguousarray(train[:, 1:].T, dtype=np.float32)) * (1.0 / 255.0)   # 784×m
    Y_dev = torch.from_numpy(holdout[:, 0].astype(np.int64))
    X_dev = torch.from_numpy(np.ascontiguousarray(holdout[:, 1:].T, dtype=np.float32)) * (1.0 / 255.0)
    del train, holdout
    m = X.shape[1]
    H = args.hidden

    def uniform(shape):
        return torch.from_numpy((rng.random(shape) - 0.5).astype(np.float32))

    W1, b1, W2, b2 = uniform((H, 784)), uniform((H, 1)), uniform((10, H)), uniform((10, 1))
    onehot = torch.zeros((10, m), dtype=torch.float32)
    onehot[Y, torch.arange(m)] = 1.0
    alpha = args.alpha
    inv_m = 1.0 / m

    def forward(X_):
        Z1 = torch.addmm(b1, W1, X_)
        A1 = torch.relu(Z1)
        Z2 = torch.addmm(b2, W2, A1)
        P = torch.softmax(Z2, dim=0)  # max-subtracted internally
        return Z1, A1, P

    def loss_of(P, y):
        return float(-torch.log(P[y, torch.arange(y.numel())].clamp_min(torch.finfo(torch.float32).tiny)).mean())

    log(f"torch {torch.__version__} float32, {torch.get_num_threads()} threads, BLAS {blas_library()}; "
        f"{m} training rows, 784-{H}-10, alpha {alpha}, {args.iters} iterations; load {load_s:.3f} s")
    times = []
    with torch.inference_mode():
        t_train = time.perf_counter()
        for i in range(args.iters):
            t = time.perf_counter()
            Z1, A1, P = forward(X)
            dZ2 = P - onehot
            dW2 = (dZ2 @ A1.T) * inv_m
            db2 = dZ2.sum(dim=1, keepdim=True) * inv_m
            dZ1 = (W2.T @ dZ2) * (Z1 > 0)
            dW1 = (dZ1 @ X.T) * inv_m
            db1 = dZ1.sum(dim=1, keepdim=True) * inv_m
            W1.sub_(dW1, alpha=alpha)
            b1.sub_(db1, alpha=alpha)
            W2.sub_(dW2, alpha=alpha)
            b2.sub_(db2, alpha=alpha)
            times.append(time.perf_counter() - t)
            if args.log_every and i % args.log_every == 0:
                log(f"iter {i} loss {loss_of(P, Y):.4f} train_acc {float((P.argmax(0) == Y).float().mean()):.4f}")
        train_s = time.perf_counter() - t_train
        _, _, P = forward(X)
        _, _, P_dev = forward(X_dev)
        train_acc = float((P.argmax(0) == Y).float().mean())
        holdout_acc = float((P_dev.argmax(0) == Y_dev).float().mean())
        loss = loss_of(P, Y)

    ms = sorted(1000.0 * t for t in times)
    median = (ms[len(ms) // 2] + ms[(len(ms) - 1) // 2]) / 2 if ms else 0.0
    print(json.dumps({
        "impl": "torch", "version": torch.__version__, "dtype": "float32", "blas": blas_library(),
        "threads": torch.get_num_threads(), "hidden": H, "iters": args.iters, "alpha": alpha,
        "train_rows": int(m), "holdout_rows": int(X_dev.shape[1]),
        "load_s": round(load_s, 4), "train_s": round(train_s, 4),
        "ms_per_iter": round(median, 4), "ms_per_iter_mean": round(sum(ms) / len(ms), 4) if ms else 0.0,
        "ms_per_iter_min": round(ms[0], 4) if ms else 0.0,
        "train_acc": train_acc, "holdout_acc": holdout_acc, "loss": loss,
    }), flush=True)


if __name__ == "__main__":
    main()
