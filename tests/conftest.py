"""Shared test helpers: tolerances, data locations, reference parameters of a network."""
from pathlib import Path

import numpy as np
import pytest

# float32 kernels are compared with the float64 reference; float64 ones almost exactly
RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-9}
ATOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}

# the repository is cloned beside shared/
MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def mnist_file(name):
    """Path of a file in shared/data/mnist, or skip the test when it is absent."""
    path = MNIST_DIR / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


def load_csv(path, max_rows=None):
    """The notes' CSV (label, 784 pixels) read with NumPy alone: (X uint8, labels int64)."""
    data = np.loadtxt(path, delimiter=",", dtype=np.int64, max_rows=max_rows, ndmin=2)
    return data[:, 1:].astype(np.uint8), data[:, 0]


def ref_params(net):
    """The network's parameters as the reference wants them: float64, biases as columns."""
    W = [np.array(w, dtype=np.float64) for w in net.weights]
    b = [np.array(v, dtype=np.float64).reshape(-1, 1) for v in net.biases]
    return W, b


def assert_close(actual, expected, dtype, what=""):
    dt = np.dtype(dtype)
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64),
                               rtol=RTOL[dt], atol=ATOL[dt], err_msg=what)


@pytest.fixture(params=None)
def each_isa(request):
    """Run the test once per kernel variant this CPU has (base, avx2, avx512)."""
    from cmlp import _core
    previous = _core.get_isa()
    _core.set_isa(request.param)
    yield request.param
    _core.set_isa(previous)


def pytest_generate_tests(metafunc):
    if "each_isa" in metafunc.fixturenames:
        from cmlp import _core
        metafunc.parametrize("each_isa", _core.available_isas(), indirect=True)


@pytest.fixture(params=["blas", "own"])
def each_backend(request):
    """Run the test with the batched drivers on BLAS (when scipy is there) and on the own
    blocked kernels."""
    from cmlp import _core
    if request.param == "blas" and not _core.blas_available():
        pytest.skip("scipy.linalg.cython_blas is not available")
    previous = _core.get_blas()
    _core.set_blas(request.param == "blas")
    yield request.param
    _core.set_blas(previous)
