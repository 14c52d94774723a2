"""Classification metrics on integer label arrays, as the notes use them.

All functions take labels, not network outputs: ``y_true`` and ``y_pred`` are 1-D
arrays of shape (N,) holding integers 0..K-1 (integral floats and bools accepted),
e.g. ``y_pred = net.predict(X)`` or ``np.argmax(outputs, axis=1)``.

Zero division: a class that is never predicted has precision 0.0, a class that
never occurs has recall 0.0, and F1 is 0.0 when precision + recall is 0.  This is
scikit-learn's ``zero_division=0.0`` result, returned without a warning.
"""
from __future__ import annotations

import numpy as np

from ._typing import ArrayLike, IntArray
from ._validation import check_bool

__all__ = ["accuracy", "classification_report", "confusion_matrix", "scorecards"]


def _labels(y, name):
    """``y`` as a 1-D int64 array, or a ValueError/TypeError naming ``name``."""
    try:
        a = np.asarray(y)
    except (ValueError, TypeError) as exc:  # ragged nested sequences
        raise ValueError(f"{name} could not be read as a 1-D array of labels: {exc}") from None
    if a.dtype == object or a.dtype.kind in "USV":
        raise TypeError(f"{name} must hold integer labels, got an array of dtype {a.dtype}")
    if a.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of labels of shape (N,), got shape {a.shape}; "
            f"for network outputs of shape (N, K) pass np.argmax(outputs, axis=1)"
        )
    if a.size == 0:
        raise ValueError(f"{name} is empty; need at least one label")
    if a.dtype.kind == "b":
        return a.astype(np.int64)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            raise ValueError(f"{name} must hold integer labels; got non-integral values such as "
                             f"{a[~(np.isfinite(a) & (a == np.round(a)))][0]!r}")
    elif a.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer labels, got dtype {a.dtype}")
    if (a.dtype.kind == "u" and a.max() > np.iinfo(np.int64).max) or \
            (a.dtype.kind == "f" and a.max() >= 2.0 ** 63):
        # checked before the cast, which would wrap the value shown to a negative one
        raise ValueError(f"{name} must hold labels 0..K-1, got {a.max().item()!r}")
    out = a.astype(np.int64)
    if out.min() < 0:
        raise ValueError(f"{name} must hold labels 0..K-1, got {int(out.min())}")
    return out


def _pair(y_true, y_pred, n_classes=None):
    t = _labels(y_true, "y_true")
    p = _labels(y_pred, "y_pred")
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"y_true and y_pred must have the same length, got {t.shape[0]} and {p.shape[0]}")
    top = int(max(t.max(), p.max())) + 1
    if n_classes is None:
        k = top
    else:
        if isinstance(n_classes, (bool, np.bool_)) or not isinstance(n_classes, (int, np.integer)):
            raise TypeError(f"n_classes must be an int or None, got {type(n_classes).__name__}")
        k = int(n_classes)
        if k < 1:
            raise ValueError(f"n_classes must be >= 1, got {k}")
        if top > k:
            raise ValueError(f"labels go up to {top - 1} but n_classes={k}; labels must be in 0..{k - 1}")
    return t, p, k


# Largest K of a (K, K) confusion matrix (2 GB of int64 counts): labels beyond it are
# surely not 0..K-1 classes but ids, which np.unique(y, return_inverse=True) maps to them.
_MAX_CLASSES = 1 << 14


def _check_classes(k):
    if k > _MAX_CLASSES:
        raise ValueError(f"labels go up to {k - 1}, but there can be at most {_MAX_CLASSES} "
                         f"classes 0..K-1 (a (K, K) confusion matrix); map other labels to "
                         f"classes with np.unique(y, return_inverse=True)")


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of labels predicted correctly.

    Parameters
    ----------
    y_true : array_like of shape (N,)
        True labels 0..K-1.
    y_pred : array_like of shape (N,)
        Predicted labels 0..K-1.

    Returns
    -------
    float
        ``mean(y_true == y_pred)``, in [0, 1].
    """
    t, p, _ = _pair(y_true, y_pred)
    return float(np.mean(t == p))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int | None = None
                     ) -> IntArray:
    """Count each (true, predicted) label pair.

    Parameters
    ----------
    y_true : array_like of shape (N,)
        True labels 0..K-1.
    y_pred : array_like of shape (N,)
        Predicted labels 0..K-1.
    n_classes : int, optional
        K; default the largest label in either array plus one. At most 16,384.

    Returns
    -------
    C : ndarray of shape (K, K), int64
        ``C[i, j]`` is the number of samples of true class ``i`` predicted as ``j``
        (rows true, columns predicted, as in scikit-learn); the diagonal counts the
        correct predictions.
    """
    t, p, k = _pair(y_true, y_pred, n_classes)
    _check_classes(k)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64)


def scorecards(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int | None = None
               ) -> tuple[IntArray, IntArray]:
    """The notes' per-class scorecards of successes and failures.

    For each sample, ``success[label] += 1`` if the prediction equals the label,
    else ``failure[label] += 1`` (the notes' testing loop, with the argmax already
    taken).  ``success + failure`` is the number of samples of each class.

    Parameters
    ----------
    y_true : array_like of shape (N,)
        True labels 0..K-1.
    y_pred : array_like of shape (N,)
        Predicted labels 0..K-1.
    n_classes : int, optional
        K; default the largest label in either array plus one. At most 16,384.

    Returns
    -------
    success : ndarray of shape (K,), int64
        Correct predictions per true class (the notes use float arrays of zeros;
        the counts are the same).
    failure : ndarray of shape (K,), int64
        Wrong predictions per true class.
    """
    t, p, k = _pair(y_true, y_pred, n_classes)
    _check_classes(k)
    hit = t == p
    success = np.bincount(t[hit], minlength=k).astype(np.int64)
    failure = np.bincount(t[~hit], minlength=k).astype(np.int64)
    return success, failure


def _per_class(C):
    """Precision, recall, F1, support per class from a confusion matrix (zero-safe)."""
    tp = np.diag(C).astype(np.float64)
    predicted = C.sum(axis=0).astype(np.float64)
    support = C.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        # 2PR/(P+R) written on counts, 2 tp / (2 tp + fp + fn): scikit-learn's form,
        # so ties round the same way in the text report
        denom = predicted + support
        f1 = np.where(tp > 0, 2 * tp / denom, 0.0)
    return precision, recall, f1, support.astype(np.int64)


def classification_report(y_true: ArrayLike, y_pred: ArrayLike, digits: int = 2,
                          output_dict: bool = False, n_classes: int | None = None) -> str | dict:
    """Per-class precision, recall, F1 and support, laid out like scikit-learn's.

    Precision of class c is ``C[c, c] / C[:, c].sum()`` (0.0 when c is never
    predicted), recall ``C[c, c] / C[c, :].sum()`` (0.0 when c never occurs), F1
    their harmonic mean ``2 tp / (2 tp + fp + fn)`` (0.0 when both are 0).  The summary rows are the accuracy,
    the unweighted mean over classes (``macro avg``) and the mean weighted by
    support (``weighted avg``).

    Parameters
    ----------
    y_true : array_like of shape (N,)
        True labels 0..K-1.
    y_pred : array_like of shape (N,)
        Predicted labels 0..K-1.
    digits : int, default=2
        Decimals in the text report (the dict holds full floats).
    output_dict : bool, default=False
        Return a dict instead of text.
    n_classes : int, optional
        Report classes 0..K-1; default the labels that occur in either array, as
        scikit-learn does.

    Returns
    -------
    str or dict
        The text table, or ``{"0": {"precision": ..., "recall": ..., "f1-score":
        ..., "support": ...}, ..., "accuracy": float, "macro avg": {...},
        "weighted avg": {...}}`` (scikit-learn's keys; support as int).
    """
    if isinstance(digits, (bool, np.bool_)) or not isinstance(digits, (int, np.integer)) or digits < 0:
        raise ValueError(f"digits must be a non-negative int, got {digits!r}")
    output_dict = check_bool("output_dict", output_dict)
    t, p, k = _pair(y_true, y_pred, n_classes)
    if n_classes is None:
        # only the labels that occur: the matrix is over them, whatever their values
        present, inverse = np.unique(np.concatenate([t, p]), return_inverse=True)
        t, p, k = inverse[:t.shape[0]], inverse[t.shape[0]:], present.shape[0]
    else:
        present = np.arange(k)
    C = confusion_matrix(t, p, k)
    precision, recall, f1, support = _per_class(C)
    total = int(support.sum())
    acc = float(np.trace(C) / total)
    rows = {}
    for c in range(k):
        rows[str(int(present[c]))] = {
            "precision": float(precision[c]),
            "recall": float(recall[c]),
            "f1-score": float(f1[c]),
            "support": int(support[c]),
        }
    macro = {
        "precision": float(np.mean(precision)),
        "recall": float(np.mean(recall)),
        "f1-score": float(np.mean(f1)),
        "support": total,
    }

    def wavg(v):
        # np.average, as scikit-learn computes it (the same rounding of ties); the weights
        # sum to the number of labels, at least 1
        return float(np.average(v, weights=support))

    weighted = {
        "precision": wavg(precision),
        "recall": wavg(recall),
        "f1-score": wavg(f1),
        "support": total,
    }
    if output_dict:
        out = dict(rows)
        out["accuracy"] = acc
        out["macro avg"] = macro
        out["weighted avg"] = weighted
        return out

    headers = ["precision", "recall", "f1-score", "support"]
    names = list(rows) + ["weighted avg"]
    width = max(len(n) for n in names)
    width = max(width, digits)
    head_fmt = "{:>{width}s} " + " {:>9}" * len(headers)
    report = head_fmt.format("", *headers, width=width) + "\n\n"
    row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    for name, r in rows.items():
        report += row_fmt.format(name, r["precision"], r["recall"], r["f1-score"], r["support"],
                                 width=width, digits=digits)
    report += "\n"
    report += ("{:>{width}s} " + " {:>9}" * 2 + " {:>9.{digits}f} {:>9}\n").format(
        "accuracy", "", "", acc, total, width=width, digits=digits)
    for name, r in (("macro avg", macro), ("weighted avg", weighted)):
        report += row_fmt.format(name, r["precision"], r["recall"], r["f1-score"], r["support"],
                                 width=width, digits=digits)
    return report
