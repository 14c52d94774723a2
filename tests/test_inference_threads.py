"""Network.forward/predict on several threads: the rows are cut on the engine's block grid,
so the outputs are bit for bit those of one thread, with BLAS on or off, for dense and sparse
X; small inputs stay on one thread; BLAS's thread count is left as it was found."""
import threading

import numpy as np
import pytest

import cmlp
import cmlp.network as network_module


@pytest.fixture
def small_threshold(monkeypatch):
    """Every input large enough for threads (the threshold is about the work per thread)."""
    monkeypatch.setattr(network_module, "MIN_WORK_PER_THREAD", 1)


def _data(N, n_in=30, density=0.3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, n_in)) * (rng.random((N, n_in)) < density)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [2, 3, 7])
def test_threaded_forward_is_bit_identical(dtype, threads, each_backend, small_threshold):
    net = cmlp.Network([30, 40, 20, 4], activation="tanh", loss="cross_entropy",
                       dtype=dtype, seed=1)
    R = net._arch.block_rows
    for N in (1, R - 1, R + 1, 3 * R + 5, 7 * R):
        # density per block around the sparse kernels' threshold: both kernels take part
        X = _data(N, density=0.45)
        one = net.forward(X, n_threads=1)
        many = net.forward(X, n_threads=threads)
        assert many.dtype == dtype and many.shape == (N, 4)
        assert np.array_equal(one, many), N
        assert np.array_equal(net.predict(X, n_threads=threads), net.predict(X, n_threads=1))


def test_row_slices_follow_the_block_grid(small_threshold):
    net = cmlp.Network([30, 8, 2], seed=0)
    R = net._arch.block_rows
    for N, threads in [(10 * R + 3, 3), (2 * R, 2), (R, 4), (5 * R + 1, 8), (0, 2)]:
        slices = net._row_slices(N, threads)
        assert slices[0][0] == 0 and slices[-1][1] == N or N == 0
        assert all(b > a for a, b in slices) or N == 0
        assert all(a % R == 0 for a, _ in slices)
        assert all(s[1] == t[0] for s, t in zip(slices, slices[1:]))
        assert len(slices) <= min(threads, max(1, -(-N // R)))
    assert len(net._row_slices(10 * R, 3)) == 3


def test_small_inputs_stay_on_one_thread():
    net = cmlp.Network([30, 8, 2], seed=0)
    assert net._row_slices(100, 8) == [(0, 100)]  # 100 x 266 is far below the threshold
    big = network_module.MIN_WORK_PER_THREAD * 4 // net.n_params
    assert len(net._row_slices(big, 2)) == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_n_threads_is_checked(bad):
    net = cmlp.Network([3, 2], seed=0)
    with pytest.raises((ValueError, TypeError), match="n_threads"):
        net.forward(np.zeros((2, 3)), n_threads=bad)


def test_sparse_threaded_forward_equals_dense(small_threshold):
    sp = pytest.importorskip("scipy.sparse")
    net = cmlp.Network([30, 40, 3], activation="relu", loss="cross_entropy", seed=2)
    X = _data(5 * net._arch.block_rows + 17, density=0.2)
    dense = net.forward(X, n_threads=1)
    assert np.array_equal(net.forward(sp.csr_matrix(X), n_threads=3), dense)


def test_threads_really_run_and_blas_is_left_as_found(small_threshold, monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [d["num_threads"] for d in threadpoolctl.threadpool_info()]
    seen = set()
    rows = network_module.Network._forward_rows

    def spy(self, X2, Y, a, b):
        seen.add(threading.get_ident())
        return rows(self, X2, Y, a, b)

    monkeypatch.setattr(network_module.Network, "_forward_rows", spy)
    net = cmlp.Network([30, 40, 3], seed=3)
    net.forward(_data(4 * net._arch.block_rows), n_threads=2)
    assert len(seen) == 2
    assert [d["num_threads"] for d in threadpoolctl.threadpool_info()] == before


def test_estimators_predict_on_threads(small_threshold):
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(4)
    X = rng.standard_normal((2000, 6))
    y = (X[:, 0] > 0).astype(int)
    b = cmlp.MLPClassifier(hidden_layer_sizes=(9,), max_iter=3, random_state=0, n_threads=2)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b.fit(X, y)
    b.set_params(n_threads=1)
    p1 = b.predict_proba(X)
    b.set_params(n_threads=2)
    assert np.array_equal(b.predict_proba(X), p1)
