"""utils.checks: passing checks stay quiet, failing ones teach.

For every check: a correct value (in several forms: lists, numpy, Python and
numpy scalars, torch tensors) passes without output; a wrong one raises
CheckFailure (an AssertionError, so nbgrader counts it) whose message has
what was checked, expected vs got, and the likely mistake when it can be
recognised. Also: `exercise()` prints PASS/FAIL with the score so far, and
re-running a cell replaces its result instead of counting it twice.
"""

from __future__ import annotations

import numpy as np
import pytest

from utils import checks
from utils.checks import CheckFailure


@pytest.fixture(autouse=True)
def _fresh_score():
    checks.reset_score()
    yield
    checks.reset_score()


def failure(fn, *args, **kwargs) -> str:
    with pytest.raises(CheckFailure) as info:
        fn(*args, **kwargs)
    assert isinstance(info.value, AssertionError)  # nbgrader counts it as a failed test
    return str(info.value)


def quiet(capsys, fn, *args, **kwargs):
    fn(*args, **kwargs)
    out = capsys.readouterr()
    assert out.out == "" and out.err == "", "a passing check should print nothing"


# ----------------------------------------------------------------------------
# check_true, check_type
# ----------------------------------------------------------------------------


def test_check_true(capsys):
    quiet(capsys, checks.check_true, 1 + 1 == 2, "never shown")
    assert failure(checks.check_true, [], "the list should not be empty") == "the list should not be empty"


def test_check_type(capsys):
    quiet(capsys, checks.check_type, (1, 2), tuple, "rnn_forward(...)")
    msg = failure(checks.check_type, [1, 2], tuple, "rnn_forward(...)")
    assert "should be a tuple" in msg and "it is a list" in msg
    msg = failure(checks.check_type, None, (tuple, list), "rnn_forward(...)")
    assert "tuple or list" in msg and "forget `return`" in msg
    msg = failure(checks.check_type, 3, str, "answer", hint="use quotes")
    assert "likely mistake: use quotes" in msg


# ----------------------------------------------------------------------------
# check_shape
# ----------------------------------------------------------------------------


def test_check_shape_passes_for_any_array_like(capsys):
    quiet(capsys, checks.check_shape, np.zeros((4, 2, 3)), (4, 2, 3), "outputs")
    quiet(capsys, checks.check_shape, [[1, 2, 3]], (1, 3), "h")
    quiet(capsys, checks.check_shape, (4, 2, 3), (4, 2, 3), "output shape")  # a shape tuple itself
    torch = pytest.importorskip("torch")
    quiet(capsys, checks.check_shape, torch.zeros(4, 2, 3, requires_grad=True), (4, 2, 3), "outputs")


@pytest.mark.parametrize(
    "got_shape, expected, words",
    [
        ((2, 4, 3), (4, 2, 3), ["first two axes are swapped", "time-major"]),
        ((2, 3), (4, 2, 3), ["one axis is missing"]),
        ((4, 2, 3, 1), (4, 2, 3), ["one axis too many"]),
        ((3, 4, 2), (4, 2, 3), ["wrong order"]),
    ],
)
def test_check_shape_names_the_mistake(got_shape, expected, words):
    msg = failure(checks.check_shape, np.zeros(got_shape), expected, "outputs")
    assert f"expected shape: {expected}" in msg and f"got shape:      {got_shape}" in msg
    for word in words:
        assert word in msg


def test_check_shape_none_and_ragged():
    assert "forget `return`" in failure(checks.check_shape, None, (2,), "f(...)")
    assert "not a rectangular array" in failure(checks.check_shape, [[1, 2], [3]], (2, 2), "f(...)")


# ----------------------------------------------------------------------------
# check_close
# ----------------------------------------------------------------------------


def test_check_close_accepts_correct_answers_in_any_form(capsys):
    quiet(capsys, checks.check_close, [0.5, 0.25], np.array([0.5, 0.25]), "f(...)")
    quiet(capsys, checks.check_close, np.float32(0.1), 0.1, "f(...)", rtol=1e-6)
    quiet(capsys, checks.check_close, 0.875, np.array(35 / 40), "recall")
    quiet(capsys, checks.check_close, [[1.0]], 1.0, "one value")  # size-1 shapes are forgiven
    quiet(capsys, checks.check_close, [np.nan, 1.0], [np.nan, 1.0], "per_step")  # NaN equals NaN
    torch = pytest.importorskip("torch")
    quiet(capsys, checks.check_close, torch.tensor([0.5, 0.25], requires_grad=True), [0.5, 0.25], "f(...)")


@pytest.mark.parametrize(
    "got_fn, words",
    [
        (lambda e: e * 5, ["5 times too large", "sum where a mean"]),
        (lambda e: e / 4, ["4 times too small"]),
        (lambda e: -e, ["sign is flipped"]),
        (lambda e: e[::-1], ["wrong places"]),
        (lambda e: np.where(e > 0.5, np.nan, e), ["NaN"]),
        (lambda e: np.where(e > 0.5, np.inf, e), ["inf", "overflow"]),
    ],
)
def test_check_close_recognises_generic_slips(got_fn, words):
    expected = np.array([0.2, 0.4, 0.9, 0.7])
    msg = failure(checks.check_close, got_fn(expected), expected, "loss(...)")
    assert msg.startswith("loss(...): the values are not what was expected.")
    assert "expected: array of shape (4,)" in msg and "got:" in msg
    for word in words:
        assert word in msg


def test_check_close_named_mistakes_win_and_hint_is_fallback():
    x = np.array([1.0, 2.0])
    msg = failure(
        checks.check_close,
        np.tanh(x),
        np.tanh(x + 0.5),
        "rnn_step(...)",
        mistakes={"you left out the bias b_h": np.tanh(x), "never this": x},
    )
    assert "likely mistake: you left out the bias b_h" in msg
    msg = failure(checks.check_close, [9.0, 9.5], [1.0, 2.0], "f(...)", hint="read the formula again")
    assert "likely mistake: read the formula again" in msg


def test_check_close_wrong_shape_and_non_numeric():
    msg = failure(checks.check_close, np.zeros((3, 2)), np.zeros((2, 3)), "h")
    assert "wrong shape" in msg
    assert "forget `return`" in failure(checks.check_close, None, 1.0, "f(...)")
    assert "should be numeric" in failure(checks.check_close, "0.5", 0.5, "f(...)")


# ----------------------------------------------------------------------------
# check_equal, check_raises, check_choice
# ----------------------------------------------------------------------------


def test_check_equal(capsys):
    quiet(capsys, checks.check_equal, [[1, 2], [3, 4]], np.array([[1, 2], [3, 4]]), "cm")
    quiet(capsys, checks.check_equal, "b", "b", "answer")
    msg = failure(
        checks.check_equal,
        [[1, 3], [2, 4]],
        [[1, 2], [3, 4]],
        "cm",
        mistakes={"rows and columns swapped": [[1, 3], [2, 4]]},
    )
    assert "not what was expected" in msg and "likely mistake: rows and columns swapped" in msg
    assert "got:      'c'" in failure(checks.check_equal, "c", "b", "answer")


def test_check_raises(capsys):
    def bad_size():
        raise ValueError("expected 8 features, got 10")

    quiet(capsys, checks.check_raises, bad_size, ValueError, "check_input(...)", must_mention=[8, 10])
    msg = failure(checks.check_raises, bad_size, ValueError, "check_input(...)", must_mention=["8", "12"])
    assert "does not mention '12'" in msg and "expected 8 features" in msg
    msg = failure(checks.check_raises, lambda: None, ValueError, "check_input(...)", hint="compare x.shape[-1]")
    assert "raised nothing" in msg and "compare x.shape[-1]" in msg
    msg = failure(checks.check_raises, lambda: 1 / 0, (ValueError, TypeError), "check_input(...)")
    assert "should raise ValueError or TypeError, but it raised ZeroDivisionError" in msg


def test_check_choice(capsys):
    quiet(capsys, checks.check_choice, " B ", "b", "answer_why_rnn", options="abcd")
    msg = failure(
        checks.check_choice, "a", "b", "answer_why_rnn", explanations={"a": "an RNN reads one step at a time"}
    )
    assert "'a' is not the best answer" in msg and "why not: an RNN reads one step at a time" in msg
    assert "not one of the options" in failure(checks.check_choice, "e", "b", "answer", options="abcd")


def test_number_helpers():
    assert checks.is_number(1) and checks.is_number(np.float32(0.5)) and checks.is_number(np.array(2.0))
    assert not checks.is_number(True) and not checks.is_number("1") and not checks.is_number(np.zeros(2))
    assert checks.finite(0.5) and not checks.finite(float("nan")) and not checks.finite(np.inf)


# ----------------------------------------------------------------------------
# exercise() and the score
# ----------------------------------------------------------------------------


def test_exercise_pass_fail_and_score(capsys):
    with checks.exercise("test_rnn_step", points=2):
        checks.check_close(1.0, 1.0, "x")
    out = capsys.readouterr().out
    assert out.strip() == "[PASS] test_rnn_step: 2/2 points. Score so far: 2/2."

    with pytest.raises(CheckFailure):
        with checks.exercise("test_rnn_forward", points=3):
            checks.check_close(2.0, 1.0, "rnn_forward(...)")
    out = capsys.readouterr().out
    assert "[FAIL] test_rnn_forward: 0/3 points. Score so far: 2/5." in out
    assert "run this cell again" in out

    # a stub raises NotImplementedError: the line names it and the error is re-raised
    with pytest.raises(NotImplementedError):
        with checks.exercise("test_answer", points=1):
            raise NotImplementedError()
    out = capsys.readouterr().out
    assert "[FAIL] test_answer (NotImplementedError): 0/1 points. Score so far: 2/6." in out
    assert "hint: this exercise is not written yet: replace `raise NotImplementedError()`" in out

    # fixing the answer and re-running the cell replaces its result, never double counts
    with checks.exercise("test_rnn_forward", points=3):
        pass
    assert "Score so far: 5/6." in capsys.readouterr().out
    assert checks.score(verbose=False) == (5, 6)

    earned, possible = checks.score()
    out = capsys.readouterr().out
    assert (earned, possible) == (5, 6)
    assert "[PASS] test_rnn_step: 2/2" in out and "[FAIL] test_answer: 0/1" in out
    assert "Score so far (visible tests): 5/6" in out

    checks.reset_score()
    assert checks.score(verbose=False) == (0, 0)


def test_exercise_names_an_undefined_answer(capsys):
    namespace = {}
    with pytest.raises(NameError):
        with checks.exercise("test_answer_why_rnn", points=1):
            exec("answer_why_rnn.strip()", namespace)  # the answer cell was never run
    out = capsys.readouterr().out
    assert "[FAIL] test_answer_why_rnn (NameError)" in out
    assert "hint: `answer_why_rnn` is not defined: run the cell above that defines it" in out


def test_exercise_fractional_points(capsys):
    with checks.exercise("test_half", points=0.5):
        pass
    assert "0.5/0.5 points" in capsys.readouterr().out


# ----------------------------------------------------------------------------
# the course-specific diagnostics
# ----------------------------------------------------------------------------


def test_check_sequence_shape_batch_first(capsys):
    quiet(
        capsys, checks.check_sequence_shape, np.zeros((2, 4, 5)), batch=2, time=4, batch_first=True, what="x", rest=(5,)
    )
    quiet(
        capsys,
        checks.check_sequence_shape,
        np.zeros((4, 2, 5)),
        batch=2,
        time=4,
        batch_first=False,
        what="x",
        rest=(5,),
    )
    msg = failure(
        checks.check_sequence_shape, np.zeros((4, 2, 5)), batch=2, time=4, batch_first=True, what="x", rest=(5,)
    )
    assert "expected shape: (2, 4, 5)" in msg
    assert "this looks time-major" in msg and "batch_first=True" in msg
    msg = failure(
        checks.check_sequence_shape, np.zeros((2, 4, 5)), batch=2, time=4, batch_first=False, what="x", rest=(5,)
    )
    assert "this looks batch-first" in msg and "batch_first=False" in msg
    msg = failure(checks.check_sequence_shape, np.zeros((4, 5)), batch=1, time=4, batch_first=True, what="x", rest=(5,))
    assert "batch axis" in msg
    msg = failure(
        checks.check_sequence_shape, np.zeros((2, 4, 7)), batch=2, time=4, batch_first=True, what="x", rest=(5,)
    )
    assert "expects (batch, time, ...)" in msg
    with pytest.raises(TypeError, match="batch_first"):
        checks.check_sequence_shape(np.zeros((2, 4)), batch=2, time=4, batch_first="yes", what="x")


def _token_losses(seed=0, batch=3, steps=5):
    rng = np.random.default_rng(seed)
    return rng.random((batch, steps)) * 2 + 0.1


def test_check_loss_recognises_reductions(capsys):
    losses = _token_losses()
    B, T = losses.shape
    mean = losses.mean()
    quiet(capsys, checks.check_loss, np.float32(mean), mean, "masked_cross_entropy(...)", num_steps=T, batch_size=B)
    cases = {
        losses.sum(axis=1).mean(): f"{T} times too large (T = {T} time steps): did you sum over time",
        losses.sum(axis=0).mean(): f"{B} times too large (batch size {B})",
        losses.sum(): f"{T * B} times too large",
        mean / np.log(2): "log base 2",
        -mean: "sign is flipped",
        mean / T: "divide by the number of steps twice",
        float("nan"): "NaN or inf",
    }
    for wrong, words in cases.items():
        msg = failure(checks.check_loss, wrong, mean, "masked_cross_entropy(...)", num_steps=T, batch_size=B)
        assert "the loss is not what was expected" in msg
        assert words in msg, (words, msg)


def test_check_loss_without_sizes_falls_back_to_ratio():
    msg = failure(checks.check_loss, 6.0, 2.0, "loss")
    assert "3 times too large" in msg


def test_check_precision_recall(capsys):
    cm = np.array([[50, 10], [5, 35]])
    tp, fp, fn = cm[1, 1], cm[0, 1], cm[1, 0]
    p, r = tp / (tp + fp), tp / (tp + fn)
    quiet(capsys, checks.check_precision_recall, float(p), np.float64(r), p, r, "precision/recall")
    msg = failure(checks.check_precision_recall, r, p, p, r, "precision/recall")
    assert "precision and recall look swapped" in msg
    assert f"precision {p:.6g}" in msg and f"precision {r:.6g}" in msg
    msg = failure(checks.check_precision_recall, p, 0.5, p, r, "metrics")
    assert msg.startswith("metrics recall:")
    msg = failure(checks.check_precision_recall, 0.1, 0.2, p, r, "metrics")
    assert "both are off" in msg


def test_check_confusion_matrix(capsys):
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 2])  # not symmetric, so a transpose shows
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(y_true, y_pred)
    quiet(capsys, checks.check_confusion_matrix, cm.tolist(), cm, "confusion_matrix(...)")
    assert "rows and columns are swapped" in failure(checks.check_confusion_matrix, cm.T, cm, "confusion_matrix(...)")
    msg = failure(checks.check_confusion_matrix, cm[:2, :2], cm, "confusion_matrix(...)")
    assert "wrong shape" in msg and "num_classes" in msg
    msg = failure(checks.check_confusion_matrix, cm * 2, cm, "confusion_matrix(...)")
    assert "add up to 12" in msg and "6 samples" in msg
    assert "integer counts" in failure(checks.check_confusion_matrix, cm.astype(str), cm, "confusion_matrix(...)")
    assert "forget `return`" in failure(checks.check_confusion_matrix, None, cm, "confusion_matrix(...)")


def test_metric_mistakes_against_sklearn():
    from sklearn.metrics import f1_score, precision_score, recall_score

    y_true = np.array([0] * 60 + [1] * 40)
    y_pred = np.array([0] * 50 + [1] * 10 + [0] * 5 + [1] * 35)  # the spec's [[50, 10], [5, 35]]
    cm = np.array([[50, 10], [5, 35]])
    p, r = precision_score(y_true, y_pred), recall_score(y_true, y_pred)
    precision_slips = checks.metric_mistakes(cm, "precision")
    assert r in precision_slips.values()  # recall computed instead of precision
    assert precision_score(y_true, y_pred, pos_label=0) in precision_slips.values()
    assert precision_score(y_pred, y_true) in precision_slips.values()  # rows/columns read the wrong way
    msg = failure(checks.check_close, r, p, "precision(cm)", mistakes=precision_slips)
    assert "you computed recall" in msg
    msg = failure(checks.check_close, p, r, "recall(cm)", mistakes=checks.metric_mistakes(cm, "recall"))
    assert "you computed precision" in msg
    msg = failure(
        checks.check_close, (p + r) / 2, f1_score(y_true, y_pred), "f1(cm)", mistakes=checks.metric_mistakes(cm, "f1")
    )
    assert "harmonic mean" in msg
    msg = failure(checks.check_close, 35 / 100, 0.85, "accuracy(cm)", mistakes=checks.metric_mistakes(cm, "accuracy"))
    assert "trace / total" in msg
    # a symmetric matrix: transposing changes nothing, so that slip is not offered
    assert not any("wrong way round" in d for d in checks.metric_mistakes([[5, 2], [2, 5]], "precision"))
    with pytest.raises(ValueError, match="metric"):
        checks.metric_mistakes(cm, "auc")
    with pytest.raises(ValueError, match="cm"):
        checks.metric_mistakes([1, 2], "recall")
    with pytest.raises(ValueError, match="positive"):
        checks.metric_mistakes(cm, "recall", positive=2)
