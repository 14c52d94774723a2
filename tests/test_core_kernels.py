"""Each C kernel (through its _core twin) against cmlp.reference or a plain NumPy oracle,
over dtype x activation x odd sizes."""
import itertools
from pathlib import Path

import numpy as np
import pytest

import cmlp
from cmlp import _core
from cmlp import reference as ref
from conftest import assert_close

DTYPES = [np.float32, np.float64]
HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "identity"]
SIZES = [1, 7, 63]
CODES = _core.ACTIVATION_CODES


def test_extension_is_compiled():
    # a broken build must fail loudly, never fall back to slow Python
    suffix = Path(_core.__file__).suffix
    assert suffix in (".so", ".pyd"), _core.__file__
    assert cmlp.Network.__module__ == "cmlp.network"


@pytest.fixture(autouse=True)
def _every_variant(each_isa):
    """Every kernel test runs under each instruction-set variant available here."""
    return each_isa


def test_variants_are_available_and_selectable():
    isas = _core.available_isas()
    assert isas[0] == "base" and _core.get_isa() in isas
    with pytest.raises(ValueError, match="isa must be one of"):
        _core.set_isa("sse9")
    for name in set(_core.ISAS) - set(isas):
        with pytest.raises(ValueError, match="not available here"):
            _core.set_isa(name)


def test_variants_agree_with_each_other():
    rng = np.random.default_rng(0)
    net = cmlp.Network([63, 65, 7, 3], activation="tanh", seed=1)
    X = _inputs(rng, 40, 63, np.float64)
    y = rng.integers(0, 3, 40)
    previous, results = _core.get_isa(), []
    try:
        for isa in _core.available_isas():
            _core.set_isa(isa)
            n = net.copy()
            n.fit(X, y, epochs=2, lr=0.1, seed=0, verbose=0)
            results.append((n.forward(X), n.params.copy()))
    finally:
        _core.set_isa(previous)
    for out, params in results[1:]:
        # the variants differ only in the order of additions inside dot products
        np.testing.assert_allclose(out, results[0][0], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(params, results[0][1], rtol=1e-11, atol=1e-13)


def _ulps(a, b):
    """Distance in units in the last place between same-signed finite arrays a and b."""
    ints = np.int64 if a.dtype == np.float64 else np.int32
    return np.abs(a.view(ints).astype(np.int64) - b.view(ints).astype(np.int64))


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_vectorised_exp_is_within_one_ulp_and_keeps_special_values(dtype):
    """act_forward's exp (the exp output, sigmoid and softmax use it) is computed in C by a
    vectorised polynomial, not by libm: within 1 ulp of the exactly rounded value over the
    range where it applies (checked against long double; NumPy's own exp is within 1 ulp
    too), and libm's results for what lies outside (overflow, underflow, inf, NaN)."""
    lim = 707.0 if dtype == np.float64 else 86.0
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-lim, lim, 400_000), rng.uniform(-1, 1, 200_000),
                        rng.uniform(-1e-6, 1e-6, 50_000), [0.0, -0.0, lim, -lim]]).astype(dtype)
    a = x[None, :].copy()
    _core.act_forward(a, CODES["exp"])
    exact = np.exp(x.astype(np.longdouble)).astype(dtype)
    if np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps:
        pytest.skip("long double is double here: no exact reference")
    assert _ulps(a[0], exact).max() <= 1
    special = np.array([np.inf, -np.inf, np.nan, 1e4, -1e4, lim + 1, -lim - 1], dtype)
    for v in special:  # one value outside sends the whole call to libm
        b = np.concatenate([x[:5], [v]])[None, :]
        with np.errstate(over="ignore", under="ignore"):
            want = np.exp(b[0].astype(np.float64)).astype(dtype)
        _core.act_forward(b, CODES["exp"])
        np.testing.assert_array_equal(b[0], want)
    s = np.array([[-np.inf, -1e4, np.nan, 1e4, np.inf]], dtype)
    _core.act_forward(s, CODES["sigmoid"])
    np.testing.assert_array_equal(s[0], np.array([0, 0, np.nan, 1, 1], dtype))


def _inputs(rng, B, I, dtype, sparse=True):
    x = rng.standard_normal((B, I))
    if sparse:
        x[rng.random((B, I)) < 0.4] = 0.0  # exercise the exact zero-skipping
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", HIDDEN + ["softmax", "exp"])
@pytest.mark.parametrize("B,I,O", [(1, 1, 1), (1, 7, 63), (7, 63, 7), (63, 7, 1), (5, 63, 63)])
def test_dense_forward_matches_reference(dtype, act, B, I, O):
    if act == "softmax" and O == 1:
        pytest.skip("softmax needs at least 2 units")
    rng = np.random.default_rng(B * 100 + I * 10 + O)
    x = _inputs(rng, B, I, dtype)
    W = rng.standard_normal((I, O)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    a = np.full((B, O), np.nan, dtype=dtype)  # overwritten, whatever was there
    _core.dense_forward(a, x, W, b, CODES[act])
    # the notes' n = W^T a + b, a = sigma(n), one sample (column) at a time
    expected = np.array([ref.activation(act, W.astype(np.float64).T @ xr.astype(np.float64)
                                        + b.astype(np.float64)) for xr in x])
    assert_close(a, expected, dtype, act)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", HIDDEN + ["exp"])
@pytest.mark.parametrize("n", SIZES)
def test_act_backward_is_the_derivative_from_the_output(dtype, act, n):
    rng = np.random.default_rng(n)
    z = rng.standard_normal(n) * 3
    a = ref.activation(act, z).astype(dtype)
    d = rng.standard_normal(n).astype(dtype)
    expected = d.astype(np.float64) * ref.activation_derivative(act, z)
    _core.act_backward(d, a, CODES[act])
    assert_close(d, expected, dtype, act)


def _loss_pairs():
    for loss in ["tse", "mse", "cross_entropy", "poisson"]:
        outs = {"cross_entropy": ["sigmoid", "softmax"], "poisson": ["exp"]}.get(
            loss, HIDDEN + ["softmax", "exp"])
        for out in outs:
            yield loss, out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss,out", list(_loss_pairs()))
@pytest.mark.parametrize("K", [2, 7])
def test_output_delta_and_loss_match_reference(dtype, loss, out, K):
    rng = np.random.default_rng(K)
    B = 5
    n = rng.standard_normal((B, K))
    y = np.array([ref.activation(out, r) for r in n])
    labels = rng.integers(0, K, B)
    t = np.eye(K)[labels] if out in ("softmax", "sigmoid") else rng.standard_normal((B, K))
    if loss == "poisson":
        t = rng.poisson(1.5, (B, K)).astype(np.float64)  # counts
        t[0, 0] = 0.0  # the 0 log 0 = 0 term
    S = np.empty((B, K), dtype=dtype)
    _core.output_delta(S, y.astype(dtype), t.astype(dtype), _core.LOSS_CODES[loss], CODES[out])
    expected = np.array([ref.output_delta(loss, out, t[r].reshape(-1, 1), y[r].reshape(-1, 1),
                                          n[r].reshape(-1, 1)).ravel() for r in range(B)])
    assert_close(S, expected, dtype, f"{loss}/{out}")
    total = _core.loss_forward(y.astype(dtype), t.astype(dtype), _core.LOSS_CODES[loss],
                               CODES[out])
    expected_total = sum(ref.loss_term(loss, out, t[r], y[r]) for r in range(B))
    assert total == pytest.approx(expected_total, rel=1e-5 if dtype == np.float32 else 1e-12)


def test_softmax_tse_delta_is_not_the_diagonal_formula():
    # the softmax Jacobian is not diagonal: using y(1-y) there would be wrong
    y = np.array([[0.7, 0.2, 0.1]])
    t = np.array([[1.0, 0.0, 0.0]])
    S = np.empty_like(y)
    _core.output_delta(S, y, t, _core.LOSS_CODES["tse"], CODES["softmax"])
    g = -2 * (t - y)  # [-0.6, 0.4, 0.2]
    yg = (y * g).sum()  # -0.42 + 0.08 + 0.02 = -0.32
    np.testing.assert_allclose(S, y * (g - yg))  # [0.7*(-0.28), 0.2*0.72, 0.1*0.52]
    np.testing.assert_allclose(S, [[-0.196, 0.144, 0.052]], rtol=1e-12)
    assert abs(S.sum()) < 1e-15  # a softmax delta sums to zero
    assert not np.allclose(S, g * y * (1 - y))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act_x", HIDDEN)
@pytest.mark.parametrize("B,I,O", [(1, 1, 1), (7, 63, 7), (63, 7, 1), (3, 7, 63)])
def test_dense_backward_accumulates(dtype, act_x, B, I, O):
    rng = np.random.default_rng(B + I + O)
    x = ref.activation(act_x, _inputs(rng, B, I, np.float64)).astype(dtype)
    W = rng.standard_normal((I, O)).astype(dtype)
    dz = rng.standard_normal((B, O)).astype(dtype)
    dW0 = rng.standard_normal((I, O)).astype(dtype)
    db0 = rng.standard_normal(O).astype(dtype)
    dW, db = dW0.copy(), db0.copy()
    dx = np.full((B, I), np.nan, dtype=dtype)
    _core.dense_backward(dx, dW, db, dz, x, W, CODES[act_x])
    x64, W64, dz64 = (v.astype(np.float64) for v in (x, W, dz))
    assert_close(dW, dW0 + x64.T @ dz64, dtype, "dW accumulates x^T dz")
    assert_close(db, db0 + dz64.sum(axis=0), dtype, "db accumulates")
    # S_{i-1} = A_{i-1} W_i S_i with A from the stored activation (no diag matrix)
    deriv = np.vectorize(lambda a: {"sigmoid": a * (1 - a), "tanh": 1 - a * a,
                                    "relu": float(a > 0), "leaky_relu": 1.0 if a > 0 else 0.01,
                                    "elu": 1.0 if a > 0 else a + 1, "identity": 1.0}[act_x])
    assert_close(dx, (dz64 @ W64.T) * deriv(x64), dtype, "dx")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act_x", HIDDEN)
@pytest.mark.parametrize("I,O", [(1, 1), (7, 63), (63, 7), (64, 10)])
def test_fused_backward_sgd_equals_two_pass(dtype, act_x, I, O):
    """One pass (product with the old W, then update) == backward then sgd_update."""
    rng = np.random.default_rng(I * O)
    x = ref.activation(act_x, _inputs(rng, 1, I, np.float64)[0]).astype(dtype)
    W = rng.standard_normal((I, O)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    s = rng.standard_normal(O).astype(dtype)
    lr = 0.3
    W1, b1, dx1 = W.copy(), b.copy(), np.empty(I, dtype=dtype)
    _core.dense_backward_sgd(dx1, W1, b1, s, x, lr, CODES[act_x])
    # two passes: gradients into zeroed buffers, then the update kernel
    dW, db, dx2 = np.zeros_like(W), np.zeros_like(b), np.empty((1, I), dtype=dtype)
    _core.dense_backward(dx2, dW, db, s.reshape(1, O), x.reshape(1, I), W, CODES[act_x])
    W2, b2 = W.copy(), b.copy()
    _core.sgd_update(W2.reshape(-1), dW.reshape(-1), lr)
    _core.sgd_update(b2, db, lr)
    assert_close(dx1, dx2[0], dtype, "dx from the old weights")
    assert_close(W1, W2, dtype, "W")
    assert_close(b1, b2, dtype, "b")
    if dtype == np.float64:
        # the update is the same arithmetic: W - (lr x_k) s_j vs W - lr (x_k s_j)
        np.testing.assert_allclose(W1, W2, rtol=1e-15, atol=1e-15)


def test_fused_backward_without_dx():
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([0.5, -0.5])
    _core.dense_backward_sgd(None, W, b, np.array([1.0, -1.0]), np.array([0.0, 2.0]), 0.5,
                             CODES["identity"])
    # row 0 has x = 0: unchanged; row 1: [3, 4] - 0.5 * 2 * [1, -1] = [2, 5]
    np.testing.assert_array_equal(W, [[1.0, 2.0], [2.0, 5.0]])
    np.testing.assert_array_equal(b, [0.0, 0.0])  # b - 0.5 * [1, -1]


@pytest.mark.parametrize("func,args,match", [
    ("dense_forward", lambda d: (np.empty((2, 3), d), np.ones((2, 4), d), np.ones((5, 3), d),
                                 np.ones(3, d), 1), "W: expected shape"),
    ("dense_forward", lambda d: (np.empty((2, 2), d), np.ones((2, 4), d), np.ones((4, 3), d),
                                 np.ones(3, d), 1), "a: expected shape"),
    ("act_backward", lambda d: (np.ones(3, d), np.ones(3, d), 6), "no elementwise derivative"),
    ("output_delta", lambda d: (np.empty((2, 3), d), np.ones((2, 3), d), np.ones((2, 2), d),
                                0, 1), "t: expected shape"),
    ("sgd_update", lambda d: (np.ones(3, d), np.ones(4, d), 0.1), "g: expected shape"),
])
def test_bridge_checks_shapes(func, args, match):
    with pytest.raises(ValueError, match=match):
        getattr(_core, func)(*args(np.float64))


def test_bridge_refuses_aliasing_outputs():
    p = np.ones(6)
    with pytest.raises(ValueError, match="must not share memory"):
        _core.sgd_update(p, p, 0.1)
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="must not share memory"):
        _core.dense_forward(x, x, np.ones((3, 3)), np.ones(3), 0)


def test_bridge_refuses_wrong_dtype_and_layout():
    with pytest.raises((TypeError, ValueError)):
        _core.sgd_update(np.ones(3, np.float64), np.ones(3, np.float32), 0.1)
    x_fortran = np.asfortranarray(np.ones((3, 4)))
    with pytest.raises(ValueError, match="contiguous"):
        _core.dense_forward(np.empty((3, 2)), x_fortran, np.ones((4, 2)), np.ones(2), 0)


def test_arch_rejects_bad_shapes():
    with pytest.raises(ValueError, match="sizes"):
        _core.Arch([3], [], 0)
    with pytest.raises(ValueError, match="softmax"):
        _core.Arch([3, 4, 2], [CODES["softmax"], CODES["sigmoid"]], 0)
    with pytest.raises(ValueError, match="acts"):
        _core.Arch([3, 4, 2], [1], 0)
    arch = _core.Arch([784, 500, 200, 10], [1, 1, 1], 0)
    assert arch.n_params == 784 * 500 + 500 + 500 * 200 + 200 + 200 * 10 + 10 == 494710


@pytest.mark.parametrize("dtype", DTYPES)
def test_network_drivers_over_block_boundaries(dtype):
    """net_forward/net_loss/net_gradients work in blocks of rows: sizes around a block."""
    rng = np.random.default_rng(0)
    for N in [1, _core.BLOCK - 1, _core.BLOCK, _core.BLOCK + 1, 2 * _core.BLOCK + 3]:
        net = cmlp.Network([7, 6, 5, 3], activation=["tanh", "relu"], output="softmax",
                           loss="cross_entropy", dtype=dtype, seed=N, init="xavier")
        X = _inputs(rng, N, 7, dtype)
        y = rng.integers(0, 3, N)
        W, b = [w.astype(np.float64) for w in net.weights], \
            [v.astype(np.float64).reshape(-1, 1) for v in net.biases]
        assert_close(net.forward(X), ref.forward(W, b, net.activations, X), dtype, f"N={N}")
        rW, rb, rc = ref.gradients(W, b, net.activations, "cross_entropy", X, np.eye(3)[y])
        dW, db = net.gradients(X, y)
        for got, exp in zip(dW + db, rW + [v.ravel() for v in rb]):
            assert_close(got, exp, dtype, f"gradients N={N}")
        assert net.cost(X, y) == pytest.approx(rc, rel=1e-5 if dtype == np.float32 else 1e-12)


def test_all_pairs_are_covered():
    # guard the parametrisation above against silently shrinking
    pairs = list(_loss_pairs())
    assert len(pairs) == 8 + 8 + 2 + 1
    assert set(itertools.chain(HIDDEN, ["softmax", "exp"])) == set(CODES)
