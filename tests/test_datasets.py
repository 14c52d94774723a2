"""Tests for cmlp.datasets: the C CSV parser, the sample, the split and fetch_mnist."""
import gzip
import hashlib
import http.server
import struct
import threading

import numpy as np
import pytest

import cmlp._core
from cmlp import datasets
from cmlp.datasets import (
    MNIST_FILES,
    fetch_mnist,
    load_mnist_csv,
    load_mnist_sample,
    train_test_split,
)

from conftest import mnist_file


def row(label, pixels=None):
    """One CSV line: label then 784 pixels (default: zeros)."""
    if pixels is None:
        pixels = [0] * 784
    return ",".join(str(v) for v in [label, *pixels])


def write(tmp_path, text, name="x.csv"):
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


@pytest.fixture
def small_rows():
    """Three rows with varied values: 1-, 2- and 3-digit pixels and the extremes."""
    rng = np.random.default_rng(7)
    X = rng.integers(0, 256, size=(3, 784)).astype(np.uint8)
    X[0, :100] = 0
    X[1, 5] = 255
    y = np.array([0, 9, 4], np.int64)
    return X, y


def csv_text(X, y, eol="\n", final=True):
    lines = [row(int(lab), [int(v) for v in x]) for x, lab in zip(X, y)]
    return eol.join(lines) + (eol if final else "")


def test_extension_is_loaded():
    # no silent fallback: the parser is the compiled one
    assert cmlp._core.__file__.endswith((".so", ".pyd"))
    assert callable(cmlp._core.csv_parse_chunk)


# ------------------------------------------------------------------- CSV parsing


def test_small_file_matches_loadtxt():
    path = mnist_file("mnist_train_100.csv")
    X, y = load_mnist_csv(path, scale=False)
    ref = np.loadtxt(path, delimiter=",", dtype=np.int64)
    assert X.shape == (100, 784) and X.dtype == np.uint8
    assert y.shape == (100,) and y.dtype == np.int64
    np.testing.assert_array_equal(X, ref[:, 1:])
    np.testing.assert_array_equal(y, ref[:, 0])
    # the notes' first training label is 5, then 0, 4, 1, 9
    assert y[:5].tolist() == [5, 0, 4, 1, 9]


def test_str_and_pathlike(small_rows, tmp_path):
    X, y = small_rows
    p = write(tmp_path, csv_text(X, y))
    for arg in (p, str(p)):
        Xr, yr = load_mnist_csv(arg, scale=False)
        np.testing.assert_array_equal(Xr, X)
        np.testing.assert_array_equal(yr, y)


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
@pytest.mark.parametrize("final", [True, False])
def test_line_endings_and_final_newline(small_rows, tmp_path, eol, final):
    X, y = small_rows
    p = write(tmp_path, csv_text(X, y, eol, final))
    Xr, yr = load_mnist_csv(p, scale=False)
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(yr, y)


def test_blank_trailing_lines_and_leading_zeros(small_rows, tmp_path):
    X, y = small_rows
    text = csv_text(X, y) + "\n\r\n"
    text = text.replace("\n9,", "\n09,", 1)  # "09" is the integer 9
    Xr, yr = load_mnist_csv(write(tmp_path, text), scale=False)
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(yr, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float64"])
def test_float_dtype_is_unscaled(small_rows, tmp_path, dtype):
    X, y = small_rows
    Xr, yr = load_mnist_csv(write(tmp_path, csv_text(X, y)), dtype=dtype, scale=False)
    assert Xr.dtype == np.dtype(dtype)
    assert Xr.max() == 255.0  # not divided by 255
    np.testing.assert_array_equal(Xr, X.astype(dtype))
    assert yr.dtype == np.int64


def test_gzip_detected_by_magic_not_suffix(small_rows, tmp_path):
    X, y = small_rows
    p = write(tmp_path, gzip.compress(csv_text(X, y).encode()), name="looks_plain.csv")
    Xr, yr = load_mnist_csv(p, scale=False)
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(yr, y)


def test_multi_member_gzip(small_rows, tmp_path):
    X, y = small_rows
    text = csv_text(X, y).encode()
    cut = len(text) // 2 + 17  # the second member starts inside a line
    p = write(tmp_path, gzip.compress(text[:cut]) + gzip.compress(text[cut:]), "m.csv.gz")
    Xr, yr = load_mnist_csv(p, scale=False)
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(yr, y)


def test_lines_split_across_chunks(monkeypatch, tmp_path):
    # tiny chunks force every line across several chunks, and rows past the
    # first guess of the output size
    rng = np.random.default_rng(3)
    X = rng.integers(0, 256, size=(40, 784)).astype(np.uint8)
    y = rng.integers(0, 10, size=40)
    monkeypatch.setattr(datasets, "_CHUNK", 997)
    monkeypatch.setattr(datasets, "_GZ_READ", 101)
    for data, name in ((csv_text(X, y).encode(), "a.csv"),
                       (gzip.compress(csv_text(X, y, "\r\n", False).encode()), "a.csv.gz")):
        Xr, yr = load_mnist_csv(write(tmp_path, data, name), scale=False)
        np.testing.assert_array_equal(Xr, X)
        np.testing.assert_array_equal(yr, y)


def test_output_grows_when_size_hint_is_small(monkeypatch, small_rows, tmp_path):
    X, y = small_rows
    big_X = np.tile(X, (700, 1))  # 2,100 rows
    big_y = np.tile(y, 700)
    p = write(tmp_path, gzip.compress(csv_text(big_X, big_y).encode()), "g.csv.gz")
    monkeypatch.setattr(datasets, "_gzip_size_hint", lambda f, size: 0)
    Xr, yr = load_mnist_csv(p, scale=False)
    np.testing.assert_array_equal(Xr, big_X)
    np.testing.assert_array_equal(yr, big_y)


@pytest.mark.parametrize("name", ["mnist_train_100.csv", "mnist_test.csv.gz"])
def test_n_rows_reads_the_first_rows(name):
    path = mnist_file(name)
    X5, y5 = load_mnist_csv(path, n_rows=5, scale=False)
    X10, y10 = load_mnist_csv(path, n_rows=10, scale=False)
    assert X5.shape == (5, 784) and y5.shape == (5,)
    np.testing.assert_array_equal(X10[:5], X5)
    np.testing.assert_array_equal(y10[:5], y5)
    if name == "mnist_test.csv.gz":
        Xs, ys = load_mnist_csv(mnist_file("mnist_test_10.csv"), scale=False)
        np.testing.assert_array_equal(X10, Xs)
        np.testing.assert_array_equal(y10, ys)
    X0, y0 = load_mnist_csv(path, n_rows=0, scale=False)
    assert X0.shape == (0, 784) and y0.shape == (0,)


def test_n_rows_larger_than_file(small_rows, tmp_path):
    X, y = small_rows
    Xr, yr = load_mnist_csv(write(tmp_path, csv_text(X, y)), n_rows=1000, scale=False)
    assert Xr.shape == (3, 784)
    np.testing.assert_array_equal(yr, y)


def test_whole_test_set_gz():
    X, y = load_mnist_csv(mnist_file("mnist_test.csv.gz"), scale=False)
    assert X.shape == (10000, 784) and y.shape == (10000,)
    assert X.dtype == np.uint8 and y.dtype == np.int64
    # every digit occurs; the first ten rows are the notes' 10-row file
    assert set(np.unique(y).tolist()) == set(range(10))
    X10, y10 = load_mnist_csv(mnist_file("mnist_test_10.csv"), scale=False)
    np.testing.assert_array_equal(X[:10], X10)
    np.testing.assert_array_equal(y[:10], y10)


@pytest.mark.slow
def test_whole_training_set_gz_matches_numpy():
    path = mnist_file("mnist_train.csv.gz")
    X, y = load_mnist_csv(path, scale=False)
    assert X.shape == (60000, 784) and y.shape == (60000,)
    with gzip.open(path, "rt") as f:
        ref = np.loadtxt(f, delimiter=",", dtype=np.uint8, max_rows=2000)
    np.testing.assert_array_equal(X[:2000], ref[:, 1:])
    np.testing.assert_array_equal(y[:2000], ref[:, 0])
    Xs, ys = load_mnist_csv(mnist_file("mnist_train_100.csv"), scale=False)
    np.testing.assert_array_equal(X[:100], Xs)


# ------------------------------------------------------------------------ errors


def _err(tmp_path, text, name="bad.csv"):
    p = write(tmp_path, text, name)
    with pytest.raises(ValueError) as info:
        load_mnist_csv(p, scale=False)
    msg = str(info.value)
    assert str(p) in msg
    return msg


def test_error_few_columns(tmp_path):
    msg = _err(tmp_path, row(3) + "\n" + row(4, [0] * 783) + "\n")
    assert "line 2" in msg and "expected 785" in msg and "found 784" in msg


def test_error_many_columns(tmp_path):
    msg = _err(tmp_path, row(3, [0] * 785) + "\n")
    assert "line 1" in msg and "found 786" in msg


def test_error_label_only(tmp_path):
    msg = _err(tmp_path, row(1) + "\n7\n")
    assert "line 2" in msg and "found 1" in msg


def test_error_pixel_out_of_range(tmp_path):
    px = [0] * 784
    px[10] = 256
    msg = _err(tmp_path, row(1) + "\n" + row(1) + "\n" + row(2, px) + "\n")
    # pixel index 10 is column 12 (column 1 is the label)
    assert "line 3" in msg and "column 12" in msg and "'256'" in msg and "0-255" in msg


def test_error_negative_pixel(tmp_path):
    px = [0] * 784
    px[0] = -1
    msg = _err(tmp_path, row(1, px) + "\n")
    assert "column 2" in msg and "'-1'" in msg and "outside 0-255" in msg


def test_error_label_out_of_range(tmp_path):
    msg = _err(tmp_path, row(1) + "\n" + row(10) + "\n")
    assert "line 2" in msg and "label '10'" in msg and "0-9" in msg


@pytest.mark.parametrize("bad", ["3.5", "abc", "1e2", " 7", "+4"])
def test_error_not_an_integer(tmp_path, bad):
    text = row(1) + "\n" + row(2).replace(",0,", f",{bad},", 1) + "\n"
    msg = _err(tmp_path, text)
    assert "line 2" in msg and "column 2" in msg and repr(bad) in msg and "integer" in msg


def test_error_empty_field(tmp_path):
    msg = _err(tmp_path, row(1).replace(",0,", ",,", 1) + "\n")
    assert "line 1" in msg and "empty field" in msg


def test_error_header_row(tmp_path):
    header = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))
    msg = _err(tmp_path, header + "\n" + row(5) + "\n")
    assert "line 1" in msg and "looks like a header row" in msg and "'label'" in msg


def test_error_empty_file(tmp_path):
    assert "empty file" in _err(tmp_path, "")
    assert "empty file" in _err(tmp_path, "\n\n", name="blank.csv")
    assert "empty file" in _err(tmp_path, gzip.compress(b""), name="e.csv.gz")


def test_error_truncated_gzip(small_rows, tmp_path):
    X, y = small_rows
    data = gzip.compress(csv_text(X, y).encode())
    msg = _err(tmp_path, data[: len(data) - 12], name="t.csv.gz")
    assert "truncated gzip" in msg


def test_error_corrupt_gzip(small_rows, tmp_path):
    X, y = small_rows
    data = bytearray(gzip.compress(csv_text(X, y).encode()))
    data[-6] ^= 0xFF  # the CRC-32 in the trailer
    msg = _err(tmp_path, bytes(data), name="c.csv.gz")
    assert "corrupt gzip" in msg


def test_error_long_line_without_newline(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "_CHUNK", 64)
    monkeypatch.setattr(datasets, "_MAX_LINE", 1000)
    msg = _err(tmp_path, "1," * 2000)
    assert "without a newline" in msg


def test_argument_validation(tmp_path):
    p = write(tmp_path, row(1) + "\n")
    with pytest.raises(ValueError, match="n_rows must be >= 0"):
        load_mnist_csv(p, n_rows=-1, scale=False)
    with pytest.raises(TypeError, match="n_rows"):
        load_mnist_csv(p, n_rows=2.0, scale=False)
    with pytest.raises(ValueError, match="dtype must be uint8, float32 or float64"):
        load_mnist_csv(p, dtype=np.int32, scale=False)
    with pytest.raises(FileNotFoundError):
        load_mnist_csv(tmp_path / "missing.csv", scale=False)


def test_parse_chunk_bridge_checks_shapes():
    X = np.zeros((2, 784), np.uint8)
    with pytest.raises(ValueError, match="labels has 3 rows"):
        cmlp._core.csv_parse_chunk(X, np.zeros(3, np.int64), b"1\n", 0, 1)
    with pytest.raises(ValueError, match="rows must be in 0..2"):
        cmlp._core.csv_parse_chunk(X, np.zeros(2, np.int64), b"1\n", 5, 1)
    # only whole lines are parsed: the text after the last newline is left
    y = np.zeros(2, np.int64)
    line = (row(4) + "\n").encode()
    status, rows, next_line, used = cmlp._core.csv_parse_chunk(X, y, line + b"3,0", 0, 1)
    assert (status, rows, next_line, used) == (cmlp._core.CSV_STATUS_OK, 1, 2, len(line))
    assert y[0] == 4


# ---------------------------------------------------------------- sample, split


def test_sample_shapes_and_values():
    X_train, y_train, X_test, y_test = load_mnist_sample(scale=False)
    assert X_train.shape == (1000, 784) and X_test.shape == (1000, 784)
    assert X_train.dtype == np.uint8 and X_test.dtype == np.uint8
    assert y_train.shape == (1000,) and y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert X_train.max() == 255  # raw pixels, not scaled
    X100, y100 = load_mnist_csv(mnist_file("mnist_train_100.csv"), scale=False)
    np.testing.assert_array_equal(X_train[:100], X100)
    np.testing.assert_array_equal(y_train[:100], y100)
    X10, y10 = load_mnist_csv(mnist_file("mnist_test_10.csv"), scale=False)
    np.testing.assert_array_equal(X_test[:10], X10)
    np.testing.assert_array_equal(y_test[:10], y10)


def test_sample_is_first_1000_rows_of_test_set():
    X_ref, y_ref = load_mnist_csv(mnist_file("mnist_test.csv.gz"), n_rows=1000, scale=False)
    _, _, X_test, y_test = load_mnist_sample(scale=False)
    np.testing.assert_array_equal(X_test, X_ref)
    np.testing.assert_array_equal(y_test, y_ref)


def test_split_partitions_rows_reproducibly():
    X = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, seed=0)
    # ceil(0.25 * 10) = 3 test rows, 7 training rows
    assert X_te.shape == (3, 2) and X_tr.shape == (7, 2)
    # rows stay paired and together cover every row once
    np.testing.assert_array_equal(X_tr[:, 0] // 2, y_tr)
    assert sorted(np.concatenate([y_tr, y_te]).tolist()) == list(range(10))
    again = train_test_split(X, y, test_size=0.25, seed=0)
    np.testing.assert_array_equal(again[3], y_te)
    # a Generator is used as given
    g1 = train_test_split(X, y, test_size=4, seed=np.random.default_rng(5))
    g2 = train_test_split(X, y, test_size=4, seed=np.random.default_rng(5))
    assert len(g1[3]) == 4
    np.testing.assert_array_equal(g1[3], g2[3])
    assert not np.array_equal(train_test_split(X, y, seed=1)[3], train_test_split(X, y, seed=2)[3])


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"test_size": 0.0}, ValueError, r"in \(0, 1\)"),
        ({"test_size": 1.0}, ValueError, r"in \(0, 1\)"),
        ({"test_size": 10}, ValueError, r"\[1, 9\]"),
        ({"test_size": 0}, ValueError, r"\[1, 9\]"),
        ({"test_size": "half"}, TypeError, "test_size"),
        ({"test_size": True}, TypeError, "bool"),
        ({"seed": "x"}, TypeError, "seed"),
    ],
)
def test_split_validation(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        train_test_split(np.zeros((10, 2)), np.zeros(10), **kwargs)


def test_split_length_mismatch():
    with pytest.raises(ValueError, match="same number of rows, got 10 and 9"):
        train_test_split(np.zeros((10, 2)), np.zeros(9))


# -------------------------------------------------------------------- fetch_mnist


def _idx_gz(array, ndim):
    magic = 0x0803 if ndim == 3 else 0x0801
    head = struct.pack(f">{1 + ndim}I", magic, *array.shape)
    return gzip.compress(head + np.ascontiguousarray(array, np.uint8).tobytes())


@pytest.fixture
def idx_server(tmp_path):
    """IDX files made from the shared CSVs (100 train, 10 test rows), with checksums."""
    X_tr, y_tr = load_mnist_csv(mnist_file("mnist_train_100.csv"), scale=False)
    X_te, y_te = load_mnist_csv(mnist_file("mnist_test_10.csv"), scale=False)
    src = tmp_path / "server"
    src.mkdir()
    content = {
        MNIST_FILES["train_images"]: _idx_gz(X_tr.reshape(-1, 28, 28), 3),
        MNIST_FILES["train_labels"]: _idx_gz(y_tr, 1),
        MNIST_FILES["test_images"]: _idx_gz(X_te.reshape(-1, 28, 28), 3),
        MNIST_FILES["test_labels"]: _idx_gz(y_te, 1),
    }
    for name, data in content.items():
        (src / name).write_bytes(data)
    sums = {name: ("sha256", hashlib.sha256(data).hexdigest()) for name, data in content.items()}
    return src, sums, (X_tr, y_tr, X_te, y_te)


def test_fetch_file_urls_and_cache_reuse(idx_server, tmp_path):
    src, sums, expected = idx_server
    home = tmp_path / "home"
    got = fetch_mnist(data_home=home, urls=src.as_uri(), checksums=sums, verbose=False, scale=False)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
    assert [a.dtype for a in got] == [np.uint8, np.int64, np.uint8, np.int64]
    assert got[0].shape == (100, 784) and got[2].shape == (10, 784)
    assert sorted(p.name for p in home.iterdir()) == ["mnist.npz"]  # no temporaries left
    # second call: the source is gone, the cache answers
    for f in src.iterdir():
        f.unlink()
    again = fetch_mnist(data_home=home, urls=src.as_uri(), checksums=sums, verbose=False, scale=False)
    for g, e in zip(again, expected):
        np.testing.assert_array_equal(g, e)


def test_fetch_data_home_from_env(idx_server, tmp_path, monkeypatch):
    src, sums, expected = idx_server
    monkeypatch.setenv("CMLP_DATA", str(tmp_path / "envhome"))
    got = fetch_mnist(urls=src.as_uri(), checksums=sums, verbose=False, scale=False)
    assert (tmp_path / "envhome" / "mnist.npz").exists()
    np.testing.assert_array_equal(got[3], expected[3])


def test_fetch_rejects_corrupt_download(idx_server, tmp_path):
    src, sums, _ = idx_server
    name = MNIST_FILES["test_images"]
    data = bytearray((src / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (src / name).write_bytes(bytes(data))
    home = tmp_path / "home"
    with pytest.raises(ValueError, match=f"{name} downloaded from .* has sha256"):
        fetch_mnist(data_home=home, urls=src.as_uri(), checksums=sums, verbose=False, scale=False)
    assert list(home.iterdir()) == []  # no cache, no partial files


def test_fetch_rejects_bad_idx_magic(idx_server, tmp_path):
    src, sums, _ = idx_server
    name = MNIST_FILES["train_labels"]
    data = gzip.compress(struct.pack(">II", 0x0803, 100) + bytes(100))  # images' magic
    (src / name).write_bytes(data)
    sums = dict(sums, **{name: ("sha256", hashlib.sha256(data).hexdigest())})
    home = tmp_path / "home"
    with pytest.raises(ValueError, match="magic number is 0x00000803, expected 0x00000801"):
        fetch_mnist(data_home=home, urls=src.as_uri(), checksums=sums, verbose=False, scale=False)
    assert list(home.iterdir()) == []


def test_fetch_rejects_short_idx_data(idx_server, tmp_path):
    src, sums, _ = idx_server
    name = MNIST_FILES["test_labels"]
    data = gzip.compress(struct.pack(">II", 0x0801, 10) + bytes(7))  # declares 10, has 7
    (src / name).write_bytes(data)
    sums = dict(sums, **{name: ("sha256", hashlib.sha256(data).hexdigest())})
    with pytest.raises(ValueError, match="ends after 7 of 10 declared bytes"):
        fetch_mnist(data_home=tmp_path / "h", urls=src.as_uri(), checksums=sums, verbose=False, scale=False)


def test_fetch_over_local_http(idx_server, tmp_path):
    src, sums, expected = idx_server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(src), **k)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        # the first mirror has nothing: the second is tried
        got = fetch_mnist(data_home=tmp_path / "h", urls=[base + "missing/", base],
                          checksums=sums, verbose=False, scale=False)
    finally:
        server.shutdown()
        server.server_close()
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_fetch_checksum_table_is_complete():
    assert set(datasets.MNIST_CHECKSUMS) == set(MNIST_FILES.values())
    for algo, digest in datasets.MNIST_CHECKSUMS.values():
        assert algo == "md5" and len(digest) == 32
        int(digest, 16)


# ------------------------------------------------------------------ scaling (DECISIONS.md)


def test_loaders_divide_by_255_by_default():
    path = mnist_file("mnist_train_100.csv")
    raw, labels = load_mnist_csv(path, scale=False)
    X, labels2 = load_mnist_csv(path)
    assert raw.dtype == np.uint8 and X.dtype == np.float64
    np.testing.assert_array_equal(X, raw / 255.0)  # the notes' X_train / 255, exactly
    np.testing.assert_array_equal(labels, labels2)
    assert X.min() == 0.0 and X.max() == 1.0
    X32, _ = load_mnist_csv(path, dtype=np.float32)
    np.testing.assert_array_equal(X32, (raw.astype(np.float32) / np.float32(255)))
    raw64, _ = load_mnist_csv(path, scale=False, dtype=np.float64)
    np.testing.assert_array_equal(raw64, raw)  # unscaled, converted unchanged


def test_sample_is_scaled_by_default():
    Xs, ys, Xts, yts = load_mnist_sample()
    Xr, yr, Xtr, ytr = load_mnist_sample(scale=False)
    assert Xs.dtype == np.float64 and Xr.dtype == np.uint8
    np.testing.assert_array_equal(Xs, Xr / 255.0)
    np.testing.assert_array_equal(Xts, Xtr / 255.0)
    np.testing.assert_array_equal(ys, yr)
    assert load_mnist_sample(dtype="float32")[0].dtype == np.float32


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(dtype=np.uint8), ValueError, "scale=False"),
    (dict(scale="yes"), TypeError, "scale must be True or False"),
    (dict(dtype=np.int32, scale=False), ValueError, "dtype must be uint8, float32 or float64"),
])
def test_scale_and_dtype_are_validated(kwargs, exc, match):
    path = mnist_file("mnist_test_10.csv")
    with pytest.raises(exc, match=match):
        load_mnist_csv(path, **kwargs)
    with pytest.raises(exc, match=match):
        load_mnist_sample(**kwargs)


def test_fetch_rerun_after_a_failed_download_completes(idx_server, tmp_path):
    """An interrupted or corrupt first run leaves nothing behind; the next run starts clean,
    completes and caches (files are re-downloaded whole: there is no byte-range resume)."""
    src, sums, expected = idx_server
    name = MNIST_FILES["train_images"]
    good = (src / name).read_bytes()
    (src / name).write_bytes(good[: len(good) // 3])  # a truncated transfer
    home = tmp_path / "home"
    with pytest.raises(ValueError, match=name):
        fetch_mnist(data_home=home, urls=src.as_uri(), checksums=sums, verbose=False)
    assert list(home.iterdir()) == []
    (src / name).write_bytes(good)  # the mirror is whole again: run once more
    X_train, y_train, X_test, y_test = fetch_mnist(data_home=home, urls=src.as_uri(),
                                                   checksums=sums, verbose=False)
    np.testing.assert_array_equal(X_train, expected[0] / 255.0)  # scaled by default
    np.testing.assert_array_equal(y_test, expected[3])
    assert sorted(p.name for p in home.iterdir()) == ["mnist.npz"]


def test_fetch_cache_answers_only_the_checksums_it_was_verified_against(idx_server, tmp_path):
    # a cache of a test's own small files must not answer a later call for the canonical
    # files (default checksums): that call downloads and verifies again, and here fails,
    # since the source holds the small files, whose digests are not MNIST's
    src, sums, expected = idx_server
    home = tmp_path / "home"
    fetch_mnist(data_home=home, urls=src.as_uri(), checksums=sums, verbose=False)
    with pytest.raises(ValueError, match="expected"):
        fetch_mnist(data_home=home, urls=src.as_uri(), verbose=False)
    # the same checksums again: the cache answers, with the source gone
    for f in src.iterdir():
        f.unlink()
    got = fetch_mnist(data_home=home, urls=src.as_uri(), checksums=sums, verbose=False,
                      scale=False)
    np.testing.assert_array_equal(got[0], expected[0])


def test_fetch_argument_errors_name_the_argument(idx_server, tmp_path):
    src, sums, _ = idx_server
    bad = dict(sums)
    name = MNIST_FILES["train_images"]
    bad[name] = "abc"
    with pytest.raises(ValueError, match=rf"checksums\['{name}'\] must be \(algorithm, hex"):
        fetch_mnist(data_home=tmp_path / "h", urls=src.as_uri(), checksums=bad, verbose=False)
    with pytest.raises(TypeError, match="checksums must be a mapping"):
        fetch_mnist(data_home=tmp_path / "h", urls=src.as_uri(), checksums=[1], verbose=False)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError, match="data_home must be a directory"):
        fetch_mnist(data_home=a_file, urls=src.as_uri(), checksums=sums, verbose=False)


@pytest.mark.parametrize("head", [b"PK\x03\x04\x14\x00\x00\x00", b"BZh91AY&SY", b"\xfd7zXZ\x00",
                                  b"\x28\xb5\x2f\xfd\x00\x00", b"abc\x00\x01def"])
def test_a_binary_file_is_not_taken_for_a_header_row(tmp_path, head):
    path = tmp_path / "data.bin"
    path.write_bytes(head + bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="not a text CSV file") as info:
        load_mnist_csv(path)
    assert "header" not in str(info.value)
    # a real header row keeps its advice
    path.write_text("label," + ",".join(f"p{i}" for i in range(784)) + "\n")
    with pytest.raises(ValueError, match="looks like a header row"):
        load_mnist_csv(path)


def test_parser_messages_for_leading_zeros_and_stray_carriage_returns(tmp_path):
    row = ["7"] + ["0"] * 784

    def error(name, text):
        path = tmp_path / name
        path.write_bytes(text.encode())
        with pytest.raises(ValueError) as info:
            load_mnist_csv(path)
        return str(info.value)

    r = list(row)
    r[1] = "0255"
    assert "'0255' has more than 3 digits" in error("lead.csv", ",".join(r) + "\n")
    r[1] = "0256"
    assert "'0256' is outside 0-255" in error("big.csv", ",".join(r) + "\n")
    msg = error("mac.csv", ",".join(row) + "\r" + ",".join(row) + "\r")
    assert "carriage return" in msg and "not a non-negative" not in msg
    r[1] = "0\r"
    assert "line 1, column 2 (pixel 1 of 784): a carriage return" in error(
        "stray.csv", ",".join(r) + "\n")
    (tmp_path / "crlf.csv").write_bytes((",".join(row) + "\r\n").encode() * 2)
    assert load_mnist_csv(tmp_path / "crlf.csv")[0].shape == (2, 784)
