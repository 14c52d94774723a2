"""cmlp against scikit-learn's MLPClassifier on the same MNIST rows with the same settings:
test accuracy and wall time side by side.

The notes compare their own code with ``sklearn.neural_network.MLPClassifier``
(``hjorth-jensen_ffnn_2024``, "scikit-learn implementation"; ``intro_nn_slides``). Here both
libraries train the notes' 784-500-200-10 network on cmlp's embedded MNIST sample (1,000
training rows, pixels / 255) and are tested on its 1,000 test rows, in two recipes:

A. the notes' update rule: plain SGD updating after every sample (``batch_size=1``, no
   momentum, no L2), learning rate 0.01, ReLU hidden units, 2 epochs;
B. scikit-learn's default recipe: ReLU hidden units, Adam (lr 1e-3), L2 alpha = 1e-4,
   batches of 64, 10 epochs.

(Logistic hidden units, as the notes use, barely move in two epochs here: with
scikit-learn's small initial weights and the cross-entropy, both libraries stay near 20%
test accuracy, so recipe A uses ReLU units. ``01_shaw_mnist.py`` trains the notes' sigmoid
network with their TSE and initial weights.)

Both use softmax outputs and the cross-entropy (MLPClassifier's only loss), Glorot-uniform
initial weights and biases drawn as scikit-learn draws them (not the same numbers), a
fresh shuffle every epoch, and exactly the given number of epochs (scikit-learn's tolerance
stopping is turned off). scikit-learn's ``alpha`` adds ``alpha / 2 * sum(W^2) / batch_size``
to the mean loss of a batch, cmlp's ``l2`` adds ``l2 * sum(W^2)``: ``l2 = alpha / (2 * 64)``.
Times are wall-clock seconds of ``fit`` alone, both libraries on the same number of threads
(``--threads``, default 1: cmlp's ``n_threads``, and scikit-learn's BLAS limited with
threadpoolctl; per-sample SGD in cmlp is always one thread). When ``--data`` holds the
notes' ``mnist_test.csv.gz``, both networks are also tested on all 10,000 MNIST test rows
(not with ``--quick``).

    python examples/07_vs_sklearn.py [--seed 0] [--threads 1] [--out plots/] [--quick]
"""
import argparse
import time
import warnings
from pathlib import Path

import numpy as np

import cmlp
from cmlp.datasets import load_mnist_csv, load_mnist_sample

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
RECIPES = {
    "A: per-sample SGD": dict(activation="relu", solver="sgd", lr=0.01, batch_size=1,
                              alpha=0.0, epochs=2),
    "B: ReLU + Adam, batches of 64": dict(activation="relu", solver="adam", lr=1e-3,
                                          batch_size=64, alpha=1e-4, epochs=10),
}
HIDDEN = (500, 200)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="initial weights and shuffling")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="directory with mnist_test.csv.gz (optional extra test set)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for both libraries (default 1)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write vs_sklearn.png (accuracy and time bars) here")
    parser.add_argument("--quick", action="store_true",
                        help="300 training rows, 1 epoch per recipe and no extra test set: "
                             "a smoke test")
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


def sklearn_start(net, rng, activation):
    """Initial weights and biases drawn as MLPClassifier draws them: U[-r, r] with
    r = sqrt(6 / (fan_in + fan_out)), or sqrt(2 / ...) for logistic units."""
    factor = 2.0 if activation == "logistic" else 6.0
    for W, b in zip(net.weights, net.biases):
        bound = np.sqrt(factor / (W.shape[0] + W.shape[1]))
        W[...] = rng.uniform(-bound, bound, W.shape)
        b[...] = rng.uniform(-bound, bound, b.shape)


def fit_cmlp(recipe, X, y, seed, threads):
    act = "sigmoid" if recipe["activation"] == "logistic" else "relu"
    net = cmlp.Network([X.shape[1], *HIDDEN, 10], activation=act, output="softmax",
                       loss="cross_entropy", seed=seed)
    sklearn_start(net, np.random.default_rng(seed), recipe["activation"])
    t0 = time.perf_counter()
    net.fit(X, y, epochs=recipe["epochs"], lr=recipe["lr"], batch_size=recipe["batch_size"],
            optimizer=recipe["solver"], l2=recipe["alpha"] / (2 * recipe["batch_size"]),
            n_threads=threads, verbose=0)
    return net, time.perf_counter() - t0


def fit_sklearn(recipe, X, y, seed, threads):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn
    clf = MLPClassifier(hidden_layer_sizes=HIDDEN, activation=recipe["activation"],
                        solver=recipe["solver"], learning_rate_init=recipe["lr"],
                        batch_size=recipe["batch_size"], alpha=recipe["alpha"],
                        max_iter=recipe["epochs"], momentum=0.0, nesterovs_momentum=False,
                        shuffle=True, random_state=seed,
                        # exactly max_iter epochs: no stopping on the tolerance
                        tol=0.0, n_iter_no_change=recipe["epochs"] + 1)
    t0 = time.perf_counter()
    with warnings.catch_warnings(), threadpool_limits(limits=threads, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)  # "max_iter reached"
        clf.fit(X, y)
    return clf, time.perf_counter() - t0


def blas_name():
    from threadpoolctl import threadpool_info
    names = sorted({p.get("internal_api", "?") for p in threadpool_info()
                    if p.get("user_api") == "blas"})
    return ", ".join(names) or "unknown"


def main(argv=None):
    args = parse_args(argv)
    try:
        import sklearn
    except ImportError:
        raise SystemExit("this example needs scikit-learn: pip install 'cmlp[sklearn]'") \
            from None
    t_start = time.perf_counter()
    X_train, y_train, X_test, y_test = load_mnist_sample()
    recipes = RECIPES
    if args.quick:
        X_train, y_train = X_train[:300], y_train[:300]
        recipes = {k: dict(r, epochs=1) for k, r in RECIPES.items()}
    full = args.data / "mnist_test.csv.gz"
    X_full = y_full = None
    if full.exists() and not args.quick:
        X_full, y_full = load_mnist_csv(full)
    print(f"784-{HIDDEN[0]}-{HIDDEN[1]}-10 on {len(X_train)} MNIST training rows, tested on "
          f"{len(X_test)} rows; scikit-learn {sklearn.__version__} ({blas_name()} BLAS), "
          f"cmlp {cmlp.__version__}; {args.threads} thread(s) each")
    results = {"recipes": {}, "threads": args.threads}
    for name, recipe in recipes.items():
        net, t_cmlp = fit_cmlp(recipe, X_train, y_train, args.seed, args.threads)
        clf, t_sk = fit_sklearn(recipe, X_train, y_train, args.seed, args.threads)
        r = dict(epochs=recipe["epochs"],
                 cmlp=dict(accuracy=net.score(X_test, y_test), seconds=t_cmlp),
                 sklearn=dict(accuracy=float(clf.score(X_test, y_test)), seconds=t_sk))
        if X_full is not None:
            r["cmlp"]["accuracy_full_test"] = net.score(X_full, y_full)
            r["sklearn"]["accuracy_full_test"] = float(clf.score(X_full, y_full))
        results["recipes"][name] = r
        print()
        print(f"{name}, {recipe['epochs']} epoch(s)")
        print(f"   {'':<14}{'test accuracy':>14}{'fit seconds':>13}"
              + (f"{'all 10,000':>12}" if X_full is not None else ""))
        for lib in ("cmlp", "sklearn"):
            extra = f"{r[lib]['accuracy_full_test']:>12.4f}" if X_full is not None else ""
            label = "cmlp" if lib == "cmlp" else "MLPClassifier"
            print(f"   {label:<14}{r[lib]['accuracy']:>14.4f}{r[lib]['seconds']:>13.2f}{extra}")
        print(f"   scikit-learn time / cmlp time: {t_sk / t_cmlp:.1f}")

    plt = pyplot_for(args.out)
    if plt is not None:
        names = list(results["recipes"])
        x = np.arange(len(names))
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        for k, (lib, label) in enumerate((("cmlp", "cmlp"), ("sklearn", "MLPClassifier"))):
            acc = [results["recipes"][n][lib]["accuracy"] for n in names]
            sec = [results["recipes"][n][lib]["seconds"] for n in names]
            axes[0].bar(x + (k - 0.5) * 0.4, acc, 0.4, label=label)
            axes[1].bar(x + (k - 0.5) * 0.4, sec, 0.4, label=label)
        for ax, ylabel in zip(axes, ("test accuracy", "fit wall time (s)")):
            ax.set_xticks(x, labels=[n.split(":")[0] for n in names])
            ax.set_ylabel(ylabel)
            ax.legend(loc="lower right" if ax is axes[0] else "best")
        axes[1].set_yscale("log")
        fig.suptitle("784-500-200-10 on the MNIST sample: A = per-sample SGD, "
                     "B = Adam, batches of 64", fontsize="medium")
        fig.tight_layout()
        path = args.out / "vs_sklearn.png"
        fig.savefig(path)
        plt.close(fig)
        print(f"wrote {path}")
        results["plots"] = [path]

    results["seconds"] = time.perf_counter() - t_start
    print(f"total time: {results['seconds']:.1f} s")
    return results


if __name__ == "__main__":
    main()
