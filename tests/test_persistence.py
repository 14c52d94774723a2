"""Saving, loading, pickling and summarising networks (cmlp.persistence)."""
import io
import os
import pickle
import stat
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

import cmlp
from cmlp import persistence
from cmlp.network import ACTIVATIONS

# (layers, activation, output, loss, init): every activation as hidden and output layer,
# every loss, softmax, a mixed list, and the notes' single neuron without hidden layer
CONFIGS = (
    [([5, 4, 3], act, None, "tse", "uniform") for act in ACTIVATIONS]
    + [
        ([5, 4, 3], "sigmoid", "softmax", "tse", "xavier"),
        ([5, 4, 3], "relu", "softmax", "mse", "he"),
        ([5, 4, 3], "tanh", "softmax", "cross_entropy", "xavier"),
        ([5, 4, 1], "relu", "sigmoid", "cross_entropy", "he"),
        ([5, 4, 3], "elu", "identity", "mse", "he"),
        ([5, 6, 4, 3], ["relu", "tanh"], "sigmoid", "tse", "uniform"),
        ([2, 1], "sigmoid", None, "tse", "uniform"),
    ]
)


def _data(net, n=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, net.layers[0]))
    y = rng.integers(0, max(net.layers[-1], 2), n) if net.layers[-1] > 1 else \
        rng.integers(0, 2, n).astype(float)
    return X, y


def _assert_same_network(a, b):
    assert type(b) is cmlp.Network
    assert b.layers == a.layers
    assert b.activations == a.activations
    assert b.loss == a.loss and b.init == a.init and b.dtype == a.dtype
    assert b.params.dtype == a.params.dtype
    np.testing.assert_array_equal(b.params, a.params)
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wb, wa)
    # the loaded network owns its buffer
    assert not np.may_share_memory(a.params, b.params)


def _continue_identically(a, b):
    """Both networks, trained on with seed=None, stay bit-identical."""
    X, y = _data(a)
    ha = a.fit(X, y, epochs=3, lr=0.05, verbose=0)
    hb = b.fit(X, y, epochs=3, lr=0.05, verbose=0)
    np.testing.assert_array_equal(hb.cost, ha.cost)
    np.testing.assert_array_equal(b.params, a.params)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layers,activation,output,loss,init", CONFIGS)
def test_round_trip_exact(tmp_path, dtype, layers, activation, output, loss, init):
    net = cmlp.Network(layers, activation=activation, output=output, loss=loss, init=init,
                       dtype=dtype, seed=7)
    X, y = _data(net)
    net.fit(X, y, epochs=2, lr=0.05, verbose=0)  # parameters no longer the initial ones
    path = tmp_path / "net.npz"
    persistence.save(net, path)
    back = persistence.load(path)
    _assert_same_network(net, back)
    np.testing.assert_array_equal(back.forward(X), net.forward(X))
    # the generator state travels too: training on continues identically
    _continue_identically(net, back)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layers,activation,output,loss,init", CONFIGS[::3])
def test_pickle_round_trip_exact_and_rng(dtype, layers, activation, output, loss, init):
    net = cmlp.Network(layers, activation=activation, output=output, loss=loss, init=init,
                       dtype=dtype, seed=11)
    X, y = _data(net)
    net.fit(X, y, epochs=1, lr=0.05, verbose=0)  # the generator has moved on from the seed
    back = pickle.loads(pickle.dumps(net))
    _assert_same_network(net, back)
    _continue_identically(net, back)


def test_pickled_copy_differs_from_fresh_seed():
    """The RNG check above can fail: a network rebuilt from its seed alone shuffles
    differently once the original's generator has advanced."""
    net = cmlp.Network([5, 4, 3], seed=3)
    X, y = _data(net)
    net.fit(X, y, epochs=1, lr=0.05, verbose=0)
    other = cmlp.Network([5, 4, 3], seed=3)
    other.params = net.params
    net.fit(X, y, epochs=1, lr=0.05, verbose=0)
    other.fit(X, y, epochs=1, lr=0.05, verbose=0)
    assert not np.array_equal(net.params, other.params)


def test_file_layout_is_plain_npz(tmp_path):
    net = cmlp.Network([4, 3, 2], activation="relu", output="softmax", loss="cross_entropy",
                       dtype="float32", seed=0)
    path = tmp_path / "m.npz"
    persistence.save(net, str(path))
    with np.load(path, allow_pickle=False) as z:
        assert sorted(z.files) == sorted(persistence._KEYS)
        assert z["format_version"][()] == 1 == persistence.FORMAT_VERSION
        assert str(z["cmlp_version"]) == cmlp.__version__
        assert z["layers"].tolist() == [4, 3, 2]
        assert z["activations"].tolist() == ["relu", "softmax"]
        assert str(z["loss"]) == "cross_entropy" and str(z["dtype"]) == "float32"
        assert z["params"].dtype == np.float32 and z["params"].shape == (net.n_params,)
        np.testing.assert_array_equal(z["params"], net.params)
    with zipfile.ZipFile(path) as zf:  # stored, not pickled
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())


def test_path_written_exactly_no_suffix_and_pathlike(tmp_path):
    net = cmlp.Network([3, 2], seed=0)
    persistence.save(net, tmp_path / "model")  # PathLike, no .npz
    assert sorted(os.listdir(tmp_path)) == ["model"]
    np.testing.assert_array_equal(persistence.load(str(tmp_path / "model")).params, net.params)


def test_save_replaces_atomically(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    old = cmlp.Network([3, 2], seed=0)
    persistence.save(old, path)
    before = path.read_bytes()
    new = cmlp.Network([3, 2], seed=1)
    persistence.save(new, path)  # replaces an existing file
    np.testing.assert_array_equal(persistence.load(path).params, new.params)
    before = path.read_bytes()

    def broken_savez(fh, **arrays):
        fh.write(b"PK\x03\x04 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(persistence.np, "savez", broken_savez)
    with pytest.raises(OSError, match="No space"):
        persistence.save(old, path)
    assert path.read_bytes() == before  # the old model is intact
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]  # and no temporary file is left


def test_save_load_argument_errors(tmp_path):
    with pytest.raises(TypeError, match="net must be a cmlp.Network"):
        persistence.save("not a network", tmp_path / "x.npz")
    with pytest.raises(FileNotFoundError):
        persistence.load(tmp_path / "missing.npz")
    with pytest.raises(FileNotFoundError):
        persistence.save(cmlp.Network([2, 1]), tmp_path / "no" / "such" / "dir.npz")


def test_compressed_npz_is_accepted(tmp_path):
    net = cmlp.Network([6, 5, 3], seed=2)
    path = tmp_path / "c.npz"
    np.savez_compressed(path, **persistence._arrays(net))
    _assert_same_network(net, persistence.load(path))


def test_other_bit_generator_is_not_saved(tmp_path):
    net = cmlp.Network([4, 2], seed=np.random.Generator(np.random.MT19937(5)))
    path = tmp_path / "m.npz"
    persistence.save(net, path)
    with np.load(path) as z:
        assert z["rng_state"].shape == (0,)
    back = persistence.load(path)
    np.testing.assert_array_equal(back.params, net.params)


# --------------------------------------------------------------------------- refusals


@pytest.fixture
def arrays():
    net = cmlp.Network([6, 5, 3], seed=4)
    return persistence._arrays(net)


def _npy(arr):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _zip(path, members):
    """A zip of raw members {name: bytes} (no compression), like np.savez writes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _write(path, arrays):
    return _zip(path, {k + ".npy": _npy(v) for k, v in arrays.items()})


def _refused(path, match):
    with pytest.raises(ValueError, match=match) as info:
        persistence.load(path)
    assert str(path) in str(info.value)  # names the file
    assert "not a valid cmlp model file" in str(info.value)
    return info.value


def test_valid_fixture_loads(tmp_path, arrays):
    """The refusal tests below change one thing in a file that does load."""
    net = persistence.load(_write(tmp_path / "ok.npz", arrays))
    np.testing.assert_array_equal(net.params, arrays["params"])


def test_refuses_other_format_version(tmp_path, arrays):
    arrays["format_version"] = np.array(2, dtype=np.int64)
    err = _refused(_write(tmp_path / "v2.npz", arrays), "format version 2")
    assert "upgrade cmlp" in str(err)


def test_refuses_extra_array(tmp_path, arrays):
    arrays["momentum"] = np.zeros(3)
    _refused(_write(tmp_path / "x.npz", arrays), r"unexpected array\(s\) \['momentum.npy'\]")


def test_refuses_missing_array(tmp_path, arrays):
    del arrays["loss"]
    _refused(_write(tmp_path / "x.npz", arrays), r"missing array\(s\) \['loss'\]")


@pytest.mark.parametrize("key,value,match", [
    ("params", lambda a: a["params"][:-1], "array 'params' has shape"),
    ("params", lambda a: a["params"].reshape(1, -1), "array 'params' has shape"),
    ("params", lambda a: a["params"].astype(np.float32), "expected float64"),
    ("params", lambda a: a["params"].astype(np.int64), "array 'params' has dtype"),
    ("layers", lambda a: np.array([6, 5, 4]), "array 'params' has shape"),
    ("layers", lambda a: np.array([6.0, 5.0, 3.0]), "array 'layers' has dtype"),
    ("layers", lambda a: np.array([6, 0, 3]), "layer sizes must be positive"),
    ("layers", lambda a: np.array([6]), "at least 2 sizes"),
    ("layers", lambda a: np.array([6, 5, 3], dtype=object), "array 'layers' has dtype object"),
    ("activations", lambda a: np.array(["sigmoid"]), "array 'activations' has shape"),
    ("activations", lambda a: np.array(["swish", "sigmoid"]), "activations\\[0\\]"),
    ("loss", lambda a: np.array("hinge"), "loss must be one of"),
    ("dtype", lambda a: np.array("float16"), "dtype must be one of"),
    ("dtype", lambda a: np.array(["float64"]), "array 'dtype' has shape"),
    ("rng_state", lambda a: a["rng_state"][:3], "rng_state has shape"),
    ("format_version", lambda a: np.array("1"), "array 'format_version' has dtype"),
])
def test_refuses_inconsistent_arrays(tmp_path, arrays, key, value, match):
    arrays[key] = value(arrays)
    _refused(_write(tmp_path / "bad.npz", arrays), match)


def test_refuses_architecture_the_network_refuses(tmp_path, arrays):
    arrays["activations"] = np.array(["relu", "identity"])
    arrays["loss"] = np.array("cross_entropy")  # needs a softmax or sigmoid output
    _refused(_write(tmp_path / "bad.npz", arrays), "inconsistent architecture .*cross_entropy")


def test_refuses_object_arrays_without_unpickling(tmp_path, arrays):
    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    arrays["cmlp_version"] = np.array([Boom()], dtype=object)
    _refused(_write(tmp_path / "evil.npz", arrays), "has dtype object")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_refuses_non_finite_params(tmp_path, arrays, value):
    arrays["params"][3] = value
    _refused(_write(tmp_path / "nan.npz", arrays), "NaN or infinity")


@pytest.mark.parametrize("cut", [0.2, 0.5, 0.9, 0.999])
def test_refuses_truncated_file(tmp_path, arrays, cut):
    data = _write(tmp_path / "ok.npz", arrays).read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[:int(len(data) * cut)])
    _refused(path, "truncated or corrupt")


@pytest.mark.parametrize("content", [b"", b"label,p1,p2\n7,0,0\n", b"PK\x03\x04garbage"])
def test_refuses_not_a_zip(tmp_path, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    _refused(path, "not a readable .npz archive")


def test_refuses_corrupt_data_crc(tmp_path, arrays):
    arrays["params"][:] = 0.25
    data = bytearray(_write(tmp_path / "ok.npz", arrays).read_bytes())
    at = data.find(np.float64(0.25).tobytes())  # inside params.npy's data
    data[at] ^= 0x01
    path = tmp_path / "crc.npz"
    path.write_bytes(bytes(data))
    _refused(path, "(?i)crc")


def _header(descr, shape):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_refuses_huge_declared_size_before_allocating(tmp_path, arrays):
    # a consistent 30000-30000 architecture: 900,030,000 float64 parameters (7.2 GB),
    # declared by the params header, but no data behind it
    arrays["layers"] = np.array([30000, 30000])
    arrays["activations"] = np.array(["sigmoid"])
    members = {k + ".npy": _npy(v) for k, v in arrays.items() if k != "params"}
    members["params.npy"] = _header("<f8", (900_030_000,))
    path = _zip(tmp_path / "huge.npz", members)
    tracemalloc.start()
    try:
        _refused(path, "header declares 7200240000")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


def test_refuses_absurd_architecture(tmp_path, arrays):
    arrays["layers"] = np.array([10**6, 10**6])
    arrays["activations"] = np.array(["sigmoid"])
    members = {k + ".npy": _npy(v) for k, v in arrays.items() if k != "params"}
    members["params.npy"] = _header("<f8", (10**12 + 10**6,))
    _refused(_zip(tmp_path / "absurd.npz", members), "more than the 1,073,741,824 allowed")


def test_refuses_extra_bytes_after_data(tmp_path, arrays):
    members = {k + ".npy": _npy(v) for k, v in arrays.items()}
    members["params.npy"] += b"\0" * 8
    _refused(_zip(tmp_path / "extra.npz", members), "holds .* bytes of data but its header")


def test_refuses_duplicate_members(tmp_path, arrays):
    path = _write(tmp_path / "dup.npz", arrays)
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr("loss.npy", _npy(np.array("mse")))
    _refused(path, "duplicate arrays")


# --------------------------------------------------------------------------- summary


def test_summary_of_the_notes_network():
    net = cmlp.Network([784, 500, 200, 10], seed=0)
    text = persistence.summary(net)
    lines = text.splitlines()
    rows = {line.split()[0]: line for line in lines if line.startswith(" dense_")}
    assert rows.keys() == {"dense_1", "dense_2", "dense_3"}
    assert "dense_1 (sigmoid)" in rows["dense_1"] and "(None, 500)" in rows["dense_1"]
    assert rows["dense_1"].rstrip().endswith("392,500")  # 784*500 + 500
    assert rows["dense_2"].rstrip().endswith("100,200")  # 500*200 + 200
    assert rows["dense_3"].rstrip().endswith("2,010")    # 200*10 + 10
    assert "(None, 10)" in rows["dense_3"]
    assert "Total params: 494,710" in text
    assert net.n_params == 494_710
    assert "3.77 MiB" in text  # 494,710 float64 = 3,957,680 bytes
    # the table's rows have one width
    body = [ln for ln in lines if ln.startswith(" ")]
    assert len({len(ln) for ln in body}) == 1


def test_summary_names_each_activation():
    net = cmlp.Network([5, 6, 4, 3], activation=["relu", "tanh"], output="softmax",
                       loss="cross_entropy", dtype="float32")
    text = persistence.summary(net)
    for name in ("dense_1 (relu)", "dense_2 (tanh)", "dense_3 (softmax)"):
        assert name in text
    assert f"Total params: {net.n_params}" in text and net.n_params == 36 + 28 + 15
    assert "float32" in text
    with pytest.raises(TypeError, match="cmlp.Network"):
        persistence.summary([784, 10])


def test_save_refuses_non_finite_parameters_and_keeps_the_existing_file(tmp_path):
    path = tmp_path / "model.npz"
    good = cmlp.Network([2, 3, 1], seed=0)
    persistence.save(good, path)
    before = path.read_bytes()
    bad = cmlp.Network([2, 3, 1], seed=1)
    bad.params[2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        persistence.save(bad, path)
    assert path.read_bytes() == before
    np.testing.assert_array_equal(persistence.load(path).params, good.params)


def test_save_errors_name_the_path_not_a_temporary_file(tmp_path):
    net = cmlp.Network([2, 3, 1], seed=0)
    missing = tmp_path / "no_such_dir" / "model.npz"
    with pytest.raises(FileNotFoundError) as info:
        persistence.save(net, missing)
    assert info.value.filename == str(missing) and ".tmp" not in str(info.value)
    with pytest.raises(IsADirectoryError) as info:
        persistence.save(net, tmp_path)
    assert info.value.filename == str(tmp_path) and ".tmp" not in str(info.value)


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32",
                    reason="POSIX symlinks and permission bits")
def test_save_over_a_file_keeps_its_mode_and_follows_a_symlink(tmp_path):
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "model.npz"
    persistence.save(cmlp.Network([2, 3, 1], seed=0), target)
    os.chmod(target, 0o600)
    link = tmp_path / "latest.npz"
    os.symlink(os.path.join("runs", "model.npz"), link)
    net = cmlp.Network([2, 3, 1], seed=1)
    persistence.save(net, link)
    assert os.path.islink(link)
    np.testing.assert_array_equal(persistence.load(target).params, net.params)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["model.npz"]


def test_a_corrupt_directory_offset_is_a_value_error_naming_the_file(tmp_path):
    path = tmp_path / "good.npz"
    persistence.save(cmlp.Network([3, 5, 2], seed=1), path)
    data = bytearray(path.read_bytes())
    for k in (-6, -5, -4):  # the end-of-central-directory record's offset field
        bad = bytearray(data)
        bad[k] ^= 0xFF
        corrupt = tmp_path / f"corrupt{k}.npz"
        corrupt.write_bytes(bytes(bad))
        with pytest.raises(ValueError, match="not a valid cmlp model file") as info:
            persistence.load(corrupt)
        assert str(corrupt) in str(info.value)
