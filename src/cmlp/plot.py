"""Plots of training and testing: cost curves, confusion matrices, digits, grid searches.

Needs matplotlib, an optional extra (``pip install cmlp[plot]``); it is imported when a
plot function is first called, not when :mod:`cmlp` is imported.

Every function draws into ``ax`` when given (and returns ``ax.figure``), or else makes a
new figure with ``matplotlib.pyplot`` (so ``plt.show()`` and notebooks display it) of
size ``figsize`` inches at ``dpi``; it returns the :class:`matplotlib.figure.Figure`.
With ``save=path`` the figure is also written there (``fig.savefig(path)``, the format
from the suffix), at exactly ``figsize * dpi`` pixels whatever matplotlib's ``savefig.dpi``
and ``savefig.bbox`` settings. Arguments are checked before a figure is made, and a call
that fails after making one closes it. Close figures you no longer need
(``plt.close(fig)``) when making many.
"""
import numpy as np

from ._validation import check_float

__all__ = ["plot_confusion_matrix", "plot_cost", "plot_digits", "plot_grid_search"]

_INSTALL = "cmlp.plot needs matplotlib, which is not installed: pip install cmlp[plot]"


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(_INSTALL) from exc
    return plt


def _check_figure_args(figsize, dpi):
    """figsize: two positive numbers; dpi: a positive number (both for a new figure)."""
    try:
        w, h = (float(v) for v in figsize)
    except (TypeError, ValueError):
        raise ValueError(f"figsize must be (width, height) in inches, got {figsize!r}") from None
    if not (np.isfinite(w) and np.isfinite(h) and w > 0 and h > 0):
        raise ValueError(f"figsize must be two positive sizes in inches, got {figsize!r}")
    check_float("dpi", dpi, 0.0, strict=True)


def _check_ax(ax):
    if ax is None:
        return
    from matplotlib.axes import Axes
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")


def _check_cmap(cmap):
    """A colormap name or Colormap, checked before any figure is made."""
    _pyplot()  # matplotlib missing: the message that says how to install it
    from matplotlib import colormaps
    from matplotlib.colors import Colormap
    if isinstance(cmap, Colormap):
        return
    if not isinstance(cmap, str) or cmap not in colormaps:
        raise ValueError(f"cmap must be a matplotlib colormap or the name of one, got {cmap!r}")


def _figure(ax, figsize, dpi, nrows=1, ncols=1, grid=False):
    """(fig, axes, created): ax's figure and ax, or a new figure with one axes, or with
    grid=True the 2-D array of a new grid's axes; created says whether the figure is new."""
    _check_ax(ax)
    if ax is not None:
        return ax.figure, ax, False
    _check_figure_args(figsize, dpi)
    plt = _pyplot()
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, dpi=dpi, squeeze=False)
    return fig, (axes if grid else axes[0, 0]), True


def _finish(fig, save):
    """Write fig to save (if given) at exactly figsize * dpi pixels, whatever the user's
    savefig.dpi and savefig.bbox settings."""
    if save is not None:
        import matplotlib
        with matplotlib.rc_context({"savefig.bbox": "standard"}):
            fig.savefig(save, dpi=fig.dpi)
    return fig


def _drawn(draw, fig, created, save):
    """Run draw(), then _finish; a figure made for this call is closed if either fails,
    so that a failed call leaves no figure open behind it."""
    try:
        draw()
        return _finish(fig, save)
    except BaseException:
        if created:
            _pyplot().close(fig)
        raise


def _as_vector(values, name):
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf" or arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of numbers, got "
                         f"{'shape ' + str(arr.shape) if arr.dtype.kind in 'biuf' else arr.dtype}")
    return arr.astype(np.float64)


def _names(labels):
    """labels, a sequence of class names (not a str), as a list of str."""
    if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__") \
            or not hasattr(labels, "__iter__"):
        raise TypeError(f"labels must be a sequence of class names, got "
                        f"{type(labels).__name__}")
    return [str(v) for v in labels]


def _format(fmt, name="fmt"):
    if not isinstance(fmt, str):
        raise TypeError(f"{name} must be a format specification string, got {fmt!r}")
    try:
        format(1.5, fmt)
    except (ValueError, TypeError):
        raise ValueError(f"{name} must be a format specification for numbers (as in "
                         f"format(x, {name})), got {fmt!r}") from None
    return fmt


# --------------------------------------------------------------------------- cost


def plot_cost(history, ax=None, *, figsize=(6.4, 4.8), dpi=100, save=None, logy=False,
              title="Cost against epochs"):
    """The training cost against epochs, as the notes plot it, and the validation cost.

    Parameters
    ----------
    history : cmlp.History or array-like of shape (n_epochs,)
        ``history.cost`` is plotted against epochs 1, 2, ...; ``history.val_cost`` too
        when the History has one (non-empty). An array is read as the costs.
    ax : matplotlib Axes, optional
        Draw here instead of in a new figure.
    figsize, dpi : for a new figure.
    save : str or os.PathLike, optional
        Also write the figure to this file.
    logy : bool, default False
        Logarithmic cost axis.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    cost = _as_vector(getattr(history, "cost", history), "history.cost")
    if cost.size == 0:
        raise ValueError("history has no epochs to plot")
    val = getattr(history, "val_cost", None)
    val = None if val is None or len(val) == 0 else _as_vector(val, "history.val_cost")
    loss = getattr(history, "loss", None)
    fig, ax, created = _figure(ax, figsize, dpi)

    def draw():
        epochs = np.arange(1, cost.size + 1)
        ax.plot(epochs, cost, marker="o" if cost.size <= 30 else None, label="training")
        if val is not None:
            ax.plot(np.arange(1, val.size + 1), val, marker="o" if val.size <= 30 else None,
                    label="validation")
            ax.legend()
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"cost ({loss})" if loss else "cost")
        if logy:
            ax.set_yscale("log")
        if cost.size <= 20:
            ax.set_xticks(epochs)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)

    return _drawn(draw, fig, created, save)


# --------------------------------------------------------------------------- confusion


def _heatmap(ax, values, fmt, cmap, highlight=None):
    """imshow of a 2-D array with every cell's value written in it."""
    im = ax.imshow(values, cmap=cmap, interpolation="nearest", aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        if not np.isfinite(v):
            continue
        r, g, b, _ = im.cmap(im.norm(v))
        dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5  # text readable on the cell colour
        ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize="small",
                color="white" if dark else "black",
                fontweight="bold" if highlight == (i, j) else "normal")
    if highlight is not None:
        i, j = highlight
        from matplotlib.patches import Rectangle
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", lw=2))
    return im


def plot_confusion_matrix(cm, labels=None, ax=None, *, figsize=(6.4, 5.6), dpi=100,
                          save=None, cmap="Blues", colorbar=True, title="Confusion matrix"):
    """A confusion matrix as a heatmap with the count in every cell.

    Parameters
    ----------
    cm : array-like of shape (K, K), or a tuple ``(y_true, y_pred)``
        Counts ``cm[i, j]`` of samples of true class ``i`` predicted as ``j`` (as
        :func:`cmlp.metrics.confusion_matrix` returns them). A **tuple** of two label
        arrays is read as ``(y_true, y_pred)`` and counted with
        :func:`cmlp.metrics.confusion_matrix`; give a matrix as an ndarray or a list.
    labels : sequence of str, optional
        Names of the K classes; default ``0 .. K-1``.
    ax : matplotlib Axes, optional
    figsize, dpi, save, cmap, colorbar, title
        As in :func:`plot_cost`; ``cmap`` is a matplotlib colormap name.

    Returns
    -------
    matplotlib.figure.Figure
        Rows are true labels, columns predicted labels; the diagonal holds the correct
        predictions.
    """
    names = None if labels is None else _names(labels)
    if isinstance(cm, tuple):
        if len(cm) != 2:
            raise ValueError(f"cm as a tuple must be (y_true, y_pred), got {len(cm)} items; "
                             f"pass a matrix as an ndarray")
        from .metrics import confusion_matrix
        # with labels, classes absent from these labels still get their row
        cm = confusion_matrix(*cm, n_classes=None if names is None else len(names))
    C = np.asarray(cm)
    if C.dtype.kind not in "iuf" or C.ndim != 2 or C.shape[0] != C.shape[1] or C.size == 0:
        raise ValueError(f"cm must be a square (K, K) matrix of counts, got "
                         f"{'shape ' + str(C.shape) if C.dtype.kind in 'iuf' else C.dtype}")
    if not np.isfinite(C).all() or (C < 0).any():
        raise ValueError("cm must hold non-negative, finite counts")
    K = C.shape[0]
    if names is None:
        names = [str(k) for k in range(K)]
    elif len(names) != K:
        raise ValueError(f"labels must name the {K} classes of cm, got {len(names)} names")
    _check_cmap(cmap)
    fig, ax, created = _figure(ax, figsize, dpi)

    def draw():
        fmt = "d" if C.dtype.kind in "iu" else ".3g"
        im = _heatmap(ax, C, fmt, cmap)
        ax.set_xticks(range(K), labels=names)
        ax.set_yticks(range(K), labels=names)
        ax.set_xlabel("predicted label")
        ax.set_ylabel("true label")
        total = C.sum()
        acc = f" (accuracy {np.trace(C) / total:.4f})" if total > 0 else ""
        ax.set_title(title + acc)
        if colorbar:
            fig.colorbar(im, ax=ax)

    return _drawn(draw, fig, created, save)


# --------------------------------------------------------------------------- digits


def plot_digits(X, y_true, y_pred=None, n=25, shape=(28, 28), *, ncols=None, errors_only=False,
                figsize=None, dpi=100, save=None, cmap="gray_r"):
    """A grid of images with their true and, if given, predicted labels.

    Parameters
    ----------
    X : array-like of shape (N, h*w) or (N, h, w)
        Images in rows, pixels 0-255 or scaled to 0-1: shown with 0 white and the
        largest value in X black (the notes' convention).
    y_true : array-like of shape (N,)
        True labels.
    y_pred : array-like of shape (N,), optional
        Predicted labels: each title then reads ``true 7, pred 2``; wrong predictions
        are titled in red.
    n : int, default 25
        How many images (the first n, or fewer if X has fewer).
    shape : (int, int), default (28, 28)
        (h, w) of one image, for rows of h*w pixels.
    ncols : int, optional
        Columns of the grid; default about ``sqrt(n)``.
    errors_only : bool, default False
        Show the first n wrongly predicted images instead (needs ``y_pred``).
    figsize : (float, float), optional
        Default 1.2 inch per image.
    dpi, save, cmap
        As in :func:`plot_cost`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must hold numbers, got dtype {X.dtype}")
    h, w = _shape(shape)
    if X.ndim == 2 and X.shape[1] == h * w:
        images = X.reshape(-1, h, w)
    elif X.ndim == 3 and X.shape[1:] == (h, w):
        images = X
    else:
        raise ValueError(f"X must have shape (N, {h * w}) or (N, {h}, {w}) for "
                         f"shape={(h, w)}, got {X.shape}")
    y_true = np.asarray(y_true).reshape(-1)
    if y_true.shape[0] != images.shape[0]:
        raise ValueError(f"y_true has {y_true.shape[0]} labels but X has {images.shape[0]} images")
    if y_pred is not None:
        y_pred = np.asarray(y_pred).reshape(-1)
        if y_pred.shape[0] != images.shape[0]:
            raise ValueError(f"y_pred has {y_pred.shape[0]} labels but X has "
                             f"{images.shape[0]} images")
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    idx = np.arange(images.shape[0])
    if errors_only:
        if y_pred is None:
            raise ValueError("errors_only=True needs y_pred")
        idx = idx[y_true != y_pred]
    idx = idx[:int(n)]
    count = max(idx.shape[0], 1)
    if ncols is None:
        ncols = int(np.ceil(np.sqrt(count)))
    elif isinstance(ncols, (bool, np.bool_)) or not isinstance(ncols, (int, np.integer)) \
            or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    ncols = int(ncols)
    nrows = int(np.ceil(count / ncols))
    if figsize is None:
        figsize = (1.2 * ncols, 1.35 * nrows)
    _check_cmap(cmap)
    fig, axes, created = _figure(None, figsize, dpi, nrows, ncols, grid=True)
    vmax = float(images.max()) if images.size else 1.0

    def draw():
        for k, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if k >= idx.shape[0]:
                continue
            i = idx[k]
            ax.imshow(images[i], cmap=cmap, vmin=0, vmax=vmax if vmax > 0 else 1,
                      interpolation="nearest")
            if y_pred is None:
                ax.set_title(f"{y_true[i]}", fontsize="small")
            else:
                wrong = y_true[i] != y_pred[i]
                ax.set_title(f"true {y_true[i]}, pred {y_pred[i]}", fontsize="x-small",
                             color="red" if wrong else "black",
                             fontweight="bold" if wrong else "normal")
        if idx.shape[0] == 0:
            axes.flat[0].text(0.5, 0.5, "no images", ha="center", va="center")
        fig.tight_layout()

    return _drawn(draw, fig, created, save)


def _shape(shape):
    """(h, w): two positive integers."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2 \
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                       and v >= 1 for v in shape):
        raise ValueError(f"shape must be (height, width), two positive integers, got {shape!r}")
    return int(shape[0]), int(shape[1])


# --------------------------------------------------------------------------- grid search


def plot_grid_search(values_2d, lrs, lambdas, ax=None, *, figsize=(6.4, 4.8), dpi=100,
                     save=None, label="accuracy", fmt=".3f", cmap="viridis",
                     higher_is_better=True):
    """A heatmap of a score over learning rate x regularisation strength.

    Parameters
    ----------
    values_2d : array-like of shape (len(lrs), len(lambdas))
        ``values_2d[i, j]`` is the score (e.g. test accuracy) with learning rate
        ``lrs[i]`` and L2 strength ``lambdas[j]``; NaN cells (runs that failed) are left
        blank.
    lrs : sequence of float
        Learning rates, the rows.
    lambdas : sequence of float
        Regularisation strengths lambda, the columns.
    ax : matplotlib Axes, optional
    figsize, dpi, save, cmap
        As in :func:`plot_cost`.
    label : str, default "accuracy"
        What the values are (title and colorbar).
    fmt : str, default ".3f"
        Format of the value written in each cell.
    higher_is_better : bool, default True
        The best cell (largest, or smallest if False) is outlined in red.

    Returns
    -------
    matplotlib.figure.Figure
    """
    V = np.asarray(values_2d, dtype=np.float64) if np.asarray(values_2d).dtype.kind in "biuf" \
        else None
    if V is None or V.ndim != 2:
        raise ValueError("values_2d must be a 2-D array of numbers (rows: lrs, columns: lambdas)")
    lrs, lambdas = _numbers(lrs, "lrs"), _numbers(lambdas, "lambdas")
    if V.shape != (len(lrs), len(lambdas)):
        raise ValueError(f"values_2d has shape {V.shape}, but there are {len(lrs)} lrs and "
                         f"{len(lambdas)} lambdas: expected {(len(lrs), len(lambdas))}")
    fmt = _format(fmt)
    _check_cmap(cmap)
    fig, ax, created = _figure(ax, figsize, dpi)

    def draw():
        best = None
        if np.isfinite(V).any():
            masked = np.where(np.isfinite(V), V, -np.inf if higher_is_better else np.inf)
            flat = np.argmax(masked) if higher_is_better else np.argmin(masked)
            best = tuple(int(i) for i in np.unravel_index(flat, V.shape))
        im = _heatmap(ax, V, fmt, cmap, highlight=best)
        ax.set_xticks(range(len(lambdas)), labels=[f"{v:g}" for v in lambdas])
        ax.set_yticks(range(len(lrs)), labels=[f"{v:g}" for v in lrs])
        ax.set_xlabel("λ (L2 regularisation)")
        ax.set_ylabel("learning rate")
        title = label
        if best is not None:
            title += f" (best {V[best]:{fmt}} at lr={lrs[best[0]]:g}, λ={lambdas[best[1]]:g})"
        ax.set_title(title)
        fig.colorbar(im, ax=ax, label=label)

    return _drawn(draw, fig, created, save)


def _numbers(values, name):
    """A 1-D sequence of real numbers, as a list of floats."""
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got {values!r}")
    return [float(v) for v in arr]
