"""The ``cmlp`` command: train, evaluate and use networks on MNIST from the shell.

::

    cmlp train [--train CSV] [--test CSV] [--layers 784,500,200,10] [...] [--save M.npz]
    cmlp evaluate MODEL [--test CSV]
    cmlp predict MODEL CSV [--output FILE]
    cmlp summary MODEL

Exit status: 0 on success; 2 for a malformed command line or an invalid option value
(``cmlp: error: ...`` on stderr, one line); 1 for a failure while running (a missing or
malformed file, data that do not fit the model, training that diverged); 130 after Ctrl-C.
"""
import argparse
import gzip
import math
import os
import secrets
import stat
import sys
import warnings

import numpy as np

from . import optim
from ._version import __version__

OPTIMIZERS = tuple(name for name in optim.OPTIMIZERS if name != "lbfgs")
"""Values accepted by ``cmlp train --optimizer`` (cmlp.optim's, with their defaults;
full-batch L-BFGS is left to the Python API)."""

N_PIXELS = 784
DEFAULT_LAYERS = (784, 500, 200, 10)
DEFAULT_EPOCHS = 10
DEFAULT_LR = 0.3


class UsageError(Exception):
    """A bad command line or option value: exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors raised as UsageError instead of usage + exit."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


# --------------------------------------------------------------------------- option types


def _int_at_least(minimum, what):
    """An argparse type: an integer >= minimum, else a usage error saying ``what``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


_positive_int = _int_at_least(1, "a positive integer")
_seed = _int_at_least(0, "a non-negative integer")


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive, finite number, got {text!r}")
    return value


def _batch_size(text):
    if text == "full":
        return "full"
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'full', got {text!r}") \
            from None


def _path(text):
    """An argparse type: a non-empty file or directory name. An empty value (a script's unset
    variable in ``--train "$TRAIN"``) is an error, not "option not given"."""
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got ''")
    return text


def _layers(text):
    parts = text.replace(" ", "").split(",")
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer sizes such as 784,500,200,10, got {text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected at least 2 positive layer sizes such as 784,500,200,10, got {text!r}")
    if sizes[0] != N_PIXELS:
        raise argparse.ArgumentTypeError(
            f"the first size is the input layer and must be {N_PIXELS} (28x28 pixels), got "
            f"{sizes[0]}")
    return sizes


# --------------------------------------------------------------------------- parser


def build_parser():
    """The argparse parser of the ``cmlp`` command."""
    from .network import ACTIVATIONS, INITS, LOSSES, OUTPUTS

    parser = _Parser(
        prog="cmlp",
        description="Train and use multilayer perceptrons on MNIST, as the course notes do.",
        epilog="Run 'cmlp COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"cmlp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    data_note = ("CSV files are in the notes' MNIST format: no header, one image per line, "
                 "'label,p1,...,p784' with pixels 0-255; '.csv' or gzip-compressed "
                 "'.csv.gz'. Pixels are divided by 255 before use, as the notes do (the "
                 "inputs of a saved model that does not take 784 pixels are used as they "
                 "are).")
    t = sub.add_parser(
        "train", help="train a network (default: the notes' 784-500-200-10 network on the "
                      "embedded 1,000-row MNIST sample)",
        description="Train a network on MNIST and report its test accuracy, the notes' "
                    "scorecards and the confusion matrix. With no options: the notes' network "
                    "(784-500-200-10, sigmoid, total squared error, learning rate 0.3, "
                    f"per-sample SGD) for {DEFAULT_EPOCHS} epochs on the 1,000 training rows "
                    "of the MNIST sample shipped with cmlp, tested on its 1,000 test rows. "
                    + data_note,
        epilog="Example: cmlp train --train mnist_train.csv.gz --test mnist_test.csv.gz "
               "--epochs 5 --save model.npz --plots plots/")
    g = t.add_argument_group("data")
    g.add_argument("--train", metavar="CSV", type=_path,
                   help="training set (default: the embedded sample's 1,000 training rows)")
    g.add_argument("--test", metavar="CSV", type=_path,
                   help="test set (default: the embedded sample's 1,000 test rows)")
    g = t.add_argument_group("network")
    g.add_argument("--layers", type=_layers, default=DEFAULT_LAYERS, metavar="N0,N1,...",
                   help="layer sizes, inputs first (default: 784,500,200,10)")
    g.add_argument("--activation", choices=ACTIVATIONS, default="sigmoid",
                   help="hidden-layer activation (default: sigmoid)")
    g.add_argument("--output", choices=OUTPUTS, default=None,
                   help="output activation (default: the hidden activation; softmax with "
                        "--loss cross_entropy)")
    g.add_argument("--loss", choices=LOSSES, default="tse",
                   help="tse: the notes' total squared error (default); mse; cross_entropy")
    g.add_argument("--init", choices=INITS, default="uniform",
                   help="initial weights (default: uniform, the notes' 0.5 - U[0,1))")
    g.add_argument("--dtype", choices=("float32", "float64"), default="float64",
                   help="precision of the parameters and computations (default: float64)")
    g = t.add_argument_group("training")
    g.add_argument("--epochs", type=_positive_int, default=DEFAULT_EPOCHS,
                   help=f"passes over the training set (default: {DEFAULT_EPOCHS})")
    own = ", ".join(f"{optim.OPTIMIZERS[name].default_lr:g} {name}" for name in OPTIMIZERS
                    if name != "sgd")
    g.add_argument("--lr", type=_positive_float, default=None,
                   help=f"learning rate, the notes' alpha (default: {DEFAULT_LR} with sgd, "
                        f"else the optimizer's own: {own})")
    g.add_argument("--batch-size", type=_batch_size, default=1, metavar="B",
                   help="samples per update; 1 is the notes' per-sample SGD (default), "
                        "'full' the whole set")
    g.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd",
                   help="update rule, as cmlp.optim (and torch.optim) define it (default: "
                        "sgd; available: " + ", ".join(OPTIMIZERS) + ")")
    g.add_argument("--seed", type=_seed, default=None,
                   help="seed of the initial weights and the shuffling (default: a random "
                        "seed, printed so that the run can be repeated)")
    g = t.add_argument_group("output")
    g.add_argument("--save", metavar="MODEL.npz", type=_path,
                   help="write the trained network to this file (exactly this path)")
    g.add_argument("--plots", metavar="DIR", type=_path,
                   help="write cost.png, confusion_matrix.png and digits.png to DIR "
                        "(created if needed; needs matplotlib: pip install cmlp[plot])")
    g.add_argument("--quiet", "-q", action="store_true",
                   help="print only the test accuracy")
    t.set_defaults(run=_train)

    e = sub.add_parser(
        "evaluate", help="test a saved network: accuracy, scorecards, confusion matrix",
        description="Test a saved network and print its accuracy, the notes' scorecards and "
                    "the confusion matrix. The CSV must have the label first (the notes' "
                    "format). " + data_note)
    e.add_argument("model", metavar="MODEL", type=_path,
                   help="a network saved by 'cmlp train --save' or Network.save")
    e.add_argument("--test", metavar="CSV", type=_path,
                   help="test set (default: the embedded sample's 1,000 test rows)")
    e.add_argument("--plots", metavar="DIR", type=_path,
                   help="write confusion_matrix.png and digits.png to DIR")
    e.add_argument("--quiet", "-q", action="store_true", help="print only the accuracy")
    e.set_defaults(run=_evaluate)

    p = sub.add_parser(
        "predict", help="print the predicted label of every row of a CSV file",
        description="Print the predicted label of every row of CSV, one per line, in order. "
                    "A row is either the notes' format (label first, then the pixels; the "
                    "label must be a digit 0-9 and is not used) or the pixels alone (integers "
                    "0-255): a model with 784 inputs reads 785-column rows as the former and "
                    "784-column rows as the latter. Pixels are divided by 255, as in "
                    "training; a model with another number of inputs reads its inputs as "
                    "they are, after an optional integer label column. The label is the "
                    "output unit "
                    "with the largest value (for a single sigmoid or tanh output unit, "
                    "1 above 0.5 or 0; for a single identity, relu or elu output unit "
                    "the line holds its value).")
    p.add_argument("model", metavar="MODEL", type=_path, help="a saved network")
    p.add_argument("csv", metavar="CSV", type=_path, help="the images (.csv or .csv.gz)")
    p.add_argument("--output", "-o", metavar="FILE", type=_path,
                   help="write the labels to FILE instead of standard output")
    p.set_defaults(run=_predict)

    s = sub.add_parser("summary", help="describe a saved network, layer by layer",
                       description="Print the layers and parameter counts of a saved network.")
    s.add_argument("model", metavar="MODEL", type=_path, help="a saved network")
    s.set_defaults(run=_summary)
    return parser


# --------------------------------------------------------------------------- data


def _open_text(path):
    """Binary handle on path, inflating gzip (recognised by its magic bytes)."""
    fh = open(path, "rb")
    if fh.read(2) == b"\x1f\x8b":
        fh.close()
        return gzip.open(path, "rb")
    fh.seek(0)  # a regular file (_regular_file): seekable
    return fh


def _regular_file(path, what):
    """Refuse a pipe or a device: evaluate and predict read a CSV file twice (its first
    line for the column count, then the rows)."""
    mode = os.stat(path).st_mode  # a missing file: FileNotFoundError naming it
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a pipe or a device?)"
        raise ValueError(f"{what} {path}: {kind}; give a CSV file on disk")


def _n_columns(path):
    """Columns of the first non-empty line of a CSV file."""
    with _open_text(path) as fh:
        try:
            for _ in range(1000):
                line = fh.readline(1 << 20)
                if not line:
                    break
                if line.strip():
                    return line.count(b",") + 1
        except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
            raise ValueError(f"{path}: corrupt gzip data ({exc})") from None
    raise ValueError(f"{path}: empty file (no data rows)")


def _loadtxt(path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an empty file warns in np.loadtxt
            with _open_text(path) as fh:
                data = np.loadtxt(fh, delimiter=",", dtype=np.float64, ndmin=2)
    except (ValueError, UserWarning, OSError, EOFError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: not a CSV file of numbers ({msg})") from None
    if data.shape[0] == 0:
        raise ValueError(f"{path}: empty file (no data rows)")
    return data


def _read_rows(path, n_inputs, need_labels):
    """(X, labels or None) from a CSV whose rows fit a model with n_inputs inputs.

    Rows of n_inputs + 1 columns are 'label, features' (the notes' format; read with the
    fast C parser when n_inputs is 784); rows of n_inputs columns are features only.
    """
    _regular_file(path, "the CSV file")
    ncols = _n_columns(path)
    if ncols == n_inputs + 1:
        if n_inputs == N_PIXELS:
            from .datasets import load_mnist_csv
            return load_mnist_csv(path, scale=False)
        data = _loadtxt(path)
        labels = data[:, 0]
        if not (np.isfinite(labels).all() and (labels == np.round(labels)).all()
                and (labels >= 0).all()):
            raise ValueError(f"{path}: the first column must hold integer labels >= 0")
        return data[:, 1:], labels.astype(np.int64)
    if ncols == n_inputs and not need_labels:
        X = _loadtxt(path)
        if n_inputs == N_PIXELS:
            _check_pixels(X, path)
        return X, None
    if need_labels:
        expected = f"{n_inputs + 1} (a label, then {n_inputs} values)"
    else:
        expected = (f"{n_inputs} (the inputs) or {n_inputs + 1} (a label first, the notes' "
                    f"format)")
    columns = f"{ncols} column{'s' if ncols != 1 else ''}"
    raise ValueError(f"{path} has {columns} per row, but the model has {n_inputs} inputs: "
                     f"expected {expected}")


def _check_pixels(X, path):
    """Pixels-only rows (784 columns): integers 0-255, as the 785-column form's parser
    checks them."""
    bad = ~(np.isfinite(X) & (X >= 0) & (X <= 255) & (X == np.round(X)))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"{path}, line {r + 1}, column {c + 1} (pixel {c + 1} of {N_PIXELS}): "
                         f"pixel value {X[r, c]!r} is not an integer 0-255")


def _scaled(X, dtype):
    """Pixels / 255 in the network's dtype, as the notes do (X_train / 255)."""
    out = np.array(X, dtype=dtype)
    out /= 255
    return out


def _model_inputs(net, X):
    """X as net's inputs: pixels / 255 for a 784-input (MNIST) model, as it was trained;
    the inputs of any other model as they are (its rows are not pixels, and Network
    itself never rescales)."""
    if net.layers[0] == N_PIXELS:
        return _scaled(X, net.dtype)
    return np.array(X, dtype=net.dtype)


def _sample(split):
    from .datasets import load_mnist_sample
    X_train, y_train, X_test, y_test = load_mnist_sample(scale=False)
    return (X_train, y_train) if split == "train" else (X_test, y_test)


# --------------------------------------------------------------------------- output


def _table(row_names, header, rows, corner=""):
    """Right-aligned text table: header labels the columns, rows are int sequences."""
    cells = [[str(v) for v in r] for r in rows]
    width = max(len(str(h)) for h in header)
    width = max([width] + [len(c) for r in cells for c in r]) + 1
    first = max(len(corner), *(len(n) for n in row_names))
    lines = [corner.ljust(first) + "".join(str(h).rjust(width + 1) for h in header)]
    for name, r in zip(row_names, cells):
        lines.append(name.ljust(first) + "".join(c.rjust(width + 1) for c in r))
    return "\n".join(lines)


def _predicted_labels(net, X, what):
    """Class labels: Network.predict for classification outputs; the argmax over the
    outputs for a regression output (identity, relu, ...) with several units, as a network
    trained on one-hot targets is read."""
    if net.is_classifier:
        return net.predict(X)
    if net.layers[-1] > 1:
        return np.argmax(net.forward(X), axis=1).astype(np.int64)
    raise ValueError(f"{what} has a single {net.output} output unit (a regression network): "
                     f"it predicts values, not class labels")


def _report(net, X, labels, out, quiet, what="the network"):
    """Accuracy, the notes' scorecards and the confusion matrix of net on (X, labels)."""
    from .metrics import confusion_matrix, scorecards

    pred = _predicted_labels(net, X, what)
    K = max(2, net.layers[-1], int(labels.max()) + 1, int(pred.max()) + 1)
    correct = int((pred == labels).sum())
    n = labels.shape[0]
    out(f"test accuracy: {correct / n:.4f} ({correct} of {n} correct)")
    if quiet:
        return pred
    success, failure = scorecards(labels, pred, n_classes=K)
    classes = list(range(K))
    out("")
    out("scorecards (the notes' successes and failures per true label):")
    out(_table(["success", "failure", "accuracy"], classes + ["all"],
               [list(success) + [int(success.sum())], list(failure) + [int(failure.sum())],
                [f"{s / (s + f):.2f}" if s + f else "-" for s, f in zip(success, failure)]
                + [f"{correct / n:.2f}"]],
               corner="label"))
    out("")
    out("confusion matrix (rows: true label, columns: predicted label):")
    C = confusion_matrix(labels, pred, n_classes=K)
    out(_table([str(k) for k in classes], classes, C.tolist()))
    return pred


def _check_plotting():
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("--plots needs matplotlib, which is not installed: "
                           "pip install cmlp[plot]") from None
    matplotlib.use("Agg")  # files only, never a window


def _probe_write(directory, name, option, shown):
    """Create and remove a file like the one a later write will make in directory, so that
    a destination that cannot be written is refused before the work, not after it."""
    from .persistence import _create_temp

    fd, probe = _create_temp(directory, name, shown, f"{option}: ")
    os.close(fd)
    os.unlink(probe)


def _plots_dir(path):
    if os.path.exists(path) and not os.path.isdir(path):
        raise OSError(17, "--plots needs a directory, but this exists and is not one", path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot create the --plots directory ({exc.strerror})",
                      path) from None
    _probe_write(path, "confusion_matrix.png", "--plots", path)
    return path


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:  # either is missing
        return False


def _check_output_path(path, option, inputs):
    """An output path that is not one of the inputs, in a directory that exists and can be
    written: refused before any work."""
    for what, other in inputs:
        if other is not None and _same_file(path, other):
            raise UsageError(f"argument {option}: {path} is the {what}; writing there would "
                             f"destroy it")
    if os.path.isdir(path):
        raise IsADirectoryError(21, f"{option} needs a file name, got a directory", path)
    parent, name = os.path.split(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileNotFoundError(2, f"the directory for {option} does not exist", parent)
    _probe_write(parent, name, option, path)


def _write_plots(directory, out, costs=None, loss=None, X=None, labels=None, pred=None):
    import matplotlib.pyplot as plt
    from . import plot

    written = []

    def keep(fig, name):
        path = os.path.join(directory, name)
        fig.savefig(path)
        plt.close(fig)
        written.append(path)

    if costs is not None:
        keep(plot.plot_cost(_Costs(costs, loss)), "cost.png")
    keep(plot.plot_confusion_matrix((labels, pred)), "confusion_matrix.png")
    keep(plot.plot_digits(X, labels, pred, n=25), "digits.png")
    for path in written:
        out(f"wrote {path}")


class _Costs:
    """The per-epoch costs of the CLI's epoch loop, shaped like a History for plot_cost."""

    def __init__(self, cost, loss):
        self.cost = np.asarray(cost, dtype=np.float64)
        self.loss = loss


# --------------------------------------------------------------------------- commands


def _train(args, out):
    from .network import Network

    quiet = args.quiet
    info = (lambda *a: None) if quiet else out
    if args.save:
        _check_output_path(args.save, "--save", [("--train file", args.train),
                                                 ("--test file", args.test)])
    if args.plots:  # fail before training, not after
        _check_plotting()
        _plots_dir(args.plots)
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    try:
        net = Network(args.layers, activation=args.activation, output=args.output,
                      loss=args.loss, init=args.init, dtype=args.dtype, seed=seed)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None

    if args.train:
        from .datasets import load_mnist_csv
        X_raw, y_train = load_mnist_csv(args.train, scale=False)
        train_src = args.train
    else:
        X_raw, y_train = _sample("train")
        train_src = "the embedded MNIST sample"
    if args.test:
        from .datasets import load_mnist_csv
        X_test_raw, y_test = load_mnist_csv(args.test, scale=False)
        test_src = args.test
    else:
        X_test_raw, y_test = _sample("test")
        test_src = "the embedded MNIST sample"
    K = net.layers[-1]
    top = int(max(y_train.max(), y_test.max()))
    n_labels = K if K > 1 else 2  # one output unit: labels 0 and 1
    if top >= n_labels:
        raise UsageError(f"argument --layers: the output layer has {K} unit(s), but the labels "
                         f"go up to {top}; use {top + 1} output units")
    X_train = _scaled(X_raw, net.dtype)
    X_test = _scaled(X_test_raw, net.dtype)
    del X_raw, X_test_raw
    N = X_train.shape[0]
    batch = args.batch_size
    if batch != "full" and batch > N:
        info(f"note: --batch-size {batch} is larger than the {N} training rows; using {N}")
        batch = N

    info(f"training on {N:,} rows from {train_src}, testing on {X_test.shape[0]:,} rows "
         f"from {test_src} (pixels / 255)")
    info(f"network {'-'.join(map(str, net.layers))}: hidden {args.activation}, output "
         f"{net.output}, loss {net.loss}, init {net.init}, {net.dtype.name}, "
         f"{net.n_params:,} parameters")
    lr = args.lr if args.lr is not None else DEFAULT_LR if args.optimizer == "sgd" else None
    lr = optim.get_optimizer(args.optimizer).resolve_lr(lr)
    epochs = f"{args.epochs} epoch{'s' if args.epochs > 1 else ''}"
    info(f"{args.optimizer}: lr {lr:g}, batch size {batch}, {epochs}, seed {seed}")
    width = len(str(args.epochs))

    def report_epoch(epoch, history):
        info(f"epoch {epoch + 1:>{width}}/{args.epochs}  cost {history.cost[-1]:.6g}  "
             f"({history.seconds[-1]:.2f} s)")

    # one fit call (the optimizer's state runs across the epochs); seed=None continues the
    # network's generator from its seed
    h = net.fit(X_train, y_train, epochs=args.epochs, lr=lr, batch_size=batch,
                optimizer=args.optimizer, shuffle=True, seed=None, verbose=0,
                callbacks=[report_epoch])
    costs = list(h.cost)
    info("")
    pred = _report(net, X_test, y_test, out, quiet)
    if args.save:
        from .persistence import save
        save(net, args.save)
        info(f"\nsaved the network to {args.save}")
    if args.plots:
        _write_plots(args.plots, info, costs, net.loss, X_test, y_test, pred)
    return 0


def _model(path):
    from .persistence import load
    return load(path)


def _evaluate(args, out):
    if args.plots:
        _check_plotting()
    net = _model(args.model)
    if not net.is_classifier and net.layers[-1] == 1:
        _predicted_labels(net, None, args.model)  # refuses: no labels to evaluate
    n_inputs = net.layers[0]
    if args.plots:
        if n_inputs != N_PIXELS:
            raise UsageError(f"argument --plots: the plots show digits, which needs a model "
                             f"with {N_PIXELS} inputs (28x28 pixels); {args.model} has "
                             f"{n_inputs}")
        _plots_dir(args.plots)
    if args.test:
        X_raw, labels = _read_rows(args.test, n_inputs, need_labels=True)
        src = args.test
    else:
        if n_inputs != N_PIXELS:
            raise ValueError(f"{args.model} has {n_inputs} inputs, but the embedded MNIST "
                             f"sample has {N_PIXELS} pixels per image; give --test CSV")
        X_raw, labels = _sample("test")
        src = "the embedded MNIST sample"
    X = _model_inputs(net, X_raw)
    if not args.quiet:
        how = "pixels / 255" if n_inputs == N_PIXELS else "inputs as given"
        out(f"{args.model}: {'-'.join(map(str, net.layers))} network, tested on "
            f"{X.shape[0]:,} rows from {src} ({how})")
        out("")
    pred = _report(net, X, labels, out, args.quiet, args.model)
    if args.plots:
        _write_plots(args.plots, (lambda *a: None) if args.quiet else out,
                     X=X, labels=labels, pred=pred)
    return 0


def _predict(args, out):
    if args.output:
        _check_output_path(args.output, "--output", [("model", args.model),
                                                     ("CSV file", args.csv)])
    net = _model(args.model)
    X_raw, _ = _read_rows(args.csv, net.layers[0], need_labels=False)
    X = _model_inputs(net, X_raw)
    if net.is_classifier or net.layers[-1] > 1:
        lines = [str(int(v)) for v in _predicted_labels(net, X, args.model)]
    else:  # one regression output: its value
        lines = [f"{v:.9g}" for v in net.forward(X)[:, 0]]
    text = "\n".join(lines) + "\n"
    if args.output:
        with open(args.output, "w", encoding="ascii", newline="\n") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _summary(args, out):
    from .persistence import summary
    out(summary(_model(args.model)))
    return 0


# --------------------------------------------------------------------------- main


def _one_line(message):
    return " ".join(str(message).split())


def main(argv=None):
    """Run the ``cmlp`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit
    status (0 success, 1 runtime error, 2 usage error, 130 interrupted)."""

    def out(*parts):
        print(*parts, flush=True)

    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # --help, --version
            return exc.code if isinstance(exc.code, int) else 0
        return args.run(args, out)
    except UsageError as exc:
        print(f"cmlp: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cmlp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (cmlp predict ... | head): stop quietly
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return 1
    except OSError as exc:
        if exc.filename is not None and exc.strerror:
            message = f"{exc.filename}: {exc.strerror}"
        else:
            message = str(exc)
        print(f"cmlp: error: {_one_line(message)}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, FloatingPointError, RuntimeError, MemoryError) as exc:
        print(f"cmlp: error: {_one_line(exc)}", file=sys.stderr)
        return 1
