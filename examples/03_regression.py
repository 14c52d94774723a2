"""Regression: fit f(x0, x1) = x0^2 + 3 x0 x1 + x1^2 + 5 from 100 points.

Reproduces the exercise at the end of "Simple neural network and the back propagation
equations" in ``hjorth-jensen_ffnn_2024``: a network with two inputs x0, x1, sigmoid hidden
units and one identity output, fed n = 100 points, trained by gradient descent on the mean
squared error, "which takes as input these data and fit the above function". The notes' own
network has two hidden units (2-2-1); we train it and a wider 2-20-1 network the same way
(per-sample SGD, as the notes' update rules are written) and report the error on the 100
training points and on 2,000 fresh points of the same square, beside the best plane
(least squares on 1, x0, x1) as a baseline.

The points are drawn uniformly from [-1, 1]^2 (the notes leave the range open).
cmlp's ``mse`` loss is 1/2 (t - y)^2 averaged over the rows; the errors printed here are
the plain mean of (t - y)^2.

    python examples/03_regression.py [--epochs 2000] [--seed 0] [--out plots/] [--quick]
"""
import argparse
import time
from pathlib import Path

import numpy as np

import cmlp


def f(X):
    x0, x1 = X[:, 0], X[:, 1]
    return x0 ** 2 + 3 * x0 * x1 + x1 ** 2 + 5


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help="SGD epochs (default 2000; 300 with --quick)")
    parser.add_argument("--lr", type=float, default=0.05, help="SGD learning rate")
    parser.add_argument("--seed", type=int, default=0, help="data, initial weights, shuffling")
    parser.add_argument("--out", type=Path, default=None,
                        help="write regression.png (fit and cost curves) here")
    parser.add_argument("--quick", action="store_true", help="300 epochs: a smoke test")
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


def errors(t, y):
    """MSE, RMSE and R^2 of predictions y for targets t."""
    mse = float(np.mean((t - y) ** 2))
    return dict(mse=mse, rmse=mse ** 0.5, r2=1.0 - mse / float(np.var(t)))


def main(argv=None):
    args = parse_args(argv)
    epochs = args.epochs or (300 if args.quick else 2000)
    t_start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    X_train = rng.uniform(-1, 1, (100, 2))      # the notes' n = 100 points (x0, x1)
    y_train = f(X_train)
    X_test = rng.uniform(-1, 1, (2000, 2))
    y_test = f(X_test)
    print(f"f(x0, x1) = x0^2 + 3 x0 x1 + x1^2 + 5 on [-1, 1]^2: {len(X_train)} training "
          f"points, {len(X_test)} test points; targets from {y_test.min():.2f} to "
          f"{y_test.max():.2f} (std {y_test.std():.3f})")

    results = {"epochs": epochs}
    # the baseline: the best plane through the training points
    A = np.column_stack([np.ones(len(X_train)), X_train])
    beta, *_ = np.linalg.lstsq(A, y_train, rcond=None)
    base = errors(y_test, np.column_stack([np.ones(len(X_test)), X_test]) @ beta)
    results["plane"] = dict(test=base)
    print(f"  best plane (least squares):  test MSE {base['mse']:.3e}  R^2 {base['r2']:.4f}")

    fits = {}
    for name, layers in (("2-2-1", [2, 2, 1]), ("2-20-1", [2, 20, 1])):
        # sigmoid hidden units, identity output, MSE, as the notes' regression network
        net = cmlp.Network(layers, activation="sigmoid", output="identity", loss="mse",
                           init="xavier", seed=args.seed)
        history = net.fit(X_train, y_train, epochs=epochs, lr=args.lr, batch_size=1,
                          verbose=0)
        train = errors(y_train, net.predict(X_train)[:, 0])
        test = errors(y_test, net.predict(X_test)[:, 0])
        fits[name] = (net, history)
        results[name] = dict(train=train, test=test, cost=history.cost,
                             seconds=float(history.seconds.sum()))
        print(f"  {name:>6} network, {epochs} epochs of SGD (lr {args.lr}): train MSE "
              f"{train['mse']:.3e}, test MSE {test['mse']:.3e}, test RMSE {test['rmse']:.4f} "
              f"({100 * test['rmse'] / np.mean(np.abs(y_test)):.2f}% of mean |f|), "
              f"R^2 {test['r2']:.5f}  [{results[name]['seconds']:.2f} s]")

    plt = pyplot_for(args.out)
    if plt is not None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        for name, (net, history) in fits.items():
            axes[0].plot(np.arange(1, len(history) + 1), history.cost, label=name)
            axes[1].scatter(y_test, net.predict(X_test)[:, 0], s=3, label=name, alpha=0.6)
        axes[0].set_yscale("log")
        axes[0].set_xlabel("epoch")
        axes[0].set_ylabel("cost (1/2 mean squared error)")
        axes[0].legend()
        lo, hi = y_test.min(), y_test.max()
        axes[1].plot([lo, hi], [lo, hi], color="black", lw=0.8)
        axes[1].set_xlabel("f(x0, x1)")
        axes[1].set_ylabel("network output")
        axes[1].set_title("2,000 test points")
        axes[1].legend()
        fig.tight_layout()
        path = args.out / "regression.png"
        fig.savefig(path)
        plt.close(fig)
        print(f"wrote {path}")
        results["plots"] = [path]

    results["seconds"] = time.perf_counter() - t_start
    print(f"total time: {results['seconds']:.1f} s")
    return results


if __name__ == "__main__":
    main()
