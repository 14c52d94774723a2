"""Write src/cmlp/data/mnist_sample.npz: the first 1,000 MNIST training and test rows.

Usage: python tools/make_mnist_sample.py [MNIST_CSV_DIR]

MNIST_CSV_DIR holds mnist_train.csv.gz and mnist_test.csv.gz in the notes' CSV form
(default: ../shared/data/mnist beside this repository).  The arrays are stored as
they are read: X uint8 0-255, labels int64; keys X_train, y_train, X_test, y_test.
"""
import sys
from pathlib import Path

import numpy as np

from cmlp.datasets import load_mnist_csv

N_SAMPLE = 1000
REPO = Path(__file__).resolve().parents[1]


def main(argv):
    src = Path(argv[1]) if len(argv) > 1 else REPO.parent / "shared" / "data" / "mnist"
    X_train, y_train = load_mnist_csv(src / "mnist_train.csv.gz", n_rows=N_SAMPLE, scale=False)
    X_test, y_test = load_mnist_csv(src / "mnist_test.csv.gz", n_rows=N_SAMPLE, scale=False)
    out = REPO / "src" / "cmlp" / "data" / "mnist_sample.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test)
    print(f"wrote {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
