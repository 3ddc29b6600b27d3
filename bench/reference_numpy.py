#!/usr/bin/python3
"""mnistnn's numpy reference: the notebook's network with the math corrected.

Reads a Kaggle-layout CSV (label,pixel0..783) with pandas, shuffles the rows with a seeded
generator, holds out the first --holdout rows, scales pixels by 1/255 and trains a
784→H→10 ReLU/softmax network by full-batch gradient descent:

    Z1 = W1·X + b1   A1 = max(Z1, 0)   Z2 = W2·A1 + b2   P = softmax(Z2)  (max subtracted)
    dZ2 = P − Y      dW2 = dZ2·A1ᵀ/m   db2 = Σ_j dZ2/m   (one bias gradient per unit)
    dZ1 = W2ᵀ·dZ2 ⊙ [Z1 > 0]           dW1 = dZ1·Xᵀ/m    db1 = Σ_j dZ1/m

where m is the number of TRAINING rows. Every iteration is timed on its own; the last line on
stdout is one JSON object (load_s, ms_per_iter = median per-iteration time, ms_per_iter_mean,
train_acc, holdout_acc, ...). Progress goes to stderr.

Usage: /usr/bin/python3 bench/reference_numpy.py [CSV] [--dtype float64|float32] [--iters N]
       [--alpha A] [--hidden H] [--threads T] [--holdout N] [--seed S]
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
ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
ap.add_argument("--iters", type=int, default=200)
ap.add_argument("--alpha", type=float, default=0.1)
ap.add_argument("--hidden", type=int, default=10)
ap.add_argument("--holdout", type=int, default=1000)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=0, help="BLAS/OpenMP threads (0: leave the library default)")
ap.add_argument("--log-every", type=int, default=100, help="progress line on stderr every N iterations (0: none)")
args = ap.parse_args()

# Thread counts must be in the environment before numpy (and its BLAS) is loaded.
if args.threads > 0:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
        os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def main():
    path = args.csv or args.data or default_data_path("train.csv")
    dt = np.dtype(args.dtype)
    rng = np.random.default_rng(args.seed)

    t0 = time.perf_counter()
    data = pd.read_csv(path).to_numpy()
    load_s = time.perf_counter() - t0
    if data.shape[1] != 785:
        sys.exit(f"{path}: expected 785 columns (label + 784 pixels), found {data.shape[1]}")

    data = data[rng.permutation(data.shape[0])]  # seeded shuffle of the rows
    holdout, train = data[: args.holdout], data[args.holdout:]
    del data
    scale = dt.type(1.0 / 255.0)
    Y = train[:, 0].astype(np.intp)
    X = np.ascontiguousarray(train[:, 1:].T, dtype=dt) * scale       # 784×m
    Y_dev = holdout[:, 0].astype(np.intp)
    X_dev = np.ascontiguousarray(holdout[:, 1:].T, dtype=dt) * scale  # 784×holdout
    del train, holdout
    m = X.shape[1]
    H = args.hidden

    # Notebook initialisation: every weight and bias uniform in [−0.5, 0.5).
    W1 = (rng.random((H, 784)) - 0.5).astype(dt)
    b1 = (rng.random((H, 1)) - 0.5).astype(dt)
    W2 = (rng.random((10, H)) - 0.5).astype(dt)
    b2 = (rng.random((10, 1)) - 0.5).astype(dt)
    onehot = np.zeros((10, m), dtype=dt)
    onehot[Y, np.arange(m)] = 1
    alpha = dt.type(args.alpha)
    inv_m = dt.type(1.0 / m)

    def forward(X_):
        Z1 = W1 @ X_ + b1
        A1 = np.maximum(Z1, 0)
        Z2 = W2 @ A1 + b2
        E = np.exp(Z2 - Z2.max(axis=0, keepdims=True))
        P = E / E.sum(axis=0, keepdims=True)
        return Z1, A1, P

    def loss_of(P, y):
        return float(-np.mean(np.log(np.maximum(P[y, np.arange(y.size)], np.finfo(dt).tiny))))

    log(f"numpy {np.__version__} {args.dtype}, BLAS {blas_library()}; {m} training rows, "
        f"784-{H}-10, alpha {args.alpha}, {args.iters} iterations; load {load_s:.3f} s")
    times = []
    t_train = time.perf_counter()
    for i in range(args.iters):
        t = time.perf_counter()
        Z1, A1, P = forward(X)
        dZ2 = P - onehot
        dW2 = (dZ2 @ A1.T) * inv_m
        db2 = dZ2.sum(axis=1, keepdims=True) * inv_m
        dZ1 = (W2.T @ dZ2) * (Z1 > 0)
        dW1 = (dZ1 @ X.T) * inv_m
        db1 = dZ1.sum(axis=1, keepdims=True) * inv_m
        W1 -= alpha * dW1
        b1 -= alpha * db1
        W2 -= alpha * dW2
        b2 -= alpha * db2
        times.append(time.perf_counter() - t)
        if args.log_every and i % args.log_every == 0:
            log(f"iter {i} loss {loss_of(P, Y):.4f} train_acc {float(np.mean(P.argmax(0) == Y)):.4f}")
    train_s = time.perf_counter() - t_train

    _, _, P = forward(X)
    _, _, P_dev = forward(X_dev)
    ms = sorted(1000.0 * t for t in times)
    median = (ms[len(ms) // 2] + ms[(len(ms) - 1) // 2]) / 2 if ms else 0.0
    print(json.dumps({
        "impl": "numpy", "version": np.__version__, "dtype": args.dtype, "blas": blas_library(),
        "threads": args.threads, "hidden": H, "iters": args.iters, "alpha": args.alpha,
        "train_rows": int(m), "holdout_rows": int(X_dev.shape[1]),
        "load_s": round(load_s, 4), "train_s": round(train_s, 4),
        "ms_per_iter": round(median, 4), "ms_per_iter_mean": round(sum(ms) / len(ms), 4) if ms else 0.0,
        "ms_per_iter_min": round(ms[0], 4) if ms else 0.0,
        "train_acc": float(np.mean(P.argmax(0) == Y)), "holdout_acc": float(np.mean(P_dev.argmax(0) == Y_dev)),
        "loss": loss_of(P, Y),
    }), flush=True)


if __name__ == "__main__":
    main()
