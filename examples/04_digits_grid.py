"""scikit-learn's 8x8 digits: a 64-50-10 network and the notes' grid search over eta x lambda.

Reproduces ``hjorth-jensen_ffnn_2024``, "Collect and pre-process data" to "Visualization":
the 1,797 8x8 digits of ``sklearn.datasets.load_digits`` (bundled with scikit-learn, no
download), 80% for training and 20% for testing, a network with 64 inputs, 50 sigmoid hidden
units and a softmax output of 10 classes trained on the cross-entropy in minibatches of 100
for 100 epochs, the notes' initial weights (standard normal) and biases (0.01), and the grid
search over the learning rate eta = 10^-5 ... 10^1 and the L2 strength lambda = 10^-5 ...
10^1, with heatmaps of the training and test accuracy.

The notes' ``NeuralNetwork`` steps with the gradient *summed* over a batch plus
``lambda * W``; cmlp steps with lr times the *mean* over the batch plus the gradient
``2 * l2 * W`` of its penalty ``l2 * sum(W^2)``. With batches of B = 100 the notes' step is
cmlp's with ``lr = eta * B`` and ``l2 = lambda / (2 * B)``, so each grid cell trains exactly
the notes' update. Cells whose loss overflows (large eta) are left blank.
The pixels 0..16 are divided by 16.

The grid cells are independent networks, each with its own seed; they are trained in threads
(``--jobs``), which run at once because cmlp's training releases the GIL. Results do not
depend on the number of threads. (Another way to run this search: ``cmlp.MLPClassifier``
inside scikit-learn's ``GridSearchCV``, with cross-validation instead of one split.)

    python examples/04_digits_grid.py [--epochs 100] [--seed 0] [--jobs 2] [--out plots/]
                                      [--quick]
"""
import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import cmlp
from cmlp.datasets import train_test_split

BATCH = 100


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per grid cell (default: the notes' 100; 30 with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="split, initial weights, shuffling")
    parser.add_argument("--jobs", type=int, default=None,
                        help="grid cells trained at once (default: the usable CPUs)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write train_accuracy.png and test_accuracy.png here")
    parser.add_argument("--quick", action="store_true",
                        help="a 3 x 2 grid and 30 epochs: a smoke test")
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


def usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def load_digits():
    try:
        from sklearn import datasets
    except ImportError:
        raise SystemExit("this example needs scikit-learn for its digits data: "
                         "pip install 'cmlp[sklearn]'") from None
    digits = datasets.load_digits()
    return digits.data / 16.0, digits.target


def train_cell(data, eta, lmbd, epochs, seed):
    """(train accuracy, test accuracy) of one grid cell; NaN when training diverged."""
    X_train, y_train, X_test, y_test = data
    net = cmlp.Network([64, 50, 10], activation="sigmoid", output="softmax",
                       loss="cross_entropy", seed=seed)
    rng = np.random.default_rng(seed)
    net.weights = [rng.standard_normal(W.shape) for W in net.weights]  # np.random.randn
    net.biases = [np.full(b.shape, 0.01) for b in net.biases]          # zeros + 0.01
    try:
        net.fit(X_train, y_train, epochs=epochs, lr=eta * BATCH, batch_size=BATCH,
                l2=lmbd / (2 * BATCH), verbose=0, n_threads=1)
    except FloatingPointError:
        return np.nan, np.nan
    return net.score(X_train, y_train), net.score(X_test, y_test)


def print_table(title, values, etas, lmbds):
    print(title + " (rows: eta, columns: lambda; -: diverged)")
    print("   eta \\ lambda " + "".join(f"{v:>8.0e}" for v in lmbds))
    for eta, row in zip(etas, values):
        cells = "".join(f"{v:>8.3f}" if np.isfinite(v) else "    -   " for v in row)
        print(f"   {eta:>12.0e} {cells}")


def main(argv=None):
    args = parse_args(argv)
    epochs = args.epochs or (30 if args.quick else 100)
    if args.quick:
        etas, lmbds = np.array([1e-4, 1e-2, 1.0]), np.array([1e-5, 1e-1])
    else:
        etas, lmbds = np.logspace(-5, 1, 7), np.logspace(-5, 1, 7)
    jobs = args.jobs or usable_cpus()
    t_start = time.perf_counter()

    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=args.seed)
    print(f"8x8 digits: {len(X_train)} training and {len(X_test)} test rows; 64-50-10, "
          f"sigmoid + softmax, cross-entropy, batches of {BATCH}, {epochs} epochs; "
          f"{len(etas)} x {len(lmbds)} grid on {jobs} thread(s)")

    data = (X_train, y_train, X_test, y_test)
    cells = [(i, j) for i in range(len(etas)) for j in range(len(lmbds))]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        scores = list(pool.map(lambda ij: train_cell(data, etas[ij[0]], lmbds[ij[1]], epochs,
                                                     args.seed), cells))
    train_acc = np.array([s[0] for s in scores]).reshape(len(etas), len(lmbds))
    test_acc = np.array([s[1] for s in scores]).reshape(len(etas), len(lmbds))
    grid_seconds = time.perf_counter() - t_start

    print()
    print_table("training accuracy", train_acc, etas, lmbds)
    print()
    print_table("test accuracy", test_acc, etas, lmbds)
    best = np.unravel_index(np.nanargmax(test_acc), test_acc.shape)
    print()
    print(f"best test accuracy {test_acc[best]:.4f} at eta = {etas[best[0]]:g}, "
          f"lambda = {lmbds[best[1]]:g} (training accuracy {train_acc[best]:.4f}); "
          f"{int(np.sum(test_acc > 0.9))} of {test_acc.size} cells above 0.9; "
          f"grid trained in {grid_seconds:.1f} s")
    results = dict(etas=etas, lmbds=lmbds, train_accuracy=train_acc, test_accuracy=test_acc,
                   best=dict(eta=float(etas[best[0]]), lmbd=float(lmbds[best[1]]),
                             test_accuracy=float(test_acc[best]),
                             train_accuracy=float(train_acc[best])),
                   epochs=epochs, jobs=jobs, grid_seconds=grid_seconds)

    plt = pyplot_for(args.out)
    if plt is not None:
        from cmlp.plot import plot_grid_search
        written = []
        for name, values in (("train_accuracy.png", train_acc), ("test_accuracy.png", test_acc)):
            fig = plot_grid_search(values, etas, lmbds, figsize=(8, 6),
                                   label=name.split(".")[0].replace("_", " "), fmt=".2f")
            # plot_grid_search names the rows "learning rate"/"lr"; here they are the
            # notes' eta, so the labels are set again
            ax = fig.axes[0]
            ax.set_ylabel("η (the notes' learning rate)")
            i, j = np.unravel_index(np.nanargmax(values), values.shape)
            ax.set_title(f"{name.split('.')[0].replace('_', ' ')} (best {values[i, j]:.3f} at "
                         f"η = {etas[i]:g}, λ = {lmbds[j]:g})")
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
