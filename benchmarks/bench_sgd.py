"""Per-sample SGD on the notes' 784-500-200-10 sigmoid/TSE network: cmlp vs the notes' loop.

Both run in this process on the same MNIST rows (pixels / 255) from the same initial weights,
one thread, and both include the end-of-epoch whole-set cost pass (what ``fit`` does and
what the notes' cell does). Prints microseconds per training sample and the ratio.

    python benchmarks/bench_sgd.py [--rows 2000] [--notes-rows 200] [--dtype float64]

The notes' loop is timed on fewer rows (its cost per sample does not depend on N).

cmlp's epoch is the one ``History.seconds`` records (as ``compare.py`` times it; ``fit``'s
setup is not in it). The script also splits each epoch into its two halves, timed apart:
the per-sample training loop and the end-of-epoch cost pass (for cmlp: ``Network.cost``
over the same rows right after the ``fit``, subtracted from the epoch). In the notes' cell
the cost loop is a few percent of the epoch; in cmlp's it is a fifth or more, so the
whole-epoch ratio is lower than the ratio of the training loops.
"""
import argparse
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"  # one thread, set before NumPy loads its BLAS

import numpy as np  # noqa: E402

import cmlp  # noqa: E402
from cmlp.datasets import load_mnist_csv, load_mnist_sample  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notes_loop import notes_cost, notes_sgd  # noqa: E402

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist" / "mnist_train.csv.gz"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_rows(n):
    if MNIST.exists():
        X, y = load_mnist_csv(MNIST, n_rows=n)  # pixels / 255
        return X, y, str(MNIST)
    X, y, _, _ = load_mnist_sample()
    return X[:n], y[:n], "the embedded sample (shared MNIST not found)"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--notes-rows", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    args = p.parse_args(argv)

    X, y, source = load_rows(args.rows)
    N = X.shape[0]
    net = cmlp.Network([784, 500, 200, 10], dtype=args.dtype, seed=0)
    W0 = [w.astype(np.float64) for w in net.weights]
    p0 = net.params.copy()
    print(f"cmlp {cmlp.__version__}, numpy {np.__version__}, {date.today()}, {cpu_model()}, "
          f"1 thread; data: first {N} rows of {source}")

    # cmlp: one epoch of per-sample SGD + the whole-set cost pass, rows in a fixed order, timed
    # by History.seconds as compare.py does (without fit's setup); then the cost pass alone
    times, costs = [], []
    for _ in range(args.repeats):
        net.params[...] = p0
        history = net.fit(X, y, epochs=1, lr=0.3, shuffle=False, verbose=0)
        t1 = time.perf_counter()
        net.cost(X, y)
        costs.append(time.perf_counter() - t1)
        times.append(history.seconds[0])
    cmlp_us = 1e6 * float(np.median(times)) / N
    cmlp_cost_us = 1e6 * float(np.median(costs)) / N

    # the notes' literal loop on fewer rows: its training loop, then its cost loop
    n = min(args.notes_rows, N)
    Xn = X[:n].astype(np.float64)
    y_train = cmlp.one_hot(y[:n], 10).T  # the notes keep one-hot columns
    W = [w.copy() for w in W0]
    b = [np.zeros((w.shape[1], 1)) for w in W0]
    t0 = time.perf_counter()
    notes_sgd(W, b, Xn, y_train, np.arange(n), 0.3)
    t1 = time.perf_counter()
    notes_cost(W, b, Xn, y_train, np.arange(n))
    t2 = time.perf_counter()
    notes_train_us, notes_cost_us = 1e6 * (t1 - t0) / n, 1e6 * (t2 - t1) / n
    notes_us = notes_train_us + notes_cost_us

    print(f"{'us/sample':<44}{'epoch':>10}{'training':>10}{'cost pass':>10}")
    for name, whole, cost in ((f"cmlp Network.fit (batch_size=1, {args.dtype})", cmlp_us,
                               cmlp_cost_us),
                              ("notes literal NumPy loop (float64)", notes_us, notes_cost_us)):
        print(f"{name:<44}{whole:>10.1f}{whole - cost:>10.1f}{cost:>10.1f}")
    ratio = notes_us / cmlp_us
    print(f"cmlp is {ratio:.0f}x faster than the notes' loop over the whole epoch "
          f"({notes_train_us / (cmlp_us - cmlp_cost_us):.0f}x in the training loop, "
          f"{notes_cost_us / cmlp_cost_us:.0f}x in the cost pass)")
    return ratio


if __name__ == "__main__":
    main()
