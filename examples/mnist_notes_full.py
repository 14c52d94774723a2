"""The notes' MNIST network exactly, on all 60,000 training rows.

784-500-200-10, sigmoid everywhere, total squared error, the notes' uniform initial weights
``0.5 - U[0, 1)``, per-sample SGD with alpha = 0.3 for 5 epochs, pixels divided by 255 as the
notes do. Prints the test accuracy on the 10,000 test rows and the seconds per epoch.

    python examples/mnist_notes_full.py [--data DIR] [--epochs 5] [--dtype float64]
"""
import argparse
import time
from pathlib import Path

import numpy as np

import cmlp
from cmlp.datasets import load_mnist_csv

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="directory with mnist_train.csv.gz and mnist_test.csv.gz")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    t0 = time.perf_counter()
    # the loader divides by 255, as the notes do (X_train / 255)
    X_train, y_train = load_mnist_csv(args.data / "mnist_train.csv.gz", dtype=args.dtype)
    X_test, y_test = load_mnist_csv(args.data / "mnist_test.csv.gz", dtype=args.dtype)
    print(f"loaded {len(X_train)} training and {len(X_test)} test rows in "
          f"{time.perf_counter() - t0:.2f} s")

    net = cmlp.Network([784, 500, 200, 10], activation="sigmoid", loss="tse", init="uniform",
                       dtype=args.dtype, seed=args.seed)
    history = net.fit(X_train, y_train, epochs=args.epochs, lr=0.3, batch_size=1, verbose=1)

    for e, (cost, sec) in enumerate(zip(history.cost, history.seconds), 1):
        print(f"epoch {e}: TSE cost {cost:.1f}, {sec:.2f} s "
              f"({1e6 * sec / len(X_train):.1f} us/sample, cost pass included)")
    acc = net.score(X_test, y_test)
    print(f"test accuracy: {acc:.4f} ({int(round(acc * len(X_test)))}/{len(X_test)})")
    print(f"seconds per epoch: mean {np.mean(history.seconds):.2f}, "
          f"min {np.min(history.seconds):.2f}")


if __name__ == "__main__":
    main()
