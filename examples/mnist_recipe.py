"""A modern MNIST recipe with cmlp: ReLU hidden layers, softmax + cross-entropy, minibatches
of 64 with Adam, reaching at least 98% on the 10,000 test rows.

784-500-200-10, He initialisation, Adam (lr 1e-3, decayed by 0.8 per epoch), 12 epochs,
float32, every core for the minibatch gradients. Pixels are divided by 255. The test rows
are passed as ``validation_data`` only to print the test accuracy after every epoch: nothing
is selected or stopped on them.

    python examples/mnist_recipe.py [--data DIR] [--epochs 12] [--optimizer adam|momentum]
"""
import argparse
import time
from pathlib import Path

import cmlp
from cmlp.datasets import load_mnist_csv
from cmlp.optim import Adam, Momentum
from cmlp.schedules import ExponentialDecay

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="directory with mnist_train.csv.gz and mnist_test.csv.gz")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--optimizer", default="adam", choices=["adam", "momentum"])
    parser.add_argument("--threads", type=int, default=None, help="default: every core")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args()

    # the loader divides the pixels by 255
    X_train, y_train = load_mnist_csv(args.data / "mnist_train.csv.gz", dtype="float32")
    X_test, y_test = load_mnist_csv(args.data / "mnist_test.csv.gz", dtype="float32")

    net = cmlp.Network([784, 500, 200, 10], activation="relu", loss="cross_entropy",
                       init="he", dtype="float32", seed=args.seed)
    opt = Adam(lr=1e-3) if args.optimizer == "adam" else Momentum(lr=0.05, momentum=0.9)
    t0 = time.perf_counter()
    history = net.fit(X_train, y_train, epochs=args.epochs, batch_size=64, optimizer=opt,
                      lr_schedule=ExponentialDecay(gamma=0.8),
                      validation_data=(X_test, y_test), n_threads=args.threads,
                      verbose=args.verbose)
    total = time.perf_counter() - t0
    for e in range(len(history)):
        print(f"epoch {e + 1}: lr {history.learning_rates[e]:.2e}, train cost "
              f"{history.cost[e]:.4f}, train acc {history.accuracy[e]:.4f}, test acc "
              f"{history.val_accuracy[e]:.4f}, {history.seconds[e]:.1f} s")
    acc = net.score(X_test, y_test)
    print(f"test accuracy: {acc:.4f} ({int(round(acc * len(X_test)))}/{len(X_test)})")
    print(f"total training seconds: {total:.1f} "
          f"({total / len(history):.1f} s per epoch, evaluation included)")


if __name__ == "__main__":
    main()
