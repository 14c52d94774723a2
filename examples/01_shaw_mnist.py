"""The Shaw notes end to end: the 784-500-200-10 sigmoid network on real MNIST digits.

Reproduces ``shaw_14_ann_2025`` (and 2024), sections 1.2.2-1.2.24: one-hot targets, the
network 784-500-200-10 with sigmoid everywhere, the notes' initial weights ``0.5 - U[0, 1)``,
the total squared error (TSE), stochastic gradient descent with alpha = 0.3 over N_ep = 50
epochs (one update per sample, rows in a fresh random permutation each epoch), the TSE cost
after every epoch, then the test: the notes' scorecards of successes and failures per label,
the confusion matrix and the accuracy, with the plots of the cost and of the confusion matrix.

Data: the 1,000 training and 1,000 test rows of MNIST embedded in cmlp
(``cmlp.datasets.load_mnist_sample``; pixels / 255 as the notes do). The notes trained on
their 100-row file and reached 72% on 100 test rows. When the notes' CSV files are found
(``--data``, default ``../shared/data/mnist`` beside the repository), the trained network is
also tested on all 10,000 MNIST test rows and on the notes' 10-row file (not with
``--quick``).

    python examples/01_shaw_mnist.py [--epochs 50] [--seed 0] [--out plots/] [--quick]
"""
import argparse
import time
from pathlib import Path

import numpy as np

import cmlp
from cmlp.datasets import load_mnist_csv, load_mnist_sample
from cmlp.metrics import confusion_matrix, scorecards

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: the notes' 50; 3 with --quick)")
    parser.add_argument("--lr", type=float, default=0.3, help="alpha, the notes' 0.3")
    parser.add_argument("--seed", type=int, default=0, help="initial weights and shuffling")
    parser.add_argument("--out", type=Path, default=None,
                        help="write cost.png, confusion_matrix.png, mistakes.png here")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="directory with mnist_test.csv.gz and the notes' "
                             "mnist_test_10.csv (optional extra test sets)")
    parser.add_argument("--quick", action="store_true",
                        help="3 epochs and no extra test sets: a smoke test")
    return parser.parse_args(argv)


def pyplot_for(out):
    """pyplot with the file-only Agg backend, or None when no --out was given."""
    if out is None:
        return None
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("--out needs matplotlib: pip install 'cmlp[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out.mkdir(parents=True, exist_ok=True)
    return plt


def print_scorecards(success, failure):
    print("scorecards (the notes' successes and failures per true label):")
    print("label    " + "".join(f"{k:>6}" for k in range(len(success))) + "    all")
    print("success  " + "".join(f"{s:>6}" for s in success) + f"{success.sum():>7}")
    print("failure  " + "".join(f"{f:>6}" for f in failure) + f"{failure.sum():>7}")


def print_confusion(C):
    print("confusion matrix (rows: true label, columns: predicted label):")
    print("     " + "".join(f"{k:>5}" for k in range(C.shape[1])))
    for k, row in enumerate(C):
        print(f"{k:>5}" + "".join(f"{v:>5}" for v in row))


def main(argv=None):
    args = parse_args(argv)
    epochs = args.epochs or (3 if args.quick else 50)
    t_start = time.perf_counter()

    # the notes: X_train = X_train / 255; the loader does it
    X_train, y_train, X_test, y_test = load_mnist_sample()
    print(f"N_train = {len(X_train)}, N_test = {len(X_test)} (cmlp's embedded MNIST sample)")

    # W_i = 0.5 - np.random.rand(...), b_i = 0; sigmoid on every layer; TSE
    net = cmlp.Network([784, 500, 200, 10], activation="sigmoid", loss="tse", init="uniform",
                       seed=args.seed)
    # the notes' training cell: per-sample SGD, alpha = 0.3, TSEcost after each epoch
    history = net.fit(X_train, y_train, epochs=epochs, lr=args.lr, batch_size=1, verbose=0)
    print(f"trained {epochs} epochs, alpha = {args.lr}, in {history.seconds.sum():.2f} s")
    for e, cost in enumerate(history.cost, 1):
        if e <= 3 or e % 10 == 0 or e == epochs:
            print(f"  epoch {e:>3}: TSE cost {cost:10.3f}")

    # the notes' testing loop: argmax of the outputs against the label
    y_pred = net.predict(X_test)
    success, failure = scorecards(y_test, y_pred, n_classes=10)
    C = confusion_matrix(y_test, y_pred, n_classes=10)
    accuracy = float(np.trace(C) / C.sum())
    print()
    print_scorecards(success, failure)
    print()
    print_confusion(C)
    print()
    print(f"test accuracy: {accuracy:.4f} ({int(np.trace(C))} of {C.sum()} test rows)")

    results = dict(epochs=epochs, cost=history.cost, accuracy=accuracy, success=success,
                   failure=failure, confusion=C, y_pred=y_pred)

    # the notes' own test files, when they are at hand
    full = args.data / "mnist_test.csv.gz"
    if full.exists() and not args.quick:
        X_full, y_full = load_mnist_csv(full)
        results["accuracy_full_test"] = net.score(X_full, y_full)
        print(f"test accuracy on all {len(y_full)} MNIST test rows: "
              f"{results['accuracy_full_test']:.4f}")
    ten = args.data / "mnist_test_10.csv"
    if ten.exists() and not args.quick:
        X_ten, y_ten = load_mnist_csv(ten)
        results["accuracy_notes_10"] = net.score(X_ten, y_ten)
        print(f"test accuracy on the notes' 10-row file: {results['accuracy_notes_10']:.1f} "
              f"(predicted {net.predict(X_ten).tolist()}, labels {y_ten.tolist()})")

    plt = pyplot_for(args.out)
    if plt is not None:
        from cmlp import plot
        written = []
        for name, fig in (("cost.png", plot.plot_cost(history, title="TSE cost against epochs")),
                          ("confusion_matrix.png", plot.plot_confusion_matrix(C)),
                          ("mistakes.png", plot.plot_digits(X_test, y_test, y_pred, n=25,
                                                            errors_only=True))):
            fig.savefig(args.out / name)
            plt.close(fig)
            written.append(args.out / name)
        print("wrote " + ", ".join(str(p) for p in written))
        results["plots"] = written

    results["seconds"] = time.perf_counter() - t_start
    print(f"total time: {results['seconds']:.1f} s")
    return results


if __name__ == "__main__":
    main()
