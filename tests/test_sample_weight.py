"""Sample weights and the Poisson loss in cmlp.Network, from the C drivers up: against
cmlp.reference (weighted whole-set cost and gradients, weighted minibatch steps), finite
differences, and the identities that pin the semantics (integer weights == repeated rows,
zero weights == dropped rows, a zero-weight batch makes no step)."""
import numpy as np
import pytest

import cmlp
import cmlp.network
from cmlp import _core
from cmlp import reference as ref
from conftest import assert_close, ref_params

DTYPES = [np.float32, np.float64]
# (hidden activation, output, loss, n_L): every loss, binary cross-entropy on several outputs
CASES = [
    ("tanh", "sigmoid", "tse", 3),
    ("sigmoid", "identity", "mse", 2),
    ("relu", "softmax", "cross_entropy", 3),
    ("tanh", "sigmoid", "cross_entropy", 3),  # multilabel: one binary cross-entropy per unit
    ("tanh", "exp", "poisson", 2),
]
IDS = [f"{a}-{o}-{lo}" for a, o, lo, _ in CASES]


def _problem(case, seed=0, N=13, n_in=5, dtype=np.float64):
    """X, 2-D targets fitting the loss, and weights with zeros among them."""
    _, out, loss, K = case
    rng = np.random.default_rng(seed)
    X = rng.random((N, n_in))
    X[X < 0.3] = 0.0
    if out == "softmax":
        T = np.eye(K)[rng.integers(0, K, N)]
    elif out == "sigmoid":
        T = (rng.random((N, K)) < 0.5).astype(float)
    elif loss == "poisson":
        T = rng.poisson(1.2, (N, K)).astype(float)
        T[0, 0] = 0.0
    else:
        T = rng.standard_normal((N, K))
    w = rng.random(N) * 2
    w[[1, 4, 9][:2 + (N > 9)]] = 0.0
    return X.astype(dtype), T, w


def _net(case, dtype=np.float64, seed=3, hidden=4, n_in=5):
    act, out, loss, K = case
    return cmlp.Network([n_in, hidden, K], activation=act, output=out, loss=loss,
                        init="xavier", dtype=dtype, seed=seed)


def _flat(dW, db):
    return np.concatenate([np.concatenate([a.ravel(), b.ravel()]) for a, b in zip(dW, db)])


# ---------------------------------------------------------------- gradients and cost


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_weighted_gradients_and_cost_match_the_reference(case, dtype, each_backend):
    X, T, w = _problem(case, dtype=dtype)
    net = _net(case, dtype)
    W, b = ref_params(net)
    rW, rb, rcost = ref.gradients(W, b, net.activations, net.loss, X, T, sample_weight=w)
    dW, db = net.gradients(X, T, sample_weight=w)
    for i in range(2):
        assert_close(dW[i], rW[i], dtype, f"dW[{i}]")
        assert_close(db[i], rb[i].ravel(), dtype, f"db[{i}]")
    rel = 1e-5 if dtype == np.float32 else 1e-12
    assert net.cost(X, T, sample_weight=w) == pytest.approx(rcost, rel=rel)
    assert rcost == pytest.approx(ref.total_cost(W, b, net.activations, net.loss, X, T, w),
                                  rel=1e-14)
    # the weighted cost is not the unweighted one: the weights reach the kernels
    assert net.cost(X, T) != pytest.approx(rcost, rel=1e-3)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_weighted_gradients_match_central_differences(case):
    X, T, w = _problem(case, seed=5, N=7)
    X = X + 0.05
    for seed in range(100):  # keep relu units away from their kink
        net = _net(case, seed=seed)
        W, b = ref_params(net)
        if net.activations[0] != "relu" or all(
                np.abs(ref.feedforward(W, b, net.activations, x)[1][1]).min() > 1e-3 for x in X):
            break
    grad = _flat(*net.gradients(X, T, sample_weight=w))
    p0 = net.params.copy()
    h = 1e-6
    numeric = np.empty_like(p0)
    for k in range(p0.size):
        net.params[k] = p0[k] + h
        up = net.cost(X, T, sample_weight=w)
        net.params[k] = p0[k] - h
        down = net.cost(X, T, sample_weight=w)
        net.params[k] = p0[k]
        numeric[k] = (up - down) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_integer_weights_equal_repeated_rows(case, each_backend):
    X, T, _ = _problem(case, seed=2, N=11)
    counts = np.array([1, 3, 0, 2, 1, 1, 4, 0, 2, 1, 5])
    Xr, Tr = np.repeat(X, counts, axis=0), np.repeat(T, counts, axis=0)
    net = _net(case)
    np.testing.assert_allclose(_flat(*net.gradients(X, T, sample_weight=counts)),
                               _flat(*net.gradients(Xr, Tr)), rtol=1e-12, atol=1e-15)
    assert net.cost(X, T, sample_weight=counts) == pytest.approx(net.cost(Xr, Tr), rel=1e-12)
    # full-batch training: the same steps as on the repeated rows, with the same History
    a, b = net.copy(), net.copy()
    ha = a.fit(X, T, sample_weight=counts, epochs=4, lr=0.05, batch_size=None, shuffle=False,
               optimizer="adam", l2=1e-3, verbose=0, n_threads=1)
    hb = b.fit(Xr, Tr, epochs=4, lr=0.05, batch_size=len(Xr), shuffle=False, optimizer="adam",
               l2=1e-3, verbose=0, n_threads=1)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(ha.cost, hb.cost, rtol=1e-11)


# ---------------------------------------------------------------- zero weights


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_zero_weight_rows_are_dropped_rows(case, each_backend):
    X, T, w = _problem(case, seed=4)
    keep = w > 0
    net = _net(case)
    np.testing.assert_allclose(_flat(*net.gradients(X, T, sample_weight=w)),
                               _flat(*net.gradients(X[keep], T[keep], sample_weight=w[keep])),
                               rtol=1e-12, atol=1e-15)
    assert net.cost(X, T, sample_weight=w) == pytest.approx(
        net.cost(X[keep], T[keep], sample_weight=w[keep]), rel=1e-12)
    # a zero-weight row whose output overflows counts for nothing either
    X2 = X.copy()
    X2[1] = 1e6 if case[2] == "poisson" else X2[1]
    assert np.isfinite(net.cost(X2, T, sample_weight=w))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_zero_weight_rows_are_dropped_in_per_sample_and_full_batch_fit(case):
    X, T, w = _problem(case, seed=6)
    keep = w > 0
    net = _net(case)
    # batch_size=1 (the notes' per-sample path): rows of weight 0 are skipped, and a weight
    # > 0 does not change the row's update
    a, b, c = net.copy(), net.copy(), net.copy()
    a.fit(X, T, sample_weight=w, epochs=3, lr=0.1, shuffle=False, verbose=0)
    b.fit(X[keep], T[keep], epochs=3, lr=0.1, shuffle=False, verbose=0)
    c.fit(X, T, sample_weight=keep.astype(float), epochs=3, lr=0.1, shuffle=False, verbose=0)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.params, c.params)
    # full batch: the weighted mean over the rows that count
    a, b = net.copy(), net.copy()
    a.fit(X, T, sample_weight=w, epochs=3, lr=0.1, batch_size=None, shuffle=False, verbose=0,
          n_threads=1)
    b.fit(X[keep], T[keep], sample_weight=w[keep], epochs=3, lr=0.1, batch_size=None,
          shuffle=False, verbose=0, n_threads=1)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_a_zero_weight_batch_makes_no_step(optimizer, each_backend):
    """Batches [0:4) [4:8) [8:12): the middle one has weight 0, so training is that on the
    other two batches alone (Adam's step count and moments untouched by it)."""
    case = CASES[2]
    X, T, _ = _problem(case, seed=8, N=12)
    w = np.ones(12)
    w[4:8] = 0.0
    other = np.r_[0:4, 8:12]
    net = _net(case)
    a, b = net.copy(), net.copy()
    ha = a.fit(X, T, sample_weight=w, epochs=3, lr=0.05, batch_size=4, shuffle=False,
               optimizer=optimizer, verbose=0, n_threads=1)
    hb = b.fit(X[other], T[other], epochs=3, lr=0.05, batch_size=4, shuffle=False,
               optimizer=optimizer, verbose=0, n_threads=1)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ha.cost, hb.cost, rtol=1e-12)
    # the C driver leaves the parameters, the state and the step count as they were
    arch = net._arch
    p = net.params.copy()
    grad, state = np.zeros_like(p), np.zeros(2 * p.size)
    opt = _core.Optim(_core.OPTIMIZER_CODES["adam"], 0.1)
    status, done, loss = _core.train_batches(arch, opt, p, grad, state, X, T,
                                             np.arange(4, 8, dtype=np.int64), 4, None,
                                             np.zeros(1), True, w)
    assert (status, done, loss, opt.t) == (0, 4, 0.0, 0)
    np.testing.assert_array_equal(p, net.params)
    assert not state.any() and not grad.any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_weighted_minibatch_training_matches_the_reference(case, dtype, each_backend):
    X, T, w = _problem(case, seed=9, dtype=dtype)
    net = _net(case, dtype)
    W, b = ref_params(net)
    state = ref.new_optimizer_state(W)
    rng = np.random.default_rng(17)
    X64 = X.astype(np.float64)
    for _ in range(3):
        perm = rng.permutation(len(X))
        for s in range(0, len(X), 4):
            W, b = ref.train_step(W, b, net.activations, net.loss, X64, T, perm[s:s + 4], 0.05,
                                  "momentum", state, l2=1e-3, sample_weight=w)
    h = net.fit(X, T, sample_weight=w, epochs=3, lr=0.05, batch_size=4, seed=17,
                optimizer="momentum", l2=1e-3, verbose=0, n_threads=1)
    for i in range(2):
        assert_close(net.weights[i], W[i], dtype, f"W[{i}]")
        assert_close(net.biases[i], b[i].ravel(), dtype, f"b[{i}]")
    expected = ref.total_cost(W, b, net.activations, net.loss, X, T, w) + ref.penalty(W, l2=1e-3)
    assert h.cost[-1] == pytest.approx(expected, rel=1e-4 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
def test_weights_on_two_threads_match_one(dtype, monkeypatch, each_backend):
    monkeypatch.setattr(cmlp.network, "MIN_WORK_PER_THREAD", 1)
    case = CASES[2]
    X, T, _ = _problem(case, seed=10, N=60, dtype=dtype)
    w = np.random.default_rng(1).random(60) * 3
    w[16:32] = 0.0  # one whole batch of weight 0, and zeros elsewhere
    w[::7] = 0.0
    base = _net(case, dtype, hidden=16)
    out = {}
    for nt in (1, 2):
        net = base.copy()
        net.fit(X, T, sample_weight=w, epochs=2, lr=0.01, batch_size=16, optimizer="adam",
                l2=1e-3, seed=4, n_threads=nt, verbose=0)
        out[nt] = net.params.copy()
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out[2], out[1], **tol)
    assert not np.allclose(out[1], base.params)


# ---------------------------------------------------------------- History, validation, score


def test_history_and_validation_use_the_weights():
    case = CASES[2]
    X, T, w = _problem(case, seed=11, N=40)
    net = _net(case)
    h = net.fit(X, T, sample_weight=w, epochs=2, lr=0.1, batch_size=8, verbose=0,
                validation_split=0.25, n_threads=1)
    Xt, Tt, wt = X[:30], T[:30], w[:30]
    Xv, Tv, wv = X[30:], T[30:], w[30:]
    assert h.cost[-1] == pytest.approx(net.cost(Xt, Tt, sample_weight=wt), rel=1e-12)
    assert h.val_cost[-1] == pytest.approx(net.cost(Xv, Tv, sample_weight=wv), rel=1e-12)
    pred = net.predict(Xv) == Tv.argmax(axis=1)
    assert h.val_accuracy[-1] == pytest.approx((wv * pred).sum() / wv.sum(), rel=1e-12)
    assert net.score(Xv, Tv, sample_weight=wv) == pytest.approx(h.val_accuracy[-1], rel=1e-12)
    h2 = net.fit(Xt, Tt, sample_weight=wt, epochs=1, verbose=0, validation_data=(Xv, Tv, wv))
    assert h2.val_cost[0] == pytest.approx(net.cost(Xv, Tv, sample_weight=wv), rel=1e-12)


def test_weighted_r2_score():
    case = CASES[1]
    X, T, w = _problem(case, seed=12)
    net = _net(case)
    Y = net.forward(X)
    tbar = (w[:, None] * T).sum(axis=0) / w.sum()
    expected = 1 - (w[:, None] * (T - Y) ** 2).sum() / (w[:, None] * (T - tbar) ** 2).sum()
    assert net.score(X, T, sample_weight=w) == pytest.approx(expected, rel=1e-12)
    assert net.score(X, T, sample_weight=np.ones(len(X))) == pytest.approx(net.score(X, T),
                                                                           rel=1e-12)


@pytest.mark.parametrize("bad,match", [
    (-np.ones(13), "sample_weight must be >= 0"),
    (np.r_[np.ones(12), np.nan], "sample_weight contains NaN or infinity"),
    (np.ones(12), "sample_weight has 12 weights, but X has 13 rows"),
    (np.ones((13, 1)), "sample_weight must be 1-D"),
    (np.zeros(13), "sample_weight is zero for every row"),
    (["a"] * 13, "sample_weight must hold numbers"),
])
def test_bad_sample_weights_are_refused(bad, match):
    case = CASES[2]
    X, T, _ = _problem(case)
    net = _net(case)
    p = net.params.copy()
    exc = TypeError if match.endswith("numbers") else ValueError
    for call in (lambda: net.fit(X, T, sample_weight=bad, verbose=0),
                 lambda: net.gradients(X, T, sample_weight=bad),
                 lambda: net.cost(X, T, sample_weight=bad),
                 lambda: net.score(X, T, sample_weight=bad)):
        with pytest.raises(exc, match=match):
            call()
    np.testing.assert_array_equal(net.params, p)
    with pytest.raises(ValueError, match="zero for every validation row"):
        w = np.ones(13)
        w[10:] = 0
        net.fit(X, T, sample_weight=w, validation_split=0.2, verbose=0)


def test_core_weight_checks():
    net = _net(CASES[2])
    X, T, w = _problem(CASES[2])
    grad = np.zeros_like(net.params)
    with pytest.raises(ValueError, match="w: expected dtype float64"):
        _core.gradients(net._arch, net.params, X, T, grad, w.astype(np.float32))
    with pytest.raises(ValueError, match=r"w: expected shape \(13,\)"):
        _core.loss(net._arch, net.params, X, T, w[:5])
    with pytest.raises(ValueError, match="w must be C-contiguous"):
        _core.evaluate(net._arch, net.params, X, T, np.repeat(w, 2)[::2])


def test_float32_weighted_fit_runs_and_matches_float64():
    case = CASES[2]
    X, T, w = _problem(case, seed=13)
    a, b = _net(case, np.float32), _net(case, np.float64)
    b.params[...] = a.params
    ha = a.fit(X, T, sample_weight=w, epochs=3, lr=0.1, batch_size=4, seed=1, verbose=0)
    hb = b.fit(X, T, sample_weight=w, epochs=3, lr=0.1, batch_size=4, seed=1, verbose=0)
    assert a.params.dtype == np.float32
    np.testing.assert_allclose(a.params, b.params, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ha.cost, hb.cost, rtol=1e-4)


# ---------------------------------------------------------------- the Poisson loss


def test_poisson_defaults_and_refusals():
    net = cmlp.Network([3, 4, 2], activation="relu", loss="poisson")
    assert net.output == "exp" and not net.is_classifier
    X = np.random.default_rng(0).random((5, 3))
    np.testing.assert_array_equal(net.predict(X), net.forward(X))
    assert (net.forward(X) > 0).all()
    with pytest.raises(ValueError, match="loss='poisson' needs the exp output"):
        cmlp.Network([3, 2], output="identity", loss="poisson")
    with pytest.raises(ValueError, match="activation must be one of"):
        cmlp.Network([3, 4, 2], activation="exp")
    with pytest.raises(ValueError, match="cross_entropy' needs a softmax or sigmoid"):
        cmlp.Network([3, 2], output="exp", loss="cross_entropy")
    for call in (lambda: net.fit(X, -np.ones((5, 2)), verbose=0),
                 lambda: net.cost(X, -np.ones((5, 2))),
                 lambda: net.gradients(X, -np.ones((5, 2)))):
        with pytest.raises(ValueError, match="y: loss='poisson' needs targets >= 0"):
            call()
    # exp with mse is allowed: the elementwise derivative y
    mse = cmlp.Network([3, 2], output="exp", loss="mse", seed=0)
    T = np.ones((5, 2))
    W, b = ref_params(mse)
    rW, rb, _ = ref.gradients(W, b, mse.activations, "mse", X, T)
    dW, db = mse.gradients(X, T)
    assert_close(dW[0], rW[0], np.float64)
    assert_close(db[0], rb[0].ravel(), np.float64)


def test_poisson_hand_worked_value():
    """One unit, no hidden layer: y = exp(w x + b) = exp(0.5 * 2 + 0) = e; with t = 3:
    F = 3 log(3 / e) - 3 + e = 3 (log 3 - 1) - 3 + e, and dF/db = y - t = e - 3."""
    net = cmlp.Network([1, 1], loss="poisson")
    net.weights[0][...] = 0.5
    net.biases[0][...] = 0.0
    e = np.e
    assert net.cost([[2.0]], [[3.0]]) == pytest.approx(3 * (np.log(3) - 1) - 3 + e, rel=1e-15)
    dW, db = net.gradients([[2.0]], [[3.0]])
    assert db[0][0] == pytest.approx(e - 3, rel=1e-15)
    assert dW[0][0, 0] == pytest.approx(2 * (e - 3), rel=1e-15)
    assert net.cost([[2.0]], [[0.0]]) == pytest.approx(e, rel=1e-15)  # 0 log 0 = 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_poisson_training_matches_the_reference(dtype, each_backend):
    case = CASES[4]
    X, T, _ = _problem(case, seed=14, dtype=dtype)
    net = _net(case, dtype)
    W0, b0 = ref_params(net)
    # per-sample (the notes' SGD)
    a = net.copy()
    perm = np.random.default_rng(3).permutation(len(X))
    W, b = ref.sgd_epoch(W0, b0, net.activations, "poisson", X.astype(np.float64), T, perm, 0.05)
    a.fit(X, T, epochs=1, lr=0.05, seed=3, verbose=0)
    for i in range(2):
        assert_close(a.weights[i], W[i], dtype, f"per-sample W[{i}]")
        assert_close(a.biases[i], b[i].ravel(), dtype, f"per-sample b[{i}]")
    # minibatch with Adam
    c = net.copy()
    W, b = W0, b0
    state = ref.new_optimizer_state(W)
    rng = np.random.default_rng(5)
    for _ in range(2):
        p = rng.permutation(len(X))
        for s in range(0, len(X), 5):
            W, b = ref.train_step(W, b, net.activations, "poisson", X.astype(np.float64), T,
                                  p[s:s + 5], 0.01, "adam", state)
    h = c.fit(X, T, epochs=2, lr=0.01, batch_size=5, optimizer="adam", seed=5, verbose=0)
    for i in range(2):
        assert_close(c.weights[i], W[i], dtype, f"adam W[{i}]")
        assert_close(c.biases[i], b[i].ravel(), dtype, f"adam b[{i}]")
    assert h.cost[-1] == pytest.approx(ref.total_cost(W, b, net.activations, "poisson", X, T),
                                       rel=1e-4 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("batch_size", [1, 4])
def test_poisson_overflow_is_a_floating_point_error(batch_size):
    X = np.array([[1.0], [2.0], [800.0], [3.0]])
    net = cmlp.Network([1, 1], loss="poisson")
    net.weights[0][...] = 1.0
    with pytest.raises(FloatingPointError, match="NaN or infinite"):
        net.fit(X, [[1.0], [2.0], [3.0], [4.0]], epochs=1, lr=0.01, batch_size=batch_size,
                shuffle=False, verbose=0)
    assert np.isfinite(net.params).all()


def test_weights_whose_sum_overflows_are_refused_by_name():
    net = cmlp.Network([3, 4, 2], loss="mse", seed=0)
    X = np.random.default_rng(0).random((6, 3))
    y = [0, 1, 0, 1, 1, 0]
    assert net.cost(X, y, sample_weight=[1e307] * 6) == pytest.approx(net.cost(X, y))
    for call in (net.cost, net.score, net.gradients):
        with pytest.raises(ValueError, match="sample_weight: the weights' sum overflows"):
            call(X, y, sample_weight=[1e308] * 6)
