"""``cmlp.Network``: a fully connected feed-forward network trained as the notes derive it."""
from __future__ import annotations

import contextlib
import math
import os
import collections.abc
from collections.abc import Sequence
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from tqdm.auto import tqdm

from . import _core
from ._sparse import as_csr, chunk_rows, dense_chunks, is_sparse, row_slice
from ._targets import as_labels, as_targets
from ._validation import (
    as_float_dtype,
    as_numeric_array,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_X,
)
from ._typing import ArrayLike, Callback, DTypeLike, FloatArray, PathLike, SeedLike
from .history import History
from .optim import get_optimizer
from .schedules import get_schedule, lr_for_epoch

ACTIVATIONS = ("sigmoid", "relu", "tanh", "leaky_relu", "elu", "identity")
OUTPUTS = ACTIVATIONS + ("softmax",)
LOSSES = ("tse", "mse", "cross_entropy")
INITS = ("uniform", "xavier", "he")
# outputs read as class scores by predict/score; the others are regression outputs
CLASSIFICATION_OUTPUTS = ("sigmoid", "softmax", "tanh")
# minibatch gradients are split over threads only when every thread gets at least this many
# multiply-adds (rows x parameters); below it, thread hand-offs cost more than they save
MIN_WORK_PER_THREAD = 1 << 19
# rows x parameters per call into C between signal checks and progress updates (~10 ms)
_CHUNK_WORK = 1 << 25
# the same for minibatch steps, whose work per row is smaller (BLAS, the sparse first layer)
# and whose threads meet once per call: about 8 batches of 64 on the notes' network
_BATCH_CHUNK_WORK = 1 << 28
# an epoch with at least this many rows x parameters shows a progress bar over its samples
_LONG_EPOCH_WORK = 2_000_000_000


def _usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


_BLAS_LOCK = threading.Lock()
_BLAS_USERS = 0       # fits inside the limit now
_BLAS_RESTORE = None  # what undoes the limit when the last of them leaves
_OPENBLAS = None      # (get, set) of scipy's OpenBLAS thread count, or False


def _scipy_openblas():
    """``openblas_get/set_num_threads`` of the OpenBLAS that scipy.linalg.cython_blas calls
    (scipy's wheels: prefixed ``scipy_``), or None. Called with _BLAS_LOCK held."""
    global _OPENBLAS
    if _OPENBLAS is None:
        _OPENBLAS = False
        try:
            import ctypes

            import scipy
            from threadpoolctl import threadpool_info
        except ImportError:
            return None
        _core.blas_available()  # scipy's BLAS is loaded by now
        pkg = os.path.dirname(os.path.abspath(scipy.__file__))
        for d in threadpool_info():
            path = d.get("filepath") or ""
            if d.get("internal_api") != "openblas" or not (
                    path.startswith(pkg + os.sep) or path.startswith(pkg + ".libs" + os.sep)):
                continue
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                break
            for prefix in ("scipy_", ""):
                get = getattr(lib, prefix + "openblas_get_num_threads", None)
                put = getattr(lib, prefix + "openblas_set_num_threads", None)
                if get is not None and put is not None:
                    get.argtypes, get.restype = [], ctypes.c_int
                    put.argtypes, put.restype = [ctypes.c_int], None
                    _OPENBLAS = (get, put)
                    break
            break
    return _OPENBLAS or None


@contextlib.contextmanager
def _blas_one_thread():
    """A context in which the BLAS that cmlp calls runs on one thread.

    ``fit`` runs its own threads (``n_threads``) over the minibatch work, each calling BLAS;
    BLAS's own threads on top of them would oversubscribe the cores. The limit is process-wide
    while any fit runs: the first fit to enter sets it and the last to leave restores the
    count it found, so fits overlapping in threads leave BLAS as they found it. With scipy's
    OpenBLAS only that library is limited (through its own API, from any thread); otherwise
    every BLAS through threadpoolctl (which lets only one thread control an OpenBLAS pthreads
    pool). Without BLAS in use or without threadpoolctl: no limit.
    """
    global _BLAS_USERS, _BLAS_RESTORE
    if not _core.get_blas():
        yield
        return
    with _BLAS_LOCK:
        if _BLAS_USERS == 0:
            openblas = _scipy_openblas()
            if openblas is not None:
                get, put = openblas
                found = get()
                put(1)
                _BLAS_RESTORE = lambda: put(found)  # noqa: E731
            else:
                try:
                    from threadpoolctl import ThreadpoolController
                    _BLAS_RESTORE = ThreadpoolController().limit(
                        limits=1, user_api="blas").restore_original_limits
                except ImportError:
                    _BLAS_RESTORE = None
        _BLAS_USERS += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_USERS -= 1
            if _BLAS_USERS == 0 and _BLAS_RESTORE is not None:
                _BLAS_RESTORE()
                _BLAS_RESTORE = None


def _one_blas_thread(fn, *args):
    """fn(*args) inside _blas_one_thread: for work handed to fit's pool threads."""
    with _blas_one_thread():
        return fn(*args)


def _team_chunk(team, pool):
    """Runs a prepared ``_core.Team`` chunk: member 0 here, the others on the pool."""
    futures = [pool.submit(_one_blas_thread, team.run, k) for k in range(1, team.n_threads)]
    try:
        _one_blas_thread(team.run, 0)
    finally:
        for f in futures:
            f.result()


def _check_seed(seed, name="seed"):
    """None, a non-negative int or a np.random.Generator -> np.random.Generator (PCG64)."""
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be None, an int or a np.random.Generator, "
                        f"got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be non-negative, got {seed}")
    return np.random.default_rng(int(seed))


class Network:
    """A multilayer perceptron with C kernels, following the course notes.

    Feed-forward: ``a_0 = x``, ``n_i = W_i^T a_{i-1} + b_i``, ``a_i = sigma_i(n_i)``,
    ``y = a_L``; training is the notes' backpropagation (``S_L = dF/dn_L``,
    ``S_{i-1} = A_{i-1} W_i S_i``) with in-place gradient-descent updates.

    Parameters
    ----------
    layers : sequence of int
        Layer sizes ``[n_0, n_1, ..., n_L]``, e.g. ``[784, 500, 200, 10]``: the inputs,
        the hidden layers, the outputs. At least two; ``[2, 1]`` (no hidden layer) is the
        notes' single neuron for the logic gates.
    activation : str or sequence of str, default "sigmoid"
        Activation of the hidden layers: one name for all, or one per hidden layer.
        ``"sigmoid"``, ``"relu"``, ``"tanh"``, ``"leaky_relu"`` (slope 0.01 below zero),
        ``"elu"`` (alpha 1) or ``"identity"``.
    output : str or None, default None
        Activation of the output layer: any of the above or ``"softmax"``. None means the
        hidden activation (the notes use sigmoid throughout), except with
        ``loss="cross_entropy"``, where it means softmax (several outputs) or sigmoid (one).
    loss : {"tse", "mse", "cross_entropy"}, default "tse"
        The per-sample loss and the whole-set cost (see :meth:`cost`):

        - ``"tse"``: the notes' total squared error, ``F = ||t - y||^2`` per sample, summed
          over the samples of a set.
        - ``"mse"``: ``F = 1/2 ||t - y||^2`` per sample, averaged over the samples.
        - ``"cross_entropy"``: ``F = -sum_k t_k log y_k`` for a softmax output, or the binary
          form ``F = -sum_k [t_k log y_k + (1 - t_k) log(1 - y_k)]`` for sigmoid outputs,
          averaged over the samples; ``y`` is clipped to ``[eps, 1 - eps]`` inside the log,
          as scikit-learn does. It needs a softmax or sigmoid output.

        With a softmax output and ``tse``/``mse``, the output delta uses the true softmax
        Jacobian, ``S = y * (g - y.g)``.
    init : {"uniform", "xavier", "he"}, default "uniform"
        Initial weights: the notes' ``0.5 - U[0, 1)``; Glorot uniform
        (``U[-r, r]``, ``r = sqrt(6 / (n_in + n_out))``); He normal
        (``N(0, 2 / n_in)``, not truncated). Biases start at zero.
    dtype : {"float32", "float64"} or numpy dtype, default "float64"
        Precision of the parameters and of every computation. Inputs and targets are
        converted once to it; outputs and gradients come back in it.
    seed : None, int or numpy.random.Generator
        Seeds the network's own generator (PCG64), which draws ``W_1, W_2, ...`` in layer
        order at construction and, in :meth:`fit` with ``seed=None``, the shuffling.
        Two processes with the same seed produce bit-identical networks and training.

    Attributes
    ----------
    weights : tuple of ndarray
        ``weights[i]`` is the notes' ``W_{i+1}``, of shape ``(n_i, n_{i+1})``: a live view
        into the parameter buffer, so ``net.weights[0][...] = W1`` sets it in place.
    biases : tuple of ndarray
        ``biases[i]`` is ``b_{i+1}``, of shape ``(n_{i+1},)``; live views likewise.
    params : ndarray of shape (n_params,)
        All weights and biases in one flat buffer ``[W_1, b_1, W_2, b_2, ...]``.

    Notes
    -----
    No input scaling happens here: X is used as given (converted to ``dtype``). The notes
    divide MNIST pixels by 255 before training; ``cmlp.datasets`` loaders return raw
    0-255 values and the ``cmlp`` command divides by 255.

    Examples
    --------
    >>> import numpy as np, cmlp
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    >>> net = cmlp.Network([2, 4, 1], seed=0)
    >>> history = net.fit(X, [0, 1, 1, 0], epochs=3000, lr=0.5, verbose=0)
    >>> net.predict(X)
    array([0, 1, 1, 0])
    """

    def __init__(self, layers: Sequence[int], activation: str | Sequence[str] = "sigmoid",
                 output: str | None = None, loss: str = "tse", init: str = "uniform",
                 dtype: DTypeLike = "float64", seed: SeedLike = None) -> None:
        self._configure(layers, activation, output, loss, init, dtype)
        self._rng = _check_seed(seed)
        self._allocate()
        self._initialize()

    # ------------------------------------------------------------------ construction

    def _configure(self, layers, activation, output, loss, init, dtype):
        ordered = isinstance(layers, collections.abc.Sequence) or (
            isinstance(layers, np.ndarray) and layers.ndim == 1)
        if isinstance(layers, (str, bytes)) or not ordered:
            # a set or dict would be iterated in an order the user did not write
            raise TypeError(f"layers must be an ordered sequence of layer sizes such as "
                            f"[784, 500, 200, 10], got {type(layers).__name__} {layers!r}")
        if len(layers) < 2:
            raise ValueError(f"layers must have at least 2 sizes (inputs and outputs), "
                             f"got {list(layers)!r}")
        sizes = tuple(check_int(f"layers[{i}]", n, 1) for i, n in enumerate(layers))
        n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))  # exact, in Python
        if n_params * 8 > np.iinfo(np.intp).max:
            raise ValueError(f"layers {list(sizes)} need {n_params:,} parameters "
                             f"({n_params * 8 / 2**30:,.0f} GiB in float64), more than this "
                             f"machine can address; use smaller layers")
        n_hidden = len(sizes) - 2
        if isinstance(activation, str):
            hidden = (check_choice("activation", activation, ACTIVATIONS),) * n_hidden
            default_out = activation
        else:
            if not hasattr(activation, "__len__"):
                raise TypeError(f"activation must be a name or a list of names, got "
                                f"{type(activation).__name__}")
            if len(activation) != n_hidden:
                raise ValueError(f"activation: expected one name per hidden layer "
                                 f"({n_hidden}), got {len(activation)}")
            hidden = tuple(check_choice(f"activation[{i}]", a, ACTIVATIONS)
                           for i, a in enumerate(activation))
            default_out = hidden[-1] if hidden else "sigmoid"
        loss = check_choice("loss", loss, LOSSES)
        if output is None:
            if loss == "cross_entropy":
                output = "softmax" if sizes[-1] > 1 else "sigmoid"
            else:
                output = default_out
        output = check_choice("output", output, OUTPUTS)
        if output == "softmax" and sizes[-1] < 2:
            raise ValueError("output='softmax' needs at least 2 output units; use 'sigmoid' "
                             "for a single output")
        if loss == "cross_entropy" and output not in ("softmax", "sigmoid"):
            raise ValueError(f"loss='cross_entropy' needs a softmax or sigmoid output, got "
                             f"output={output!r}")
        self._layers = sizes
        self._activations = hidden + (output,)
        self._loss = loss
        self._init = check_choice("init", init, INITS)
        self._dtype = as_float_dtype(dtype)
        self._arch = _core.Arch(np.array(sizes, dtype=np.intp),
                                np.array([_core.ACTIVATION_CODES[a] for a in self._activations],
                                         dtype=np.intc),
                                _core.LOSS_CODES[loss])
        self._lock = threading.RLock()

    def _allocate(self):
        """One flat buffer; weights and biases are views into it."""
        self._params = np.zeros(self._arch.n_params, dtype=self._dtype)
        W, b, off = [], [], 0
        for n_in, n_out in zip(self._layers[:-1], self._layers[1:]):
            W.append(self._params[off:off + n_in * n_out].reshape(n_in, n_out))
            off += n_in * n_out
            b.append(self._params[off:off + n_out])
            off += n_out
        self._W, self._b = tuple(W), tuple(b)

    def _initialize(self):
        rng = self._rng
        for W, b in zip(self._W, self._b):
            n_in, n_out = W.shape
            if self._init == "uniform":
                W[...] = 0.5 - rng.random((n_in, n_out))  # the notes: 0.5 - np.random.rand
            elif self._init == "xavier":
                r = np.sqrt(6.0 / (n_in + n_out))
                W[...] = rng.uniform(-r, r, (n_in, n_out))
            else:  # he
                W[...] = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
            b[...] = 0

    # ------------------------------------------------------------------ description

    @property
    def layers(self) -> tuple[int, ...]:
        """Layer sizes ``(n_0, ..., n_L)``."""
        return self._layers

    @property
    def activations(self) -> tuple[str, ...]:
        """Activation of each layer ``1..L`` (the last is the output's)."""
        return self._activations

    @property
    def output(self) -> str:
        return self._activations[-1]

    @property
    def loss(self) -> str:
        return self._loss

    @property
    def init(self) -> str:
        return self._init

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def n_params(self) -> int:
        """Number of weights and biases."""
        return self._params.shape[0]

    @property
    def rng(self) -> np.random.Generator:
        """The network's own ``np.random.Generator`` (PCG64): it drew the initial weights
        and draws the shuffling of ``fit(seed=None)``."""
        return self._rng

    @property
    def is_classifier(self) -> bool:
        """True when outputs are class scores (sigmoid, softmax or tanh output)."""
        return self.output in CLASSIFICATION_OUTPUTS

    def __repr__(self):
        hidden = self._activations[:-1]
        act = hidden[0] if len(set(hidden)) == 1 else list(hidden)
        if not hidden:
            act = self.output
        return (f"Network(layers={list(self._layers)}, activation={act!r}, "
                f"output={self.output!r}, loss={self._loss!r}, init={self._init!r}, "
                f"dtype={self._dtype.name!r})")

    # ------------------------------------------------------------------ parameters

    @property
    def params(self) -> FloatArray:
        """All parameters ``[W_1, b_1, ..., W_L, b_L]`` as one flat, writable view."""
        return self._params

    @params.setter
    def params(self, value: ArrayLike) -> None:
        arr = as_numeric_array(value, "params")
        if arr.shape != self._params.shape:
            raise ValueError(f"params must have shape {self._params.shape}, got {arr.shape}")
        self._set_checked(self._params, arr, "params")

    @property
    def weights(self) -> tuple[FloatArray, ...]:
        """``(W_1, ..., W_L)``, live views of shapes ``(n_{i-1}, n_i)``."""
        return self._W

    @weights.setter
    def weights(self, values: Sequence[ArrayLike]) -> None:
        self._assign("weights", self._W, values)

    @property
    def biases(self) -> tuple[FloatArray, ...]:
        """``(b_1, ..., b_L)``, live views of shapes ``(n_i,)``."""
        return self._b

    @biases.setter
    def biases(self, values: Sequence[ArrayLike]) -> None:
        self._assign("biases", self._b, values)

    def _assign(self, name, targets, values):
        if isinstance(values, np.ndarray) or not hasattr(values, "__len__"):
            raise TypeError(f"{name} must be a list of {len(targets)} arrays")
        if len(values) != len(targets):
            raise ValueError(f"{name}: expected {len(targets)} arrays (one per layer), "
                             f"got {len(values)}")
        # every value is converted to its own copy and checked before anything is written:
        # a refused assignment changes nothing, and values that are views of the parameters
        # themselves (swapping two layers) are read before they are overwritten
        arrays = []
        for i, (t, v) in enumerate(zip(targets, values)):
            a = as_numeric_array(v, f"{name}[{i}]")
            if name == "biases" and a.shape == (t.shape[0], 1):
                a = a.reshape(-1)  # the notes keep biases as (n, 1) columns
            if a.shape != t.shape:
                raise ValueError(f"{name}[{i}] must have shape {t.shape}, got {a.shape}")
            arrays.append(self._converted(a, f"{name}[{i}]"))
        for t, a in zip(targets, arrays):
            t[...] = a

    def _set_checked(self, target, arr, name):
        target[...] = self._converted(arr, name)

    def _converted(self, arr, name):
        """A finite copy of arr in the network's dtype, or a ValueError naming it."""
        with np.errstate(over="ignore"):
            converted = np.array(arr, dtype=self._dtype, copy=True)
        if not np.isfinite(converted).all():
            raise ValueError(f"{name} contains NaN or infinity (or values too large for "
                             f"{self._dtype.name})")
        return converted

    def save(self, path: PathLike) -> None:
        """Write the network to one ``.npz`` file, atomically (see :func:`cmlp.save`):
        architecture, exact parameters and generator state; read back by :func:`cmlp.load`."""
        from .persistence import save
        save(self, path)

    def summary(self) -> None:
        """Print a Keras-style table of the layers, output shapes and parameter counts."""
        from .persistence import summary
        print(summary(self))

    def copy(self) -> Network:
        """An independent network with the same configuration, parameters and generator."""
        new = Network.__new__(Network)
        new.__setstate__(self.__getstate__())
        return new

    def __getstate__(self):
        return {
            "layers": list(self._layers),
            "activations": list(self._activations),
            "loss": self._loss,
            "init": self._init,
            "dtype": self._dtype.name,
            "params": self._params.copy(),
            "rng_state": self._rng.bit_generator.state,
        }

    def __setstate__(self, state):
        acts = state["activations"]
        self._configure(state["layers"], acts[:-1] if len(acts) > 1 else "sigmoid", acts[-1],
                        state["loss"], state["init"], state["dtype"])
        self._allocate()
        self._params[...] = state["params"]
        self._rng = np.random.Generator(np.random.PCG64())
        self._rng.bit_generator.state = state["rng_state"]

    # ------------------------------------------------------------------ inference

    def _inputs(self, X, allow_1d=True, name="X"):
        """``(X2, single)``: X checked and converted once to the network's dtype, as a
        C-contiguous array or, for a scipy.sparse X, a ``_core.CSR`` (see cmlp._sparse)."""
        if isinstance(X, _core.CSR) and X.dtype == self._dtype and X.n_cols == self._layers[0]:
            return X, False  # already checked (score and fit pass it on)
        if is_sparse(X):
            return as_csr(X, self._layers[0], self._dtype, name), False
        X2, single = check_X(X, self._layers[0], self._dtype, name, allow_1d=allow_1d)
        return X2, single

    def forward(self, X: ArrayLike) -> FloatArray:
        """Feed X forward through the network.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (N, n_0), or one sample (n_0,)
            Samples in rows (any numeric dtype; converted once to the network's dtype). A
            sparse X (CSR, CSC, other formats converted to CSR once) is never densified
            whole: its rows are written densely a bounded chunk at a time, and the results
            equal those of the dense X.

        Returns
        -------
        ndarray of shape (N, n_L), or (n_L,) for a single sample
            The outputs ``y = a_L``, in the network's dtype.
        """
        X2, single = self._inputs(X)
        Y = np.empty((X2.shape[0], self._layers[-1]), dtype=self._dtype)
        with self._lock:
            for a, b, Xc in dense_chunks(X2):
                _core.forward(self._arch, self._params, Xc, Y[a:b])
        return Y[0] if single else Y

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted class labels, or outputs for a regression network.

        For classification outputs (softmax, sigmoid, tanh) returns int64 labels of shape
        (N,): the argmax over several outputs; with one output unit, ``y > 0.5`` for
        sigmoid and ``y > 0`` for tanh. For identity, relu, leaky_relu and elu outputs
        returns the outputs themselves (N, n_L), in the network's dtype.
        """
        Y = self.forward(X)
        if not self.is_classifier:
            return Y
        single = Y.ndim == 1
        Y2 = Y.reshape(1, -1) if single else Y
        if Y2.shape[1] == 1:
            threshold = 0.5 if self.output == "sigmoid" else 0.0
            labels = (Y2[:, 0] > threshold).astype(np.int64)
        else:
            labels = np.argmax(Y2, axis=1).astype(np.int64)
        return labels[0] if single else labels

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """Accuracy for a classification network; R^2 for a regression network.

        y takes the same forms as in :meth:`fit`: labels, or a 2-D target array (for
        classification its argmax, or ``> threshold`` for one output unit, gives the labels).
        X may be a scipy.sparse matrix, as in :meth:`forward`.
        """
        X2, _ = self._inputs(X, allow_1d=False)
        if X2.shape[0] == 0:
            raise ValueError("X has no rows; score needs at least one sample")
        if not self.is_classifier:
            T = as_targets(y, X2.shape[0], self._layers[-1], np.float64)
            Y = self.forward(X2).astype(np.float64)
            ss_res = ((T - Y) ** 2).sum()
            ss_tot = ((T - T.mean(axis=0)) ** 2).sum()
            return float(1.0 - ss_res / ss_tot) if ss_tot > 0 else float(ss_res == 0)
        arr = as_numeric_array(y, "y")
        K = self._layers[-1]
        if arr.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D labels or a 2-D (n_samples, {K}) target array, "
                             f"got shape {arr.shape}")
        if arr.ndim == 2:
            T = as_targets(arr, X2.shape[0], K, np.float64)
            threshold = 0.5 if self.output == "sigmoid" else 0.0
            labels = (T[:, 0] > threshold).astype(np.int64) if K == 1 else T.argmax(axis=1)
        else:
            if arr.shape[0] != X2.shape[0]:
                raise ValueError(f"y has {arr.shape[0]} rows, but X has {X2.shape[0]}")
            labels = as_labels(arr, max(K, 2), "y")
        return float(np.mean(self.predict(X2) == labels))

    def cost(self, X: ArrayLike, y: ArrayLike) -> float:
        """The whole-set cost: for ``tse`` the sum over rows of ``||t - y||^2`` (the notes'
        TSEcost); for ``mse`` and ``cross_entropy`` the mean over rows of the per-sample
        loss. y takes the same forms as in :meth:`fit`; X may be a scipy.sparse matrix (its
        rows are densified a bounded chunk at a time, the chunks' sums added)."""
        X2, _ = self._inputs(X, allow_1d=False)
        T = as_targets(y, X2.shape[0], self._layers[-1], self._dtype)
        with self._lock:
            return self._cost(X2, T)

    def _cost(self, X2, T):
        total = 0.0
        for a, b, Xc in dense_chunks(X2):
            total += _core.loss(self._arch, self._params, Xc, T[a:b])
        if self._loss == "tse" or X2.shape[0] == 0:
            return float(total)
        return float(total / X2.shape[0])

    def gradients(self, X: ArrayLike, y: ArrayLike
                  ) -> tuple[list[FloatArray], list[FloatArray]]:
        """Gradient of the whole-set cost (see :meth:`cost`) with respect to every parameter.

        Returns
        -------
        dW : list of ndarray
            ``dW[i]`` of shape ``(n_i, n_{i+1})``, like ``weights[i]``.
        db : list of ndarray
            ``db[i]`` of shape ``(n_{i+1},)``, like ``biases[i]``.

        The network is not changed. For ``tse`` this is the sum over rows of the notes'
        ``a_{i-1} S_i^T`` and ``S_i``; for ``mse`` and ``cross_entropy`` the mean. X may be a
        scipy.sparse matrix, as in :meth:`forward` (bit for bit the dense X's gradients).
        """
        X2, _ = self._inputs(X, allow_1d=False)
        if X2.shape[0] == 0:
            raise ValueError("X has no rows; gradients need at least one sample")
        T = as_targets(y, X2.shape[0], self._layers[-1], self._dtype)
        grad = np.zeros_like(self._params)
        with self._lock:
            for a, b, Xc in dense_chunks(X2):  # grad accumulates over the chunks
                _core.gradients(self._arch, self._params, Xc, T[a:b], grad)
        if self._loss != "tse":
            grad /= X2.shape[0]
        return self._split(grad)

    def _split(self, flat):
        dW, db, off = [], [], 0
        for n_in, n_out in zip(self._layers[:-1], self._layers[1:]):
            dW.append(flat[off:off + n_in * n_out].reshape(n_in, n_out))
            off += n_in * n_out
            db.append(flat[off:off + n_out])
            off += n_out
        return dW, db

    # ------------------------------------------------------------------ training

    def fit(self, X: ArrayLike, y: ArrayLike, epochs: int = 10, lr: float | None = None,
            batch_size: int | str | None = 1, shuffle: bool = True, seed: SeedLike = None,
            verbose: int = 1, on_nonfinite: str = "raise", optimizer: object = "sgd",
            l1: float = 0.0, l2: float = 0.0, dropout: float | Sequence[float] = 0.0,
            lr_schedule: object = None,
            validation_data: tuple[ArrayLike, ArrayLike] | None = None,
            validation_split: float | None = None, early_stopping: bool = False,
            patience: int = 10, callbacks: Sequence[Callback] | None = None,
            n_threads: int | None = None, _optimizer_state: dict | None = None) -> History:
        """Train with gradient descent; returns a :class:`History`.

        With ``batch_size=1``, ``optimizer="sgd"`` and no ``l1``, ``l2`` or ``dropout`` (the
        defaults) this is exactly the notes' stochastic gradient descent: each epoch visits
        the rows in a random permutation (without replacement) and after every sample
        updates ``W_i -= lr a_{i-1} S_i^T``, ``b_i -= lr S_i`` for every layer, all ``S_i``
        computed from the weights before that sample's update. The whole epoch runs in C
        without the GIL, on one thread.

        Otherwise each step takes a batch of ``batch_size`` consecutive rows of the epoch's
        permutation (the last batch may be shorter) and descends

            ``(1/B) sum_{rows of the batch} F_row  +  l1 sum|w|  +  l2 sum w^2``

        i.e. it uses the **mean over the batch of the per-row gradients** plus the penalty's
        gradient ``l1 sign(w) + 2 l2 w`` (weights only, never biases; ``sign(0) = 0``), and
        hands that gradient ``g`` to the optimizer (see :mod:`cmlp.optim`). Each batch is
        gathered, differentiated, penalised and applied in C with no allocation.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (N, n_0)
            Training samples in rows, used as given (no scaling; see the class notes). A
            sparse X (CSR, CSC, or another format, converted to CSR once) is never densified
            whole: minibatch steps write each batch's rows into their block, the per-sample
            path and the end-of-epoch evaluation write bounded chunks of rows; the trained
            parameters are bit for bit those of the dense X. ``validation_data`` may be
            sparse too.
        y : array-like of shape (N,) or (N, n_L)
            1-D class labels (one-hot encoded inside when there are several outputs; with
            one output unit, the target value itself), or a 2-D target array.
        epochs : int, default 10
            Passes over the training set (at most: early stopping and callbacks may end
            training sooner).
        lr : float or None, default None
            Base learning rate (the notes' alpha; they use 0.3 for MNIST). None: the
            optimizer object's ``lr`` if it has one, else the optimizer's default (0.1 for
            sgd/momentum/nesterov, 0.01 adagrad/rmsprop, 0.001 adam). An explicit ``lr``
            here takes precedence over the optimizer object's.
        batch_size : int, None or "full", default 1
            Samples per update. None or "full": the whole set (full-batch gradient descent,
            as the notes' logic-gate code). Larger than N is clipped to N with a warning.
        shuffle : bool, default True
            Visit the rows in a fresh random permutation each epoch; False: in given order.
        seed : None, int or numpy.random.Generator
            None continues the network's own generator; otherwise a fresh generator for
            this call (the network's generator is not advanced). It draws, each epoch, the
            permutation and then the dropout masks, so a seed reproduces both.
        verbose : int, default 1
            0: silent. 1: a progress bar over epochs showing the cost (and accuracy for
            classification, and the validation values), plus a bar over the samples of an
            epoch when epochs are long (rows x parameters >= 2e9, e.g. full MNIST on the
            notes' network). 2: the sample bar always.
        on_nonfinite : {"raise", "warn"}, default "raise"
            What happens when a loss becomes NaN or infinite (e.g. a learning rate far too
            large). "raise": stop with ``FloatingPointError``; the parameters are those after
            the last sample (or batch) whose loss was finite, and the partial History is the
            exception's ``history`` attribute. "warn": finish training, warn with a
            ``RuntimeWarning``; the History shows the non-finite costs.
        optimizer : str or cmlp.optim.Optimizer, default "sgd"
            "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", or an object such
            as ``cmlp.optim.Adam(lr=1e-3, beta1=0.9)`` to set hyperparameters. The formulas
            are torch.optim's (see :mod:`cmlp.optim`); the optimizer's state starts at zero
            in every call of ``fit``.
        l1, l2 : float >= 0, default 0
            Penalty ``l1 sum |w| + l2 sum w^2`` over all weights (not biases), added to the
            mean-over-batch loss of every step (see above). ``History.cost`` reports the
            whole-set cost plus this penalty (``History.penalty`` the penalty alone).
        dropout : float or sequence of float, default 0
            Inverted dropout on the hidden layers during training: one probability for every
            hidden layer or one per hidden layer, each in [0, 1). In each training row, each
            unit of hidden layer i is zeroed with probability p_i, the others scaled by
            1/(1 - p_i). Masks are drawn with the fit's generator; dropout is off in
            :meth:`forward`, :meth:`predict`, :meth:`cost` and the History's evaluations.
        lr_schedule : None, str, cmlp.schedules.Schedule or callable
            Learning rate per epoch (0-based): "constant" (default), "step"
            (``lr * 0.5 ** (epoch // 10)``), "exponential" (``lr * 0.95 ** epoch``),
            "inverse" (``lr / (1 + 0.01 epoch)``), an object of :mod:`cmlp.schedules` for
            other settings, or a callable ``epoch -> lr``.
        validation_data : tuple (X_val, y_val), optional
            Evaluated after every epoch: ``History.val_cost`` (cost plus penalty) and, for
            classification, ``History.val_accuracy``.
        validation_split : float in (0, 1), optional
            Instead of validation_data: hold out the **last** ``validation_split`` fraction
            of the rows of X and y (as given, before any shuffling) for validation.
        early_stopping : bool, default False
            Stop when ``val_cost`` has not decreased for ``patience`` epochs in a row, and in
            any case end ``fit`` with the weights of the epoch of the lowest ``val_cost``
            (``History.best_epoch``). Needs validation data.
        patience : int >= 1, default 10
        callbacks : callable or sequence of callables, optional
            Each called as ``callback(epoch, history)`` after every completed epoch (0-based
            epoch, the History so far); a callback returning ``False`` (exactly) stops
            training after that epoch (``History.stopped == "callback"``).
        n_threads : int or None, default None
            Threads for the minibatch gradients; None: every CPU this process may use. Each
            batch is split into ``n_threads`` contiguous row slices, each thread sums its
            slice's gradients into its own buffer, then the buffers are added in a fixed
            order and the optimizer step runs once: deterministic for a given ``n_threads``.
            Different ``n_threads`` change only the order of those floating-point sums (the
            permutation, dropout masks and steps are the same): after a few steps the
            parameters agree within ``rtol=1e-9`` (float64) or ``rtol=1e-4`` (float32), the
            tolerance the tests use; long runs drift further apart, as any change of
            summation order in chaotic training does. Threads are
            used only when each gets at least ``2**19`` rows x parameters of work per batch.
            The per-sample path (batch_size 1) is always single-threaded.

        Returns
        -------
        History
            ``history.cost[e]`` is the whole-set cost (see :meth:`cost`) on the training set
            after epoch ``e``, computed with that epoch's final weights, as the notes'
            ``TSEcost``, plus the penalty; see :class:`History` for the rest.
        """
        epochs = check_int("epochs", epochs, 1)
        shuffle = check_bool("shuffle", shuffle)
        verbose = check_int("verbose", verbose, 0)
        on_nonfinite = check_choice("on_nonfinite", on_nonfinite, ("raise", "warn"))
        opt = get_optimizer(optimizer)
        lr = opt.resolve_lr(lr)
        l1 = check_float("l1", l1, 0.0)
        l2 = check_float("l2", l2, 0.0)
        drop = self._check_dropout(dropout)
        schedule = get_schedule(lr_schedule)
        early_stopping = check_bool("early_stopping", early_stopping)
        patience = check_int("patience", patience, 1)
        callbacks = self._check_callbacks(callbacks)
        if n_threads is None:
            n_threads = _usable_cpus()
        n_threads = check_int("n_threads", n_threads, 1)
        X2, _ = self._inputs(X, allow_1d=False)
        N = X2.shape[0]
        if N == 0:
            raise ValueError("X has no rows; fit needs at least one sample")
        T = as_targets(y, N, self._layers[-1], self._dtype)
        if validation_data is not None and validation_split is not None:
            raise ValueError("give validation_data or validation_split, not both")
        val = None
        if validation_split is not None:
            frac = check_float("validation_split", validation_split, 0.0, strict=True)
            n_val = int(math.ceil(N * frac)) if frac < 1 else N
            if frac >= 1 or n_val >= N:
                raise ValueError(f"validation_split must leave training rows: got {frac} of "
                                 f"{N} rows")
            val = (row_slice(X2, N - n_val, N), T[N - n_val:])
            X2, T = row_slice(X2, 0, N - n_val), T[:N - n_val]
            N = X2.shape[0]
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a tuple (X_val, y_val)")
            Xv, _ = self._inputs(validation_data[0], allow_1d=False, name="validation_data[0]")
            if Xv.shape[0] == 0:
                raise ValueError("validation_data[0] has no rows")
            val = (Xv, as_targets(validation_data[1], Xv.shape[0], self._layers[-1],
                                  self._dtype, name="validation_data[1]"))
        if early_stopping and val is None:
            raise ValueError("early_stopping=True needs validation_data or validation_split")
        B = self._check_batch_size(batch_size, N)
        # the C kernels assume the data never overlaps the parameters they update
        if isinstance(X2, _core.CSR):
            if np.may_share_memory(X2.data, self._params):
                X2 = _core.CSR(X2.data.copy(), X2.indices, X2.indptr, X2.n_cols)
        elif np.may_share_memory(X2, self._params):
            X2 = X2.copy()
        if np.may_share_memory(T, self._params):
            T = T.copy()
        rng = self._rng if seed is None else _check_seed(seed)
        history = History(self._loss, lr, B, opt.name)
        # _optimizer_state (private, for cmlp.estimators' partial_fit): a dict that carries the
        # optimizer's state arrays and step count from this fit to the next one with the same
        # optimizer; empty or from another optimizer: a fresh state, stored into it at the end
        config = dict(opt=opt, lr=lr, l1=l1, l2=l2, drop=drop, schedule=schedule, val=val,
                      early_stopping=early_stopping, patience=patience, callbacks=callbacks,
                      n_threads=n_threads, carry=_optimizer_state)
        with self._lock, _blas_one_thread():
            self._train(X2, T, epochs, B, shuffle, rng, verbose, on_nonfinite, history, config)
        return history

    def _check_dropout(self, dropout):
        n_hidden = len(self._layers) - 2
        if isinstance(dropout, (str, bytes)) or not hasattr(dropout, "__len__"):
            p = check_float("dropout", dropout, 0.0)
            probs = [p] * n_hidden
            if p > 0 and n_hidden == 0:
                raise ValueError("dropout needs a hidden layer; this network has none")
        else:
            if len(dropout) != n_hidden:
                raise ValueError(f"dropout: expected one probability per hidden layer "
                                 f"({n_hidden}), got {len(dropout)}")
            probs = [check_float(f"dropout[{i}]", p, 0.0) for i, p in enumerate(dropout)]
        for i, p in enumerate(probs):
            if p >= 1:
                raise ValueError(f"dropout probabilities must be in [0, 1), got {p} for hidden "
                                 f"layer {i + 1}")
        return np.array(probs, dtype=np.float64)

    @staticmethod
    def _check_callbacks(callbacks):
        if callbacks is None:
            return []
        if callable(callbacks):
            return [callbacks]
        if isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
            raise TypeError(f"callbacks must be a callable or a list of callables, got "
                            f"{type(callbacks).__name__}")
        callbacks = list(callbacks)
        for i, cb in enumerate(callbacks):
            if not callable(cb):
                raise TypeError(f"callbacks[{i}] must be callable (epoch, history), got "
                                f"{type(cb).__name__} {cb!r}")
        return callbacks

    @staticmethod
    def _check_batch_size(batch_size, N):
        if batch_size is None or (isinstance(batch_size, str) and batch_size == "full"):
            return N
        if isinstance(batch_size, str):
            raise ValueError(f"batch_size must be a positive integer, None or 'full', "
                             f"got {batch_size!r}")
        B = check_int("batch_size", batch_size, 1)
        if B > N:
            warnings.warn(f"batch_size={B} is larger than the number of samples ({N}); "
                          f"using {N}", UserWarning, stacklevel=3)
            B = N
        return B

    def _evaluate(self, X, T, pool=None, threads=1):
        """(whole-set cost, accuracy or None) with the current weights, no dropout.

        With a thread pool, the rows are cut into ``threads`` slices evaluated at once (the
        C calls release the GIL) and the slices' sums added in order.
        """
        N = X.shape[0]
        if pool is None or threads < 2 or N < 2 * threads * _core.BLOCK:
            slices = [(0, N)]
        else:
            bounds = np.linspace(0, N, threads + 1).astype(np.int64)
            slices = list(zip(bounds[:-1], bounds[1:]))
        def part(a, b):
            # a sparse X: dense chunks of the slice, their sums added in order
            total, correct = 0.0, 0
            for s, e, Xc in dense_chunks(X, a, b):
                if self.is_classifier:
                    t, c = _core.evaluate(self._arch, self._params, Xc, T[s:e])
                else:
                    t, c = _core.loss(self._arch, self._params, Xc, T[s:e]), 0
                total += t
                correct += c
            return total, correct
        futures = [pool.submit(_one_blas_thread, part, a, b) for a, b in slices[1:]]
        parts = [part(*slices[0])] + [f.result() for f in futures]
        total = sum(p[0] for p in parts)
        acc = sum(p[1] for p in parts) / N if self.is_classifier else None
        cost = float(total) if self._loss == "tse" else float(total / N)
        return cost, acc

    def _train(self, X, T, epochs, B, shuffle, rng, verbose, on_nonfinite, history, config):
        N, P = X.shape[0], self._params.shape[0]
        opt, lr0, l1, l2, drop = (config[k] for k in ("opt", "lr", "l1", "l2", "drop"))
        stop = on_nonfinite == "raise"
        use_dropout = bool((drop > 0).any())
        kind = _core.OPTIMIZER_CODES[opt.name]
        per_sample = B == 1 and opt.name == "sgd" and l1 == 0 and l2 == 0 and not use_dropout
        copt = _core.Optim(kind, lr0, l1=l1, l2=l2, **opt.hyperparameters())
        # rows per call into C: whole batches, about _CHUNK_WORK multiply-adds
        work = _CHUNK_WORK if per_sample else _BATCH_CHUNK_WORK
        chunk = max(1, work // ((P + 256) * B)) * B
        threads = min(config["n_threads"], B)
        if B * P < threads * MIN_WORK_PER_THREAD:
            threads = 1
        H = _core.hidden_width(self._arch)
        # every buffer of the fit, allocated once
        state = grad = U = pool = driver = team = None
        sparse_rows = None
        if per_sample and isinstance(X, _core.CSR):
            # the per-sample driver reads dense rows: each chunk of the epoch's rows is
            # written densely (X's rows in the permutation's order, and T's) into buffers
            chunk = min(chunk, chunk_rows(X.n_cols))
            m = min(chunk, N)
            sparse_rows = (np.empty((m, X.n_cols), self._dtype),
                           np.empty((m, T.shape[1]), self._dtype), np.arange(m, dtype=np.int64))
        carry = config["carry"]
        key = (opt.name, tuple(sorted(opt.hyperparameters().items())), P, self._dtype.str)
        if not per_sample:
            grad = np.zeros(P, self._dtype)
            if carry is not None and carry.get("key") == key:
                state = carry["state"]
                copt.t = carry["t"]
            else:
                state = np.zeros(2 * P, self._dtype)
            if use_dropout:
                U = np.empty((min(chunk, N), H), self._dtype)
        if threads > 1:
            pool = ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="cmlp-fit")
            driver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cmlp-fit-team")
            team = _core.Team(self._arch, copt, self._params, grad, state, threads, B)
        val = config["val"]
        best = None
        if config["early_stopping"]:
            best = dict(cost=np.inf, params=np.empty_like(self._params), epoch=None, wait=0)
        show_inner = verbose >= 2 or (verbose == 1 and N * P >= _LONG_EPOCH_WORK)
        bar = tqdm(total=epochs, desc="fit", unit="epoch", disable=verbose == 0, leave=True)
        inner = None
        try:
            for epoch in range(epochs):
                t0 = time.perf_counter()
                lr = lr_for_epoch(config["schedule"], epoch, lr0)
                copt.lr = lr
                perm = rng.permutation(N) if shuffle else np.arange(N, dtype=np.int64)
                perm = perm.astype(np.int64, copy=False)
                if show_inner:
                    inner = tqdm(total=N, desc=f"epoch {epoch + 1}", unit="sample", leave=False,
                                 mininterval=0.5)
                bad, done = False, N
                if per_sample and inner is None and sparse_rows is None:
                    status, done, _ = _core.sgd_epoch(self._arch, self._params, X, T, perm, lr,
                                                      stop)
                    bad = status != 0
                else:
                    for start in range(0, N, chunk):
                        rows = perm[start:start + chunk]
                        m = rows.shape[0]
                        if per_sample and sparse_rows is not None:
                            xb, tb, order = (a[:m] for a in sparse_rows)
                            _core.gather_rows(X, xb, 0, rows)
                            np.take(T, rows, axis=0, out=tb, mode="clip")
                            status, d, _ = _core.sgd_epoch(self._arch, self._params, xb, tb,
                                                           order, lr, stop)
                        elif per_sample:
                            status, d, _ = _core.sgd_epoch(self._arch, self._params, X, T, rows,
                                                           lr, stop)
                        else:
                            u = None
                            if U is not None:
                                u = U[:m]
                                rng.random(out=u, dtype=self._dtype)
                            if team is not None:
                                status, d = self._team_batches(team, driver, pool, X, T, rows,
                                                               u, drop, stop)
                            else:
                                status, d, _ = _core.train_batches(
                                    self._arch, copt, self._params, grad, state, X, T, rows, B,
                                    u, drop, stop)
                        if status != 0:
                            bad, done = True, start + d
                            break
                        if inner is not None:
                            inner.update(m)
                    if inner is not None:
                        inner.close()
                        inner = None
                if bad:
                    where = (f"sample {done + 1} (row {perm[done]})" if B == 1 else
                             f"the batch starting at sample {done + 1}")
                    err = FloatingPointError(
                        f"the loss became NaN or infinite in epoch {epoch + 1} at {where}; "
                        f"training stopped and the parameters are those after the previous "
                        f"{'sample' if B == 1 else 'batch'}. Try a smaller lr (got {lr:g}).")
                    history._stop("nonfinite", epoch)
                    err.history = history
                    raise err
                cost, acc = self._evaluate(X, T, pool, threads)
                pen = _core.penalty(self._arch, self._params, l1, l2) if l1 or l2 else 0.0
                cost += pen
                val_cost = val_acc = None
                if val is not None:
                    val_cost, val_acc = self._evaluate(*val, pool, threads)
                    val_cost += pen
                history._append(cost, time.perf_counter() - t0, pen, acc, val_cost, val_acc, lr)
                if not np.isfinite(cost) or not np.isfinite(self._params).all():
                    if stop:
                        history._stop("nonfinite", epoch)
                        err = FloatingPointError(
                            f"the cost after epoch {epoch + 1} is {cost} (or a parameter is not "
                            f"finite); training stopped. Try a smaller lr (got {lr:g}).")
                        err.history = history
                        raise err
                    if "nonfinite" not in history.warnings:
                        history.warnings.append("nonfinite")
                        warnings.warn(f"the cost became {cost} in epoch {epoch + 1}; "
                                      f"training continued because on_nonfinite='warn'",
                                      RuntimeWarning, stacklevel=3)
                if verbose:  # formatting costs more than a tiny network's epoch
                    post = {"cost": f"{cost:.6g}"}
                    if acc is not None:
                        post["acc"] = f"{acc:.4f}"
                    if val_cost is not None:
                        post["val_cost"] = f"{val_cost:.6g}"
                    if val_acc is not None:
                        post["val_acc"] = f"{val_acc:.4f}"
                    bar.set_postfix(post, refresh=False)
                    bar.update(1)
                halt = None
                for cb in config["callbacks"]:
                    if cb(epoch, history) is False:
                        halt = "callback"
                if best is not None:
                    if val_cost < best["cost"]:
                        best.update(cost=val_cost, epoch=epoch, wait=0)
                        best["params"][...] = self._params
                    else:
                        best["wait"] += 1
                        if best["wait"] >= config["patience"] and halt is None:
                            halt = "early_stopping"
                if halt is not None:
                    history._stop(halt, epoch)
                    break
            if best is not None and best["epoch"] is not None:
                self._params[...] = best["params"]
                history.best_epoch = best["epoch"]
        finally:
            if inner is not None:
                inner.close()
            bar.close()
            # the driver first: a chunk it is running completes (and uses the pool)
            if driver is not None:
                driver.shutdown(wait=True)
            if pool is not None:
                pool.shutdown(wait=True)
            if carry is not None and state is not None:
                carry.update(key=key, state=state, t=copt.t)

    @staticmethod
    def _team_batches(team, driver, pool, X, T, rows, U, drop, stop):
        """Minibatch steps over ``rows`` on the team's threads, each running its share in C
        without the GIL (see ``_core.Team``). Returns (status, rows done) as
        ``_core.train_batches``.

        The chunk is started and waited for by the ``driver`` thread, not by this one: a
        KeyboardInterrupt, which Python raises in the main thread at any bytecode, could
        otherwise land after a partner was started and before this thread joined it, leaving
        the partner waiting at the C barrier for good. Now the interrupt only ends the wait
        here; the chunk runs to its end (the parameters are those after a whole batch) and
        fit's cleanup waits for it."""
        team.prepare(X, T, rows, U, drop, stop)
        driver.submit(_team_chunk, team, pool).result()
        status, done, _ = team.result()
        return status, done
