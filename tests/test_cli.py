"""The cmlp command, driven in a subprocess as a user would (python -m cmlp ...)."""
import gzip
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import cmlp
from cmlp import persistence
from cmlp.datasets import load_mnist_csv

from conftest import mnist_file as mnist


try:  # as the command's own check does (an import, not only a spec)
    import matplotlib  # noqa: F401
    HAVE_MATPLOTLIB = True
except ImportError:
    HAVE_MATPLOTLIB = False


def run(*args, cwd=None, prefix=("-m", "cmlp")):
    return subprocess.run([sys.executable, *prefix, *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def run_many(arg_lists):
    """run(*args) for each list, two at a time (each start imports numpy: ~0.5 s)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda args: run(*args), arg_lists))


def accuracy(stdout):
    m = re.search(r"^test accuracy: ([0-9.]+) \((\d+) of (\d+) correct", stdout, re.M)
    assert m, stdout
    return float(m.group(1)), int(m.group(2)), int(m.group(3))


def confusion(stdout):
    """The printed confusion matrix as an int array."""
    text = stdout.split("confusion matrix (rows: true label, columns: predicted label):\n")[1]
    rows = [ln.split() for ln in text.split("\n\n")[0].splitlines()[1:]]
    return np.array([[int(v) for v in r[1:]] for r in rows])


def assert_error(proc, code, *fragments):
    """Exit status code, no output, and one line 'cmlp: error: ...' naming the fragments."""
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("cmlp: error: ")
    assert "Traceback" not in proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.fixture(scope="module")
def model784(tmp_path_factory):
    """A small saved 784-16-10 network (built in-process: fast)."""
    path = tmp_path_factory.mktemp("models") / "m784.npz"
    persistence.save(cmlp.Network([784, 16, 10], seed=0), path)
    return path


@pytest.fixture(scope="module")
def model5(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "m5.npz"
    persistence.save(cmlp.Network([5, 3], seed=0), path)
    return path


# --------------------------------------------------------------------------- train


def test_default_train_runs_the_notes_network():
    proc = run("train")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "784-500-200-10" in out and "494,710 parameters" in out
    assert "lr 0.3, batch size 1, 10 epochs" in out
    assert "pixels / 255" in out
    epochs = re.findall(r"^epoch +(\d+)/10  cost ([0-9.e+]+)", out, re.M)
    assert [int(e) for e, _ in epochs] == list(range(1, 11))
    costs = [float(c) for _, c in epochs]
    assert costs[-1] < costs[0]
    acc, correct, n = accuracy(out)
    assert n == 1000 and acc > 0.5  # chance is 0.1; about 0.87 here
    C = confusion(out)
    assert C.shape == (10, 10) and C.sum() == 1000 and np.trace(C) == correct
    success = re.search(r"^success +([\d ]+)$", out, re.M).group(1).split()
    failure = re.search(r"^failure +([\d ]+)$", out, re.M).group(1).split()
    assert [int(s) for s in success[:10]] == np.diag(C).tolist()
    assert [int(s) + int(f) for s, f in zip(success[:10], failure[:10])] == \
        C.sum(axis=1).tolist()


def test_train_is_reproducible_with_seed_and_quiet():
    a = run("train", "--epochs", "1", "--seed", "5", "--quiet")
    b = run("train", "--epochs", "1", "--seed", "5", "--quiet")
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout
    assert len(a.stdout.splitlines()) == 1 and a.stdout.startswith("test accuracy: ")


def test_train_on_csv_files_then_evaluate_and_predict(tmp_path):
    train, test = mnist("mnist_train_100.csv"), mnist("mnist_test_10.csv")
    model = tmp_path / "model.npz"
    proc = run("train", "--train", train, "--test", test, "--epochs", "3", "--seed", "1",
               "--layers", "784,30,10", "--activation", "relu", "--output", "softmax",
               "--loss", "cross_entropy", "--lr", "0.1", "--batch-size", "10",
               "--dtype", "float32", "--save", model)
    assert proc.returncode == 0, proc.stderr
    assert "training on 100 rows" in proc.stdout and "testing on 10 rows" in proc.stdout
    _, correct, n = accuracy(proc.stdout)
    assert n == 10

    net = persistence.load(model)
    assert net.layers == (784, 30, 10) and net.activations == ("relu", "softmax")
    assert net.loss == "cross_entropy" and net.dtype == np.float32

    ev = run("evaluate", model, "--test", test)
    assert ev.returncode == 0, ev.stderr
    assert accuracy(ev.stdout) == accuracy(proc.stdout)
    assert np.array_equal(confusion(ev.stdout), confusion(proc.stdout))

    X, labels = load_mnist_csv(test, scale=False)
    expected = net.predict((X / 255).astype(np.float32)).tolist()
    pr = run("predict", model, test)
    assert pr.returncode == 0, pr.stderr
    assert [int(v) for v in pr.stdout.split()] == expected
    assert sum(int(p) == t for p, t in zip(pr.stdout.split(), labels)) == correct

    # to a file; pixels-only rows; gzip
    out = tmp_path / "labels.txt"
    assert run("predict", model, test, "--output", out).returncode == 0
    assert out.read_text() == pr.stdout
    pixels = tmp_path / "pixels.csv"
    np.savetxt(pixels, X, fmt="%d", delimiter=",")
    assert run("predict", model, pixels).stdout == pr.stdout
    gz = tmp_path / "test.csv.gz"
    gz.write_bytes(gzip.compress(test.read_bytes()))
    assert run("predict", model, gz).stdout == pr.stdout


def test_train_with_each_optimizer_is_one_fit_of_that_optimizer(tmp_path):
    """--optimizer: the run is Network.fit with that optimizer over all the epochs (its
    state carried across them), at the optimizer's own default rate unless --lr is given."""
    train = mnist("mnist_train_100.csv")
    common = ["--train", train, "--test", mnist("mnist_test_10.csv"), "--epochs", "3",
              "--seed", "4", "--layers", "784,16,10", "--batch-size", "10"]
    X, labels = load_mnist_csv(train, scale=False)
    for name, lr in (("adam", None), ("momentum", "0.05")):
        model = tmp_path / f"{name}.npz"
        proc = run("train", *common, "--optimizer", name, "--save", model,
                   *(("--lr", lr) if lr else ()))
        assert proc.returncode == 0, proc.stderr
        shown = {"adam": "adam: lr 0.001,", "momentum": "momentum: lr 0.05,"}[name]
        assert shown in proc.stdout
        net = cmlp.Network([784, 16, 10], seed=4)
        net.fit(X / 255, labels, epochs=3, batch_size=10, optimizer=name,
                lr=float(lr) if lr else None, seed=None, verbose=0)
        np.testing.assert_array_equal(persistence.load(model).params, net.params)


def test_train_save_path_without_suffix_and_summary(tmp_path):
    model = tmp_path / "model"
    proc = run("train", "--epochs", "1", "--layers", "784,8,10", "--seed", "0", "-q",
               "--save", model)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    s = run("summary", model)
    assert s.returncode == 0
    assert "dense_1 (sigmoid)" in s.stdout and "Total params: 6,370" in s.stdout


def test_evaluate_defaults_to_the_sample(model784):
    proc = run("evaluate", model784)
    assert proc.returncode == 0, proc.stderr
    acc, correct, n = accuracy(proc.stdout)
    assert n == 1000
    X_train, y_train, X_test, y_test = cmlp.datasets.load_mnist_sample(scale=False)
    net = persistence.load(model784)
    assert correct == int((net.predict(X_test / 255) == y_test).sum())


def test_train_plots(tmp_path):
    pytest.importorskip("matplotlib")
    plots = tmp_path / "plots" / "run1"
    proc = run("train", "--epochs", "2", "--layers", "784,8,10", "--plots", plots)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in plots.iterdir())
    assert names == ["confusion_matrix.png", "cost.png", "digits.png"]
    for p in plots.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_without_matplotlib_is_a_clear_error(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None; "
            "from cmlp.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = run("train", "--epochs", "1", "--plots", tmp_path / "p", prefix=("-c", code))
    assert_error(proc, 1, "--plots needs matplotlib", "pip install cmlp[plot]")
    assert not (tmp_path / "p").exists()


def test_help_mentions_scaling_and_version():
    h = run("train", "--help")
    assert h.returncode == 0
    assert "divided by 255" in h.stdout and "--optimizer" in h.stdout
    v = run("--version")
    assert v.returncode == 0 and v.stdout.strip() == f"cmlp {cmlp.__version__}"


def test_console_script():
    exe = shutil.which("cmlp")
    if exe is None:
        pytest.skip("the cmlp console script is not on PATH")
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"cmlp {cmlp.__version__}"


# --------------------------------------------------------------------------- errors


USAGE_ERRORS = [
    ([], ["required: COMMAND"]),
    (["fit"], ["invalid choice: 'fit'"]),
    (["train", "--optimizer", "lbfgs"], ["--optimizer", "'lbfgs'", "adam"]),
    (["train", "--layers", "784,x,10"], ["--layers", "784,x,10"]),
    (["train", "--layers", "100,10"], ["--layers", "784"]),
    (["train", "--layers", "784,5"], ["--layers", "labels go up to 9"]),
    (["train", "--epochs", "0"], ["--epochs", "positive integer"]),
    (["train", "--lr", "nan"], ["--lr", "'nan'"]),
    (["train", "--batch-size", "many"], ["--batch-size", "'many'"]),
    (["train", "--seed", "-1"], ["--seed"]),
    (["train", "--activation", "swish"], ["--activation", "'swish'"]),
    (["train", "--loss", "cross_entropy", "--output", "relu"], ["cross_entropy", "relu"]),
    (["predict"], ["required: MODEL, CSV"]),
    # an empty value (a script's unset variable) is an error, not "option not given"
    (["train", "--train", ""], ["--train", "expected a file name, got ''"]),
    (["train", "--test", ""], ["--test", "expected a file name"]),
    (["train", "--save", ""], ["--save", "expected a file name"]),
    (["train", "--plots", ""], ["--plots", "expected a file name"]),
    (["evaluate", ""], ["MODEL", "expected a file name"]),
    (["predict", "m.npz", "x.csv", "-o", ""], ["--output", "expected a file name"]),
]


@pytest.fixture(scope="module")
def usage_runs():
    return run_many([args for args, _ in USAGE_ERRORS])


@pytest.mark.parametrize("case", range(len(USAGE_ERRORS)),
                         ids=[" ".join(a) or "no-args" for a, _ in USAGE_ERRORS])
def test_usage_errors_exit_2(usage_runs, case):
    assert_error(usage_runs[case], 2, *USAGE_ERRORS[case][1])


def test_runtime_errors_exit_1(tmp_path, model784, model5):
    missing = tmp_path / "missing.csv"
    bad = tmp_path / "bad.csv"
    bad.write_text("label,pixel1\n7,0\n")
    test10 = mnist("mnist_test_10.csv")
    pixels = tmp_path / "pixels.csv"
    np.savetxt(pixels, np.zeros((3, 784)), fmt="%d", delimiter=",")
    text = tmp_path / "text.csv"
    text.write_text("a,b,c,d,e\n")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(model784.read_bytes()[:1000])
    cases = [
        (["train", "--train", missing], [str(missing), "No such file"]),
        (["train", "--test", bad], [str(bad)]),
        (["evaluate", tmp_path / "none.npz"], ["none.npz", "No such file"]),
        (["evaluate", bad], [str(bad), "not a valid cmlp model file"]),
        (["predict", model5, test10], ["785 columns per row, but the model has 5 inputs"]),
        (["evaluate", model5], ["5 inputs", "--test"]),
        (["evaluate", model784, "--test", pixels], ["784 columns per row",
                                                    "expected 785 (a label"]),
        (["predict", model5, text], [str(text), "not a CSV file of numbers"]),
        (["train", "--epochs", "1", "--save", tmp_path / "no" / "m.npz"],
         ["directory for --save does not exist"]),
        (["summary", broken], ["truncated or corrupt"]),
    ]
    for proc, (args, fragments) in zip(run_many([a for a, _ in cases]), cases):
        assert_error(proc, 1, *fragments)


def test_diverging_training_is_a_runtime_error():
    # relu with a huge learning rate overflows: the network raises FloatingPointError
    proc = run("train", "--epochs", "2", "--layers", "784,8,10", "--activation", "relu",
               "--output", "identity", "--loss", "mse", "--lr", "1e30", "--seed", "0", "-q")
    assert_error(proc, 1, "NaN or infinite", "smaller lr")


@pytest.mark.slow
def test_full_mnist_one_epoch(tmp_path):
    """The notes' network, one epoch on the 60,000 rows: about 96% on the 10,000 (0.9577
    measured with --seed 0; about 25 s here)."""
    train, test = mnist("mnist_train.csv.gz"), mnist("mnist_test.csv.gz")
    model = tmp_path / "full.npz"
    proc = run("train", "--train", train, "--test", test, "--epochs", "1", "--seed", "0",
               "--save", model, "-q")
    assert proc.returncode == 0, proc.stderr
    acc, _, n = accuracy(proc.stdout)
    assert n == 10_000 and acc > 0.9
    ev = run("evaluate", model, "--test", test, "-q")
    assert ev.stdout == proc.stdout
    pr = run("predict", model, test)
    assert len(pr.stdout.split()) == 10_000


def test_outputs_are_checked_before_the_work_and_never_overwrite_an_input(tmp_path, model784):
    train = tmp_path / "train.csv"
    shutil.copy(mnist("mnist_train_100.csv"), train)
    data = train.read_bytes()
    cases = [
        # the trained network would replace its own training data: refused up front
        (["train", "--train", train, "--epochs", "1", "--save", train], 2,
         ["--save", "is the --train file"]),
        (["predict", model784, train, "-o", train], 2, ["--output", "is the CSV file"]),
        (["predict", model784, train, "-o", model784], 2, ["--output", "is the model"]),
        # a name the file system refuses: found before training, named as --save
        (["train", "--epochs", "1", "--save", tmp_path / ("m" * 300 + ".npz")], 1,
         ["--save: cannot write there"]),
    ]
    if HAVE_MATPLOTLIB:  # without it, --plots is refused for that first
        cases.append((["train", "--epochs", "1", "--plots", train], 1,
                      ["--plots needs a directory", str(train)]))
    for proc, (args, code, fragments) in zip(run_many([a for a, _, _ in cases]), cases):
        assert_error(proc, code, *fragments)  # nothing on stdout: no training was run
    assert train.read_bytes() == data
    assert cmlp.load(model784).layers == (784, 16, 10)


def test_a_model_that_does_not_take_pixels_reads_its_inputs_as_given(tmp_path):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    y = np.array([0, 1, 1, 0])
    net = cmlp.Network([2, 8, 2], activation="tanh", output="softmax", loss="cross_entropy",
                       seed=0)
    net.fit(X, y, epochs=3000, lr=0.1, batch_size=4, verbose=0, seed=0)
    assert net.predict(X).tolist() == [0, 1, 1, 0]
    model = tmp_path / "xor.npz"
    net.save(model)
    rows = tmp_path / "xor.csv"
    rows.write_text("0,0\n0,1\n1,0\n1,1\n")
    labelled = tmp_path / "xor_labels.csv"
    labelled.write_text("0,0,0\n1,0,1\n1,1,0\n0,1,1\n")
    predicted, evaluated, plots = run_many([
        ["predict", model, rows], ["evaluate", model, "--test", labelled],
        ["evaluate", model, "--test", labelled, "--plots", tmp_path / "p"]])
    plots_refusal = (["--plots", "784 inputs"] if HAVE_MATPLOTLIB
                     else ["--plots needs matplotlib"])
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.split() == ["0", "1", "1", "0"]
    assert evaluated.returncode == 0, evaluated.stderr
    assert accuracy(evaluated.stdout) == (1.0, 4, 4)
    assert "inputs as given" in evaluated.stdout
    assert_error(plots, 2 if HAVE_MATPLOTLIB else 1, *plots_refusal)
    assert not (tmp_path / "p").exists()


def test_pixel_only_rows_are_checked_and_pipes_are_refused_by_name(tmp_path, model784):
    X, _ = load_mnist_csv(mnist("mnist_test_10.csv"), scale=False)
    for name, value in (("neg", -1000), ("big", 1e30), ("frac", 0.5)):
        bad = X[:3].astype(np.float64)
        bad[1, 5] = value
        np.savetxt(tmp_path / f"{name}.csv", bad, fmt="%.10g", delimiter=",")
    procs = run_many([["predict", model784, tmp_path / f"{n}.csv"] for n in ("neg", "big", "frac")])
    for proc in procs:
        assert_error(proc, 1, "line 2, column 6 (pixel 6 of 784)", "not an integer 0-255")
    good = tmp_path / "good.csv"
    np.savetxt(good, X[:3], fmt="%d", delimiter=",")
    proc = subprocess.run([sys.executable, "-m", "cmlp", "predict", str(model784), "/dev/stdin"],
                          input=good.read_text(), capture_output=True, text=True, timeout=120)
    assert_error(proc, 1, "/dev/stdin", "not a regular file")
