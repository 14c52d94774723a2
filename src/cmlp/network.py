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
from ._sparse import as_csr, chunk_rows, dense_chunks, row_slice
from ._targets import as_labels, as_targets
from ._validation import (
    as_float_dtype,
    as_numeric_array,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_X,
    is_sparse,
    to_float_c,
)
from ._typing import ArrayLike, Callback, DTypeLike, FloatArray, PathLike, SeedLike
from .history import ConvergenceWarning, History
from .optim import get_optimizer
from .schedules import check_before_training, get_schedule, lr_for_epoch

ACTIVATIONS = ("sigmoid", "relu", "tanh", "leaky_relu", "elu", "identity")
# exp: output layer only, y = e^n (the log link of the Poisson loss)
OUTPUTS = ACTIVATIONS + ("softmax", "exp")
LOSSES = ("tse", "mse", "cross_entropy", "poisson")
INITS = ("uniform", "xavier", "he")
# outputs read as class scores by predict/score; the others are regression outputs
CLASSIFICATION_OUTPUTS = ("sigmoid", "softmax", "tanh")
# minibatch gradients are split over threads only when every thread gets at least this many
# multiply-adds (rows x parameters); below it, thread hand-offs cost more than they save
MIN_WORK_PER_THREAD = 1 << 19
# per-sample calls into C between progress updates take _core.sgd_chunk_rows rows;
# minibatch steps take whole batches of about _BATCH_CHUNK_WORK rows x parameters per call:
# about 8 batches of 64 on the notes' network for the first call of a fit; later calls are
# sized from the time the last one took, toward _BATCH_CHUNK_SECONDS (each call into a team
# of threads wakes its threads, which cost ~1-2 ms per call on this VM), up to
# _BATCH_CHUNK_GROWTH times the first size
_BATCH_CHUNK_WORK = 1 << 28
_BATCH_CHUNK_SECONDS = 0.05
_BATCH_CHUNK_GROWTH = 8
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

    ``fit`` and ``forward`` run their own threads (``n_threads``) over the rows, each calling BLAS
    (``cost`` and ``gradients`` enter it too: a multithreaded GEMM can round differently);
    BLAS's own threads on top of them would oversubscribe the cores. The limit is process-wide
    while any of them runs: the first to enter sets it and the last to leave restores the
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


def _progress(bar, cost, acc, val_cost, val_acc):
    """One epoch (or L-BFGS iteration) on fit's progress bar, its figures as the postfix."""
    post = {"cost": f"{cost:.6g}"}
    if acc is not None:
        post["acc"] = f"{acc:.4f}"
    if val_cost is not None:
        post["val_cost"] = f"{val_cost:.6g}"
    if val_acc is not None:
        post["val_acc"] = f"{val_acc:.4f}"
    bar.set_postfix(post, refresh=False)
    bar.update(1)


def _team_cpus(n_threads):
    """The CPUs a thread team's members are held to while they run (member k on
    ``cpus[k]``), or None (no pinning).

    Only where the OS lets a thread set its affinity (Linux), and only when the team has
    exactly as many members as the calling thread may use CPUs (the default ``n_threads``):
    then pinning chooses nothing but which member runs where. A smaller team is not pinned,
    so that processes each running a small team on a larger machine are not all held to
    the same first CPUs."""
    if not hasattr(os, "sched_setaffinity") or n_threads < 2:
        return None
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except OSError:
        return None
    return cpus if len(cpus) == n_threads else None


def _run_member(team, k, cpus):
    """``team.run(k)`` on this thread, held to ``cpus[k]`` while it runs (see _team_chunk)."""
    if cpus is None:
        return team.run(k)
    try:
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpus[k]})
    except OSError:  # not allowed here (a container's policy): run where the OS puts it
        return team.run(k)
    try:
        return team.run(k)
    finally:
        try:
            os.sched_setaffinity(0, before)
        except OSError:
            pass


def _team_chunk(team, pool, cpus=None):
    """Runs a prepared ``_core.Team`` chunk: member 0 here, the others on the pool.

    With ``cpus`` (``_team_cpus``), member k is held to CPU ``cpus[k]`` for the chunk and let
    go after it (the pool thread also runs fit's evaluation, which should stay free to
    move). The members wait for each other at a spinning barrier twice a batch, so two of
    them on one CPU, even for a few milliseconds, stall the whole team. Left to the
    scheduler on the 2-core VM, the two members of a two-thread fit were on the same CPU in
    8-12% of the samples (every 0.5 ms) taken while both were runnable; pinned, in 0-0.1%.
    The README gives the timings."""
    futures = [pool.submit(_one_blas_thread, _run_member, team, k, cpus)
               for k in range(1, team.n_threads)]
    try:
        _one_blas_thread(_run_member, team, 0, cpus)
    finally:
        for f in futures:
            f.result()


class _LBFGSObjective:
    """The whole-set cost and its gradient at a parameter vector, for scipy's L-BFGS-B.

    ``f(x) = value_scale * grad_scale * sum_rows F_row(x) + l2 sum w^2`` and
    ``g(x) = grad_scale * sum_rows dF_row/dx + 2 l2 w`` (weights only, never biases).
    :meth:`Network.fit` uses ``grad_scale = 1`` for ``tse`` (the sum over rows) and ``1 / N``
    otherwise (the mean), ``value_scale = 1``: exactly :meth:`Network.cost` and
    :meth:`Network.gradients` plus the penalty. The estimators use other scales to reproduce
    scikit-learn's objective (whose reported squared error is also divided by the number of
    outputs, while its gradient is not).

    ``x`` is scipy's float64 vector. For a float64 network the engine reads it in place, with
    no copy (the network's own buffer is written once per iteration, by the caller); for a
    float32 network it is rounded into one float32 buffer and the float32 gradient is
    returned as float64. Each call is one ``_core.gradients`` call per slice of rows (one
    slice unless the set is large: slices of about ``_BATCH_CHUNK_WORK`` rows x parameters
    let Ctrl-C through between them) plus one ``_core.penalty`` call; with ``threads > 1``
    the rows are cut into ``threads`` contiguous ranges, each summed into its own buffer, and
    the buffers added in a fixed order (deterministic for a given thread count).

    ``nonfinite``: "raise" raises ``FloatingPointError`` at a non-finite value; "warn"
    returns it (L-BFGS-B's line search then backs off or stops) after one ``RuntimeWarning``;
    "ignore" returns it silently (scikit-learn's behaviour).

    ``sample_weight``: per-row weights (N,) in the network's dtype, or None; row r's loss and
    gradient then count ``w_r`` times (the caller chooses ``grad_scale``, e.g. ``1 / sum w``).
    """

    def __init__(self, net, X, T, l2=0.0, grad_scale=1.0, value_scale=1.0, n_threads=1,
                 nonfinite="raise", sample_weight=None):
        self.net = net
        self.w = sample_weight
        self.X, self.T = X, T
        self.l2 = float(l2)
        self.grad_scale, self.value_scale = float(grad_scale), float(value_scale)
        self.nonfinite = nonfinite
        self.n_evaluations = 0
        self.warned = False
        N, P = X.shape[0], net.n_params
        threads = max(1, min(int(n_threads), N // _core.BLOCK or 1))
        if N * P < threads * MIN_WORK_PER_THREAD:
            threads = 1
        self.threads = threads
        bounds = np.linspace(0, N, threads + 1).astype(np.int64)
        chunk = max(_core.BLOCK, _BATCH_CHUNK_WORK // (P + 256))
        # per thread: its row range cut into chunks (the C drivers accumulate into grad)
        self.ranges = [[(a, min(a + chunk, int(hi))) for a in range(int(lo), int(hi), chunk)]
                       for lo, hi in zip(bounds[:-1], bounds[1:])]
        dtype = net.dtype
        self.x32 = np.empty(P, dtype) if dtype != np.float64 else None
        self.grads = np.zeros((threads, P), dtype)
        self.pool = None
        self.stop = threading.Event()
        if threads > 1:
            self.pool = ThreadPoolExecutor(max_workers=threads - 1,
                                           thread_name_prefix="cmlp-lbfgs")

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None

    def _range(self, k, params):
        """Sums the gradients of thread k's rows into grads[k]; returns their summed loss."""
        grad, arch, X, T, w = self.grads[k], self.net._arch, self.X, self.T, self.w
        grad[...] = 0
        total = 0.0
        for a, b in self.ranges[k]:
            if self.stop.is_set():
                break
            for s, e, Xc in dense_chunks(X, a, b):  # a sparse X: bounded dense chunks
                total += _core.gradients(arch, params, Xc, T[s:e], grad,
                                         None if w is None else w[s:e])
        return total

    def __call__(self, x):
        x = np.ascontiguousarray(x, dtype=np.float64)
        params = x
        if self.x32 is not None:
            self.x32[...] = x
            params = self.x32
        self.stop.clear()
        futures = [self.pool.submit(_one_blas_thread, self._range, k, params)
                   for k in range(1, self.threads)]
        try:
            total = self._range(0, params)
            total += sum(f.result() for f in futures)
        finally:
            self.stop.set()  # an interrupted main thread: the others stop at their next slice
            for f in futures:
                f.exception()
        self.n_evaluations += 1
        g = np.multiply(self.grads[0], self.grad_scale, dtype=np.float64)
        for k in range(1, self.threads):
            g += self.grads[k] * self.grad_scale
        f = float(total) * self.grad_scale * self.value_scale
        if self.l2:
            f += _core.penalty(self.net._arch, x, 0.0, self.l2, g)
        if self.nonfinite != "ignore" and not (np.isfinite(f) and np.isfinite(g).all()):
            if self.nonfinite == "raise":
                raise FloatingPointError(f"the cost (or its gradient) became {f} at L-BFGS "
                                         f"evaluation {self.n_evaluations}")
            if not self.warned:
                self.warned = True
                warnings.warn(f"the cost became {f} at a point of L-BFGS's line search "
                              f"(evaluation {self.n_evaluations}); training continued because "
                              f"on_nonfinite='warn'", RuntimeWarning, stacklevel=2)
        return f, g


def _minimize_lbfgs(net, objective, maxiter, opt, on_iteration=None):
    """``scipy.optimize.minimize(method="L-BFGS-B")`` of objective from net's parameters.

    The network's buffer receives every accepted iterate (so an exception, Ctrl-C included,
    leaves the parameters of the last completed iteration, or the initial ones) and the
    result at the end. ``on_iteration(fun)`` is called after each iteration, with the
    network holding its parameters; returning False stops the minimization.
    Returns scipy's ``OptimizeResult``.
    """
    from scipy.optimize import minimize

    params = net._params

    def callback(intermediate_result):
        params[...] = intermediate_result.x
        if on_iteration is not None and on_iteration(float(intermediate_result.fun)) is False:
            raise StopIteration

    res = minimize(objective, params.astype(np.float64), method="L-BFGS-B", jac=True,
                   callback=callback,
                   options={"maxiter": maxiter, "maxfun": opt.max_fun, "gtol": opt.tol,
                            "maxcor": opt.maxcor})
    params[...] = res.x
    return res


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


def _check_sample_weight(sample_weight, n_rows, dtype, name="sample_weight", x_name="X"):
    """None, or one finite weight >= 0 per row (not all zero) -> a C-contiguous array in
    dtype (the network's), or None."""
    if sample_weight is None:
        return None
    arr = as_numeric_array(sample_weight, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, one weight per row of X, got an array of shape "
                         f"{arr.shape}")
    if arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} weights, but {x_name} has {n_rows} rows")
    w = to_float_c(arr, dtype, name)
    if (w < 0).any():
        raise ValueError(f"{name} must be >= 0, got negative weights such as "
                         f"{w[w < 0][:3].tolist()}")
    if n_rows and not (w > 0).any():
        raise ValueError(f"{name} is zero for every row; at least one row needs a positive "
                         f"weight")
    with np.errstate(over="ignore"):  # the denominator of every weighted mean of these rows
        total = _weight_sum(w, n_rows)
    if not math.isfinite(total):
        raise ValueError(f"{name}: the weights' sum overflows float64 (the largest weight is "
                         f"{float(w.max()):g}); divide them all by the same number, which "
                         f"changes no weighted mean")
    return w


def _weight_sum(w, n_rows):
    """The denominator of a (weighted) mean over rows."""
    return float(n_rows) if w is None else float(w.sum(dtype=np.float64))


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
        Activation of the output layer: any of the above, ``"softmax"`` or ``"exp"``
        (``y = e^n``; output layer only, with ``tse``, ``mse`` or ``poisson``). None means the
        hidden activation (the notes use sigmoid throughout), except with
        ``loss="cross_entropy"``, where it means softmax (several outputs) or sigmoid (one),
        and with ``loss="poisson"``, where it means exp.
    loss : {"tse", "mse", "cross_entropy", "poisson"}, default "tse"
        The per-sample loss and the whole-set cost (see :meth:`cost`):

        - ``"tse"``: the notes' total squared error, ``F = ||t - y||^2`` per sample, summed
          over the samples of a set.
        - ``"mse"``: ``F = 1/2 ||t - y||^2`` per sample, averaged over the samples.
        - ``"cross_entropy"``: ``F = -sum_k t_k log y_k`` for a softmax output, or the binary
          form ``F = -sum_k [t_k log y_k + (1 - t_k) log(1 - y_k)]`` for sigmoid outputs,
          averaged over the samples; ``y`` is clipped to ``[eps, 1 - eps]`` inside the log,
          as scikit-learn does. It needs a softmax or sigmoid output.
        - ``"poisson"``: scikit-learn's half Poisson deviance
          ``F = sum_k [t_k log(t_k / y_k) - t_k + y_k]`` (``0 log 0 = 0``), averaged over the
          samples, for counts or rates ``t >= 0``. It needs the exp output (log link), whose
          output delta is ``S_L = y - t``; with no hidden layer (``[n_0, 1]``) and identity
          features the network is a Poisson GLM.

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
            if not hasattr(activation, "__len__") or isinstance(
                    activation, (collections.abc.Set, collections.abc.Mapping)):
                # a set or dict would be iterated in an order the user did not write
                raise TypeError(f"activation must be a name or a list of names, one per "
                                f"hidden layer in order, got {type(activation).__name__}")
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
            elif loss == "poisson":
                output = "exp"
            else:
                output = default_out
        output = check_choice("output", output, OUTPUTS)
        if output == "softmax" and sizes[-1] < 2:
            raise ValueError("output='softmax' needs at least 2 output units; use 'sigmoid' "
                             "for a single output")
        if loss == "cross_entropy" and output not in ("softmax", "sigmoid"):
            raise ValueError(f"loss='cross_entropy' needs a softmax or sigmoid output, got "
                             f"output={output!r}")
        if loss == "poisson" and output != "exp":
            raise ValueError(f"loss='poisson' needs the exp output (log link), got "
                             f"output={output!r}; use output='exp' or output=None")
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
        rng_state = state["rng_state"]
        # the generator's own kind (PCG64 unless a Generator on another bit generator, such
        # as MT19937 or Philox, was passed as seed), in the state it had
        kind = getattr(np.random, str(rng_state.get("bit_generator", "PCG64")), None)
        if not (isinstance(kind, type) and issubclass(kind, np.random.BitGenerator)):
            raise ValueError(f"cannot restore a network whose generator is "
                             f"{rng_state.get('bit_generator')!r}: not a NumPy bit generator")
        self._rng = np.random.Generator(kind())
        self._rng.bit_generator.state = rng_state

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

    def _targets(self, y, n_rows, name="y", dtype=None, x_name="X"):
        """as_targets, and targets >= 0 for the poisson loss, in [0, 1] for cross-entropy."""
        T = as_targets(y, n_rows, self._layers[-1], self._dtype if dtype is None else dtype,
                       name=name, x_name=x_name)
        if self._loss not in ("poisson", "cross_entropy") or not T.size:
            return T
        lo = T.min()
        if self._loss == "poisson" and lo < 0:
            raise ValueError(f"{name}: loss='poisson' needs targets >= 0 (counts or rates), "
                             f"got values as low as {lo}")
        if self._loss == "cross_entropy":
            hi = T.max()
            if lo < 0 or hi > 1:
                # outside [0, 1] the cross-entropy has no minimum: training would drive it
                # to -inf
                raise ValueError(f"{name}: loss='cross_entropy' needs targets in [0, 1] "
                                 f"(class labels 0/1 for one output unit, one-hot or "
                                 f"probability rows for several), got {lo if lo < 0 else hi}")
        return T

    def forward(self, X: ArrayLike, n_threads: int | None = None) -> FloatArray:
        """Feed X forward through the network.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (N, n_0), or one sample (n_0,)
            Samples in rows (any numeric dtype; converted once to the network's dtype). A
            sparse X (CSR, CSC, other formats converted to CSR once) is never densified
            whole: its rows are written densely a bounded chunk at a time, and the results
            equal those of the dense X.
        n_threads : int or None, default None
            Threads for a large X (None: every CPU this process may use). The rows are cut
            into contiguous slices along the engine's block grid, one per thread, each
            running in C without the GIL with BLAS on one thread; the outputs are bit for bit
            those of one thread. A small X (under about ``MIN_WORK_PER_THREAD`` rows x
            parameters per thread, or fewer rows than two blocks) runs on one thread.

        Returns
        -------
        ndarray of shape (N, n_L), or (n_L,) for a single sample
            The outputs ``y = a_L``, in the network's dtype.
        """
        X2, single = self._inputs(X)
        N = X2.shape[0]
        Y = np.empty((N, self._layers[-1]), dtype=self._dtype)
        slices = self._row_slices(N, n_threads)
        with self._lock, _blas_one_thread():
            if len(slices) == 1:
                self._forward_rows(X2, Y, 0, N)
            else:
                with ThreadPoolExecutor(max_workers=len(slices) - 1,
                                        thread_name_prefix="cmlp-forward") as pool:
                    futures = [pool.submit(_one_blas_thread, self._forward_rows, X2, Y, a, b)
                               for a, b in slices[1:]]
                    self._forward_rows(X2, Y, *slices[0])
                    for f in futures:
                        f.result()
        return Y[0] if single else Y

    def _forward_rows(self, X2, Y, a, b):
        """Y[a:b] = network(X2[a:b]) (a sparse X2: dense chunks on the block grid)."""
        for s, e, Xc in dense_chunks(X2, a, b):
            _core.forward(self._arch, self._params, Xc, Y[s:e])

    def _row_slices(self, N, n_threads):
        """Contiguous row slices [a, b) for up to n_threads threads (None: the usable CPUs),
        cut on the engine's block grid so that every row meets the same blocks (hence the
        same kernels and sums) as in one call; one slice if the work is small."""
        n_threads = _usable_cpus() if n_threads is None else check_int("n_threads", n_threads, 1)
        R = self._arch.block_rows
        blocks = -(-N // R)
        threads = min(n_threads, blocks, max(1, N * self.n_params // MIN_WORK_PER_THREAD))
        if threads < 2:
            return [(0, N)]
        cuts = [min(N, (blocks * k // threads) * R) for k in range(threads + 1)]
        return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]

    def predict(self, X: ArrayLike, n_threads: int | None = None) -> np.ndarray:
        """Predicted class labels, or outputs for a regression network.

        For classification outputs (softmax, sigmoid, tanh) returns int64 labels of shape
        (N,): the argmax over several outputs; with one output unit, ``y > 0.5`` for
        sigmoid and ``y > 0`` for tanh. For identity, relu, leaky_relu, elu and exp outputs
        returns the outputs themselves (N, n_L), in the network's dtype. ``n_threads`` as in
        :meth:`forward`.
        """
        Y = self.forward(X, n_threads)
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

    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
              ) -> float:
        """Accuracy for a classification network; R^2 for a regression network.

        y takes the same forms as in :meth:`fit`: labels, or a 2-D target array (for
        classification its argmax, or ``> threshold`` for one output unit, gives the labels).
        With ``sample_weight`` (N,): the weighted accuracy ``sum_r w_r [correct_r] / sum_r w_r``,
        or the weighted R^2, ``1 - sum_r w_r ||t_r - y_r||^2 / sum_r w_r ||t_r - tbar||^2``
        with ``tbar`` the weighted mean of the targets. X may be a scipy.sparse matrix, as in
        :meth:`forward`.
        """
        X2, _ = self._inputs(X, allow_1d=False)
        if X2.shape[0] == 0:
            raise ValueError("X has no rows; score needs at least one sample")
        w = _check_sample_weight(sample_weight, X2.shape[0], np.float64)
        wr = np.ones(X2.shape[0]) if w is None else w
        if not self.is_classifier:
            T = as_targets(y, X2.shape[0], self._layers[-1], np.float64)
            Y = self.forward(X2).astype(np.float64)
            ss_res = (wr[:, None] * (T - Y) ** 2).sum()
            ss_tot = (wr[:, None] * (T - np.average(T, axis=0, weights=wr)) ** 2).sum()
            return float(1.0 - ss_res / ss_tot) if ss_tot > 0 else float(ss_res == 0)
        arr = as_numeric_array(y, "y")
        K = self._layers[-1]
        if arr.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D labels or a 2-D (n_samples, {K}) target array, "
                             f"got shape {arr.shape}")
        if arr.ndim == 2 or K == 1:
            # one output unit: a 1-D y is the target column itself, as in fit (so soft or
            # -1/+1 targets work as they do in 2-D)
            T = as_targets(arr, X2.shape[0], K, np.float64)
            threshold = 0.5 if self.output == "sigmoid" else 0.0
            labels = (T[:, 0] > threshold).astype(np.int64) if K == 1 else T.argmax(axis=1)
        else:
            if arr.shape[0] != X2.shape[0]:
                raise ValueError(f"y has {arr.shape[0]} rows, but X has {X2.shape[0]}")
            labels = as_labels(arr, max(K, 2), "y")
        return float(np.average(self.predict(X2) == labels, weights=wr))

    def cost(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
             ) -> float:
        """The whole-set cost: for ``tse`` the sum over rows of ``||t - y||^2`` (the notes'
        TSEcost); for ``mse``, ``cross_entropy`` and ``poisson`` the mean over rows of the
        per-sample loss. y takes the same forms as in :meth:`fit`; X may be a scipy.sparse
        matrix (its rows are densified a bounded chunk at a time, the chunks' sums added).

        With ``sample_weight`` (N,), finite and >= 0: row r counts ``w_r`` times, so the cost
        is ``sum_r w_r F_r`` (tse) or ``sum_r w_r F_r / sum_r w_r`` (the others): integer
        weights give the cost of the data with each row repeated ``w_r`` times."""
        X2, _ = self._inputs(X, allow_1d=False)
        T = self._targets(y, X2.shape[0])
        w = _check_sample_weight(sample_weight, X2.shape[0], self._dtype)
        if X2.shape[0] == 0 and self._loss != "tse":
            raise ValueError(f"X has no rows; the {self._loss} cost is a mean over rows and "
                             f"needs at least one sample")
        with self._lock, _blas_one_thread():
            return self._cost(X2, T, w)

    def _cost(self, X2, T, w=None):
        total = 0.0
        for a, b, Xc in dense_chunks(X2):
            total += _core.loss(self._arch, self._params, Xc, T[a:b],
                                None if w is None else w[a:b])
        if self._loss == "tse" or X2.shape[0] == 0:
            return float(total)
        return float(total / _weight_sum(w, X2.shape[0]))

    def gradients(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
                  ) -> tuple[list[FloatArray], list[FloatArray]]:
        """Gradient of the whole-set cost (see :meth:`cost`) with respect to every parameter.

        Returns
        -------
        dW : list of ndarray
            ``dW[i]`` of shape ``(n_i, n_{i+1})``, like ``weights[i]``.
        db : list of ndarray
            ``db[i]`` of shape ``(n_{i+1},)``, like ``biases[i]``.

        The network is not changed. For ``tse`` this is the sum over rows of the notes'
        ``a_{i-1} S_i^T`` and ``S_i``; for ``mse``, ``cross_entropy`` and ``poisson`` the mean.
        With ``sample_weight`` (N,): the weighted sum (tse) or weighted mean (the others) of
        the rows' gradients, the gradient of the weighted cost of :meth:`cost`. X may be a
        scipy.sparse matrix, as in :meth:`forward` (bit for bit the dense X's gradients).
        """
        X2, _ = self._inputs(X, allow_1d=False)
        if X2.shape[0] == 0:
            raise ValueError("X has no rows; gradients need at least one sample")
        T = self._targets(y, X2.shape[0])
        w = _check_sample_weight(sample_weight, X2.shape[0], self._dtype)
        grad = np.zeros_like(self._params)
        with self._lock, _blas_one_thread():
            for a, b, Xc in dense_chunks(X2):  # grad accumulates over the chunks
                _core.gradients(self._arch, self._params, Xc, T[a:b], grad,
                                None if w is None else w[a:b])
        if self._loss != "tse":
            grad /= _weight_sum(w, X2.shape[0])
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
            n_threads: int | None = None, sample_weight: ArrayLike | None = None,
            _optimizer_state: dict | None = None, _scale_penalty: bool = False,
            _warn_nonfinite: bool = True) -> History:
        """Train with gradient descent (or full-batch L-BFGS); returns a :class:`History`.

        With ``batch_size=1``, ``optimizer="sgd"`` and no ``l1``, ``l2`` or ``dropout`` (the
        defaults) this is exactly the notes' stochastic gradient descent: each epoch visits
        the rows in a random permutation (without replacement) and after every sample
        updates ``W_i -= lr a_{i-1} S_i^T``, ``b_i -= lr S_i`` for every layer, all ``S_i``
        computed from the weights before that sample's update. The whole epoch runs in C
        without the GIL, on one thread.

        Otherwise each step takes a batch of ``batch_size`` consecutive rows of the epoch's
        permutation (the last batch may be shorter) and descends (unweighted; see
        ``sample_weight`` for the weighted form)

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
            ``RuntimeWarning``; the History shows the non-finite costs. With ``"lbfgs"`` a
            non-finite value met in the line search is raised ("raise", with the parameters
            of the last iteration) or handed to scipy, whose line search then backs off or
            stops ("warn").
        optimizer : str or cmlp.optim.Optimizer, default "sgd"
            "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", or an object such
            as ``cmlp.optim.Adam(lr=1e-3, beta1=0.9)`` to set hyperparameters. The formulas
            are torch.optim's (see :mod:`cmlp.optim`); the optimizer's state starts at zero
            in every call of ``fit``. ``"lbfgs"`` (or ``cmlp.optim.LBFGS(tol, max_fun,
            maxcor)``) is full-batch L-BFGS: see "L-BFGS" below.
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
            other settings, or a callable ``epoch -> lr``. Each rate must be a finite
            number > 0: a built-in schedule's rates are checked before training, any
            other's when each epoch starts; a bad rate then raises ``ValueError`` with
            the parameters of the last completed epoch and the History so far as the
            exception's ``history`` attribute (``stopped="lr_schedule"``).
        validation_data : tuple (X_val, y_val) or (X_val, y_val, sample_weight_val), optional
            Evaluated after every epoch: ``History.val_cost`` (cost plus penalty) and, for
            classification, ``History.val_accuracy`` (weighted if weights are given).
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
            batch is split into ``n_threads`` contiguous row slices: each thread takes its
            slice through the forward pass and the backprop recursion, then computes, over
            the whole batch, the gradient of the weight rows it owns and their optimizer
            step (with BLAS; without it, each thread sums its slice's gradients into its
            own buffer and the buffers are added in a fixed order). Deterministic for a
            given ``n_threads``. Different ``n_threads`` change only how some
            floating-point sums are grouped (the first layer's sparse gradient is the
            one-thread sum exactly; a GEMM over part of a matrix may round differently;
            the permutation, dropout masks and steps are the same): after a few steps the
            parameters agree within ``rtol=1e-9`` (float64) or ``rtol=1e-4`` (float32), the
            tolerance the tests use; long runs drift further apart, as any change of
            summation order in chaotic training does. Threads are
            used only when each gets at least ``2**19`` rows x parameters of work per batch.
            The per-sample path (batch_size 1) is always single-threaded. The end-of-epoch
            evaluation (History's cost and accuracy, and the validation set's) uses
            ``n_threads`` in every mode, row slices as in :meth:`forward`, their sums added
            in order. On Linux, when ``n_threads`` equals the number of CPUs this process
            may use, each minibatch thread is held to its own CPU while it runs a chunk of
            batches (the calling thread's affinity is not changed).
        sample_weight : array-like of shape (N,), optional
            One finite weight >= 0 per row of X (not all zero): row r's loss term counts
            ``w_r`` times. Each minibatch step then uses the **weighted mean** of the batch's
            gradients, ``sum_r w_r g_r / sum_r w_r`` (plus the penalty's gradient); a batch
            whose weights are all zero makes no step at all (parameters and optimizer state
            unchanged). Rows of weight 0 are ignored, exactly as if they were not there.
            With ``batch_size=1`` the weighted mean over one row is that row's gradient, so
            a weight > 0 does not change the notes' per-sample update: **with batch_size=1 a
            weight only decides whether a row counts** (0 or not). For full-batch training
            (``batch_size=None``) integer weights give the same steps as repeating each row
            ``w_r`` times. ``History`` records the weighted costs and accuracies (see
            :meth:`cost`); with ``validation_split`` the held-out rows keep their weights.

        Returns
        -------
        History
            ``history.cost[e]`` is the whole-set cost (see :meth:`cost`) on the training set
            after epoch ``e``, computed with that epoch's final weights, as the notes'
            ``TSEcost``, plus the penalty; see :class:`History` for the rest.

        L-BFGS
        ------
        ``optimizer="lbfgs"`` minimises the whole-set cost (:meth:`cost`: the sum over rows
        for ``tse``, the mean otherwise) plus ``l2 sum w^2`` with
        ``scipy.optimize.minimize(method="L-BFGS-B", jac=True)`` on the flat parameter
        vector (:attr:`params`). Each evaluation of cost and gradient is the C engine's
        whole-set gradient (what :meth:`gradients` returns, plus the penalty's gradient),
        computed on scipy's own float64 vector in place; the network's buffer receives
        each accepted iterate. float32 networks: scipy works in float64, so each evaluation
        rounds its point to float32 once and returns the float32 gradient as float64.

        - ``epochs`` is the maximum number of L-BFGS iterations (scipy's ``maxiter``); one
          History entry per iteration (its cost is the value at the accepted point), and
          callbacks, ``validation_data``/``validation_split``, ``early_stopping`` (by
          iterations) and ``verbose`` work per iteration as they do per epoch.
        - ``cmlp.optim.LBFGS(tol=1e-4, max_fun=15000, maxcor=10)``: scipy's ``gtol``,
          ``maxfun`` and ``maxcor`` (scikit-learn's MLP passes ``tol`` as ``gtol`` too).
        - Refused with a ``ValueError``: ``lr``, ``lr_schedule``, ``dropout`` (a random cost
          cannot be line-searched), ``l1`` (not differentiable at 0), and a ``batch_size``
          other than its default, None or "full" (the whole set is always used).
          ``shuffle`` and ``seed`` do nothing (nothing is random); ``n_threads`` splits the
          rows of each evaluation (when each thread gets at least ``2**19`` rows x
          parameters) and sums the parts in a fixed order.
        - The History says how it ended: ``converged`` (scipy's gradient or cost-change
          test), ``message`` (scipy's), ``n_evaluations``; ``stopped`` is "converged",
          "max_fun", "line_search", "early_stopping", "callback" or "nonfinite", or None
          after ``epochs`` iterations without converging. Ending without converging (at
          ``epochs``, ``max_fun`` or in the line search) warns with
          :class:`cmlp.ConvergenceWarning`.
        - Ctrl-C (``KeyboardInterrupt``) and ``FloatingPointError`` (a non-finite value,
          ``on_nonfinite="raise"``) leave the parameters of the last completed iteration.
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
        lbfgs = opt.name == "lbfgs"
        if lbfgs:
            self._check_lbfgs_arguments(batch_size, l1, drop, lr_schedule)
            batch_size = None
        else:  # not after the epochs before a rate that underflows have trained
            check_before_training(schedule, epochs, lr)
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
        if on_nonfinite == "raise" and not np.isfinite(self._params).all():
            # (with "warn" a diverged network may go on, as the estimators' epochs do)
            raise ValueError("the network's parameters contain NaN or infinity before "
                             "training (written through params, weights or biases, or left "
                             "by an earlier fit with on_nonfinite='warn'); assign finite "
                             "values first")
        T = self._targets(y, N)
        w = _check_sample_weight(sample_weight, N, self._dtype)
        if validation_data is not None and validation_split is not None:
            raise ValueError("give validation_data or validation_split, not both")
        val = None
        if validation_split is not None:
            frac = check_float("validation_split", validation_split, 0.0, strict=True)
            n_val = int(math.ceil(N * frac)) if frac < 1 else N
            if frac >= 1 or n_val >= N:
                raise ValueError(f"validation_split must leave training rows: got {frac} of "
                                 f"{N} rows")
            val = (row_slice(X2, N - n_val, N), T[N - n_val:],
                   None if w is None else w[N - n_val:])
            X2, T = row_slice(X2, 0, N - n_val), T[:N - n_val]
            N = X2.shape[0]
            if w is not None:
                w = w[:N]
                for part, name in ((w, "training"), (val[2], "validation")):
                    if not (part > 0).any():
                        raise ValueError(f"sample_weight is zero for every {name} row after "
                                         f"validation_split; give those rows positive weights")
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise TypeError("validation_data must be a tuple (X_val, y_val) or "
                                "(X_val, y_val, sample_weight_val)")
            Xv, _ = self._inputs(validation_data[0], allow_1d=False, name="validation_data[0]")
            if Xv.shape[0] == 0:
                raise ValueError("validation_data[0] has no rows")
            wv = None
            if len(validation_data) == 3:
                wv = _check_sample_weight(validation_data[2], Xv.shape[0], self._dtype,
                                          "validation_data[2]", "validation_data[0]")
            val = (Xv, self._targets(validation_data[1], Xv.shape[0], "validation_data[1]",
                                     x_name="validation_data[0]"), wv)
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
        if w is not None and np.may_share_memory(w, self._params):
            w = w.copy()
        rng = self._rng if seed is None else _check_seed(seed)
        history = History(self._loss, lr, B, opt.name)
        # _warn_nonfinite=False (private, for cmlp.estimators): on_nonfinite="warn" without the
        # warning, so that a diverging estimator goes on silently as scikit-learn's does
        if not _warn_nonfinite and on_nonfinite == "warn":
            on_nonfinite = "ignore"
        # _optimizer_state (private, for cmlp.estimators' partial_fit): a dict that carries the
        # optimizer's state arrays and step count from this fit to the next one with the same
        # optimizer; empty or from another optimizer: a fresh state, stored into it at the end
        config = dict(opt=opt, lr=lr, l1=l1, l2=l2, drop=drop, schedule=schedule, val=val,
                      early_stopping=early_stopping, patience=patience, callbacks=callbacks,
                      n_threads=n_threads, carry=_optimizer_state, w=w,
                      scale_penalty=bool(_scale_penalty))
        with self._lock, _blas_one_thread():
            if lbfgs:
                self._train_lbfgs(X2, T, epochs, opt, verbose, on_nonfinite, history, config)
            else:
                self._train(X2, T, epochs, B, shuffle, rng, verbose, on_nonfinite, history,
                            config)
        return history

    def _after_epoch(self, history, it, val_cost, best, callbacks, patience):
        """The callbacks and early stopping after epoch (or L-BFGS iteration) ``it``: the
        reason to halt ("callback", "early_stopping") or None. Keeps the best weights."""
        halt = None
        for cb in callbacks:
            if cb(it, history) is False:
                halt = "callback"
        if best is not None:
            if val_cost < best["cost"]:
                best.update(cost=val_cost, epoch=it, wait=0)
                best["params"][...] = self._params
            else:
                best["wait"] += 1
                if best["wait"] >= patience and halt is None:
                    halt = "early_stopping"
        return halt

    @staticmethod
    def _check_lbfgs_arguments(batch_size, l1, drop, lr_schedule):
        """fit's arguments that mean nothing for full-batch L-BFGS are refused, not ignored."""
        if not (batch_size is None or batch_size == 1 or
                (isinstance(batch_size, str) and batch_size == "full")):
            raise ValueError(f"optimizer='lbfgs' always uses the whole training set: leave "
                             f"batch_size at its default or pass None or 'full', got "
                             f"batch_size={batch_size!r}")
        if l1:
            raise ValueError(f"l1={l1} cannot be used with optimizer='lbfgs': the l1 penalty is "
                             f"not differentiable at 0, which L-BFGS needs; use l2, or a "
                             f"first-order optimizer for l1")
        if (drop > 0).any():
            raise ValueError("dropout cannot be used with optimizer='lbfgs': L-BFGS needs one "
                             "deterministic cost to minimize, and dropout makes every "
                             "evaluation random; use a first-order optimizer such as 'adam'")
        if lr_schedule is not None:
            raise ValueError("lr_schedule has no meaning with optimizer='lbfgs' (it has no "
                             "learning rate: a line search picks every step); leave it None")

    def _train_lbfgs(self, X, T, epochs, opt, verbose, on_nonfinite, history, config):
        """Full-batch L-BFGS (see fit): one History entry per iteration."""
        l2, val, callbacks = config["l2"], config["val"], config["callbacks"]
        N, w = X.shape[0], config["w"]
        objective = _LBFGSObjective(self, X, T, l2=l2,
                                    grad_scale=1.0 if self._loss == "tse" else
                                    1.0 / _weight_sum(w, N),
                                    n_threads=config["n_threads"], nonfinite=on_nonfinite,
                                    sample_weight=w)
        best = None
        if config["early_stopping"]:
            best = dict(cost=np.inf, params=np.empty_like(self._params), epoch=None, wait=0)
        bar = tqdm(total=epochs, desc="fit (lbfgs)", unit="iter", disable=verbose == 0,
                   leave=True)
        clock = [time.perf_counter()]

        def on_iteration(cost):
            it = history.n_epochs
            pen = _core.penalty(self._arch, self._params, 0.0, l2) if l2 else 0.0
            acc = val_cost = val_acc = None
            if self.is_classifier:  # one forward pass for the accuracy
                acc = self._evaluate(X, T, w)[1]
            if val is not None:
                val_cost, val_acc = self._evaluate(*val)
                val_cost += pen
            now = time.perf_counter()
            history._append(cost, now - clock[0], pen, acc, val_cost, val_acc, np.nan)
            clock[0] = now
            if verbose:
                _progress(bar, cost, acc, val_cost, val_acc)
            halt = self._after_epoch(history, it, val_cost, best, callbacks, config["patience"])
            if halt is not None:
                history._stop(halt, it)
                return False
            return None

        try:
            res = _minimize_lbfgs(self, objective, epochs, opt, on_iteration)
        except FloatingPointError as exc:
            history._stop("nonfinite", history.n_epochs)
            err = FloatingPointError(
                f"{exc} in iteration {history.n_epochs + 1}; training stopped and the "
                f"parameters are those after the previous iteration. The input data may "
                f"contain large values and need scaling.")
            err.history = history
            raise err from None
        finally:
            bar.close()
            objective.close()
            history.n_evaluations = objective.n_evaluations
        history.message = str(res.message)
        history.converged = bool(res.status == 0)
        if objective.warned:
            history.warnings.append("nonfinite")
        if best is not None and best["epoch"] is not None:
            self._params[...] = best["params"]
            history.best_epoch = best["epoch"]
        if history.stopped is not None:
            return
        n_iter = history.n_epochs
        last = max(n_iter - 1, 0)  # 0 also when it stopped inside its first iteration
        if res.status == 0:
            history._stop("converged", last)
            return
        if n_iter >= epochs:
            what = f"reached epochs={epochs} iterations"
        elif objective.n_evaluations > opt.max_fun:
            what = f"reached max_fun={opt.max_fun} evaluations"
            history._stop("max_fun", last)
        else:
            what = "stopped in its line search"
            history._stop("line_search", last)
        history.warnings.append("not_converged")
        warnings.warn(f"L-BFGS {what} without converging (scipy: {res.message}); increase "
                      f"epochs (or LBFGS(max_fun=...)), or scale the inputs",
                      ConvergenceWarning, stacklevel=3)

    def _check_dropout(self, dropout):
        n_hidden = len(self._layers) - 2
        if isinstance(dropout, np.ndarray) and dropout.ndim == 0:
            dropout = dropout.item()  # a 0-d array is one probability
        if isinstance(dropout, (str, bytes)) or not hasattr(dropout, "__len__"):
            p = check_float("dropout", dropout, 0.0)
            probs = [p] * n_hidden
            if p > 0 and n_hidden == 0:
                raise ValueError("dropout needs a hidden layer; this network has none")
        else:
            if isinstance(dropout, (collections.abc.Set, collections.abc.Mapping)):
                raise TypeError(f"dropout must be a probability or a list of them, one per "
                                f"hidden layer in order, got {type(dropout).__name__}")
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

    def _evaluate(self, X, T, w=None, pool=None, threads=1):
        """(whole-set cost, accuracy or None) with the current weights, no dropout; weighted
        with the row weights w (N) if given.

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
                ws = None if w is None else w[s:e]
                if self.is_classifier:
                    t, c = _core.evaluate(self._arch, self._params, Xc, T[s:e], ws)
                else:
                    t, c = _core.loss(self._arch, self._params, Xc, T[s:e], ws), 0
                total += t
                correct += c
            return total, correct
        futures = [pool.submit(_one_blas_thread, part, a, b) for a, b in slices[1:]]
        parts = [part(*slices[0])] + [f.result() for f in futures]
        total = sum(p[0] for p in parts)
        denom = _weight_sum(w, N)
        # min: the weights of the rows counted as correct are summed in C, their total by
        # NumPy; in another order, all-correct can come out as 1 + 1 ulp
        acc = min(1.0, sum(p[1] for p in parts) / denom) if self.is_classifier else None
        cost = float(total) if self._loss == "tse" else float(total / denom)
        return cost, acc

    def _train(self, X, T, epochs, B, shuffle, rng, verbose, on_nonfinite, history, config):
        N, P = X.shape[0], self._params.shape[0]
        opt, lr0, l1, l2, drop = (config[k] for k in ("opt", "lr", "l1", "l2", "drop"))
        stop = on_nonfinite == "raise"
        use_dropout = bool((drop > 0).any())
        kind = _core.OPTIMIZER_CODES[opt.name]
        per_sample = B == 1 and opt.name == "sgd" and l1 == 0 and l2 == 0 and not use_dropout
        w = config["w"]
        copt = _core.Optim(kind, lr0, l1=l1, l2=l2, scale_penalty=config["scale_penalty"],
                           **opt.hyperparameters())
        # rows per call into C: sgd_epoch's own chunk, or whole batches of about
        # _BATCH_CHUNK_WORK multiply-adds
        chunk = (_core.sgd_chunk_rows(P) if per_sample
                 else max(1, _BATCH_CHUNK_WORK // ((P + 256) * B)) * B)
        max_chunk = chunk if per_sample else chunk * _BATCH_CHUNK_GROWTH
        threads = min(config["n_threads"], B)
        if B * P < threads * MIN_WORK_PER_THREAD:
            threads = 1
        # the end-of-epoch evaluation's threads: the team's, or in a one-thread fit (the
        # per-sample path, a small batch) as many as n_threads allows for the whole set
        eval_threads = threads
        if threads == 1 and N * P >= config["n_threads"] * MIN_WORK_PER_THREAD:
            eval_threads = config["n_threads"]
        H = _core.hidden_width(self._arch)
        # every buffer of the fit, allocated once
        state = grad = U = pool = driver = team = team_cpus = None
        sparse_rows = None
        if per_sample and isinstance(X, _core.CSR):
            # the per-sample driver reads dense rows: each chunk of the epoch's rows is
            # written densely (X's rows in the permutation's order, and T's) into buffers
            chunk = min(chunk, chunk_rows(X.n_cols))
            m = min(chunk, N)
            sparse_rows = (np.empty((m, X.n_cols), self._dtype),
                           np.empty((m, T.shape[1]), self._dtype), np.arange(m, dtype=np.int64),
                           None if w is None else np.empty(m, self._dtype))
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
                U = np.empty((min(max_chunk, N), H), self._dtype)
        if eval_threads > 1:  # the team's threads too: eval_threads == threads when > 1
            pool = ThreadPoolExecutor(max_workers=eval_threads - 1, thread_name_prefix="cmlp-fit")
        if threads > 1:
            driver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cmlp-fit-team")
            team = _core.Team(self._arch, copt, self._params, grad, state, threads, B)
            team_cpus = _team_cpus(threads)
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
                try:
                    lr = lr_for_epoch(config["schedule"], epoch, lr0)
                except ValueError as err:  # not a built-in's rate: the epochs so far stand
                    history._stop("lr_schedule", epoch)
                    err.history = history
                    raise
                copt.lr = lr
                perm = rng.permutation(N) if shuffle else np.arange(N, dtype=np.int64)
                perm = perm.astype(np.int64, copy=False)
                if show_inner:
                    inner = tqdm(total=N, desc=f"epoch {epoch + 1}", unit="sample", leave=False,
                                 mininterval=0.5)
                bad, done = False, N
                if per_sample and inner is None and sparse_rows is None:
                    status, done, _ = _core.sgd_epoch(self._arch, self._params, X, T, perm, lr,
                                                      stop, w)
                    bad = status != 0
                else:
                    start = 0
                    while start < N:
                        rows = perm[start:start + chunk]
                        m = rows.shape[0]
                        t_chunk = time.perf_counter()
                        if per_sample and sparse_rows is not None:
                            xb, tb, order, wb = (None if a is None else a[:m]
                                                 for a in sparse_rows)
                            _core.gather_rows(X, xb, 0, rows)
                            np.take(T, rows, axis=0, out=tb, mode="clip")
                            if wb is not None:
                                np.take(w, rows, out=wb, mode="clip")
                            status, d, _ = _core.sgd_epoch(self._arch, self._params, xb, tb,
                                                           order, lr, stop, wb)
                        elif per_sample:
                            status, d, _ = _core.sgd_epoch(self._arch, self._params, X, T, rows,
                                                           lr, stop, w)
                        else:
                            u = None
                            if U is not None:
                                u = U[:m]
                                rng.random(out=u, dtype=self._dtype)
                            if team is not None:
                                status, d = self._team_batches(team, driver, pool, X, T, rows,
                                                               u, drop, stop, w, team_cpus)
                            else:
                                status, d, _ = _core.train_batches(
                                    self._arch, copt, self._params, grad, state, X, T, rows, B,
                                    u, drop, stop, w)
                        if status != 0:
                            bad, done = True, start + d
                            break
                        if inner is not None:
                            inner.update(m)
                        start += m
                        if not per_sample:  # whole batches: the results do not depend on it
                            took = time.perf_counter() - t_chunk
                            want = m * _BATCH_CHUNK_SECONDS / max(took, 1e-6)
                            chunk = int(min(max_chunk, max(B, want // B * B)))
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
                cost, acc = self._evaluate(X, T, w, pool, eval_threads)
                pen = _core.penalty(self._arch, self._params, l1, l2) if l1 or l2 else 0.0
                cost += pen
                val_cost = val_acc = None
                if val is not None:
                    val_cost, val_acc = self._evaluate(*val, pool, eval_threads)
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
                    if on_nonfinite == "warn" and "nonfinite" not in history.warnings:
                        history.warnings.append("nonfinite")
                        warnings.warn(f"the cost became {cost} in epoch {epoch + 1}; "
                                      f"training continued because on_nonfinite='warn'",
                                      RuntimeWarning, stacklevel=3)
                if verbose:  # formatting costs more than a tiny network's epoch
                    _progress(bar, cost, acc, val_cost, val_acc)
                halt = self._after_epoch(history, epoch, val_cost, best, config["callbacks"],
                                         config["patience"])
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
    def _team_batches(team, driver, pool, X, T, rows, U, drop, stop, w=None, cpus=None):
        """Minibatch steps over ``rows`` on the team's threads, each running its share in C
        without the GIL (see ``_core.Team``). Returns (status, rows done) as
        ``_core.train_batches``.

        The chunk is started and waited for by the ``driver`` thread, not by this one: a
        KeyboardInterrupt, which Python raises in the main thread at any bytecode, could
        otherwise land after a partner was started and before this thread joined it, leaving
        the partner waiting at the C barrier for good. Now the interrupt only ends the wait
        here; the chunk runs to its end (the parameters are those after a whole batch) and
        fit's cleanup waits for it. ``cpus``: see ``_team_chunk``."""
        team.prepare(X, T, rows, U, drop, stop, w)
        driver.submit(_team_chunk, team, pool, cpus).result()
        status, done, _ = team.result()
        return status, done
