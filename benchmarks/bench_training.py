"""Minibatch training vs the per-sample path, and two threads vs one.

The recipe of the performance notes' table B: 784-500-200-10, ReLU hidden layers, softmax +
cross-entropy, He initialisation, float32, MNIST rows / 255, shuffled every epoch. Timed
cases, each one ``fit`` epoch from the same initial weights, median of ``--repeats``:

- per-sample SGD (``batch_size=1``, the notes' path), one thread;
- minibatch 64 with SGD and with Adam, ``n_threads=1`` and ``n_threads=2``.

Each figure is microseconds per training sample for the whole epoch as ``fit`` runs it,
the end-of-epoch cost pass over the training rows included; that pass is also timed alone.

    python benchmarks/bench_training.py [--rows 6016] [--repeats 3]

The machine is often shared: compare the ratios printed by one run.
"""
import argparse
import os
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    # fit keeps BLAS on one thread under its own n_threads anyway (threadpoolctl); this keeps
    # NumPy's and SciPy's BLAS from starting idle threads that compete for the two cores
    os.environ[var] = "1"

import numpy as np  # noqa: E402

import cmlp  # noqa: E402
from cmlp.datasets import load_mnist_csv, load_mnist_sample  # noqa: E402

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist" / "mnist_train.csv.gz"


def load_rows(n):
    if MNIST.exists():
        X, y = load_mnist_csv(MNIST, n_rows=n, scale=False)
        return X, y, str(MNIST)
    X, y, _, _ = load_mnist_sample(scale=False)
    return X[:n], y[:n], "the embedded sample (shared MNIST not found)"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=6016)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)

    X, y, source = load_rows(args.rows)
    X = (X / 255.0).astype(np.float32)
    N = X.shape[0]
    base = cmlp.Network([784, 500, 200, 10], activation="relu", loss="cross_entropy",
                        init="he", dtype="float32", seed=0)
    print(f"{N} rows from {source}; 784-500-200-10 relu/softmax cross-entropy float32; "
          f"kernels: {cmlp._core.get_isa()}; {os.cpu_count()} CPUs")

    def epoch_us(**kw):
        times = []
        for r in range(args.repeats):
            net = base.copy()
            t0 = time.perf_counter()
            net.fit(X, y, epochs=1, seed=r, verbose=0, **kw)
            times.append(time.perf_counter() - t0)
        return 1e6 * float(np.median(times)) / N

    cost_times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        base.cost(X, y)
        cost_times.append(time.perf_counter() - t0)
    cost_us = 1e6 * float(np.median(cost_times)) / N

    rows = [("per-sample SGD (batch 1), lr 0.01", epoch_us(lr=0.01, batch_size=1))]
    for opt, lr in (("sgd", 0.05), ("adam", 1e-3)):
        for nt in (1, 2):
            rows.append((f"batch 64, {opt}, n_threads={nt}",
                         epoch_us(lr=lr, batch_size=64, optimizer=opt, n_threads=nt)))
    width = max(len(name) for name, _ in rows)
    print(f"{'case':<{width}}  us/sample")
    for name, us in rows:
        print(f"{name:<{width}}  {us:9.1f}")
    print(f"{'(cost pass alone, us/row)':<{width}}  {cost_us:9.1f}")
    per_sample = rows[0][1]
    d = dict(rows)
    print(f"minibatch 64 sgd 1 thread vs per-sample: {per_sample / d['batch 64, sgd, n_threads=1']:.2f}x")
    print(f"2 threads vs 1 (sgd):  {d['batch 64, sgd, n_threads=1'] / d['batch 64, sgd, n_threads=2']:.2f}x")
    print(f"2 threads vs 1 (adam): {d['batch 64, adam, n_threads=1'] / d['batch 64, adam, n_threads=2']:.2f}x")


if __name__ == "__main__":
    main()
