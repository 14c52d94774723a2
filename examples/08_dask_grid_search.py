"""The notes' eta x lambda grid search in GridSearchCV, on all local cores or a Dask cluster.

``hjorth-jensen_ffnn_2024`` ("scikit-learn implementation") searches the learning rate
eta = 10^-5 ... 10^1 and the L2 strength lambda = 10^-5 ... 10^1 with
``MLPClassifier(hidden_layer_sizes=(50,), activation="logistic", alpha=lmbd,
learning_rate_init=eta, max_iter=100)`` (scikit-learn's default solver, Adam) on
scikit-learn's 8x8 digits (pixels / 16; 80% training, 20% test). Here ``cmlp.MLPClassifier``
takes scikit-learn's place unchanged, and the search is scikit-learn's ``GridSearchCV``:
3-fold cross-validation on the training rows, then the best setting refitted on all of them
(in this process) and scored on the test rows. cmlp brings no parallel engine of its own:
joblib runs the fits, and the same code runs

- locally on worker processes (default; joblib's ``loky`` backend, one per usable CPU), or on
  threads (``--backend threading``: cmlp's training releases the GIL);
- on a Dask cluster (``--scheduler tcp://host:8786``; ``pip install "cmlp[dask]"``): joblib's
  ``dask`` backend sends each fit to a worker. The estimator and the data are pickled to the
  workers, which need the same versions of cmlp and scikit-learn installed;
- on a ``dask.distributed.LocalCluster`` with N worker processes started here
  (``--local-cluster N``): a rehearsal of the cluster run on one machine.

Each network trains on one thread (``n_threads=1``): the parallelism is one fit per core.
Every fit is seeded (``random_state``), so the scores, and the best setting, are the same
bit for bit whichever way the fits are run. A setting whose training diverges would fail
with scikit-learn's "non-finite parameter weights" error and score NaN (shown as -); with
Adam and logistic units, none of the notes' grid does here.

    python examples/08_dask_grid_search.py                        # 4 x 4 grid, local processes
    python examples/08_dask_grid_search.py --full                 # the notes' 7 x 7 grid
    python examples/08_dask_grid_search.py --local-cluster 2      # a 2-worker LocalCluster
    python examples/08_dask_grid_search.py --scheduler tcp://scheduler:8786

Other options: ``--backend threading``, ``--jobs N``, ``--etas``/``--lambdas`` (values to
search), ``--max-iter``, ``--cv``, ``--seed``, ``--out DIR`` (a heatmap, needs matplotlib),
``--quick`` (a 2 x 2 grid, 10 epochs, 2 folds: a smoke test).
"""
import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np

try:
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
    from sklearn.model_selection import GridSearchCV, train_test_split
except ImportError:
    raise SystemExit("this example needs scikit-learn: pip install 'cmlp[sklearn]'") from None

import cmlp

# the notes' grid: 10^-5 ... 10^1 for both; by default every other power of ten
FULL_GRID = np.logspace(-5, 1, 7)
DEFAULT_GRID = np.logspace(-5, 1, 4)
QUICK_ETAS, QUICK_LMBDS = [1e-2, 1e-1], [1e-4, 1e-1]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="address of a running Dask scheduler, e.g. tcp://host:8786")
    where.add_argument("--local-cluster", metavar="N", type=int, default=None,
                       help="start a dask.distributed.LocalCluster with N worker processes")
    parser.add_argument("--backend", choices=("loky", "threading"), default="loky",
                        help="joblib backend of a local run (default: loky, processes)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="parallel fits of a local run (default: the usable CPUs)")
    parser.add_argument("--full", action="store_true",
                        help="the notes' whole 7 x 7 grid (default: 4 x 4, every other power)")
    parser.add_argument("--quick", action="store_true",
                        help="a 2 x 2 grid, 10 epochs, 2 folds: a smoke test")
    parser.add_argument("--etas", type=float, nargs="+", default=None,
                        help="learning rates to search (overrides the grid's)")
    parser.add_argument("--lambdas", type=float, nargs="+", default=None,
                        help="L2 strengths to search (overrides the grid's)")
    parser.add_argument("--max-iter", type=int, default=None,
                        help="epochs per fit (default: the notes' 100; 10 with --quick)")
    parser.add_argument("--cv", type=int, default=None,
                        help="cross-validation folds (default 3; 2 with --quick)")
    parser.add_argument("--seed", type=int, default=0,
                        help="the train/test split and every network's random_state")
    parser.add_argument("--out", type=Path, default=None,
                        help="write the heatmap cv_accuracy.png here (needs matplotlib)")
    return parser.parse_args(argv)


def plot_heatmap(out, cv_scores, etas, lmbds):
    """Write out/cv_accuracy.png, the mean cross-validation accuracy over the grid."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("--out needs matplotlib: pip install 'cmlp[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cmlp.plot import plot_grid_search

    out.mkdir(parents=True, exist_ok=True)
    fig = plot_grid_search(cv_scores, etas, lmbds, figsize=(8, 6),
                           label="mean cross-validation accuracy", fmt=".2f")
    fig.axes[0].set_ylabel("η (learning_rate_init)")
    path = out / "cv_accuracy.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def dask_client(args):
    """A dask.distributed Client (and the LocalCluster it owns, or None) for the arguments."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SystemExit("--scheduler and --local-cluster need dask.distributed: "
                         "pip install 'cmlp[dask]'") from None
    if args.scheduler is not None:
        return Client(args.scheduler), None
    cluster = LocalCluster(n_workers=args.local_cluster, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    return Client(cluster), cluster


def search(args, estimator, grid, X, y, cv):
    """GridSearchCV(estimator, grid) fitted to X, y on the backend the arguments choose.

    Returns the fitted search, where it ran, the wall time of the search itself (for a local
    run this includes starting joblib's worker processes, which happens on first use) and the
    time taken to start the LocalCluster or connect to the scheduler.
    """
    # n_jobs=None: as many parallel fits as the joblib backend in effect allows
    gs = GridSearchCV(estimator, grid, cv=cv, n_jobs=None, error_score=np.nan)
    if args.scheduler is None and args.local_cluster is None:
        jobs = args.jobs or usable_cpus()
        t_start = time.perf_counter()
        with joblib.parallel_backend(args.backend, n_jobs=jobs):
            gs.fit(X, y)
        seconds = time.perf_counter() - t_start
        if jobs == 1:  # joblib then runs the fits here, one after the other
            return gs, "this process, one fit after the other", seconds, 0.0
        unit = "worker processes" if args.backend == "loky" else "threads"
        return gs, f"joblib {args.backend}, {jobs} {unit}", seconds, 0.0
    t_start = time.perf_counter()
    client, cluster = dask_client(args)
    try:
        setup_seconds = time.perf_counter() - t_start
        workers = len(client.nthreads())
        t_start = time.perf_counter()
        with joblib.parallel_backend("dask"):
            gs.fit(X, y)
        seconds = time.perf_counter() - t_start
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if cluster is not None:
        where = f"a Dask LocalCluster of {workers} worker process(es)"
    else:
        where = f"the Dask scheduler {args.scheduler}, {workers} worker(s)"
    return gs, where, seconds, setup_seconds


def print_table(title, values, etas, lmbds):
    print(title + " (rows: eta, columns: lambda; -: diverged)")
    print("   eta \\ lambda " + "".join(f"{v:>8.0e}" for v in lmbds))
    for eta, row in zip(etas, values):
        cells = "".join(f"{v:>8.3f}" if np.isfinite(v) else "    -   " for v in row)
        print(f"   {eta:>12.0e} {cells}")


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        etas, lmbds, max_iter, cv = QUICK_ETAS, QUICK_LMBDS, 10, 2
    elif args.full:
        etas, lmbds, max_iter, cv = FULL_GRID, FULL_GRID, 100, 3
    else:
        etas, lmbds, max_iter, cv = DEFAULT_GRID, DEFAULT_GRID, 100, 3
    etas = [float(v) for v in (args.etas or etas)]
    lmbds = [float(v) for v in (args.lambdas or lmbds)]
    max_iter = args.max_iter or max_iter
    cv = args.cv or cv

    digits = load_digits()
    X = digits.data / 16.0
    X_train, X_test, y_train, y_test = train_test_split(X, digits.target, test_size=0.2,
                                                        random_state=args.seed)
    estimator = cmlp.MLPClassifier(hidden_layer_sizes=(50,), activation="logistic",
                                   max_iter=max_iter, random_state=args.seed, n_threads=1)
    grid = {"learning_rate_init": etas, "alpha": lmbds}
    print(f"8x8 digits: {len(X_train)} training and {len(X_test)} test rows; "
          f"cmlp.MLPClassifier 64-50-10, logistic, adam, {max_iter} epochs; "
          f"{len(etas)} x {len(lmbds)} grid, {cv}-fold cross-validation "
          f"({len(etas) * len(lmbds) * cv} fits)")

    with warnings.catch_warnings():
        # scikit-learn hands these filters to the workers, local or Dask: the notes' 100
        # epochs do not always converge, and diverging settings score NaN by design
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FitFailedWarning)
        warnings.filterwarnings("ignore", message="One or more of the test scores are non-finite")
        gs, where, seconds, setup_seconds = search(args, estimator, grid, X_train, y_train, cv)

    # mean cross-validation accuracy of each (eta, lambda), looked up by parameter values
    score = {(c["learning_rate_init"], c["alpha"]): v
             for c, v in zip(gs.cv_results_["params"], gs.cv_results_["mean_test_score"])}
    cv_scores = np.array([[score[eta, lmbd] for lmbd in lmbds] for eta in etas])
    best = gs.best_params_
    test_accuracy = float(gs.score(X_test, y_test))
    print()
    print_table("mean cross-validation accuracy", cv_scores, etas, lmbds)
    print()
    print(f"best: eta = {best['learning_rate_init']:g}, lambda = {best['alpha']:g}, "
          f"cross-validation accuracy {gs.best_score_:.4f}, test accuracy {test_accuracy:.4f}")
    setup = f" (+ {setup_seconds:.1f} s to start or reach it)" if setup_seconds else ""
    print(f"grid search on {where}: {seconds:.1f} s wall time{setup}")
    results = dict(etas=etas, lmbds=lmbds, cv_scores=cv_scores, best_params=best,
                   best_score=float(gs.best_score_), test_accuracy=test_accuracy,
                   seconds=seconds, setup_seconds=setup_seconds, where=where,
                   max_iter=max_iter, cv=cv,
                   mean_test_score=np.asarray(gs.cv_results_["mean_test_score"]))
    if args.out is not None:
        results["plots"] = [plot_heatmap(args.out, cv_scores, etas, lmbds)]
        print(f"wrote {results['plots'][0]}")
    return results


if __name__ == "__main__":
    main()
