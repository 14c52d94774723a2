"""Sparse X (scipy.sparse CSR, CSC, sparse arrays, other formats): every Network entry point
and the estimators give the dense results, bit for bit where the same kernels see the same
values; malformed matrices are refused by name; a large sparse X is never densified whole."""
import tracemalloc
import warnings

import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse")

import cmlp  # noqa: E402
from cmlp import _core, _sparse  # noqa: E402
from cmlp import network as network_module  # noqa: E402

DTYPES = [np.float64, np.float32]
N_IN = 40


def _awkward_csr(rng, N, n, dtype, index_dtype=np.int32, density=0.15):
    """A CSR matrix as scipy allows it but rarely makes it: per row, the nonzeros in shuffled
    (unsorted) column order, some columns stored twice (the two values summed), explicit
    zeros, and empty rows (every fifth). Returns the matrix; its toarray() is the dense X."""
    data, indices, indptr = [], [], [0]
    for r in range(N):
        if r % 5 == 3:
            indptr.append(len(data))
            continue
        cols = np.flatnonzero(rng.random(n) < density)
        vals = list(rng.standard_normal(cols.shape[0]))
        cols = list(cols)
        for k in range(len(cols)):
            if rng.random() < 0.2:  # a duplicate: the value split over two entries
                part = rng.standard_normal()
                vals.append(part)
                cols.append(cols[k])
        zero_cols = rng.choice(n, 2, replace=False)
        vals += [0.0, -0.0]
        cols += list(zero_cols)
        order = rng.permutation(len(cols))
        data += [vals[i] for i in order]
        indices += [cols[i] for i in order]
        indptr.append(len(data))
    S = sp.csr_matrix((np.array(data, dtype=dtype), np.array(indices, dtype=index_dtype),
                       np.array(indptr, dtype=index_dtype)), shape=(N, n))
    assert not S.has_sorted_indices or N == 0
    return S


def _formats(S, index_dtype):
    """The same matrix as CSR, csr_array, CSC, csc_array and COO (converted to CSR inside)."""
    out = {"csr": S, "csr_array": sp.csr_array(S), "csc": S.tocsc(), "csc_array": sp.csc_array(S),
           "coo": S.tocoo()}
    for name, M in out.items():
        if name != "coo":
            M.indices = M.indices.astype(index_dtype)
            M.indptr = M.indptr.astype(index_dtype)
    return out


def _net(dtype, layers=(N_IN, 33, 3), **kw):
    kw.setdefault("activation", "relu")
    kw.setdefault("loss", "cross_entropy")
    return cmlp.Network(list(layers), dtype=dtype, seed=7, **kw)


@pytest.fixture
def small_chunks(monkeypatch):
    """Dense chunks of GEMM_BLOCK_ROWS rows (the smallest): several per call on the test data."""
    monkeypatch.setattr(_sparse, "CHUNK_ELEMENTS", 1)
    assert _sparse.chunk_rows(N_IN) == _core.GEMM_BLOCK_ROWS


# ---------------------------------------------------------------- inference, cost, gradients


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_forward_predict_cost_gradients_score_equal_dense(dtype, index_dtype, each_backend,
                                                          small_chunks):
    rng = np.random.default_rng(0)
    S = _awkward_csr(rng, 300, N_IN, dtype, index_dtype)
    X = S.toarray()
    y = rng.integers(0, 3, 300)
    net = _net(dtype)
    Y = net.forward(X)
    cost = net.cost(X, y)
    dW, db = net.gradients(X, y)
    for name, M in _formats(S, index_dtype).items():
        assert np.array_equal(net.forward(M), Y), name
        assert np.array_equal(net.predict(M), net.predict(X)), name
        assert net.score(M, y) == net.score(X, y), name
        # the chunks' sums are added in Python: equal to rounding
        assert net.cost(M, y) == pytest.approx(cost, rel=1e-12)
        sW, sb = net.gradients(M, y)
        # the same blocks in the same order (chunks are whole blocks): bit for bit
        for a, b in zip(dW + db, sW + sb):
            assert np.array_equal(a, b), name


def test_regression_outputs_and_score_equal_dense():
    rng = np.random.default_rng(1)
    S = _awkward_csr(rng, 50, N_IN, np.float64)
    X = S.toarray()
    Yt = rng.standard_normal((50, 2))
    net = cmlp.Network([N_IN, 9, 2], activation="tanh", output="identity", loss="mse", seed=2)
    assert np.array_equal(net.predict(S), net.predict(X))
    assert net.score(S, Yt) == net.score(X, Yt)
    assert net.cost(S, Yt) == net.cost(X, Yt)


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_zero_empty_and_integer_matrices(dtype):
    net = _net(dtype)
    Z = sp.csr_matrix((5, N_IN), dtype=dtype)  # no stored value at all
    assert Z.nnz == 0
    assert np.array_equal(net.forward(Z), net.forward(np.zeros((5, N_IN), dtype)))
    E = sp.csr_matrix((0, N_IN), dtype=dtype)
    assert net.forward(E).shape == (0, 3)
    rng = np.random.default_rng(3)
    Xi = rng.integers(0, 3, (20, N_IN)) * (rng.random((20, N_IN)) < 0.3)
    assert np.array_equal(net.forward(sp.csr_matrix(Xi)), net.forward(Xi))
    assert np.array_equal(net.forward(sp.csr_matrix(Xi.astype(bool))), net.forward(Xi > 0))


def test_gather_rows_writes_the_dense_rows():
    rng = np.random.default_rng(4)
    S = _awkward_csr(rng, 30, N_IN, np.float64, np.int64)
    X = S.toarray()
    csr = _sparse.as_csr(S, N_IN, np.float64)
    out = np.full((7, N_IN), np.nan)
    _core.gather_rows(csr, out, 20)
    assert np.array_equal(out, X[20:27])
    perm = rng.permutation(30)[:7].astype(np.int64)
    _core.gather_rows(csr, out, 0, perm)
    assert np.array_equal(out, X[perm])
    with pytest.raises(ValueError, match="r0"):
        _core.gather_rows(csr, out, 25)
    with pytest.raises(ValueError, match="perm"):
        _core.gather_rows(csr, out, 0, np.array([0, 1, 2, 3, 4, 5, 30], np.int64))
    with pytest.raises(ValueError, match="dtype"):
        _core.gather_rows(csr, out.astype(np.float32), 0)


# ---------------------------------------------------------------- training


def _fit_pair(dtype, S, y, **kw):
    """The same network fitted on the dense X and on each given sparse form of it."""
    nets = []
    X = S.toarray()
    for M in (X, S):
        net = _net(dtype)
        history = net.fit(M, y, epochs=2, verbose=0, seed=11, **kw)
        nets.append((net, history))
    return nets


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", [
    dict(batch_size=1, lr=0.05),                                   # the notes' per-sample SGD
    dict(batch_size=1, lr=0.05, shuffle=False, verbose=2),         # per-sample, chunked loop
    dict(batch_size=64, lr=0.1),                                   # minibatch, shuffled
    dict(batch_size=64, lr=0.1, dropout=0.3, optimizer="adam"),    # dropout, adam
    dict(batch_size=17, lr=0.1, l2=1e-3, optimizer="momentum"),
], ids=["per-sample", "per-sample-chunked", "batch64", "dropout-adam", "batch17-l2"])
def test_fit_equals_dense(dtype, kw, each_backend, small_chunks):
    rng = np.random.default_rng(5)
    S = _awkward_csr(rng, 300, N_IN, dtype, np.int64)
    y = rng.integers(0, 3, 300)
    verbose = kw.pop("verbose", 0)
    results = []
    for M in (S.toarray(), S, sp.csc_array(S)):
        net = _net(dtype)
        if verbose:
            # the sample progress bar makes fit call C chunk by chunk
            history = net.fit(M, y, epochs=2, seed=11, verbose=verbose, **kw)
        else:
            history = net.fit(M, y, epochs=2, seed=11, verbose=0, **kw)
        results.append((net.params.copy(), history.cost))
    params, cost = results[0]
    for p, c in results[1:]:
        assert np.array_equal(p, params)
        np.testing.assert_allclose(c, cost, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_on_a_team_of_threads_equals_dense(dtype, monkeypatch):
    monkeypatch.setattr(network_module, "MIN_WORK_PER_THREAD", 0)
    calls = []
    team_batches = network_module.Network._team_batches

    def spy(*args):
        calls.append(1)
        return team_batches(*args)

    monkeypatch.setattr(network_module.Network, "_team_batches", staticmethod(spy))
    rng = np.random.default_rng(6)
    S = _awkward_csr(rng, 200, N_IN, dtype)
    y = rng.integers(0, 3, 200)
    params = []
    for M in (S.toarray(), S):
        net = _net(dtype)
        net.fit(M, y, epochs=2, batch_size=32, lr=0.1, optimizer="adam", n_threads=2,
                verbose=0, seed=1)
        params.append(net.params.copy())
    assert calls  # the team ran
    assert np.array_equal(params[0], params[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_validation_data_split_and_early_stopping_equal_dense(dtype, small_chunks):
    rng = np.random.default_rng(7)
    S = _awkward_csr(rng, 260, N_IN, dtype)
    Sv = _awkward_csr(rng, 140, N_IN, dtype)
    y, yv = rng.integers(0, 3, 260), rng.integers(0, 3, 140)
    out = []
    for M, Mv in ((S.toarray(), Sv.toarray()), (S, Sv), (S, Sv.toarray())):
        net = _net(dtype)
        h1 = net.fit(M, y, epochs=3, batch_size=16, lr=0.2, verbose=0, seed=2,
                     validation_data=(Mv, yv), early_stopping=True, patience=1)
        net2 = _net(dtype)
        h2 = net2.fit(M, y, epochs=2, batch_size=1, lr=0.05, verbose=0, seed=2,
                      validation_split=0.3)
        out.append((net.params.copy(), h1.val_cost, h1.val_accuracy, h1.best_epoch,
                    net2.params.copy(), h2.val_cost))
    rtol = 1e-12
    for got in out[1:]:
        assert np.array_equal(got[0], out[0][0]) and np.array_equal(got[4], out[0][4])
        np.testing.assert_allclose(got[1], out[0][1], rtol=rtol)
        np.testing.assert_allclose(got[5], out[0][5], rtol=rtol)
        assert np.array_equal(got[2], out[0][2]) and got[3] == out[0][3]


# ---------------------------------------------------------------- refused input


def test_malformed_csr_is_a_value_error_naming_x():
    net = _net(np.float64)
    rng = np.random.default_rng(8)
    good = _awkward_csr(rng, 20, N_IN, np.float64)
    bad = good.copy()
    bad.indices[3] = N_IN  # one column past the end
    with pytest.raises(ValueError, match=r"^X is not a valid sparse matrix: column index 40"):
        net.forward(bad)
    bad = good.copy()
    bad.indices[0] = -1
    with pytest.raises(ValueError, match=r"^X is not a valid sparse matrix"):
        net.predict(bad)
    bad = good.copy()
    bad.indptr[5], bad.indptr[6] = bad.indptr[6], bad.indptr[5] - 1  # decreasing
    with pytest.raises(ValueError, match=r"^X is not a valid sparse matrix: its indptr"):
        net.fit(bad, np.zeros(20, int), verbose=0)
    bad = good.copy()
    bad.indptr[-1] = good.nnz + 10  # past the stored values
    with pytest.raises(ValueError, match=r"^X is not a valid sparse matrix: its indptr"):
        net.gradients(bad, np.zeros(20, int))
    bad = good.copy()
    bad.indices[2] = 10**6
    with pytest.raises(ValueError, match=r"^validation_data\[0\] is not a valid sparse"):
        net.fit(good, np.zeros(20, int), verbose=0, validation_data=(bad, np.zeros(20, int)))


def test_shape_and_non_finite_errors_are_the_dense_ones():
    net = _net(np.float64)
    S = sp.csr_matrix(np.eye(4, N_IN + 1))
    with pytest.raises(ValueError, match=r"^X has 41 features per row, but the network's "):
        net.forward(S)
    S = sp.csr_matrix(np.eye(4, N_IN))
    S.data[1] = np.nan
    with pytest.raises(ValueError, match=r"^X contains NaN or infinity"):
        net.forward(S)
    S.data[1] = 1e300
    net32 = _net(np.float32)
    with pytest.raises(ValueError, match=r"^X has values too large for float32"):
        net32.cost(S, np.zeros(4, int))
    with pytest.raises(TypeError, match="must hold numbers"):
        net.forward(sp.csr_matrix(np.eye(2, N_IN) * 1j))


def test_the_csr_bridge_checks_its_arrays():
    d, i, p = np.ones(2), np.array([0, 1], np.int32), np.array([0, 1, 2], np.int64)
    with pytest.raises(ValueError, match="int32 or both int64"):
        _core.CSR(d, i, p, 3)
    with pytest.raises(ValueError, match="float32 or float64"):
        _core.CSR(d.astype(np.int64), i, p.astype(np.int32), 3)
    with pytest.raises(ValueError, match="column index 1 at indices"):
        _core.CSR(d, i, p.astype(np.int32), 1)
    csr = _core.CSR(d, i, p.astype(np.int32), 2)
    assert csr.shape == (2, 2) and csr.rows(1, 2).shape == (1, 2)
    opt = _core.Optim(0, 0.1)
    arch = _net(np.float32, layers=(2, 1), loss="mse", output="identity")._arch
    P = arch.n_params
    with pytest.raises(ValueError, match="X: expected dtype float32"):
        _core.train_batches(arch, opt, np.zeros(P, np.float32), np.zeros(P, np.float32),
                            np.zeros(2 * P, np.float32), csr, np.zeros((2, 1), np.float32),
                            np.arange(2, dtype=np.int64), 1, None, np.zeros(0))


# ---------------------------------------------------------------- memory


def test_a_large_sparse_x_is_never_densified_whole():
    N, n0, per_row = 200_000, 784, 8  # 1% density
    rng = np.random.default_rng(9)
    S = sp.csr_matrix((rng.random(N * per_row),
                       rng.integers(0, n0, N * per_row).astype(np.int32),
                       np.arange(0, N * per_row + 1, per_row, dtype=np.int32)), shape=(N, n0))
    y = rng.integers(0, 10, N)
    net = cmlp.Network([n0, 32, 10], activation="relu", loss="cross_entropy", seed=0)
    dense_bytes = N * n0 * 8  # 1.25 GB
    tracemalloc.start()
    try:
        Y = net.forward(S)
        _, peak_forward = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        net.fit(S, y, epochs=1, batch_size=256, lr=0.01, verbose=0, n_threads=1)
        _, peak_fit = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert Y.shape == (N, 10) and np.isfinite(Y).all()
    # forward: the outputs (16 MB) and one dense chunk (8 MB); fit: the one-hot targets
    # (16 MB), the permutation and the evaluation's chunk
    assert peak_forward < dense_bytes / 30, peak_forward
    assert peak_fit < dense_bytes / 20, peak_fit


# ---------------------------------------------------------------- estimators


@pytest.mark.parametrize("make", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
def test_estimators_on_sparse_equal_dense(make):
    # not a filterwarnings mark naming sklearn's warning: it breaks collection without sklearn
    exceptions = pytest.importorskip("sklearn.exceptions")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", exceptions.ConvergenceWarning)
        _estimators_on_sparse_equal_dense(make)


def _estimators_on_sparse_equal_dense(make):
    from sklearn.base import is_classifier

    from cmlp import MLPClassifier, MLPRegressor
    rng = np.random.default_rng(10)
    S = _awkward_csr(rng, 120, N_IN, np.float64)
    X = S.toarray()
    y = rng.integers(0, 3, 120)
    M = make(S)
    for est in (MLPClassifier(hidden_layer_sizes=(12,), max_iter=5, random_state=0),
                MLPClassifier(hidden_layer_sizes=(12,), max_iter=5, random_state=0,
                              early_stopping=True, solver="sgd"),
                MLPRegressor(hidden_layer_sizes=(12,), max_iter=5, random_state=0)):
        target = y if is_classifier(est) else X[:, :2] @ [1.0, -2.0]
        dense = est.__class__(**est.get_params()).fit(X, target)
        sparse = est.__class__(**est.get_params()).fit(M, target)
        for a, b in zip(dense.coefs_ + dense.intercepts_, sparse.coefs_ + sparse.intercepts_):
            assert np.array_equal(a, b)
        assert np.array_equal(dense.predict(X), sparse.predict(M))
        assert dense.score(X, target) == sparse.score(M, target)
        assert dense.loss_curve_ == pytest.approx(sparse.loss_curve_, rel=1e-12)
        if is_classifier(est):
            assert np.array_equal(dense.predict_proba(X), sparse.predict_proba(M))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                assert np.array_equal(dense.predict_log_proba(X), sparse.predict_log_proba(M))
            if not est.early_stopping:
                dense.partial_fit(X, y)
                sparse.partial_fit(M, y)
                assert np.array_equal(dense.coefs_[0], sparse.coefs_[0])


# ---------------------------------------------------------------- with weights and lbfgs


@pytest.mark.parametrize("kw", [
    dict(batch_size=1, lr=0.05),
    dict(batch_size=1, lr=0.05, shuffle=False, verbose=2),
    dict(batch_size=32, lr=0.1, optimizer="adam"),
    dict(batch_size=32, lr=0.1, optimizer="adam", n_threads=2),
    dict(optimizer="lbfgs", l2=1e-3),
], ids=["per-sample", "per-sample-chunked", "batch32", "team", "lbfgs"])
def test_weighted_and_lbfgs_fits_equal_dense(kw, small_chunks, monkeypatch):
    """Sample weights (zeros included) and full-batch L-BFGS on sparse X: the dense X's
    parameters and costs."""
    monkeypatch.setattr(network_module, "MIN_WORK_PER_THREAD", 0)
    rng = np.random.default_rng(8)
    S = _awkward_csr(rng, 300, N_IN, np.float64)
    y = rng.integers(0, 3, 300)
    w = rng.integers(0, 3, 300).astype(float)
    kw = dict(kw)
    verbose = kw.pop("verbose", 0)
    results = []
    for M in (S.toarray(), S):
        net = _net(np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", cmlp.ConvergenceWarning)
            history = net.fit(M, y, epochs=3, seed=11, verbose=verbose, sample_weight=w, **kw)
        results.append((net.params.copy(), history.cost))
    (p0, c0), (p1, c1) = results
    if kw.get("optimizer") == "lbfgs":  # costs summed over dense chunks: equal to rounding
        np.testing.assert_allclose(p1, p0, rtol=1e-9, atol=1e-12)
    else:
        assert np.array_equal(p1, p0)
    np.testing.assert_allclose(c1, c0, rtol=1e-9)


def test_lbfgs_estimator_on_sparse_equals_dense():
    exceptions = pytest.importorskip("sklearn.exceptions")
    rng = np.random.default_rng(9)
    S = _awkward_csr(rng, 120, N_IN, np.float64)
    y = rng.integers(0, 3, 120)
    w = rng.integers(1, 3, 120).astype(float)
    with warnings.catch_warnings():  # (a mark naming sklearn's warning breaks without sklearn)
        warnings.simplefilter("ignore", exceptions.ConvergenceWarning)
        fits = [cmlp.MLPClassifier(solver="lbfgs", hidden_layer_sizes=(9,), max_iter=40,
                                   random_state=0).fit(M, y, sample_weight=w)
                for M in (S.toarray(), S)]
    assert fits[0].n_iter_ == fits[1].n_iter_
    for a, b in zip(fits[0].coefs_, fits[1].coefs_):
        np.testing.assert_allclose(b, a, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(fits[1].predict_proba(S), fits[0].predict_proba(S.toarray()),
                               rtol=1e-7, atol=1e-10)


def test_duplicate_entries_are_summed_and_checked_as_toarray_does():
    """Two finite duplicates whose sum overflows are refused like the dense inf; summable
    duplicates give the dense result, and the user's matrix is left as it was."""
    net = cmlp.Network([2, 3, 2], seed=0)
    for dtype, big in (("float64", 1e308), ("float32", 3e38)):
        X = sp.csr_matrix((np.array([big, big, 1.0]), np.array([0, 0, 1]),
                           np.array([0, 2, 3])), shape=(2, 2))
        with pytest.raises(ValueError, match=r"\bX\b"):
            cmlp.Network([2, 3, 2], seed=0, dtype=dtype).forward(X)
    X = sp.csr_matrix((np.array([0.25, 0.5, 1.0]), np.array([0, 0, 1]),
                       np.array([0, 2, 3])), shape=(2, 2))
    np.testing.assert_array_equal(net.forward(X), net.forward(X.toarray()))
    assert not X.has_canonical_format and X.nnz == 3
