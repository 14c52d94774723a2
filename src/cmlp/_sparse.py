"""Sparse X: ``scipy.sparse`` matrices and arrays, validated once into a ``_core.CSR``.

The minibatch drivers read the CSR rows of each batch straight into their dense block; the
other drivers (forward, loss, gradients, evaluation, per-sample SGD) get the rows written
densely a bounded chunk at a time (:func:`dense_chunks`), so the whole matrix is never
densified. Only the ``data`` array is converted to the network's dtype; CSR ``indices`` and
``indptr`` are used as given (int32 or int64; converted to int64 if their types differ).
Other formats (CSC, COO, ...) are converted to CSR once, which costs O(nnz), not N x n_0.
"""
from __future__ import annotations

import numpy as np

from . import _core
from ._validation import to_float_c

# a sparse X is written densely about this many elements (rows x n_0) at a time for the
# drivers that read dense rows: memory stays bounded by the chunk, not by N x n_0. Small
# enough for the chunk to stay in cache between being written and being read (MNIST: 256
# rows, 1 MB in float32); large enough that the calls per chunk cost nothing in comparison
CHUNK_ELEMENTS = 1 << 18


def as_csr(X, n_features, dtype, name="X"):
    """A scipy.sparse X with n_features columns -> a checked ``_core.CSR`` in dtype.

    The errors are those of a dense X (shape, non-finite values), each naming ``name``; a
    malformed matrix (indptr not non-decreasing, an index out of range) is a ValueError too.
    A matrix not in canonical format (unsorted indices, duplicate entries) is canonicalised
    on a copy first: duplicates are summed, as ``X.toarray()`` sums them.
    """
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (n_samples, n_features), got a sparse "
                         f"{type(X).__name__} of shape {X.shape}")
    if X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features per row, but the network's input "
                         f"layer has {n_features} (layers[0])")
    if X.format != "csr":
        X = X.tocsr()
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers (bool, integer or float), got a sparse "
                        f"matrix of dtype {X.dtype}")
    data = to_float_c(np.asarray(X.data), dtype, name)
    indices, indptr = np.asarray(X.indices), np.asarray(X.indptr)
    if indices.dtype != indptr.dtype or indices.dtype not in (np.int32, np.int64):
        indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)
    indices, indptr = np.ascontiguousarray(indices), np.ascontiguousarray(indptr)
    if indptr.ndim != 1 or indptr.shape[0] != X.shape[0] + 1:
        raise ValueError(f"{name} is not a valid sparse matrix: its indptr has "
                         f"{indptr.shape[0]} entries for {X.shape[0]} rows (expected "
                         f"{X.shape[0] + 1})")
    csr = _core.CSR(data, indices, indptr, X.shape[1], name)  # checks the structure
    if data.size and not X.has_canonical_format and _duplicates_may_overflow(data, indptr):
        # (scipy's has_canonical_format reads indptr: asked only once it is known valid.)
        # Duplicate entries are summed where a row is written densely, as toarray sums
        # them; if such a sum could overflow, sum them here on a copy first, so that two
        # finite entries whose sum is inf are reported as a dense inf would be
        X = X.copy()
        X.sum_duplicates()
        return as_csr(X, n_features, dtype, name)
    return csr


def _duplicates_may_overflow(data, indptr):
    """Whether summing the entries of one row could leave data's dtype range: the largest
    magnitude times the most entries in a row (no allocation of nnz size)."""
    largest = max(abs(float(data.max())), abs(float(data.min())))
    most = int(np.diff(indptr).max()) if indptr.shape[0] > 1 else 0
    return largest * most >= float(np.finfo(data.dtype).max)


def chunk_rows(n_features):
    """Rows per dense chunk: about CHUNK_ELEMENTS values, a multiple of the drivers' largest
    block (so chunked gradients take the same blocks, and sums, as one call over all rows)."""
    R = _core.GEMM_BLOCK_ROWS
    return max(R, CHUNK_ELEMENTS // max(n_features, 1) // R * R)


def dense_chunks(X, a=0, b=None):
    """Yields ``(s, e, Xc)``: rows [s, e) of X in [a, b) as a dense C-contiguous array.

    A dense X gives its rows [a, b) at once (a view); a ``_core.CSR`` gives chunks of
    :func:`chunk_rows` rows, written in turn into one buffer (valid until the next chunk)."""
    b = X.shape[0] if b is None else b
    if not isinstance(X, _core.CSR):
        yield a, b, X[a:b]
        return
    if b <= a:
        return
    rows = chunk_rows(X.n_cols)
    buf = np.empty((min(rows, b - a), X.n_cols), X.dtype)
    for s in range(a, b, rows):
        e = min(s + rows, b)
        Xc = buf[:e - s]
        _core.gather_rows(X, Xc, s)
        yield s, e, Xc


def row_slice(X, a, b):
    """Rows [a, b) of a dense array or a ``_core.CSR`` (sharing memory)."""
    return X.rows(a, b) if isinstance(X, _core.CSR) else X[a:b]
