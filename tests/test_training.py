"""Training breadth: optimizers, penalties, dropout, schedules, validation, early stopping,
callbacks and threads, each against cmlp.reference or a property that pins it."""
import numpy as np
import pytest

import cmlp
import cmlp.network
from cmlp import _core, optim, schedules
from cmlp import reference as ref
from conftest import assert_close, ref_params

DTYPES = [np.float32, np.float64]
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]


def _problem(seed=0, N=10, n_in=5, K=3, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.random((N, n_in))
    X[X < 0.3] = 0.0
    labels = rng.integers(0, K, N)
    return X.astype(dtype), labels


def _reference_fit(net, X, labels, epochs, lr, B, seed, optimizer="sgd", l1=0.0, l2=0.0,
                   drop=None, shuffle=True, hyper=None):
    """What fit should do, step by step with cmlp.reference: the same permutations and
    dropout draws from the same generator (one draw of (N, H) per epoch on these small
    networks, whose chunk of rows covers the epoch)."""
    W, b = ref_params(net)
    T = cmlp.one_hot(labels, net.layers[-1])
    rng = np.random.default_rng(seed)
    state = ref.new_optimizer_state(W)
    N = X.shape[0]
    H = sum(net.layers[1:-1])
    X64 = X.astype(np.float64)
    for _ in range(epochs):
        perm = rng.permutation(N) if shuffle else np.arange(N)
        U = rng.random((N, H), dtype=net.dtype).astype(np.float64) if drop is not None else None
        for s in range(0, N, B):
            rows = perm[s:s + B]
            W, b = ref.train_step(W, b, net.activations, net.loss, X64, T, rows, lr, optimizer,
                                  state, l1=l1, l2=l2, U=None if U is None else U[s:s + B],
                                  drop=drop, **(hyper or {}))
    return W, b


def _assert_params(net, W, b, what):
    for i in range(len(W)):
        assert_close(net.weights[i], W[i], net.dtype, f"W[{i}] {what}")
        assert_close(net.biases[i], b[i].ravel(), net.dtype, f"b[{i}] {what}")


# ------------------------------------------------------------------ optimizers


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_optimizer_matches_the_reference_after_several_steps(name, dtype, each_backend):
    X, labels = _problem(1, dtype=dtype)
    net = cmlp.Network([5, 4, 3], activation="tanh", loss="cross_entropy", dtype=dtype, seed=2)
    lr = {"sgd": 0.3, "momentum": 0.1, "nesterov": 0.1, "adagrad": 0.05, "rmsprop": 0.01,
          "adam": 0.01}[name]
    # 3 epochs of batches 4, 4, 2: nine steps, so momentum and Adam's bias corrections count
    W, b = _reference_fit(net, X, labels, 3, lr, 4, seed=7, optimizer=name)
    h = net.fit(X, labels, epochs=3, lr=lr, batch_size=4, seed=7, optimizer=name, verbose=0,
                n_threads=1)
    _assert_params(net, W, b, f"after 9 {name} steps")
    assert h.optimizer == name and h.lr == lr
    # History.cost is the whole-set cost with the final weights
    T = cmlp.one_hot(labels, 3)
    assert h.cost[-1] == pytest.approx(ref.total_cost(W, b, net.activations, net.loss, X, T),
                                       rel=1e-4 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizer_hyperparameters_reach_the_kernels(dtype):
    X, labels = _problem(2, dtype=dtype)
    cases = [(optim.Momentum(lr=0.05, momentum=0.5), {"momentum": 0.5}),
             (optim.Nesterov(lr=0.05, momentum=0.7), {"momentum": 0.7}),
             (optim.Adagrad(lr=0.05, eps=1e-3), {"eps": 1e-3}),
             (optim.RMSprop(lr=0.01, alpha=0.9, eps=1e-4), {"alpha": 0.9, "eps": 1e-4}),
             (optim.Adam(lr=0.02, beta1=0.8, beta2=0.99, eps=1e-6),
              {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6})]
    for obj, hyper in cases:
        net = cmlp.Network([5, 4, 3], activation="relu", loss="cross_entropy", dtype=dtype,
                           init="he", seed=4)
        W, b = _reference_fit(net, X, labels, 2, obj.lr, 3, seed=1, optimizer=obj.name,
                              hyper=hyper)
        net.fit(X, labels, epochs=2, batch_size=3, seed=1, optimizer=obj, verbose=0)
        _assert_params(net, W, b, repr(obj))


def test_learning_rate_precedence():
    X, labels = _problem(3)
    net = cmlp.Network([5, 4, 3], seed=0)
    assert net.fit(X, labels, epochs=1, optimizer="adam", verbose=0).lr == 0.001
    assert net.fit(X, labels, epochs=1, optimizer="rmsprop", verbose=0).lr == 0.01
    assert net.fit(X, labels, epochs=1, verbose=0).lr == 0.1
    assert net.fit(X, labels, epochs=1, optimizer=optim.Adam(lr=0.02), verbose=0).lr == 0.02
    # an explicit lr in fit wins over the object's
    h = net.fit(X, labels, epochs=1, lr=0.05, optimizer=optim.Adam(lr=0.02), verbose=0)
    assert h.lr == 0.05 and h.learning_rates.tolist() == [0.05]


def test_optim_step_kernel_matches_the_reference_updates():
    """The C update over the flat buffer, several steps, every optimizer and dtype."""
    net = cmlp.Network([3, 4, 2], seed=0)
    gen = np.random.default_rng(5)
    for dtype in DTYPES:
        for name in OPTIMIZERS:
            p = gen.standard_normal(net.n_params)
            pc = p.astype(dtype)
            state = np.zeros(2 * net.n_params, dtype)
            grad = np.empty(net.n_params, dtype)
            o = _core.Optim(_core.OPTIMIZER_CODES[name], 0.01,
                            **optim.OPTIMIZERS[name]().hyperparameters())
            rstate = {}
            for step in range(5):
                g = gen.standard_normal(net.n_params)
                grad[...] = g * 4  # summed over a batch of 4: scale 1/4 gives g
                _core.optim_step(net._arch, o, pc, grad, state, 0.25)
                p = ref.UPDATES[name](p, g, rstate, 0.01)
            assert o.t == 5
            np.testing.assert_allclose(pc, p, rtol=1e-9 if dtype == np.float64 else 2e-5,
                                       atol=1e-6 if dtype == np.float32 else 1e-12,
                                       err_msg=f"{name} {dtype.__name__}")


# ------------------------------------------------------------------ penalties


@pytest.mark.parametrize("l1,l2", [(0.0, 0.05), (0.03, 0.0), (0.02, 0.04)])
def test_penalised_step_gradient_matches_finite_differences(l1, l2):
    """One full-batch SGD step with lr 1 moves the parameters by minus the gradient of
    mean loss + l1 sum|w| + l2 sum w^2; that gradient against central differences."""
    X, labels = _problem(4, N=6)
    net = cmlp.Network([5, 3, 3], activation="tanh", loss="cross_entropy", seed=3)
    p0 = net.params.copy()
    net.fit(X, labels, epochs=1, lr=1.0, batch_size="full", shuffle=False, l1=l1, l2=l2,
            verbose=0)
    step_grad = p0 - net.params

    def objective(p):
        net.params = p
        W, _ = net._split(p)
        return net.cost(X, labels) + ref.penalty(W, l1, l2)

    fd = np.empty_like(p0)
    h = 1e-6
    for k in range(p0.size):
        e = np.zeros_like(p0)
        e[k] = h
        fd[k] = (objective(p0 + e) - objective(p0 - e)) / (2 * h)
    np.testing.assert_allclose(step_grad, fd, rtol=1e-5, atol=1e-7)
    # the biases are not penalised: their step is the loss gradient alone
    net.params = p0
    _, db = net.gradients(X, labels)
    _, step_db = net._split(step_grad)
    for a, bvec in zip(step_db, db):
        np.testing.assert_allclose(a, bvec, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
def test_penalty_kernel_skips_biases_and_history_reports_cost_plus_penalty(dtype):
    net = cmlp.Network([4, 3, 2], dtype=dtype, seed=1)
    net.weights[0][0, 0] = 0  # sign(0) = 0: no l1 gradient there
    grad = np.zeros(net.n_params, dtype)
    value = _core.penalty(net._arch, net.params, 0.1, 0.2, grad)
    W = [w.astype(np.float64) for w in net.weights]
    assert value == pytest.approx(ref.penalty(W, 0.1, 0.2), rel=1e-6)
    gW, gb = net._split(grad)
    expected = ref.penalty_gradients(W, 0.1, 0.2)
    for a, e in zip(gW, expected):
        assert_close(a, e, dtype)
    assert gW[0][0, 0] == 0
    assert all((v == 0).all() for v in gb)
    X, labels = _problem(5, N=8, n_in=4, K=2, dtype=dtype)
    h = net.fit(X, labels, epochs=2, batch_size=3, l1=0.01, l2=0.02, verbose=0)
    W = [w.astype(np.float64) for w in net.weights]
    pen = ref.penalty(W, 0.01, 0.02)
    assert h.penalty[-1] == pytest.approx(pen, rel=1e-5)
    assert h.cost[-1] == pytest.approx(net.cost(X, labels) + pen, rel=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_penalties_and_dropout_with_adam_match_the_reference(dtype, each_backend):
    X, labels = _problem(6, N=9, dtype=dtype)
    net = cmlp.Network([5, 6, 4, 3], activation=["relu", "sigmoid"], loss="cross_entropy",
                       init="he", dtype=dtype, seed=8)
    drop = [0.5, 0.25]
    W, b = _reference_fit(net, X, labels, 2, 0.01, 4, seed=11, optimizer="adam", l1=0.001,
                          l2=0.01, drop=drop)
    net.fit(X, labels, epochs=2, lr=0.01, batch_size=4, seed=11, optimizer="adam", l1=0.001,
            l2=0.01, dropout=drop, verbose=0, n_threads=1)
    _assert_params(net, W, b, "after adam + penalties + dropout")


# ------------------------------------------------------------------ dropout


@pytest.mark.parametrize("N", [40, 150])  # more than one block of rows (own 32, BLAS 128)
def test_dropout_gradients_match_the_reference_per_row(N, each_backend):
    X, labels = _problem(7, N=N)
    net = cmlp.Network([5, 7, 6, 3], activation=["tanh", "elu"], loss="mse", seed=2)
    T = cmlp.one_hot(labels, 3)
    U = np.random.default_rng(0).random((N, 13))
    drop = np.array([0.3, 0.6])
    grad = np.zeros(net.n_params)
    total = _core.gradients_dropout(net._arch, net.params, X, T, U, drop, grad)
    W, b = ref_params(net)
    gW = [np.zeros_like(w) for w in W]
    gb = [np.zeros_like(v) for v in b]
    F = 0.0
    for r in range(N):
        masks = ref.dropout_masks(U[r], [7, 6], drop)
        dW, db, f = ref.backprop_dropout(W, b, net.activations, "mse", X[r], T[r], masks)
        F += f
        for i in range(3):
            gW[i] += dW[i]
            gb[i] += db[i]
    assert total == pytest.approx(F, rel=1e-12)
    cW, cb = net._split(grad)
    for i in range(3):
        assert_close(cW[i], gW[i], np.float64)
        assert_close(cb[i], gb[i].ravel(), np.float64)


def test_dropout_is_reproducible_from_the_seed_and_off_at_prediction():
    X, labels = _problem(8, N=30)
    base = cmlp.Network([5, 8, 3], activation="relu", loss="cross_entropy", init="he", seed=1)
    runs = []
    for seed in (3, 3, 4):
        net = base.copy()
        net.fit(X, labels, epochs=3, lr=0.1, batch_size=5, dropout=0.5, seed=seed, verbose=0)
        runs.append(net)
    np.testing.assert_array_equal(runs[0].params, runs[1].params)
    assert not np.array_equal(runs[0].params, runs[2].params)
    plain = base.copy()
    plain.fit(X, labels, epochs=3, lr=0.1, batch_size=5, seed=3, verbose=0)
    assert not np.array_equal(plain.params, runs[0].params)
    # prediction is deterministic and is the plain feed-forward (no mask, no scaling)
    net = runs[0]
    y1, y2 = net.forward(X), net.forward(X)
    np.testing.assert_array_equal(y1, y2)
    W, b = ref_params(net)
    np.testing.assert_allclose(y1, ref.forward(W, b, net.activations, X), rtol=1e-9)
    # dropout=0 is the plain path, bit for bit
    zero = base.copy()
    zero.fit(X, labels, epochs=3, lr=0.1, batch_size=5, dropout=0.0, seed=3, verbose=0)
    np.testing.assert_array_equal(zero.params, plain.params)


# ------------------------------------------------------------------ schedules


def test_schedules_give_the_documented_rate_per_epoch():
    X, labels = _problem(9)
    e = np.arange(7)
    cases = [("constant", 0.2 * np.ones(7)),
             ("step", 0.2 * 0.5 ** (e // 10)),
             ("exponential", 0.2 * 0.95 ** e),
             ("inverse", 0.2 / (1 + 0.01 * e)),
             (schedules.StepDecay(step_size=2, gamma=0.1), 0.2 * 0.1 ** (e // 2)),
             (schedules.ExponentialDecay(gamma=0.5), 0.2 * 0.5 ** e),
             (schedules.InverseScaling(decay=0.5), 0.2 / (1 + 0.5 * e)),
             (lambda epoch: 0.01 * (epoch + 1), 0.01 * (e + 1))]
    for spec, expected in cases:
        net = cmlp.Network([5, 3, 3], seed=0)
        h = net.fit(X, labels, epochs=7, lr=0.2, lr_schedule=spec, verbose=0)
        np.testing.assert_allclose(h.learning_rates, expected, rtol=1e-15, err_msg=repr(spec))


def test_a_schedule_is_the_same_as_separate_fits_with_those_rates():
    X, labels = _problem(10)
    a = cmlp.Network([5, 4, 3], seed=5)
    b = cmlp.Network([5, 4, 3], seed=5)
    a.fit(X, labels, epochs=2, lr_schedule=lambda epoch: [0.3, 0.1][epoch], verbose=0)
    b.fit(X, labels, epochs=1, lr=0.3, verbose=0)
    b.fit(X, labels, epochs=1, lr=0.1, verbose=0)
    np.testing.assert_array_equal(a.params, b.params)


def test_a_schedule_returning_a_bad_rate_is_refused():
    X, labels = _problem(11)
    net = cmlp.Network([5, 3, 3], seed=0)
    with pytest.raises(ValueError, match="lr_schedule gave") as info:
        net.fit(X, labels, epochs=3, lr_schedule=lambda epoch: 0.1 if epoch == 0 else -1,
                verbose=0)
    # the epoch before the bad rate stands, and its History comes with the error
    history = info.value.history
    assert history.n_epochs == 1 and history.stopped == "lr_schedule"
    assert history.stopped_epoch == 1 and list(history.learning_rates) == [0.1]
    one = cmlp.Network([5, 3, 3], seed=0)
    one.fit(X, labels, epochs=1, lr=0.1, verbose=0)
    np.testing.assert_array_equal(net.params, one.params)


# ------------------------------------------------------------------ validation, stopping


def test_validation_split_and_data_fill_the_history():
    X, labels = _problem(12, N=20)
    net = cmlp.Network([5, 6, 3], loss="cross_entropy", seed=0)
    h = net.fit(X, labels, epochs=3, lr=0.5, batch_size=4, validation_split=0.25, verbose=0)
    assert h.val_cost.shape == h.val_accuracy.shape == h.accuracy.shape == (3,)
    # the last quarter of the rows, as given, is the validation set
    # (the evaluation is the same C forward pass as cost, so the same bits)
    assert h.val_cost[-1] == net.cost(X[15:], labels[15:])
    assert h.val_accuracy[-1] == net.score(X[15:], labels[15:])
    assert h.cost[-1] == net.cost(X[:15], labels[:15])
    assert h.accuracy[-1] == net.score(X[:15], labels[:15])
    h2 = net.fit(X, labels, epochs=2, validation_data=(X[:5], labels[:5]), verbose=0)
    assert h2.val_cost[-1] == pytest.approx(net.cost(X[:5], labels[:5]), rel=1e-12)
    # regression networks have no accuracy
    reg = cmlp.Network([5, 3, 1], output="identity", loss="mse", seed=0)
    hr = reg.fit(X, X[:, 0], epochs=2, lr=0.05, validation_split=0.2, verbose=0)
    assert hr.accuracy.size == 0 and hr.val_accuracy.size == 0 and hr.val_cost.size == 2


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(0)
    X = rng.random((40, 4))
    labels = (X[:, 0] > X[:, 1]).astype(int)
    # the validation set has the opposite labels: the better training gets, the worse it is
    Xv, yv = X[:20], 1 - labels[:20]
    net = cmlp.Network([4, 6, 2], loss="cross_entropy", seed=0)
    snapshots = []
    h = net.fit(X, labels, epochs=60, lr=0.5, batch_size=8, validation_data=(Xv, yv),
                early_stopping=True, patience=3, verbose=0,
                callbacks=lambda epoch, hist: snapshots.append(net.params.copy()))
    assert h.stopped == "early_stopping"
    best = int(np.argmin(h.val_cost))
    assert h.best_epoch == best
    assert h.stopped_epoch == best + 3 and len(h) == best + 4
    np.testing.assert_array_equal(net.params, snapshots[best])
    assert net.cost(Xv, yv) == pytest.approx(h.val_cost[best], rel=1e-12)
    assert h.val_cost[-1] > h.val_cost[best]


def test_callbacks_see_each_epoch_and_false_stops_training():
    X, labels = _problem(13)
    net = cmlp.Network([5, 4, 3], seed=0)
    seen = []

    def record(epoch, history):
        seen.append((epoch, len(history)))  # returns None: does not stop

    def stop_at_two(epoch, history):
        return epoch < 2

    h = net.fit(X, labels, epochs=10, callbacks=[record, stop_at_two], verbose=0)
    assert seen == [(0, 1), (1, 2), (2, 3)]
    assert len(h) == 3 and h.stopped == "callback" and h.stopped_epoch == 2
    h = net.fit(X, labels, epochs=4, callbacks=record, verbose=0)
    assert len(h) == 4 and h.stopped is None


# ------------------------------------------------------------------ paths and threads


def test_batch_size_one_sgd_is_still_the_per_sample_path_bit_for_bit():
    X, labels = _problem(14, N=12)
    net = cmlp.Network([5, 4, 3], seed=1)
    T = cmlp.one_hot(labels, 3)
    p = net.params.copy()
    rng = np.random.default_rng(21)
    for _ in range(3):
        _core.sgd_epoch(net._arch, p, X, T, rng.permutation(12).astype(np.int64), 0.3)
    a, b = net.copy(), net.copy()
    a.fit(X, labels, epochs=3, lr=0.3, batch_size=1, optimizer="sgd", seed=21, verbose=0)
    np.testing.assert_array_equal(a.params, p)
    # the progress bar over samples calls C in chunks: the same bits
    b.fit(X, labels, epochs=3, lr=0.3, seed=21, verbose=2)
    np.testing.assert_array_equal(b.params, p)


@pytest.mark.parametrize("dtype", DTYPES)
def test_per_sample_fit_evaluates_on_its_threads(dtype, monkeypatch):
    """The per-sample path trains on one thread; its end-of-epoch evaluation (training and
    validation sets) uses n_threads: the same parameters bit for bit, the costs and
    accuracies up to the order of the slices' sums."""
    monkeypatch.setattr(cmlp.network, "MIN_WORK_PER_THREAD", 1)
    made = []

    class Recording(cmlp.network.ThreadPoolExecutor):
        def __init__(self, max_workers=None, **kw):
            made.append(max_workers)
            super().__init__(max_workers=max_workers, **kw)

    monkeypatch.setattr(cmlp.network, "ThreadPoolExecutor", Recording)
    X, labels = _problem(16, N=300, dtype=dtype)
    base = cmlp.Network([5, 16, 3], dtype=dtype, seed=0)
    fits = {}
    for nt in (1, 2):
        made.clear()
        net = base.copy()
        h = net.fit(X, labels, epochs=3, lr=0.2, seed=1, n_threads=nt, verbose=0,
                    validation_data=(X[:150], labels[:150]))
        assert made == ([] if nt == 1 else [1])  # one pool worker beside the main thread
        fits[nt] = (net.params.copy(), h)
    np.testing.assert_array_equal(fits[2][0], fits[1][0])
    rel = 1e-12 if dtype == np.float64 else 1e-5
    for key in ("cost", "val_cost", "accuracy", "val_accuracy"):
        np.testing.assert_allclose(getattr(fits[2][1], key), getattr(fits[1][1], key),
                                   rtol=rel)


@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_count_changes_only_the_summation_order(dtype, monkeypatch, each_backend):
    monkeypatch.setattr(cmlp.network, "MIN_WORK_PER_THREAD", 1)  # thread even tiny batches
    X, labels = _problem(15, N=50, dtype=dtype)
    base = cmlp.Network([5, 16, 3], activation="relu", loss="cross_entropy", init="he",
                        dtype=dtype, seed=0)
    out = {}
    for nt in (1, 2, 2, 3):
        net = base.copy()
        net.fit(X, labels, epochs=2, lr=0.01, batch_size=16, optimizer="adam", dropout=0.2,
                l2=1e-3, seed=4, n_threads=nt, verbose=0)
        if nt in out:  # deterministic for a given thread count
            np.testing.assert_array_equal(net.params, out[nt])
        out[nt] = net.params.copy()
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out[2], out[1], **tol)
    np.testing.assert_allclose(out[3], out[1], **tol)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_float32_update_overflow_is_undone(optimizer, n_threads, monkeypatch, each_backend):
    """A finite batch loss can still give an update that overflows float32 parameters: the
    step is undone and fit raises, keeping the parameters after the previous batch."""
    monkeypatch.setattr(cmlp.network, "MIN_WORK_PER_THREAD", 1)
    rng = np.random.default_rng(0)
    X = rng.random((50, 4))
    T = rng.random((50, 2)) * 10
    net = cmlp.Network([4, 8, 2], activation="relu", output="identity", dtype="float32",
                       seed=1)
    with pytest.raises(FloatingPointError) as info:
        net.fit(X, T, epochs=20, lr=1e6, batch_size=8,
                optimizer=optimizer, n_threads=n_threads, verbose=0)
    assert np.isfinite(net.params).all()
    assert info.value.history.stopped == "nonfinite"


def test_minibatch_nonfinite_loss_raises_and_keeps_finite_parameters():
    X, labels = _problem(16, N=20)
    net = cmlp.Network([5, 4, 3], activation="relu", output="identity", loss="mse",
                       init="he", seed=0)
    with pytest.raises(FloatingPointError) as info:
        net.fit(X * 1e3, labels, epochs=50, lr=1e3, batch_size=4, optimizer="momentum",
                verbose=0)
    assert np.isfinite(net.params).all()
    assert info.value.history.stopped == "nonfinite"


# ------------------------------------------------------------------ validation of arguments


@pytest.mark.parametrize("kwargs,exc,match", [
    ({"optimizer": "adamw"}, ValueError, "optimizer must be one of"),
    ({"optimizer": 3}, TypeError, "optimizer must be"),
    ({"l2": -1.0}, ValueError, "l2 must be >= 0"),
    ({"l1": "a"}, TypeError, "l1 must be a real number"),
    ({"dropout": 1.0}, ValueError, "dropout probabilities"),
    ({"dropout": [0.1, 0.2]}, ValueError, "one probability per hidden layer"),
    ({"lr_schedule": "cosine"}, ValueError, "lr_schedule must be one of"),
    ({"lr_schedule": 3}, TypeError, "lr_schedule must be"),
    ({"early_stopping": True}, ValueError, "needs validation_data"),
    ({"validation_split": 1.5}, ValueError, "validation_split"),
    ({"validation_split": 0.2, "validation_data": ([[0] * 5], [0])}, ValueError, "not both"),
    ({"validation_data": [[0] * 5]}, TypeError, "validation_data must be a tuple"),
    ({"callbacks": [print, 3]}, TypeError, r"callbacks\[1\] must be callable"),
    ({"n_threads": 0}, ValueError, "n_threads must be >= 1"),
    ({"patience": 0}, ValueError, "patience must be >= 1"),
    ({"lr": 0.0}, ValueError, "lr must be > 0"),
])
def test_fit_rejects_bad_training_arguments(kwargs, exc, match):
    X, labels = _problem(17)
    net = cmlp.Network([5, 4, 3], seed=0)
    with pytest.raises(exc, match=match):
        net.fit(X, labels, epochs=1, verbose=0, **kwargs)


@pytest.mark.parametrize("make,match", [
    (lambda: optim.Adam(beta1=1.0), "beta1 must be in"),
    (lambda: optim.Momentum(momentum=-0.1), "momentum must be >= 0"),
    (lambda: optim.RMSprop(eps=0), "eps must be > 0"),
    (lambda: optim.SGD(lr=-1), "lr must be > 0"),
    (lambda: schedules.StepDecay(step_size=0), "step_size must be >= 1"),
    (lambda: schedules.ExponentialDecay(gamma=1.5), "gamma must be in"),
])
def test_optimizer_and_schedule_objects_validate(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_objects_describe_themselves():
    assert repr(optim.Adam(lr=0.01)) == "Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-08)"
    assert optim.get_optimizer("nesterov") == optim.Nesterov()
    assert repr(schedules.get_schedule("step")) == "StepDecay(step_size=10, gamma=0.5)"


@pytest.mark.parametrize("n_threads", [1, 2])
def test_ctrl_c_during_minibatch_training_keeps_the_last_completed_batch(n_threads,
                                                                        monkeypatch):
    import _thread
    import threading
    import time

    monkeypatch.setattr(cmlp.network, "MIN_WORK_PER_THREAD", 1)
    rng = np.random.default_rng(0)
    N, B, epochs = 20000, 50, 20
    X = rng.random((N, 100))
    labels = rng.integers(0, 10, N)
    net = cmlp.Network([100, 300, 300, 10], activation="relu", loss="cross_entropy",
                       init="he", seed=0)
    start = net.params.copy()
    fired = []

    def interrupt():
        # once training has visibly started (an epoch here takes 0.1-0.5 s), plus a little
        deadline = time.monotonic() + 30
        while np.array_equal(net.params, start) and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(0.05)
        fired.append(time.monotonic())
        _thread.interrupt_main()

    timer = threading.Thread(target=interrupt)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, labels, epochs=epochs, lr=0.01, batch_size=B, shuffle=False,
                n_threads=n_threads, verbose=0)
    t_caught = time.monotonic()
    timer.join()
    assert np.isfinite(net.params).all()
    # replay batch by batch: the interrupted parameters are those after k whole batches
    T = cmlp.one_hot(labels, 10)
    p = start.copy()
    grad = np.zeros_like(p)
    state = np.zeros(2 * p.size)
    opt = _core.Optim(_core.OPTIMIZER_CODES["sgd"], 0.01)
    order = np.arange(N, dtype=np.int64)
    per_epoch = N // B

    def same():
        if n_threads == 1:
            return np.array_equal(p, net.params)
        return np.allclose(p, net.params, rtol=1e-9, atol=1e-12)  # row split: rounding only

    k = 0
    while not same():
        if k == epochs * per_epoch:
            pytest.fail("the interrupted parameters are not those after a whole batch")
        with cmlp.network._blas_one_thread():  # as fit runs it: BLAS on one thread
            rows = order[(k % per_epoch) * B:(k % per_epoch + 1) * B]
            _core.train_batches(net._arch, opt, p, grad, state, X, T, rows, B, None,
                                np.zeros(2))
        k += 1
    assert 0 < k < epochs * per_epoch
    assert t_caught - fired[0] < 1.0  # from the interrupt to fit's exception


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizers_match_torch_optim(name):
    """The same flat parameters and gradients through torch.optim and through cmlp's C step
    (skipped when PyTorch is not installed)."""
    torch = pytest.importorskip("torch")
    net = cmlp.Network([3, 4, 2], seed=0)
    gen = np.random.default_rng(1)
    p0 = gen.standard_normal(net.n_params)
    obj = optim.OPTIMIZERS[name](lr=0.01)
    tp = torch.nn.Parameter(torch.tensor(p0.copy()))
    make = {
        "sgd": lambda: torch.optim.SGD([tp], lr=0.01),
        "momentum": lambda: torch.optim.SGD([tp], lr=0.01, momentum=0.9),
        "nesterov": lambda: torch.optim.SGD([tp], lr=0.01, momentum=0.9, nesterov=True),
        "adagrad": lambda: torch.optim.Adagrad([tp], lr=0.01),
        "rmsprop": lambda: torch.optim.RMSprop([tp], lr=0.01),
        "adam": lambda: torch.optim.Adam([tp], lr=0.01),
    }
    topt = make[name]()
    p = p0.copy()
    state = np.zeros(2 * net.n_params)
    grad = np.empty(net.n_params)
    o = _core.Optim(_core.OPTIMIZER_CODES[name], obj.lr, **obj.hyperparameters())
    for _ in range(6):
        g = gen.standard_normal(net.n_params)
        tp.grad = torch.tensor(g.copy())
        topt.step()
        grad[...] = g
        _core.optim_step(net._arch, o, p, grad, state, 1.0)
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("attribute, value, error, match", [
    ("momentum", 5, ValueError, r"optimizer Momentum: momentum must be in \[0, 1\)"),
    ("lr", -0.5, ValueError, "optimizer Momentum: lr must be > 0.0"),
    ("lr", "0.1", TypeError, "optimizer Momentum: lr must be a real number"),
])
def test_optimizer_attributes_set_after_construction_are_checked_at_fit(attribute, value,
                                                                        error, match):
    X, y = np.random.default_rng(0).random((8, 3)), np.arange(8) % 2
    net = cmlp.Network([3, 4, 2], seed=0)
    before = net.params.copy()
    opt = optim.Momentum()
    setattr(opt, attribute, value)
    with pytest.raises(error, match=match):
        net.fit(X, y, optimizer=opt, verbose=0)
    assert np.array_equal(net.params, before)
    adam = optim.Adam()
    adam.eps = -1.0
    with pytest.raises(ValueError, match="optimizer Adam: eps must be > 0.0"):
        net.fit(X, y, optimizer=adam, verbose=0)
    with pytest.raises(ValueError, match="lr must be finite, got an integer of 1329 bits"):
        optim.Adam(lr=10**400)


def test_a_built_in_schedule_that_underflows_is_refused_before_training():
    X, y = np.random.default_rng(0).random((8, 3)), np.arange(8) % 2
    net = cmlp.Network([3, 4, 2], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match="gave 0.0 for epoch 1099"):
        net.fit(X, y, epochs=1100, batch_size=None, verbose=0,
                lr_schedule=schedules.ExponentialDecay(0.5))
    assert np.array_equal(net.params, before)
    with pytest.raises(TypeError, match=r"e.g. StepDecay\(\), not the class"):
        net.fit(X, y, lr_schedule=schedules.StepDecay, verbose=0)
