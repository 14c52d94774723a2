"""Minibatch training vs the per-sample path, and two threads vs one.

The recipe of the performance notes' table B: 784-500-200-10, ReLU hidden layers, softmax +
cross-entropy, He initialisation, float32, MNIST rows / 255, shuffled every epoch. Timed
cases, each one ``fit`` epoch from the same initial weights, median of ``--repeats``:

- per-sample SGD (``batch_size=1``, the notes' path), one thread;
- minibatch 64 with SGD and with Adam, ``n_threads=1`` and ``n_threads=2``.

Each figure is microseconds per training sample for the whole epoch as ``fit`` runs it,
the end-of-epoch cost pass over the training rows included; that pass is also timed alone.
The cases take turns within each repeat; the median and the best of the repeats are
printed, and the ratios from both.

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

    cases = [("per-sample SGD (batch 1), lr 0.01", dict(lr=0.01, batch_size=1))]
    for opt, lr in (("sgd", 0.05), ("adam", 1e-3)):
        for nt in (1, 2):
            cases.append((f"batch 64, {opt}, n_threads={nt}",
                          dict(lr=lr, batch_size=64, optimizer=opt, n_threads=nt)))
    # the cases take turns within each repeat, so a drift of the shared machine's speed
    # falls on all of them alike
    times = {name: [] for name, _ in cases}
    cost_times = []
    for r in range(args.repeats):
        for name, kw in cases:
            net = base.copy()
            t0 = time.perf_counter()
            net.fit(X, y, epochs=1, seed=r, verbose=0, **kw)
            times[name].append(1e6 * (time.perf_counter() - t0) / N)
        t0 = time.perf_counter()
        base.cost(X, y)
        cost_times.append(1e6 * (time.perf_counter() - t0) / N)
    rows = [(name, float(np.median(times[name])), min(times[name])) for name, _ in cases]
    cost_us = float(np.median(cost_times))
    width = max(len(name) for name, _, _ in rows)
    print(f"{'case':<{width}}  us/sample: median    best")
    for name, med, best in rows:
        print(f"{name:<{width}}  {med:17.1f} {best:7.1f}")
    print(f"{'(cost pass alone, us/row, median)':<{width}}  {cost_us:17.1f}")
    d = {name: (med, best) for name, med, best in rows}
    ps, b1, b2 = (d["per-sample SGD (batch 1), lr 0.01"], d["batch 64, sgd, n_threads=1"],
                  d["batch 64, sgd, n_threads=2"])
    a1, a2 = d["batch 64, adam, n_threads=1"], d["batch 64, adam, n_threads=2"]
    print("ratios (median / best of the repeats):")
    print(f"minibatch 64 sgd 1 thread vs per-sample: {ps[0] / b1[0]:.2f}x / {ps[1] / b1[1]:.2f}x")
    print(f"2 threads vs 1 (sgd):  {b1[0] / b2[0]:.2f}x / {b1[1] / b2[1]:.2f}x")
    print(f"2 threads vs 1 (adam): {a1[0] / a2[0]:.2f}x / {a1[1] / a2[1]:.2f}x")


if __name__ == "__main__":
    main()
