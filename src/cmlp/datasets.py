"""MNIST loaders: the notes' CSV files, the embedded sample, the canonical IDX files.

Every loader divides the pixels by 255, as the notes do (``X_train / 255``), and returns
them as float64 in [0, 1] (``dtype=np.float32`` for float32); ``scale=False`` returns the
pixels as they are stored, ``uint8`` 0-255 (or the ``dtype`` asked for, values unchanged).
Labels are ``int64``; every split has the same shapes and dtypes.  (``cmlp.Network`` itself
never rescales its input: the scaling happens here, where it is visible.)

Functions
---------
load_mnist_csv
    One CSV file (``.csv`` or gzip-compressed), parsed in C.
load_mnist_sample
    The first 1,000 training and 1,000 test rows, shipped inside the package.
fetch_mnist
    The full MNIST set from the canonical IDX files, downloaded once and cached.
train_test_split
    A seeded, shuffled split of ``(X, y)``.
"""
from __future__ import annotations

import collections.abc
import hashlib
import os
import queue
import shutil
import struct
import tempfile
import threading
import urllib.parse
import urllib.request
import zlib
from importlib import resources
from pathlib import Path

import numpy as np

from cmlp._core import CSV_STATUS_FULL, csv_parse_chunk
from cmlp._typing import ArrayLike, DTypeLike, IntArray, PathLike, SeedLike
from cmlp._validation import as_path

try:  # ISA-L inflates gzip about 2-3x faster than zlib, releasing the GIL.
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover - depends on the environment
    _isal_zlib = None

__all__ = [
    "MNIST_CHECKSUMS",
    "MNIST_FILES",
    "MNIST_URLS",
    "N_PIXELS",
    "fetch_mnist",
    "load_mnist_csv",
    "load_mnist_sample",
    "train_test_split",
]

N_PIXELS = 784
"""Pixels per MNIST image (28 x 28), columns 2..785 of a CSV row."""

# The shortest valid row: a one-digit label and 784 one-digit pixels, each after a
# comma ("7,0,0,...,0"), newline not counted.  Bounds the rows a text can hold.
_MIN_ROW_BYTES = 1 + 2 * N_PIXELS
# Text handed to the parser per call (inflated bytes).  About 570 rows.
_CHUNK = 1 << 20
# Compressed bytes read per inflate call.
_GZ_READ = 1 << 18
# Chunks waiting between the reading/inflating thread and the parser.
_QUEUE_CHUNKS = 4
# A "line" longer than this without a newline is not a row of this format.
_MAX_LINE = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32), np.dtype(np.float64))

if _isal_zlib is not None:
    _INFLATE_ERRORS: tuple[type[BaseException], ...] = (zlib.error, _isal_zlib.error)
else:  # pragma: no cover
    _INFLATE_ERRORS = (zlib.error,)


# --------------------------------------------------------------------------- CSV


def _new_inflater():
    """A decompressor for one gzip member (header, CRC-32 and length checked)."""
    if _isal_zlib is not None:
        return _isal_zlib.decompressobj(wbits=31)
    return zlib.decompressobj(wbits=31)  # pragma: no cover


def _plain_chunks(f, stop):
    """Yield the file's bytes in chunks of at most ``_CHUNK``."""
    while not stop.is_set():
        data = f.read(_CHUNK)
        if not data:
            return
        yield data


def _gzip_chunks(f, source, stop):
    """Yield the inflated text of a gzip file (one or more members) in chunks.

    Output per call is capped at ``_CHUNK`` bytes (``max_length``), so memory stays
    bounded whatever the compression ratio.  Raises ``ValueError`` naming ``source``
    for corrupt or truncated data and for bytes after the last member other than
    zero padding.
    """
    d = _new_inflater()
    data = b""
    while not stop.is_set():
        if not data:
            data = f.read(_GZ_READ)
            if not data:
                break
        try:
            out = d.decompress(data, _CHUNK)
        except _INFLATE_ERRORS as exc:
            raise ValueError(f"{source}: corrupt gzip data ({exc})") from None
        if out:
            yield out
        data = d.unconsumed_tail
        if d.eof:
            rest = d.unused_data
            while len(rest) < 2:  # is another member next?
                more = f.read(_GZ_READ)
                if not more:
                    break
                rest += more
            if not rest:
                return
            if rest[:2] != _GZIP_MAGIC:
                if rest.strip(b"\0") or f.read(_GZ_READ).strip(b"\0"):
                    raise ValueError(f"{source}: unexpected data after the end of the gzip stream")
                return
            d = _new_inflater()
            data = rest
    if not stop.is_set() and not d.eof:
        raise ValueError(
            f"{source}: truncated gzip file (the compressed data ends before the end "
            f"of the stream); download or copy it again"
        )


_END = object()


def _in_thread(gen_factory):
    """Run the generator ``gen_factory(stop)`` in a thread, yielding its items here.

    At most ``_QUEUE_CHUNKS`` items wait in between.  An exception in the thread is
    re-raised here; leaving the loop early (``break``, an exception) stops the
    thread before returning.
    """
    q: queue.Queue = queue.Queue(_QUEUE_CHUNKS)
    stop = threading.Event()

    def put(item):
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for item in gen_factory(stop):
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer
            put(exc)

    thread = threading.Thread(target=work, name="cmlp-csv-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


class _Rows:
    """Growing uint8 pixel / int64 label output fed by the C parser."""

    def __init__(self, cap, n_rows, source):
        self.cap = max(int(cap), 1)
        self.limit = n_rows  # None: no limit
        self.X = np.empty((self.cap, N_PIXELS), np.uint8)
        self.y = np.empty(self.cap, np.int64)
        self.rows = 0
        self.line = 1
        self.source = source

    @property
    def done(self):
        return self.limit is not None and self.rows >= self.limit

    def _grow(self):
        new_cap = max(self.cap + self.cap // 2, self.cap + 1024)
        if self.limit is not None:
            new_cap = min(new_cap, self.limit)
        # ndarray.resize reallocates in place; nothing else refers to these arrays
        self.X.resize((new_cap, N_PIXELS), refcheck=False)
        self.y.resize(new_cap, refcheck=False)
        self.cap = new_cap

    def feed(self, buf):
        """Parse the whole lines of ``buf``; return the bytes parsed."""
        view = memoryview(buf)
        done = 0
        while True:
            status, self.rows, self.line, consumed = csv_parse_chunk(
                self.X, self.y, view[done:], self.rows, self.line, self.source
            )
            done += consumed
            if status != CSV_STATUS_FULL or self.done:
                return done
            self._grow()

    def result(self):
        self.X.resize((self.rows, N_PIXELS), refcheck=False)
        self.y.resize(self.rows, refcheck=False)
        return self.X, self.y


def _gzip_size_hint(f, compressed_size):
    """A starting guess of the inflated size: the gzip trailer's ISIZE, capped.

    ISIZE is only the last member's length mod 2**32 and may lie; the guess only
    sets the first allocation (the output grows as needed and is trimmed).
    """
    try:
        f.seek(-4, os.SEEK_END)
        (isize,) = struct.unpack("<I", f.read(4))
    except (OSError, struct.error):
        isize = 0
    finally:
        f.seek(0)
    return min(isize, 32 * compressed_size) if isize else 16 * compressed_size


def _pixel_dtype(dtype, scale):
    """The dtype of X for a loader call: float64 (scaled) or uint8 (raw) by default."""
    if dtype is None:
        return np.dtype(np.float64 if scale else np.uint8)
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be uint8, float32 or float64, got {dtype!r}") from exc
    if dt not in _DTYPES:
        raise ValueError(f"dtype must be uint8, float32 or float64, got {dt}")
    if scale and dt == np.uint8:
        raise ValueError("dtype=uint8 cannot hold pixels / 255: use scale=False for the raw "
                         "uint8 pixels, or dtype float32/float64")
    return dt


def _pixels(X, scale, dt):
    """Raw uint8 pixels -> the loader's output: / 255 in dt (scale) or converted unchanged."""
    if scale:
        out = X.astype(dt)
        out /= 255
        return out
    return X if X.dtype == dt else X.astype(dt)


def load_mnist_csv(path: PathLike, n_rows: int | None = None, dtype: DTypeLike | None = None,
                   scale: bool = True) -> tuple[np.ndarray, IntArray]:
    """Load an MNIST CSV file in the notes' format.

    The format: no header; one image per line, ``label,p1,...,p784`` with the label
    an integer 0-9 and the pixels integers 0-255.  Lines may end in ``\\n`` or
    ``\\r\\n``; the last newline is optional; empty lines are skipped.  The file may
    be gzip-compressed (recognised by its first bytes, whatever its name); it is
    then inflated in a second thread while C parses the text already inflated,
    using ISA-L (the ``isal`` package) when installed and zlib otherwise.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.csv`` or ``.csv.gz`` file.
    n_rows : int or None, default=None
        Read only the first ``n_rows`` rows (and stop reading the file there).
        ``None`` reads all rows.
    dtype : {np.float32, np.float64, np.uint8} or None, default=None
        dtype of ``X``: float64 by default, uint8 by default with ``scale=False``.
    scale : bool, default=True
        Divide the pixels by 255, as the notes do, giving values in [0, 1]. False: the
        stored values 0-255, converted unchanged to ``dtype``.

    Returns
    -------
    X : ndarray of shape (N, 784)
        One row per image: pixels / 255 (or 0-255 with ``scale=False``), in ``dtype``.
    labels : ndarray of shape (N,), int64
        Digit labels 0-9.

    Raises
    ------
    ValueError
        If the file is empty, has a header row, a line with the wrong number of
        columns, a value that is not an integer or out of range (label outside 0-9,
        pixel outside 0-255), or is a corrupt or truncated gzip file.  The message
        names the file and, for text errors, the line and column.  (Truncated gzip
        files raise ``ValueError``, not ``EOFError``, so one ``except ValueError``
        covers every malformed input.)
    FileNotFoundError, OSError
        If the file cannot be opened or read.

    Examples
    --------
    >>> X, y = load_mnist_csv("mnist_train_100.csv")  # doctest: +SKIP
    >>> X.shape, X.dtype, float(X.max()), y.dtype  # doctest: +SKIP
    ((100, 784), dtype('float64'), 1.0, dtype('int64'))
    """
    path = as_path(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if n_rows is not None:
        if isinstance(n_rows, (bool, np.bool_)) or not isinstance(n_rows, (int, np.integer)):
            raise TypeError(f"n_rows must be an int or None, got {type(n_rows).__name__}")
        if n_rows < 0:
            raise ValueError(f"n_rows must be >= 0, got {n_rows}")
        n_rows = int(n_rows)
    if not isinstance(scale, (bool, np.bool_)):
        raise TypeError(f"scale must be True or False, got {type(scale).__name__} {scale!r}")
    dt = _pixel_dtype(dtype, scale)

    if n_rows == 0:
        with open(path, "rb"):
            pass  # still report a missing file
        return np.empty((0, N_PIXELS), dt), np.empty(0, np.int64)

    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        gz = f.read(2) == _GZIP_MAGIC
        f.seek(0)
        if gz:
            text_bound = _gzip_size_hint(f, size)
            chunks = _in_thread(lambda stop: _gzip_chunks(f, path, stop))
        else:
            text_bound = size
            chunks = _in_thread(lambda stop: _plain_chunks(f, stop))
        cap = text_bound // _MIN_ROW_BYTES + 1
        if n_rows is not None:
            cap = min(cap, n_rows)
        out = _Rows(cap, n_rows, path)
        carry = b""
        try:
            for chunk in chunks:
                if carry:
                    # the line split between the previous chunk and this one
                    nl = chunk.find(b"\n")
                    if nl < 0:
                        carry += chunk
                        if len(carry) > _MAX_LINE:
                            raise ValueError(
                                f"{path}, line {out.line}: more than {_MAX_LINE} bytes without "
                                f"a newline; not a CSV row"
                            )
                        continue
                    out.feed(carry + chunk[: nl + 1])
                    if out.done:
                        break
                    chunk = memoryview(chunk)[nl + 1 :]
                used = out.feed(chunk)
                if out.done:
                    break
                carry = bytes(chunk[used:])
                if len(carry) > _MAX_LINE:
                    raise ValueError(
                        f"{path}, line {out.line}: more than {_MAX_LINE} bytes without "
                        f"a newline; not a CSV row"
                    )
            else:
                if carry.strip(b"\r\n"):
                    out.feed(carry + b"\n")  # last line without a newline
        finally:
            chunks.close()  # stops and joins the reading thread
    X, labels = out.result()
    if X.shape[0] == 0:
        raise ValueError(f"{path}: empty file (no data rows)")
    return _pixels(X, scale, dt), labels


# ------------------------------------------------------------------ sample, split


def load_mnist_sample(scale: bool = True, dtype: DTypeLike | None = None
                      ) -> tuple[np.ndarray, IntArray, np.ndarray, IntArray]:
    """Load the small MNIST sample shipped inside the package.

    The first 1,000 rows of the MNIST training set and the first 1,000 rows of the
    MNIST test set, in their original order (made by ``tools/make_mnist_sample.py``
    from the notes' CSV files).  No download, no file path.

    Parameters
    ----------
    scale, dtype
        As in :func:`load_mnist_csv`: pixels / 255 in float64 by default; ``scale=False``
        gives the stored uint8 pixels 0-255.

    Returns
    -------
    X_train : ndarray of shape (1000, 784)
        Pixels / 255 (0-255 with ``scale=False``).
    y_train : ndarray of shape (1000,), int64
        Labels 0-9.
    X_test : ndarray of shape (1000, 784)
        Pixels / 255 (0-255 with ``scale=False``).
    y_test : ndarray of shape (1000,), int64
        Labels 0-9.
    """
    if not isinstance(scale, (bool, np.bool_)):
        raise TypeError(f"scale must be True or False, got {type(scale).__name__} {scale!r}")
    dt = _pixel_dtype(dtype, scale)
    ref = resources.files("cmlp").joinpath("data", "mnist_sample.npz")
    with ref.open("rb") as fh, np.load(fh) as z:
        return (
            _pixels(np.ascontiguousarray(z["X_train"], np.uint8), scale, dt),
            np.ascontiguousarray(z["y_train"], np.int64),
            _pixels(np.ascontiguousarray(z["X_test"], np.uint8), scale, dt),
            np.ascontiguousarray(z["y_test"], np.int64),
        )


def _as_generator(seed, name="seed"):
    if seed is None or isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        return np.random.default_rng(seed)
    if isinstance(seed, np.random.Generator):
        return seed
    raise TypeError(f"{name} must be None, an int or a numpy.random.Generator, got {type(seed).__name__}")


def train_test_split(X: ArrayLike, y: ArrayLike, test_size: float | int = 0.25,
                     seed: SeedLike = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split ``(X, y)`` into shuffled training and test parts.

    Parameters
    ----------
    X : array_like of shape (N, ...)
        Samples, one per row.
    y : array_like of shape (N, ...)
        Targets, one per row of ``X``.
    test_size : float in (0, 1) or int in [1, N-1], default=0.25
        Fraction of the rows (rounded up, as scikit-learn does) or number of rows
        in the test part.  Both parts get at least one row.
    seed : None, int or numpy.random.Generator, default=None
        Source of the shuffle; an int gives ``np.random.default_rng(seed)``, a
        Generator is used (and advanced) as it is.

    Returns
    -------
    X_train : ndarray of shape (N - n_test, ...)
    X_test : ndarray of shape (n_test, ...)
    y_train : ndarray of shape (N - n_test, ...)
    y_test : ndarray of shape (n_test, ...)
        New arrays (copies), in the order of scikit-learn's ``train_test_split``.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0:
        raise ValueError("X must have at least one dimension (one row per sample), got a scalar")
    if y.ndim == 0:
        raise ValueError("y must have at least one dimension (one entry per sample), got a scalar")
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"X and y must have the same number of rows, got {n} and {y.shape[0]}")
    if n < 2:
        raise ValueError(f"need at least 2 rows to split, got {n}")
    if isinstance(test_size, (bool, np.bool_)):
        raise TypeError("test_size must be a float in (0, 1) or an int, got a bool")
    if isinstance(test_size, (int, np.integer)):
        n_test = int(test_size)
        if not 1 <= n_test <= n - 1:
            raise ValueError(f"test_size as an int must be in [1, {n - 1}] for {n} rows, got {n_test}")
    elif isinstance(test_size, (float, np.floating)):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size as a float must be in (0, 1), got {test_size}")
        n_test = int(np.ceil(test_size * n))
        if not 1 <= n_test <= n - 1:
            raise ValueError(
                f"test_size={test_size} leaves {n_test} test rows out of {n}; both parts need a row"
            )
    else:
        raise TypeError(f"test_size must be a float in (0, 1) or an int, got {type(test_size).__name__}")
    rng = _as_generator(seed)
    perm = rng.permutation(n)
    test, train = perm[:n_test], perm[n_test:]
    return X[train], X[test], y[train], y[test]


# ------------------------------------------------------------------- fetch_mnist

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
"""The four canonical MNIST IDX files, by role."""

MNIST_URLS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
"""Base URLs tried in order for each file (a mirror first: the original site often
refuses downloads)."""

MNIST_CHECKSUMS = {
    # MD5 of the canonical gzip files, as torchvision checks them
    # (pytorch/vision, torchvision/datasets/mnist.py, ``MNIST.resources``).
    "train-images-idx3-ubyte.gz": ("md5", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train-labels-idx1-ubyte.gz": ("md5", "d53e105ee54ea40749a09fcbcd1e9432"),
    "t10k-images-idx3-ubyte.gz": ("md5", "9fb629c4189551a2d022fa330f9573f3"),
    "t10k-labels-idx1-ubyte.gz": ("md5", "ec29112dd5afa0611ce80d1b7f02629c"),
}
"""``{file name: (hashlib algorithm, hex digest)}`` checked after each download."""

_CACHE_NAME = "mnist.npz"
_CACHE_KEYS = ("X_train", "y_train", "X_test", "y_test")
_IDX_MAGIC = {1: 0x00000801, 3: 0x00000803}  # unsigned byte data, 1 or 3 dimensions
_MAX_DEFLATE_RATIO = 1032  # deflate cannot expand more than this


def _default_data_home():
    env = os.environ.get("CMLP_DATA")
    return Path(env) if env else Path.home() / "cmlp_data"


def _file_urls(urls):
    """``{file name: [url, ...]}`` from None, a base URL, base URLs or a mapping."""
    names = list(MNIST_FILES.values())
    if urls is None:
        urls = MNIST_URLS
    if isinstance(urls, (str, os.PathLike)):
        urls = (os.fspath(urls),)
    if isinstance(urls, dict):
        missing = [n for n in names if n not in urls]
        if missing:
            raise ValueError(f"urls is missing entries for {missing}; give one URL per MNIST file")
        return {n: [urls[n]] if isinstance(urls[n], str) else list(urls[n]) for n in names}
    bases = [str(u) for u in urls]
    if not bases:
        raise ValueError("urls is empty; give a base URL, a list of them or {file name: URL}")
    return {n: [urllib.parse.urljoin(b if b.endswith("/") else b + "/", n) for b in bases] for n in names}


def _download(url, dest, checksum, verbose):
    """Stream ``url`` into the open binary file ``dest``; return the hex digest."""
    from tqdm.auto import tqdm

    algo, _ = checksum
    h = hashlib.new(algo)
    with urllib.request.urlopen(url, timeout=60) as resp:
        total = resp.headers.get("Content-Length") if hasattr(resp, "headers") else None
        total = int(total) if total and total.isdigit() else None
        name = url.rsplit("/", 1)[-1]
        with tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=not verbose, leave=False) as bar:
            while True:
                block = resp.read(1 << 16)
                if not block:
                    break
                h.update(block)
                dest.write(block)
                bar.update(len(block))
    return h.hexdigest()


def _read_idx(path, ndim, source):
    """Parse one gzip-compressed IDX file of unsigned bytes.

    Returns an ndarray of shape ``dims`` (uint8).  Validates the magic number and the
    dimensions, refuses dimensions that the compressed size could not hold, and
    requires exactly the declared number of bytes (no more, no fewer).
    """
    import gzip

    compressed = os.path.getsize(path)
    try:
        with gzip.open(path, "rb") as f:
            head = f.read(4 + 4 * ndim)
            if len(head) < 4 + 4 * ndim:
                raise ValueError(f"{source}: IDX header is truncated ({len(head)} bytes)")
            magic, *dims = struct.unpack(f">{1 + ndim}I", head)
            if magic != _IDX_MAGIC[ndim]:
                raise ValueError(
                    f"{source}: IDX magic number is 0x{magic:08x}, expected 0x{_IDX_MAGIC[ndim]:08x} "
                    f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})"
                )
            if ndim == 3 and tuple(dims[1:]) != (28, 28):
                raise ValueError(f"{source}: images are {dims[1]}x{dims[2]}, expected 28x28")
            if dims[0] == 0:
                raise ValueError(f"{source}: IDX file declares 0 items")
            size = int(np.prod(dims, dtype=np.int64))
            if size > _MAX_DEFLATE_RATIO * compressed + 1024:
                raise ValueError(
                    f"{source}: IDX header declares {size} bytes, more than {compressed} compressed "
                    f"bytes can hold; the file is corrupt"
                )
            out = np.empty(size, np.uint8)
            view = memoryview(out)
            got = 0
            while got < size:
                n = f.readinto(view[got : got + (1 << 20)])
                if not n:
                    raise ValueError(f"{source}: IDX data ends after {got} of {size} declared bytes")
                got += n
            if f.read(1):
                raise ValueError(f"{source}: data continues past the {size} bytes the IDX header declares")
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{source}: not a valid gzip file ({exc})") from None
    return out.reshape(dims)


def _sums_key(sums):
    """The checksums a cache was verified against, as one string stored beside its arrays."""
    return ";".join(f"{name}:{sums[name][0].lower()}:{sums[name][1].lower()}"
                    for name in MNIST_FILES.values())


def _load_cache(path, sums):
    """The cached arrays, or None when the cache is missing or unusable, or was made from
    files verified against other checksums than sums (custom urls and checksums must not
    answer a later call that asks for the canonical files, nor the other way round)."""
    try:
        with np.load(path) as z:
            arrays = tuple(np.ascontiguousarray(z[k]) for k in _CACHE_KEYS)
            stored = str(z["checksums"][()]) if "checksums" in z.files else None
    except (OSError, ValueError, KeyError, EOFError, zlib.error):
        return None
    if stored is None:  # a cache written before the checksums were stored: canonical only
        canonical = arrays[0].shape == (60000, N_PIXELS) and arrays[2].shape == (10000, N_PIXELS)
        if not (canonical and _sums_key(sums) == _sums_key(MNIST_CHECKSUMS)):
            return None
    elif stored != _sums_key(sums):
        return None
    X_train, y_train, X_test, y_test = arrays
    ok = (
        X_train.dtype == np.uint8 and X_test.dtype == np.uint8
        and y_train.dtype == np.int64 and y_test.dtype == np.int64
        and X_train.ndim == 2 and X_train.shape[1] == N_PIXELS and X_test.ndim == 2
        and X_test.shape[1] == N_PIXELS and y_train.shape == X_train.shape[:1]
        and y_test.shape == X_test.shape[:1]
    )
    return arrays if ok else None


def fetch_mnist(data_home: PathLike | None = None, urls: object = None,
                checksums: dict[str, tuple[str, str]] | None = None, verbose: bool = True,
                force: bool = False, scale: bool = True, dtype: DTypeLike | None = None
                ) -> tuple[np.ndarray, IntArray, np.ndarray, IntArray]:
    """Download the canonical MNIST files once, verify, convert and cache them.

    On the first call the four IDX files (``MNIST_FILES``) are downloaded with
    ``urllib.request`` (``http(s)://`` or ``file://``), each checked against its
    published checksum, parsed (magic numbers and dimensions validated) and saved as
    one ``mnist.npz`` in ``data_home``, written to a temporary file and renamed, so a
    failed or interrupted call never leaves a partial cache.  Later calls with the same
    ``checksums`` read the cache and touch no URL; the cache records the checksums its
    files were verified against, so a call with other checksums (the default's canonical
    MNIST after a test's own small files, say) downloads and verifies again.

    Parameters
    ----------
    data_home : str or os.PathLike, optional
        Cache folder; default ``$CMLP_DATA`` if set, else ``~/cmlp_data``.  Created
        if missing.
    urls : str, sequence of str or dict, optional
        Where to download from: a base URL (the file names are appended), several
        base URLs tried in order, or ``{file name: URL}``.  Default ``MNIST_URLS``.
    checksums : dict, optional
        ``{file name: (algorithm, hex digest)}`` with any ``hashlib`` algorithm;
        default ``MNIST_CHECKSUMS`` (the MD5 values torchvision verifies).  Give your
        own when serving other copies of the files.
    verbose : bool, default=True
        Show a tqdm progress bar per download.
    force : bool, default=False
        Download and convert again even if the cache exists.
    scale, dtype
        As in :func:`load_mnist_csv`: pixels / 255 in float64 by default; ``scale=False``
        gives the stored uint8 pixels 0-255. The cache always holds the raw pixels.

    Returns
    -------
    X_train : ndarray of shape (60000, 784)
        Pixels / 255 (0-255 with ``scale=False``).
    y_train : ndarray of shape (60000,), int64
    X_test : ndarray of shape (10000, 784)
        Pixels / 255 (0-255 with ``scale=False``).
    y_test : ndarray of shape (10000,), int64

    Raises
    ------
    ValueError
        A checksum mismatch, a malformed IDX or gzip file, or inconsistent files;
        the message names the file and URL.  No cache is written.
    urllib.error.URLError, OSError
        When no URL for a file could be read.
    """
    if not isinstance(scale, (bool, np.bool_)):
        raise TypeError(f"scale must be True or False, got {type(scale).__name__} {scale!r}")
    dt = _pixel_dtype(dtype, scale)
    X_train, y_train, X_test, y_test = _fetch_raw(data_home, urls, checksums, verbose, force)
    return _pixels(X_train, scale, dt), y_train, _pixels(X_test, scale, dt), y_test


def _fetch_raw(data_home, urls, checksums, verbose, force):
    """fetch_mnist's download, verification and cache, returning the raw uint8 arrays."""
    home = Path(as_path(data_home, "data_home")) if data_home is not None else _default_data_home()
    if home.exists() and not home.is_dir():
        raise NotADirectoryError(20, "data_home must be a directory (the cache folder), got a "
                                     "file", str(home))
    cache = home / _CACHE_NAME
    sums = MNIST_CHECKSUMS if checksums is None else checksums
    if not isinstance(sums, collections.abc.Mapping):
        raise TypeError(f"checksums must be a mapping {{file name: (algorithm, hex digest)}}, "
                        f"got {type(sums).__name__}")
    for name in MNIST_FILES.values():
        if name not in sums:
            raise ValueError(f"checksums has no entry for {name}; give (algorithm, hex digest)")
        entry = sums[name]
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2
                and all(isinstance(v, str) for v in entry)):
            raise ValueError(f"checksums[{name!r}] must be (algorithm, hex digest), such as "
                             f"('md5', 'f68b3c2d...'), got {entry!r}")
        algo, digest = entry
        if algo not in hashlib.algorithms_available:
            raise ValueError(f"checksums[{name!r}]: unknown hash algorithm {algo!r}")
    if not force:
        arrays = _load_cache(cache, sums)
        if arrays is not None:
            return arrays
    sources = _file_urls(urls)
    home.mkdir(parents=True, exist_ok=True)

    tmpdir = tempfile.mkdtemp(prefix=".cmlp-mnist-", dir=home)
    try:
        arrays = {}
        for role, name in MNIST_FILES.items():
            algo, want = sums[name]
            local = os.path.join(tmpdir, name)
            errors = []
            for url in sources[name]:
                try:
                    with open(local, "wb") as dest:
                        got = _download(url, dest, (algo, want), verbose)
                except OSError as exc:  # URLError is an OSError: try the next mirror
                    errors.append(f"{url}: {exc}")
                    continue
                if got.lower() != want.lower():
                    raise ValueError(
                        f"{name} downloaded from {url} has {algo} {got}, expected {want}: the "
                        f"download is corrupt or not the canonical file (no cache written)"
                    )
                break
            else:
                raise OSError(f"could not download {name}; tried:\n  " + "\n  ".join(errors))
            source = f"{name} (from {url})"
            arrays[role] = _read_idx(local, 3 if role.endswith("images") else 1, source)
            os.remove(local)
        out = []
        for split in ("train", "test"):
            X = arrays[f"{split}_images"].reshape(-1, N_PIXELS)
            y = arrays[f"{split}_labels"].astype(np.int64)
            if X.shape[0] != y.shape[0]:
                raise ValueError(
                    f"{MNIST_FILES[split + '_images']} has {X.shape[0]} images but "
                    f"{MNIST_FILES[split + '_labels']} has {y.shape[0]} labels"
                )
            if y.size and y.max() > 9:
                raise ValueError(f"{MNIST_FILES[split + '_labels']}: label {int(y.max())} is outside 0-9")
            out += [np.ascontiguousarray(X), y]
        fd, tmp = tempfile.mkstemp(prefix=".mnist-", suffix=".npz.tmp", dir=home)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez_compressed(fh, **dict(zip(_CACHE_KEYS, out)),
                                    checksums=np.array(_sums_key(sums)))
            os.replace(tmp, cache)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return tuple(out)
