"""Breast-cancer data: binary classification with a train/test split and standardised features.

Reproduces ``hjorth-jensen_ffnn_2024``, "The Breast Cancer Data, now with Keras": the 569
tumours of ``sklearn.datasets.load_breast_cancer`` (30 features each, 212 malignant and 357
benign; bundled with scikit-learn, no download), split into training and test rows, the
features standardised with the training rows' mean and standard deviation, and a network
trained to tell malignant from benign. cmlp trains two models on the same split: logistic
regression (a single sigmoid neuron, 30-1) and a network with one hidden layer (30-16-1,
ReLU units, He initialisation), both on the binary cross-entropy with Adam (lr 1e-3) in
minibatches of 16. It prints the test accuracy, the confusion matrix and the precision and
recall of each class, then the test accuracy of both models over several random splits.

scikit-learn's labels: 0 = malignant, 1 = benign. The recall of the malignant class (how
many cancers are found) is the number a clinician reads first.

    python examples/06_breast_cancer.py [--epochs 100] [--seed 0] [--splits 10]
                                        [--out plots/] [--quick]
"""
import argparse
import time
from pathlib import Path

import numpy as np

import cmlp
from cmlp.datasets import train_test_split
from cmlp.metrics import classification_report, confusion_matrix

MODELS = {
    "logistic regression 30-1": dict(layers=[30, 1], init="xavier"),
    "hidden layer 30-16-1": dict(layers=[30, 16, 1], init="he"),
}
NAMES = ["malignant", "benign"]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default 100; 20 with --quick)")
    parser.add_argument("--seed", type=int, default=0,
                        help="the first split and the initial weights")
    parser.add_argument("--splits", type=int, default=None,
                        help="random splits for the mean accuracy (default 10; 3 with --quick)")
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=None,
                        help="write breast_cancer.png (cost curves, confusion matrix) here")
    parser.add_argument("--quick", action="store_true", help="fewer epochs and splits")
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


def load_data():
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError:
        raise SystemExit("this example needs scikit-learn for its data: "
                         "pip install 'cmlp[sklearn]'") from None
    cancer = load_breast_cancer()
    return cancer.data, cancer.target


def split_and_standardise(X, y, test_size, seed):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, seed=seed)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)  # the training rows' only
    return (X_train - mean) / std, (X_test - mean) / std, y_train, y_test


def train(spec, X_train, y_train, epochs, seed, validation=None):
    net = cmlp.Network(spec["layers"], activation="relu", loss="cross_entropy",
                       init=spec["init"], seed=seed)  # cross_entropy: a sigmoid output unit
    history = net.fit(X_train, y_train, epochs=epochs, lr=1e-3, batch_size=16,
                      optimizer="adam", validation_data=validation, verbose=0)
    return net, history


def main(argv=None):
    args = parse_args(argv)
    epochs = args.epochs or (20 if args.quick else 100)
    n_splits = args.splits or (3 if args.quick else 10)
    t_start = time.perf_counter()
    X, y = load_data()
    X_train, X_test, y_train, y_test = split_and_standardise(X, y, args.test_size, args.seed)
    print(f"breast cancer: {len(X)} tumours, {X.shape[1]} features; {len(X_train)} training "
          f"and {len(X_test)} test rows ({int(np.sum(y_test == 0))} malignant in the test "
          f"rows); Adam lr 1e-3, batches of 16, {epochs} epochs")
    results = {"epochs": epochs, "models": {}}
    histories = {}
    for name, spec in MODELS.items():
        net, history = train(spec, X_train, y_train, epochs, args.seed,
                             validation=(X_test, y_test))
        pred = net.predict(X_test)
        C = confusion_matrix(y_test, pred, n_classes=2)
        report = classification_report(y_test, pred, output_dict=True, n_classes=2)
        precision = np.array([report[str(c)]["precision"] for c in range(2)])
        recall = np.array([report[str(c)]["recall"] for c in range(2)])
        accuracy = report["accuracy"]
        histories[name] = (history, C)
        results["models"][name] = dict(train_accuracy=net.score(X_train, y_train),
                                       accuracy=accuracy, confusion=C, precision=precision,
                                       recall=recall, cost=history.cost)
        print()
        print(f"{name}: training accuracy {results['models'][name]['train_accuracy']:.4f}, "
              f"test accuracy {accuracy:.4f} ({int(np.trace(C))} of {C.sum()})")
        print("   confusion matrix (rows: true, columns: predicted):")
        print(f"   {'':>10}{NAMES[0]:>11}{NAMES[1]:>8}")
        for k in range(2):
            print(f"   {NAMES[k]:>10}{C[k, 0]:>11}{C[k, 1]:>8}")
        for k in range(2):
            print(f"   {NAMES[k]:>10}: precision {precision[k]:.3f}, recall {recall[k]:.3f}")

    # one split is 114 test rows: one tumour is 0.9%. The mean over splits says more.
    print()
    print(f"test accuracy over {n_splits} random splits (seeds {args.seed}.."
          f"{args.seed + n_splits - 1}), each standardised on its own training rows:")
    results["splits"] = {}
    for name, spec in MODELS.items():
        accs = []
        for s in range(args.seed, args.seed + n_splits):
            Xa, Xb, ya, yb = split_and_standardise(X, y, args.test_size, s)
            net, _ = train(spec, Xa, ya, epochs, s)
            accs.append(net.score(Xb, yb))
        accs = np.array(accs)
        results["splits"][name] = accs
        print(f"   {name:<26} mean {accs.mean():.4f}, std {accs.std():.4f}, "
              f"min {accs.min():.4f}, max {accs.max():.4f}")

    plt = pyplot_for(args.out)
    if plt is not None:
        from cmlp.plot import plot_confusion_matrix, plot_cost
        fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
        for ax, (name, (history, _)) in zip(axes[:2], histories.items()):
            plot_cost(history, ax=ax, title=f"{name}: cross-entropy (validation: test rows)")
        name = list(MODELS)[-1]
        plot_confusion_matrix(histories[name][1], labels=NAMES, ax=axes[2], title=name)
        fig.tight_layout()
        path = args.out / "breast_cancer.png"
        fig.savefig(path)
        plt.close(fig)
        print(f"wrote {path}")
        results["plots"] = [path]

    results["seconds"] = time.perf_counter() - t_start
    print(f"total time: {results['seconds']:.1f} s")
    return results


if __name__ == "__main__":
    main()
