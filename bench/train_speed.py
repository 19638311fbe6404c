"""Seconds per training epoch of the PyTorch models on random data of the real shapes.

    .venv/bin/python bench/train_speed.py [--samples 1000] [--models seed-cnn1d compact-cnn]

An epoch here is one pass over ``--samples`` training samples plus the validation pass over a
tenth as many, as in ``fit``. A tiny fit first pays the one-off import costs, so they are not
counted. The figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from sera.models.compact import CompactCNN
from sera.models.seed_cnn1d import SeedCNN1D

#: Model name -> (estimator class, per-sample input shape of its feature set).
MODELS = {
    "seed-cnn1d": (SeedCNN1D, (2376,)),  # the ``seed`` vector
    "compact-cnn": (CompactCNN, (64, 300)),  # ``logmel``: 64 mels x 3 s at a 10 ms hop
}


def random_split(n: int, shape: tuple[int, ...], seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n + n // 10, *shape)).astype(np.float32)
    y = rng.integers(0, 7, len(X))
    return X[:n], y[:n], X[n:], y[n:]


def seconds_per_epoch(name: str, samples: int, epochs: int) -> float:
    estimator, shape = MODELS[name]
    warm = random_split(32, shape)
    estimator(max_epochs=1).fit(*warm)
    X, y, X_val, y_val = random_split(samples, shape)
    start = time.perf_counter()
    model = estimator(max_epochs=epochs, patience=epochs).fit(X, y, X_val, y_val)
    assert len(model.history) == epochs
    return (time.perf_counter() - start) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    args = parser.parse_args()
    for name in args.models:
        seconds = seconds_per_epoch(name, args.samples, args.epochs)
        print(json.dumps({"model": name, "samples": args.samples, "epochs": args.epochs,
                          "seconds_per_epoch": round(seconds, 2),
                          "torch_threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
