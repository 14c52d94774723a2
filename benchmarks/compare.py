"""Time cmlp against its peers on the same MNIST rows from the same initial weights.

Usage::

    python benchmarks/compare.py                  # full run: 2,000 rows, 1 and 2 threads
    python benchmarks/compare.py --quick          # smoke run, well under a minute
    python benchmarks/compare.py --peers numpy --threads 1 --cases A/1,A/64

Network 784-500-200-10. Recipes (see ``benchmarks/peers.py``): ``A`` the notes (sigmoid,
TSE, plain SGD, lr 0.3, rows in file order); ``Bsgd`` ReLU + softmax + cross-entropy,
shuffled each epoch, plain SGD; ``B`` the same with momentum 0.9. A case is
``RECIPE/BATCH``. Every epoch timed includes the end-of-epoch whole-set cost pass, for
every implementation (that is what ``cmlp.Network.fit`` does). Figures are microseconds
per training sample (per row for inference): the median of ``--repeats`` epochs after one
warm-up epoch. Implementations take turns, and each timed run starts after ``--settle``
seconds of rest: a library's worker threads keep spinning for a while after its last
call (OpenBLAS's for about 0.1 s), and on a 2-core machine they would otherwise slow
whichever implementation runs next on two threads (measured: cmlp's two-thread epoch right
after a threaded NumPy matmul took 1.6x as long).

Thread counts (OpenBLAS, OpenMP, MKL, XLA) are fixed when a library is imported, so each
thread setting runs in its own worker process with the environment set before any
import; inside a worker every implementation runs in that one process, on the same rows,
from the same initial parameters. On Linux a worker with fewer threads than the CPUs this
process may use is also held to that many CPUs: the environment alone does not hold every
library to it (JAX's CPU client, with ``--xla_cpu_multi_thread_eigen=false``, still used
1.8 CPUs for a jit-compiled forward pass, and ran it 1.7x as fast as held to one CPU).
Before timing, a correctness guard trains one float64 epoch on a few rows with every implementation and compares the parameter updates with
cmlp's (or, where cmlp cannot run the recipe, with the NumPy implementation's); the
script exits with status 1 if any deviation exceeds ``--guard-tol``.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE.parent.parent / "shared" / "data" / "mnist"
LAYERS = (784, 500, 200, 10)
DEFAULT_CASES = "A/1,A/64,Bsgd/1,Bsgd/64,B/64"
ALL_PEERS = ("numpy", "torch", "jax", "sklearn")


def thread_env(n):
    """Environment for a worker with ``n`` threads in every threading layer."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[var] = str(n)
    xla = f"--xla_cpu_multi_thread_eigen={'false' if n == 1 else 'true'}"
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + xla).strip()
    env["PYTHONUNBUFFERED"] = "1"
    return env


def worker_cpus(n):
    """The CPUs a worker with ``n`` threads is held to: the first ``n`` this process may
    use, when that is fewer than all of them (Linux); None otherwise (no pinning)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[:n] if n < len(cpus) else None


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=None,
                    help="training rows (default 2000; --quick: 128)")
    ap.add_argument("--slow-rows", type=int, default=None,
                    help="rows for the slow per-sample loops: the notes' literal loop and "
                         "scikit-learn at batch 1 (default 200; --quick: 16)")
    ap.add_argument("--test-rows", type=int, default=None,
                    help="rows for the inference timing (default 10000; --quick: 500)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed epochs per cell after one warm-up (default 3; --quick: 1)")
    ap.add_argument("--threads", default=None, help="comma list (default '1,2'; --quick: '1')")
    ap.add_argument("--dtypes", default="float64,float32", help="comma list")
    ap.add_argument("--cases", default=DEFAULT_CASES,
                    help=f"comma list of RECIPE/BATCH (default {DEFAULT_CASES})")
    ap.add_argument("--peers", default="all",
                    help="comma list of numpy,torch,jax,sklearn, or 'all' or 'none' "
                         "(cmlp always runs)")
    ap.add_argument("--no-inference", action="store_true", help="skip the inference table")
    ap.add_argument("--no-guard", action="store_true", help="skip the correctness guard")
    ap.add_argument("--guard-tol", type=float, default=1e-9,
                    help="largest relative deviation of a float64 update (default 1e-9)")
    ap.add_argument("--settle", type=float, default=None,
                    help="seconds of rest before each timed epoch or inference call (default "
                         "0.2; --quick: 0), so that threads another library left spinning "
                         "(OpenBLAS's spin ~0.1 s after a threaded call) have gone to sleep")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-csv", default=str(DATA_DIR / "mnist_train.csv.gz"))
    ap.add_argument("--test-csv", default=str(DATA_DIR / "mnist_test.csv.gz"))
    ap.add_argument("--json", default=str(HERE / "results.json"),
                    help="where to write the results (default benchmarks/results.json)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: few rows, one repeat, one thread")
    ap.add_argument("--_worker", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_out", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_guard", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    q = args.quick
    defaults = {"rows": (2000, 128), "slow_rows": (200, 16), "test_rows": (10000, 500),
                "repeats": (3, 1), "threads": ("1,2", "1"), "settle": (0.2, 0.0)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if q else full)
    for name in ("rows", "slow_rows", "test_rows", "repeats"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    try:
        args.thread_list = [int(t) for t in args.threads.split(",") if t.strip()]
    except ValueError:
        ap.error(f"--threads must be a comma list of integers, got {args.threads!r}")
    if not args.thread_list or min(args.thread_list) < 1:
        ap.error(f"--threads must list positive integers, got {args.threads!r}")
    args.dtype_list = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    for d in args.dtype_list:
        if d not in ("float32", "float64"):
            ap.error(f"--dtypes: expected float32 and/or float64, got {d!r}")
    args.case_list = []
    for c in args.cases.split(","):
        c = c.strip()
        if not c:
            continue
        recipe, _, batch = c.partition("/")
        if recipe not in ("A", "Bsgd", "B") or not batch.isdigit() or int(batch) < 1:
            ap.error(f"--cases: expected RECIPE/BATCH with RECIPE in A, Bsgd, B, got {c!r}")
        args.case_list.append((recipe, int(batch)))
    peers = args.peers.strip().lower()
    if peers == "all":
        args.peer_list = list(ALL_PEERS)
    elif peers in ("none", ""):
        args.peer_list = []
    else:
        args.peer_list = [p.strip() for p in peers.split(",") if p.strip()]
        for p in args.peer_list:
            if p not in ALL_PEERS:
                ap.error(f"--peers: unknown peer {p!r}; expected some of {', '.join(ALL_PEERS)}")
    return args


# =========================================================================== worker


def load_rows(path, n_rows, which):
    """(X uint8 (N, 784), labels int64 (N,)): the CSV if present, else the packaged sample."""
    try:
        from cmlp import datasets
    except ImportError:
        datasets = None
    p = Path(path)
    if p.exists():
        if datasets is not None and hasattr(datasets, "load_mnist_csv"):
            X, y = datasets.load_mnist_csv(p, n_rows=n_rows, scale=False)
        else:
            X, y = _parse_csv(p, n_rows)
        return X, y, str(p)
    if datasets is None or not hasattr(datasets, "load_mnist_sample"):
        raise SystemExit(f"{p} not found and cmlp.datasets.load_mnist_sample is unavailable")
    Xtr, ytr, Xte, yte = datasets.load_mnist_sample(scale=False)
    X, y = (Xtr, ytr) if which == "train" else (Xte, yte)
    if X.shape[0] < n_rows:
        print(f"note: {p} not found; the packaged sample has only {X.shape[0]} {which} rows")
    return X[:n_rows], y[:n_rows], f"cmlp.datasets.load_mnist_sample(scale=False) ({which})"


def _parse_csv(path, n_rows):
    """Small fallback parser: ``label,p1,...,p784`` lines, optionally gzip-compressed."""
    import gzip

    import numpy as np
    with open(path, "rb") as fh:
        opener = gzip.open if fh.read(2) == b"\x1f\x8b" else open
    rows = []
    with opener(path, "rt") as fh:
        for line in fh:
            if line.strip():
                rows.append(np.array(line.split(","), dtype=np.int64))
                if len(rows) == n_rows:
                    break
    a = np.array(rows)
    return a[:, 1:].astype(np.uint8), a[:, 0]


def versions(groups):
    """Versions of Python, NumPy, cmlp and the peers that were asked for (not imported
    otherwise: importing PyTorch or JAX changes the process's threading)."""
    out = {"python": platform.python_version()}
    wanted = {"torch": "torch", "jax": "jax", "jaxlib": "jax", "sklearn": "sklearn"}
    for mod in ("numpy", "cmlp", "torch", "jax", "jaxlib", "sklearn"):
        if mod in wanted and wanted[mod] not in groups:
            continue
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "?")
        except ImportError:
            pass
    try:
        from threadpoolctl import threadpool_info
        out["threadpools"] = [{k: d.get(k) for k in ("internal_api", "version",
                                                       "num_threads", "filepath")}
                              for d in threadpool_info()]
    except ImportError:
        pass
    return out


def rel_update_deviation(init, ref, got):
    """max over tensors of max|(got - init) - (ref - init)| / max|ref - init|."""
    import numpy as np
    worst = 0.0
    for p0, r, g in zip(init, ref, got):
        d_ref = np.asarray(r, np.float64) - p0
        d_got = np.asarray(g, np.float64) - p0
        scale = np.abs(d_ref).max()
        diff = np.abs(d_got - d_ref).max()
        if scale == 0:
            dev = 0.0 if diff == 0 else float("inf")
        else:
            dev = diff / scale
        worst = max(worst, float(dev))
    return worst


def run_guard(args, impls, Xall, Tall, labels_all):
    """One float64 epoch on a few rows, shuffling off; returns a list of records."""
    import dataclasses

    import numpy as np
    import peers as P
    dtype = np.dtype(np.float64)
    out = []
    print("correctness guard: one float64 epoch from identical weights, shuffling off; "
          "deviation = max |update - reference update| / max |reference update|")
    for recipe, batch in args.case_list:
        case = dataclasses.replace(P.make_case(recipe, batch), shuffle=False)
        n = 5 if batch == 1 else 2 * batch + 5
        n = min(n, Xall.shape[0])
        X = np.ascontiguousarray(Xall[:n], dtype)
        T = np.ascontiguousarray(Tall[:n], dtype)
        lab = labels_all[:n]
        params0 = P.initial_params(LAYERS, recipe, args.seed, dtype)
        results = {}
        for impl in impls:
            if impl.supports(case, dtype) is not None:
                continue
            try:
                impl.setup(case, dtype, params0, X, T, lab, args.seed)
                impl.run_epochs(1)
                results[impl.name] = impl.get_params()
            except Exception as exc:  # noqa: BLE001 (reported, not hidden)
                out.append({"case": case.key, "impl": impl.name, "ref": None,
                            "deviation": None, "ok": False, "error": repr(exc)})
                print(f"  {case.key:8s} {impl.name:32s} ERROR {exc!r}")
        if not results:
            continue
        ref = next((i.name for i in impls if i.name in results and i.group == "cmlp"), None) \
            or next((i.name for i in impls if i.name in results and i.group == "numpy"), None) \
            or next(iter(results))
        for name, got in results.items():
            if name == ref:
                continue
            dev = rel_update_deviation(params0, results[ref], got)
            ok = dev <= args.guard_tol
            out.append({"case": case.key, "impl": name, "ref": ref, "rows": n,
                        "deviation": dev, "ok": ok})
            print(f"  {case.key:8s} {name:32s} vs {ref:24s} {dev:9.2e} "
                  f"{'ok' if ok else 'FAILED'}")
    devs = [g["deviation"] for g in out if g["deviation"] is not None]
    if devs:
        print(f"guard: max deviation {max(devs):.2e} over {len(devs)} comparisons "
              f"(tolerance {args.guard_tol:g})")
    return out


def _failed(rec, exc, dname, threads, case, impl):
    rec.update(status="error", note=repr(exc)[:300])
    print(f"  {dname} {threads}T {case.key:8s} {impl.name:32s} ERROR {exc!r}")


def worker(args):
    """One thread setting: every implementation × case × dtype in this process."""
    import numpy as np
    sys.path.insert(0, str(HERE))
    import peers as P

    T_ = args._worker
    n_load = max(args.rows, args.slow_rows)
    X8, labels, train_src = load_rows(args.train_csv, n_load, "train")
    impls, notes = P.available(args.peer_list, T_)
    for n in notes:
        print("note:", n)
    onehot = np.eye(LAYERS[-1])[labels]                      # float64 (N, 10)
    X64 = X8 / 255.0                                         # the notes' scaling, float64
    result = {"threads": T_, "records": [], "inference": [], "guard": [], "notes": notes,
              "train_source": train_src, "rows_loaded": int(X8.shape[0]),
              "versions": versions(args.peer_list),
              "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                     "MKL_NUM_THREADS", "XLA_FLAGS")},
              "cpus": (sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                       else None)}
    cmlp_impl = next(i for i in impls if i.group == "cmlp")
    if args._guard:
        result["guard"] = run_guard(args, impls, X64, onehot, labels)

    for dname in args.dtype_list:
        dtype = np.dtype(dname)
        X_all = np.ascontiguousarray(X64, dtype)
        T_all = np.ascontiguousarray(onehot, dtype)
        for recipe, batch in args.case_list:
            case = P.make_case(recipe, batch)
            params0 = P.initial_params(LAYERS, recipe, args.seed, dtype)
            # set every implementation up and warm it up, then time the epochs round-robin
            # (one epoch of each in turn), so that load from other processes on a shared
            # machine falls on all of them alike and the ratios stay meaningful
            live = []
            for impl in impls:
                rec = {"impl": impl.name, "group": impl.group, "case": case.key,
                       "recipe": recipe, "batch": batch, "dtype": dname, "threads": T_}
                result["records"].append(rec)
                reason = impl.supports(case, dtype)
                if reason is not None:
                    rec.update(status="n/a", note=reason)
                    continue
                n = min(impl.rows_for(case, args.rows, args.slow_rows), X_all.shape[0])
                rec.update(rows=n, seconds=[])
                try:
                    impl.compile_seconds = None
                    impl.setup(case, dtype, params0, X_all[:n], T_all[:n], labels[:n], args.seed)
                    impl.run_epochs(1)                        # warm-up
                except Exception as exc:  # noqa: BLE001 (recorded as 'error')
                    _failed(rec, exc, dname, T_, case, impl)
                    continue
                rec["compile_seconds"] = impl.compile_seconds
                live.append((impl, rec))
            overhead = []
            for _ in range(args.repeats):
                for impl, rec in live:
                    if rec.get("status") == "error":
                        continue
                    time.sleep(args.settle)
                    try:
                        rec["seconds"] += impl.run_epochs(1)
                    except Exception as exc:  # noqa: BLE001 (recorded as 'error')
                        _failed(rec, exc, dname, T_, case, impl)
                        continue
                    if impl is cmlp_impl:
                        overhead.append(impl.fit_overhead)
            for impl, rec in live:
                if rec.get("status") == "error":
                    continue
                times, n = rec["seconds"], rec["rows"]
                med = statistics.median(times)
                rec.update(status="ok", us_per_sample=med / n * 1e6,
                           us_per_sample_min=min(times) / n * 1e6,
                           spread=(max(times) - min(times)) / med if med > 0 else 0.0,
                           last_cost=getattr(impl, "last_cost", None))
                if impl is cmlp_impl and overhead:
                    rec["fit_call_overhead_s"] = statistics.median(overhead)
                extra = (f"  (compile {impl.compile_seconds:.2f} s)"
                         if impl.compile_seconds else "")
                print(f"  {dname} {T_}T {case.key:8s} {impl.name:32s} "
                      f"{rec['us_per_sample']:10.1f} us/sample on {n} rows{extra}")

        if args.no_inference:
            continue
        Xt8, _, test_src = load_rows(args.test_csv, args.test_rows, "test")
        result["test_source"] = test_src
        Xt = np.ascontiguousarray(Xt8 / 255.0, dtype)
        caseA = P.make_case("A", 1)
        params0 = P.initial_params(LAYERS, "A", args.seed, dtype)
        live = []
        for impl in impls:
            rec = {"impl": impl.name, "group": impl.group, "dtype": dname, "threads": T_,
                   "rows": int(Xt.shape[0])}
            try:
                fwd = impl.make_forward(caseA, dtype, params0, Xt)
                if fwd is None:
                    continue
                t0 = time.perf_counter()
                fwd()                                         # warm-up (JAX: compiles)
                rec.update(first_call_s=time.perf_counter() - t0, seconds=[])
            except Exception as exc:  # noqa: BLE001 (recorded as 'error')
                rec.update(status="error", note=repr(exc)[:300])
                result["inference"].append(rec)
                continue
            live.append((fwd, rec))
        for _ in range(max(args.repeats, 3)):                 # round-robin, as above
            for fwd, rec in live:
                time.sleep(args.settle)
                t0 = time.perf_counter()
                fwd()
                rec["seconds"].append(time.perf_counter() - t0)
        for fwd, rec in live:
            med = statistics.median(rec["seconds"])
            rec.update(status="ok", us_per_row=med / Xt.shape[0] * 1e6)
            result["inference"].append(rec)
            print(f"  {dname} {T_}T forward {rec['impl']:32s} {rec['us_per_row']:8.2f} us/row")
    Path(args._out).write_text(json.dumps(result))
    return 0


# =========================================================================== parent


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            lines = fh.readlines()
        model = next((ln.split(":", 1)[1].strip() for ln in lines
                      if ln.startswith("model name")), "?")
        flags = next((ln for ln in lines if ln.startswith("flags")), "")
        isa = [f for f in ("avx2", "fma", "avx512f") if f in flags.split()]
    except OSError:
        isa = []
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu": model, "logical_cpus": os.cpu_count(), "usable_cpus": usable,
            "isa": isa, "platform": platform.platform(),
            "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def fmt_cell(rec, ref, main_rows):
    """'123.4 (2.50x)': us per sample (or per row) and the ratio to cmlp's cell."""
    if rec is None:
        return "-"
    if rec["status"] != "ok":
        return rec["status"]
    key = "us_per_sample" if "us_per_sample" in rec else "us_per_row"
    us = rec[key]
    s = f"{us:,.1f}" if us < 1000 else f"{us:,.0f}"
    if main_rows is not None and rec.get("rows", main_rows) < main_rows:
        s += "†"
    if ref is not None and ref["status"] == "ok" and rec is not ref:
        s += f" ({us / ref[key]:.2f}x)"
    return s


def print_tables(results, args):
    recs = [r for res in results for r in res["records"]]
    cols = [(d, t) for d in args.dtype_list for t in args.thread_list]
    col_names = [f"{'f64' if d == 'float64' else 'f32'} {t}T" for d, t in cols]
    import peers as P
    order = []
    for r in recs:
        if r["impl"] not in order:
            order.append(r["impl"])
    width = max([len(n) for n in order] + [30])
    footnotes = {}
    for recipe, batch in args.case_list:
        case = P.make_case(recipe, batch)
        print()
        print(f"{case.key}: {case.describe()}")
        print("  " + "implementation".ljust(width) + "".join(c.rjust(22) for c in col_names))
        for name in order:
            cells = []
            for d, t in cols:
                rec = next((r for r in recs if r["impl"] == name and r["case"] == case.key
                            and r["dtype"] == d and r["threads"] == t), None)
                ref = next((r for r in recs if r["group"] == "cmlp" and r["case"] == case.key
                            and r["dtype"] == d and r["threads"] == t), None)
                if rec is not None and rec["status"] != "ok" and rec["group"] == "cmlp":
                    cells.append(rec["note"])         # e.g. "n/a (not implemented)"
                    continue
                if rec is not None and rec["status"] != "ok":
                    footnotes.setdefault(rec["note"], set()).add(name)
                cells.append(fmt_cell(rec, ref, args.rows))
            if all(c in ("-", "n/a") for c in cells) and name != "cmlp":
                continue
            print("  " + name.ljust(width) + "".join(c.rjust(22) for c in cells))
    inf = [r for res in results for r in res["inference"]]
    if inf:
        rows = inf[0]["rows"]
        print()
        print(f"inference: forward over {rows:,} test rows (recipe A network), us per row")
        print("  " + "implementation".ljust(width) + "".join(c.rjust(22) for c in col_names))
        names = []
        for r in inf:
            if r["impl"] not in names:
                names.append(r["impl"])
        for name in names:
            cells = []
            for d, t in cols:
                rec = next((r for r in inf if r["impl"] == name and r["dtype"] == d
                            and r["threads"] == t), None)
                ref = next((r for r in inf if r["group"] == "cmlp" and r["dtype"] == d
                            and r["threads"] == t), None)
                cells.append(fmt_cell(rec, ref, None))
            label = "NumPy X @ W chain" if name.startswith("NumPy per-sample") else name
            print("  " + label.ljust(width) + "".join(c.rjust(22) for c in cells))
    print()
    print("us per training sample: median of the timed epochs / rows; every epoch includes the")
    print("end-of-epoch whole-set cost pass. (r.rrx) = implementation / cmlp in the same run")
    print(f"and cell: above 1 means cmlp is faster. †: measured on --slow-rows={args.slow_rows} "
          f"rows, not {args.rows}.")
    for note, names in footnotes.items():
        print(f"  {note}: {', '.join(sorted(names))}")
    spreads = [r["spread"] for r in recs if r["status"] == "ok" and len(r["seconds"]) > 1]
    if spreads:
        spreads.sort()
        print(f"noise: (max - min) / median over the repeats of a cell: median "
              f"{spreads[len(spreads) // 2]:.1%}, worst {spreads[-1]:.1%}")
    over = [r["fit_call_overhead_s"] for r in recs
            if r["group"] == "cmlp" and r.get("fit_call_overhead_s") is not None]
    if over:
        print(f"cmlp is timed from History.seconds (epoch + cost pass); each fit call also "
              f"cost {min(over) * 1e3:.2f}-{max(over) * 1e3:.2f} ms outside the epochs.")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args._worker is not None:
        return worker(args)

    started = datetime.datetime.now().astimezone()
    mach = machine()
    print(f"cmlp benchmark {started.isoformat(timespec='seconds')}")
    print(f"machine: {mach['cpu']}, {mach['logical_cpus']} logical CPUs "
          f"({mach['usable_cpus']} usable), {' '.join(mach['isa'])}; load average "
          f"{mach['loadavg']}")
    print(f"network {'-'.join(map(str, LAYERS))}, {args.rows} rows (slow loops {args.slow_rows}), "
          f"seed {args.seed}, {args.repeats} timed epoch(s) after 1 warm-up, "
          f"{args.settle:g} s rest before each; threads {args.thread_list}; "
          f"peers {args.peer_list or 'none'}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, n in enumerate(args.thread_list):
            out = Path(tmp) / f"worker{n}.json"
            cmd = [sys.executable, str(Path(__file__).resolve())] + \
                (sys.argv[1:] if argv is None else list(argv)) + \
                ["--_worker", str(n), "--_out", str(out)]
            if k == 0 and not args.no_guard:
                cmd.append("--_guard")
            cpus = worker_cpus(n)
            print(f"\n--- worker: {n} thread(s)" +
                  (f", held to CPU(s) {', '.join(map(str, cpus))}" if cpus else ""))
            # set in the child before it starts, so that every thread of every library
            # inherits it
            pin = None if cpus is None else (lambda c=cpus: os.sched_setaffinity(0, c))
            rc = subprocess.call(cmd, env=thread_env(n), preexec_fn=pin)
            if rc != 0 or not out.exists():
                print(f"worker for {n} thread(s) failed with status {rc}")
                return 2
            results.append(json.loads(out.read_text()))
    finished = datetime.datetime.now().astimezone()
    print_tables(results, args)
    vers = results[0]["versions"]
    print("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items() if k != "threadpools"))
    print(f"data: {results[0]['train_source']}" +
          (f"; test: {results[0]['test_source']}" if "test_source" in results[0] else ""))
    print(f"finished {finished.isoformat(timespec='seconds')} "
          f"({(finished - started).total_seconds():.0f} s); load average "
          f"{list(os.getloadavg())}")
    guard = [g for res in results for g in res["guard"]]
    failed = [g for g in guard if not g["ok"]]
    doc = {"started": started.isoformat(), "finished": finished.isoformat(), "machine": mach,
           "args": {k: v for k, v in vars(args).items() if not k.startswith("_")},
           "layers": LAYERS, "results": results, "guard_failed": failed}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=1))
        print(f"results written to {args.json}")
    if failed:
        print(f"CORRECTNESS GUARD FAILED for {len(failed)} implementation/case pair(s): "
              + "; ".join(f"{g['impl']} {g['case']} ({g.get('deviation') or g.get('error')})"
                          for g in failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
