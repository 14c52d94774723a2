"""cmlp.plot: each figure renders to a PNG of the asked size and shows the right data."""
import struct
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import cmlp  # noqa: E402
from cmlp import plot  # noqa: E402
from cmlp.metrics import confusion_matrix  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def png_size(path):
    """(width, height) in pixels from a PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


class _History:
    """What plot_cost reads from a History that has validation costs."""

    def __init__(self, cost, val_cost, loss="tse"):
        self.cost, self.val_cost, self.loss = np.asarray(cost), np.asarray(val_cost), loss


def test_plot_cost_from_a_real_history(tmp_path):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    net = cmlp.Network([2, 3, 1], seed=0)
    history = net.fit(X, [0, 1, 1, 0], epochs=6, lr=0.5, verbose=0)
    path = tmp_path / "cost.png"
    fig = plot.plot_cost(history, figsize=(5, 3), dpi=80, save=path)
    assert isinstance(fig, Figure)
    assert png_size(path) == (5 * 80, 3 * 80)
    (ax,) = fig.axes
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 7))
    np.testing.assert_array_equal(line.get_ydata(), history.cost)
    assert ax.get_xlabel() == "epoch" and "tse" in ax.get_ylabel()


def test_plot_cost_with_validation_and_given_axes(tmp_path):
    fig0, ax = plt.subplots(figsize=(4, 4), dpi=50)
    h = _History([4.0, 2.0, 1.0], [5.0, 3.0, 2.5])
    fig = plot.plot_cost(h, ax=ax, logy=True)
    assert fig is fig0
    assert [ln.get_label() for ln in ax.lines] == ["training", "validation"]
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [5.0, 3.0, 2.5])
    assert ax.get_yscale() == "log"
    path = tmp_path / "c.png"
    fig.savefig(path)
    assert png_size(path) == (200, 200)


def test_plot_cost_of_an_array_and_errors():
    fig = plot.plot_cost([3.0, 1.0])
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_ydata(), [3.0, 1.0])
    assert fig.axes[0].get_ylabel() == "cost"
    with pytest.raises(ValueError, match="no epochs"):
        plot.plot_cost([])
    with pytest.raises(ValueError, match="1-D"):
        plot.plot_cost(np.ones((2, 2)))


def _cell_texts(ax):
    """{(row, col): text} of the numbers written in a heatmap."""
    return {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
            for t in ax.texts}


def test_plot_confusion_matrix_from_labels_and_matrix(tmp_path):
    y_true = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 0, 2, 2, 1, 2])
    C = confusion_matrix(y_true, y_pred)
    path = tmp_path / "cm.png"
    fig = plot.plot_confusion_matrix((y_true, y_pred), labels=["a", "b", "c"],
                                     figsize=(4, 3.5), dpi=100, save=path)
    assert png_size(path) == (400, 350)
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), C)
    texts = _cell_texts(ax)
    assert texts == {(i, j): str(C[i, j]) for i in range(3) for j in range(3)}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_xlabel() == "predicted label" and ax.get_ylabel() == "true label"
    assert "accuracy 0.6667" in ax.get_title()  # 6 of 9 on the diagonal
    # the matrix itself gives the same picture
    fig2 = plot.plot_confusion_matrix(C, colorbar=False)
    assert _cell_texts(fig2.axes[0]) == texts
    assert len(fig2.axes) == 1 and len(fig.axes) == 2  # with and without colorbar


@pytest.mark.parametrize("cm,labels,match", [
    (np.ones((2, 3)), None, "square"),
    (np.array([[1, -1], [0, 2]]), None, "non-negative"),
    (np.array([["a", "b"], ["c", "d"]]), None, "square"),
    (np.eye(2, dtype=int), ["x"], "2 classes"),
    (([0, 1], [1, 0], [0, 0]), None, r"\(y_true, y_pred\)"),
])
def test_plot_confusion_matrix_errors(cm, labels, match):
    with pytest.raises(ValueError, match=match):
        plot.plot_confusion_matrix(cm, labels=labels)


def test_plot_digits_marks_wrong_predictions_in_red(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (12, 784)).astype(np.uint8)
    y_true = np.arange(12) % 10
    y_pred = y_true.copy()
    y_pred[[2, 5]] = 9 - y_true[[2, 5]]
    path = tmp_path / "digits.png"
    fig = plot.plot_digits(X, y_true, y_pred, n=9, ncols=3, figsize=(3, 3.3), dpi=100,
                           save=path)
    assert png_size(path) == (300, 330)
    axes = [ax for ax in fig.axes if ax.images]
    assert len(axes) == 9
    red = [k for k, ax in enumerate(axes)
           if matplotlib.colors.same_color(ax.title.get_color(), "red")]
    assert red == [2, 5]
    assert axes[2].get_title() == f"true 2, pred {y_pred[2]}"
    np.testing.assert_array_equal(axes[4].images[0].get_array(), X[4].reshape(28, 28))


def test_plot_digits_errors_only_and_shapes(tmp_path):
    X = np.arange(6 * 4, dtype=float).reshape(6, 2, 2)
    y = np.array([0, 1, 2, 3, 4, 5])
    p = np.array([0, 0, 2, 2, 4, 4])
    fig = plot.plot_digits(X, y, p, shape=(2, 2), errors_only=True)
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == ["true 1, pred 0", "true 3, pred 2", "true 5, pred 4"]
    fig = plot.plot_digits(X.reshape(6, 4), y, n=2, shape=(2, 2))
    assert [ax.get_title() for ax in fig.axes if ax.images] == ["0", "1"]
    with pytest.raises(ValueError, match=r"shape \(N, 784\)"):
        plot.plot_digits(np.zeros((3, 10)), [0, 1, 2])
    with pytest.raises(ValueError, match="y_true has 2 labels"):
        plot.plot_digits(np.zeros((3, 784)), [0, 1])
    with pytest.raises(ValueError, match="needs y_pred"):
        plot.plot_digits(np.zeros((3, 784)), [0, 1, 2], errors_only=True)
    with pytest.raises(ValueError, match="n must be"):
        plot.plot_digits(np.zeros((3, 784)), [0, 1, 2], n=0)


def test_plot_grid_search_outlines_the_best(tmp_path):
    lrs, lambdas = [0.01, 0.1, 0.3], [0.0, 1e-4, 1e-3, 1e-2]
    acc = np.array([[0.80, 0.81, 0.79, 0.70],
                    [0.90, 0.93, 0.91, 0.85],
                    [0.88, np.nan, 0.86, 0.84]])
    path = tmp_path / "grid.png"
    fig = plot.plot_grid_search(acc, lrs, lambdas, figsize=(6, 4), dpi=90, save=path)
    assert png_size(path) == (540, 360)
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(boxes) == 1 and boxes[0].get_xy() == (1 - 0.5, 1 - 0.5)  # row lr=0.1, col 1e-4
    assert "best 0.930 at lr=0.1, λ=0.0001" in ax.get_title()
    texts = _cell_texts(ax)
    assert texts[(0, 0)] == "0.800" and (2, 1) not in texts  # the NaN cell stays blank
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0.01", "0.1", "0.3"]
    # lower is better: the smallest value is outlined
    fig = plot.plot_grid_search(acc, lrs, lambdas, higher_is_better=False, label="error")
    (box,) = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    assert box.get_xy() == (3 - 0.5, 0 - 0.5)
    with pytest.raises(ValueError, match="expected \\(3, 4\\)"):
        plot.plot_grid_search(acc.T, lrs, lambdas)


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install cmlp\[plot\]"):
        plot.plot_cost([1.0, 0.5])


def test_a_one_image_grid_plots(tmp_path):
    """A 1 x 1 grid: one image, n=1, or errors_only with no error to show."""
    X = np.arange(3 * 784, dtype=float).reshape(3, 784)
    y = np.array([0, 1, 2])
    fig = plot.plot_digits(X, y, n=1)
    assert [ax.get_title() for ax in fig.axes if ax.images] == ["0"]
    fig = plot.plot_digits(X[:1], y[:1])
    assert len(fig.axes) == 1 and fig.axes[0].images
    fig = plot.plot_digits(X, y, y, errors_only=True, save=tmp_path / "none.png")
    assert [t.get_text() for t in fig.axes[0].texts] == ["no images"]
    assert (tmp_path / "none.png").exists()


@pytest.mark.parametrize("call, error, match", [
    (lambda d: plot.plot_cost([1.0, 0.5], save=d / "missing" / "c.png"), FileNotFoundError, None),
    (lambda d: plot.plot_confusion_matrix(np.eye(2, dtype=int), save=d / "missing" / "m.png"),
     FileNotFoundError, None),
    (lambda d: plot.plot_confusion_matrix(np.eye(2, dtype=int), cmap="nope"), ValueError, "cmap"),
    (lambda d: plot.plot_digits(np.zeros((2, 4)), [0, 1], shape=(2, 2), cmap="nope"),
     ValueError, "cmap"),
    (lambda d: plot.plot_digits(np.zeros((2, 4)), [0, 1], shape=(2, 2),
                                save=d / "missing" / "d.png"), FileNotFoundError, None),
    (lambda d: plot.plot_grid_search(np.ones((2, 2)), [0.1, 0.2], ["a", "b"]), ValueError,
     "lambdas"),
    (lambda d: plot.plot_grid_search(np.ones((2, 2)), [0.1, 0.2], [0, 1], fmt="q"), ValueError,
     "fmt"),
])
def test_a_failed_plot_leaves_no_figure_open(tmp_path, call, error, match):
    plt.close("all")
    with pytest.raises(error, match=match):
        call(tmp_path)
    assert plt.get_fignums() == []


def test_save_writes_figsize_times_dpi_whatever_the_savefig_settings(tmp_path):
    with matplotlib.rc_context({"savefig.dpi": 200, "savefig.bbox": "tight"}):
        plot.plot_cost([1.0, 0.5], figsize=(4, 3), dpi=50, save=tmp_path / "c.png")
        assert png_size(tmp_path / "c.png") == (200, 150)
        assert matplotlib.rcParams["savefig.bbox"] == "tight"  # the user's setting is kept


def test_confusion_matrix_of_labels_names_classes_absent_from_them():
    fig = plot.plot_confusion_matrix(([0, 1, 1, 0], [0, 1, 0, 0]),
                                     labels=["cat", "dog", "bird"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "bird"]
    np.testing.assert_array_equal(ax.images[0].get_array(), [[2, 0, 0], [1, 1, 0], [0, 0, 0]])


@pytest.mark.parametrize("call, error, match", [
    (lambda: plot.plot_cost([1.0, 2.0], ax=np.array([None])), TypeError, "ax must be"),
    (lambda: plot.plot_cost([1.0, 2.0], dpi=0), ValueError, "dpi must be"),
    (lambda: plot.plot_cost([1.0, 2.0], figsize=(4, -1)), ValueError, "figsize must be"),
    (lambda: plot.plot_cost([1.0, 2.0], figsize="big"), ValueError, "figsize must be"),
    (lambda: plot.plot_confusion_matrix(np.eye(3, dtype=int), labels=3), TypeError,
     "labels must be"),
    (lambda: plot.plot_confusion_matrix(np.eye(3, dtype=int), labels="abc"), TypeError,
     "labels must be"),
    (lambda: plot.plot_digits(np.zeros((2, 16)), [0, 1], shape=16), ValueError, "shape must be"),
    (lambda: plot.plot_digits(np.zeros((2, 16)), [0, 1], shape=("a", "b")), ValueError,
     "shape must be"),
    (lambda: plot.plot_digits(np.zeros((2, 16)), [0, 1], shape=(4, 4), ncols="x"), ValueError,
     "ncols must be"),
    (lambda: plot.plot_grid_search([[1.0]], 0.1, [0]), ValueError, "lrs must be"),
])
def test_plot_arguments_are_checked_by_name(call, error, match):
    with pytest.raises(error, match=match):
        call()
