#!/usr/bin/python3
"""mnistnn's 98 % recipe in idiomatic PyTorch, timed, with the test accuracy tracked during training.

The recipe (README, "Reaching 98 % on the MNIST test set"):

    mnistnn train --hidden 256 --init he --batch-size 128 --optimizer adam --alpha 0.002 \
      --lr-decay cosine --l2 0.0001 --epochs 10

here as nn.Linear(784, H) → ReLU → nn.Linear(H, 10), nn.CrossEntropyLoss (softmax cross-entropy,
mean over the batch), autograd, torch.optim.Adam with two parameter groups (weight_decay = l2 on the
two weight matrices only: coupled L2, λ·W added to their gradients, as mnistnn's --l2), and a
per-step cosine schedule (LambdaLR: α·½(1 + cos(π·s/S)) for step s of S, stepped after every
update). He initialisation (normal, std √(2/fan_in); biases 0) from torch.manual_seed(seed).

The data split is mnistnn's own: the same seeded Fisher–Yates shuffle (xoshiro256** seeded through
SplitMix64, reimplemented below), the first --holdout rows held out, so both tools hold out the
same 1,000 rows for a given seed. Pixels ÷ 255, float32. The mini-batches are a fresh
torch.randperm every epoch (torch's generator, so not mnistnn's batch order); the last, partial
batch is used. Batches are gathered by indexing a tensor (a DataLoader over a TensorDataset
collates row by row and would dominate the time).

Every --eval-every steps (default 231 ≈ half an epoch of 461 steps, the steps mnistnn logs with
--log-every 231) and at the end, the model after that many updates is evaluated on the held-out
rows and on the test CSV; evaluation time is excluded from the training clock. The JSON reports
the training time until the test (and held-out) accuracy first reached --target (0.98).

Usage: /usr/bin/python3 bench/recipe_torch.py [--data data/train.csv] [--test data/test.csv]
       [--threads T] [--epochs 10] [--seed 0] [--eval-every 231] [--no-eval]
The last line on stdout is one JSON object.
"""
import argparse
import json
import math
import os
import sys
import time

from benchlib import blas_library, default_data_path, log

MASK64 = (1 << 64) - 1


def _splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def mnistnn_shuffled_indices(n, seed):
    """mnistnn's shuffled_indices(n, seed) (src/dataset.cpp, src/rng.cpp), bit for bit."""
    s = seed & MASK64
    st = []
    for _ in range(4):
        s, word = _splitmix64(s)
        st.append(word)
    s0, s1, s2, s3 = st
    order = list(range(n))
    for i in range(n, 1, -1):
        limit = MASK64 - (MASK64 % i)
        while True:
            x = (s1 * 5) & MASK64
            x = ((x << 7) | (x >> 57)) & MASK64
            result = (x * 9) & MASK64
            t = (s1 << 17) & MASK64
            s2 ^= s0
            s3 ^= s1
            s1 ^= s2
            s0 ^= s3
            s2 ^= t
            s3 = ((s3 << 45) | (s3 >> 19)) & MASK64
            if result < limit:
                break
        j = result % i
        order[i - 1], order[j] = order[j], order[i - 1]
    return order


def mnistnn_split(n, seed, holdout):
    """(holdout row indices, training row indices) exactly as mnistnn's split_rows."""
    order = mnistnn_shuffled_indices(n, seed)
    return order[:holdout], order[holdout:]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="training CSV (default: data/train.csv of the repository)")
    ap.add_argument("--test", default=None, help="test CSV (default: data/test.csv of the repository)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch.set_num_threads and OMP/OPENBLAS/MKL thread counts (0: all cores)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--alpha", type=float, default=0.002)
    ap.add_argument("--l2", type=float, default=1e-4)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--holdout", type=int, default=1000)
    ap.add_argument("--eval-every", type=int, default=231,
                    help="evaluate held-out and test accuracy every N steps (default 231 ≈ half an epoch)")
    ap.add_argument("--no-eval", action="store_true", help="no evaluation during training (only at the end)")
    ap.add_argument("--target", type=float, default=0.98, help="accuracy whose first reaching is timed")
    ap.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    # On-the-fly augmentation, as mnistnn's --augment (defaults: mnistnn's): the 99 % recipe.
    ap.add_argument("--augment", choices=("none", "affine", "elastic"), default="none")
    ap.add_argument("--rotate", type=float, default=10.0, help="degrees, uniform in ±rotate")
    ap.add_argument("--scale", type=float, default=0.10, help="per axis, uniform in 1 ± scale")
    ap.add_argument("--shear", type=float, default=0.0, help="shear factor, uniform in ±shear")
    ap.add_argument("--translate", type=float, default=1.0, help="pixels per axis, uniform in ±translate")
    ap.add_argument("--elastic-alpha", type=float, default=38.0, help="elastic field scale in pixels")
    ap.add_argument("--elastic-sigma", type=float, default=6.0, help="Gaussian σ of the elastic field in pixels")
    return ap.parse_args()


def make_augmenter(args, torch, F):
    """A batch [B, 784] in [0, 1] → a distorted copy, the usual PyTorch way without torchvision:
    a random affine map per digit (rotation, per-axis scale, shear, translation) through
    F.affine_grid, plus for elastic Simard's displacement field (uniform noise in [−1, 1) per axis,
    blurred by a separable Gaussian of σ pixels with F.conv2d, scaled by α pixels) added to the
    sampling grid, then F.grid_sample (bilinear, zeros outside). align_corners=True puts the
    normalised coordinates ±1 on the centres of pixels 0 and 27, so one pixel is 2/27."""
    if args.augment == "none":
        return None
    radius = max(1, math.ceil(3 * args.elastic_sigma))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    gauss = torch.exp(-0.5 * (taps / args.elastic_sigma) ** 2)
    gauss = gauss / gauss.sum()
    kx, ky = gauss.view(1, 1, 1, -1), gauss.view(1, 1, -1, 1)
    pixel = 2.0 / 27.0

    def uniform(shape, bound):
        return (torch.rand(shape) * 2.0 - 1.0) * bound

    def augment(xb):
        b = xb.shape[0]
        img = xb.view(b, 1, 28, 28)
        theta = uniform((b,), math.radians(args.rotate))
        sx, sy = 1.0 + uniform((b,), args.scale), 1.0 + uniform((b,), args.scale)
        k = uniform((b,), args.shear)
        cos, sin = torch.cos(theta), torch.sin(theta)
        # A = R(θ)·[[1, k], [0, 1]]·diag(sx, sy), acting on (x, y).
        a = torch.stack([torch.stack([cos * sx, (cos * k - sin) * sy], 1),
                         torch.stack([sin * sx, (sin * k + cos) * sy], 1)], 1)
        t = uniform((b, 2, 1), args.translate * pixel)
        grid = F.affine_grid(torch.cat([a, t], 2), (b, 1, 28, 28), align_corners=True)
        if args.augment == "elastic":
            field = uniform((2 * b, 1, 28, 28), 1.0)
            field = F.conv2d(F.conv2d(field, kx, padding=(0, radius)), ky, padding=(radius, 0))
            grid = grid + field.view(b, 2, 28, 28).permute(0, 2, 3, 1) * (args.elastic_alpha * pixel)
        return F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=True).view(b, 784)

    return augment


def main():
    args = parse_args()
    threads = args.threads if args.threads > 0 else len(os.sched_getaffinity(0))
    # Before numpy/torch load their BLAS and OpenMP runtimes.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        os.environ[var] = str(threads)

    import numpy as np
    import pandas as pd
    import torch
    from torch import nn
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)
    train_path = args.data or default_data_path("train.csv")
    test_path = args.test or default_data_path("test.csv")

    t0 = time.perf_counter()
    data = pd.read_csv(train_path).to_numpy(dtype=np.uint8)
    test = pd.read_csv(test_path).to_numpy(dtype=np.uint8)
    load_s = time.perf_counter() - t0
    for path, d in ((train_path, data), (test_path, test)):
        if d.ndim != 2 or d.shape[1] != 785:
            sys.exit(f"{path}: expected 785 columns (label + 784 pixels), found {d.shape}")

    hold_idx, train_idx = mnistnn_split(data.shape[0], args.seed, args.holdout)

    def tensors(rows):
        X = torch.from_numpy(rows[:, 1:].astype(np.float32)) / 255.0
        y = torch.from_numpy(rows[:, 0].astype(np.int64))
        return X, y

    X, y = tensors(data[train_idx])
    X_hold, y_hold = tensors(data[hold_idx])
    X_test, y_test = tensors(test)
    del data, test
    n = X.shape[0]

    model = nn.Sequential(nn.Linear(784, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 10))
    for layer in (model[0], model[2]):
        nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")  # std √(2/fan_in)
        nn.init.zeros_(layer.bias)
    weights = [model[0].weight, model[2].weight]
    biases = [model[0].bias, model[2].bias]
    optimizer = torch.optim.Adam([{"params": weights, "weight_decay": args.l2},
                                  {"params": biases, "weight_decay": 0.0}],
                                 lr=args.alpha, betas=(args.beta1, args.beta2), eps=args.eps)
    steps_per_epoch = math.ceil(n / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, total_steps) / total_steps)))
    loss_fn = nn.CrossEntropyLoss()
    augment = make_augmenter(args, torch, F)

    @torch.no_grad()
    def accuracy(X_, y_):
        model.eval()
        acc = (model(X_).argmax(1) == y_).float().mean().item()
        model.train()
        return acc

    log(f"torch {torch.__version__}, {torch.get_num_threads()} threads, BLAS {blas_library()}; {n} training rows, "
        f"{X_hold.shape[0]} held out, {X_test.shape[0]} test; 784-{args.hidden}-10, batch {args.batch_size} "
        f"({steps_per_epoch} steps/epoch), {args.epochs} epochs = {total_steps} steps, augment {args.augment}; "
        f"load {load_s:.2f} s")

    curve = []  # [step, epoch, train seconds, holdout acc, test acc]
    train_s = 0.0
    eval_s = 0.0
    epoch_s = []

    def evaluate(step):
        nonlocal eval_s
        t = time.perf_counter()
        h, te = accuracy(X_hold, y_hold), accuracy(X_test, y_test)
        eval_s += time.perf_counter() - t
        curve.append([step, round(step / steps_per_epoch, 4), round(train_s, 4), h, te])
        if not args.quiet:
            log(f"step {step} epoch {step / steps_per_epoch:.2f} train {train_s:.2f} s  holdout_acc {h:.4f}  test_acc {te:.4f}")

    step = 0
    for epoch in range(args.epochs):
        ep_start = train_s
        perm = torch.randperm(n)
        for first in range(0, n, args.batch_size):
            if not args.no_eval and args.eval_every > 0 and step % args.eval_every == 0:
                evaluate(step)
            t = time.perf_counter()
            idx = perm[first:first + args.batch_size]
            xb, yb = X[idx], y[idx]
            if augment is not None:
                xb = augment(xb)  # inside the training clock, as mnistnn's augmentation is
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            train_s += time.perf_counter() - t
            if not math.isfinite(loss.item()):
                sys.exit(f"diverged at step {step}: loss {loss.item()}")
        epoch_s.append(train_s - ep_start)
    evaluate(step)

    def first_reach(col):
        for row in curve:
            if row[col] >= args.target:
                return row[0], row[2]
        return None, None

    step_test, time_test = first_reach(4)
    step_hold, time_hold = first_reach(3)
    with torch.no_grad():
        model.eval()
        train_loss = loss_fn(model(X), y).item()
    print(json.dumps({
        "impl": "torch", "version": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_library(),
        "hidden": args.hidden, "batch_size": args.batch_size, "epochs": args.epochs, "seed": args.seed,
        "augment": args.augment,
        "steps": step, "steps_per_epoch": steps_per_epoch, "train_rows": n, "holdout_rows": int(X_hold.shape[0]),
        "test_rows": int(X_test.shape[0]), "load_s": round(load_s, 3), "train_s": round(train_s, 4),
        "s_per_epoch": round(train_s / args.epochs, 4), "s_per_epoch_median": round(sorted(epoch_s)[len(epoch_s) // 2], 4),
        "eval_s": round(eval_s, 4), "target": args.target,
        "to_target_test_s": time_test, "to_target_test_step": step_test,
        "to_target_holdout_s": time_hold, "to_target_holdout_step": step_hold,
        "test_accuracy": curve[-1][4], "holdout_accuracy": curve[-1][3], "train_loss": train_loss,
        "curve": curve,
    }), flush=True)


if __name__ == "__main__":
    main()
