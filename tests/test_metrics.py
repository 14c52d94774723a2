"""Tests for cmlp.metrics: hand-worked examples, and scikit-learn when installed."""
import numpy as np
import pytest

from cmlp.metrics import accuracy, classification_report, confusion_matrix, scorecards

# A small hand-worked case (3 classes, 6 samples):
#   y_true = 0 0 1 1 2 2
#   y_pred = 0 1 1 1 0 2
# correct: samples 0, 2, 3, 5 -> accuracy 4/6
T = np.array([0, 0, 1, 1, 2, 2])
P = np.array([0, 1, 1, 1, 0, 2])


def test_accuracy_hand_worked():
    assert accuracy(T, P) == pytest.approx(4 / 6)
    assert accuracy([1, 2], [1, 2]) == 1.0
    assert accuracy([1.0, 0.0], [0, 0]) == 0.5  # integral floats accepted


def test_confusion_matrix_hand_worked():
    # row = true class, column = predicted class
    #   true 0: predicted 0 once, 1 once      -> [1, 1, 0]
    #   true 1: predicted 1 twice             -> [0, 2, 0]
    #   true 2: predicted 0 once, 2 once      -> [1, 0, 1]
    C = confusion_matrix(T, P)
    np.testing.assert_array_equal(C, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    assert C.dtype == np.int64
    C5 = confusion_matrix(T, P, n_classes=5)
    assert C5.shape == (5, 5) and C5[3:].sum() == 0 and C5[:, 3:].sum() == 0


def test_scorecards_hand_worked_and_like_the_notes():
    success, failure = scorecards(T, P)
    # class 0: sample 0 right, sample 1 wrong; class 1: both right; class 2: one each
    np.testing.assert_array_equal(success, [1, 2, 1])
    np.testing.assert_array_equal(failure, [1, 0, 1])
    assert success.dtype == np.int64 and failure.dtype == np.int64
    # the notes' loop, literally
    rng = np.random.default_rng(0)
    t = rng.integers(0, 10, 100)
    p = np.where(rng.random(100) < 0.6, t, rng.integers(0, 10, 100))
    s_ref, f_ref = np.zeros(10), np.zeros(10)
    for k in range(100):
        if p[k] == t[k]:
            s_ref[t[k]] += 1
        else:
            f_ref[t[k]] += 1
    s, f = scorecards(t, p, n_classes=10)
    np.testing.assert_array_equal(s, s_ref)
    np.testing.assert_array_equal(f, f_ref)
    assert (s + f).sum() == 100


def test_classification_report_hand_worked():
    d = classification_report(T, P, output_dict=True)
    # predicted counts per class (column sums): 2, 3, 1; supports (row sums): 2, 2, 2
    # class 0: tp 1 -> precision 1/2, recall 1/2, F1 1/2
    # class 1: tp 2 -> precision 2/3, recall 2/2, F1 2*2/(3+2) = 0.8
    # class 2: tp 1 -> precision 1/1, recall 1/2, F1 2*1/(1+2) = 2/3
    assert d["0"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 2})
    assert d["1"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1-score": 0.8, "support": 2})
    assert d["2"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1-score": 2 / 3, "support": 2})
    assert d["accuracy"] == pytest.approx(4 / 6)
    # macro precision = (1/2 + 2/3 + 1) / 3 = 13/18; equal supports -> weighted = macro
    assert d["macro avg"]["precision"] == pytest.approx(13 / 18)
    assert d["weighted avg"]["f1-score"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert d["macro avg"]["support"] == 6
    text = classification_report(T, P)
    lines = text.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    assert lines[2].split() == ["0", "0.50", "0.50", "0.50", "2"]
    assert lines[3].split() == ["1", "0.67", "1.00", "0.80", "2"]
    assert [ln for ln in lines if ln.strip().startswith("accuracy")][0].split() == ["accuracy", "0.67", "6"]


def test_never_predicted_class_has_zero_precision_without_warning(recwarn):
    # class 2 is never predicted -> precision 0.0 (not nan), F1 0.0
    d = classification_report([0, 1, 2], [0, 1, 1], output_dict=True)
    assert d["2"]["precision"] == 0.0 and d["2"]["f1-score"] == 0.0 and d["2"]["recall"] == 0.0
    # class 1 predicted twice, right once -> precision 1/2
    assert d["1"]["precision"] == 0.5
    assert len(recwarn) == 0


@pytest.mark.parametrize(
    "args, exc, match",
    [
        (([0, 1], [0]), ValueError, "same length, got 2 and 1"),
        (([], []), ValueError, "y_true is empty"),
        (([[0, 1]], [[0, 1]]), ValueError, "y_true must be a 1-D array"),
        (([0, 1], [[0, 1], [1, 0]]), ValueError, "y_pred must be a 1-D"),
        (([0.5, 1], [0, 1]), ValueError, "y_true must hold integer labels"),
        (([0, 1], ["a", "b"]), TypeError, "y_pred must hold integer labels"),
        (([0, -1], [0, 1]), ValueError, "y_true must hold labels 0..K-1"),
        (([0, np.nan], [0, 1]), ValueError, "y_true"),
    ],
)
def test_validation_names_the_argument(args, exc, match):
    for fn in (accuracy, confusion_matrix, scorecards, classification_report):
        with pytest.raises(exc, match=match):
            fn(*args)


def test_n_classes_too_small():
    with pytest.raises(ValueError, match="labels go up to 2 but n_classes=2"):
        confusion_matrix([0, 2], [0, 1], n_classes=2)
    with pytest.raises(ValueError, match="n_classes must be >= 1"):
        scorecards([0], [0], n_classes=0)


@pytest.mark.parametrize("seed", range(5))
def test_against_sklearn(seed):
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    t = rng.integers(0, 10, n)
    p = np.where(rng.random(n) < 0.7, t, rng.integers(0, 9, n))  # 9 is rarely predicted
    assert accuracy(t, p) == pytest.approx(skm.accuracy_score(t, p))
    np.testing.assert_array_equal(confusion_matrix(t, p, n_classes=10),
                                  skm.confusion_matrix(t, p, labels=np.arange(10)))
    for digits in (2, 4):
        assert classification_report(t, p, digits=digits) == skm.classification_report(
            t, p, digits=digits, zero_division=0.0)
    ours = classification_report(t, p, output_dict=True)
    theirs = skm.classification_report(t, p, output_dict=True, zero_division=0.0)
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        if isinstance(value, dict):
            assert ours[key] == pytest.approx(value, rel=1e-12)
        else:
            assert ours[key] == pytest.approx(value)


@pytest.mark.parametrize("label", [np.array([2**63], np.uint64), [1e20]])
def test_a_label_beyond_int64_is_shown_as_given(label):
    with pytest.raises(ValueError, match=r"got (9223372036854775808|1e\+20)"):
        accuracy(label, [0])


def test_large_labels_are_reported_not_allocated():
    """classification_report works over the labels that occur, whatever their values; the
    matrix and scorecards refuse a K beyond 16,384 by name instead of allocating it."""
    from cmlp import metrics as M
    rep = M.classification_report([0, 20000, 20000], [0, 20000, 0], output_dict=True)
    assert set(rep) == {"0", "20000", "accuracy", "macro avg", "weighted avg"}
    assert rep["20000"] == {"precision": 1.0, "recall": 0.5, "f1-score": 2 / 3, "support": 2}
    assert "10000000000" in M.classification_report([0, 10**10], [0, 10**10])
    for call in (lambda: M.confusion_matrix([0, 10**10], [0, 1]),
                 lambda: M.confusion_matrix([0, 10**5], [0, 1]),
                 lambda: M.scorecards(np.array([2.0**40]), [0])):
        with pytest.raises(ValueError, match="at most 16384 classes"):
            call()
    with pytest.raises(ValueError, match="at most 16384 classes"):
        M.scorecards([0, 16384], [0, 0])
    assert M.scorecards([0, 16383], [0, 0])[0].shape == (16384,)


def test_metrics_arguments_are_checked_by_name():
    from cmlp import metrics as M
    with pytest.raises(ValueError, match="y_true could not be read"):
        M.accuracy([[1], [1, 2]], [1, 2])
    with pytest.raises(TypeError, match="output_dict must be True or False"):
        M.classification_report([0, 1], [0, 1], output_dict="no")
    with pytest.raises(ValueError, match="y_true must hold labels 0..K-1, got 9.2"):
        M.accuracy(np.array([2.0**63]), [0.0])
