"""Reliability and safety of the public API.

- the validation matrix: every public entry point refuses bad input at the boundary with a
  ValueError or TypeError whose message names the argument;
- layouts (Fortran, strided, integer dtypes) and arrays aliasing the network's own
  parameters give the same result as clean C-order copies;
- non-finite losses: FloatingPointError by default with the last finite parameters kept,
  ``on_nonfinite="warn"`` with a RuntimeWarning;
- Ctrl-C (SIGINT) during a long C epoch: KeyboardInterrupt within ~0.1 s, parameters as
  after the last completed sample (measured on a subprocess);
- threads: two fits on one network are serialised, two networks train in parallel;
- determinism within and across processes;
- resident memory stays flat over repeated fit / forward / load calls.

Findings where the API itself is wrong are ``xfail(strict=True)`` with the reason.
"""
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest

import cmlp
from cmlp.datasets import load_mnist_csv


try:  # cmlp.load / cmlp.save (cmlp.persistence), where that module exists
    from cmlp.persistence import load as cmlp_load, save as cmlp_save
except ImportError:  # pragma: no cover - depends on the tree
    cmlp_load = cmlp_save = None


def _run_python(code, timeout=120, env=None):
    """Run code in a fresh interpreter; returns the CompletedProcess."""
    full_env = dict(os.environ)
    full_env.setdefault("PYTHONHASHSEED", "0")
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, env=full_env)


@pytest.fixture
def xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return X, np.array([0, 1, 1, 0])


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.random((40, 5))
    y = rng.integers(0, 3, 40)
    return X, y


def _net(**kw):
    args = dict(layers=[5, 6, 3], seed=0)
    args.update(kw)
    return cmlp.Network(**args)


# ============================================================== the validation matrix

ROW = np.zeros((4, 5))
LABELS = np.array([0, 1, 2, 0])

# (id, call(net) -> anything, exception type, the argument name the message must contain)
NETWORK_CASES = [
    ("layers-int", lambda: cmlp.Network(3), TypeError, "layers"),
    ("layers-str", lambda: cmlp.Network("32"), TypeError, "layers"),
    ("layers-None", lambda: cmlp.Network(None), TypeError, "layers"),
    ("layers-empty", lambda: cmlp.Network([]), ValueError, "layers"),
    ("layers-one", lambda: cmlp.Network([3]), ValueError, "layers"),
    ("layers-zero", lambda: cmlp.Network([3, 0]), ValueError, "layers[1]"),
    ("layers-negative", lambda: cmlp.Network([3, -1]), ValueError, "layers[1]"),
    ("layers-float", lambda: cmlp.Network([3.0, 2]), TypeError, "layers[0]"),
    ("layers-bool", lambda: cmlp.Network([True, 2]), TypeError, "layers[0]"),
    ("layers-str-item", lambda: cmlp.Network(["3", 2]), TypeError, "layers[0]"),
    ("activation-unknown", lambda: cmlp.Network([3, 4, 2], activation="foo"), ValueError,
     "activation"),
    ("activation-int", lambda: cmlp.Network([3, 4, 2], activation=1), TypeError, "activation"),
    ("activation-None", lambda: cmlp.Network([3, 4, 2], activation=None), TypeError,
     "activation"),
    ("activation-count", lambda: cmlp.Network([3, 4, 2], activation=["relu", "relu"]),
     ValueError, "activation"),
    ("activation-item", lambda: cmlp.Network([3, 4, 4, 2], activation=["relu", 2]), TypeError,
     "activation[1]"),
    ("activation-softmax-hidden", lambda: cmlp.Network([3, 4, 2], activation="softmax"),
     ValueError, "activation"),
    ("output-unknown", lambda: cmlp.Network([3, 2], output="foo"), ValueError, "output"),
    ("output-int", lambda: cmlp.Network([3, 2], output=1), TypeError, "output"),
    ("output-softmax-one-unit", lambda: cmlp.Network([3, 1], output="softmax"), ValueError,
     "output"),
    ("loss-unknown", lambda: cmlp.Network([3, 2], loss="foo"), ValueError, "loss"),
    ("loss-None", lambda: cmlp.Network([3, 2], loss=None), TypeError, "loss"),
    ("loss-ce-identity", lambda: cmlp.Network([3, 2], loss="cross_entropy", output="identity"),
     ValueError, "cross_entropy"),
    ("init-unknown", lambda: cmlp.Network([3, 2], init="foo"), ValueError, "init"),
    ("init-int", lambda: cmlp.Network([3, 2], init=3), TypeError, "init"),
    ("dtype-int32", lambda: cmlp.Network([3, 2], dtype="int32"), ValueError, "dtype"),
    ("dtype-float16", lambda: cmlp.Network([3, 2], dtype=np.float16), ValueError, "dtype"),
    ("dtype-garbage", lambda: cmlp.Network([3, 2], dtype="foo"), TypeError, "dtype"),
    ("dtype-None", lambda: cmlp.Network([3, 2], dtype=None), ValueError, "dtype"),
    ("seed-negative", lambda: cmlp.Network([3, 2], seed=-1), ValueError, "seed"),
    ("seed-float", lambda: cmlp.Network([3, 2], seed=1.5), TypeError, "seed"),
    ("seed-str", lambda: cmlp.Network([3, 2], seed="1"), TypeError, "seed"),
    ("seed-RandomState", lambda: cmlp.Network([3, 2], seed=np.random.RandomState(0)), TypeError,
     "seed"),
]


@pytest.mark.parametrize("case", NETWORK_CASES, ids=[c[0] for c in NETWORK_CASES])
def test_network_refuses_bad_arguments(case):
    _, call, exc, name = case
    with pytest.raises(exc, match=re.escape(name)):
        call()


BAD_X = [
    ("object", np.array([[1, "a", 2, 3, 4]], dtype=object), TypeError),
    ("object-numbers", np.array([[1, 2, 3, 4, 5]], dtype=object), TypeError),
    ("strings", np.array([["1", "2", "3", "4", "5"]]), TypeError),
    ("bytes", b"12345", TypeError),
    ("complex", np.ones((2, 5), complex), TypeError),
    ("datetime", np.zeros((2, 5), "datetime64[s]"), TypeError),
    ("structured", np.zeros(5, dtype=[("a", "f8")]), TypeError),
    ("None", None, TypeError),
    ("nan", np.full((2, 5), np.nan), ValueError),
    ("inf", np.array([[0, 0, np.inf, 0, 0]]), ValueError),
    ("-inf-float32", np.array([[0, 0, -np.inf, 0, 0]], np.float32), ValueError),
    ("too-large-for-float32", np.full((1, 5), 1e300), ValueError),  # float32 network only
    ("wrong-width", np.zeros((2, 4)), ValueError),
    ("three-d", np.zeros((1, 2, 5)), ValueError),
    ("scalar", 1.0, ValueError),
    ("ragged", [[1, 2, 3, 4, 5], [1, 2]], ValueError),
]


@pytest.mark.parametrize("method", ["forward", "predict", "cost", "score", "gradients", "fit"])
@pytest.mark.parametrize("bad", BAD_X, ids=[b[0] for b in BAD_X])
def test_every_entry_point_refuses_bad_X(method, bad):
    name, X, exc = bad
    net = _net(dtype="float32" if name == "too-large-for-float32" else "float64")
    before = net.params.copy()
    n = len(X) if isinstance(X, list) or (isinstance(X, np.ndarray) and X.ndim > 0) else 1
    y = np.zeros(n, dtype=np.int64)
    call = getattr(net, method)
    args = (X,) if method in ("forward", "predict") else (X, y)
    kwargs = {"verbose": 0, "epochs": 1} if method == "fit" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's own cast-overflow warning
        with pytest.raises(exc, match=r"\bX\b"):
            call(*args, **kwargs)
    assert np.array_equal(net.params, before), "a refused call changed the parameters"


BAD_Y = [
    ("nan-targets", np.full((4, 3), np.nan), ValueError),
    ("inf-target", np.array([[0, 0, 1], [0, np.inf, 0], [1, 0, 0], [0, 0, 1]]), ValueError),
    ("nan-label", np.array([0, 1, np.nan, 0]), ValueError),
    ("label-too-large", np.array([0, 1, 3, 0]), ValueError),
    ("label-negative", np.array([0, -1, 2, 0]), ValueError),
    ("label-non-integral", np.array([0, 1, 1.5, 0]), ValueError),
    ("labels-strings", np.array(["a", "b", "a", "b"]), TypeError),
    ("labels-object", np.array([0, 1, None, 0], dtype=object), TypeError),
    ("labels-complex", np.array([0, 1, 1, 0], dtype=complex), TypeError),
    ("too-few-rows", np.array([0, 1]), ValueError),
    ("too-many-rows", np.zeros(9, dtype=int), ValueError),
    ("wrong-columns", np.zeros((4, 2)), ValueError),
    ("three-d", np.zeros((4, 3, 1)), ValueError),
    ("scalar", 0, ValueError),
]


@pytest.mark.parametrize("method", ["cost", "score", "gradients", "fit"])
@pytest.mark.parametrize("bad", BAD_Y, ids=[b[0] for b in BAD_Y])
def test_every_entry_point_refuses_bad_y(request, method, bad):
    name, y, exc = bad
    net = _net()
    before = net.params.copy()
    kwargs = {"verbose": 0, "epochs": 1} if method == "fit" else {}
    with pytest.raises(exc, match=r"\by\b"):
        getattr(net, method)(ROW, y, **kwargs)
    assert np.array_equal(net.params, before)


def test_single_output_targets_are_checked_too():
    net = cmlp.Network([2, 3, 1], seed=0)
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"\by\b"):
        net.fit(X, [0.0, np.nan, 1.0], verbose=0)
    with pytest.raises(ValueError, match=r"\by\b"):
        net.gradients(X, [0.0, np.inf, 1.0])


FIT_CASES = [
    ("epochs", 0, ValueError), ("epochs", -3, ValueError), ("epochs", 1.0, TypeError),
    ("epochs", True, TypeError), ("epochs", "3", TypeError), ("epochs", None, TypeError),
    ("lr", 0, ValueError), ("lr", -0.1, ValueError), ("lr", float("nan"), ValueError),
    ("lr", float("inf"), ValueError), ("lr", "0.1", TypeError),
    ("lr", True, TypeError), ("lr", 1j, TypeError),
    ("batch_size", 0, ValueError), ("batch_size", -1, ValueError),
    ("batch_size", 2.5, TypeError), ("batch_size", "x", ValueError),
    ("batch_size", True, TypeError),
    ("shuffle", 1, TypeError), ("shuffle", "yes", TypeError), ("shuffle", None, TypeError),
    ("seed", -1, ValueError), ("seed", 1.5, TypeError), ("seed", "1", TypeError),
    ("verbose", -1, ValueError), ("verbose", 1.5, TypeError), ("verbose", None, TypeError),
    ("on_nonfinite", "ignore", ValueError), ("on_nonfinite", None, TypeError),
    ("optimizer", "foo", ValueError), ("optimizer", 3, TypeError), ("optimizer", None, TypeError),
    ("l1", -1.0, ValueError), ("l1", "x", TypeError), ("l1", float("nan"), ValueError),
    ("l2", -0.5, ValueError), ("l2", None, TypeError), ("l2", float("inf"), ValueError),
    ("dropout", 1.0, ValueError), ("dropout", -0.1, ValueError), ("dropout", "x", TypeError),
    ("dropout", [0.5, 0.5], ValueError), ("dropout", float("nan"), ValueError),
    ("lr_schedule", "foo", ValueError), ("lr_schedule", 3, TypeError),
    ("validation_data", "x", TypeError), ("validation_data", (ROW,), TypeError),
    ("validation_data", (np.zeros((3, 4)), [0, 1, 2]), ValueError),
    ("validation_data", (np.zeros((0, 5)), []), ValueError),
    ("validation_data", (np.full((2, 5), np.nan), [0, 1]), ValueError),
    ("validation_data", (np.zeros((2, 5)), [0.0, np.nan]), ValueError),
    ("validation_data", (np.zeros((2, 5)), [0, 7]), ValueError),
    ("validation_split", 0.0, ValueError), ("validation_split", 1.0, ValueError),
    ("validation_split", "x", TypeError), ("validation_split", 0.999, ValueError),
    ("early_stopping", "yes", TypeError), ("early_stopping", True, ValueError),
    ("patience", 0, ValueError), ("patience", 1.5, TypeError),
    ("callbacks", 3, TypeError), ("callbacks", [3], TypeError),
    ("n_threads", 0, ValueError), ("n_threads", 1.5, TypeError), ("n_threads", -1, ValueError),
]


def _fit_case_id(case):
    arg, value = (case.values if hasattr(case, "values") else case)[:2]
    text = repr(value) if not isinstance(value, tuple) else "tuple"
    return f"{arg}={text[:20]}"


@pytest.mark.parametrize("arg,value,exc", FIT_CASES, ids=[_fit_case_id(c) for c in FIT_CASES])
def test_fit_refuses_bad_hyperparameters(data, arg, value, exc):
    X, y = data
    net = _net()
    before = net.params.copy()
    kwargs = {"verbose": 0, "epochs": 1}
    kwargs[arg] = value
    with pytest.raises(exc, match=re.escape(arg)):
        net.fit(X, y, **kwargs)
    assert np.array_equal(net.params, before)


def test_fit_and_gradients_refuse_empty_data():
    net = _net()
    for call in (lambda: net.fit(np.empty((0, 5)), np.empty(0, int), verbose=0),
                 lambda: net.gradients(np.empty((0, 5)), np.empty(0, int)),
                 lambda: net.score(np.empty((0, 5)), np.empty(0, int))):
        with pytest.raises(ValueError, match=r"\bX\b"):
            call()
    # forward of zero rows is valid and gives (0, n_L)
    out = net.forward(np.empty((0, 5)))
    assert out.shape == (0, 3) and out.dtype == net.dtype


def test_fit_refuses_one_sample_given_as_a_vector():
    with pytest.raises(ValueError, match=r"\bX\b"):
        _net().fit(np.zeros(5), [0], verbose=0)


PARAM_CASES = [
    ("params", lambda net: setattr(net, "params", np.zeros(3)), ValueError, "params"),
    ("params", lambda net: setattr(net, "params", np.full(net.n_params, np.nan)), ValueError,
     "params"),
    ("params", lambda net: setattr(net, "params", ["a"] * net.n_params), TypeError, "params"),
    ("weights", lambda net: setattr(net, "weights", np.zeros(3)), TypeError, "weights"),
    ("weights", lambda net: setattr(net, "weights", [np.zeros((5, 6))]), ValueError, "weights"),
    ("weights", lambda net: setattr(net, "weights", [np.zeros((6, 5)), np.zeros((6, 3))]),
     ValueError, "weights[0]"),
    ("weights", lambda net: setattr(net, "weights", [np.zeros((5, 6)), np.full((6, 3), np.inf)]),
     ValueError, "weights[1]"),
    ("biases", lambda net: setattr(net, "biases", [np.zeros(6), np.zeros(4)]), ValueError,
     "biases[1]"),
    ("biases", lambda net: setattr(net, "biases", [np.zeros(6), np.array(["a"] * 3)]),
     TypeError, "biases[1]"),
]


@pytest.mark.parametrize("attr,call,exc,name", PARAM_CASES)
def test_parameter_setters_refuse_bad_values_and_change_nothing(attr, call, exc, name):
    net = _net()
    before = net.params.copy()
    with pytest.raises(exc, match=re.escape(name)):
        call(net)
    assert np.array_equal(net.params, before), "a refused assignment changed the parameters"


def test_one_hot_refuses_bad_arguments():
    with pytest.raises(ValueError, match="n_classes"):
        cmlp.one_hot([0, 1], 0)
    with pytest.raises(TypeError, match="n_classes"):
        cmlp.one_hot([0, 1], 2.0)
    with pytest.raises(ValueError, match="labels"):
        cmlp.one_hot([0, 3], 3)
    with pytest.raises(ValueError, match="dtype"):
        cmlp.one_hot([0, 1], 2, dtype=np.int32)


@pytest.fixture
def mnist_row_file(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("7," + ",".join(["0"] * 784) + "\n")
    return path


@pytest.mark.parametrize("kwargs,exc,name", [
    ({"n_rows": -1}, ValueError, "n_rows"),
    ({"n_rows": 1.0}, TypeError, "n_rows"),
    ({"n_rows": True}, TypeError, "n_rows"),
    ({"dtype": np.int32}, ValueError, "dtype"),
    ({"dtype": "foo"}, TypeError, "dtype"),
])
def test_load_mnist_csv_refuses_bad_arguments(mnist_row_file, kwargs, exc, name):
    with pytest.raises(exc, match=name):
        load_mnist_csv(mnist_row_file, **kwargs, scale=False)


PATH_CALLS = {
    "load_mnist_csv": lambda bad: load_mnist_csv(bad, scale=False),
    "load": lambda bad: cmlp_load(bad),
    "save": lambda bad: cmlp_save(cmlp.Network([2, 1], seed=0), bad),
}


@pytest.mark.parametrize("bad", [None, 3])
@pytest.mark.parametrize("entry", list(PATH_CALLS))
def test_loaders_name_path_in_type_errors(entry, bad):
    if entry != "load_mnist_csv" and cmlp_load is None:
        pytest.skip("cmlp.persistence does not exist in this tree")
    with pytest.raises(TypeError, match="path"):
        PATH_CALLS[entry](bad)


@pytest.mark.parametrize("text,what", [
    ("", "empty"),
    ("label," + ",".join(["p"] * 784) + "\n", "header"),
    ("7,1,2\n", "columns"),
    ("10," + ",".join(["0"] * 784) + "\n", "label"),
    ("1," + ",".join(["256"] * 784) + "\n", "pixel"),
    ("1," + ",".join(["0.5"] * 784) + "\n", "integer"),
])
def test_load_mnist_csv_refuses_malformed_files(tmp_path, text, what):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=str(path.name)):
        load_mnist_csv(path, scale=False)


# ============================================================== size limits

@pytest.mark.parametrize("layers", [[2**32, 2**32], [2**33, 2**31], [2**63 - 1, 1], [2**70, 2]])
def test_network_too_large_to_address_is_a_value_error_naming_layers(layers):
    with pytest.raises(ValueError, match="layers"):
        cmlp.Network(layers)


def test_network_too_large_for_memory_fails_cleanly():
    # addressable, but far beyond this machine's memory: MemoryError, nothing allocated
    with pytest.raises((MemoryError, ValueError)):
        cmlp.Network([3, 2**40])


def test_layers_must_be_an_ordered_sequence():
    with pytest.raises(TypeError, match="layers"):
        cmlp.Network({3, 500, 10})


# ============================================================== layouts and aliasing

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layouts_and_integer_dtypes_equal_the_c_order_result(dtype):
    rng = np.random.default_rng(1)
    Xi = rng.integers(0, 3, (30, 5))
    y = rng.integers(0, 3, 30)
    C = np.ascontiguousarray(Xi, dtype=dtype)
    variants = {
        "int64": Xi,
        "uint8": Xi.astype(np.uint8),
        "bool-free int16": Xi.astype(np.int16),
        "fortran": np.asfortranarray(C),
        "strided": np.repeat(C, 2, axis=1)[:, ::2],
        "negative-stride": np.ascontiguousarray(C[::-1])[::-1],
        "transposed-view": np.ascontiguousarray(C.T).T,
        "list": Xi.tolist(),
        "float64 for a float32 net": C.astype(np.float64),
    }
    ref = cmlp.Network([5, 7, 3], dtype=dtype, seed=2)
    ref_out = ref.forward(C)
    ref_grad = ref.gradients(C, y)
    ref_fit = ref.copy()
    ref_fit.fit(C, y, epochs=2, seed=3, verbose=0)
    for name, X in variants.items():
        net = ref.copy()
        assert np.array_equal(net.forward(X), ref_out), name
        for a, b in zip(net.gradients(X, y)[0], ref_grad[0]):
            assert np.array_equal(a, b), name
        net.fit(X, y, epochs=2, seed=3, verbose=0)
        assert np.array_equal(net.params, ref_fit.params), name


@pytest.mark.parametrize("method", ["forward", "gradients", "fit"])
def test_inputs_are_converted_with_at_most_one_copy(method):
    # tracemalloc sees NumPy's allocations: the peak during a call is one converted copy of
    # X (8 MB here) plus small change (the finiteness mask is 1 byte per element)
    import tracemalloc
    rng = np.random.default_rng(0)
    N, n = 2000, 500
    nets = {"float64": cmlp.Network([n, 2, 1], seed=0),
            "float32": cmlp.Network([n, 2, 1], dtype="float32", seed=0)}
    cases = [("fortran", np.asfortranarray(rng.random((N, n))), "float64", 1),
             ("strided", rng.random((N, 2 * n))[:, ::2], "float64", 1),
             ("int64", rng.integers(0, 3, (N, n)), "float64", 1),
             ("uint8 into float32", rng.integers(0, 3, (N, n)).astype(np.uint8), "float32", 1),
             ("C-ordered float64", rng.random((N, n)), "float64", 0)]
    y = rng.integers(0, 2, N).astype(float)
    for name, X, dtype, copies in cases:
        net = nets[dtype]
        call = {"forward": lambda: net.forward(X), "gradients": lambda: net.gradients(X, y),
                "fit": lambda: net.fit(X, y, epochs=1, verbose=0)}[method]
        tracemalloc.start()
        try:
            call()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        converted = N * n * np.dtype(dtype).itemsize
        assert peak < (copies + 0.25) * converted, \
            f"{name}: peak {peak / converted:.2f} copies of X"


def test_fit_on_arrays_aliasing_the_parameters_equals_fit_on_copies():
    net = cmlp.Network([2, 3, 2], loss="mse", output="identity", seed=0)
    # X is a view of W_1's buffer, T a view of the parameters too
    X = net.params[:6].reshape(3, 2)
    T = net.params[6:12].reshape(3, 2)
    twin = net.copy()
    Xc, Tc = X.copy(), T.copy()
    net.fit(X, T, epochs=3, lr=0.05, seed=1, verbose=0)
    twin.fit(Xc, Tc, epochs=3, lr=0.05, seed=1, verbose=0)
    assert np.array_equal(net.params, twin.params)
    assert not np.array_equal(net.params[:6], Xc.ravel())  # training changed the parameters


def test_forward_and_gradients_on_arrays_aliasing_the_parameters():
    net = cmlp.Network([2, 3, 2], loss="mse", output="identity", seed=0)
    X = net.params[:6].reshape(3, 2)
    T = net.params[6:12].reshape(3, 2)
    before = net.params.copy()
    out = net.forward(X)
    dW, db = net.gradients(X, T)
    assert np.array_equal(net.params, before)
    twin = net.copy()
    assert np.array_equal(out, twin.forward(X.copy()))
    dW2, db2 = twin.gradients(X.copy(), T.copy())
    for a, b in zip(dW + db, dW2 + db2):
        assert np.array_equal(a, b)


def test_params_assignment_from_an_overlapping_view():
    net = _net()
    p = net.params.copy()
    net.params = net.params[::-1]
    assert np.array_equal(net.params, p[::-1])


@pytest.mark.parametrize("attr", ["weights", "biases"])
def test_swapping_layers_through_live_views(attr):
    net = cmlp.Network([4, 4, 4], seed=0)
    net.params = np.arange(net.n_params, dtype=float)  # every entry different
    first, second = [v.copy() for v in getattr(net, attr)]
    views = getattr(net, attr)
    setattr(net, attr, [views[1], views[0]])
    assert np.array_equal(getattr(net, attr)[0], second)
    assert np.array_equal(getattr(net, attr)[1], first)


# ============================================================== non-finite losses

def _exploding_case(dtype, batch_size):
    rng = np.random.default_rng(0)
    X = rng.random((50, 4))
    T = rng.random((50, 2)) * 10
    return X, T, dict(layers=[4, 8, 2], activation="relu", output="identity", dtype=dtype,
                      seed=1)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch_size", [1, 8])
def test_nonfinite_loss_raises_and_records_it(dtype, batch_size):
    X, T, kw = _exploding_case(dtype, batch_size)
    net = cmlp.Network(**kw)
    with pytest.raises(FloatingPointError, match="lr") as info:
        net.fit(X, T, epochs=20, lr=1e6, batch_size=batch_size, verbose=0)
    history = info.value.history
    assert isinstance(history, cmlp.History)
    assert history.stopped == "nonfinite"
    # the epoch it stopped in: not recorded (stopped mid-epoch) or recorded last
    assert history.stopped_epoch in (len(history.cost), len(history.cost) - 1)
    assert np.isfinite(history.cost[:history.stopped_epoch]).all()


@pytest.mark.parametrize("dtype,batch_size", [
    ("float64", 1), ("float64", 8),
    ("float32", 1),  # sgd_epoch replays from a copy and stops before the overflowing row
    ("float32", 8),  # the minibatch driver undoes an update that overflows
])
def test_nonfinite_loss_keeps_the_last_finite_parameters(dtype, batch_size):
    X, T, kw = _exploding_case(dtype, batch_size)
    net = cmlp.Network(**kw)
    with pytest.raises(FloatingPointError):
        net.fit(X, T, epochs=20, lr=1e6, batch_size=batch_size, verbose=0)
    assert np.isfinite(net.params).all()
    # and training goes on from there with a sane learning rate
    assert np.isfinite(net.forward(X)).all() or dtype == "float32"


def test_nonfinite_loss_stops_before_the_offending_sample():
    # one row with an enormous input makes that sample's loss overflow (its output is finite
    # in float64 but its square is not): parameters are those after the rows before it
    X = np.array([[0.5, 0.1], [0.2, 0.3], [1e200, 1e200], [0.4, 0.4]])
    T = np.zeros((4, 1))
    net = cmlp.Network([2, 1], activation="identity", seed=0)
    twin = net.copy()
    with pytest.raises(FloatingPointError, match="sample 3"):
        net.fit(X, T, epochs=1, lr=0.01, shuffle=False, verbose=0)
    twin.fit(X[:2], T[:2], epochs=1, lr=0.01, shuffle=False, verbose=0)
    assert np.array_equal(net.params, twin.params)


@pytest.mark.parametrize("batch_size", [1, 8])
def test_nonfinite_warn_mode(batch_size):
    X, T, kw = _exploding_case("float64", batch_size)
    net = cmlp.Network(**kw)
    with pytest.warns(RuntimeWarning, match="on_nonfinite"):
        history = net.fit(X, T, epochs=5, lr=1e6, batch_size=batch_size, verbose=0,
                          on_nonfinite="warn")
    assert len(history.cost) == 5  # training finished
    assert not np.isfinite(history.cost).all()
    assert "nonfinite" in history.warnings


def test_finite_training_neither_warns_nor_stops(xor):
    X, y = xor
    net = cmlp.Network([2, 3, 1], seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = net.fit(X, y, epochs=5, lr=0.5, verbose=0)
    assert history.stopped is None and np.isfinite(history.cost).all()


# ============================================================== Ctrl-C

SIGINT_CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np, cmlp
    rng = np.random.default_rng(0)
    N = 4000
    X = rng.random((N, 100))
    y = rng.integers(0, 10, N)
    layers = [100, 1500, 1500, 10]
    net = cmlp.Network(layers, seed=0)
    start = net.params.copy()
    print("READY", flush=True)
    try:
        net.fit(X, y, epochs=1, lr=0.01, shuffle=False, verbose=0)
        print(json.dumps({"interrupted": False}), flush=True)
        sys.exit(0)
    except KeyboardInterrupt:
        t_caught = time.monotonic()
    # replay sample by sample from the same start: the interrupted parameters must be those
    # after some number k of completed samples
    assert np.isfinite(net.params).all()
    twin = cmlp.Network(layers, seed=0)
    assert np.array_equal(twin.params, start)
    done = None
    if np.array_equal(twin.params, net.params):
        done = 0
    for k in range(N):
        if done is not None:
            break
        twin.fit(X[k:k + 1], y[k:k + 1], epochs=1, lr=0.01, shuffle=False, verbose=0)
        if np.array_equal(twin.biases[-1], net.biases[-1]) and \\
                np.array_equal(twin.params, net.params):
            done = k + 1
    print(json.dumps({"interrupted": True, "t_caught": t_caught, "done": done, "N": N}),
          flush=True)
""")


def test_sgd_chunk_rows_amortises_the_copy_without_lengthening_small_networks_chunks():
    from cmlp import _core

    def old(P):  # about 2**25 multiply-adds: tens of ms whatever the network
        return max(1, (1 << 25) // (P + 256))
    # small networks (rows cost more per parameter): the 2**25 chunks they always had
    for P in (9, 67, 3760, 100_000):
        assert _core.sgd_chunk_rows(P) == old(P)
    # the notes' network: 256 rows, not 67 (each chunk copies and checks every parameter)
    assert old(497_420) == 67 and _core.sgd_chunk_rows(497_420) == 256
    # larger ones: as many rows as 2**27 multiply-adds allow, never fewer than before
    for P in (2_400_000, 100_000_000):
        assert _core.sgd_chunk_rows(P) == max(old(P), (1 << 27) // (P + 256)) < 256
    with pytest.raises(ValueError, match="n_params"):
        _core.sgd_chunk_rows(-1)


def test_sigint_during_a_long_c_epoch_interrupts_quickly():
    proc = subprocess.Popen([sys.executable, "-c", SIGINT_CHILD], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(0.8)  # well inside the epoch (it takes several seconds)
        t_sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["interrupted"], "the epoch finished before the signal; make it longer"
    latency = result["t_caught"] - t_sent
    print(f"SIGINT latency {latency * 1000:.1f} ms, {result['done']} of {result['N']} samples")
    # ~0.1 s asked; a sanitized build (.ci/sanitizers.sh) runs the C code several times slower
    limit = 0.6 if os.environ.get("CMLP_SANITIZED") else 0.15
    assert latency < limit, f"KeyboardInterrupt took {latency:.3f} s"
    assert result["done"] is not None, "parameters are not those after a whole sample"
    assert 0 < result["done"] < result["N"]


# ============================================================== threads

def _thread_data(n=1500, n_in=30, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in)), rng.integers(0, 4, n)


def test_two_fits_on_one_network_are_serialised():
    X, y = _thread_data()
    net = cmlp.Network([30, 64, 4], seed=0)
    a_then_b, b_then_a = net.copy(), net.copy()
    a_then_b.fit(X, y, epochs=3, seed=1, verbose=0)
    a_then_b.fit(X, y, epochs=3, seed=2, verbose=0)
    b_then_a.fit(X, y, epochs=3, seed=2, verbose=0)
    b_then_a.fit(X, y, epochs=3, seed=1, verbose=0)
    assert not np.array_equal(a_then_b.params, b_then_a.params)

    barrier = threading.Barrier(2)
    errors = []

    def work(seed):
        try:
            barrier.wait()
            net.fit(X, y, epochs=3, seed=seed, verbose=0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert (np.array_equal(net.params, a_then_b.params)
            or np.array_equal(net.params, b_then_a.params)), "the two fits were interleaved"


def test_forward_waits_for_a_fit_on_the_same_network():
    X, y = _thread_data()
    net = cmlp.Network([30, 64, 4], seed=0)
    before = net.forward(X[:5])
    outputs = []
    fit_started = threading.Event()

    def train():
        fit_started.set()
        net.fit(X, y, epochs=4, seed=1, verbose=0)

    t = threading.Thread(target=train)
    t.start()
    fit_started.wait()
    while t.is_alive():
        outputs.append(net.forward(X[:5]))
        time.sleep(0.001)
    t.join()
    after = net.forward(X[:5])
    assert not np.array_equal(before, after)
    # the lock is held for the whole fit: a forward sees the parameters before it or after
    # it, never those of a half-trained network
    for out in outputs:
        assert np.array_equal(out, before) or np.array_equal(out, after)
    assert any(np.array_equal(out, after) for out in outputs[-1:])


def _fit_timed(net, X, y, epochs=2):
    t0 = time.perf_counter()
    net.fit(X, y, epochs=epochs, seed=7, verbose=0)
    return time.perf_counter() - t0


def test_two_networks_in_two_threads_equal_their_single_threaded_results():
    X1, y1 = _thread_data(2500, 60, seed=1)
    X2, y2 = _thread_data(2500, 60, seed=2)
    n1 = cmlp.Network([60, 256, 4], seed=1)
    n2 = cmlp.Network([60, 256, 4], dtype="float32", seed=2)
    s1, s2 = n1.copy(), n2.copy()
    serial = _fit_timed(s1, X1, y1) + _fit_timed(s2, X2, y2)
    threads = [threading.Thread(target=_fit_timed, args=a) for a in ((n1, X1, y1), (n2, X2, y2))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    parallel = time.perf_counter() - t0
    # the ratio is informative only (the machine is shared); the GIL test below is the proof
    print(f"two fits: parallel / serial wall time {parallel / serial:.2f}")
    assert np.array_equal(n1.params, s1.params)
    assert np.array_equal(n2.params, s2.params)


def test_fit_releases_the_gil_during_c_epochs():
    # With a switch interval of 100 s a thread holding the GIL is never asked to drop it, so
    # the main thread could only wake from its sleep once fit is over -- unless fit runs its
    # C epochs without the GIL.
    # The fit must last well beyond the sleep: about 1 s here (0.25 s with 512 hidden units was
    # too close once the per-sample path got faster -- a loaded CI machine woke the sleeper late).
    X, y = _thread_data(20000, 100, seed=3)
    net = cmlp.Network([100, 2048, 10], seed=0)
    old = sys.getswitchinterval()
    done = threading.Event()

    def train():
        net.fit(X, y, epochs=1, seed=1, verbose=0)  # one epoch: one long stretch of C
        done.set()

    sys.setswitchinterval(100.0)
    try:
        t = threading.Thread(target=train)
        t0 = time.perf_counter()
        t.start()
        time.sleep(0.2)
        woke = time.perf_counter() - t0
        still_training = not done.is_set()
    finally:
        sys.setswitchinterval(old)
    t.join()
    total = time.perf_counter() - t0
    print(f"main thread woke after {woke:.2f} s of a {total:.2f} s fit")
    assert still_training, "fit finished before the main thread woke; make it longer"
    # Holding the GIL would make the sleeper wake only when fit is over (woke ~ total); without
    # it the sleeper wakes near 0.2 s. Halfway between is the line.
    assert woke < 0.2 + 0.5 * (total - 0.2)


class _AffinityProbe:
    """A stand-in for ``_core.Team``: run(k) records the CPUs this thread may use."""

    n_threads = 2

    def __init__(self, fail=False):
        self.seen, self.fail = {}, fail

    def run(self, k):
        self.seen[k] = os.sched_getaffinity(0)
        if self.fail:
            raise RuntimeError("member failed")
        return 7


def _in_a_thread(fn):
    """fn() on a fresh thread (its affinity is its own); returns (result, error, the
    thread's affinity after fn)."""
    out = {}

    def body():
        try:
            out["result"] = fn()
        except Exception as e:  # noqa: BLE001 - handed back to the test
            out["error"] = e
        out["after"] = os.sched_getaffinity(0)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    return out.get("result"), out.get("error"), out["after"]


def test_team_cpus_pins_only_a_team_as_large_as_the_usable_cpus(monkeypatch):
    from cmlp.network import _team_cpus
    if not hasattr(os, "sched_setaffinity"):
        assert _team_cpus(2) is None
        return
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5, 1, 3, 7})
    assert _team_cpus(4) == [1, 3, 5, 7]   # one member per usable CPU, in order
    assert _team_cpus(2) is None           # a smaller team: not held to the first CPUs
    assert _team_cpus(8) is None           # a larger one: oversubscribed anyway
    assert _team_cpus(1) is None

    def refuse(pid):
        raise OSError("not allowed")
    monkeypatch.setattr(os, "sched_getaffinity", refuse)
    assert _team_cpus(4) is None
    monkeypatch.delattr(os, "sched_setaffinity")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert _team_cpus(2) is None           # no way to set it (not Linux)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux thread affinity")
@pytest.mark.parametrize("fail", [False, True])
def test_a_team_member_runs_on_its_cpu_and_is_let_go_after(fail):
    from cmlp.network import _run_member
    allowed = sorted(os.sched_getaffinity(0))
    cpus = [allowed[0], allowed[-1]]
    probe = _AffinityProbe(fail)
    result, error, after = _in_a_thread(lambda: _run_member(probe, 1, cpus))
    assert probe.seen[1] == {cpus[1]}      # member 1 ran on cpus[1] alone
    assert after == set(allowed)           # and the thread was let go afterwards
    if fail:
        assert isinstance(error, RuntimeError) and result is None
    else:
        assert error is None and result == 7


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux thread affinity")
def test_a_team_member_runs_unpinned_where_the_os_refuses(monkeypatch):
    from cmlp.network import _run_member

    def refuse(pid, cpus):
        raise OSError("operation not permitted")
    monkeypatch.setattr(os, "sched_setaffinity", refuse)
    allowed = os.sched_getaffinity(0)
    probe = _AffinityProbe()
    result, error, after = _in_a_thread(lambda: _run_member(probe, 0, [min(allowed)]))
    assert error is None and result == 7
    assert probe.seen[0] == allowed == after


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux thread affinity")
def test_a_pinned_team_fit_leaves_the_callers_affinity_and_changes_no_result(monkeypatch):
    # n_threads = the usable CPUs pins the team (member k on the k-th usable CPU while it
    # runs); the calling thread's own affinity is not touched, and the parameters are those
    # of the same fit left unpinned, bit for bit
    import cmlp.network as network_module
    allowed = os.sched_getaffinity(0)
    n = len(allowed)
    if not 2 <= n <= 64:  # a team has at most batch_size (64) members
        pytest.skip("needs 2 to 64 usable CPUs")
    monkeypatch.setattr(network_module, "MIN_WORK_PER_THREAD", 1)  # a team on any CPU count
    real_run, real_cpus = network_module._run_member, network_module._team_cpus
    seen = []

    def spy(team, k, cpus):
        seen.append((k, None if cpus is None else cpus[k]))
        return real_run(team, k, cpus)
    monkeypatch.setattr(network_module, "_run_member", spy)
    X, y = _thread_data(2000, 60, seed=4)
    params = {}
    for pinned in (True, False):
        monkeypatch.setattr(network_module, "_team_cpus",
                            real_cpus if pinned else (lambda n_threads: None))
        seen.clear()
        net = cmlp.Network([60, 256, 64, 10], activation="relu", loss="cross_entropy",
                           seed=0)
        net.fit(X, y, epochs=2, batch_size=64, lr=0.05, n_threads=n, seed=1, verbose=0)
        params[pinned] = net.params.copy()
        assert os.sched_getaffinity(0) == allowed
        assert {k for k, _ in seen} == set(range(n)), seen  # every member ran
        order = sorted(allowed)
        expected = [order[k] if pinned else None for k, _ in seen]
        assert [cpu for _, cpu in seen] == expected
    assert np.array_equal(params[True], params[False])


# ============================================================== determinism

DETERMINISM_CHILD = textwrap.dedent("""
    import hashlib, json
    import numpy as np, cmlp
    rng = np.random.default_rng(5)
    X = rng.random((120, 12))
    y = rng.integers(0, 3, 120)
    out = {}
    for dtype in ("float64", "float32"):
        for bs in (1, 16):
            for act, loss in (("sigmoid", "tse"), ("relu", "cross_entropy")):
                net = cmlp.Network([12, 20, 3], activation=act, loss=loss, dtype=dtype,
                                   init="he" if act == "relu" else "uniform", seed=11)
                h = net.fit(X, y, epochs=3, lr=0.05, batch_size=bs, verbose=0)
                h2 = net.fit(X, y, epochs=2, lr=0.05, batch_size=bs, seed=3, verbose=0)
                key = f"{dtype}-{bs}-{act}"
                out[key] = [hashlib.sha256(net.params.tobytes()).hexdigest(),
                            h.cost.tolist(), h2.cost.tolist()]
    print(json.dumps(out))
""")


def test_same_seed_same_data_gives_bit_identical_results_across_processes():
    results = []
    for hashseed in ("0", "1"):
        proc = _run_python(DETERMINISM_CHILD, env={"PYTHONHASHSEED": hashseed})
        assert proc.returncode == 0, proc.stderr
        results.append(json.loads(proc.stdout))
    assert results[0] == results[1]
    # and in this process too
    ns = {}
    exec(compile(DETERMINISM_CHILD.replace("print(json.dumps(out))", ""), "child", "exec"), ns)
    assert json.loads(json.dumps(ns["out"])) == results[0]
    # different constructor seeds do differ
    assert len({v[0] for v in results[0].values()}) == len(results[0])


def test_same_seed_same_network_within_a_process():
    X, y = _thread_data(200, 10)
    a = cmlp.Network([10, 16, 4], seed=123)
    b = cmlp.Network([10, 16, 4], seed=np.random.default_rng(123))
    assert np.array_equal(a.params, b.params)
    a.fit(X, y, epochs=2, verbose=0)
    b.fit(X, y, epochs=2, verbose=0)
    assert np.array_equal(a.params, b.params)
    c = cmlp.Network([10, 16, 4], seed=123)
    c.fit(X, y, epochs=2, seed=9, verbose=0)
    assert not np.array_equal(a.params, c.params)


# ============================================================== resident memory

RSS_CHILD = textwrap.dedent("""
    import gc, json, os, sys, tempfile
    import numpy as np, cmlp
    from cmlp.datasets import load_mnist_csv

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    rng = np.random.default_rng(0)
    X = rng.random((64, 50))
    y = rng.integers(0, 10, 64)
    net = cmlp.Network([50, 300, 10], seed=0)
    net32 = cmlp.Network([50, 300, 10], dtype="float32", seed=0)
    tmp = tempfile.mkdtemp()
    csv = os.path.join(tmp, "rows.csv")
    with open(csv, "w") as f:
        for i in range(20):
            f.write(str(i % 10) + "," + ",".join(str((i * j) % 256) for j in range(784)) + "\\n")
    saved = None
    try:
        from cmlp.persistence import load as cmlp_load, save as cmlp_save
    except ImportError:
        cmlp_load = None
    if cmlp_load is not None:
        saved = os.path.join(tmp, "net.cmlp")
        cmlp_save(net, saved)

    calls = {
        "fit": lambda: net.fit(X, y, epochs=1, lr=0.01, verbose=0),
        "fit-minibatch": lambda: net32.fit(X, y, epochs=1, lr=0.01, batch_size=16, verbose=0),
        "forward": lambda: net.forward(X),
        "gradients": lambda: net32.gradients(X, y),
        "load_mnist_csv": lambda: load_mnist_csv(csv, scale=False),
    }
    if saved is not None:
        calls["load"] = lambda: cmlp_load(saved)
    out = {}
    for name, call in calls.items():
        for _ in range(100):
            call()
        gc.collect()
        before = rss()
        for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 1000):
            call()
        gc.collect()
        out[name] = rss() - before
    print(json.dumps(out))
""")


@pytest.mark.skipif(bool(os.environ.get("CMLP_SANITIZED")),
                    reason="ASan's quarantine keeps freed memory resident; leaks are checked "
                    "by .ci/valgrind.sh instead")
def test_resident_memory_stays_flat_over_repeated_calls():
    proc = _run_python(RSS_CHILD, timeout=300)
    assert proc.returncode == 0, proc.stderr
    growth = json.loads(proc.stdout)
    print({k: f"{v / 2**20:.2f} MiB" for k, v in growth.items()})
    if cmlp_load is not None:
        assert "load" in growth
    for name, grew in growth.items():
        # a leaked work buffer per call would be >= 2.4 MB over 1,000 calls (forward: 150 kB
        # per call); allocator noise stays far below
        assert grew < 2 * 2**20, f"{name}: RSS grew {grew / 2**20:.1f} MiB over 1000 calls"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_per_sample_sgd_is_bit_identical_across_n_threads(dtype):
    # per-sample SGD stays single-threaded whatever n_threads says: same bits
    rng = np.random.default_rng(0)
    X = rng.random((40, 6))
    y = rng.integers(0, 3, 40)
    results = []
    for n_threads in (1, 2, None):
        net = cmlp.Network([6, 5, 3], activation="tanh", dtype=dtype, seed=1)
        net.fit(X, y, epochs=2, lr=0.2, batch_size=1, seed=3, n_threads=n_threads, verbose=0)
        results.append(net.params.copy())
    for params in results[1:]:
        np.testing.assert_array_equal(params, results[0])


def test_sparse_targets_and_weights_are_refused_with_the_fix():
    sp = pytest.importorskip("scipy.sparse")
    net = _net()
    T = np.eye(3)[[0, 1, 2, 0]]
    with pytest.raises(TypeError, match=r"y cannot be sparse .*pass y\.toarray\(\)"):
        net.cost(ROW, sp.csr_matrix(T))
    with pytest.raises(TypeError, match=r"sample_weight cannot be sparse"):
        net.cost(ROW, T, sample_weight=sp.csr_matrix(np.ones((1, 4))))


def test_a_dataframe_of_numeric_columns_of_mixed_or_nullable_dtypes_is_read_as_numbers():
    pd = pytest.importorskip("pandas")
    net = cmlp.Network([2, 3, 2], seed=0)
    expected = net.forward(np.array([[1.0, 1.0], [0.0, 0.0]]))
    mixed = pd.DataFrame({"a": [1, 0], "b": [True, False]})
    nullable = pd.DataFrame({"a": [1, 0], "b": [1, 0]}).astype("Int64")
    for X in (mixed, nullable):
        np.testing.assert_array_equal(net.forward(X), expected)
    with pytest.raises(ValueError, match="X contains NaN"):
        net.forward(pd.DataFrame({"a": [1, None], "b": [1, 0]}).astype("Int64"))
    with pytest.raises(TypeError, match="X must hold numbers"):
        net.forward(pd.DataFrame({"a": [1, 0], "b": ["x", "y"]}))
