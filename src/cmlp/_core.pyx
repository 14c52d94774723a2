# cython: language_level=3
"""Bridge between NumPy arrays and the C kernels in ``csrc/``.

A checkpoint, not an algorithm: every function checks shapes, dtypes (through the typed
memoryviews: one ``floating`` type per call, C-contiguous), writeability and aliasing,
then calls C without the GIL. Work buffers are allocated here once per call and freed
here. The Python layer (``cmlp.network``) validates user input before it gets this far;
the checks below guard the C code against any caller.
"""
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy
from libc.math cimport isfinite

import numpy as np

from ._kernels cimport *

include "_csv.pxi"

ctypedef fused floating:
    float
    double


cdef extern from "Python.h":
    int PyErr_CheckSignals() except -1


ACTIVATION_CODES = {
    "identity": CMLP_IDENTITY,
    "sigmoid": CMLP_SIGMOID,
    "tanh": CMLP_TANH,
    "relu": CMLP_RELU,
    "leaky_relu": CMLP_LEAKY_RELU,
    "elu": CMLP_ELU,
    "softmax": CMLP_SOFTMAX,
    "exp": CMLP_EXP,
}
LOSS_CODES = {"tse": CMLP_TSE, "mse": CMLP_MSE, "cross_entropy": CMLP_CROSS_ENTROPY,
              "poisson": CMLP_POISSON}
BLOCK = CMLP_BLOCK
GEMM_BLOCK_ROWS = CMLP_GEMM_BLOCK
ISAS = ("base", "avx2", "avx512")


def available_isas():
    """Names of the kernel variants this CPU and build can run, e.g. ('base', 'avx2')."""
    return tuple(name for i, name in enumerate(ISAS) if cmlp_isa_available(i))


def get_isa():
    """Name of the kernel variant in use (by default the widest the CPU supports)."""
    return cmlp_isa_name(cmlp_get_isa()).decode()


def set_isa(name):
    """Use the kernel variant ``name`` ('base', 'avx2' or 'avx512') for every later call.

    For tests and benchmarks; the environment variable ``CMLP_ISA`` does the same at import.
    Raises ValueError if the CPU or the build does not have that variant.
    """
    if name not in ISAS:
        raise ValueError(f"isa must be one of {ISAS}, got {name!r}")
    if cmlp_set_isa(ISAS.index(name)) != 0:
        raise ValueError(f"isa {name!r} is not available here; available: {available_isas()}")


def _isa_from_environment():
    import os
    name = os.environ.get("CMLP_ISA")
    if name:
        set_isa(name)


_isa_from_environment()


# ---------------------------------------------------------------- BLAS

cdef extern from "Python.h":
    void *PyCapsule_GetPointer(object capsule, const char *name) except? NULL
    const char *PyCapsule_GetName(object capsule) except? NULL

cdef cmlp_blas _blas       # GEMM pointers from scipy.linalg.cython_blas, once loaded
cdef int _blas_loaded = 0  # 1 loaded, -1 not available
cdef int _blas_on = 0      # the batched drivers use _blas (set_blas)
_blas_origin = None


cdef void *_capsule_pointer(capi, str name) except NULL:
    cap = capi[name]
    return PyCapsule_GetPointer(cap, PyCapsule_GetName(cap))


cdef int _load_blas() except -1:
    """Fetch dgemm/sgemm from scipy.linalg.cython_blas (on first use: scipy's import is slow).

    The environment variable CMLP_BLAS=0 leaves BLAS off (the own kernels only).
    """
    global _blas_loaded, _blas_on, _blas_origin
    if _blas_loaded != 0:
        return 0
    _blas_loaded = -1
    import os
    try:
        from scipy.linalg import cython_blas
        capi = cython_blas.__pyx_capi__
        _blas.dgemm = <cmlp_dgemm_fn>_capsule_pointer(capi, "dgemm")
        _blas.sgemm = <cmlp_sgemm_fn>_capsule_pointer(capi, "sgemm")
    except (ImportError, AttributeError, KeyError, ValueError):
        return 0
    _blas_loaded = 1
    _blas_origin = "scipy.linalg.cython_blas"
    _blas_on = os.environ.get("CMLP_BLAS", "1") != "0"
    return 0


def blas_available():
    """True if GEMMs through scipy.linalg.cython_blas can be used (scipy is installed)."""
    _load_blas()
    return _blas_loaded == 1


def get_blas():
    """True if the batched drivers (minibatch gradients, forward, loss) multiply through BLAS.

    Off: the own blocked kernels (``dense_forward``/``dense_backward``) everywhere.
    """
    _load_blas()
    return bool(_blas_on)


def set_blas(on):
    """Use BLAS in the batched drivers (True) or the own kernels (False) from now on.

    For tests and benchmarks; the environment variable ``CMLP_BLAS=0`` turns it off at
    first use. Raises ValueError if BLAS is asked for and scipy is not installed.
    """
    global _blas_on
    _load_blas()
    if on and _blas_loaded != 1:
        raise ValueError("on: BLAS is not available (scipy.linalg.cython_blas not importable)")
    _blas_on = 1 if on else 0


cdef class Arch:
    """A network's shape for C: layer sizes n_0..n_L, activation codes, loss code."""
    cdef cmlp_arch c
    cdef bint _ints_ok  # every size fits a BLAS int
    cdef Py_ssize_t[::1] _sizes
    cdef int[::1] _acts
    cdef readonly Py_ssize_t n_params, n_in, n_out, n_layers

    def __cinit__(self, sizes, acts, int loss):
        sizes_arr = np.ascontiguousarray(sizes, dtype=np.intp)
        acts_arr = np.ascontiguousarray(acts, dtype=np.intc)
        if sizes_arr.ndim != 1 or sizes_arr.shape[0] < 2:
            raise ValueError(f"sizes: expected at least 2 layer sizes, got {sizes!r}")
        if (sizes_arr < 1).any():
            raise ValueError(f"sizes: every layer size must be >= 1, got {sizes!r}")
        if acts_arr.ndim != 1 or acts_arr.shape[0] != sizes_arr.shape[0] - 1:
            raise ValueError(f"acts: expected {sizes_arr.shape[0] - 1} activation codes, "
                             f"got {acts!r}")
        if ((acts_arr < 0) | (acts_arr >= CMLP_N_ACT)).any():
            raise ValueError(f"acts: unknown activation code in {acts!r}")
        if (acts_arr[:acts_arr.shape[0] - 1] == CMLP_SOFTMAX).any():
            raise ValueError("acts: softmax is only allowed on the output layer")
        if (acts_arr[:acts_arr.shape[0] - 1] == CMLP_EXP).any():
            raise ValueError("acts: exp is only allowed on the output layer")
        if loss < 0 or loss >= CMLP_N_LOSS:
            raise ValueError(f"loss: unknown loss code {loss}")
        # the parameter count must fit a ptrdiff_t (in bytes) before C computes it
        widths = [int(v) for v in sizes_arr]
        count = sum((a + 1) * b for a, b in zip(widths, widths[1:]))
        if count * 8 > np.iinfo(np.intp).max:
            raise ValueError(f"sizes: {count:,} parameters cannot be addressed")
        self._sizes = sizes_arr
        self._acts = acts_arr
        self.c.n_layers = sizes_arr.shape[0] - 1
        self.c.sizes = &self._sizes[0]
        self.c.acts = &self._acts[0]
        self.c.loss = loss
        self.c.blas = NULL
        self._ints_ok = max(widths) * CMLP_GEMM_BLOCK <= 2**31 - 1
        _load_blas()
        self.n_params = cmlp_param_count(&self.c)
        self.n_layers = self.c.n_layers
        self.n_in = self._sizes[0]
        self.n_out = self._sizes[self.c.n_layers]

    cdef const cmlp_arch *cp(self) noexcept nogil:
        """The C struct, its BLAS pointers following set_blas."""
        self.c.blas = &_blas if _blas_on and self._ints_ok else NULL
        return &self.c

    @property
    def block_rows(self):
        """Rows per block of the batched drivers (more with BLAS)."""
        return cmlp_block_rows(self.cp())

    @property
    def out_act(self):
        return self._acts[self.c.n_layers - 1]


# ---------------------------------------------------------------- checks

cdef _check_shape(str name, tuple got, tuple expected):
    if got != expected:
        raise ValueError(f"{name}: expected shape {expected}, got {got}")


cdef _check_disjoint(str out_name, out, str in_name, inp):
    """An output must not overlap any input (C assumes it)."""
    if inp is not None and np.may_share_memory(np.asarray(out), np.asarray(inp)):
        raise ValueError(f"{out_name} must not share memory with {in_name}")


cdef _check_rows(Arch arch, X, str name, out):
    """X (N, n_0) and the (N, n_L) array that goes with it (targets or outputs)."""
    _check_shape("X", (X.shape[0], X.shape[1]), (X.shape[0], arch.n_in))
    _check_shape(name, (out.shape[0], out.shape[1]), (X.shape[0], arch.n_out))


cdef _check_params(Arch arch, params):
    if params.shape[0] != arch.n_params:
        raise ValueError(f"params: expected {arch.n_params} values for this network, "
                         f"got {params.shape[0]}")


cdef _check_weights(w, Py_ssize_t N, dtype):
    """w: None, or a C-contiguous 1-D array of N weights in the network's dtype."""
    if w is None:
        return
    if not isinstance(w, np.ndarray):
        raise TypeError(f"w must be None or a NumPy array, got {type(w).__name__}")
    if w.dtype != dtype:
        raise ValueError(f"w: expected dtype {np.dtype(dtype).name}, got {w.dtype}")
    _check_shape("w", w.shape, (N,))
    if not w.flags.c_contiguous:
        raise ValueError("w must be C-contiguous")


cdef void *_alloc(Py_ssize_t n, size_t itemsize) except NULL:
    cdef void *p = malloc(<size_t>(n if n > 0 else 1) * itemsize)
    if p == NULL:
        raise MemoryError(f"could not allocate a work buffer of {n} elements")
    return p


# ---------------------------------------------------------------- network drivers

def forward(Arch arch, const floating[::1] params, const floating[:, ::1] X,
            floating[:, ::1] Y):
    """Y = network(X); X (N, n_0), Y (N, n_L) overwritten."""
    _check_params(arch, params)
    _check_rows(arch, X, "Y", Y)
    _check_disjoint("Y", Y, "X", X)
    _check_disjoint("Y", Y, "params", params)
    cdef Py_ssize_t N = X.shape[0]
    if N == 0:
        return
    cdef floating *work = <floating *>_alloc(cmlp_forward_work_size(arch.cp()), sizeof(floating))
    try:
        with nogil:
            if floating is double:
                net_forward_f64(&Y[0, 0], work, &params[0], &X[0, 0], N, arch.cp())
            else:
                net_forward_f32(&Y[0, 0], work, &params[0], &X[0, 0], N, arch.cp())
    finally:
        free(work)


def loss(Arch arch, const floating[::1] params, const floating[:, ::1] X,
         const floating[:, ::1] T, w=None):
    """Returns the sum over rows of the per-row loss (with weights w (N), sum_r w_r l_r);
    X (N, n_0), T (N, n_L)."""
    _check_params(arch, params)
    _check_rows(arch, X, "T", T)
    cdef Py_ssize_t N = X.shape[0]
    cdef double total = 0
    cdef const floating[::1] wv
    cdef const floating *wp = NULL
    _check_weights(w, N, np.float64 if floating is double else np.float32)
    if N == 0:
        return 0.0
    if w is not None:
        wv = w
        wp = &wv[0]
    cdef floating *work = <floating *>_alloc(cmlp_forward_work_size(arch.cp()), sizeof(floating))
    try:
        with nogil:
            if floating is double:
                total = net_loss_f64(work, &params[0], &X[0, 0], &T[0, 0], wp, N, arch.cp())
            else:
                total = net_loss_f32(work, &params[0], &X[0, 0], &T[0, 0], wp, N, arch.cp())
    finally:
        free(work)
    return total


def gradients(Arch arch, const floating[::1] params, const floating[:, ::1] X,
              const floating[:, ::1] T, floating[::1] grad, w=None):
    """grad += sum over rows of w_r d(per-row loss)/d(params) (w (N) None: every weight 1);
    returns the summed (weighted) loss."""
    _check_params(arch, params)
    _check_rows(arch, X, "T", T)
    _check_shape("grad", (grad.shape[0],), (arch.n_params,))
    for name, arr in (("params", params), ("X", X), ("T", T), ("w", w)):
        _check_disjoint("grad", grad, name, arr)
    cdef Py_ssize_t N = X.shape[0]
    cdef double total = 0
    cdef const floating[::1] wv
    cdef const floating *wp = NULL
    _check_weights(w, N, np.float64 if floating is double else np.float32)
    if N == 0:
        return 0.0
    if w is not None:
        wv = w
        wp = &wv[0]
    cdef floating *work = <floating *>_alloc(cmlp_gradient_work_size(arch.cp()), sizeof(floating))
    try:
        with nogil:
            if floating is double:
                total = net_gradients_f64(&grad[0], work, &params[0], &X[0, 0], &T[0, 0], wp,
                                          N, arch.cp())
            else:
                total = net_gradients_f32(&grad[0], work, &params[0], &X[0, 0], &T[0, 0], wp,
                                          N, arch.cp())
    finally:
        free(work)
    return total


def sgd_chunk_rows(Py_ssize_t n_params):
    """Rows per chunk of ``sgd_epoch`` (between its signal checks) for a network of
    n_params parameters: about 2**25 multiply-adds (tens of ms: a tiny network's rows cost
    more per parameter), but at least 256 rows where that stays within 2**27 multiply-adds.
    Each chunk copies the parameters into the driver's padded layout and back and checks
    them, about the work of a few rows whatever the size: in 67-row chunks of the notes'
    network that was 7% of a float64 profile, in 268-row ones 2.6%."""
    if n_params < 0:
        raise ValueError(f"n_params must be >= 0, got {n_params}")
    cdef Py_ssize_t per = n_params + 256
    return max(max(1, (1 << 25) // per), min(256, (1 << 27) // per))


def sgd_epoch(Arch arch, floating[::1] params, const floating[:, ::1] X,
              const floating[:, ::1] T, const int64_t[::1] perm, double lr,
              bint stop_nonfinite=True, w=None):
    """The notes' per-sample SGD over the rows perm of X (updates params in place).

    With weights w (N): rows of weight 0 are skipped; other weights leave the update as it
    is (a batch of one row), and weight the returned loss_sum.

    Runs in chunks of rows without the GIL and checks for signals between chunks, so
    Ctrl-C raises KeyboardInterrupt within tens of milliseconds, with params as after the last
    completed row. Returns ``(status, done, loss_sum)``: status 0 (all rows done) or 1
    (stop_nonfinite only: stopped before updating on the row ``perm[done]``, whose loss is
    not finite); loss_sum is the sum of the done rows' losses, each before its update.
    """
    _check_params(arch, params)
    _check_rows(arch, X, "T", T)
    for name, arr in (("X", X), ("T", T), ("perm", perm), ("w", w)):
        _check_disjoint("params", params, name, arr)
    cdef Py_ssize_t N = X.shape[0], n = perm.shape[0], i
    for i in range(n):
        if perm[i] < 0 or perm[i] >= N:
            raise ValueError(f"perm: entries must be in [0, {N}), got {perm[i]} at {i}")
    cdef const floating[::1] wv
    cdef const floating *wp = NULL
    _check_weights(w, N, np.float64 if floating is double else np.float32)
    if w is not None and N > 0:
        wv = w
        wp = &wv[0]
    cdef double loss_sum = 0
    cdef Py_ssize_t start = 0, m, done = 0, total_done = 0
    cdef int status = CMLP_OK
    cdef Py_ssize_t chunk = sgd_chunk_rows(arch.n_params)
    if n == 0:
        return status, 0, 0.0
    cdef floating *work = <floating *>_alloc(cmlp_sgd_work_size(arch.cp()), sizeof(floating))
    try:
        while start < n:
            m = min(chunk, n - start)
            with nogil:
                if floating is double:
                    status = sgd_epoch_f64(&params[0], work, &X[0, 0], &T[0, 0], wp,
                                           &perm[start], m, arch.cp(), lr, stop_nonfinite,
                                           &done, &loss_sum)
                else:
                    status = sgd_epoch_f32(&params[0], work, &X[0, 0], &T[0, 0], wp,
                                           &perm[start], m, arch.cp(), <float>lr,
                                           stop_nonfinite, &done, &loss_sum)
            total_done += done
            if status != CMLP_OK:
                break
            start += m
            PyErr_CheckSignals()
    finally:
        free(work)
    return status, total_done, loss_sum


# ---------------------------------------------------------------- kernel twins (for tests)

def act_forward(floating[:, ::1] a, int act):
    """a = act(a) in place; a (B, O)."""
    if act < 0 or act >= CMLP_N_ACT:
        raise ValueError(f"act: unknown activation code {act}")
    if a.shape[0] * a.shape[1] == 0:
        return
    with nogil:
        if floating is double:
            act_forward_f64(&a[0, 0], a.shape[0], a.shape[1], act)
        else:
            act_forward_f32(&a[0, 0], a.shape[0], a.shape[1], act)


def act_backward(floating[::1] d, const floating[::1] a, int act):
    """d *= act'(a) in place (derivative from the activation output); d, a (n)."""
    if act < 0 or act >= CMLP_N_ACT or act == CMLP_SOFTMAX:
        raise ValueError(f"act: no elementwise derivative for activation code {act}")
    _check_shape("a", (a.shape[0],), (d.shape[0],))
    if d.shape[0] == 0:
        return
    with nogil:
        if floating is double:
            act_backward_f64(&d[0], &a[0], d.shape[0], act)
        else:
            act_backward_f32(&d[0], &a[0], d.shape[0], act)


def dense_forward(floating[:, ::1] a, const floating[:, ::1] x, const floating[:, ::1] W,
                  const floating[::1] b, int act):
    """a = act(x W + b); x (B, I), W (I, O), b (O), a (B, O) overwritten."""
    cdef Py_ssize_t B = x.shape[0], I = x.shape[1], O = W.shape[1]
    _check_shape("W", (W.shape[0], W.shape[1]), (I, O))
    _check_shape("b", (b.shape[0],), (O,))
    _check_shape("a", (a.shape[0], a.shape[1]), (B, O))
    if act < 0 or act >= CMLP_N_ACT:
        raise ValueError(f"act: unknown activation code {act}")
    for name, arr in (("x", x), ("W", W), ("b", b)):
        _check_disjoint("a", a, name, arr)
    if B * O == 0:
        return
    with nogil:
        if floating is double:
            dense_forward_f64(&a[0, 0], &x[0, 0] if I > 0 else NULL, &W[0, 0] if I > 0 else NULL,
                              &b[0], B, I, O, act)
        else:
            dense_forward_f32(&a[0, 0], &x[0, 0] if I > 0 else NULL, &W[0, 0] if I > 0 else NULL,
                              &b[0], B, I, O, act)


def dense_backward(dx, floating[:, ::1] dW, floating[::1] db,
                   const floating[:, ::1] dz, const floating[:, ::1] x, const floating[:, ::1] W,
                   int act_x):
    """dW += x^T dz, db += sum_rows dz, dx = (dz W^T) * act_x'(x) (dx may be None)."""
    cdef floating[:, ::1] dxv
    cdef floating *dxp = NULL
    if dx is not None:
        dxv = dx
        dxp = &dxv[0, 0] if dxv.shape[0] * dxv.shape[1] > 0 else NULL
    cdef Py_ssize_t B = x.shape[0], I = x.shape[1], O = W.shape[1]
    _check_shape("W", (W.shape[0], W.shape[1]), (I, O))
    _check_shape("dz", (dz.shape[0], dz.shape[1]), (B, O))
    _check_shape("dW", (dW.shape[0], dW.shape[1]), (I, O))
    _check_shape("db", (db.shape[0],), (O,))
    if dx is not None:
        _check_shape("dx", (dxv.shape[0], dxv.shape[1]), (B, I))
    if act_x < 0 or act_x >= CMLP_N_ACT or act_x == CMLP_SOFTMAX:
        raise ValueError(f"act_x: no elementwise derivative for activation code {act_x}")
    for out_name, out in (("dx", dx), ("dW", dW), ("db", db)):
        if out is None:
            continue
        for name, arr in (("dz", dz), ("x", x), ("W", W)):
            _check_disjoint(out_name, out, name, arr)
    if B * I * O == 0:
        return
    with nogil:
        if floating is double:
            dense_backward_f64(dxp, &dW[0, 0], &db[0], &dz[0, 0], &x[0, 0], &W[0, 0], B, I, O,
                               act_x)
        else:
            dense_backward_f32(dxp, &dW[0, 0], &db[0], &dz[0, 0], &x[0, 0], &W[0, 0], B, I, O,
                               act_x)


def dense_backward_sgd(dx, floating[:, ::1] W, floating[::1] b,
                       const floating[::1] s, const floating[::1] x, double lr, int act_x):
    """dx = (W s) * act_x'(x) with the old W (dx may be None), then W -= lr x s^T, b -= lr s."""
    cdef floating[::1] dxv
    cdef floating *dxp = NULL
    if dx is not None:
        dxv = dx
        dxp = &dxv[0] if dxv.shape[0] > 0 else NULL
    cdef Py_ssize_t I = x.shape[0], O = s.shape[0]
    _check_shape("W", (W.shape[0], W.shape[1]), (I, O))
    _check_shape("b", (b.shape[0],), (O,))
    if dx is not None:
        _check_shape("dx", (dxv.shape[0],), (I,))
    if act_x < 0 or act_x >= CMLP_N_ACT or act_x == CMLP_SOFTMAX:
        raise ValueError(f"act_x: no elementwise derivative for activation code {act_x}")
    for out_name, out in (("dx", dx), ("W", W), ("b", b)):
        if out is None:
            continue
        for name, arr in (("s", s), ("x", x)):
            _check_disjoint(out_name, out, name, arr)
    if I * O == 0:
        return
    with nogil:
        if floating is double:
            dense_backward_sgd_f64(dxp, &W[0, 0], &b[0], &s[0], &x[0], lr, I, O, act_x)
        else:
            dense_backward_sgd_f32(dxp, &W[0, 0], &b[0], &s[0], &x[0], <float>lr, I, O, act_x)


cdef _check_loss_pair(int loss, int out_act):
    if loss < 0 or loss >= CMLP_N_LOSS:
        raise ValueError(f"loss: unknown loss code {loss}")
    if out_act < 0 or out_act >= CMLP_N_ACT:
        raise ValueError(f"out_act: unknown activation code {out_act}")


def loss_forward(const floating[:, ::1] y, const floating[:, ::1] t, int loss, int out_act):
    """Sum over rows of the per-row loss; y, t (B, K)."""
    _check_shape("t", (t.shape[0], t.shape[1]), (y.shape[0], y.shape[1]))
    _check_loss_pair(loss, out_act)
    if y.shape[0] * y.shape[1] == 0:
        return 0.0
    if floating is double:
        return loss_forward_f64(&y[0, 0], &t[0, 0], y.shape[0], y.shape[1], loss, out_act)
    else:
        return loss_forward_f32(&y[0, 0], &t[0, 0], y.shape[0], y.shape[1], loss, out_act)


def output_delta(floating[:, ::1] S, const floating[:, ::1] y, const floating[:, ::1] t,
                 int loss, int out_act):
    """S = d(per-row loss)/dn_L; S, y, t (B, K); S overwritten."""
    _check_shape("t", (t.shape[0], t.shape[1]), (y.shape[0], y.shape[1]))
    _check_shape("S", (S.shape[0], S.shape[1]), (y.shape[0], y.shape[1]))
    _check_loss_pair(loss, out_act)
    _check_disjoint("S", S, "y", y)
    _check_disjoint("S", S, "t", t)
    if y.shape[0] * y.shape[1] == 0:
        return
    with nogil:
        if floating is double:
            output_delta_f64(&S[0, 0], &y[0, 0], &t[0, 0], y.shape[0], y.shape[1], loss, out_act)
        else:
            output_delta_f32(&S[0, 0], &y[0, 0], &t[0, 0], y.shape[0], y.shape[1], loss, out_act)


def sgd_update(floating[::1] p, const floating[::1] g, double lr):
    """p -= lr g; p, g (P)."""
    _check_shape("g", (g.shape[0],), (p.shape[0],))
    _check_disjoint("p", p, "g", g)
    if p.shape[0] == 0:
        return
    with nogil:
        if floating is double:
            sgd_update_f64(&p[0], &g[0], lr, p.shape[0])
        else:
            sgd_update_f32(&p[0], &g[0], <float>lr, p.shape[0])


# ---------------------------------------------------------------- minibatch training

OPTIMIZER_CODES = {
    "sgd": CMLP_OPT_SGD,
    "momentum": CMLP_OPT_MOMENTUM,
    "nesterov": CMLP_OPT_NESTEROV,
    "adagrad": CMLP_OPT_ADAGRAD,
    "rmsprop": CMLP_OPT_RMSPROP,
    "adam": CMLP_OPT_ADAM,
}


cdef class Optim:
    """An optimizer's settings for C (``cmlp_optim``): kind, lr, hyperparameters, penalty,
    and the step count ``t`` (optim_step increments it before each update)."""
    cdef cmlp_optim c

    def __cinit__(self, int kind, double lr, double momentum=0.9, double alpha=0.99,
                  double beta1=0.9, double beta2=0.999, double eps=1e-8, double l1=0.0,
                  double l2=0.0, bint scale_penalty=False):
        if kind < 0 or kind >= CMLP_N_OPT:
            raise ValueError(f"kind: unknown optimizer code {kind}")
        self.c.kind = kind
        self.c.lr = lr
        self.c.momentum = momentum
        self.c.alpha = alpha
        self.c.beta1 = beta1
        self.c.beta2 = beta2
        self.c.eps = eps
        self.c.l1 = l1
        self.c.l2 = l2
        self.c.t = 0
        # True: the penalty's gradient is scaled like the data's (1 / the batch's weight sum)
        self.c.scale_penalty = scale_penalty

    @property
    def kind(self):
        return self.c.kind

    @property
    def lr(self):
        return self.c.lr

    @lr.setter
    def lr(self, double value):
        self.c.lr = value

    @property
    def t(self):
        return self.c.t

    @t.setter
    def t(self, int64_t value):
        self.c.t = value


def hidden_width(Arch arch):
    """H = n_1 + ... + n_{L-1}: the dropout draws per row."""
    cdef Py_ssize_t i, H = 0
    for i in range(1, arch.c.n_layers):
        H += arch._sizes[i]
    return H


cdef Py_ssize_t _dropout_work_size(Arch arch):
    return cmlp_dropout_work_size(arch.cp())


cdef _check_drop(Arch arch, const double[::1] drop):
    cdef Py_ssize_t i
    _check_shape("drop", (drop.shape[0],), (max(arch.c.n_layers - 1, 0),))
    for i in range(drop.shape[0]):
        if not (drop[i] >= 0.0 and drop[i] < 1.0):
            raise ValueError(f"drop: probabilities must be in [0, 1), got {drop[i]} at {i}")


def optim_step(Arch arch, Optim opt, floating[::1] params, floating[::1] grad,
               floating[::1] state, double scale, backup=None):
    """grad = scale grad + penalty gradient; opt.t += 1; the update of opt (in place).

    params, grad (P); state (2P), zero before the first step. Returns the penalty value.
    With ``backup`` (P): params are copied there first and, if the update leaves any
    parameter non-finite, restored from it; the return value is then None.
    """
    _check_params(arch, params)
    _check_shape("grad", (grad.shape[0],), (arch.n_params,))
    _check_shape("state", (state.shape[0],), (2 * arch.n_params,))
    _check_disjoint("params", params, "grad", grad)
    _check_disjoint("params", params, "state", state)
    _check_disjoint("grad", grad, "state", state)
    cdef floating[::1] bk
    cdef bint check = backup is not None, finite = True
    cdef Py_ssize_t i, P = params.shape[0]
    if check:
        bk = backup
        _check_shape("backup", (bk.shape[0],), (arch.n_params,))
        for name, arr in (("params", params), ("grad", grad), ("state", state)):
            _check_disjoint("backup", backup, name, arr)
    cdef double pen
    with nogil:
        if check:
            memcpy(&bk[0], &params[0], P * sizeof(floating))
        if floating is double:
            pen = optim_step_f64(&params[0], &grad[0], &state[0], &opt.c, scale, arch.cp())
        else:
            pen = optim_step_f32(&params[0], &grad[0], &state[0], &opt.c, <float>scale, arch.cp())
        if check:
            for i in range(P):
                if not isfinite(params[i]):
                    finite = False
                    break
            if not finite:
                memcpy(&params[0], &bk[0], P * sizeof(floating))
    return pen if finite else None


def penalty(Arch arch, const floating[::1] params, double l1, double l2, grad=None):
    """Returns l1 sum|w| + l2 sum w^2 over the weights; grad (P), if given, += its gradient
    (l1 sign(w) + 2 l2 w on the weight entries, biases untouched)."""
    _check_params(arch, params)
    cdef floating[::1] g
    cdef floating *gp = NULL
    if grad is not None:
        g = grad
        _check_shape("grad", (g.shape[0],), (arch.n_params,))
        _check_disjoint("grad", grad, "params", params)
        gp = &g[0]
    if floating is double:
        return penalty_grad_f64(gp, &params[0], l1, l2, arch.cp())
    else:
        return penalty_grad_f32(gp, &params[0], <float>l1, <float>l2, arch.cp())


def gradients_dropout(Arch arch, const floating[::1] params, const floating[:, ::1] X,
                      const floating[:, ::1] T, U, const double[::1] drop,
                      floating[::1] grad, w=None):
    """grad += sum over rows of the gradients with inverted dropout from the draws U (N, H)
    (U None: no dropout, exactly ``gradients``), each times its weight w_r if w (N) is given;
    returns the summed (weighted) loss. Releases the GIL."""
    _check_params(arch, params)
    _check_drop(arch, drop)
    _check_rows(arch, X, "T", T)
    _check_shape("grad", (grad.shape[0],), (arch.n_params,))
    cdef const floating[:, ::1] Uv
    cdef const floating *up = NULL
    cdef Py_ssize_t N = X.shape[0], H = hidden_width(arch)
    if U is not None:
        Uv = U
        _check_shape("U", (Uv.shape[0], Uv.shape[1]), (N, H))
        if N * H > 0:
            up = &Uv[0, 0]
    for name, arr in (("params", params), ("X", X), ("T", T), ("U", U), ("w", w)):
        _check_disjoint("grad", grad, name, arr)
    cdef double total = 0
    cdef const floating[::1] wv
    cdef const floating *wp = NULL
    _check_weights(w, N, np.float64 if floating is double else np.float32)
    if N == 0:
        return 0.0
    if w is not None:
        wv = w
        wp = &wv[0]
    cdef const double *dp = &drop[0] if drop.shape[0] > 0 else NULL
    cdef floating *work = <floating *>_alloc(_dropout_work_size(arch), sizeof(floating))
    try:
        with nogil:
            if floating is double:
                total = net_gradients_dropout_f64(&grad[0], work, &params[0], &X[0, 0],
                                                  &T[0, 0], wp, up, dp, N, arch.cp())
            else:
                total = net_gradients_dropout_f32(&grad[0], work, &params[0], &X[0, 0],
                                                  &T[0, 0], wp, up, dp, N, arch.cp())
    finally:
        free(work)
    return total


def train_batches(Arch arch, Optim opt, floating[::1] params, floating[::1] grad,
                  floating[::1] state, X, const floating[:, ::1] T,
                  const int64_t[::1] perm, Py_ssize_t B, U, const double[::1] drop,
                  bint stop_nonfinite=True, w=None):
    """Minibatch steps over the rows perm of X, batches of B (the last may be shorter).

    X: a C-contiguous (N, n_0) array of the parameters' dtype, or a ``CSR`` of it (each
    batch's rows are then written densely into the block, as ``gather_rows`` does).

    Each step: the mean over the batch of the per-row gradients (with inverted dropout from
    the draws U (len(perm), H) if U is not None), plus the penalty's gradient, then the
    update of opt. With weights w (N, indexed by row of X): the weighted mean
    ``sum w_r g_r / sum w_r`` over the batch; a batch of weight 0 makes no step. Runs in chunks of whole batches without the GIL, checking signals between
    chunks. Returns ``(status, done, loss_sum)`` as ``sgd_epoch`` (done counts the rows of
    completed batches; status 1: the batch starting at ``done`` had a non-finite loss).
    """
    _check_params(arch, params)
    _check_drop(arch, drop)
    if B < 1:
        raise ValueError(f"B must be >= 1, got {B}")
    cdef cmlp_rows src
    cdef Py_ssize_t N
    if floating is double:
        N = _rows_of(&src, X, np.float64, arch.n_in)
    else:
        N = _rows_of(&src, X, np.float32, arch.n_in)
    _check_shape("T", (T.shape[0], T.shape[1]), (N, arch.n_out))
    _check_shape("grad", (grad.shape[0],), (arch.n_params,))
    _check_shape("state", (state.shape[0],), (2 * arch.n_params,))
    cdef Py_ssize_t n = perm.shape[0], i, H = hidden_width(arch)
    cdef const floating[:, ::1] Uv
    cdef const floating *up = NULL
    if U is not None:
        Uv = U
        _check_shape("U", (Uv.shape[0], Uv.shape[1]), (n, H))
        if n * H > 0:
            up = &Uv[0, 0]
    for out_name, out in (("params", params), ("grad", grad), ("state", state)):
        for name, arr in (("X", _x_array(X)), ("T", T), ("perm", perm), ("U", U), ("w", w)):
            _check_disjoint(out_name, out, name, arr)
    _check_disjoint("params", params, "grad", grad)
    _check_disjoint("params", params, "state", state)
    _check_disjoint("grad", grad, "state", state)
    for i in range(n):
        if perm[i] < 0 or perm[i] >= N:
            raise ValueError(f"perm: entries must be in [0, {N}), got {perm[i]} at {i}")
    cdef const floating[::1] wv
    cdef const floating *wp = NULL
    _check_weights(w, N, np.float64 if floating is double else np.float32)
    if w is not None and N > 0:
        wv = w
        wp = &wv[0]
    cdef double loss_sum = 0
    cdef Py_ssize_t start = 0, m, done = 0, total_done = 0
    cdef int status = CMLP_OK
    cdef const double *dp = &drop[0] if drop.shape[0] > 0 else NULL
    # whole batches of about 2**25 multiply-adds per chunk
    cdef Py_ssize_t chunk = max(1, (1 << 25) // ((arch.n_params + 256) * B)) * B
    if n == 0:
        return status, 0, 0.0
    cdef Py_ssize_t wsize = (B * (arch.n_in + arch.n_out + 1) + arch.n_params
                             + _dropout_work_size(arch))
    cdef floating *work = <floating *>_alloc(wsize, sizeof(floating))
    try:
        while start < n:
            m = min(chunk, n - start)
            with nogil:
                if floating is double:
                    status = train_batches_f64(&params[0], &grad[0], &state[0], work, &src,
                                               &T[0, 0], wp, &perm[start], m, B,
                                               up + start * H if up != NULL else NULL, dp,
                                               arch.cp(), &opt.c, stop_nonfinite, &done,
                                               &loss_sum)
                else:
                    status = train_batches_f32(&params[0], &grad[0], &state[0], work, &src,
                                               &T[0, 0], wp, &perm[start], m, B,
                                               up + start * H if up != NULL else NULL, dp,
                                               arch.cp(), &opt.c, stop_nonfinite, &done,
                                               &loss_sum)
            total_done += done
            if status != CMLP_OK:
                break
            start += m
            PyErr_CheckSignals()
    finally:
        free(work)
    return status, total_done, loss_sum


def evaluate(Arch arch, const floating[::1] params, const floating[:, ::1] X,
             const floating[:, ::1] T, w=None):
    """Returns ``(loss_sum, correct)``: the summed per-row loss (as ``loss``, bit for bit) and
    the number of rows whose predicted class is the target's (argmax, or the threshold of a
    single sigmoid/tanh unit). With weights w (N): the weighted loss and the summed weight
    of those rows (a float)."""
    _check_params(arch, params)
    _check_rows(arch, X, "T", T)
    cdef Py_ssize_t N = X.shape[0]
    cdef double total = 0, correct = 0
    cdef const floating[::1] wv
    cdef const floating *wp = NULL
    _check_weights(w, N, np.float64 if floating is double else np.float32)
    if N == 0:
        return 0.0, (0 if w is None else 0.0)
    if w is not None:
        wv = w
        wp = &wv[0]
    cdef floating *work = <floating *>_alloc(cmlp_forward_work_size(arch.cp()), sizeof(floating))
    try:
        with nogil:
            if floating is double:
                total = net_evaluate_f64(work, &params[0], &X[0, 0], &T[0, 0], wp, N, arch.cp(),
                                         &correct)
            else:
                total = net_evaluate_f32(work, &params[0], &X[0, 0], &T[0, 0], wp, N, arch.cp(),
                                         &correct)
    finally:
        free(work)
    return total, (int(correct) if w is None else correct)


# ---------------------------------------------------------------- minibatch on several threads

cdef void *_data(arr):
    return <void *><size_t>arr.ctypes.data


cdef _check_array(str name, arr, dtype, tuple shape):
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(arr).__name__}")
    if arr.dtype != dtype:
        raise ValueError(f"{name}: expected dtype {np.dtype(dtype).name}, got {arr.dtype}")
    _check_shape(name, arr.shape, shape)
    if not arr.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")


cdef class Team:
    """Minibatch training on n_threads threads at once (``train_team`` in cmlp.h).

    Built once per ``fit`` over the network's ``params``, the gradient buffer ``grad`` (zero)
    and the optimizer ``state``; allocates every thread's work, the threads' shared blocks
    (with BLAS) or the other threads' gradient buffers (without; see ``train_team`` in
    cmlp.h). The BLAS setting must not change while a Team is in use. For each chunk of
    rows: ``prepare(...)``, then ``run(k)`` called concurrently on n_threads threads (k = 0 ..
    n_threads - 1; each releases the GIL and waits for the others at the batch barriers, so
    all must be started), then ``result()``.
    """
    cdef cmlp_team c
    cdef Arch arch
    cdef Optim opt
    cdef object _keep, _chunk, dtype
    cdef Py_ssize_t _work_size
    cdef bint _prepared, _per_thread
    cdef readonly int n_threads
    cdef readonly Py_ssize_t B

    def __cinit__(self, Arch arch, Optim opt, params, grad, state, int n_threads, Py_ssize_t B):
        if n_threads < 2 or n_threads > CMLP_MAX_THREADS:
            raise ValueError(f"n_threads must be in [2, {CMLP_MAX_THREADS}], got {n_threads}")
        if B < 1:
            raise ValueError(f"B must be >= 1, got {B}")
        dtype = params.dtype if isinstance(params, np.ndarray) else None
        if dtype not in (np.float32, np.float64):
            raise ValueError("params must be a float32 or float64 NumPy array")
        P = arch.n_params
        _check_array("params", params, dtype, (P,))
        _check_array("grad", grad, dtype, (P,))
        _check_array("state", state, dtype, (2 * P,))
        if not (params.flags.writeable and grad.flags.writeable and state.flags.writeable):
            raise ValueError("params, grad and state must be writeable")
        _check_disjoint("params", params, "grad", grad)
        _check_disjoint("params", params, "state", state)
        _check_disjoint("grad", grad, "state", state)
        self.arch, self.opt, self.dtype = arch, opt, dtype
        self.n_threads, self.B = n_threads, B
        self._work_size = cmlp_team_work_size(arch.cp(), B, n_threads)
        # with BLAS the threads share one gradient buffer (each owns parameter rows) and
        # one block of activations and deltas; without, each sums into its own buffer
        per_thread = self._per_thread = arch.cp().blas == NULL
        grads = [grad] + [np.zeros(P if per_thread else 0, dtype) for _ in range(n_threads - 1)]
        works = [np.empty(max(self._work_size, 1), dtype) for _ in range(n_threads)]
        shared = np.empty(max(cmlp_team_shared_size(arch.cp(), B), 1), dtype)
        backup = np.empty(P, dtype)
        self._keep = (params, grads, state, works, backup, shared)
        self.c.n_threads = n_threads
        self.c.params = _data(params)
        self.c.state = _data(state)
        self.c.backup = _data(backup)
        self.c.shared = _data(shared)
        for k in range(n_threads):
            self.c.grads[k] = _data(grads[k]) if grads[k].size else NULL
            self.c.work[k] = _data(works[k])
        self._prepared = False

    def prepare(self, X, T, perm, U, drop, bint stop_nonfinite=True, w=None):
        """Set the next chunk: rows perm (int64) of X (N, n_0; an array or a ``CSR``) and
        T (N, n_L) in batches of B, dropout draws U (len(perm), H) or None and probabilities
        drop (L - 1), weights w (N) or None (every weight 1)."""
        cdef Arch arch = self.arch
        cdef Py_ssize_t N, n, H = hidden_width(arch)
        if (arch.cp().blas == NULL) != self._per_thread:
            raise RuntimeError("the BLAS setting changed since this Team was built; build a new one")
        N = _rows_of(&self.c.X, X, self.dtype, arch.n_in)
        _check_array("T", T, self.dtype, (N, arch.n_out))
        _check_array("perm", perm, np.int64, (perm.shape[0] if isinstance(perm, np.ndarray) and perm.ndim == 1 else -1,))
        n = perm.shape[0]
        if n and (perm.min() < 0 or perm.max() >= N):
            raise ValueError(f"perm: entries must be in [0, {N})")
        if U is not None:
            _check_array("U", U, self.dtype, (n, H))
        _check_array("drop", drop, np.float64, (max(arch.n_layers - 1, 0),))
        _check_drop(arch, drop)
        if w is not None:
            _check_array("w", w, self.dtype, (N,))
        params, grads, state, works, backup, shared = self._keep
        for name, arr in (("X", _x_array(X)), ("T", T), ("perm", perm), ("U", U), ("w", w)):
            for out_name, out in (("params", params), ("state", state)):
                _check_disjoint(out_name, out, name, arr)
        self._chunk = (X, T, perm, U, drop, w)
        self.c.T = _data(T)
        self.c.w = _data(w) if w is not None and N > 0 else NULL
        self.c.U = _data(U) if U is not None and n * H > 0 else NULL
        self.c.perm = <const int64_t *>_data(perm)
        self.c.drop = <const double *>_data(drop) if drop.shape[0] > 0 else NULL
        self.c.n = n
        self.c.B = self.B
        self.c.arch = arch.cp()
        self.c.opt = &self.opt.c
        self.c.stop_nonfinite = stop_nonfinite
        self.c.status = -1
        self.c.done = 0
        self.c.loss_sum = 0
        cmlp_barrier_init(&self.c.barrier, self.n_threads)
        self._prepared = True

    def run(self, int tid):
        """Thread tid's share of the prepared chunk (without the GIL); returns its status."""
        cdef int status
        if not self._prepared:
            raise RuntimeError("Team.run before prepare")
        if tid < 0 or tid >= self.n_threads:
            raise ValueError(f"tid must be in [0, {self.n_threads}), got {tid}")
        cdef bint f32 = self.dtype == np.float32
        with nogil:
            if f32:
                status = train_team_f32(&self.c, tid)
            else:
                status = train_team_f64(&self.c, tid)
        return status

    def result(self):
        """``(status, done, loss_sum)`` of the chunk, as ``train_batches``."""
        self._prepared = False
        return self.c.status, self.c.done, self.c.loss_sum


# ---------------------------------------------------------------- sparse rows (CSR)

cdef class CSR:
    """The rows of a sparse X for C: scipy's CSR arrays, checked once, held without a copy.

    data (nnz) float32 or float64; indices (nnz) and indptr (N + 1) both int32 or both int64;
    all 1-D, C-contiguous and aligned; n_cols columns. Row r holds data[p] in column
    indices[p] for p in [indptr[r], indptr[r + 1]); column indices may come in any order and
    repeat (their values are summed, as scipy does). Raises ValueError naming ``name`` if
    indptr is not non-decreasing within [0, nnz] or an index lies outside [0, n_cols), so the
    C code never reads out of bounds. ``train_batches`` and ``Team`` take it as X; the other
    drivers take dense rows, which ``gather_rows`` writes from it chunk by chunk.
    """
    cdef cmlp_rows c
    cdef readonly object data, indices, indptr, dtype, name
    cdef readonly Py_ssize_t n_rows, n_cols, nnz

    def __cinit__(self, data, indices, indptr, Py_ssize_t n_cols, str name="X"):
        cdef Py_ssize_t where = 0
        cdef int status
        for part, arr in (("data", data), ("indices", indices), ("indptr", indptr)):
            if not isinstance(arr, np.ndarray) or arr.ndim != 1:
                raise TypeError(f"{name}: the CSR {part} must be a 1-D NumPy array")
            if not (arr.flags.c_contiguous and arr.flags.aligned):
                raise ValueError(f"{name}: the CSR {part} must be C-contiguous and aligned")
        if data.dtype not in (np.float32, np.float64):
            raise ValueError(f"{name}: the CSR data must be float32 or float64, got {data.dtype}")
        if indices.dtype not in (np.int32, np.int64) or indptr.dtype != indices.dtype:
            raise ValueError(f"{name}: the CSR indices and indptr must both be int32 or both "
                             f"int64, got {indices.dtype} and {indptr.dtype}")
        if indptr.shape[0] < 1:
            raise ValueError(f"{name}: the CSR indptr must have n_rows + 1 >= 1 entries")
        if n_cols < 0:
            raise ValueError(f"{name}: n_cols must be >= 0, got {n_cols}")
        self.data, self.indices, self.indptr, self.dtype, self.name = (
            data, indices, indptr, data.dtype, name)
        self.n_rows, self.n_cols = indptr.shape[0] - 1, n_cols
        self.nnz = min(data.shape[0], indices.shape[0])
        self.c.dense = NULL
        self.c.data = _data(data)
        self.c.indices = _data(indices)
        self.c.indptr = _data(indptr)
        self.c.index64 = indices.dtype == np.int64
        with nogil:
            status = cmlp_rows_check(&self.c, self.n_rows, n_cols, self.nnz, &where)
        if status == 1:
            raise ValueError(f"{name} is not a valid sparse matrix: its indptr must be "
                             f"non-decreasing from 0 to at most {self.nnz} (the stored "
                             f"values), got {indptr[where]} at indptr[{where}]")
        if status == 2:
            raise ValueError(f"{name} is not a valid sparse matrix: column index "
                             f"{indices[where]} at indices[{where}] is outside "
                             f"[0, {n_cols})")

    @property
    def shape(self):
        return (self.n_rows, self.n_cols)

    def rows(self, Py_ssize_t a, Py_ssize_t b):
        """The rows [a, b) (0 <= a <= b <= n_rows), sharing data and indices."""
        if not 0 <= a <= b <= self.n_rows:
            raise ValueError(f"rows: expected 0 <= a <= b <= {self.n_rows}, got {a}, {b}")
        return CSR(self.data, self.indices, self.indptr[a:b + 1], self.n_cols, self.name)


cdef object _x_array(X):
    """The array holding X's values (for the aliasing checks)."""
    return (<CSR>X).data if isinstance(X, CSR) else X


cdef Py_ssize_t _rows_of(cmlp_rows *src, X, dtype, Py_ssize_t n_in) except -1:
    """src = the rows of X for train_batches/train_team: a C-contiguous, aligned (N, n_in)
    array of dtype, or a CSR of dtype with n_in columns. Returns N."""
    cdef CSR csr
    if isinstance(X, CSR):
        csr = <CSR>X
        if csr.dtype != dtype:
            raise ValueError(f"X: expected dtype {np.dtype(dtype).name}, got {csr.dtype}")
        _check_shape("X", csr.shape, (csr.n_rows, n_in))
        src[0] = csr.c
        return csr.n_rows
    _check_array("X", X, dtype, (X.shape[0] if isinstance(X, np.ndarray) and X.ndim == 2
                                 else -1, n_in))
    if not X.flags.aligned:
        raise ValueError("X must be aligned")
    src.dense = _data(X)
    src.data = src.indices = src.indptr = NULL
    src.index64 = 0
    return X.shape[0]


def gather_rows(CSR X, floating[:, ::1] out, Py_ssize_t r0=0, perm=None):
    """out = rows of X: row k is row perm[k] of X (perm None: row r0 + k), written densely
    (zeros, then each stored value added into its column: scipy's toarray); out (m, n_0)
    overwritten. perm: int64 (m), entries in [0, N). Releases the GIL."""
    cdef Py_ssize_t m = out.shape[0], N = X.n_rows
    cdef const int64_t[::1] pv
    cdef const int64_t *pp = NULL
    if floating is double:
        same = X.dtype == np.float64
    else:
        same = X.dtype == np.float32
    if not same:
        raise ValueError(f"out: expected dtype {X.dtype}, got the other precision")
    _check_shape("out", (m, out.shape[1]), (m, X.n_cols))
    _check_disjoint("out", out, "X", X.data)
    if perm is not None:
        pv = perm
        _check_shape("perm", (pv.shape[0],), (m,))
        if m and (np.min(perm) < 0 or np.max(perm) >= N):
            raise ValueError(f"perm: entries must be in [0, {N})")
        if m:
            pp = &pv[0]
    elif r0 < 0 or r0 + m > N:
        raise ValueError(f"r0: rows [{r0}, {r0 + m}) are not all in [0, {N})")
    if m == 0:
        return
    with nogil:
        if floating is double:
            gather_rows_f64(&out[0, 0], &X.c, pp, r0, m, X.n_cols)
        else:
            gather_rows_f32(&out[0, 0], &X.c, pp, r0, m, X.n_cols)
