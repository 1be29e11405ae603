"""`utils.evaluation`'s one definition of "good" and "bad" (spec section 3), on the course's own examples."""

import numpy as np
import pytest

from utils import evaluation, metrics


def _scores(cm):
    rows, cols = np.divmod(np.arange(cm.size), 2)
    truth, guess = np.repeat(rows, np.asarray(cm).ravel()), np.repeat(cols, np.asarray(cm).ravel())
    return (
        metrics.accuracy_score(truth, guess),
        metrics.precision_score(truth, guess, zero_division=0),
        metrics.recall_score(truth, guess),
        np.bincount(truth).max() / truth.size,
    )


def test_the_worked_matrix_of_topic_03_is_good():
    acc, prec, rec, base = _scores(np.array([[50, 10], [5, 35]]))
    assert evaluation.judge_scores(acc, prec, rec, baseline=base)[0] == "good"


def test_the_accuracy_paradox_is_bad_for_both_reasons():
    acc, prec, rec, base = _scores(np.array([[1957, 18], [22, 3]]))
    verdict, reasons = evaluation.judge_scores(acc, prec, rec, baseline=base)
    assert acc > 0.97 and verdict == "bad"
    assert any("baseline" in r for r in reasons) and any("recall" in r for r in reasons)


def test_high_accuracy_with_30_percent_recall_is_bad():
    acc, prec, rec, base = _scores(np.array([[900, 10], [70, 30]]))
    assert acc > 0.9 and abs(rec - 0.3) < 1e-12
    assert evaluation.judge_scores(acc, prec, rec)[0] == "bad"


@pytest.mark.parametrize(
    "per_step, scores, verdict",
    [
        (False, (0.80, 0.75, 0.75), "good"),  # on the bar counts as good
        (False, (0.79, 0.90, 0.90), "in between"),
        (True, (0.84, 0.90, 0.90), "in between"),  # per step the bar is stricter
        (True, (0.86, 0.81, 0.81), "good"),
        (False, (0.90, 0.49, 0.95), "bad"),
    ],
)
def test_the_bars(per_step, scores, verdict):
    assert evaluation.judge_scores(*scores, per_step=per_step)[0] == verdict
    bar = evaluation.GOOD_PER_STEP if per_step else evaluation.GOOD
    assert (verdict == "good") == all(s >= bar[k] for s, k in zip(scores, ("accuracy", "precision", "recall")))


def test_loss_curves_good_and_bad():
    steady = 2.0 * np.exp(-np.arange(12) / 3.0) + 0.3
    assert evaluation.judge_loss_curve(steady)[0] == "falls steadily"
    jumpy = steady.copy()
    jumpy[[3, 6, 9]] += 1.0
    assert evaluation.judge_loss_curve(jumpy)[0] == "jumps about"
    assert evaluation.judge_loss_curve([0.69, 0.70, 0.69, 0.68])[0] == "does not fall"
    assert evaluation.judge_loss_curve([0.69, 0.5, float("nan")])[0] == "does not fall"


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="recall must be a number between 0 and 1"):
        evaluation.judge_scores(0.9, 0.9, 1.5)
    with pytest.raises(ValueError, match="at least two losses"):
        evaluation.judge_loss_curve([0.5])
