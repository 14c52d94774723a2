"""Smoke test of ``benchmarks/compare.py``: a tiny run with cmlp and the NumPy peers only.

It checks that the harness runs end to end (worker process, correctness guard, timing,
tables, JSON), not any speed.
"""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

COMPARE = Path(__file__).resolve().parents[1] / "benchmarks" / "compare.py"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    if not COMPARE.exists():
        pytest.skip(f"{COMPARE} not found")
    out = tmp_path_factory.mktemp("bench") / "results.json"
    cmd = [sys.executable, str(COMPARE), "--quick", "--peers", "numpy", "--rows", "64",
           "--slow-rows", "8", "--test-rows", "200", "--cases", "A/1,A/64,B/64",
           "--json", str(out)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    return proc, out


def test_quick_run_exits_zero(quick_run):
    proc, _ = quick_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_quick_run_prints_tables(quick_run):
    proc, _ = quick_run
    text = proc.stdout
    assert "A/b1: recipe A" in text
    assert "inference: forward over 200 test rows" in text
    # cmlp's row in the batch-1 table holds a number, and the notes' literal loop a ratio
    table = text[text.index("A/b1: recipe A"):]
    assert re.search(r"^\s+cmlp(\s+[\d,]+(\.\d+)?)+\s*$", table, re.MULTILINE), table[:2000]
    assert re.search(r"^\s+notes \(NumPy, literal\)\s+[\d,.]+\u2020 \(\d+\.\d\dx\)", table, re.MULTILINE)
    # cmlp's momentum cell holds numbers, or says it is missing rather than faking it
    b = text[text.index("B/b64: recipe B"):]
    assert re.search(r"^\s+cmlp\s+n/a \(not implemented\)", b, re.MULTILINE) or \
        re.search(r"^\s+cmlp(\s+[\d,]+(\.\d+)?)+\s*$", b, re.MULTILINE)


def test_quick_run_guard_and_json(quick_run):
    proc, path = quick_run
    assert "correctness guard" in proc.stdout
    doc = json.loads(path.read_text())
    res = doc["results"][0]
    assert res["threads"] == 1
    guard = res["guard"]
    assert {g["impl"] for g in guard} >= {"notes (NumPy, literal)",
                                          "NumPy per-sample (vectorised)",
                                          "NumPy minibatch (BLAS)"}
    assert all(g["ok"] and g["deviation"] <= 1e-9 for g in guard), guard
    ok = [r for r in res["records"] if r["status"] == "ok"]
    cmlp_cells = [r for r in ok if r["impl"] == "cmlp"]
    assert {(r["case"], r["dtype"]) for r in cmlp_cells} >= {("A/b1", "float64"),
                                                              ("A/b64", "float32")}
    assert all(r["us_per_sample"] > 0 and len(r["seconds"]) == 1 for r in ok)
    assert {r["impl"] for r in res["inference"]} >= {"cmlp", "NumPy per-sample (vectorised)"}
    assert "torch" not in res["versions"]      # peers not asked for are not even imported


def test_a_one_thread_worker_is_held_to_one_cpu(quick_run):
    """Thread variables alone do not hold every library to one thread (JAX's CPU client
    used 1.8 CPUs), so the one-thread worker runs held to one CPU where it can be."""
    import os
    proc, path = quick_run
    res = json.loads(path.read_text())["results"][0]
    if not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one usable CPU, or no CPU affinity on this platform")
    assert len(res["cpus"]) == 1 and res["cpus"][0] in os.sched_getaffinity(0)
    assert f"--- worker: 1 thread(s), held to CPU(s) {res['cpus'][0]}" in proc.stdout


def test_bad_arguments_are_refused():
    if not COMPARE.exists():
        pytest.skip(f"{COMPARE} not found")
    proc = subprocess.run([sys.executable, str(COMPARE), "--peers", "tensorflow"],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "--peers: unknown peer 'tensorflow'" in proc.stderr


def test_falls_back_to_packaged_sample(tmp_path):
    if not COMPARE.exists():
        pytest.skip(f"{COMPARE} not found")
    datasets = pytest.importorskip("cmlp.datasets")
    if not hasattr(datasets, "load_mnist_sample"):
        pytest.skip("cmlp.datasets.load_mnist_sample is not available")
    missing = tmp_path / "absent.csv.gz"
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, str(COMPARE), "--quick", "--peers", "none",
                           "--rows", "32", "--test-rows", "50", "--cases", "A/1",
                           "--dtypes", "float64", "--train-csv", str(missing),
                           "--test-csv", str(missing), "--json", str(out)],
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "data: cmlp.datasets.load_mnist_sample(scale=False) (train)" in proc.stdout
    res = json.loads(out.read_text())["results"][0]
    assert res["rows_loaded"] == 32
    assert [r["status"] for r in res["records"]] == ["ok"]
    assert res["inference"][0]["rows"] == 50



def test_bench_sparse_runs_and_sparse_fits_equal_dense():
    """benchmarks/bench_sparse.py on a few rows, in a subprocess (it sets BLAS thread
    variables): it runs, and every CSR fit ends with the dense fit's parameters."""
    path = COMPARE.parent / "bench_sparse.py"
    if not path.exists():
        pytest.skip(f"{path} not found")
    pytest.importorskip("scipy")
    cmd = [sys.executable, str(path), "--rows", "96", "--sample-rows", "8", "--repeats", "1"]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if re.search(r"x\s+(yes|NO)$", line)]
    assert len(rows) == 6, proc.stdout  # 3 cases, wall and CPU time
    assert all(line.endswith("yes") for line in rows), proc.stdout


def test_bench_training_runs_with_its_host_control():
    """benchmarks/bench_training.py on a few rows, in a subprocess (it sets BLAS thread
    variables): every case is timed, the host control included, and the ratios print."""
    path = COMPARE.parent / "bench_training.py"
    if not path.exists():
        pytest.skip(f"{path} not found")
    cmd = [sys.executable, str(path), "--rows", "128", "--repeats", "2"]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    timed = re.findall(r"^(.+?)\s+(\d+\.\d) +(\d+\.\d) +(\d+\.\d) +(\d+\.\d)$", out, re.M)
    names = [name.strip() for name, *_ in timed]
    assert names == ["per-sample SGD (batch 1), lr 0.01", "batch 64, sgd, n_threads=1",
                     "batch 64, sgd, n_threads=2", "batch 64, adam, n_threads=1",
                     "batch 64, adam, n_threads=2",
                     "two sgd n_threads=1 fits at once (host control)"], out
    assert all(float(v) > 0 for _, *vals in timed for v in vals), out
    assert re.search(r"^host control: two independent fits vs one: [\d.]+x", out, re.M), out
    per_repeat = re.search(r"^per repeat, whole call: sgd team ([\d. ]+) \| host control "
                           r"([\d. ]+)$", out, re.M)
    assert per_repeat is not None, out
    assert [len(g.split()) for g in per_repeat.groups()] == [2, 2], out


def test_bench_sgd_splits_the_epoch_into_training_and_cost_pass():
    """benchmarks/bench_sgd.py on a few rows, in a subprocess (it sets BLAS thread
    variables): both implementations' epochs print with their two halves, which add up."""
    path = COMPARE.parent / "bench_sgd.py"
    if not path.exists():
        pytest.skip(f"{path} not found")
    cmd = [sys.executable, str(path), "--rows", "32", "--notes-rows", "4", "--repeats", "1"]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    rows = re.findall(r"^(cmlp Network\.fit|notes literal NumPy loop).*?\s+(\d+\.\d)\s+"
                      r"(-?\d+\.\d)\s+(\d+\.\d)$", out, re.M)
    assert [r[0] for r in rows] == ["cmlp Network.fit", "notes literal NumPy loop"], out
    for _, whole, train, cost in rows:
        assert float(cost) > 0 and abs(float(train) + float(cost) - float(whole)) <= 0.11, out
    assert re.search(r"^cmlp is \d+x faster than the notes' loop over the whole epoch \(\d+x "
                     r"in the training loop, \d+x in the cost pass\)$", out, re.M), out


def test_the_notes_loop_halves_are_the_reference_epoch_and_cost():
    """benchmarks/notes_loop.py, the baseline of bench_sgd.py: its training loop and its cost
    loop, now two functions, are the notes' per-sample SGD and TSE cost (cmlp.reference)."""
    path = COMPARE.parent / "notes_loop.py"
    if not path.exists():
        pytest.skip(f"{path} not found")
    import importlib.util

    import numpy as np

    import cmlp
    from cmlp import reference as ref
    spec = importlib.util.spec_from_file_location("notes_loop", path)
    notes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(notes)
    rng = np.random.default_rng(5)
    X = rng.random((12, 6)) * (rng.random((12, 6)) < 0.5)
    labels = rng.integers(0, 3, 12)
    T = cmlp.one_hot(labels, 3)
    net = cmlp.Network([6, 5, 4, 3], activation="sigmoid", seed=3)
    W0 = [w.copy() for w in net.weights]
    b0 = [b.reshape(-1, 1).copy() for b in net.biases]
    order = rng.permutation(12)
    W, b = [w.copy() for w in W0], [v.copy() for v in b0]
    notes.notes_sgd(W, b, X, T.T, order, 0.3)
    rW, rb = ref.sgd_epoch(W0, b0, net.activations, "tse", X, T, order, 0.3)
    for i in range(3):
        np.testing.assert_allclose(W[i], rW[i], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b[i], rb[i], rtol=1e-12, atol=1e-14)
    cost = notes.notes_cost(W, b, X, T.T, order)
    assert cost == pytest.approx(ref.total_cost(rW, rb, net.activations, "tse", X, T), rel=1e-12)
    # the cell as one: the same two halves, so the same parameters and cost, bit for bit
    W2, b2 = [w.copy() for w in W0], [v.copy() for v in b0]
    assert notes.notes_epoch(W2, b2, X, T.T, order, 0.3) == cost
    for i in range(3):
        np.testing.assert_array_equal(W2[i], W[i])
        np.testing.assert_array_equal(b2[i], b[i])
