"""The BLAS path of the batched drivers (GEMMs + exact sparse first-layer kernels) against
the own blocked kernels and the reference, and minibatch training on a team of threads
(``_core.Team``) against the single-thread driver."""
import threading

import numpy as np
import pytest

import cmlp
from cmlp import _core
from cmlp import reference as ref
from conftest import assert_close, ref_params

pytestmark = pytest.mark.skipif(not _core.blas_available(),
                                reason="scipy.linalg.cython_blas is not available")

DTYPES = [np.float64, np.float32]


def _use_blas(on):
    previous = _core.get_blas()
    _core.set_blas(on)
    return previous


def _sparse_X(rng, N, n, density, dtype):
    X = rng.random((N, n)) * (rng.random((N, n)) < density)
    return X.astype(dtype)


def _both(fn):
    """fn() with BLAS on, then with the own kernels."""
    previous = _use_blas(True)
    try:
        on = fn()
        _core.set_blas(False)
        off = fn()
    finally:
        _core.set_blas(previous)
    return on, off


def test_blas_switch_and_block_rows():
    net = cmlp.Network([3, 2])
    previous = _use_blas(True)
    try:
        assert _core.get_blas() and net._arch.block_rows == _core.GEMM_BLOCK_ROWS
        _core.set_blas(False)
        assert not _core.get_blas() and net._arch.block_rows == _core.BLOCK
    finally:
        _core.set_blas(previous)


def _against_the_reference(net, X, labels, n_out, dtype):
    """net's forward pass (BLAS and own kernels) and gradients (BLAS) against the
    reference's; returns the gradients with BLAS and without, and the reference cost."""
    W, b = ref_params(net)
    T = cmlp.one_hot(labels, n_out)
    Y_on, Y_off = _both(lambda: net.forward(X))
    Y_ref = ref.forward(W, b, net.activations, X.astype(np.float64))
    assert_close(Y_on, Y_ref, dtype, "forward (BLAS)")
    assert_close(Y_off, Y_ref, dtype, "forward (own)")
    on, off = _both(lambda: net.gradients(X, labels))
    rW, rb, rcost = ref.gradients(W, b, net.activations, net.loss, X.astype(np.float64), T)
    for i in range(len(rW)):
        assert_close(on[0][i], rW[i], dtype, f"dW[{i}] (BLAS)")
        assert_close(on[1][i], rb[i].ravel(), dtype, f"db[{i}] (BLAS)")
    return on, off, rcost


# rows around the block sizes (own 32, BLAS GEMM_BLOCK_ROWS); widths around the sparse strips (64 float32
# or 32 float64 columns) and below one strip; first-layer inputs sparse (the sparse kernels)
# and dense (a GEMM)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N", [1, 7, _core.GEMM_BLOCK_ROWS - 1, _core.GEMM_BLOCK_ROWS,
                               _core.GEMM_BLOCK_ROWS + 1, 2 * _core.GEMM_BLOCK_ROWS + 44])
@pytest.mark.parametrize("width", [5, 32, 64, 65, 130])
@pytest.mark.parametrize("density", [0.15, 0.9])
def test_forward_loss_gradients_agree_with_the_own_kernels_and_the_reference(
        dtype, N, width, density, each_isa):
    rng = np.random.default_rng(N * 1000 + width)
    X = _sparse_X(rng, N, 20, density, dtype)
    labels = rng.integers(0, 4, N)
    net = cmlp.Network([20, width, 9, 4], activation=["relu", "tanh"], loss="cross_entropy",
                       init="he", dtype=dtype, seed=width)
    (dW_on, _), (dW_off, _), rcost = _against_the_reference(net, X, labels, 4, dtype)
    for i in range(3):
        assert_close(dW_off[i], dW_on[i], dtype, f"dW[{i}] own vs BLAS")
    c_on, c_off = _both(lambda: net.cost(X, labels))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert c_on == pytest.approx(rcost, rel=tol) and c_off == pytest.approx(rcost, rel=tol)


def _columns_X(rng, N, n, dtype, zero_cols=6, density=0.35):
    """Inputs shaped like MNIST's: the first zero_cols columns zero in every row (the image
    border), the others nonzero with probability density. In blocks of 13 rows or more the
    first layer then takes the AVX-512 variant's dense product over the union of nonzero
    columns (B |union| <= 4 nnz); in a few rows the sparse kernels or the GEMM."""
    X = _sparse_X(rng, N, n, density, dtype)
    X[:, :zero_cols] = 0
    return X


# the shapes at the edges of the AVX-512 variant's own products: rows 1, 13 and 77 (blocks of 8
# and the rows after them), widths 70 and 300 (not multiples of the 32 float32 / 16 float64
# columns of a strip), an output of 9 (narrower than a strip: BLAS), and the transposed
# product of the second layer's backward pass summing over 300 > 128 terms (its panel takes
# them in three pieces)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N", [1, 13, 64, 77, _core.GEMM_BLOCK_ROWS + 3])
def test_layer_products_at_the_block_edges_agree_with_the_reference(dtype, N, each_isa):
    rng = np.random.default_rng(N)
    X = _columns_X(rng, N, 24, dtype)
    labels = rng.integers(0, 9, N)
    net = cmlp.Network([24, 70, 300, 9], activation=["relu", "tanh"], loss="cross_entropy",
                       init="he", dtype=dtype, seed=N)
    (dW_on, _), _, _ = _against_the_reference(net, X, labels, 9, dtype)
    # the rows of W_1 for the always-zero inputs get exactly no gradient
    assert not dW_on[0][:6].any()


def test_the_sparse_first_layer_is_exact_about_zeros_and_non_finite_inputs():
    rng = np.random.default_rng(3)
    X = _sparse_X(rng, 40, 30, 0.1, np.float64)
    X[5] = 0.0          # a row with no nonzero input: the biases alone
    X[6, ::2] = -0.0    # negative zeros add nothing either
    net = cmlp.Network([30, 70, 3], activation="sigmoid", seed=1)
    W, b = ref_params(net)
    Y_on, Y_off = _both(lambda: net.forward(X))
    Y_ref = ref.forward(W, b, net.activations, X)
    np.testing.assert_allclose(Y_on, Y_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(Y_off, Y_ref, rtol=1e-12, atol=1e-14)
    # a NaN or inf input is not zero: it reaches the outputs of its row only (Network refuses
    # such X; the C driver is called directly)
    X[9, 3] = np.nan
    X[11, 4] = np.inf

    def raw():
        Y = np.empty((40, 3))
        _core.forward(net._arch, net.params, X, Y)
        return Y

    Y_on, Y_off = _both(raw)
    assert np.isnan(Y_on[9]).all()
    np.testing.assert_allclose(Y_on, Y_off, rtol=1e-12, atol=1e-14, equal_nan=True)
    keep = np.ones(40, bool)
    keep[[9, 11]] = False
    np.testing.assert_allclose(Y_on[keep], Y_ref[keep], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_row_wise_sparse_forward_adds_each_rows_terms_in_order_from_the_bias(
        dtype, each_isa):
    """Blocks of more than 64 sparse rows (the whole-set forward: cost passes, inference)
    take the row-wise sparse kernel, which walks W's inputs in chunks of 128 and carries each
    output's partial sum from chunk to chunk. Every output must still be exactly
    ``b[j] + x[k1] W[k1, j] + x[k2] W[k2, j] + ...`` over the row's nonzero inputs in
    increasing k, each product and sum rounded in turn: 300 inputs make three chunks, 70
    outputs a last strip that overlaps the one before it, and the rows include one with no
    nonzero input, ones whose inputs all lie in one chunk, and negative zeros."""
    rng = np.random.default_rng(11)
    N, n_in, n_out = _core.GEMM_BLOCK_ROWS + 100, 300, 70  # blocks of 512 and 100 rows
    X = _sparse_X(rng, N, n_in, 0.12, dtype)
    X[3] = 0                                              # the bias alone
    X[4, :256] = 0                                        # the last chunk only
    X[5, 128:] = 0                                        # the first chunk only
    X[6, 130:140] = rng.random(10)                        # the middle chunk only
    X[6, :130] = X[6, 140:] = 0
    X[7, ::3] = -0.0                                      # adds nothing
    net = cmlp.Network([n_in, n_out], activation="identity", dtype=dtype, seed=2)
    W, b = net.weights[0], net.biases[0]
    assert W.dtype == dtype and np.count_nonzero(X) < 0.5 * X.size  # the sparse kernels
    expected = np.empty((N, n_out), dtype)
    for r in range(N):
        acc = b.copy()
        for k in np.flatnonzero(X[r]):
            acc = acc + X[r, k] * W[k]                    # in dtype: rounded at each step
        expected[r] = acc
    previous = _use_blas(True)
    try:
        Y = net.forward(X, n_threads=1)
    finally:
        _core.set_blas(previous)
    np.testing.assert_array_equal(Y, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_minibatch_fit_agrees_between_blas_and_own_kernels(dtype):
    rng = np.random.default_rng(4)
    X = _sparse_X(rng, 300, 50, 0.2, dtype)
    labels = rng.integers(0, 5, 300)
    base = cmlp.Network([50, 70, 5], activation="relu", loss="cross_entropy", init="he",
                        dtype=dtype, seed=2)

    def fit():
        net = base.copy()
        h = net.fit(X, labels, epochs=2, lr=0.01, batch_size=64, optimizer="adam", seed=5,
                    n_threads=1, verbose=0)
        return net.params.copy(), h.cost

    (p_on, c_on), (p_off, c_off) = _both(fit)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(p_on, p_off, **tol)
    np.testing.assert_allclose(c_on, c_off, rtol=tol["rtol"])


# ------------------------------------------------------------------ teams of threads


def _team_run(team, X, T, perm, U, drop, stop=True):
    team.prepare(X, T, perm, U, drop, stop)
    threads = [threading.Thread(target=team.run, args=(k,)) for k in range(1, team.n_threads)]
    for t in threads:
        t.start()
    team.run(0)
    for t in threads:
        t.join()
    return team.result()


def _setup(dtype, N=203, seed=0):
    rng = np.random.default_rng(seed)
    X = _sparse_X(rng, N, 40, 0.25, dtype)
    T = cmlp.one_hot(rng.integers(0, 6, N), 6, dtype=dtype)
    net = cmlp.Network([40, 33, 17, 6], activation=["relu", "tanh"], loss="cross_entropy",
                       init="he", dtype=dtype, seed=seed)
    return net, X, T


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", [2, 3, 5])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("N", [203, 194])  # the last batch: 11 rows; 2 (fewer than threads)
def test_a_team_trains_as_one_thread_up_to_summation_order(dtype, n_threads, optimizer,
                                                           dropout, N, each_backend):
    net, X, T = _setup(dtype, N=N)
    P = net.n_params
    H = _core.hidden_width(net._arch)
    perm = np.random.default_rng(1).permutation(N).astype(np.int64)
    U = np.random.default_rng(2).random((N, H)).astype(dtype) if dropout else None
    drop = np.array([0.3, 0.1]) if dropout else np.zeros(2)
    code = _core.OPTIMIZER_CODES[optimizer]
    lr = 0.05 if optimizer == "sgd" else 0.01

    p1, g1, s1 = net.params.copy(), np.zeros(P, dtype), np.zeros(2 * P, dtype)
    o1 = _core.Optim(code, lr, l2=1e-3)
    status1, done1, loss1 = _core.train_batches(net._arch, o1, p1, g1, s1, X, T, perm, 16, U,
                                                drop)
    p2, g2, s2 = net.params.copy(), np.zeros(P, dtype), np.zeros(2 * P, dtype)
    o2 = _core.Optim(code, lr, l2=1e-3)
    team = _core.Team(net._arch, o2, p2, g2, s2, n_threads, 16)
    status2, done2, loss2 = _team_run(team, X, T, perm, U, drop)
    assert (status1, done1) == (status2, done2) == (0, N)
    assert o1.t == o2.t == -(-N // 16)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-13)
    if dtype == np.float32 and optimizer == "adam":
        # Adam steps by m / sqrt(v): a parameter whose gradient is nearly zero moves by up to
        # lr per step whatever the rounding of that gradient, so float32 summation order
        # shows at the lr scale there
        tol["atol"] = 1e-4
    np.testing.assert_allclose(p2, p1, **tol)
    np.testing.assert_allclose(s2, s1, **tol)
    assert loss2 == pytest.approx(loss1, rel=tol["rtol"])
    assert not g2.any()  # the gradient buffers are left zero for the next chunk
    # deterministic for a given team size, and chunks continue where the last stopped
    p3, g3, s3 = net.params.copy(), np.zeros(P, dtype), np.zeros(2 * P, dtype)
    o3 = _core.Optim(code, lr, l2=1e-3)
    team3 = _core.Team(net._arch, o3, p3, g3, s3, n_threads, 16)
    _team_run(team3, X, T, perm[:96], None if U is None else U[:96], drop)
    _team_run(team3, X, T, perm[96:], None if U is None else U[96:], drop)
    np.testing.assert_array_equal(p3, p2)
    assert o3.t == o2.t


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("n_threads", [2, 3, 5])
def test_a_team_on_mnist_shaped_inputs_trains_as_one_thread(dtype, optimizer, n_threads,
                                                            each_isa):
    # batches of 64 rows of MNIST-like inputs: in the AVX-512 variant the first layer takes
    # the product over the union of nonzero columns, each thread over its own rows' union
    # forward and over the chunk's union (all threads' columns) for the gradient
    rng = np.random.default_rng(7)
    N = 200
    X = _columns_X(rng, N, 40, dtype, zero_cols=10)
    T = cmlp.one_hot(rng.integers(0, 5, N), 5, dtype=dtype)
    net = cmlp.Network([40, 70, 5], activation="relu", loss="cross_entropy", init="he",
                       dtype=dtype, seed=3)
    P = net.n_params
    perm = np.random.default_rng(1).permutation(N).astype(np.int64)
    code = _core.OPTIMIZER_CODES[optimizer]
    lr = 0.05 if optimizer == "sgd" else 0.01
    p1, g1, s1 = net.params.copy(), np.zeros(P, dtype), np.zeros(2 * P, dtype)
    o1 = _core.Optim(code, lr)
    status1, done1, loss1 = _core.train_batches(net._arch, o1, p1, g1, s1, X, T, perm, 64,
                                                None, np.zeros(1))
    p2, g2, s2 = net.params.copy(), np.zeros(P, dtype), np.zeros(2 * P, dtype)
    o2 = _core.Optim(code, lr)
    team = _core.Team(net._arch, o2, p2, g2, s2, n_threads, 64)
    status2, done2, loss2 = _team_run(team, X, T, perm, None, np.zeros(1))
    assert (status1, done1) == (status2, done2) == (0, N)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-13)
    if dtype == np.float32 and optimizer == "adam":
        tol["atol"] = 1e-4  # see test_a_team_trains_as_one_thread_up_to_summation_order
    np.testing.assert_allclose(p2, p1, **tol)
    assert loss2 == pytest.approx(loss1, rel=tol["rtol"])
    assert not g2.any()
    # the first layer's rows for the always-zero inputs: untouched by plain SGD
    if optimizer == "sgd":
        W1 = net.params[:40 * 70].reshape(40, 70)
        np.testing.assert_array_equal(p2[:40 * 70].reshape(40, 70)[:10], W1[:10])


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_team_stops_at_a_non_finite_batch_with_the_previous_parameters(dtype):
    net, X, T = _setup(dtype, N=96)
    X[50, 0] = np.nan  # in the fourth batch of 16
    P = net.n_params
    perm = np.arange(96, dtype=np.int64)
    p, g, s = net.params.copy(), np.zeros(P, dtype), np.zeros(2 * P, dtype)
    opt = _core.Optim(_core.OPTIMIZER_CODES["sgd"], 0.05)
    team = _core.Team(net._arch, opt, p, g, s, 2, 16)
    status, done, _ = _team_run(team, X, T, perm, None, np.zeros(2))
    assert (status, done) == (1, 48) and opt.t == 3
    # the parameters are those after the first three batches
    q, h, u = net.params.copy(), np.zeros(P, dtype), np.zeros(2 * P, dtype)
    o = _core.Optim(_core.OPTIMIZER_CODES["sgd"], 0.05)
    _core.train_batches(net._arch, o, q, h, u, X, T, perm[:48], 16, None, np.zeros(2))
    tol = dict(rtol=1e-4, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(p, q, **tol)


@pytest.mark.parametrize("n_threads", [2, 3])
def test_a_team_on_mnist_shaped_inputs_undoes_an_overflowing_update(n_threads, each_isa):
    # float32, a learning rate that overflows the second batch's update: the team stops there
    # with every thread's rows as after the first batch, as one thread does
    rng = np.random.default_rng(8)
    X = _columns_X(rng, 256, 40, np.float32, zero_cols=10)
    T = cmlp.one_hot(rng.integers(0, 5, 256), 5, dtype=np.float32)
    net = cmlp.Network([40, 70, 5], activation="relu", loss="cross_entropy", init="he",
                       dtype="float32", seed=3)
    P = net.n_params
    perm = np.arange(256, dtype=np.int64)
    results = []
    for team_size in (None, n_threads):
        p, g, s = net.params.copy(), np.zeros(P, np.float32), np.zeros(2 * P, np.float32)
        opt = _core.Optim(_core.OPTIMIZER_CODES["sgd"], 3e37)
        if team_size is None:
            out = _core.train_batches(net._arch, opt, p, g, s, X, T, perm, 64, None,
                                      np.zeros(1))
        else:
            team = _core.Team(net._arch, opt, p, g, s, team_size, 64)
            out = _team_run(team, X, T, perm, None, np.zeros(1))
        results.append((out[0], out[1], p))
    (st1, done1, p1), (st2, done2, p2) = results
    assert st1 == st2 == 1 and done1 == done2
    assert np.isfinite(p2).all()
    np.testing.assert_allclose(p2, p1, rtol=1e-4, atol=1e-5)


def test_a_team_undoes_an_overflowing_update():
    rng = np.random.default_rng(0)
    X = rng.random((64, 4)).astype(np.float32)
    T = (rng.random((64, 2)) * 10).astype(np.float32)
    net = cmlp.Network([4, 8, 2], activation="relu", output="identity", dtype="float32", seed=1)
    P = net.n_params
    p, g, s = net.params.copy(), np.zeros(P, np.float32), np.zeros(2 * P, np.float32)
    opt = _core.Optim(_core.OPTIMIZER_CODES["sgd"], 1e30)
    team = _core.Team(net._arch, opt, p, g, s, 2, 8)
    status, done, _ = _team_run(team, X, T, np.arange(64, dtype=np.int64), None, np.zeros(1))
    assert status == 1 and done % 8 == 0 and np.isfinite(p).all()


def test_team_arguments_are_checked():
    net, X, T = _setup(np.float64, N=20)
    P = net.n_params
    p, g, s = net.params.copy(), np.zeros(P), np.zeros(2 * P)
    opt = _core.Optim(0, 0.1)
    with pytest.raises(ValueError, match="n_threads"):
        _core.Team(net._arch, opt, p, g, s, 1, 8)
    with pytest.raises(ValueError, match="B must be"):
        _core.Team(net._arch, opt, p, g, s, 2, 0)
    with pytest.raises(ValueError, match="grad"):
        _core.Team(net._arch, opt, p, np.zeros(P, np.float32), s, 2, 8)
    with pytest.raises(ValueError, match="state"):
        _core.Team(net._arch, opt, p, g, np.zeros(P), 2, 8)
    team = _core.Team(net._arch, opt, p, g, s, 2, 8)
    with pytest.raises(RuntimeError, match="before prepare"):
        team.run(0)
    with pytest.raises(ValueError, match="perm"):
        team.prepare(X, T, np.array([0, 20], dtype=np.int64), None, np.zeros(2))
    with pytest.raises(ValueError, match="X"):
        team.prepare(X.astype(np.float32), T, np.arange(20, dtype=np.int64), None, np.zeros(2))
    with pytest.raises(ValueError, match="U"):
        team.prepare(X, T, np.arange(20, dtype=np.int64), np.zeros((20, 3)), np.zeros(2))
    team.prepare(X, T, np.arange(20, dtype=np.int64), None, np.zeros(2))
    with pytest.raises(ValueError, match="tid"):
        team.run(2)


def test_fits_overlapping_in_threads_leave_blas_as_found_and_run_it_on_one_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import contextlib
    import time

    from scipy.linalg.blas import sgemm

    import cmlp.network as cn

    before = [d["num_threads"] for d in threadpoolctl.threadpool_info()]
    rng = np.random.default_rng(0)
    X = rng.random((400, 64))
    y = np.arange(400) % 10

    def job(seed):
        net = cmlp.Network([64, 200, 10], activation="relu", loss="cross_entropy", seed=seed)
        net.fit(X, y, epochs=3, batch_size=32, lr=0.01, verbose=0, n_threads=1)

    for _ in range(3):
        threads = [threading.Thread(target=job, args=(s,)) for s in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [d["num_threads"] for d in threadpoolctl.threadpool_info()] == before

    # in fit's context, entered from a thread that is not the main one, BLAS does not fan
    # out: the process's CPU time for a large GEMM stays about its wall time
    a = rng.random((800, 800)).astype(np.float32)

    def cpu_per_wall(context):
        out = []

        def run():
            with context():
                t, c = time.perf_counter(), time.process_time()
                for _ in range(8):
                    sgemm(1.0, a, a)
                out.append((time.process_time() - c) / (time.perf_counter() - t))

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        return out[0]

    assert cpu_per_wall(cn._blas_one_thread) < 1.3
    assert cpu_per_wall(contextlib.nullcontext) > 0  # the probe itself runs


@pytest.mark.parametrize("dtype", DTYPES)
def test_unaligned_inputs_are_copied_before_the_kernels(dtype):
    """Arrays unpickled from buffers (Dask, pickle 5) can be C-contiguous but not aligned for
    their dtype; fit, forward and cost take an aligned copy and give the aligned answers."""
    rng = np.random.default_rng(0)
    X = _sparse_X(rng, 130, 20, 0.3, dtype)
    labels = rng.integers(0, 3, 130)
    raw = np.zeros(X.nbytes + 1, np.uint8)
    Xu = np.ndarray(X.shape, dtype=dtype, buffer=raw, offset=1)
    Xu[...] = X
    assert Xu.flags.c_contiguous and not Xu.flags.aligned
    base = cmlp.Network([20, 70, 3], activation="relu", loss="cross_entropy", dtype=dtype,
                        seed=1)
    a, b = base.copy(), base.copy()
    a.fit(X, labels, epochs=2, batch_size=16, n_threads=2, verbose=0, seed=0)
    b.fit(Xu, labels, epochs=2, batch_size=16, n_threads=2, verbose=0, seed=0)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.forward(X), a.forward(Xu))
    assert a.cost(X, labels) == a.cost(Xu, labels)


@pytest.mark.skipif(not _core.blas_available(), reason="scipy.linalg.cython_blas is missing")
def test_a_team_refuses_a_chunk_after_the_blas_setting_changed():
    """A team built with BLAS has one gradient buffer and shared blocks; without BLAS its
    threads need a gradient buffer each: prepare refuses to mix the two."""
    net, X, T = _setup(np.float64, N=32)
    P = net.n_params
    previous = _core.get_blas()
    try:
        for built_with in (True, False):
            _core.set_blas(built_with)
            team = _core.Team(net._arch, _core.Optim(_core.OPTIMIZER_CODES["sgd"], 0.05),
                              net.params.copy(),
                              np.zeros(P), np.zeros(2 * P), 2, 16)
            _core.set_blas(not built_with)
            with pytest.raises(RuntimeError, match="BLAS setting changed"):
                team.prepare(X, T, np.arange(32, dtype=np.int64), None, np.zeros(2))
            _core.set_blas(built_with)
            team.prepare(X, T, np.arange(32, dtype=np.int64), None, np.zeros(2))
    finally:
        _core.set_blas(previous)


@pytest.mark.skipif(not _core.blas_available(), reason="scipy.linalg.cython_blas is missing")
def test_an_undone_batch_restores_every_row_as_it_was_before_that_batch():
    """Plain SGD on the sparse first layer steps only the rows of W_1 whose input is nonzero
    somewhere in the batch, and takes a backup of those only. When the update overflows, the
    undo must leave the other rows alone: their backup is from an older batch."""
    rng = np.random.default_rng(0)
    X = _sparse_X(rng, 32, 40, 0.25, np.float64)
    X[:16, 0] = 0.5  # input 0: nonzero in the first batch, zero in the second
    X[16:, 0] = 0.0
    T = rng.random((32, 2)) * 1e3
    net = cmlp.Network([40, 33, 2], activation="relu", output="identity", loss="mse",
                       dtype="float64", seed=1)
    P = net.n_params
    previous = _core.get_blas()
    try:
        _core.set_blas(True)
        p, g, s = net.params.copy(), np.zeros(P), np.zeros(2 * P)
        opt = _core.Optim(_core.OPTIMIZER_CODES["sgd"], 1e-3)
        team = _core.Team(net._arch, opt, p, g, s, 2, 16)
        assert _team_run(team, X, T, np.arange(16, dtype=np.int64), None, np.zeros(1))[:2] \
            == (0, 16)
        after_first = p.copy()
        assert not np.array_equal(after_first[:33], net.params[:33])  # W_1's row 0 moved
        opt.lr = 1e308  # the second batch's update overflows
        status, done, _ = _team_run(team, X, T, np.arange(16, 32, dtype=np.int64), None,
                                    np.zeros(1))
        assert (status, done) == (1, 0)
        np.testing.assert_array_equal(p, after_first)
        assert not g.any()
    finally:
        _core.set_blas(previous)
