"""cmlp.Network against cmlp.reference, finite differences, the notes' worked examples."""
import itertools
import pickle

import numpy as np
import pytest

import cmlp
from cmlp import reference as ref
from conftest import assert_close, load_csv, mnist_file, ref_params

DTYPES = [np.float32, np.float64]
HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "identity"]


def _combos():
    """Every hidden activation x every valid (output, loss) pair."""
    for act in HIDDEN:
        for loss in ["tse", "mse", "cross_entropy"]:
            outs = ["sigmoid", "softmax"] if loss == "cross_entropy" else \
                ["sigmoid", "softmax", "tanh", "identity", "relu"]
            for out in outs:
                yield act, out, loss


COMBOS = list(_combos())


def _small_problem(seed, N=11, n_in=7, K=3, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.random((N, n_in))
    X[X < 0.35] = 0.0  # zero inputs take the skipping path, as MNIST pixels do
    labels = rng.integers(0, K, N)
    return X.astype(dtype), labels


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act,out,loss", COMBOS)
def test_parity_forward_gradients_and_one_sgd_epoch(dtype, act, out, loss, each_isa,
                                                    each_backend):
    """forward, gradients and the weights after a full per-sample epoch == reference."""
    net = cmlp.Network([7, 6, 5, 3], activation=act, output=out, loss=loss, init="xavier",
                       dtype=dtype, seed=7)
    X, labels = _small_problem(1, dtype=dtype)
    T = cmlp.one_hot(labels, 3)
    W, b = ref_params(net)
    acts = net.activations

    assert_close(net.forward(X), ref.forward(W, b, acts, X), dtype, "forward")

    dW, db = net.gradients(X, labels)
    rW, rb, rcost = ref.gradients(W, b, acts, loss, X, T)
    for i in range(3):
        assert_close(dW[i], rW[i], dtype, f"dW[{i}]")
        assert_close(db[i], rb[i].ravel(), dtype, f"db[{i}]")
    assert net.cost(X, labels) == pytest.approx(rcost, rel=1e-5 if dtype == np.float32 else 1e-12)

    # one epoch of the notes' SGD through the public fit: the permutation is the one a
    # fresh generator with the same seed draws
    perm = np.random.default_rng(123).permutation(X.shape[0])
    W1, b1 = ref.sgd_epoch(W, b, acts, loss, X, T, perm, 0.05)
    history = net.fit(X, labels, epochs=1, lr=0.05, seed=123, verbose=0)
    for i in range(3):
        assert_close(net.weights[i], W1[i], dtype, f"W[{i}] after an epoch")
        assert_close(net.biases[i], b1[i].ravel(), dtype, f"b[{i}] after an epoch")
    # History.cost is the whole-set cost with the epoch's final weights
    expected_cost = ref.total_cost(W1, b1, acts, loss, X, T)
    assert history.cost[0] == pytest.approx(expected_cost,
                                            rel=1e-4 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
def test_parity_several_epochs_and_minibatch(dtype):
    net = cmlp.Network([5, 4, 2], activation="tanh", output="sigmoid", loss="tse",
                       dtype=dtype, seed=3)
    X, labels = _small_problem(2, N=8, n_in=5, K=2, dtype=dtype)
    T = cmlp.one_hot(labels, 2)
    W, b = ref_params(net)
    gen = np.random.default_rng(9)
    for _ in range(3):
        W, b = ref.sgd_epoch(W, b, net.activations, "tse", X, T, gen.permutation(8), 0.2)
    h = net.fit(X, labels, epochs=3, lr=0.2, seed=9, verbose=0)
    assert len(h.cost) == 3
    for i in range(2):
        assert_close(net.weights[i], W[i], dtype, "W after 3 epochs")
    # minibatches of 3 over rows in order (8 = 3 + 3 + 2): the mean gradient per batch
    net2 = cmlp.Network([5, 4, 2], activation="tanh", output="sigmoid", dtype=dtype, seed=3)
    W, b = ref_params(net2)
    for rows in ([0, 1, 2], [3, 4, 5], [6, 7]):
        W, b = ref.minibatch_step(W, b, net2.activations, "tse", X, T, rows, 0.2)
    net2.fit(X, labels, epochs=1, lr=0.2, batch_size=3, shuffle=False, verbose=0)
    for i in range(2):
        assert_close(net2.weights[i], W[i], dtype, "W after minibatches")
        assert_close(net2.biases[i], b[i].ravel(), dtype, "b after minibatches")


def test_batch_size_one_is_the_per_sample_path_bit_for_bit():
    X, labels = _small_problem(4, N=6, n_in=5, K=2)
    a = cmlp.Network([5, 3, 2], seed=1)
    b = cmlp.Network([5, 3, 2], seed=1)
    a.fit(X, labels, epochs=2, lr=0.3, seed=5, verbose=0)
    b.fit(X, labels, epochs=2, lr=0.3, seed=5, batch_size=1, verbose=0)
    np.testing.assert_array_equal(a.params, b.params)


def test_hand_worked_single_neuron():
    """One sigmoid neuron, one TSE step, arithmetic by hand.

    x = [1, 1], W = [[0.5], [-0.5]], b = 0: n = 0.5 - 0.5 + 0 = 0, y = sigmoid(0) = 0.5.
    t = 1: e = t - y = 0.5, F = e^2 = 0.25.
    S = -2 A e = -2 * y(1-y) * e = -2 * 0.25 * 0.5 = -0.25.
    dF/dW = a_0 S^T = [[-0.25], [-0.25]], dF/db = -0.25.
    lr = 1: W = [[0.75], [-0.25]], b = [0.25].
    """
    net = cmlp.Network([2, 1], activation="sigmoid", loss="tse", seed=0)
    net.weights[0][...] = [[0.5], [-0.5]]
    net.biases[0][...] = 0.0
    X = np.array([[1.0, 1.0]])
    assert net.forward(X)[0, 0] == 0.5
    assert net.cost(X, [1.0]) == 0.25
    dW, db = net.gradients(X, [1.0])
    np.testing.assert_array_equal(dW[0], [[-0.25], [-0.25]])
    np.testing.assert_array_equal(db[0], [-0.25])
    h = net.fit(X, [1.0], epochs=1, lr=1.0, verbose=0)
    np.testing.assert_array_equal(net.weights[0], [[0.75], [-0.25]])
    np.testing.assert_array_equal(net.biases[0], [0.25])
    # after the step: n = 0.75 - 0.25 + 0.25 = 0.75, cost = (1 - sigmoid(0.75))^2
    assert h.cost[0] == pytest.approx((1 - 1 / (1 + np.exp(-0.75))) ** 2, rel=1e-15)


@pytest.mark.parametrize("act,out,loss", COMBOS)
def test_gradients_match_central_differences(act, out, loss):
    X, labels = _small_problem(5, N=6, n_in=4, K=3)
    X = X + 0.05
    # finite differences are meaningless across a kink: pick the first seed whose
    # pre-activations all lie at least 1e-3 away from 0 in the ReLU-type layers
    kinked = {"relu", "leaky_relu", "elu"}
    for seed in range(100):
        net = cmlp.Network([4, 5, 3], activation=act, output=out, loss=loss, init="xavier",
                           seed=seed)
        W, b = ref_params(net)
        n = [ref.feedforward(W, b, net.activations, x)[1] for x in X]
        if all(np.abs(nr[i]).min() > 1e-3 for nr in n for i in (1, 2)
               if net.activations[i - 1] in kinked):
            break
    else:
        pytest.fail("no seed keeps the units away from their kinks")
    dW, db = net.gradients(X, labels)
    grad = np.concatenate([np.concatenate([w.ravel(), v]) for w, v in zip(dW, db)])
    p0 = net.params.copy()
    h = 1e-6
    numeric = np.empty_like(p0)
    for k in range(p0.size):
        net.params[k] = p0[k] + h
        up = net.cost(X, labels)
        net.params[k] = p0[k] - h
        down = net.cost(X, labels)
        net.params[k] = p0[k]
        numeric[k] = (up - down) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(net.params, p0)  # gradients left the network unchanged


GATES = {
    "OR": [0, 1, 1, 1],
    "AND": [0, 0, 0, 1],
    "NAND": [1, 1, 1, 0],
    "NOR": [1, 0, 0, 0],
}
GATE_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])  # integers, as in the notes


@pytest.mark.parametrize("gate", sorted(GATES))
def test_logic_gates_single_neuron(gate):
    net = cmlp.Network([2, 1], seed=0)
    h = net.fit(GATE_X, GATES[gate], epochs=2000, lr=0.5, verbose=0)
    np.testing.assert_array_equal(net.predict(GATE_X), GATES[gate])
    assert net.score(GATE_X, GATES[gate]) == 1.0
    assert h.cost[-1] < h.cost[0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_xor_needs_and_learns_with_a_hidden_layer(dtype):
    xor = [0, 1, 1, 0]
    net = cmlp.Network([2, 4, 1], dtype=dtype, seed=0)
    h = net.fit(GATE_X, xor, epochs=3000, lr=0.5, verbose=0)
    np.testing.assert_array_equal(net.predict(GATE_X), xor)
    assert h.cost[-1] < 0.05
    # a single neuron cannot separate XOR
    single = cmlp.Network([2, 1], dtype=dtype, seed=0)
    single.fit(GATE_X, xor, epochs=3000, lr=0.5, verbose=0)
    assert single.score(GATE_X, xor) < 1.0


def test_notes_mnist_run():
    """The notes' run: 784-500-200-10, sigmoid, TSE, alpha = 0.3, 50 epochs on the
    100-row training file; accuracy on the first 1,000 test rows far above chance (10%)."""
    X, y = load_csv(mnist_file("mnist_train_100.csv"))
    Xt, yt = load_csv(mnist_file("mnist_test.csv.gz"), max_rows=1000)
    net = cmlp.Network([784, 500, 200, 10], seed=0)
    h = net.fit(X / 255, y, epochs=50, lr=0.3, verbose=0)
    acc = net.score(Xt / 255, yt)
    print(f"notes' run: test accuracy on 1,000 rows = {acc:.3f}, final TSE {h.cost[-1]:.3f}")
    assert acc > 0.5
    assert h.cost[-1] < 0.2 * h.cost[0]
    X10, y10 = load_csv(mnist_file("mnist_test_10.csv"))
    assert net.score(X10 / 255, y10) >= 0.5


# ---------------------------------------------------------------- API contract


def test_parameter_views_are_live():
    net = cmlp.Network([3, 4, 2], seed=0)
    W1 = np.arange(12.0).reshape(3, 4)
    net.weights[0][...] = W1  # as the notes set W1
    np.testing.assert_array_equal(net.params[:12], W1.ravel())
    assert np.shares_memory(net.weights[0], net.params)
    assert np.shares_memory(net.biases[1], net.params)
    assert [w.shape for w in net.weights] == [(3, 4), (4, 2)]
    assert [b.shape for b in net.biases] == [(4,), (2,)]
    # assigning lists copies in; the notes' (n, 1) bias columns are accepted
    net.biases = [np.ones((4, 1)), np.full((2, 1), 2.0)]
    np.testing.assert_array_equal(net.biases[0], np.ones(4))
    np.testing.assert_array_equal(net.params[12:16], np.ones(4))
    with pytest.raises(ValueError, match=r"weights\[1\] must have shape \(4, 2\)"):
        net.weights = [W1, np.ones((2, 4))]
    with pytest.raises(ValueError, match="NaN"):
        net.weights = [W1, np.full((4, 2), np.nan)]


def test_init_schemes_and_seeds():
    a = cmlp.Network([784, 500, 200, 10], seed=42)
    b = cmlp.Network([784, 500, 200, 10], seed=42)
    np.testing.assert_array_equal(a.params, b.params)
    assert a.n_params == 494710
    # the notes' 0.5 - U[0, 1): weights in (-0.5, 0.5], zero biases
    assert a.weights[0].min() > -0.5 and a.weights[0].max() <= 0.5
    assert all((v == 0).all() for v in a.biases)
    # init draws W_1, W_2, ... in layer order from one PCG64 generator
    gen = np.random.default_rng(42)
    np.testing.assert_array_equal(a.weights[0], 0.5 - gen.random((784, 500)))
    np.testing.assert_array_equal(a.weights[1], 0.5 - gen.random((500, 200)))
    x = cmlp.Network([400, 300], init="xavier", seed=1).weights[0]
    r = np.sqrt(6 / 700)
    assert x.min() >= -r and x.max() <= r and x.std() == pytest.approx(r / np.sqrt(3), rel=0.02)
    he = cmlp.Network([400, 300], init="he", seed=1).weights[0]
    assert he.std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert cmlp.Network([3, 2], seed=np.random.default_rng(5)).params.shape == (8,)


def test_fit_seed_semantics():
    X, labels = _small_problem(6, N=10, n_in=4, K=2)
    a, b = cmlp.Network([4, 3, 2], seed=1), cmlp.Network([4, 3, 2], seed=1)
    a.fit(X, labels, epochs=2, verbose=0)
    b.fit(X, labels, epochs=2, verbose=0)
    np.testing.assert_array_equal(a.params, b.params)  # same seed, same bits
    # fit(seed=int) uses a fresh generator and leaves the network's own untouched
    c = cmlp.Network([4, 3, 2], seed=1)
    state = c._rng.bit_generator.state
    c.fit(X, labels, epochs=1, seed=3, verbose=0)
    assert c._rng.bit_generator.state == state
    d = cmlp.Network([4, 3, 2], seed=1)
    d.fit(X, labels, epochs=1, seed=np.random.default_rng(3), verbose=0)
    np.testing.assert_array_equal(c.params, d.params)
    # shuffle=False: rows in the given order
    e = cmlp.Network([4, 3, 2], seed=1)
    e.fit(X, labels, epochs=1, shuffle=False, verbose=0)
    W, bb = ref_params(cmlp.Network([4, 3, 2], seed=1))
    W1, _ = ref.sgd_epoch(W, bb, e.activations, "tse", X, cmlp.one_hot(labels, 2),
                          np.arange(10), 0.1)
    assert_close(e.weights[0], W1[0], np.float64)


def test_integer_and_strided_inputs_equal_c_order_float():
    X, labels = _small_problem(7, N=9, n_in=6, K=3)
    Xi = (X * 255).round().astype(np.uint8)
    net = cmlp.Network([6, 5, 3], seed=2)
    expected = net.forward(Xi.astype(np.float64))
    np.testing.assert_array_equal(net.forward(Xi), expected)  # no hidden scaling
    np.testing.assert_array_equal(net.forward(np.asfortranarray(Xi)), expected)
    wide = np.zeros((9, 12), dtype=np.int32)
    wide[:, ::2] = Xi
    np.testing.assert_array_equal(net.forward(wide[:, ::2]), expected)
    # one sample -> (n_L,); BLAS may round one row alone differently from the same row in a
    # block (it picks other kernels for one row), so equal to the last ulp or two only
    np.testing.assert_allclose(net.forward(Xi[3]), expected[3], rtol=1e-15, atol=0)
    assert net.forward(np.zeros((0, 6))).shape == (0, 3)
    assert net.forward(Xi.tolist()).dtype == np.float64
    assert cmlp.Network([6, 3], dtype="float32").forward(Xi).dtype == np.float32


def test_predict_semantics():
    X, _ = _small_problem(8, N=5, n_in=3, K=2)
    soft = cmlp.Network([3, 4], output="softmax", loss="cross_entropy", seed=0)
    assert soft.predict(X).dtype == np.int64
    np.testing.assert_array_equal(soft.predict(X), soft.forward(X).argmax(axis=1))
    one = cmlp.Network([3, 1], output="sigmoid", seed=0)
    np.testing.assert_array_equal(one.predict(X), (one.forward(X)[:, 0] > 0.5).astype(int))
    th = cmlp.Network([3, 1], activation="tanh", seed=0)
    np.testing.assert_array_equal(th.predict(X), (th.forward(X)[:, 0] > 0).astype(int))
    reg = cmlp.Network([3, 2], activation="identity", loss="mse", seed=0)
    np.testing.assert_array_equal(reg.predict(X), reg.forward(X))
    assert not reg.is_classifier and soft.is_classifier
    assert isinstance(soft.predict(X[0]), (np.integer, int))


def test_output_defaults():
    assert cmlp.Network([3, 4, 2]).activations == ("sigmoid", "sigmoid")
    assert cmlp.Network([3, 4, 2], activation="relu").output == "relu"
    assert cmlp.Network([3, 4, 5], activation="relu", loss="cross_entropy").output == "softmax"
    assert cmlp.Network([3, 4, 1], activation="relu", loss="cross_entropy").output == "sigmoid"
    net = cmlp.Network([3, 4, 5, 2], activation=["relu", "tanh"], output="identity", loss="mse")
    assert net.activations == ("relu", "tanh", "identity")


def test_one_hot():
    np.testing.assert_array_equal(cmlp.one_hot([2, 0, 1], 3),
                                  [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert cmlp.one_hot([1.0, 0.0], 2, dtype="float32").dtype == np.float32
    with pytest.raises(ValueError, match="labels must be in 0..2"):
        cmlp.one_hot([0, 3], 3)
    with pytest.raises(ValueError, match="non-integral"):
        cmlp.one_hot([0.5], 3)


def test_history_records_each_epoch():
    X, labels = _small_problem(9, N=12, n_in=4, K=2)
    net = cmlp.Network([4, 3, 2], seed=0)
    h = net.fit(X, labels, epochs=4, lr=0.5, verbose=0)
    assert isinstance(h, cmlp.History)
    assert h.cost.dtype == np.float64 and h.cost.shape == (4,) and h.seconds.shape == (4,)
    assert h.cost[-1] == pytest.approx(net.cost(X, labels), rel=1e-12)
    h2 = net.fit(X, labels, epochs=1, verbose=0)
    assert len(h2) == 1 and h2 is not h  # a new History per fit


def test_pickle_round_trip_is_exact():
    X, labels = _small_problem(10, N=8, n_in=4, K=2)
    net = cmlp.Network([4, 3, 2], activation="relu", output="softmax", loss="cross_entropy",
                       dtype="float32", seed=4)
    net.fit(X, labels, epochs=1, verbose=0)
    clone = pickle.loads(pickle.dumps(net))
    assert repr(clone) == repr(net)
    np.testing.assert_array_equal(clone.params, net.params)
    net.fit(X, labels, epochs=2, verbose=0)
    clone.fit(X, labels, epochs=2, verbose=0)  # the generator travelled too
    np.testing.assert_array_equal(clone.params, net.params)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(layers=[784]), ValueError, "layers must have at least 2"),
    (dict(layers=784), TypeError, "layers must be an ordered sequence"),
    (dict(layers=[784, 0, 10]), ValueError, r"layers\[1\] must be >= 1"),
    (dict(layers=[784, 2.5, 10]), TypeError, r"layers\[1\] must be an integer"),
    (dict(layers=[4, 3, 2], activation="sigmod"), ValueError, "activation must be one of"),
    (dict(layers=[4, 3, 2], activation=["relu", "relu"]), ValueError, "one name per hidden"),
    (dict(layers=[4, 3, 2], activation="softmax"), ValueError, "activation must be one of"),
    (dict(layers=[4, 3, 2], output="softplus"), ValueError, "output must be one of"),
    (dict(layers=[4, 3, 1], output="softmax"), ValueError, "softmax' needs at least 2"),
    (dict(layers=[4, 3, 2], loss="hinge"), ValueError, "loss must be one of"),
    (dict(layers=[4, 3, 2], loss="cross_entropy", output="relu"), ValueError, "cross_entropy"),
    (dict(layers=[4, 3, 2], init="zeros"), ValueError, "init must be one of"),
    (dict(layers=[4, 3, 2], dtype="int32"), ValueError, "dtype must be 'float32' or 'float64'"),
    (dict(layers=[4, 3, 2], dtype="nonsense"), TypeError, "dtype must be"),
    (dict(layers=[4, 3, 2], seed=-1), ValueError, "seed must be non-negative"),
    (dict(layers=[4, 3, 2], seed="abc"), TypeError, "seed must be None, an int"),
])
def test_constructor_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        cmlp.Network(**kwargs)


@pytest.mark.parametrize("call,exc,match", [
    (lambda n, X, y: n.forward(np.ones((3, 5))), ValueError, "X has 5 features per row"),
    (lambda n, X, y: n.forward(np.ones((2, 3, 4))), ValueError, "X must have shape"),
    (lambda n, X, y: n.forward([[1, np.nan, 0, 0]]), ValueError, "X contains NaN"),
    (lambda n, X, y: n.forward([[1, np.inf, 0, 0]]), ValueError, "X contains NaN or infinity"),
    (lambda n, X, y: n.forward(np.array([["a"] * 4])), TypeError, "X must hold numbers"),
    (lambda n, X, y: n.forward(np.ones((2, 4), dtype=complex)), TypeError, "X must hold numbers"),
    (lambda n, X, y: n.forward([[1, 2], [3]]), ValueError, "X could not be converted"),
    (lambda n, X, y: n.forward("abcd"), TypeError, "X must be a numeric array"),
    (lambda n, X, y: n.fit(X, [0, 1, 3, 0, 1, 2], verbose=0), ValueError, r"y must be in 0..2"),
    (lambda n, X, y: n.fit(X, [0, 1], verbose=0), ValueError, "y has 2 rows, but X has 6"),
    (lambda n, X, y: n.fit(X, np.ones((6, 2)), verbose=0), ValueError, "y has 2 columns"),
    (lambda n, X, y: n.fit(X, [0.5] * 6, verbose=0), ValueError, "non-integral"),
    (lambda n, X, y: n.fit(X, [np.nan] * 6, verbose=0), ValueError, "y contains NaN"),
    (lambda n, X, y: n.fit(X, y, epochs=0, verbose=0), ValueError, "epochs must be >= 1"),
    (lambda n, X, y: n.fit(X, y, epochs=2.0, verbose=0), TypeError, "epochs must be an integer"),
    (lambda n, X, y: n.fit(X, y, lr=-0.1, verbose=0), ValueError, "lr must be > 0"),
    (lambda n, X, y: n.fit(X, y, lr="fast", verbose=0), TypeError, "lr must be a real number"),
    (lambda n, X, y: n.fit(X, y, lr=np.nan, verbose=0), ValueError, "lr must be finite"),
    (lambda n, X, y: n.fit(X, y, batch_size=0, verbose=0), ValueError, "batch_size must be >= 1"),
    (lambda n, X, y: n.fit(X, y, batch_size="all", verbose=0), ValueError, "batch_size must be"),
    (lambda n, X, y: n.fit(X, y, shuffle="yes", verbose=0), TypeError, "shuffle must be True"),
    (lambda n, X, y: n.fit(X, y, on_nonfinite="ignore", verbose=0), ValueError, "on_nonfinite"),
    (lambda n, X, y: n.fit(X[:0], y[:0], verbose=0), ValueError, "X has no rows"),
    (lambda n, X, y: n.fit(X[0], y[:1], verbose=0), ValueError, "X must have shape"),
    (lambda n, X, y: n.gradients(X, np.ones((6, 4))), ValueError, "y has 4 columns"),
    (lambda n, X, y: n.score(X, [0, 1, 2]), ValueError, "y has 3 rows"),
])
@pytest.mark.parametrize("dtype", DTYPES)
def test_methods_reject_bad_input(dtype, call, exc, match):
    net = cmlp.Network([4, 3, 3], dtype=dtype, seed=0)
    X, y = _small_problem(12, N=6, n_in=4, K=3)
    before = net.params.copy()
    with pytest.raises(exc, match=match):
        call(net, X, y)
    np.testing.assert_array_equal(net.params, before)  # nothing half-done


def test_float32_overflow_is_reported():
    net = cmlp.Network([2, 1], dtype="float32")
    with pytest.raises(ValueError, match="too large for float32"):
        net.forward([[1e300, 0.0]])


def test_batch_size_larger_than_data_is_clipped_with_a_warning():
    X, y = _small_problem(13, N=5, n_in=4, K=3)
    net = cmlp.Network([4, 3, 3], seed=0)
    with pytest.warns(UserWarning, match="larger than the number of samples"):
        h = net.fit(X, y, epochs=1, batch_size=50, verbose=0)
    assert h.batch_size == 5


def test_nonfinite_loss_raises_and_keeps_finite_parameters():
    X, y = _small_problem(14, N=20, n_in=4, K=1)
    net = cmlp.Network([4, 8, 1], activation="identity", loss="mse", seed=0)
    with pytest.raises(FloatingPointError, match="NaN or infinite") as info:
        net.fit(X * 100, y, epochs=50, lr=1e6, verbose=0)
    assert np.isfinite(net.params).all()
    assert info.value.history.stopped == "nonfinite"
    net2 = cmlp.Network([4, 8, 1], activation="identity", loss="mse", seed=0)
    with pytest.warns(RuntimeWarning, match="on_nonfinite='warn'"):
        h = net2.fit(X * 100, y, epochs=3, lr=1e6, verbose=0, on_nonfinite="warn")
    assert len(h.cost) == 3 and not np.isfinite(h.cost).all()


def test_data_aliasing_the_parameters_is_copied_not_corrupted():
    net = cmlp.Network([2, 2], activation="identity", loss="mse", seed=0)
    X = net.params[:4].reshape(2, 2)  # a view into the parameters themselves
    X_copy = X.copy()
    other = cmlp.Network([2, 2], activation="identity", loss="mse", seed=0)
    net.fit(X, [[0.0, 1.0], [1.0, 0.0]], epochs=1, lr=0.1, shuffle=False, verbose=0)
    other.fit(X_copy, [[0.0, 1.0], [1.0, 0.0]], epochs=1, lr=0.1, shuffle=False, verbose=0)
    np.testing.assert_array_equal(net.params, other.params)


@pytest.mark.parametrize("act,out,loss", list(itertools.islice(COMBOS, 0, None, 5)))
def test_float32_and_float64_networks_agree(act, out, loss):
    X, labels = _small_problem(15)
    a = cmlp.Network([7, 6, 3], activation=act, output=out, loss=loss, init="xavier", seed=1)
    b = cmlp.Network([7, 6, 3], activation=act, output=out, loss=loss, init="xavier", seed=1,
                     dtype=np.float32)
    a.fit(X, labels, epochs=2, lr=0.05, seed=0, verbose=0)
    b.fit(X, labels, epochs=2, lr=0.05, seed=0, verbose=0)
    np.testing.assert_allclose(b.params, a.params, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_per_sample_lookahead_is_the_row_at_a_time_loop_bit_for_bit(dtype, each_isa):
    """Within one call, the first layer's update for a row and its forward pass for the next
    row are one pass (update_forward_row); a call of one row does not fuse. Both must give
    the same bits, also across rows of weight 0, which the fused pass steps over."""
    from cmlp import _core
    rng = np.random.default_rng(5)
    # wide enough that the first layer takes the 4-row groups and their leftovers
    net = cmlp.Network([37, 21, 9, 3], activation="relu", output="softmax",
                       loss="cross_entropy", dtype=dtype, seed=2)
    X = rng.random((30, 37)).astype(dtype)
    X[X < 0.6] = 0  # each row's nonzero inputs differ from the next row's
    T = cmlp.one_hot(rng.integers(0, 3, 30), 3).astype(dtype)
    w = np.ones(30, dtype)
    w[[0, 4, 5, 17, 29]] = 0
    perm = rng.permutation(30).astype(np.int64)
    fused, single = net.params.copy(), net.params.copy()
    status, done, loss = _core.sgd_epoch(net._arch, fused, X, T, perm, 0.1, True, w)
    assert (status, done) == (0, 30)
    total = 0.0
    for r in perm:
        s, d, l = _core.sgd_epoch(net._arch, single, X, T, np.array([r]), 0.1, True, w)
        total += l
    np.testing.assert_array_equal(fused, single)
    assert loss == total
    assert not np.array_equal(fused, net.params)  # the rows did train


def test_per_sample_replay_stops_before_the_row_whose_update_overflows():
    """A float32 row whose loss is finite (summed in double) but whose update overflows the
    weights: sgd_epoch trains its padded copy, finds it not finite, replays the rows one by
    one from the untouched parameters and stops before that row, the parameters as after
    the rows before it."""
    from cmlp import _core
    net = cmlp.Network([2, 3, 1], activation="identity", dtype=np.float32, seed=0)
    X = np.array([[0.5, 0.1], [0.2, 0.3], [1e21, 1e21], [0.4, 0.4]], np.float32)
    T = np.zeros((4, 1), np.float32)
    perm = np.arange(4, dtype=np.int64)
    p = net.params.copy()
    status, done, loss = _core.sgd_epoch(net._arch, p, X, T, perm, 1.0, True)
    assert (status, done) == (1, 2)
    assert np.isfinite(loss)
    twin = net.params.copy()
    s2, d2, l2 = _core.sgd_epoch(net._arch, twin, X, T, perm[:2], 1.0, True)
    assert (s2, d2) == (0, 2) and loss == l2
    np.testing.assert_array_equal(p, twin)
    # the row itself: its loss is finite, and without the check its update overflows
    q = twin.copy()
    s3, d3, l3 = _core.sgd_epoch(net._arch, q, X, T, perm[2:3], 1.0, False)
    assert (s3, d3) == (0, 1) and np.isfinite(l3) and not np.isfinite(q).all()


@pytest.mark.parametrize("bit_generator", [np.random.MT19937, np.random.Philox, np.random.SFC64,
                                           np.random.PCG64DXSM, np.random.PCG64])
def test_copy_and_pickle_keep_any_numpy_generator(bit_generator):
    import copy
    net = cmlp.Network([2, 3, 1], seed=np.random.Generator(bit_generator(0)))
    for other in (net.copy(), pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert type(other.rng.bit_generator) is bit_generator
        assert other.rng is not net.rng
        np.testing.assert_array_equal(other.params, net.params)
    # the copies continue the original's stream exactly
    streams = [n.rng.random(4) for n in (net.copy(), pickle.loads(pickle.dumps(net)))]
    np.testing.assert_array_equal(streams[0], streams[1])
    np.testing.assert_array_equal(streams[0], net.rng.random(4))


def test_argument_checks_added_after_the_review():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1.]])
    y = [0, 1, 1, 0]
    net = cmlp.Network([2, 3, 2], seed=0)
    # activation and dropout: ordered sequences only (a set's order is the hash seed's)
    with pytest.raises(TypeError, match="one per hidden layer in order, got set"):
        cmlp.Network([2, 3, 3, 1], activation={"relu", "tanh"})
    with pytest.raises(TypeError, match="dropout must be a probability or a list of them, "
                                        "one per hidden layer in order, got set"):
        cmlp.Network([2, 3, 3, 2]).fit(X, y, dropout={0.1, 0.2}, epochs=1, verbose=0)
    # a 0-d array is one probability
    a = net.copy()
    b = net.copy()
    a.fit(X, y, dropout=np.array(0.2), epochs=2, verbose=0, seed=1)
    b.fit(X, y, dropout=0.2, epochs=2, verbose=0, seed=1)
    np.testing.assert_array_equal(a.params, b.params)
    # validation_data: the message names validation_data[0], not X
    with pytest.raises(ValueError, match=r"validation_data\[1\] has 2 rows, but "
                                         r"validation_data\[0\] has 3"):
        net.fit(X, y, validation_data=(X[:3], y[:2]), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"validation_data\[2\] has 2 weights, but "
                                         r"validation_data\[0\] has 3 rows"):
        net.fit(X, y, validation_data=(X[:3], y[:3], [1.0, 1.0]), epochs=1, verbose=0)
    # an lr_schedule callable of the wrong arity is refused before training
    before = net.params.copy()
    with pytest.raises(TypeError, match="lr_schedule: a callable is called with one argument"):
        net.fit(X, y, lr_schedule=lambda epoch, lr: lr, epochs=1, verbose=0)
    np.testing.assert_array_equal(net.params, before)
    # cross-entropy targets outside [0, 1]
    with pytest.raises(ValueError, match=r"needs targets in \[0, 1\]"):
        cmlp.Network([2, 1], loss="cross_entropy", seed=0).fit(X, [2, 2, 2, 2], epochs=1,
                                                               verbose=0)
    # the mean cost of no rows is undefined; the total (tse) is 0
    with pytest.raises(ValueError, match="mse cost is a mean over rows"):
        cmlp.Network([2, 3, 2], loss="mse").cost(np.zeros((0, 2)), [])
    assert cmlp.Network([2, 3, 2]).cost(np.zeros((0, 2)), []) == 0.0
    # parameters made non-finite by the user: said so, not "try a smaller lr"
    net.weights[0][0, 0] = np.nan
    with pytest.raises(ValueError, match="contain NaN or infinity before training"):
        net.fit(X, y, epochs=1, verbose=0)


def test_score_with_one_output_takes_a_1d_target_column_as_fit_does():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1.]])
    net = cmlp.Network([2, 1], seed=0)
    soft = [0.2, 0.8, 0.8, 0.2]
    net.fit(X, soft, epochs=1, verbose=0)  # fit takes the 1-D column as targets
    assert net.score(X, soft) == net.score(X, np.reshape(soft, (-1, 1)))
    assert net.score(X, [0, 1, 1, 0]) == net.score(X, [[0], [1], [1], [0]])
    tanh = cmlp.Network([2, 3, 1], activation="tanh", seed=0)
    pm = np.array([-1, 1, 1, -1])
    expected = np.mean(tanh.predict(X) == (pm > 0))
    assert tanh.score(X, pm) == expected


def test_the_reference_reads_network_biases_and_checks_its_shapes():
    """The oracle takes Network.biases (1-D) as the notes' columns, refuses a target whose
    length differs from the output's, and names an undefined mean instead of dividing by 0."""
    net = cmlp.Network([3, 4, 3], seed=0, dtype="float64")
    X = np.random.default_rng(0).random((5, 3))
    T = cmlp.one_hot([0, 1, 2, 1, 0], 3)
    acts = list(net.activations)
    W = list(net.weights)
    flat, cols = list(net.biases), [b.reshape(-1, 1) for b in net.biases]
    for loss in ("tse", "mse"):
        expected = ref.total_cost(W, cols, acts, loss, X, T)
        assert ref.total_cost(W, flat, acts, loss, X, T) == expected
        same = cmlp.Network([3, 4, 3], loss=loss, dtype="float64")
        same.params = net.params
        np.testing.assert_allclose(expected, same.cost(X, T), rtol=1e-12)
        for a, b in zip(ref.gradients(W, flat, acts, loss, X, T)[0],
                        ref.gradients(W, cols, acts, loss, X, T)[0]):
            np.testing.assert_array_equal(a, b)
    assert ref.loss_term("tse", "sigmoid", np.array([1.0, 0, 0]), np.full((3, 1), 0.5)) == 0.75
    with pytest.raises(ValueError, match="t has 2 entries but y has 3"):
        ref.loss_term("tse", "sigmoid", np.array([1.0, 0]), np.full((3, 1), 0.5))
    with pytest.raises(ValueError, match="mean mse loss of no rows"):
        ref.gradients(W, flat, acts, "mse", np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="weights sum to 0"):
        ref.total_cost(W, flat, acts, "mse", X, T, sample_weight=np.zeros(5))
