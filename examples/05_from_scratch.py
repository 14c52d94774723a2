"""From scratch in three steps: one sigmoid neuron telling zeros from other digits, one hidden
layer of 64 units, then a softmax over all ten digits.

Reproduces ``deep_learning_from_scratch_2024`` (Fränzl's notebook), sections 1.2-1.5:

1. "A Single Neuron": 784 inputs, one sigmoid output, the binary cross-entropy
   ``L = -y log(y_hat) - (1 - y) log(1 - y_hat)`` averaged over the set, labels 1 for a zero
   and 0 for any other digit, full-batch gradient descent with learning rate 1 for 100 epochs.
2. "Network with Hidden Layers": 784-64-1, sigmoid units, the same loss and training.
3. "Multiclass Network": 784-64-10 with a softmax output and the cross-entropy
   ``-sum_i y_i log(y_hat_i)``, one-hot targets, 200 epochs.

After each step: the loss every few epochs, the confusion matrix on the test rows and the
per-class precision and recall (the notes' ``classification_report``).

Data: cmlp's embedded MNIST sample, 1,000 training and 1,000 test rows (the notes use all
60,000 + 10,000 rows of ``fetch_openml``; there are 85 zeros among our 1,000 test rows).
Pixels / 255, as the notes normalise them.

    python examples/05_from_scratch.py [--seed 0] [--lr 1.0] [--out plots/] [--quick]
"""
import argparse
import time
from pathlib import Path

import numpy as np

import cmlp
from cmlp.datasets import load_mnist_sample
from cmlp.metrics import classification_report, confusion_matrix

STEPS = (
    # name, layers, epochs, what the labels are
    ("1. a single neuron: zero or not", [784, 1], 100),
    ("2. one hidden layer of 64: zero or not", [784, 64, 1], 100),
    ("3. softmax over all ten digits", [784, 64, 10], 200),
)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=1.0, help="the notes' learning rate 1")
    parser.add_argument("--seed", type=int, default=0, help="initial weights")
    parser.add_argument("--out", type=Path, default=None,
                        help="write step1.png, step2.png, step3.png (cost and confusion "
                             "matrix of each step) here")
    parser.add_argument("--quick", action="store_true",
                        help="a fifth of the epochs: a smoke test")
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


def print_confusion(C, names):
    width = max(5, max(len(n) for n in names) + 1)
    print("   confusion matrix (rows: true, columns: predicted):")
    print("   " + " " * width + "".join(f"{n:>{width}}" for n in names))
    for name, row in zip(names, C):
        print("   " + f"{name:>{width}}" + "".join(f"{v:>{width}}" for v in row))


def main(argv=None):
    args = parse_args(argv)
    t_start = time.perf_counter()
    X_train, y_train, X_test, y_test = load_mnist_sample()
    print(f"MNIST sample: {len(X_train)} training rows ({int(np.sum(y_train == 0))} zeros), "
          f"{len(X_test)} test rows ({int(np.sum(y_test == 0))} zeros); full-batch gradient "
          f"descent, learning rate {args.lr}")
    plt = pyplot_for(args.out)
    results = {"steps": []}

    for k, (title, layers, epochs) in enumerate(STEPS, 1):
        if args.quick:
            epochs //= 5
        binary = layers[-1] == 1
        # steps 1 and 2: the notes overwrite the labels, 1 for a zero and 0 otherwise
        t_train = (y_train == 0).astype(np.int64) if binary else y_train
        t_test = (y_test == 0).astype(np.int64) if binary else y_test
        # cross_entropy picks the output: sigmoid for one unit, softmax for several
        net = cmlp.Network(layers, activation="sigmoid", loss="cross_entropy", init="xavier",
                           seed=args.seed)
        history = net.fit(X_train, t_train, epochs=epochs, lr=args.lr, batch_size="full",
                          verbose=0)
        pred = net.predict(X_test)
        C = confusion_matrix(t_test, pred, n_classes=layers[-1] if not binary else 2)
        report = classification_report(t_test, pred, digits=3, output_dict=True,
                                       n_classes=C.shape[0])
        classes = [str(c) for c in range(C.shape[0])]
        precision = np.array([report[c]["precision"] for c in classes])
        recall = np.array([report[c]["recall"] for c in classes])
        accuracy = report["accuracy"]

        print()
        print(f"{title}: {'-'.join(map(str, layers))}, {epochs} epochs, "
              f"{history.seconds.sum():.2f} s")
        shown = sorted(set(range(0, epochs, max(1, epochs // 10))) | {epochs - 1})
        print("   loss: " + ", ".join(f"epoch {e + 1} {history.cost[e]:.4f}" for e in shown))
        if binary:
            # class 1 is "a zero", class 0 "another digit"
            names = ["other", "zero"]
            print_confusion(C, names)
            print(f"   precision / recall for zeros: {precision[1]:.3f} / {recall[1]:.3f}; "
                  f"for other digits: {precision[0]:.3f} / {recall[0]:.3f}")
        else:
            names = classes
            print_confusion(C, names)
            print("   digit     " + "".join(f"{c:>7}" for c in classes))
            print("   precision " + "".join(f"{p:>7.3f}" for p in precision))
            print("   recall    " + "".join(f"{r:>7.3f}" for r in recall))
        print(f"   test accuracy: {accuracy:.4f}")
        results["steps"].append(dict(title=title, layers=layers, epochs=epochs,
                                     cost=history.cost, accuracy=accuracy, confusion=C,
                                     precision=precision, recall=recall))

        if plt is not None:
            from cmlp.plot import plot_confusion_matrix, plot_cost
            fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
            plot_cost(history, ax=axes[0], title=f"step {k}: cross-entropy")
            plot_confusion_matrix(C, labels=names, ax=axes[1], title=f"step {k}")
            fig.tight_layout()
            path = args.out / f"step{k}.png"
            fig.savefig(path)
            plt.close(fig)
            results.setdefault("plots", []).append(path)
            print(f"   wrote {path}")

    results["seconds"] = time.perf_counter() - t_start
    print(f"total time: {results['seconds']:.1f} s")
    return results


if __name__ == "__main__":
    main()
