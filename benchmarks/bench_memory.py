"""Peak memory of ``Network.fit`` against the performance issue's budget.

Budget: 1.5 x (parameters + optimizer state + one copy of the training data). Measured as
the process's peak resident set (``ru_maxrss``) at the end of ``fit`` minus its resident set
before the training data were loaded (after a warm-up fit on the embedded sample has loaded
every library: BLAS, the thread pool), so what is counted is the data, the network and
everything ``fit`` allocates. A transient peak of the CSV loader counts too (conservative).
Each case runs in a fresh process.

    python benchmarks/bench_memory.py [--rows 60000]

Cases: the notes' per-sample SGD (float64) and the ReLU/softmax recipe with Adam at batch
64 (float32), one and two threads. Exit status 1 if a case exceeds the budget.
"""
import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist" / "mnist_train.csv.gz"
CASES = {
    "per-sample SGD, sigmoid/TSE, float64": dict(dtype="float64", activation="sigmoid",
                                                 loss="tse", batch_size=1, optimizer="sgd",
                                                 lr=0.3, n_threads=1),
    "batch 64 Adam, relu/softmax, float32, 1 thread": dict(
        dtype="float32", activation="relu", loss="cross_entropy", batch_size=64,
        optimizer="adam", lr=1e-3, n_threads=1),
    "batch 64 Adam, relu/softmax, float32, 2 threads": dict(
        dtype="float32", activation="relu", loss="cross_entropy", batch_size=64,
        optimizer="adam", lr=1e-3, n_threads=2),
}


def peak_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def current_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def child(name, rows):
    import numpy as np

    import cmlp
    from cmlp.datasets import load_mnist_csv, load_mnist_sample

    c = CASES[name]
    kw = dict(lr=c["lr"], batch_size=c["batch_size"], optimizer=c["optimizer"],
              n_threads=c["n_threads"], verbose=0)

    def network():
        return cmlp.Network([784, 500, 200, 10], activation=c["activation"], loss=c["loss"],
                            init="he" if c["activation"] == "relu" else "uniform",
                            dtype=c["dtype"], seed=0)

    Xs, ys, _, _ = load_mnist_sample(dtype=c["dtype"])
    network().fit(Xs[:256], ys[:256], epochs=1, **kw)  # loads BLAS, starts threads
    del Xs, ys
    before = current_bytes()
    if MNIST.exists():
        X, y = load_mnist_csv(MNIST, n_rows=rows, dtype=c["dtype"])
    else:
        X, y, _, _ = load_mnist_sample(dtype=c["dtype"])
    net = network()
    net.fit(X, y, epochs=1, **kw)
    grown = peak_bytes() - before
    P = net.n_params
    itemsize = np.dtype(c["dtype"]).itemsize
    state = {"sgd": 0, "adam": 2}[c["optimizer"]] * P * itemsize
    budget = 1.5 * (P * itemsize + state + X.nbytes)
    print(json.dumps(dict(case=name, rows=int(X.shape[0]), grown=grown, budget=budget,
                          params=P * itemsize, state=state, data=int(X.nbytes))))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=60000)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.rows)
        return 0
    print(f"{'case':<48} {'rows':>6} {'used (MB)':>10} {'budget (MB)':>12} {'share':>6}")
    worst = 0.0
    for name in CASES:
        out = subprocess.run([sys.executable, __file__, "--child", name, "--rows",
                              str(args.rows)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        share = r["grown"] / r["budget"]
        worst = max(worst, share)
        print(f"{name:<48} {r['rows']:>6} {r['grown'] / 1e6:>10.1f} {r['budget'] / 1e6:>12.1f} "
              f"{share:>6.2f}")
    print(f"largest share of the budget: {worst:.2f} (budget: 1.5 x (parameters + optimizer "
          f"state + one copy of the training data))")
    return 0 if worst <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
