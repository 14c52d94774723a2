"""Time cmlp.datasets.load_mnist_csv against pandas.read_csv and np.loadtxt.

Usage: python benchmarks/bench_csv.py [FILE] [--repeat N] [--no-loadtxt]

FILE defaults to ../shared/data/mnist/mnist_train.csv.gz beside the repository.
Each loader runs --repeat times (best time kept); their values are checked equal
to cmlp's.  pandas is skipped with a note when it is not installed; np.loadtxt
(slow: tens of seconds on the full training set) runs once.
"""
import argparse
import gzip
import sys
import time
from pathlib import Path

import numpy as np

from cmlp import datasets
from cmlp.datasets import load_mnist_csv

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist" / "mnist_train.csv.gz"


def best_of(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?", default=str(DEFAULT))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-loadtxt", action="store_true", help="skip np.loadtxt (slow)")
    args = ap.parse_args(argv)
    path = Path(args.file)
    if not path.exists():
        print(f"{path} not found")
        return 1
    inflater = "isal" if datasets._isal_zlib is not None else "zlib"
    print(f"file: {path} ({path.stat().st_size / 1e6:.1f} MB on disk); cmlp inflater: {inflater}")

    t_cmlp, (X, y) = best_of(lambda: load_mnist_csv(path, scale=False), args.repeat)
    print(f"cmlp.load_mnist_csv   {t_cmlp:8.3f} s   {X.shape[0]} rows")
    results = []
    try:
        import pandas as pd
    except ImportError:
        print("pandas.read_csv       skipped: pandas is not installed")
    else:
        t_pd, df = best_of(lambda: pd.read_csv(path, header=None).to_numpy(), max(1, args.repeat // 2))
        same = np.array_equal(df[:, 1:], X) and np.array_equal(df[:, 0], y)
        print(f"pandas.read_csv       {t_pd:8.3f} s   same values: {same}   "
              f"cmlp is {t_pd / t_cmlp:.1f}x faster")
        results.append(same)
    if not args.no_loadtxt:
        def loadtxt():
            opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
            with opener(path, "rt") as f:
                return np.loadtxt(f, delimiter=",", dtype=np.int64)
        t_np, arr = best_of(loadtxt, 1)
        same = np.array_equal(arr[:, 1:], X) and np.array_equal(arr[:, 0], y)
        print(f"np.loadtxt            {t_np:8.3f} s   same values: {same}   "
              f"cmlp is {t_np / t_cmlp:.1f}x faster")
        results.append(same)
    return 0 if all(results) else 2


if __name__ == "__main__":
    sys.exit(main())
