"""cmlp.MLPClassifier / cmlp.MLPRegressor: scikit-learn's estimator checks, its tools
(Pipeline, GridSearchCV, cross_val_score), the fitted attributes, and the mapping onto the
engine pinned against sklearn.neural_network on the same data and initial weights."""
import copy
import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import cmlp  # noqa: E402
from cmlp import MLPClassifier, MLPRegressor  # noqa: E402

# the mapping is exact where the module docstring says so: agreement to rounding
RTOL = 1e-9

CHECKED = [
    MLPClassifier(),
    MLPRegressor(),
    MLPClassifier(solver="sgd", learning_rate="invscaling", batch_size=7, loss="tse"),
    MLPRegressor(solver="sgd", learning_rate="adaptive", n_iter_no_change=2),
    MLPClassifier(dtype="float32"),
    MLPRegressor(dtype="float32"),
]


def _expected_failed_checks(estimator):
    """The sample-weight equivalence checks, on dense and sparse X (integer weights == repeated rows, zero weights ==
    removed rows, predictions to rtol 1e-7) holds for full-batch float64 training (the
    defaults here: batch_size "auto" covers the check's 15 rows), not otherwise:
    - with minibatches smaller than the data, the batches of the weighted and the repeated
      rows are different sets of rows, so the steps differ. scikit-learn's own MLP fails
      this check with such settings too (with a ZeroDivisionError when a batch's weights sum
      to 0; cmlp makes no step there); scikit-learn runs the check on its MLP only with
      settings where it holds (PER_ESTIMATOR_CHECK_PARAMS: lbfgs, or sgd with full batches).
    - in float32 the weighted sums and the sums over repeated rows round differently; after
      200 Adam epochs the probabilities agree to about 4e-4 relative, not 1e-7.
    """
    reason = None
    if estimator.batch_size != "auto":
        reason = "minibatches: the weighted and repeated rows form different batches"
    elif np.dtype(estimator.dtype) == np.float32:
        reason = "float32: equivalent only to float32 rounding, not to rtol 1e-7"
    if reason is None:
        return {}
    return {f"check_sample_weight_equivalence_on_{kind}_data": reason
            for kind in ("dense", "sparse")}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(CHECKED, expected_failed_checks=_expected_failed_checks)
def test_sklearn_check_estimator(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- data


def _blobs(n=64, n_features=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int) + (X[:, 2] > 1)  # three classes
    return X, y


def _assert_params_close(sk, cm, rtol=RTOL, atol=1e-13):
    assert len(sk.coefs_) == len(cm.coefs_)
    for a, b in zip(sk.coefs_ + sk.intercepts_, cm.coefs_ + cm.intercepts_):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)


def _sk_whole_set_loss(sk, X, y, alpha):
    """scikit-learn's loss (log loss plus its L2 term) on the whole set, with its weights."""
    sq = sum(float((w ** 2).sum()) for w in sk.coefs_)
    return log_loss(y, sk.predict_proba(X), labels=sk.classes_) + 0.5 * alpha * sq / len(X)


# ---------------------------------------------------------------- against scikit-learn

# settings that make both runs deterministic and comparable step for step
SAME = dict(shuffle=False, tol=0.0, n_iter_no_change=10_000)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("settings", [
    dict(solver="sgd", learning_rate_init=0.1, momentum=0.0, alpha=1e-3),
    dict(solver="sgd", learning_rate_init=0.1, momentum=0.9, alpha=1e-3),  # nesterov
    dict(solver="sgd", learning_rate_init=0.1, momentum=0.9, nesterovs_momentum=False),
    dict(solver="sgd", learning_rate_init=0.5, momentum=0.0, learning_rate="invscaling",
         power_t=0.3),
    dict(solver="adam", learning_rate_init=0.01, alpha=1e-3, epsilon=1e-30),
])
def test_full_batch_loss_curve_matches_sklearn(settings):
    """Same random_state: the same initial weights (scikit-learn's Glorot draws). With one
    batch per epoch scikit-learn's loss_curve_[k + 1] (the loss before step k + 1) is
    cmlp's loss_curve_[k] (after epoch k), and the weights agree after every epoch."""
    X, y = _blobs()
    kw = dict(hidden_layer_sizes=(7, 6), activation="tanh", random_state=3, max_iter=6,
              **SAME, **settings)
    sk = SkMLPClassifier(**kw).fit(X, y)
    cm = MLPClassifier(**kw).fit(X, y)
    assert cm.n_iter_ == sk.n_iter_ == 6
    assert cm.t_ == sk.t_ == 6 * len(X)
    np.testing.assert_allclose(cm.loss_curve_[:-1], sk.loss_curve_[1:], rtol=RTOL)
    _assert_params_close(sk, cm)
    alpha = settings.get("alpha", 1e-4)
    assert cm.loss_ == pytest.approx(_sk_whole_set_loss(sk, X, y, alpha), rel=RTOL)
    assert cm.best_loss_ == min(cm.loss_curve_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("settings", [
    dict(solver="sgd", learning_rate_init=0.1, momentum=0.9, alpha=1e-3, batch_size=16),
    dict(solver="sgd", learning_rate_init=0.1, momentum=0.0, alpha=0.0, batch_size=10),
    dict(solver="sgd", learning_rate_init=0.1, momentum=0.0, alpha=0.0, batch_size=1),
    dict(solver="adam", learning_rate_init=0.01, alpha=1e-3, epsilon=1e-30, batch_size=16),
])
def test_minibatch_weights_match_sklearn_from_copied_weights(settings):
    """Copy one set of initial weights into both estimators (warm start), train both for a
    few epochs in minibatches: the weights and the whole-set loss agree to rounding."""
    X, y = _blobs()
    kw = dict(hidden_layer_sizes=(8,), activation="relu", warm_start=True, max_iter=1,
              random_state=0, **SAME, **settings)
    sk = SkMLPClassifier(**kw).fit(X, y)
    cm = MLPClassifier(**{**kw, "random_state": 1}).fit(X, y)
    rng = np.random.default_rng(42)
    for W, b, W2, b2 in zip(sk.coefs_, sk.intercepts_, cm.coefs_, cm.intercepts_):
        W[...] = rng.uniform(-0.5, 0.5, W.shape)
        b[...] = rng.uniform(-0.5, 0.5, b.shape)
        W2[...] = W  # in place: coefs_ are views into the network
        b2[...] = b
    for est in (sk, cm):
        est.set_params(max_iter=4).fit(X, y)
    _assert_params_close(sk, cm)
    alpha = settings.get("alpha", 1e-4)
    assert cm.loss_curve_[-1] == pytest.approx(_sk_whole_set_loss(sk, X, y, alpha), rel=RTOL)
    assert len(cm.loss_curve_) == len(sk.loss_curve_) == 5


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_adam_default_epsilon_close_to_sklearn():
    """scikit-learn adds epsilon before Adam's bias correction, the engine after: the runs
    differ by about epsilon / sqrt(v), and agree once epsilon is negligible (above)."""
    X, y = _blobs()
    kw = dict(hidden_layer_sizes=(8,), solver="adam", learning_rate_init=0.01,
              random_state=0, max_iter=5, batch_size=16, **SAME)
    sk = SkMLPClassifier(**kw).fit(X, y)
    cm = MLPClassifier(**kw).fit(X, y)
    loss = _sk_whole_set_loss(sk, X, y, 1e-4)
    assert cm.loss_ == pytest.approx(loss, rel=1e-4)
    assert cm.loss_ != pytest.approx(loss, rel=1e-12)  # the difference is real
    _assert_params_close(sk, cm, rtol=1e-2, atol=1e-4)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_l2_on_a_short_last_batch_is_exact():
    """alpha W / n_last on the last, shorter batch, as scikit-learn (the engine scales the
    penalty's gradient by 1 / the batch's size, or weight sum)."""
    X, y = _blobs()
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", momentum=0.0, learning_rate_init=0.1,
              alpha=1e-2, batch_size=10, random_state=0, max_iter=5, **SAME)
    sk = SkMLPClassifier(**kw).fit(X, y)
    cm = MLPClassifier(**kw).fit(X, y)
    _assert_params_close(sk, cm)
    assert cm.loss_ == pytest.approx(_sk_whole_set_loss(sk, X, y, 1e-2), rel=RTOL)


def test_binary_and_regression_losses_match_sklearn():
    """One logistic output (binary log loss) and squared_error over several outputs (the
    reported loss is divided by the number of outputs, as scikit-learn reports it)."""
    X, y3 = _blobs(n=50)
    y = (y3 > 0).astype(int)
    kw = dict(hidden_layer_sizes=(6,), activation="logistic", solver="sgd", momentum=0.5,
              learning_rate_init=0.3, alpha=1e-3, random_state=7, max_iter=5, **SAME)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SkMLPClassifier(**kw).fit(X, y)
        cm = MLPClassifier(**kw).fit(X, y)
    assert cm.n_outputs_ == 1 and cm.out_activation_ == "logistic"
    assert cm.network_.layers == (5, 6, 1)
    np.testing.assert_allclose(cm.loss_curve_[:-1], sk.loss_curve_[1:], rtol=RTOL)
    np.testing.assert_allclose(cm.predict_proba(X), sk.predict_proba(X), rtol=RTOL)

    Y = np.c_[X[:, 0] * X[:, 1], np.sin(X[:, 2]), X[:, 3]]
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.05, alpha=1e-2,
              random_state=1, max_iter=6, **SAME)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SkMLPRegressor(**kw).fit(X, Y)
        cm = MLPRegressor(**kw).fit(X, Y)
    np.testing.assert_allclose(cm.loss_curve_[:-1], sk.loss_curve_[1:], rtol=RTOL)
    np.testing.assert_allclose(cm.predict(X), sk.predict(X), rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("Est", [SkMLPClassifier, SkMLPRegressor])
def test_early_stopping_matches_sklearn(Est):
    """Same random_state: the same validation split; the same validation scores, stopping
    epoch and restored best weights."""
    X, y = _blobs(n=120)
    if Est is SkMLPRegressor:
        y = 2 * X[:, 0] + X[:, 1]
    kw = dict(hidden_layer_sizes=(7,), solver="sgd", momentum=0.0, learning_rate_init=0.05,
              shuffle=False, random_state=5, max_iter=300, early_stopping=True,
              validation_fraction=0.25, n_iter_no_change=5)
    Ours = MLPClassifier if Est is SkMLPClassifier else MLPRegressor
    sk = Est(**kw).fit(X, y)
    cm = Ours(**kw).fit(X, y)
    assert cm.n_iter_ == sk.n_iter_ < 300
    np.testing.assert_allclose(cm.validation_scores_, sk.validation_scores_, rtol=RTOL)
    assert cm.best_validation_score_ == pytest.approx(sk.best_validation_score_, rel=RTOL)
    assert cm.best_loss_ is None and cm.t_ == sk.t_ == cm.n_iter_ * 90
    _assert_params_close(sk, cm)


def test_adaptive_learning_rate_matches_sklearn():
    """tol so large that no epoch improves: the rate is divided by 5 every
    n_iter_no_change + 1 epochs until it is <= 1e-6, then training stops, as scikit-learn."""
    X, y = _blobs(n=120)
    kw = dict(hidden_layer_sizes=(7,), solver="sgd", momentum=0.0, learning_rate_init=0.05,
              learning_rate="adaptive", tol=1e9, n_iter_no_change=1, shuffle=False,
              random_state=5, max_iter=300)
    sk = SkMLPClassifier(**kw).fit(X, y)
    cm = MLPClassifier(**kw).fit(X, y)
    assert cm.n_iter_ == sk.n_iter_ < 300
    _assert_params_close(sk, cm)


# ---------------------------------------------------------------- scikit-learn's tools


def test_pipeline_grid_search_cross_val_score():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier((16,), learning_rate_init=0.01,
                                                         max_iter=300, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipe, X, y, cv=3)
        assert scores.shape == (3,) and scores.min() > 0.8
        grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1],
                                   "mlpclassifier__learning_rate_init": [1e-3, 1e-2]}, cv=3)
        grid.fit(X, y)
    assert set(grid.best_params_) == {"mlpclassifier__alpha",
                                      "mlpclassifier__learning_rate_init"}
    assert grid.best_score_ > 0.85
    assert grid.score(X, y) > 0.85


def test_string_labels_multiclass_and_binary():
    X, y = _blobs(n=90)
    names = np.array(["bird", "cat", "dog"])
    clf = MLPClassifier((10,), max_iter=400, learning_rate_init=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, names[y])
    assert list(clf.classes_) == ["bird", "cat", "dog"]
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 3
    pred = clf.predict(X)
    assert pred.dtype == names.dtype and set(pred) <= set(names)
    P = clf.predict_proba(X)
    assert P.shape == (90, 3)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.classes_[P.argmax(axis=1)], pred)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(P), rtol=1e-12)
    assert clf.score(X, names[y]) > 0.8

    yb = np.where(y > 0, "yes", "no")
    clf = MLPClassifier((10,), max_iter=300, learning_rate_init=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, yb)
    assert list(clf.classes_) == ["no", "yes"]
    assert clf.n_outputs_ == 1 and clf.out_activation_ == "logistic"
    assert clf.network_.output == "sigmoid" and clf.network_.loss == "cross_entropy"
    P = clf.predict_proba(X)
    assert P.shape == (90, 2)
    np.testing.assert_allclose(P[:, 1], clf.network_.forward(X)[:, 0], rtol=1e-15)
    np.testing.assert_array_equal(clf.predict(X), np.where(P[:, 1] > 0.5, "yes", "no"))
    assert clf.score(X, yb) > 0.8


def test_multilabel_targets():
    X, y = _blobs(n=80)
    Y = np.c_[y == 0, y == 2, X[:, 4] > 0].astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier((16,), max_iter=300, learning_rate_init=0.01, random_state=0)
        clf.fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 3
    assert clf.predict(X).shape == (80, 3)
    assert clf.predict_proba(X).shape == (80, 3)
    assert clf.score(X, Y) > 0.5  # subset accuracy


def test_tse_loss_is_the_notes_loss():
    X, y = _blobs(n=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier((8,), activation="logistic", loss="tse", solver="sgd",
                            learning_rate_init=0.5, momentum=0.0, alpha=0.0, max_iter=3,
                            random_state=0).fit(X, y)
    assert clf.network_.loss == "tse" and clf.network_.output == "softmax"
    T = np.eye(3)[y]
    tse = ((T - clf.predict_proba(X)) ** 2).sum()
    # the reported loss is the notes' TSEcost divided by the number of rows
    assert clf.loss_ == pytest.approx(tse / len(X), rel=RTOL)
    assert clf.network_.cost(X, T) == pytest.approx(tse, rel=RTOL)


def test_regressor_single_and_multi_output():
    X, y = make_regression(n_samples=120, n_features=4, n_targets=1, noise=0.1,
                           random_state=0)
    Xs = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=500,
                           random_state=0)
        reg.fit(Xs, y / y.std())
    assert reg.n_outputs_ == 1 and reg.out_activation_ == "identity"
    assert reg.predict(Xs).shape == (120,)
    assert reg.score(Xs, y / y.std()) > 0.95

    Y = np.c_[Xs[:, 0] - Xs[:, 1], Xs[:, 2] * 0.5, np.tanh(Xs[:, 3])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=500,
                           random_state=0)
        reg.fit(Xs, Y)
    assert reg.n_outputs_ == 3 and reg.network_.layers == (4, 32, 3)
    assert reg.predict(Xs).shape == (120, 3)
    assert reg.score(Xs, Y) > 0.95
    np.testing.assert_allclose(reg.predict(Xs), reg.network_.forward(Xs), rtol=1e-15)


# ---------------------------------------------------------------- estimator behaviour

PLAIN_SGD = dict(hidden_layer_sizes=(6,), solver="sgd", momentum=0.0, shuffle=False,
                 learning_rate_init=0.1, batch_size=16, random_state=0, tol=0.0,
                 n_iter_no_change=10_000)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("learning_rate", ["constant", "invscaling"])
def test_partial_fit_equals_fit(learning_rate):
    """k calls of partial_fit are fit(max_iter=k): same weights, t_, loss curve; the
    invscaling rate carries over between calls, as scikit-learn's optimizer keeps it."""
    X, y = _blobs()
    kw = dict(PLAIN_SGD, learning_rate=learning_rate)
    full = MLPClassifier(**kw, max_iter=4).fit(X, y)
    inc = MLPClassifier(**kw)
    for _ in range(4):
        inc.partial_fit(X, y, classes=[0, 1, 2])
    assert inc.n_iter_ == 1 and inc.t_ == full.t_ == 4 * len(X)
    _assert_params_close(full, inc, rtol=1e-14, atol=0)
    np.testing.assert_allclose(inc.loss_curve_, full.loss_curve_, rtol=1e-14)


@pytest.mark.parametrize("solver", [dict(solver="adam"), dict(solver="sgd", momentum=0.9),
                                    dict(solver="sgd", momentum=0.9, nesterovs_momentum=False)])
def test_partial_fit_keeps_the_optimizer_state_between_calls(solver):
    """Adam's moments and step count and the momentum buffer carry over from one
    partial_fit to the next, as scikit-learn's optimizer object does; a pickled estimator
    carries them too."""
    X, y = _blobs()
    kw = dict(PLAIN_SGD, **solver)
    full = MLPClassifier(**kw, max_iter=4).fit(X, y)
    inc = MLPClassifier(**kw)
    for k in range(4):
        inc.partial_fit(X, y, classes=[0, 1, 2])
        if k == 1:
            inc = pickle.loads(pickle.dumps(inc))
    _assert_params_close(full, inc, rtol=1e-13, atol=0)
    # a new fit starts the optimizer afresh
    again = MLPClassifier(**kw, max_iter=4).fit(X, y)
    inc.set_params(max_iter=4).fit(X, y)
    _assert_params_close(again, inc, rtol=1e-13, atol=0)


def test_partial_fit_classes():
    X, y = _blobs()
    clf = MLPClassifier(**PLAIN_SGD)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 2], y[y < 2], classes=np.array([0, 1, 2]))  # class 2 not seen yet
    assert list(clf.classes_) == [0, 1, 2] and clf.n_outputs_ == 3
    clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X, y + 5)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(X, X[:, 0])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_warm_start_continues():
    X, y = _blobs()
    full = MLPClassifier(**PLAIN_SGD, max_iter=5).fit(X, y)
    warm = MLPClassifier(**PLAIN_SGD, max_iter=3, warm_start=True).fit(X, y)
    net = warm.network_
    warm.set_params(max_iter=2).fit(X, y)
    assert warm.network_ is net  # the same network, trained on
    assert warm.n_iter_ == 2 and warm.t_ == 5 * len(X) and len(warm.loss_curve_) == 5
    _assert_params_close(full, warm, rtol=1e-14, atol=0)
    cold = MLPClassifier(**PLAIN_SGD, max_iter=2).fit(X, y)
    W0 = cold.coefs_[0].copy()
    cold.fit(X, y)  # warm_start=False: from the same initial weights again
    np.testing.assert_array_equal(cold.coefs_[0], W0)
    with pytest.raises(ValueError, match="same classes"):
        warm.fit(X[y < 2], y[y < 2])
    with pytest.raises(ValueError, match="layer sizes"):
        warm.set_params(hidden_layer_sizes=(3,)).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_coefs_are_views_into_the_network():
    X, y = _blobs()
    clf = MLPClassifier((5,), max_iter=20, random_state=0).fit(X, y)
    net = clf.network_
    for W, b, W2, b2 in zip(clf.coefs_, clf.intercepts_, net.weights, net.biases):
        assert np.shares_memory(W, net.params) and np.shares_memory(b, net.params)
        assert W.shape == W2.shape and b.shape == b2.shape
    # the outputs are the forward pass with coefs_ and intercepts_
    h = np.maximum(X @ clf.coefs_[0] + clf.intercepts_[0], 0)
    z = h @ clf.coefs_[1] + clf.intercepts_[1]
    P = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(X), P / P.sum(axis=1, keepdims=True),
                               rtol=1e-12)
    before = clf.predict_proba(X)
    clf.coefs_[1][...] = 0
    clf.intercepts_[1][...] = [5.0, 0.0, 0.0]  # writing the views changes predictions
    assert not np.allclose(clf.predict_proba(X), before)
    np.testing.assert_array_equal(clf.predict(X), np.zeros(len(X), dtype=int))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_pickle_round_trip(Est):
    X, y = _blobs()
    y = np.array(["a", "b", "c"])[y] if Est is MLPClassifier else X[:, 0] - X[:, 1]
    est = Est(hidden_layer_sizes=(6,), max_iter=30, random_state=0, dtype="float32").fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    if Est is MLPClassifier:
        np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
    assert again.loss_curve_ == est.loss_curve_ and again.network_.dtype == np.float32
    # the unpickled coefs_ are views into the unpickled network, not copies
    assert np.shares_memory(again.coefs_[0], again.network_.params)
    again.coefs_[0][...] = 0
    assert not np.array_equal(again.network_.forward(X), est.network_.forward(X))
    again.partial_fit(X, y)  # and it trains on
    assert again.t_ == est.t_ + len(X)


def test_params_clone_and_init_stores_only():
    clf = MLPClassifier((7, 3), "tanh", solver="sgd", alpha=0.5, n_threads=1, dtype=np.float32)
    assert clf.hidden_layer_sizes == (7, 3) and clf.activation == "tanh"
    params = clf.get_params()
    assert params["alpha"] == 0.5 and params["dtype"] is np.float32 and params["loss"] == "log_loss"
    copy = clone(clf)
    assert copy.get_params() == params and copy is not clf
    assert not [k for k in vars(clf) if k.endswith("_")]
    clf.set_params(alpha=2.0, max_fun=10)
    assert clf.alpha == 2.0 and clf.max_fun == 10
    reg = MLPRegressor()
    assert reg.get_params()["loss"] == "squared_error"
    assert reg.get_params()["max_iter"] == 200 and reg.get_params()["solver"] == "adam"
    with pytest.raises(NotFittedError):
        reg.predict(np.zeros((2, 3)))


def test_parameter_errors():
    X, y = _blobs(n=20)
    with pytest.raises(ValueError, match="solver"):
        MLPRegressor(solver="newton").fit(X, X[:, 0])
    with pytest.raises(ValueError, match="loss"):
        MLPRegressor(loss="poisson").fit(X, X[:, 0])
    with pytest.raises(ValueError, match="did you mean hidden_layer_sizes=\\(5,\\)"):
        MLPRegressor((5,)).fit(X, X[:, 0])  # loss is first, as in scikit-learn
    with pytest.raises(ValueError, match="loss"):
        MLPClassifier(loss="squared_error").fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPClassifier(hidden_layer_sizes=(5, 0)).fit(X, y)
    with pytest.raises(ValueError, match="dtype"):
        MLPClassifier(dtype="float16").fit(X, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier().fit(X, X[:, 0])


def test_convergence_warning_and_tol_stop(capsys):
    X, y = _blobs()
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        MLPClassifier((5,), max_iter=3, random_state=0).fit(X, y)
    # a huge tol: no epoch improves; stop after n_iter_no_change + 1 epochs, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier((5,), max_iter=50, tol=1e9, n_iter_no_change=3, verbose=True,
                            random_state=0).fit(X, y)
    assert clf.n_iter_ == 5  # the first epoch improves on best_loss_ = inf
    out = capsys.readouterr().out
    assert "Iteration 5, loss = " in out
    assert "Training loss did not improve more than tol=1000000000.000000 for 3 " \
           "consecutive epochs. Stopping." in out


def test_batch_size_clipped_with_warning():
    X, y = _blobs(n=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match="It is going to be clipped"):
            MLPClassifier((4,), batch_size=100, max_iter=2).fit(X, y)


def test_non_finite_training_is_a_value_error():
    X, y = _blobs(n=30)
    reg = MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", learning_rate_init=1e3, momentum=0.0,
                       max_iter=50, random_state=0)
    # as scikit-learn: the epochs run on (NaN losses), then the weights are refused
    with pytest.warns(ConvergenceWarning), \
            pytest.raises(ValueError, match="non-finite parameter weights"):
        reg.fit(X * 1e3, y * 1e6)


def test_dtype_float32_and_output_dtypes():
    X, y = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier((5,), max_iter=20, random_state=0, dtype="float32").fit(X, y)
    assert clf.network_.dtype == np.float32 and clf.coefs_[0].dtype == np.float32
    assert clf.predict_proba(X).dtype == np.float64  # float64 X: promoted, as NumPy would
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf64 = MLPClassifier((5,), max_iter=20, random_state=0).fit(X, y)
    # the same initial draws, float32 arithmetic: close, not equal
    np.testing.assert_allclose(clf.coefs_[0], clf64.coefs_[0], rtol=1e-3, atol=1e-4)


def test_feature_names_in():
    pd = pytest.importorskip("pandas")
    X, y = _blobs(n=40)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier((4,), max_iter=5, random_state=0).fit(df, y)
    assert list(clf.feature_names_in_) == list(df.columns) and clf.n_features_in_ == 5
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        np.testing.assert_array_equal(clf.predict(X), clf.predict(df))
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(df.rename(columns={"x0": "other"}))
    assert cmlp.MLPClassifier is MLPClassifier


def _small_regression():
    X = np.random.default_rng(0).normal(size=(50, 3))
    return X, X.sum(1)


@pytest.mark.parametrize("serialise", ["pickle", "deepcopy"])
def test_serialising_a_fitted_estimator_leaves_it_unchanged(serialise):
    # on Python 3.11+ the pickled state is the instance's own __dict__: removing entries
    # from it removed them from the estimator, and the next warm-start fit started again
    X, y = _small_regression()
    est = MLPRegressor(hidden_layer_sizes=(4,), random_state=0, max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
        ref = copy.deepcopy(est) if serialise == "pickle" else pickle.loads(pickle.dumps(est))
        copied = pickle.loads(pickle.dumps(est)) if serialise == "pickle" else copy.deepcopy(est)
        assert hasattr(est, "coefs_") and hasattr(est, "intercepts_")
        est.set_params(warm_start=True, max_iter=1).fit(X, y)
        ref.set_params(warm_start=True, max_iter=1).fit(X, y)
    assert est.t_ == ref.t_ == 21 * X.shape[0]
    np.testing.assert_array_equal(est.network_.params, ref.network_.params)
    np.testing.assert_array_equal(copied.predict(X), copied.network_.forward(X).ravel())


def test_assigning_coefs_and_intercepts_changes_the_model():
    X, y = _small_regression()
    est = MLPRegressor(hidden_layer_sizes=(4,), random_state=0, max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    est.coefs_ = [np.zeros_like(W) for W in est.coefs_]
    est.intercepts_ = [np.full_like(b, 7.0) for b in est.intercepts_]
    np.testing.assert_array_equal(est.predict(X[:3]), [7.0, 7.0, 7.0])
    est.coefs_[1] = np.ones((4, 1))  # one item, as scikit-learn's list takes it
    np.testing.assert_array_equal(est.network_.weights[1], np.ones((4, 1)))
    assert est.coefs_[1] is not None and np.shares_memory(est.coefs_[1], est.network_.params)
    with pytest.raises(ValueError, match=r"coefs_: weights\[0\] must have shape \(3, 4\)"):
        est.coefs_[0] = np.ones((2, 4))
    with pytest.raises(ValueError, match="intercepts_"):
        est.intercepts_ = [np.zeros(4)]
    with pytest.raises(AttributeError, match="only on a fitted estimator"):
        MLPRegressor().coefs_ = [np.zeros((3, 4))]
    assert not hasattr(MLPRegressor(), "coefs_")
    # a warm-start fit starts from the assigned weights
    before = est.network_.params.copy()
    est.set_params(warm_start=True, max_iter=1, learning_rate_init=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    np.testing.assert_allclose(est.network_.params, before, atol=1e-9)


def test_warm_start_refuses_a_loss_that_needs_another_output_activation():
    X, y = _small_regression()
    est = MLPRegressor(hidden_layer_sizes=(4,), random_state=0, max_iter=5, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, np.exp(0.1 * y))
    est.set_params(loss="poisson")
    with pytest.raises(ValueError, match="output activation is 'identity'; loss='poisson' "
                                         "needs 'exp'. Set warm_start=False"):
        est.fit(X, np.exp(0.1 * y))
