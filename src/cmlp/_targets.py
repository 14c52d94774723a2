"""Targets: integer labels, one-hot encoding and target arrays (see DECISIONS.md)."""
from __future__ import annotations

import numpy as np

from ._typing import ArrayLike, DTypeLike, FloatArray
from ._validation import as_float_dtype, as_numeric_array, check_int, to_float_c


def as_labels(y, n_classes, name="labels"):
    """1-D class labels in 0..n_classes-1 (integers, integral floats or bools) -> int64."""
    arr = as_numeric_array(y, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinity; class labels must be integers")
        if (arr != np.floor(arr)).any():
            bad = arr[arr != np.floor(arr)][:3]
            raise ValueError(f"{name} must hold integer class labels, got non-integral values "
                             f"such as {bad.tolist()}")
    lo, hi = arr.min(), arr.max()
    if lo < 0 or hi > n_classes - 1:
        raise ValueError(f"{name} must be in 0..{n_classes - 1} (one per output unit), got "
                         f"labels from {lo} to {hi}")
    return arr.astype(np.int64)


def one_hot(labels: ArrayLike, n_classes: int, dtype: DTypeLike = np.float64) -> FloatArray:
    """One-hot encode class labels, as the notes do for MNIST.

    Parameters
    ----------
    labels : array-like of shape (N,)
        Integer class labels in ``0 .. n_classes - 1`` (integral floats and bools too).
    n_classes : int
        Number of classes (columns of the result).
    dtype : {'float32', 'float64'}, default float64

    Returns
    -------
    ndarray of shape (N, n_classes)
        Row k is all zeros except a one in column ``labels[k]``. (The notes store the
        transpose, one sample per column.)
    """
    n_classes = check_int("n_classes", n_classes, 1)
    lab = as_labels(labels, n_classes)
    out = np.zeros((lab.shape[0], n_classes), dtype=as_float_dtype(dtype))
    out[np.arange(lab.shape[0]), lab] = 1
    return out


def as_targets(y, n_rows, n_out, dtype, name="y", x_name="X"):
    """Targets for a network with n_out output units, as a C-contiguous (n_rows, n_out) array.

    1-D y: class labels, one-hot encoded when n_out > 1; with one output unit, the target
    column itself. 2-D y: the target array, which must have n_out columns.
    """
    arr = as_numeric_array(y, name)
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D labels or a 2-D (n_samples, {n_out}) target "
                         f"array, got shape {arr.shape}")
    if arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} rows, but {x_name} has {n_rows}")
    if arr.ndim == 1:
        if n_out == 1:
            return to_float_c(arr.reshape(-1, 1), dtype, name)
        return one_hot(as_labels(arr, n_out, name), n_out, dtype)
    if arr.shape[1] != n_out:
        raise ValueError(f"{name} has {arr.shape[1]} columns, but the network has {n_out} "
                         f"output units (layers[-1])")
    return to_float_c(arr, dtype, name)
