"""Issue 11 §9, "visible tests a student can trust", for assignments 01-04.

1. A hidden case fails with the KIND of case and the likely mistake, never a
   hidden value: `utils.checks.hidden_case` (tested here first), and, for each
   assignment, a wrong answer that fails only a hidden case, whose message is
   searched for every value the source notebook's hidden blocks define.
2. All or nothing no more: every edge case the instructions state has a test
   cell of its own (`test_<exercise>__<edge>`).
3. Every requirement the instructions state has a visible case: a wrong answer
   that misses only that requirement fails a cell of the release.
"""

from __future__ import annotations

import numpy as np
import pytest

from utils.checks import CheckFailure, check_close, check_equal, check_loss, check_raises, check_shape, check_true, \
    hidden_case


# ----------------------------------------------------------------------------- utils.checks.hidden_case


def _message(fn) -> str:
    with pytest.raises(CheckFailure) as info:
        fn()
    return str(info.value)


def test_hidden_case_names_the_kind_and_the_mistake_but_no_value():
    expected = np.array([[0.123456, -0.654321]])
    no_bias = np.array([[0.5, 0.25]])

    def run():
        with hidden_case("a batch of one"):
            check_close(no_bias, expected, "rnn_step(x_t, h_prev, W_xh, W_hh, b_h)",
                        mistakes={"you left out the bias b_h": no_bias})
    text = _message(run)
    assert text.startswith("a hidden case: a batch of one\n"), text
    assert "you left out the bias b_h" in text
    assert "rnn_step(...)" in text and "W_xh" not in text
    for value in ("0.123", "0.654", "0.5", "0.25", "expected:", "got:"):
        assert value not in text, (value, text)


def test_hidden_case_hides_shapes_counts_and_the_learners_error_text():
    def shape():
        with hidden_case("other sizes"):
            check_shape(np.zeros((7, 13)), (13, 7), "outputs")
    text = _message(shape)
    assert "other sizes" in text and "wrong shape" in text and "swapped" in text
    assert "7" not in text and "13" not in text

    def loss():
        with hidden_case("a longer sequence"):
            check_loss(17 * 0.5, 0.5, "loss", num_steps=17, batch_size=3)
    text = _message(loss)
    assert "sum over time" in text and "17" not in text and "8.5" not in text

    def summed():
        with hidden_case("other sizes"):
            check_close(np.full(4, 11 * 0.3), np.full(4, 0.3), "per_step_loss(...)")
    text = _message(summed)
    assert "too large" in text and "11" not in text

    def raised():
        with hidden_case("an unbatched sequence"):
            check_raises(lambda: (_ for _ in ()).throw(ValueError("expects 13 features, x has 29")), ValueError,
                         "check_input(RNN(13, 5), x of shape (6, 29))", must_mention=("13", "29", "nothing"))
    text = _message(raised)
    assert "check_input(...)" in text and "13" not in text and "29" not in text

    def crashed():
        with hidden_case("a batch of one"):
            np.zeros((1, 37)) @ np.zeros((41, 2))
    text = _message(crashed)
    assert "ValueError" in text and "a batch of one" in text and "37" not in text and "41" not in text


def test_hidden_case_keeps_visible_messages_and_exercise_errors_as_they_were():
    def visible():
        check_equal(np.array([1, 2]), np.array([1, 3]), "counts")
    assert "expected" in _message(visible)  # outside a hidden case, values are shown

    with pytest.raises(NotImplementedError):
        with hidden_case("other sizes"):
            raise NotImplementedError()
    with hidden_case("other sizes"):
        check_true(True, "never shown")
    from utils import checks
    assert not checks._hidden()  # the stack unwinds, even after a failure

    def visible_case():
        with hidden_case(None):  # kind None: a visible case, shown as it is
            check_equal(np.array([1, 2]), np.array([1, 3]), "counts")
    assert "expected" in _message(visible_case)
