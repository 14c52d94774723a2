"""Saving and loading networks (one ``.npz`` file, no pickled objects) and their summary.

The file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays, written with
``np.savez``) holding exactly these arrays:

==================  ==============  ==================================================
name                dtype, shape    meaning
==================  ==============  ==================================================
``format_version``  int64, ()       the version of this layout, currently 1
``cmlp_version``    str, ()         ``cmlp.__version__`` of the writer (informative)
``layers``          int64, (L+1,)   ``Network.layers``
``activations``     str, (L,)       ``Network.activations`` (the last is the output's)
``loss``            str, ()         ``Network.loss``
``init``            str, ()         ``Network.init``
``dtype``           str, ()         ``"float32"`` or ``"float64"``
``params``          dtype, (P,)     the flat parameters ``[W_1, b_1, ..., W_L, b_L]``
``rng_state``       uint64, (6,)    the network's PCG64 generator, or (0,) if not saved
==================  ==============  ==================================================

Any NumPy can read such a file with ``np.load(path)`` (no pickle needed), and
:func:`load` trusts nothing in it: see its docstring.
"""
from __future__ import annotations

import math
import os
import secrets
import stat
import zipfile
import zlib

import numpy as np

from typing import TYPE_CHECKING

from ._typing import PathLike
from ._validation import as_path
from ._version import __version__

if TYPE_CHECKING:
    from .network import Network

__all__ = ["FORMAT_VERSION", "MAX_PARAMS", "load", "save", "summary"]

FORMAT_VERSION = 1
"""Version of the file layout written by :func:`save`; :func:`load` reads only this one."""

MAX_PARAMS = 1 << 30
"""Largest parameter count :func:`load` accepts (8 GiB of float64): refuses absurd files
before allocating anything."""

# the arrays of a version-1 file and what their dtype kind must be
_KEYS = ("format_version", "cmlp_version", "layers", "activations", "loss", "init", "dtype",
         "params", "rng_state")
_MAX_LAYERS = 10_000          # entries of `layers`
_MAX_STR = 64                 # characters of a name or version string
_RNG_WORDS = 6                # PCG64 state hi/lo, inc hi/lo, has_uint32, uinteger
_MASK64 = (1 << 64) - 1
_KIND_NAMES = {"iu": "integers", "u": "unsigned integers", "f": "floats", "U": "text"}


# --------------------------------------------------------------------------- save


def _rng_words(net):
    """The network's generator state as 6 uint64 words, or an empty array if not PCG64."""
    state = net.rng.bit_generator.state
    if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
        return np.zeros(0, np.uint64)
    s, inc = int(state["state"]["state"]), int(state["state"]["inc"])
    return np.array([s >> 64, s & _MASK64, inc >> 64, inc & _MASK64,
                     int(state["has_uint32"]), int(state["uinteger"])], dtype=np.uint64)


def _arrays(net):
    return {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "cmlp_version": np.array(__version__),
        "layers": np.array(net.layers, dtype=np.int64),
        "activations": np.array(net.activations),
        "loss": np.array(net.loss),
        "init": np.array(net.init),
        "dtype": np.array(net.dtype.name),
        "params": np.array(net.params, copy=True),
        "rng_state": _rng_words(net),
    }


def save(net: Network, path: PathLike) -> None:
    """Write a network to one ``.npz`` file, atomically.

    Parameters
    ----------
    net : cmlp.Network
        The network: its architecture, parameters (exactly, in its dtype) and the state of
        its random generator, so that ``load(path).fit(..., seed=None)`` continues exactly as
        ``net.fit(..., seed=None)`` would.
    path : str or os.PathLike
        Where to write. Exactly this path is written: no ``.npz`` is appended (unlike
        ``np.savez``), so ``save(net, "model")`` writes a file named ``model``. An
        existing file is replaced; it keeps its permission bits, and a symbolic link is
        followed (the file it points to is replaced, the link stays).

    Raises
    ------
    ValueError
        If a parameter is NaN or infinite (a diverged network): :func:`load` refuses such
        files, so nothing is written and an existing file at ``path`` is left as it was.
    OSError
        Naming ``path``, if its directory does not exist or cannot be written.

    Notes
    -----
    The archive is written to a temporary file in the same directory, flushed to disk and
    then renamed over ``path`` (``os.replace``), so ``path`` never holds a half-written
    model, even if the process dies mid-write. The layout is described in the module
    docstring. A generator other than NumPy's default PCG64 (a ``Generator`` passed as
    ``seed``) is not saved: the loaded network gets a fresh, unseeded PCG64.
    """
    from .network import Network

    if not isinstance(net, Network):
        raise TypeError(f"net must be a cmlp.Network, got {type(net).__name__}")
    path = as_path(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise ValueError("path must not be empty")
    if not np.isfinite(net.params).all():
        raise ValueError(f"the network's parameters contain NaN or infinity (it diverged); "
                         f"not saved, since load() refuses such a file ({path} is unchanged)")
    arrays = _arrays(net)
    target = os.path.realpath(path)  # through a symbolic link: its file is replaced
    directory, name = os.path.split(target)
    if not name:
        raise ValueError(f"path must name a file, got {path!r}")
    if os.path.isdir(target):
        raise IsADirectoryError(21, "path is a directory; give a file name", path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(2, "the directory to save into does not exist", path)
    try:  # an existing file keeps its permission bits
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    fd, tmp = _create_temp(directory, name, path)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)  # a file object: np.savez appends no suffix
            fh.flush()
            if mode is not None:
                os.chmod(tmp, mode)
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _create_temp(directory, name, shown, what=""):
    """A new file ``.NAME.RANDOM.tmp`` in directory, opened for writing: (fd, its path).

    O_EXCL on a fresh random name: no clobbering, and the OS applies the umask as for any
    new file (mkstemp would force mode 0600). An error names shown (the user's path), not
    the temporary file, after the prefix what (e.g. an option's name and ": ").
    """
    while True:
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)
            return fd, tmp
        except FileExistsError:
            continue
        except OSError as exc:
            raise OSError(exc.errno, f"{what}cannot write there ({exc.strerror})",
                          shown) from None


# --------------------------------------------------------------------------- load


class _Reader:
    """Reads the members of one opened archive, checking each header before its data."""

    def __init__(self, zf, source, archive_size):
        self.zf = zf
        self.source = source
        self.archive_size = archive_size

    def fail(self, what):
        raise ValueError(f"{self.source}: not a valid cmlp model file: {what}")

    def _header(self, key, fp):
        """(shape, dtype) from the .npy header at the start of member ``fp``."""
        try:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                version = None
        except ValueError as exc:
            self.fail(f"array {key!r} has a corrupt .npy header ({exc})")
        if version is None:
            self.fail(f"array {key!r} is not in .npy format 1.0 or 2.0")
        return tuple(shape), dtype  # fortran_order does not matter for 0-D and 1-D arrays

    def read(self, key, kinds, shape, max_itemsize=None, dtype=None):
        """The array ``key``, checked before its data are read: dtype kind in ``kinds``
        (and equal to ``dtype`` up to byte order, if given), itemsize at most
        ``max_itemsize``, shape ``shape`` (None: 1-D of at most _MAX_LAYERS entries), and
        the data size the header implies equal to the zip entry's. Returned in native
        byte order."""
        info = self.zf.getinfo(key + ".npy")
        if info.flag_bits & 0x1:
            self.fail(f"array {key!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            self.fail(f"array {key!r} uses an unsupported zip compression")
        if info.compress_size > self.archive_size or (
                info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size):
            self.fail(f"array {key!r} declares more bytes than the file holds (truncated?)")
        with self.zf.open(info) as fp:
            shp, dt = self._header(key, fp)
            if dt.kind not in kinds or dt.hasobject or dt.fields is not None \
                    or dt.subdtype is not None or \
                    (dtype is not None and dt.newbyteorder("=") != np.dtype(dtype)):
                want = np.dtype(dtype).name if dtype is not None else _KIND_NAMES[kinds]
                self.fail(f"array {key!r} has dtype {dt}, expected {want}")
            if max_itemsize is not None and dt.itemsize > max_itemsize:
                self.fail(f"array {key!r} has dtype {dt}, wider than allowed")
            if shape is None:
                if len(shp) != 1 or shp[0] > _MAX_LAYERS:
                    self.fail(f"array {key!r} has shape {shp}, expected a 1-D array of at "
                              f"most {_MAX_LAYERS} entries")
            elif shp != tuple(shape):
                self.fail(f"array {key!r} has shape {shp}, expected {tuple(shape)}")
            nbytes = math.prod(shp) * dt.itemsize
            if info.file_size != fp.tell() + nbytes:
                self.fail(f"array {key!r} holds {info.file_size - fp.tell()} bytes of data but "
                          f"its header declares {nbytes} (truncated or corrupt)")
            out = np.empty(shp, dtype=dt)
            view = memoryview(out.reshape(-1).view(np.uint8))
            got = 0
            while got < nbytes:
                n = fp.readinto(view[got:])
                if not n:
                    self.fail(f"array {key!r} is truncated")
                got += n
            if fp.read(1):  # reading to the end also makes zipfile check the CRC-32
                self.fail(f"array {key!r} has extra bytes after its data")
        return out.astype(dt.newbyteorder("="), copy=False)

    def text(self, key, options=None):
        value = str(self.read(key, "U", (), max_itemsize=4 * _MAX_STR)[()])
        if options is not None and value not in options:
            self.fail(f"{key} must be one of {sorted(options)}, got {value!r}")
        return value


def _n_params(layers):
    return sum(a * b + b for a, b in zip(layers[:-1], layers[1:]))


def _rng_from_words(words, fail):
    if words.shape[0] == 0:
        return None
    s = (int(words[0]) << 64) | int(words[1])
    inc = (int(words[2]) << 64) | int(words[3])
    if int(words[4]) not in (0, 1) or int(words[5]) >= 1 << 32 or inc % 2 == 0:
        fail("rng_state is not a valid PCG64 state")
    gen = np.random.Generator(np.random.PCG64())
    gen.bit_generator.state = {"bit_generator": "PCG64", "state": {"state": s, "inc": inc},
                               "has_uint32": int(words[4]), "uinteger": int(words[5])}
    return gen


def load(path: PathLike) -> Network:
    """Read a network written by :func:`save` (``Network.save``).

    Parameters
    ----------
    path : str or os.PathLike
        The file, read exactly at this path (no suffix is added).

    Returns
    -------
    cmlp.Network
        A network equal to the one saved: same architecture, dtype, bit-identical
        parameters and the same random-generator state.

    Raises
    ------
    FileNotFoundError, OSError
        If the file cannot be opened.
    ValueError
        Naming the file, if it is not a cmlp model file of format version 1: not a zip
        archive, truncated or corrupt (bad CRC), an array missing or one too many, an
        array of the wrong dtype or shape, an architecture the network refuses, more than
        :data:`MAX_PARAMS` parameters, or parameters that are NaN or infinite.

    Notes
    -----
    Nothing in the file is trusted: the file is read with ``allow_pickle=False``
    semantics (object arrays are refused), the small arrays are checked first, and the
    parameter array's header (shape, dtype) is checked against the architecture and its
    size against the zip entry's, before its data are read or any memory is allocated
    for it.
    """
    source = as_path(path)
    if isinstance(source, bytes):
        source = os.fsdecode(source)
    with open(source, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        try:
            with zipfile.ZipFile(fh) as zf:
                return _load(zf, source, size)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError,
                NotImplementedError, OSError) as exc:
            # OSError: the file opened, but a corrupt offset inside it made a seek fail
            raise ValueError(f"{source}: not a valid cmlp model file: not a readable .npz "
                             f"archive, or truncated or corrupt ({exc})") from None


def _load(zf, source, size):
    from .network import ACTIVATIONS, INITS, LOSSES, OUTPUTS, Network

    r = _Reader(zf, source, size)
    names = zf.namelist()
    expected = {k + ".npy" for k in _KEYS}
    if len(names) != len(set(names)):
        r.fail("duplicate arrays in the archive")
    if set(names) != expected:
        missing = sorted(n[:-4] for n in expected - set(names))
        extra = sorted(set(names) - expected)
        parts = ([f"missing array(s) {missing}"] if missing else []) + \
                ([f"unexpected array(s) {extra}"] if extra else [])
        r.fail("; ".join(parts))

    version = int(r.read("format_version", "iu", ())[()])
    if version != FORMAT_VERSION:
        r.fail(f"format version {version}; this cmlp ({__version__}) reads version "
               f"{FORMAT_VERSION} only" + ("; upgrade cmlp" if version > FORMAT_VERSION else ""))
    r.text("cmlp_version")
    layers = r.read("layers", "iu", None, max_itemsize=8)
    if layers.shape[0] < 2:
        r.fail(f"layers must have at least 2 sizes, got {layers.tolist()}")
    layers = [int(n) for n in layers]
    if min(layers) < 1:
        r.fail(f"layer sizes must be positive, got {layers}")
    n_params = _n_params(layers)
    if n_params > MAX_PARAMS:
        r.fail(f"layers {layers} would need {n_params:,} parameters, more than the "
               f"{MAX_PARAMS:,} allowed")
    acts = r.read("activations", "U", (len(layers) - 1,), max_itemsize=4 * _MAX_STR)
    acts = [str(a) for a in acts]
    for i, a in enumerate(acts[:-1]):
        if a not in ACTIVATIONS:
            r.fail(f"activations[{i}] must be one of {sorted(ACTIVATIONS)}, got {a!r}")
    if acts[-1] not in OUTPUTS:
        r.fail(f"the output activation must be one of {sorted(OUTPUTS)}, got {acts[-1]!r}")
    loss = r.text("loss", LOSSES)
    init = r.text("init", INITS)
    dtype = np.dtype(r.text("dtype", ("float32", "float64")))
    words = r.read("rng_state", "u", None, max_itemsize=8)
    if words.shape[0] not in (0, _RNG_WORDS):
        r.fail(f"rng_state has shape {words.shape}, expected (6,) or (0,)")
    rng = _rng_from_words(words, r.fail)
    # the big one last, after the architecture it must match is known to be sane
    params = r.read("params", "f", (n_params,), dtype=dtype)
    if not np.isfinite(params).all():
        r.fail("params contains NaN or infinity")

    try:
        net = Network(layers, activation=acts[:-1], output=acts[-1], loss=loss, init=init,
                      dtype=dtype, seed=rng)
    except (ValueError, TypeError) as exc:
        r.fail(f"inconsistent architecture ({exc})")
    net.params = params
    if rng is not None:
        # Network(seed=Generator) keeps that generator, which construction advanced:
        # put it back to the saved state
        rng.bit_generator.state = _rng_from_words(words, r.fail).bit_generator.state
    return net


# --------------------------------------------------------------------------- summary


def summary(net: Network) -> str:
    """A table of the network's layers, like Keras' ``model.summary()``.

    Parameters
    ----------
    net : cmlp.Network

    Returns
    -------
    str
        One row per layer ``1..L`` (``dense_i (activation)``, output shape
        ``(None, n_i)``, its ``n_{i-1} n_i + n_i`` parameters), then the totals and
        their memory in the network's dtype. For the notes' 784-500-200-10 network the
        total is 494,710.
    """
    from .network import Network

    if not isinstance(net, Network):
        raise TypeError(f"net must be a cmlp.Network, got {type(net).__name__}")
    layers = net.layers
    rows = [("input", f"(None, {layers[0]})", "0")]
    for i, (n_in, n_out, act) in enumerate(zip(layers[:-1], layers[1:], net.activations), 1):
        rows.append((f"dense_{i} ({act})", f"(None, {n_out})", f"{n_in * n_out + n_out:,}"))
    head = ("Layer (activation)", "Output Shape", "Param #")
    w0 = max(len(head[0]), *(len(r[0]) for r in rows)) + 4
    w1 = max(len(head[1]), *(len(r[1]) for r in rows)) + 4
    w2 = max(len(head[2]), *(len(r[2]) for r in rows))
    width = 1 + w0 + w1 + w2
    fmt = f" {{:<{w0}}}{{:<{w1}}}{{:>{w2}}}"
    nbytes = net.n_params * net.dtype.itemsize
    mem = (f"{nbytes / 2**20:.2f} MiB" if nbytes >= 2**20 else
           f"{nbytes / 2**10:.2f} KiB" if nbytes >= 2**10 else f"{nbytes} B")
    title = (f'Network: {"-".join(map(str, layers))}, loss {net.loss!r}, '
             f'init {net.init!r}, {net.dtype.name}')
    lines = [title, "_" * width, fmt.format(*head), "=" * width]
    lines += [fmt.format(*r) for r in rows]
    lines += ["=" * width,
              f"Total params: {net.n_params:,} ({mem})",
              f"Trainable params: {net.n_params:,}",
              "Non-trainable params: 0",
              "_" * width]
    return "\n".join(lines)
