"""Training on a sparse X (scipy.sparse CSR) against the same rows dense.

MNIST rows / 255 (about 81% zeros) as a dense float array and as a ``csr_matrix`` of the
same values. Timed cases, each one ``fit`` epoch from the same initial weights (the
end-of-epoch cost pass over the training rows included), dense and CSR taking turns within
each repeat:

- minibatch: 784-500-200-10 ReLU/softmax cross-entropy, He init, float32, batch 64, SGD
  lr 0.05, shuffled (bench_training's minibatch case), ``n_threads=1`` and ``n_threads=2``;
- per-sample: the notes' network, 784-500-200-10 sigmoid/TSE, float64, lr 0.3, rows in file
  order, ``batch_size=1``.

Prints microseconds per training sample (median and best of ``--repeats``) and the ratio
dense time / CSR time (above 1: CSR is faster), in wall time and in CPU time of this process
(``time.process_time``: on a shared machine, the time the other jobs take the cores from us
is not counted; with two threads it is their sum), and checks that both fits end with the
same parameters.

    python benchmarks/bench_sparse.py [--rows 6016] [--sample-rows 2000] [--repeats 5]

The machine is often shared: compare the ratios printed by one run.
"""
import argparse
import os
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"  # as bench_training: no idle BLAS threads competing for the cores

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

import cmlp  # noqa: E402
from bench_training import load_rows  # noqa: E402  (this folder: the same MNIST rows)



def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=6016, help="rows of the minibatch cases")
    p.add_argument("--sample-rows", type=int, default=2000, help="rows of the per-sample case")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)

    X8, y, source = load_rows(max(args.rows, args.sample_rows))
    X32 = (X8[:args.rows] / 255.0).astype(np.float32)
    X64 = X8[:args.sample_rows] / 255.0
    y32, y64 = y[:args.rows], y[:args.sample_rows]
    data = {"float32": (X32, sp.csr_matrix(X32), y32), "float64": (X64, sp.csr_matrix(X64), y64)}
    density = data["float32"][1].nnz / X32.size
    print(f"{X32.shape[0]} / {X64.shape[0]} rows from {source}, {density:.1%} nonzero; "
          f"kernels: {cmlp._core.get_isa()}, BLAS: {cmlp._core.get_blas()}; "
          f"{os.cpu_count()} CPUs")

    relu = cmlp.Network([784, 500, 200, 10], activation="relu", loss="cross_entropy",
                        init="he", dtype="float32", seed=0)
    notes = cmlp.Network([784, 500, 200, 10], dtype="float64", seed=0)
    cases = []
    for nt in (1, 2):
        cases.append((f"batch 64 relu/softmax f32, sgd, n_threads={nt}", relu, "float32",
                      dict(lr=0.05, batch_size=64, n_threads=nt)))
    cases.append(("per-sample notes sigmoid/TSE f64 (batch 1)", notes, "float64",
                  dict(lr=0.3, batch_size=1, shuffle=False)))

    times = {(name, kind): [] for name, *_ in cases for kind in ("dense", "csr")}
    cpu = {key: [] for key in times}
    same = {name: True for name, *_ in cases}
    for r in range(args.repeats):
        for name, base, dt, kw in cases:
            X, S, yy = data[dt]
            params = {}
            for kind, M in (("dense", X), ("csr", S)) if r % 2 == 0 else (("csr", S),
                                                                           ("dense", X)):
                net = base.copy()
                t0, c0 = time.perf_counter(), time.process_time()
                net.fit(M, yy, epochs=1, seed=r, verbose=0, **kw)
                times[(name, kind)].append(1e6 * (time.perf_counter() - t0) / M.shape[0])
                cpu[(name, kind)].append(1e6 * (time.process_time() - c0) / M.shape[0])
                params[kind] = net.params
            same[name] &= bool(np.array_equal(params["dense"], params["csr"]))

    width = max(len(name) for name, *_ in cases)
    for label, table in (("wall", times), ("CPU", cpu)):
        print(f"{label + ' time':<{width}}  us/sample dense (median, best)   csr (median, best)"
              f"   dense/csr (median, best)  same params")
        for name, *_ in cases:
            d, c = table[(name, "dense")], table[(name, "csr")]
            dm, db, cm, cb = float(np.median(d)), min(d), float(np.median(c)), min(c)
            print(f"{name:<{width}}  {dm:12.1f} {db:8.1f}   {cm:14.1f} {cb:8.1f}   "
                  f"{dm / cm:14.2f}x {db / cb:6.2f}x  {'yes' if same[name] else 'NO'}")
    return same


if __name__ == "__main__":
    main()
