"""cmlp.MLPClassifier / MLPRegressor against sklearn.neural_network: sample weights, the
Poisson loss, multilabel and multi-output targets, on the same data and initial weights
(same random_state, shuffle=False), so both run the same steps."""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import PoissonRegressor  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402

from cmlp import MLPClassifier, MLPRegressor  # noqa: E402

SAME = dict(shuffle=False, tol=0.0, n_iter_no_change=10_000)
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int) + (X[:, 2] > 1)  # three classes
    w = rng.random(n) * 2
    w[::5] = 0.0
    return X, y, w


def _assert_same_weights(sk, cm, rtol=1e-10, atol=1e-13):
    assert len(sk.coefs_) == len(cm.coefs_)
    for a, b in zip(sk.coefs_ + sk.intercepts_, cm.coefs_ + cm.intercepts_):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)


@pytest.mark.parametrize("settings", [
    dict(solver="sgd", learning_rate_init=0.1, momentum=0.9, alpha=1e-3, batch_size=16),
    dict(solver="sgd", learning_rate_init=0.1, momentum=0.0, alpha=1e-2, batch_size=10),
    dict(solver="adam", learning_rate_init=0.01, alpha=1e-2, epsilon=1e-30, batch_size=7),
    dict(solver="sgd", learning_rate_init=0.1, momentum=0.0, alpha=1e-2, batch_size=64),
])
def test_weighted_classifier_matches_sklearn(settings):
    """The weighted mean of each batch, alpha W over the batch's weight sum (also on the
    short last batch), the same weights after six epochs; loss_ is scikit-learn's weighted
    loss on the whole set."""
    X, y, w = _data()
    kw = dict(hidden_layer_sizes=(7, 6), activation="tanh", random_state=3, max_iter=6,
              **SAME, **settings)
    sk = SkMLPClassifier(**kw).fit(X, y, sample_weight=w)
    cm = MLPClassifier(**kw).fit(X, y, sample_weight=w)
    _assert_same_weights(sk, cm)
    sq = sum(float((c ** 2).sum()) for c in sk.coefs_)
    expected = log_loss(y, sk.predict_proba(X), sample_weight=w) + \
        0.5 * settings["alpha"] * sq / w.sum()
    assert cm.loss_ == pytest.approx(expected, rel=1e-9)
    # the weights matter: unweighted training ends elsewhere
    plain = MLPClassifier(**kw).fit(X, y)
    assert not np.allclose(plain.coefs_[0], cm.coefs_[0], rtol=1e-6)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_weighted_regressor_matches_sklearn(loss):
    X, _, w = _data(seed=1)
    rng = np.random.default_rng(2)
    if loss == "poisson":
        Y = rng.poisson(np.exp(0.4 * X[:, :2])).astype(float)
    else:
        Y = np.c_[X[:, 0] * X[:, 1], np.sin(X[:, 2])]
    kw = dict(loss=loss, hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.02,
              alpha=1e-2, random_state=1, max_iter=6, batch_size=10, **SAME)
    sk = SkMLPRegressor(**kw).fit(X, Y, sample_weight=w)
    cm = MLPRegressor(**kw).fit(X, Y, sample_weight=w)
    assert cm.out_activation_ == sk.out_activation_ == ("exp" if loss == "poisson" else
                                                        "identity")
    _assert_same_weights(sk, cm)
    np.testing.assert_allclose(cm.predict(X), sk.predict(X), rtol=1e-10)
    assert cm.score(X, Y, sample_weight=w) == pytest.approx(sk.score(X, Y, sample_weight=w),
                                                            rel=1e-10)


def test_weighted_partial_fit_matches_sklearn():
    X, y, w = _data(seed=3)
    kw = dict(hidden_layer_sizes=(6,), solver="adam", learning_rate_init=0.01, alpha=1e-3,
              epsilon=1e-30, batch_size=16, random_state=0, **SAME)
    sk, cm = SkMLPClassifier(**kw), MLPClassifier(**kw)
    for k in range(3):
        rows = slice(20 * k, 20 * k + 30)
        sk.partial_fit(X[rows], y[rows], sample_weight=w[rows], classes=[0, 1, 2])
        cm.partial_fit(X[rows], y[rows], sample_weight=w[rows], classes=[0, 1, 2])
    _assert_same_weights(sk, cm)


@pytest.mark.parametrize("Est", [SkMLPClassifier, SkMLPRegressor])
def test_weighted_early_stopping_matches_sklearn(Est):
    """The split carries the weights; the validation score is weighted by them."""
    X, y, _ = _data(n=120, seed=4)
    w = np.random.default_rng(5).random(120) * 3
    if Est is SkMLPRegressor:
        y = 2 * X[:, 0] + X[:, 1]
    kw = dict(hidden_layer_sizes=(7,), solver="sgd", momentum=0.0, learning_rate_init=0.05,
              shuffle=False, random_state=5, max_iter=100, early_stopping=True,
              validation_fraction=0.25, n_iter_no_change=5)
    Ours = MLPClassifier if Est is SkMLPClassifier else MLPRegressor
    sk = Est(**kw).fit(X, y, sample_weight=w)
    cm = Ours(**kw).fit(X, y, sample_weight=w)
    assert cm.n_iter_ == sk.n_iter_
    np.testing.assert_allclose(cm.validation_scores_, sk.validation_scores_, rtol=1e-10)
    _assert_same_weights(sk, cm)
    unweighted = Ours(**kw).fit(X, y)
    assert unweighted.validation_scores_[0] != pytest.approx(cm.validation_scores_[0],
                                                             rel=1e-8)


def test_a_batch_of_zero_weights_makes_no_step():
    """scikit-learn raises ZeroDivisionError on such a batch; cmlp skips it."""
    X, y, _ = _data(n=48, seed=6)
    w = np.ones(48)
    w[16:32] = 0.0
    kw = dict(hidden_layer_sizes=(5,), solver="adam", batch_size=16, random_state=0,
              max_iter=3, **SAME)
    with pytest.raises(ZeroDivisionError):
        SkMLPClassifier(**kw).fit(X, y, sample_weight=w)
    a = MLPClassifier(**kw).fit(X, y, sample_weight=w)
    keep = np.r_[0:16, 32:48]
    b = MLPClassifier(**kw).fit(X[keep], y[keep])
    _assert_same_weights(b, a, rtol=1e-12, atol=1e-15)


def test_sample_weight_validation_is_sklearns():
    X, y, _ = _data()
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        MLPClassifier(max_iter=2).fit(X, y, sample_weight=-np.ones(64))
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(10,\), expected \(64,\)"):
        MLPClassifier(max_iter=2).fit(X, y, sample_weight=np.ones(10))


# ---------------------------------------------------------------- Poisson


def test_poisson_without_hidden_layer_is_the_poisson_glm():
    """hidden_layer_sizes=() (accepted by scikit-learn's MLP too): y = exp(X w + b), the
    Poisson GLM. Trained to convergence, the predictions are PoissonRegressor(alpha=0)'s."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((300, 3))
    y = rng.poisson(np.exp(0.3 + X @ np.array([0.5, -0.3, 0.2])))
    # scikit-learn's MLP accepts it and runs the same steps
    kw = dict(loss="poisson", hidden_layer_sizes=(), solver="sgd", learning_rate_init=0.05,
              momentum=0.0, alpha=0.0, batch_size=300, max_iter=5, random_state=0, **SAME)
    sk = SkMLPRegressor(**kw).fit(X, y)
    cm = MLPRegressor(**kw).fit(X, y)
    assert cm.network_.layers == (3, 1) and cm.out_activation_ == "exp"
    _assert_same_weights(sk, cm)
    glm = PoissonRegressor(alpha=0, tol=1e-12, max_iter=1000).fit(X, y)
    reg = MLPRegressor(loss="poisson", hidden_layer_sizes=(), solver="adam",
                       learning_rate_init=0.02, alpha=0.0, batch_size=300, max_iter=3000,
                       tol=1e-12, n_iter_no_change=50, random_state=0).fit(X, y)
    np.testing.assert_allclose(reg.predict(X), glm.predict(X), rtol=1e-4)
    np.testing.assert_allclose(reg.coefs_[0].ravel(), glm.coef_, atol=1e-4)
    assert reg.intercepts_[0][0] == pytest.approx(glm.intercept_, abs=1e-4)
    # loss_ is the half Poisson deviance (scikit-learn's), at the GLM's optimum
    mu = glm.predict(X)
    half_dev = np.mean(np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0) - y + mu)
    assert reg.loss_ == pytest.approx(half_dev, rel=1e-6)


def test_poisson_refuses_negative_targets():
    X, _, _ = _data()
    with pytest.raises(ValueError, match="poisson' needs targets >= 0"):
        MLPRegressor(loss="poisson", max_iter=2).fit(X, X[:, 0])


# ---------------------------------------------------------------- targets


def test_multilabel_matches_sklearn():
    """A 2-D 0/1 indicator y: one sigmoid per label with binary cross-entropy; predict is
    the indicator matrix, predict_proba one probability per label, score subset accuracy."""
    X, y, w = _data(n=80, seed=8)
    Y = np.c_[y == 0, y == 2, X[:, 4] > 0].astype(int)
    kw = dict(hidden_layer_sizes=(9,), solver="sgd", learning_rate_init=0.2, momentum=0.5,
              alpha=1e-3, batch_size=20, random_state=2, max_iter=8, **SAME)
    for sample_weight in (None, w):
        sk = SkMLPClassifier(**kw).fit(X, Y, sample_weight=sample_weight)
        cm = MLPClassifier(**kw).fit(X, Y, sample_weight=sample_weight)
        assert cm.out_activation_ == sk.out_activation_ == "logistic"
        assert cm.n_outputs_ == 3 and cm.network_.loss == "cross_entropy"
        _assert_same_weights(sk, cm)
        np.testing.assert_array_equal(cm.classes_, sk.classes_)
        P = cm.predict_proba(X)
        assert P.shape == (80, 3) and P.dtype == np.float64
        np.testing.assert_allclose(P, sk.predict_proba(X), rtol=1e-10)
        pred = cm.predict(X)
        assert pred.shape == (80, 3) and set(np.unique(pred)) <= {0, 1}
        np.testing.assert_array_equal(pred, sk.predict(X))
        np.testing.assert_array_equal(pred, (P > 0.5).astype(int))
        subset = np.mean((pred == Y).all(axis=1))
        assert cm.score(X, Y) == pytest.approx(subset, rel=1e-15) == sk.score(X, Y)
        assert 0.2 < subset < 1.0  # neither trivial nor perfect: the test can fail


def test_multi_output_regression_matches_sklearn():
    """2-D y: predict (N, n_outputs); loss_ averages the half squared error over the
    outputs, as scikit-learn reports it (its loss_curve_ shifted by one epoch for full
    batches, see the module notes)."""
    X, _, w = _data(seed=9)
    Y = np.c_[X[:, 0] - X[:, 1], 0.5 * X[:, 2], np.tanh(X[:, 3])]
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.05, alpha=1e-3,
              batch_size=64, random_state=4, max_iter=5, **SAME)
    for sample_weight in (None, w):
        sk = SkMLPRegressor(**kw).fit(X, Y, sample_weight=sample_weight)
        cm = MLPRegressor(**kw).fit(X, Y, sample_weight=sample_weight)
        _assert_same_weights(sk, cm)
        pred = cm.predict(X)
        assert pred.shape == (64, 3) and cm.n_outputs_ == 3
        np.testing.assert_allclose(pred, sk.predict(X), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(cm.loss_curve_[:-1], sk.loss_curve_[1:], rtol=1e-9)
        sw = np.ones(64) if sample_weight is None else sample_weight
        sq = sum(float((c ** 2).sum()) for c in cm.coefs_)
        expected = 0.5 * np.average((Y - pred) ** 2, weights=sw, axis=0).mean() + \
            0.5 * 1e-3 * sq / sw.sum()
        assert cm.loss_ == pytest.approx(expected, rel=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = MLPRegressor(**kw).fit(X, Y[:, 0])
    assert one.predict(X).shape == (64,)
