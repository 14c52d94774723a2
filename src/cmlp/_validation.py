"""Validation at the public boundary: every message names the argument, what was expected,
what was received and, where it helps, how to fix it."""
import numbers
import os

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_NUMERIC_KINDS = "biuf"


def check_int(name, value, minimum=None):
    """An integer (Python or NumPy, not bool) >= minimum; returns it as int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_float(name, value, minimum=None, strict=False):
    """A finite real number (> minimum if strict, else >= minimum); returns it as float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    try:
        value = float(value)
    except OverflowError:  # an int beyond the float range
        raise ValueError(f"{name} must be finite, got an integer of {value.bit_length()} "
                         f"bits") from None
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value}")
    return value


def check_choice(name, value, options):
    """One of the strings in options; returns it."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {sorted(options)}, "
                        f"got {type(value).__name__} {value!r}")
    if value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value


def as_path(value, name="path"):
    """os.fspath with an error that names the argument; returns str or bytes."""
    try:
        return os.fspath(value)
    except TypeError:
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(value).__name__} "
                        f"{value!r}") from None


def check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def as_float_dtype(dtype, name="dtype"):
    """'float32', np.float32 or np.dtype('float32') (and likewise float64) -> np.dtype."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name} must be 'float32' or 'float64', got {dtype!r}") from exc
    if dt not in FLOAT_DTYPES or dtype is None:
        raise ValueError(f"{name} must be 'float32' or 'float64', got {dtype!r}")
    return dt


def is_sparse(X) -> bool:
    """True for a scipy.sparse matrix or array (without importing scipy for other inputs)."""
    if not type(X).__module__.startswith("scipy.sparse"):
        return False
    import scipy.sparse
    return scipy.sparse.issparse(X)


def _pandas_numeric(value):
    """A pandas DataFrame/Series whose columns are all numeric or boolean, including the
    nullable extension dtypes (Int64, boolean, Float64), as float64 (missing values NaN);
    None for anything else."""
    if not type(value).__module__.startswith("pandas"):
        return None
    from pandas.api.types import is_bool_dtype, is_numeric_dtype
    dtypes = getattr(value, "dtypes", None)
    if dtypes is None:
        return None
    dtypes = list(dtypes) if hasattr(dtypes, "__iter__") else [dtypes]
    if not dtypes or not all(is_numeric_dtype(d) or is_bool_dtype(d) for d in dtypes):
        return None
    return value.to_numpy(dtype=np.float64, na_value=np.nan)


def as_numeric_array(value, name):
    """np.asarray with a clear error for ragged, object, string, complex and sparse input.
    A pandas object whose columns are all numeric or boolean (mixed, or nullable extension
    dtypes) is read as float64."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__}")
    if is_sparse(value):
        raise TypeError(f"{name} cannot be sparse (got a scipy.sparse "
                        f"{type(value).__name__}); pass {name}.toarray()")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} could not be converted to a numeric array: {exc}") from exc
    if arr.dtype.kind == "O":
        numeric = _pandas_numeric(value)
        if numeric is not None:
            arr = numeric
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"{name} must hold numbers (bool, integer or float), got dtype "
                        f"{arr.dtype}; convert it with np.asarray({name}, dtype=float) "
                        f"if its values are numeric")
    return arr


def to_float_c(arr, dtype, name):
    """One C-contiguous, aligned copy in dtype (none if arr already is one), checked finite.

    Alignment matters: an array unpickled from a buffer (Dask, pickle protocol 5) or made
    with np.frombuffer at an offset can be C-contiguous yet not aligned for its dtype, and
    the C kernels load whole elements."""
    with np.errstate(over="ignore"):  # an overflow is reported below, by name
        out = np.ascontiguousarray(arr, dtype=dtype)
    if not out.flags.aligned:
        out = out.copy()
    if arr.dtype.kind == "f" and not np.isfinite(out).all():
        if np.isfinite(arr).all():
            raise ValueError(f"{name} has values too large for {np.dtype(dtype).name}; "
                             f"rescale them or use dtype='float64'")
        raise ValueError(f"{name} contains NaN or infinity; remove or impute those values")
    return out


def check_X(X, n_features, dtype, name="X", allow_1d=True):
    """Validate inputs for a network with n_features inputs.

    Returns ``(X2, single)``: a C-contiguous (N, n_features) array in dtype and whether a
    single sample (n_features,) was given.
    """
    arr = as_numeric_array(X, name)
    single = arr.ndim == 1
    if single and allow_1d:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        expected = "(n_samples, n_features) or one sample (n_features,)" if allow_1d else \
            "(n_samples, n_features)"
        raise ValueError(f"{name} must have shape {expected}, got an array of shape {arr.shape}")
    if arr.shape[1] != n_features:
        raise ValueError(f"{name} has {arr.shape[1]} features per row, but the network's input "
                         f"layer has {n_features} (layers[0])")
    return to_float_c(arr, dtype, name), single
