"""What users of sklearn.neural_network match on, produced by cmlp's estimators in the same
situations with the same words: the non-finite-weights ValueError, the validation-set
error, the ConvergenceWarnings, the verbose lines, and what divergence does with and without
early stopping. Each case runs scikit-learn itself beside cmlp and compares."""
import re
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402

from cmlp import MLPClassifier, MLPRegressor  # noqa: E402

PAIRS = {"classifier": (SkMLPClassifier, MLPClassifier),
         "regressor": (SkMLPRegressor, MLPRegressor)}


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int), X[:, 0] - 2 * X[:, 2]


def _run(est, X, y):
    """(exception or None, [(category name, message)] of the non-numpy warnings)."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with np.errstate(all="ignore"):
            try:
                est.fit(X, y)
                exc = None
            except ValueError as e:
                exc = e
    # NumPy's own overflow RuntimeWarnings are scikit-learn's arithmetic, not its messages
    ws = [(w.category.__name__, str(w.message)) for w in record
          if w.category is not RuntimeWarning]
    return exc, ws


DIVERGING = dict(hidden_layer_sizes=(4,), solver="sgd", learning_rate_init=1e3, momentum=0.0,
                 max_iter=6, random_state=0)


def test_divergence_without_early_stopping_is_sklearns_value_error():
    X, _, y = _data()
    results = [_run(cls(**DIVERGING), X * 1e3, y * 1e6) for cls in PAIRS["regressor"]]
    (sk_exc, sk_w), (cm_exc, cm_w) = results
    assert type(cm_exc) is type(sk_exc) is ValueError
    assert str(cm_exc) == str(sk_exc) == (
        "Solver produced non-finite parameter weights. The input data may contain large "
        "values and need to be preprocessed.")
    assert cm_w == sk_w  # the max_iter ConvergenceWarning first, as scikit-learn
    assert cm_w[0][0] == "ConvergenceWarning"


def test_divergence_with_early_stopping_records_nan_scores_and_no_error():
    X, _, y = _data()
    ests = [cls(**DIVERGING, early_stopping=True) for cls in PAIRS["regressor"]]
    results = [_run(est, X * 1e3, y * 1e6) for est in ests]
    for (exc, ws), est in zip(results, ests):
        assert exc is None
        assert np.isnan(est.validation_scores_[-1])
        assert len(est.validation_scores_) == est.n_iter_ == 6
        assert all(np.isfinite(c).all() for c in est.coefs_ + est.intercepts_)
        assert np.isfinite(est.predict(X)).all()
    assert results[1][1] == results[0][1]


@pytest.mark.parametrize("kind", list(PAIRS))
def test_validation_set_too_small(kind):
    X, _, yr = _data(n=10)
    # three classes: not stratified (as for regression), so one validation row is possible
    y = np.arange(10) % 3 if kind == "classifier" else yr
    msgs = []
    for cls in PAIRS[kind]:
        with pytest.raises(ValueError) as info:
            cls(early_stopping=True, validation_fraction=0.1, random_state=0).fit(X, y)
        msgs.append(str(info.value))
    assert msgs[1] == msgs[0] == ("The validation set is too small. Increase "
                                  "'validation_fraction' or the size of your dataset.")
    # two classes are stratified: scikit-learn's splitter refuses one validation row first
    for cls in PAIRS["classifier"]:
        with pytest.raises(ValueError, match="should be greater or equal to the number of "
                                             "classes"):
            cls(early_stopping=True, validation_fraction=0.1).fit(X, np.arange(10) % 2)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_stochastic_convergence_warning_text(solver):
    X, yc, _ = _data()
    texts = []
    for cls in PAIRS["classifier"]:
        with pytest.warns(ConvergenceWarning) as record:
            cls(hidden_layer_sizes=(3,), solver=solver, max_iter=3, random_state=0).fit(X, yc)
        texts.append([str(w.message) for w in record if w.category is ConvergenceWarning])
    assert texts[1] == texts[0] == [
        "Stochastic Optimizer: Maximum iterations (3) reached and the optimization hasn't "
        "converged yet."]


def _verbose_lines(capsys, est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    out = capsys.readouterr().out
    # the values differ (cmlp reports the loss after each epoch, see cmlp.estimators); the
    # lines, their order and every other word must not
    return [re.sub(r"(loss = |Validation score: )\S+", r"\1#", line)
            for line in out.splitlines()]


@pytest.mark.parametrize("settings", [
    # no improvement beyond a huge tol: stop after n_iter_no_change + 1 epochs
    dict(solver="adam", tol=1e9, n_iter_no_change=2),
    # the same on the validation score
    dict(solver="adam", tol=1e9, n_iter_no_change=2, early_stopping=True),
    # "adaptive": the rate divided by 5 on every trigger until too small
    dict(solver="sgd", learning_rate="adaptive", tol=1e9, n_iter_no_change=1,
         early_stopping=True),
    dict(solver="sgd", learning_rate="adaptive", tol=1e9, n_iter_no_change=1),
    # plain epochs up to max_iter
    dict(solver="sgd", max_iter=4),
], ids=["adam-loss", "adam-validation", "adaptive-validation", "adaptive-loss", "max_iter"])
def test_verbose_lines_are_sklearns(capsys, settings):
    X, yc, _ = _data(n=60)
    settings = {"max_iter": 100, **settings}
    sk, cm = (cls(hidden_layer_sizes=(5,), verbose=True, random_state=0, **settings)
              for cls in PAIRS["classifier"])
    sk_lines = _verbose_lines(capsys, sk, X, yc)
    cm_lines = _verbose_lines(capsys, cm, X, yc)
    assert cm_lines == sk_lines
    assert sk_lines[0] == "Iteration 1, loss = #"
    if settings.get("learning_rate") == "adaptive":
        assert any(line.endswith("Setting learning rate to 0.000200") for line in cm_lines)
        assert cm_lines[-1].endswith("Learning rate too small. Stopping.")
