"""Network.fit(optimizer="lbfgs"): the objective handed to scipy against cmlp.reference and
finite differences, convergence, History, argument errors, Ctrl-C and non-finite values."""
import warnings

import numpy as np
import pytest

import cmlp
import cmlp.network as network_module
from cmlp import reference as ref
from cmlp.network import _LBFGSObjective

pytest.importorskip("scipy")


def _problem(n=60, n_in=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in))
    labels = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int) + (X[:, 2] > 0.8)
    return X, labels % k


def _ref_params(net):
    return ([np.array(W, dtype=np.float64) for W in net.weights],
            [np.array(b, dtype=np.float64).reshape(-1, 1) for b in net.biases])


def _objective(net, X, T, l2, **kw):
    scale = 1.0 if net.loss == "tse" else 1.0 / X.shape[0]
    return _LBFGSObjective(net, np.ascontiguousarray(X, dtype=net.dtype),
                           np.ascontiguousarray(T, dtype=net.dtype), l2=l2, grad_scale=scale,
                           **kw)


CASES = [  # (activation, output, loss, outputs): softmax, several sigmoids, regression
    ("tanh", "softmax", "cross_entropy", 3),
    ("relu", "sigmoid", "cross_entropy", 3),
    ("sigmoid", "sigmoid", "tse", 3),
    ("elu", "identity", "mse", 2),
]


@pytest.mark.parametrize("act,out,loss,k", CASES)
def test_objective_is_reference_cost_and_gradient_plus_l2(act, out, loss, k):
    """f and g handed to scipy == cmlp.reference's whole-set cost + l2 sum w^2 and its
    gradient (float64, 1e-9), == Network.cost/gradients + penalty, and == central finite
    differences of f."""
    net = cmlp.Network([4, 6, 5, k], activation=act, output=out, loss=loss, init="xavier",
                       seed=3)
    # biases off zero: a row whose relu units are all off would otherwise give the next
    # layer a pre-activation of exactly 0, a kink where differences and gradients disagree
    rng = np.random.default_rng(4)
    net.biases = [0.1 * rng.standard_normal(b.shape) for b in net.biases]
    X, labels = _problem()
    T = cmlp.one_hot(labels, 3)[:, :k] if k != 2 else np.c_[X[:, 0] * X[:, 1], X[:, 2]]
    l2 = 0.01
    obj = _objective(net, X, T, l2)
    x = net.params.copy()
    f, g = obj(x)
    assert g.dtype == np.float64 and g.shape == (net.n_params,)
    W, b = _ref_params(net)
    rf, rW, rb = ref.lbfgs_objective(W, b, net.activations, loss, X, T, l2)
    assert f == pytest.approx(rf, rel=1e-9)
    dW, db = net._split(g)
    for i in range(3):
        np.testing.assert_allclose(dW[i], rW[i], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(db[i], rb[i].ravel(), rtol=1e-9, atol=1e-12)
    # the public definitions: cost and gradients, plus the penalty
    pen = sum(float((w ** 2).sum()) for w in net.weights) * l2
    assert f == pytest.approx(net.cost(X, T) + pen, rel=1e-12)
    gW, gb = net.gradients(X, T)
    for i in range(3):
        np.testing.assert_allclose(dW[i], gW[i] + 2 * l2 * net.weights[i], rtol=1e-12,
                                   atol=1e-15)
        np.testing.assert_allclose(db[i], gb[i], rtol=1e-12, atol=1e-15)
    # finite differences on a few coordinates of every layer
    h = 1e-6
    for j in np.random.default_rng(0).choice(net.n_params, 12, replace=False):
        e = np.zeros_like(x)
        e[j] = h
        fd = (obj(x + e)[0] - obj(x - e)[0]) / (2 * h)
        assert fd == pytest.approx(g[j], rel=1e-5, abs=1e-8)
    # evaluations read scipy's vector, never the network's buffer, and leave it alone
    np.testing.assert_array_equal(net.params, x)


def test_objective_on_threads_and_in_slices_equals_one_call():
    """Two threads, and rows cut into slices (Ctrl-C goes through between them), add the
    same sums in another order: equal to 1e-12."""
    net = cmlp.Network([20, 40, 10], activation="relu", loss="cross_entropy", init="he",
                       seed=1)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((1500, 20))
    T = cmlp.one_hot(rng.integers(0, 10, 1500), 10)
    x = net.params.copy()
    f1, g1 = _objective(net, X, T, 1e-3)(x)
    obj2 = _objective(net, X, T, 1e-3, n_threads=2)
    assert obj2.threads == 2
    f2, g2 = obj2(x)
    obj2.close()
    saved = network_module._BATCH_CHUNK_WORK
    network_module._BATCH_CHUNK_WORK = 100 * net.n_params  # slices of about 100 rows
    try:
        obj3 = _objective(net, X, T, 1e-3)
        assert len(obj3.ranges[0]) > 5
        f3, g3 = obj3(x)
    finally:
        network_module._BATCH_CHUNK_WORK = saved
    for f, g in ((f2, g2), (f3, g3)):
        assert f == pytest.approx(f1, rel=1e-12)
        np.testing.assert_allclose(g, g1, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("loss,out,k", [("cross_entropy", "softmax", 3), ("tse", "sigmoid", 3),
                                         ("poisson", None, 2)])
def test_weighted_objective_is_the_weighted_reference(loss, out, k):
    """With sample weights, f and g == cmlp.reference's weighted whole-set cost and gradient
    (float64, 1e-9) plus the l2 term, with 1 / sum(w) as the scale of the mean losses."""
    net = cmlp.Network([4, 5, k], activation="tanh", output=out, loss=loss, seed=1)
    X, labels = _problem()
    T = cmlp.one_hot(labels, 3)[:, :k] if loss != "poisson" else np.abs(X[:, :2]).round()
    w = np.random.default_rng(2).integers(0, 4, X.shape[0]).astype(float)
    l2 = 0.01
    scale = 1.0 if loss == "tse" else 1.0 / w.sum()
    obj = _LBFGSObjective(net, X, T, l2=l2, grad_scale=scale, sample_weight=w)
    x = net.params.copy()
    f, g = obj(x)
    W, b = _ref_params(net)
    pen = l2 * sum(float((v ** 2).sum()) for v in W)
    rf = ref.total_cost(W, b, net.activations, loss, X, T, sample_weight=w) + pen
    rW, rb, _ = ref.gradients(W, b, net.activations, loss, X, T, sample_weight=w)
    assert f == pytest.approx(rf, rel=1e-9)
    dW, db = net._split(g)
    for i in range(2):
        np.testing.assert_allclose(dW[i], rW[i] + 2 * l2 * W[i], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(db[i], rb[i].ravel(), rtol=1e-9, atol=1e-12)


def test_integer_weights_train_as_repeated_rows():
    """Full-batch L-BFGS with integer sample weights == on the data with each row repeated
    w_r times (the objectives agree to rounding, so the iterations do)."""
    X, labels = _problem(n=40)
    w = np.random.default_rng(5).integers(0, 3, X.shape[0])
    nets = [cmlp.Network([4, 6, 3], activation="tanh", loss="cross_entropy", seed=2)
            for _ in range(2)]
    h1 = nets[0].fit(X, labels, epochs=25, optimizer="lbfgs", l2=1e-3, sample_weight=w,
                     verbose=0)
    rep = np.repeat(np.arange(X.shape[0]), w)
    h2 = nets[1].fit(X[rep], labels[rep], epochs=25, optimizer="lbfgs", l2=1e-3, verbose=0)
    assert h1.n_epochs == h2.n_epochs
    np.testing.assert_allclose(h1.cost, h2.cost, rtol=1e-9)
    np.testing.assert_allclose(nets[0].params, nets[1].params, rtol=1e-6, atol=1e-9)


def test_least_squares_reaches_the_exact_minimum():
    """A network without hidden layer and identity output is linear least squares: L-BFGS
    must find lstsq's solution, with every gradient component below tol."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + 0.7 + 0.1 * rng.standard_normal(200)
    net = cmlp.Network([5, 1], activation="identity", loss="mse", seed=0)
    h = net.fit(X, y, epochs=100, optimizer=cmlp.optim.LBFGS(tol=1e-6), verbose=0)
    coef, *_ = np.linalg.lstsq(np.c_[X, np.ones(200)], y, rcond=None)
    # scipy stops at gtol, or earlier once the cost changes by less than 2.2e-9 relatively
    np.testing.assert_allclose(net.weights[0].ravel(), coef[:5], rtol=1e-5, atol=1e-5)
    assert net.biases[0][0] == pytest.approx(coef[5], rel=1e-5)
    best = 0.5 * np.mean((np.c_[X, np.ones(200)] @ coef - y) ** 2)
    assert h.cost[-1] == pytest.approx(best, rel=1e-8)
    assert h.converged is True and h.stopped == "converged"
    dW, db = net.gradients(X, y)
    assert max(np.abs(dW[0]).max(), np.abs(db[0]).max()) <= 1e-5


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_classifier_converges_and_history_records_each_iteration(dtype):
    X, labels = _problem(n=90)
    net = cmlp.Network([4, 8, 3], activation="tanh", loss="cross_entropy", init="xavier",
                       dtype=dtype, seed=0)
    l2 = 1e-3
    tol = 1e-4 if dtype == np.float64 else 1e-3
    h = net.fit(X, labels, epochs=500, optimizer=cmlp.optim.LBFGS(tol=tol), l2=l2, verbose=0)
    n = h.n_epochs
    assert h.stopped == "converged" and h.converged is True and 3 < n < 500
    assert h.optimizer == "lbfgs" and h.lr is None and h.batch_size == 90
    assert np.isnan(h.learning_rates).all() and h.learning_rates.shape == (n,)
    assert h.n_evaluations >= n and "CONVERGENCE" in h.message
    # the Wolfe line search never accepts an increase
    assert (np.diff(h.cost) <= 1e-12 * np.abs(h.cost[:-1])).all()
    # the last entry is the cost of the final parameters, penalty included
    pen = l2 * sum(float((w.astype(np.float64) ** 2).sum()) for w in net.weights)
    rel = 1e-10 if dtype == np.float64 else 1e-5
    assert h.penalty[-1] == pytest.approx(pen, rel=rel)
    assert h.cost[-1] == pytest.approx(net.cost(X, labels) + pen, rel=rel)
    assert h.accuracy[-1] == net.score(X, labels) and h.accuracy.shape == (n,)
    assert h.cost[-1] < h.cost[0] / 2
    dW, db = net.gradients(X, labels)
    g = np.concatenate([(d + 2 * l2 * w).ravel() for d, w in zip(dW, net.weights)] +
                       [d.ravel() for d in db])
    assert np.abs(g).max() <= (tol if dtype == np.float64 else 5 * tol)
    # deterministic: the same start gives the same result
    net2 = cmlp.Network([4, 8, 3], activation="tanh", loss="cross_entropy", init="xavier",
                        dtype=dtype, seed=0)
    net2.fit(X, labels, epochs=500, optimizer=cmlp.optim.LBFGS(tol=tol), l2=l2, verbose=0)
    np.testing.assert_array_equal(net2.params, net.params)


def test_float32_tracks_float64():
    X, labels = _problem(n=90)
    nets = [cmlp.Network([4, 8, 3], activation="tanh", loss="cross_entropy", init="xavier",
                         dtype=d, seed=0) for d in (np.float64, np.float32)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cmlp.ConvergenceWarning)
        hs = [net.fit(X, labels, epochs=10, optimizer="lbfgs", verbose=0) for net in nets]
    assert nets[1].params.dtype == np.float32
    np.testing.assert_allclose(hs[1].cost, hs[0].cost, rtol=1e-4)


def test_iteration_limit_warns_and_is_recorded():
    X, labels = _problem()
    net = cmlp.Network([4, 8, 3], activation="tanh", loss="cross_entropy", seed=0)
    with pytest.warns(cmlp.ConvergenceWarning, match=r"reached epochs=3 iterations"):
        h = net.fit(X, labels, epochs=3, optimizer="lbfgs", verbose=0)
    assert h.n_epochs == 3 and h.stopped is None and h.converged is False
    assert h.warnings == ["not_converged"]
    with pytest.warns(cmlp.ConvergenceWarning, match=r"max_fun=2 evaluations"):
        h = net.fit(X, labels, epochs=50, optimizer=cmlp.optim.LBFGS(max_fun=2), verbose=0)
    assert h.stopped == "max_fun" and h.n_evaluations == 3 and h.converged is False


def test_callbacks_validation_and_early_stopping():
    X, labels = _problem(n=120)
    net = cmlp.Network([4, 30, 3], activation="relu", loss="cross_entropy", init="he", seed=0)
    start = net.params.copy()
    seen = []

    def stop_at_2(it, history):
        seen.append((it, history.n_epochs))
        return False if it == 2 else None

    h = net.fit(X, labels, epochs=50, optimizer="lbfgs", callbacks=stop_at_2, verbose=0)
    assert seen == [(0, 1), (1, 2), (2, 3)]
    assert h.stopped == "callback" and h.stopped_epoch == 2 and h.converged is False

    net.params = start
    Xv, yv = X[:40] + 0.3, labels[:40]
    h = net.fit(X, labels, epochs=300, optimizer="lbfgs", validation_data=(Xv, yv),
                early_stopping=True, patience=3, verbose=0)
    assert h.val_cost.shape == h.cost.shape == h.val_accuracy.shape
    assert h.stopped == "early_stopping"
    assert h.best_epoch == int(np.argmin(h.val_cost)) == h.n_epochs - 4
    # the network holds the parameters of the best validation cost
    assert net.cost(Xv, yv) == pytest.approx(h.val_cost[h.best_epoch], rel=1e-12)


def test_argument_errors():
    X, labels = _problem(n=20)
    net = cmlp.Network([4, 5, 3], loss="cross_entropy", seed=0)
    with pytest.raises(ValueError, match="lr=0.1 has no meaning with the lbfgs"):
        net.fit(X, labels, optimizer="lbfgs", lr=0.1)
    with pytest.raises(ValueError, match="l1 penalty is not differentiable"):
        net.fit(X, labels, optimizer="lbfgs", l1=0.01)
    with pytest.raises(ValueError, match="dropout cannot be used with optimizer='lbfgs'"):
        net.fit(X, labels, optimizer="lbfgs", dropout=0.2)
    with pytest.raises(ValueError, match="lr_schedule has no meaning"):
        net.fit(X, labels, optimizer="lbfgs", lr_schedule="step")
    with pytest.raises(ValueError, match="always uses the whole training set"):
        net.fit(X, labels, optimizer="lbfgs", batch_size=8)
    with pytest.raises(ValueError, match="tol must be >= 0"):
        cmlp.optim.LBFGS(tol=-1)
    with pytest.raises(ValueError, match="max_fun must be >= 1"):
        cmlp.optim.LBFGS(max_fun=0)
    with pytest.raises(TypeError, match="maxcor must be an integer"):
        cmlp.optim.LBFGS(maxcor=2.5)
    # full batch spelled out is fine, and so is an optimizer object
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cmlp.ConvergenceWarning)
        h = net.fit(X, labels, epochs=2, optimizer=cmlp.optim.LBFGS(), batch_size="full",
                    verbose=0)
    assert h.n_epochs == 2


def test_ctrl_c_keeps_the_last_completed_iteration(monkeypatch):
    """A KeyboardInterrupt inside an evaluation (here: the 7th, in a line search or at the
    start of an iteration) leaves the parameters of the last completed iteration."""
    X, labels = _problem()
    net = cmlp.Network([4, 8, 3], activation="tanh", loss="cross_entropy", seed=0)
    snapshots = []
    calls = [0]
    real = network_module._core.gradients

    def interrupting(*args):
        calls[0] += 1
        if calls[0] == 7:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(network_module._core, "gradients", interrupting)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, labels, epochs=100, optimizer="lbfgs", verbose=0,
                callbacks=lambda it, h: snapshots.append(net.params.copy()))
    assert len(snapshots) >= 2
    np.testing.assert_array_equal(net.params, snapshots[-1])


def test_nonfinite_raise_and_warn():
    X, labels = _problem(n=30)
    X = X * 1e200  # the squared error overflows at once
    net = cmlp.Network([4, 5, 1], activation="identity", loss="mse", seed=0)
    start = net.params.copy()
    with pytest.raises(FloatingPointError, match="L-BFGS evaluation 1") as info:
        net.fit(X, labels, optimizer="lbfgs", verbose=0)
    assert info.value.history.stopped == "nonfinite"
    np.testing.assert_array_equal(net.params, start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cmlp.ConvergenceWarning)
        with pytest.warns(RuntimeWarning, match="on_nonfinite='warn'"):
            h = net.fit(X, labels, optimizer="lbfgs", on_nonfinite="warn", verbose=0)
    assert "nonfinite" in h.warnings and h.converged is False


def test_stopped_epoch_is_0_when_lbfgs_stops_inside_its_first_iteration():
    X = np.random.default_rng(0).random((20, 3))
    y = np.array([0, 1] * 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = cmlp.Network([3, 4, 2], seed=0).fit(X, y, optimizer=cmlp.optim.LBFGS(tol=1e10),
                                                epochs=10, verbose=0)
    assert (h.stopped, h.stopped_epoch, h.n_epochs) == ("converged", 0, 0)


def test_weighted_accuracy_never_exceeds_one():
    # the correct rows' weights are summed in C and their total by NumPy: all-correct came
    # out as 1.0000000000000004 on this data before the result was held to 1
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    h = cmlp.Network([4, 5, 2], activation="tanh", loss="cross_entropy", seed=0).fit(
        X, y, optimizer="lbfgs", epochs=100, sample_weight=rng.random(60), verbose=0)
    assert h.accuracy.max() == 1.0
