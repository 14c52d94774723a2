"""cmlp's ``solver="lbfgs"`` against scikit-learn's, same data, initial weights and settings.

Two problems, as the scikit-learn parity issue states them:

- scikit-learn's 8x8 digits (``load_digits``: 1797 rows, pixels / 16), a 64-50-10 network
  (``hidden_layer_sizes=(50,)``), ReLU, softmax + log loss;
- breast cancer (``load_breast_cancer``: 569 rows, standardized), a 30-30-1 network
  (``hidden_layer_sizes=(30,)``), ReLU, one logistic output + binary log loss.

Both estimators get the same ``random_state`` (so the same initial weights: cmlp draws
scikit-learn's Glorot uniform in scikit-learn's order), ``alpha=1e-4``, ``tol=1e-4``,
``max_iter=200``, ``max_fun=15000`` (scikit-learn's defaults), float64. Each timed case is one
whole ``fit`` (input validation included). The cases take turns within each repeat; the
median and the best of the repeats are printed, and the ratio of both. The final training
losses (``loss_``) of the two are compared: their relative difference must stay within 1%.

Threads: ``--threads N`` gives cmlp ``n_threads=N`` and limits scikit-learn's BLAS (NumPy's
and SciPy's) to N threads through threadpoolctl, so that both use the same cores; on the
shared 2-core machine BLAS threads that compete for busy cores make scikit-learn's times
erratic, so the default is 1.

    python benchmarks/bench_lbfgs.py [--repeats 7] [--threads 1] [--quick]
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np


def problems():
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    yield "digits 64-50-10", X / 16.0, y, (50,)
    X, y = load_breast_cancer(return_X_y=True)
    yield "breast cancer 30-30-1", StandardScaler().fit_transform(X), y, (30,)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-iter", type=int, default=200)
    p.add_argument("--quick", action="store_true", help="2 repeats, max_iter 20: a smoke run")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.max_iter = 2, 20

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier
    from threadpoolctl import threadpool_limits

    import cmlp

    print(f"cmlp {cmlp.__version__} (kernels {cmlp._core.get_isa()}, BLAS "
          f"{'on' if cmlp._core.get_blas() else 'off'}) vs scikit-learn; {os.cpu_count()} "
          f"CPUs, {args.threads} thread(s) each; {args.repeats} interleaved repeats; "
          f"max_iter={args.max_iter}")
    ok = True
    for name, X, y, hidden in problems():
        settings = dict(hidden_layer_sizes=hidden, solver="lbfgs", max_iter=args.max_iter,
                        random_state=0, alpha=1e-4, tol=1e-4)
        makers = {
            "scikit-learn": lambda: SkMLPClassifier(**settings),
            "cmlp": lambda: cmlp.MLPClassifier(**settings, n_threads=args.threads),
        }
        times = {k: [] for k in makers}
        fitted = {}
        with threadpool_limits(limits=args.threads, user_api="blas"), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for k, make in makers.items():  # warm-up (imports, first-touch), untimed
                make().fit(X, y)
            for _ in range(args.repeats):
                for k, make in makers.items():
                    est = make()
                    t0 = time.perf_counter()
                    est.fit(X, y)
                    times[k].append(time.perf_counter() - t0)
                    fitted[k] = est
        sk, cm = fitted["scikit-learn"], fitted["cmlp"]
        rel = abs(cm.loss_ - sk.loss_) / abs(sk.loss_)
        med = {k: float(np.median(v)) for k, v in times.items()}
        best = {k: float(np.min(v)) for k, v in times.items()}
        print(f"\n{name}: {X.shape[0]} rows")
        print(f"  {'':14s} {'loss_':>14s} {'n_iter_':>8s} {'median s':>10s} {'best s':>10s}")
        for k, est in fitted.items():
            print(f"  {k:14s} {est.loss_:14.8g} {est.n_iter_:8d} {med[k]:10.4f} "
                  f"{best[k]:10.4f}")
        print(f"  relative loss difference {rel:.2e} (limit 1e-2: "
              f"{'ok' if rel <= 1e-2 else 'FAILED'})")
        print(f"  scikit-learn time / cmlp time: median {med['scikit-learn'] / med['cmlp']:.2f}x,"
              f" best {best['scikit-learn'] / best['cmlp']:.2f}x")
        ok &= rel <= 1e-2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
