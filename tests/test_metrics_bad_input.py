"""utils.metrics refuses bad input with a ValueError/TypeError that names the argument; imports no framework."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import utils.metrics as M

Y = [0, 1, 1, 0]
LOGITS = np.zeros((4, 3))

# (call, exception type, words the message must contain)
BAD = [
    # empty input
    (lambda: M.confusion_matrix([], []), ValueError, ["y_true", "empty"]),
    (lambda: M.f1_score([], []), ValueError, ["empty"]),
    (lambda: M.cross_entropy([], np.zeros((0, 3))), ValueError, ["empty"]),
    (lambda: M.mean_squared_error([], []), ValueError, ["empty"]),
    (lambda: M.token_accuracy(np.zeros((0, 3), int), np.zeros((0, 3), int)), ValueError, ["empty"]),
    # mismatched lengths / shapes
    (lambda: M.confusion_matrix([0, 1, 1], [0, 1]), ValueError, ["y_true", "y_pred", "lengths"]),
    (lambda: M.accuracy_score([0, 1], [[0, 1]]), ValueError, ["shapes"]),
    (lambda: M.mean_squared_error([1.0, 2.0], [1.0, 2.0, 3.0]), ValueError, ["y_true", "y_pred"]),
    (lambda: M.cross_entropy([0, 1, 2], LOGITS), ValueError, ["y_true", "(4,)"]),
    (lambda: M.cross_entropy(np.eye(3)[[0, 1, 2, 0]].astype(int), LOGITS), ValueError, ["one-hot"]),
    # NaN / inf scores and logits
    (lambda: M.cross_entropy(Y, np.full((4, 3), np.nan)), ValueError, ["y_pred", "NaN"]),
    (lambda: M.cross_entropy(Y, np.full((4, 3), np.inf)), ValueError, ["y_pred", "inf"]),
    (lambda: M.mean_squared_error([1.0, np.nan], [1.0, 2.0]), ValueError, ["y_true", "NaN"]),
    (lambda: M.threshold([0.2, np.nan]), ValueError, ["scores", "NaN"]),
    (lambda: M.f1_score([0.0, np.nan], [0, 1]), ValueError, ["y_true", "NaN"]),
    # float labels where ints are needed
    (lambda: M.confusion_matrix([0, 1], [0.2, 0.9]), ValueError, ["y_pred", "fractional", "threshold"]),
    (lambda: M.cross_entropy([0.5, 1.0, 0.0, 1.0], LOGITS), ValueError, ["y_true", "fractional"]),
    (lambda: M.f1_score([0, 1], [0.7, 0.1]), ValueError, ["y_pred"]),
    # mixed label types
    (lambda: M.confusion_matrix(["a", 1], ["a", "a"]), TypeError, ["y_true", "mixes"]),
    (lambda: M.confusion_matrix(["a", "b"], [0, 1]), TypeError, ["mixed label types"]),
    (lambda: M.f1_score([0, 1], [0, 1], labels=["a"], average="macro"), TypeError, ["labels"]),
    (lambda: M.confusion_matrix(np.array([1, "x", None], dtype=object), [1, 1, 1]), TypeError, ["NoneType"]),
    # wrong rank
    (
        lambda: M.per_step_confusion_matrix(np.zeros((2, 3, 4), int), np.zeros((2, 3, 4), int)),
        ValueError,
        ["y_true", "2-D", "argmax"],
    ),
    (lambda: M.sequence_accuracy([0, 1], [0, 1]), ValueError, ["2-D", "got 1-D"]),
    (lambda: M.confusion_matrix(np.zeros((2, 3, 4), int), np.zeros((2, 3, 4), int)), ValueError, ["3-D"]),
    (lambda: M.cross_entropy(Y, np.float64(1.0)), ValueError, ["y_pred"]),
    (lambda: M.mean_squared_error([1.0, 2.0], [1.0, 2.0], reduction="per_step"), ValueError, ["per_step"]),
    (lambda: M.cross_entropy(Y, LOGITS, reduction="per_step"), ValueError, ["per_step"]),
    # masks
    (lambda: M.token_accuracy([[0, 1]], [[0, 1]], mask=[[True]]), ValueError, ["mask", "shape"]),
    (lambda: M.token_accuracy([[0, 1]], [[0, 1]], mask=[[1, 0]]), TypeError, ["mask", "boolean", "key_padding_mask"]),
    (lambda: M.confusion_matrix([0, 1], [0, 1], mask=[False, False]), ValueError, ["mask", "no real"]),
    (lambda: M.sequence_accuracy([[0, 1]], [[0, 1]], mask=[[False, False]]), ValueError, ["no row", "real"]),
    (lambda: M.cross_entropy(Y, LOGITS, mask=[False] * 4), ValueError, ["mask"]),
    # cross-entropy targets and probabilities
    (lambda: M.cross_entropy([0, 1, 3, 0], LOGITS), ValueError, ["y_true", "class 3", "0..2"]),
    (lambda: M.cross_entropy([0, -1, 2, 0], LOGITS), ValueError, ["y_true", "-1"]),
    (lambda: M.cross_entropy(Y, np.full((4, 3), 0.5), from_logits=False), ValueError, ["sum to 1", "from_logits"]),
    (lambda: M.cross_entropy(Y, np.full((4, 3), 2.0), from_logits=False), ValueError, ["[0, 1]", "from_logits"]),
    (lambda: M.cross_entropy(Y, LOGITS, from_logits="yes"), TypeError, ["from_logits"]),
    (lambda: M.cross_entropy(Y, LOGITS, from_logits=None), TypeError, ["from_logits"]),
    # arguments
    (lambda: M.f1_score([0, 1, 2], [0, 1, 2]), ValueError, ["binary", "3"]),
    (lambda: M.f1_score([0, 2], [0, 2], pos_label=1), ValueError, ["pos_label"]),
    (lambda: M.f1_score(Y, Y, average="mean"), ValueError, ["average"]),
    (lambda: M.f1_score(Y, Y, zero_division="nan"), ValueError, ["zero_division"]),
    (lambda: M.f1_score(Y, Y, zero_division=0.5), ValueError, ["zero_division"]),
    (lambda: M.fbeta_score(Y, Y, beta=-1), ValueError, ["beta"]),
    (lambda: M.confusion_matrix(Y, Y, labels=[]), ValueError, ["labels", "empty"]),
    (lambda: M.confusion_matrix(Y, Y, labels=[5, 6]), ValueError, ["labels", "y_true"]),
    (lambda: M.confusion_matrix(Y, Y, labels=[0, 0]), ValueError, ["labels", "duplicates"]),
    (lambda: M.confusion_matrix(Y, Y, labels=[0, 1], num_classes=2), ValueError, ["labels", "num_classes"]),
    (lambda: M.confusion_matrix([0, 3], [0, 1], num_classes=2), ValueError, ["y_true", "3", "num_classes"]),
    (lambda: M.confusion_matrix(Y, Y, num_classes=0), ValueError, ["num_classes"]),
    (lambda: M.confusion_matrix(Y, Y, normalize="rows"), ValueError, ["normalize"]),
    (lambda: M.confusion_matrix(Y, Y, sample_weight=[1, 2]), ValueError, ["sample_weight", "shape"]),
    (lambda: M.confusion_matrix(Y, Y, sample_weight=[0, 0, 0, 0]), ValueError, ["sample_weight"]),
    (lambda: M.accuracy_score(Y, Y, sample_weight=[1, np.nan, 1, 1]), ValueError, ["sample_weight", "NaN"]),
    (lambda: M.cross_entropy(Y, LOGITS, reduction="avg"), ValueError, ["reduction"]),
    (lambda: M.per_step_scores([[0, 1]], [[0, 1]], metric="auc"), ValueError, ["metric"]),
    (lambda: M.threshold([0.1], threshold=None), TypeError, ["threshold"]),
    (lambda: M.confusion_matrix(None, Y), TypeError, ["y_true", "None"]),
    (lambda: M.confusion_matrix("0101", Y), TypeError, ["y_true", "string"]),
    (lambda: M.confusion_matrix([[0, 1], [0]], [[0, 1], [0]]), ValueError, ["y_true"]),
]


@pytest.mark.parametrize("call,exc,words", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_is_refused_with_a_clear_message(call, exc, words):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a refusal, not a warning followed by a number
        with pytest.raises(exc) as info:
            call()
    message = str(info.value)
    for word in words:
        assert word.lower() in message.lower(), f"message {message!r} should mention {word!r}"


def test_whole_number_floats_and_booleans_are_labels():
    assert M.accuracy_score([1.0, 0.0], [1, 0]) == 1.0
    np.testing.assert_array_equal(M.confusion_matrix([True, False], [True, True]), [[0, 1], [0, 1]])


def test_undefined_scores_warn_only_in_warn_mode():
    with pytest.warns(M.UndefinedMetricWarning):
        assert M.precision_score([0, 1], [0, 0]) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert M.precision_score([0, 1], [0, 0], zero_division=1) == 1.0
        assert np.isnan(M.precision_score([0, 1], [0, 0], zero_division=np.nan))


def test_inputs_are_not_modified():
    yt = np.array([[0, 1, 2], [2, 1, 0]])
    yp = yt.copy()
    mask = np.array([[True, True, False], [True, False, False]])
    logits = np.random.default_rng(0).normal(size=(2, 3, 3))
    before = [a.copy() for a in (yt, yp, mask, logits)]
    M.per_step_confusion_matrix(yt, yp, mask=mask)
    M.cross_entropy(yt, logits, mask=mask, reduction="none")
    M.confusion_matrix(yt, yp, mask=mask)
    for a, b in zip((yt, yp, mask, logits), before):
        np.testing.assert_array_equal(a, b)


def test_importing_metrics_imports_no_framework():
    """Nor numba: the compiled kernel is loaded only for inputs of millions of labels."""
    code = (
        "import sys, utils, utils.metrics, utils._validation\n"
        "import numpy as np\n"
        "utils.metrics.f1_score([0, 1], [0, 1])\n"
        "utils.metrics.cross_entropy([0], np.zeros((1, 2)))\n"
        "bad = [m for m in ('torch', 'tensorflow', 'keras', 'jax', 'sklearn', 'numba') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
