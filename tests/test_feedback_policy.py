"""Issue 11 §9, "visible tests a student can trust", for every assignment.

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

from utils.checks import (
    CheckFailure,
    check_close,
    check_equal,
    check_loss,
    check_raises,
    check_shape,
    check_true,
    hidden_case,
)

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
            check_close(
                no_bias,
                expected,
                "rnn_step(x_t, h_prev, W_xh, W_hh, b_h)",
                mistakes={"you left out the bias b_h": no_bias},
            )

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
            check_raises(
                lambda: (_ for _ in ()).throw(ValueError("expects 13 features, x has 29")),
                ValueError,
                "check_input(RNN(13, 5), x of shape (6, 29))",
                must_mention=("13", "29", "nothing"),
            )

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


# ----------------------------------------------------------------------------- the assignments

import re  # noqa: E402

from tests.harness import _meta, exercise_notebook  # noqa: E402

HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.]*\d)")


def _hidden_block(source: str) -> str:
    return "\n".join(part.split(HIDDEN_END, 1)[0] for part in source.split(HIDDEN_BEGIN)[1:])


def _visible_text(source: str) -> str:
    head, *rest = source.split(HIDDEN_BEGIN)
    return head + "".join(part.split(HIDDEN_END, 1)[-1] for part in rest)


def _numbers(text: str) -> set:
    return set(_NUMBER.findall(text))


def assert_hidden_feedback(stem: str, exercise: str, source: str, kind: str, mistake: str | None = None) -> None:
    """`source` passes every visible case of `exercise` and fails a hidden one, whose message names the
    kind of case (and the mistake) and quotes no number that only the hidden block writes, nor any number
    the visible text of the cell does not show (a computed expected value, a returned value)."""
    nb = exercise_notebook(stem)
    visible = nb.check_release(exercise, source)
    assert all(r.passed for r in visible.values()), f"{stem}/{exercise}: the variant fails a visible case: {visible}"
    results = nb.check(exercise, source)
    failed = [r for r in results.values() if not r.passed]
    assert failed, f"{stem}/{exercise}: the variant passed the hidden cases too"
    cells = {_meta(c)["grade_id"]: c.source for c in nb.tests[exercise]}
    for r in failed:
        text = r.message
        assert text.startswith("a hidden case: "), text
        assert kind in text, (kind, text)
        if mistake:
            assert mistake in text, (mistake, text)
        told = text.split("\n", 1)[1] if "\n" in text else ""  # the first line is the author's kind of case
        source_text = cells[r.grade_id]
        shown_in_cell = _numbers(_visible_text(source_text))
        hidden_only = _numbers(_hidden_block(source_text)) - shown_in_cell
        quoted = _numbers(told)
        assert not quoted & hidden_only, f"{r.grade_id}: hidden values {quoted & hidden_only} in:\n{text}"
        assert quoted <= shown_in_cell, (
            f"{r.grade_id}: values {quoted - shown_in_cell} not in the visible cell:\n{text}"
        )


def assert_misses_only(stem: str, exercise: str, source: str, cell: str, phrase: str) -> None:
    """`source` misses one stated edge case: it fails `cell` (visibly, with `phrase`) and no other cell."""
    nb = exercise_notebook(stem)
    for run in (nb.check, nb.check_release):
        results = run(exercise, source)
        failed = sorted(gid for gid, r in results.items() if not r.passed)
        assert failed == [cell], f"{stem}/{exercise}: failed {failed}, expected only {cell}: {results}"
        assert phrase in results[cell].message, (phrase, results[cell].message)


def _def(signature: str, *body: str) -> str:
    return f"def {signature}:\n" + "".join(f"    {line}\n" for line in body)


# -- 01_hidden_state

STEP = "rnn_step(x_t, h_prev, W_xh, W_hh, b_h)"
FORWARD = "rnn_forward(x, h0, W_xh, W_hh, b_h)"
HIDDEN_01 = {
    "rnn_step clips the pre-activation": (
        "rnn_step",
        _def(STEP, "return np.tanh(np.clip(x_t @ W_xh + h_prev @ W_hh + b_h, -6, 6))"),
        "large inputs",
        None,
    ),
    "rnn_forward loops over x[:, t] when seq_len == batch": (
        "rnn_forward",
        _def(
            FORWARD,
            "h, states = h0, []",
            "steps = [x[:, t] for t in range(x.shape[1])] if x.shape[0] == x.shape[1] else list(x)",
            "for x_t in steps:",
            "    h = rnn_step(x_t, h, W_xh, W_hh, b_h)",
            "    states.append(h)",
            "return np.stack(states), h",
        ),
        "seq_len equal to batch",
        "time-major and batch-major are mixed up",
    ),
    "rnn_forward with a buffer of 20 steps": (
        "rnn_forward",
        _def(
            FORWARD,
            "out = np.zeros((20,) + np.shape(h0))",
            "h = h0",
            "for t in range(len(x)):",
            "    h = rnn_step(x[t], h, W_xh, W_hh, b_h)",
            "    out[t] = h",
            "return out[:len(x)], h",
        ),
        "a long sequence",
        "your code raised IndexError",
    ),
}
EDGE_01 = {
    "rnn_forward squeezes": (
        "rnn_forward",
        _def(
            FORWARD,
            "h, states = h0, []",
            "for x_t in x:",
            "    h = rnn_step(x_t, h, W_xh, W_hh, b_h)",
            "    states.append(h)",
            "return np.squeeze(np.stack(states)), np.squeeze(h)",
        ),
        "test_rnn_forward__single",
        "no squeeze",
    ),
}


# -- 02_rnn_shapes_pytorch (its stated requirements are the options and forms; no edge case is stated)

SHAPES = (
    "expected_rnn_shapes(seq_len, batch, input_size, hidden_size, num_layers=1, bidirectional=False, batch_first=False)"
)
HIDDEN_02 = {
    "D * num_layers written as num_layers + D - 1": (
        "expected_rnn_shapes",
        _def(
            SHAPES,
            "D = 2 if bidirectional else 1",
            "out = (batch, seq_len, D * hidden_size) if batch_first else (seq_len, batch, D * hidden_size)",
            "return out, (num_layers + D - 1, batch, hidden_size)",
        ),
        "bidirectional",
        None,
    ),
    "make_rnn with the visible sizes written in": (
        "make_rnn",
        _def("make_rnn(input_size, hidden_size)", "return torch.nn.RNN(10, 20, num_layers=2, batch_first=True)"),
        "other sizes",
        "use the argument input_size",
    ),
    "check_input's message with the visible size written in": (
        "check_input",
        _def(
            "check_input(layer, x)",
            "if x.shape[-1] != layer.input_size:",
            "    raise ValueError(f'the layer expects 8 features, but x has {x.shape[-1]}')",
        ),
        "a batch_first layer",
        "does not mention the sizes",
    ),
}


# -- 03_classification_metrics

CM = "confusion_matrix(y_true, y_pred, num_classes)"
THRESHOLD = "threshold_for_recall(y_true, scores, min_recall)"
HIDDEN_03 = {
    "counts in int8 overflow on many samples": (
        "confusion_matrix",
        _def(
            CM,
            "cm = np.zeros((num_classes, num_classes), dtype=np.int8)",
            "np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)",
            "return cm",
        ),
        "many samples",
        None,
    ),
    "precision swapped with recall on large matrices": (
        "precision",
        _def(
            "precision(cm, positive=1)",
            "cm = np.asarray(cm)",
            "den = cm[positive].sum() if cm.sum() > 1000 else cm[:, positive].sum()",
            "return cm[positive, positive] / den if den else 0.0",
        ),
        "imbalanced classes",
        "swapped",
    ),
    "thresholds rounded to two decimals": (
        "threshold_for_recall",
        _def(
            THRESHOLD,
            "y, s = np.asarray(y_true), np.round(np.asarray(scores, dtype=float), 2)",
            "if not (y == 1).any():",
            "    raise ValueError('y_true has no positive sample')",
            "for t in np.unique(s)[::-1]:",
            "    if np.mean(s[y == 1] >= t) >= min_recall:",
            "        return float(t)",
        ),
        "many scores",
        None,
    ),
}
EDGE_03 = {
    "size from the labels seen": (
        "confusion_matrix",
        _def(
            CM,
            "k = int(max(max(y_true), max(y_pred))) + 1",
            "cm = np.zeros((k, k), dtype=int)",
            "np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)",
            "return cm",
        ),
        "test_confusion_matrix__absent_class",
        "num_classes for the size",
    ),
    "precision divides by zero": (
        "precision",
        _def(
            "precision(cm, positive=1)", "cm = np.asarray(cm)", "return cm[positive, positive] / cm[:, positive].sum()"
        ),
        "test_precision__undefined",
        "return 0.0",
    ),
    "a dict keyed by score loses tied samples": (
        "threshold_for_recall",
        _def(
            THRESHOLD,
            "label_of = dict(zip(map(float, scores), map(int, y_true)))",
            "if 1 not in list(map(int, y_true)):",
            "    raise ValueError('y_true has no positive sample')",
            "positives = [s for s, y in label_of.items() if y == 1]",
            "for t in sorted(label_of, reverse=True):",
            "    if sum(s >= t for s in positives) / len(positives) >= min_recall:",
            "        return t",
        ),
        "test_threshold_for_recall__ties",
        "expected",
    ),
    "no error without a positive": (
        "threshold_for_recall",
        _def(
            THRESHOLD,
            "y, s = np.asarray(y_true), np.asarray(scores, dtype=float)",
            "for t in np.unique(s)[::-1]:",
            "    if (y == 1).any() and np.mean(s[y == 1] >= t) >= min_recall:",
            "        return float(t)",
            "return float(s.min())",
        ),
        "test_threshold_for_recall__no_positive",
        "raise ValueError",
    ),
}


# -- 04_sequence_metrics

HIDDEN_04 = {
    "token_accuracy over the first 10 rows only": (
        "token_accuracy",
        _def(
            "token_accuracy(y_true, y_pred, mask)",
            "y_true, y_pred, mask = (np.asarray(a)[:10] for a in (y_true, y_pred, mask))",
            "return float((y_true == y_pred)[mask.astype(bool)].mean())",
        ),
        "a larger batch",
        None,
    ),
    "masked_mse divides by the rows on larger batches": (
        "masked_mse",
        _def(
            "masked_mse(y_true, y_pred, mask)",
            "d = (np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float))",
            "m = np.asarray(mask, dtype=bool)",
            "return float((d ** 2)[m].mean()) if m.shape[0] < 20 else float((d ** 2)[m].sum() / m.shape[0])",
        ),
        "another batch with holes anywhere",
        None,
    ),
}
EDGE_04 = {
    "per_step_confusion drops fully padded steps": (
        "per_step_confusion",
        _def(
            "per_step_confusion(y_true, y_pred, mask)",
            "y_true, y_pred, mask = np.asarray(y_true), np.asarray(y_pred), np.asarray(mask, dtype=bool)",
            "keep = mask.any(axis=0)",
            "cm = np.zeros((int(keep.sum()), 2, 2), dtype=int)",
            "for a in (0, 1):",
            "    for p in (0, 1):",
            "        cm[:, a, p] = ((y_true == a) & (y_pred == p) & mask).sum(axis=0)[keep]",
            "return cm",
        ),
        "test_per_step_confusion__fully_padded",
        "EVERY step",
    ),
    "sequence_accuracy counts empty rows as right": (
        "sequence_accuracy",
        _def(
            "sequence_accuracy(y_true, y_pred, mask)",
            "y_true, y_pred, mask = np.asarray(y_true), np.asarray(y_pred), np.asarray(mask, dtype=bool)",
            "return float(((y_true == y_pred) | ~mask).all(axis=1).mean())",
        ),
        "test_sequence_accuracy__empty_rows",
        "counted as a right sequence",
    ),
    "per_step_loss gives 0 at a fully padded step": (
        "per_step_loss",
        _def(
            "per_step_loss(logits, targets, mask)",
            "z = np.asarray(logits, dtype=float)",
            "y = np.asarray(targets)",
            "m = np.asarray(mask, dtype=bool)",
            "z = z - z.max(axis=-1, keepdims=True)",
            "logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))",
            "tok = -np.take_along_axis(logp, np.where(m, y, 0)[..., None], axis=-1)[..., 0]",
            "return np.where(m, tok, 0).sum(axis=0) / np.maximum(m.sum(axis=0), 1)",
        ),
        "test_per_step_loss__fully_padded",
        "should be NaN",
    ),
    "per_step_loss without the log-sum-exp trick": (
        "per_step_loss",
        _def(
            "per_step_loss(logits, targets, mask)",
            "z = np.asarray(logits, dtype=float)",
            "y = np.asarray(targets)",
            "m = np.asarray(mask, dtype=bool)",
            "with np.errstate(over='ignore', invalid='ignore', divide='ignore'):",
            "    logp = np.log(np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True))",
            "    tok = -np.take_along_axis(logp, np.where(m, y, 0)[..., None], axis=-1)[..., 0]",
            "    real = m.sum(axis=0)",
            "    return np.where(real > 0, np.where(m, tok, 0).sum(axis=0) / np.maximum(real, 1), np.nan)",
        ),
        "test_per_step_loss__huge_logits",
        "log-sum-exp",
    ),
}


HIDDEN_02_TF = {
    "the visible units written in": (
        "expected_simple_rnn_shapes",
        _def(
            "expected_simple_rnn_shapes(batch, time, features, units, return_sequences=False, return_state=False)",
            "out = (batch, time, 3) if return_sequences else (batch, 3)",
            "return (out, (batch, 3)) if return_state else out",
        ),
        "other sizes",
        None,
    ),
    "make_rnn with the visible units written in": (
        "make_rnn",
        _def("make_rnn(units)", "return keras.layers.SimpleRNN(20, return_sequences=True, return_state=True)"),
        "other sizes",
        "pass the argument units",
    ),
    "check_input's message with the visible size written in": (
        "check_input",
        _def(
            "check_input(layer, x)",
            "if x.shape[-1] != layer.cell.kernel.shape[0]:",
            "    raise ValueError(f'the layer expects 8 features, but x has {x.shape[-1]}')",
        ),
        "a tf tensor x",
        "name both",
    ),
}

# -- 05_sequence_classification (both tracks: evaluate and choose_threshold are framework-free)

EVALUATE = "evaluate(y_true, proba, threshold=0.5)"
CHOOSE_T = "choose_threshold(y_true, scores, metric, goal)"
HIDDEN_05 = {
    "evaluate ignores a high threshold": (
        "evaluate",
        _def(
            EVALUATE,
            "y = np.asarray(y_true).astype(int)",
            "t = 0.5 if threshold > 0.75 else threshold",
            "p = (np.asarray(proba, dtype=float) >= t).astype(int)",
            "return {'accuracy': metrics.accuracy_score(y, p),",
            "        'precision': metrics.precision_score(y, p, zero_division=0),",
            "        'recall': metrics.recall_score(y, p, zero_division=0),",
            "        'f1': metrics.f1_score(y, p, zero_division=0),",
            "        'confusion_matrix': metrics.confusion_matrix(y, p, labels=[0, 1])}",
        ),
        "at a high threshold",
        "threshold argument was ignored",
    ),
    "choose_threshold loses ties when few scores are distinct": (
        "choose_threshold",
        _def(
            CHOOSE_T,
            "y, s = np.asarray(y_true).astype(int), np.asarray(scores, dtype=float)",
            "f = metrics.precision_score if metric == 'precision' else metrics.recall_score",
            "strict = len(np.unique(s)) < 20",
            "good = [t for t in np.unique(s) "
            "if f(y, ((s > t) if strict else (s >= t)).astype(int), zero_division=0) >= goal]",
            "return (float(min(good)) if metric == 'precision' else float(max(good))) if good else None",
        ),
        "many tied scores",
        None,
    ),
}
SPAM = (
    "class SpamRNN(nn.Module):\n"
    "    def __init__(self, vocab_size, embed_dim, hidden_size):\n"
    "        super().__init__()\n"
    "        self.embedding = nn.Embedding(vocab_size, embed_dim)\n"
    "        self.rnn = nn.RNN(embed_dim, hidden_size, batch_first=True)\n"
    "        self.out = nn.Linear(hidden_size, 1)\n"
    "    def forward(self, x):\n"
    "        outputs, _ = self.rnn(self.embedding(x))\n"
    "        return self.out(outputs[:, {step}]){squeeze}\n"
)
HIDDEN_05_PT = {
    **HIDDEN_05,
    "SpamRNN reads at most 8 steps": (
        "SpamRNN",
        SPAM.format(step="min(x.shape[1], 8) - 1", squeeze=".squeeze(-1)"),
        "a longer sequence",
        None,
    ),
}
EDGE_05_PT = {
    "SpamRNN squeezes every axis": (
        "SpamRNN",
        SPAM.format(step="-1", squeeze=".squeeze()"),
        "test_SpamRNN__batch_of_one",
        "squeeze only the last axis",
    ),
}


# -- 06_sequence_prediction (both tracks)

EPS = "evaluate_per_step(model, inputs, targets, mask)"
_EPS_BODY = (
    "logits = np.asarray(predict(model, inputs), dtype=np.float64)",
    "targets, mask = np.asarray(targets), np.asarray(mask, dtype=bool)",
    "z = logits - logits.max(axis=-1, keepdims=True)",
    "logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))",
    "tok = -np.take_along_axis(logp, np.where(mask, targets, 0)[..., None], axis=-1)[..., 0]",
    "real = mask.sum(axis=0)",
    "acc = metrics.per_step_scores(targets, logits.argmax(axis=-1), metric='accuracy', mask=mask)",
)
HIDDEN_06 = {
    "predict_next feeds at most the first 8 tokens": (
        "predict_next",
        _def(
            "predict_next(model, prefix)",
            "hidden = None",
            "for token in list(prefix)[:8]:",
            "    logits, hidden = model([[token]], hidden, return_state=True)",
            "out = logits.detach().numpy() if hasattr(logits, 'detach') else np.asarray(logits)",
            "return int(np.argmax(out[0, -1]))",
        ),
        "random prefixes of other lengths",
        None,
    ),
    "shift_for_next_token keeps at most 20 steps": (
        "shift_for_next_token",
        _def(
            "shift_for_next_token(tokens)",
            "tokens = np.asarray(tokens)[:, :21]",
            "return tokens[:, :-1], tokens[:, 1:]",
        ),
        "long sentences",
        None,
    ),
    "evaluate_per_step divides by the batch on larger batches": (
        "evaluate_per_step",
        _def(
            EPS,
            *_EPS_BODY,
            "den = np.full(real.shape, len(mask)) if len(mask) > 6 else np.maximum(real, 1)",
            "loss = np.where(real > 0, np.where(mask, tok, 0).sum(axis=0) / den, np.nan)",
            "return {'loss': loss, 'accuracy': acc, 'perplexity': float(np.exp(tok[mask].mean()))}",
        ),
        "another model and a larger batch",
        None,
    ),
}
EDGE_06 = {
    "evaluate_per_step gives 0 at a fully padded step": (
        "evaluate_per_step",
        _def(
            EPS,
            *_EPS_BODY,
            "loss = np.where(mask, tok, 0).sum(axis=0) / np.maximum(real, 1)",
            "return {'loss': loss, 'accuracy': acc, 'perplexity': float(np.exp(tok[mask].mean()))}",
        ),
        "test_evaluate_per_step__fully_padded",
        "should be NaN",
    ),
    "evaluate_per_step without the log-sum-exp trick": (
        "evaluate_per_step",
        _def(
            EPS,
            "logits = np.asarray(predict(model, inputs), dtype=np.float64)",
            "targets, mask = np.asarray(targets), np.asarray(mask, dtype=bool)",
            "with np.errstate(all='ignore'):",
            "    logp = np.log(np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True))",
            "    tok = -np.take_along_axis(logp, np.where(mask, targets, 0)[..., None], axis=-1)[..., 0]",
            "    real = mask.sum(axis=0)",
            "    loss = np.where(real > 0, np.where(mask, tok, 0).sum(axis=0) / np.maximum(real, 1), np.nan)",
            "acc = metrics.per_step_scores(targets, logits.argmax(axis=-1), metric='accuracy', mask=mask)",
            "return {'loss': loss, 'accuracy': acc, 'perplexity': float(np.exp(tok[mask].mean()))}",
        ),
        "test_evaluate_per_step__huge_logits",
        "log-sum-exp",
    ),
}


# -- 08_lstm_gru_padding (both tracks: the numpy exercises)

HIDDEN_08 = {
    "lengths_to_mask squeezes the lengths": (
        "lengths_to_mask",
        _def(
            "lengths_to_mask(lengths, max_len)",
            "return np.arange(max_len)[None, :] < np.asarray(lengths).squeeze()[:, None]",
        ),
        "a batch of one",
        "IndexError",
    ),
    "clip_by_global_norm indexes the first axis of every gradient": (
        "clip_by_global_norm",
        _def(
            "clip_by_global_norm(grads, max_norm)",
            "grads = [np.asarray(g, dtype=float) for g in grads]",
            "norm = float(np.sqrt(sum((g.reshape(g.shape[0], -1) ** 2).sum() for g in grads)))",
            "scale = min(1.0, max_norm / norm) if norm > 0 else 1.0",
            "return [g * scale for g in grads], norm",
        ),
        "a scalar gradient",
        "IndexError",
    ),
}


# -- 07_metric_pitfalls

REPORT = "model_report(y_true, y_pred)"
_COUNTS = (
    "y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)",
    "tp = int(np.sum((y_true == 1) & (y_pred == 1)))",
    "fp = int(np.sum((y_true == 0) & (y_pred == 1)))",
    "fn = int(np.sum((y_true == 1) & (y_pred == 0)))",
)
CHOOSE = "choose_model(reports, must, at_least, then_max)"
TYPED_DIAGNOSIS = (
    "return {'kestrel': 'accuracy_paradox', 'heron': 'leakage', 'osprey': 'overfitting', "
    "'plover': 'ignores_order', 'wren': 'none', 'finch': 'none', 'lark': 'none', 'robin': 'none'}"
)
HIDDEN_07 = {
    "model_report swaps precision and recall on many samples": (
        "model_report",
        _def(
            REPORT,
            *_COUNTS,
            "p = tp / (tp + fp) if tp + fp else 0.0",
            "r = tp / (tp + fn) if tp + fn else 0.0",
            "if len(y_true) > 1000:",
            "    p, r = r, p",
            "f1 = 2 * p * r / (p + r) if p + r else 0.0",
            "return {'accuracy': float(np.mean(y_true == y_pred)), 'precision': p, 'recall': r, 'f1': f1}",
        ),
        "many imbalanced labels",
        "swapped",
    ),
    "accuracy_on reads the first 300 examples only": (
        "accuracy_on",
        _def(
            "accuracy_on(y_true, y_pred, where)",
            "w = np.asarray(where, dtype=bool)[:300]",
            "return float(np.mean((np.asarray(y_true)[:300] == np.asarray(y_pred)[:300])[w]))",
        ),
        "a slice of a clinic's test split",
        None,
    ),
    "best_epoch stops where the validation loss first stops falling": (
        "best_epoch",
        _def(
            "best_epoch(history)",
            "val = list(history['val_loss'])",
            "for i in range(len(val) - 1):",
            "    if val[i + 1] >= val[i]:",
            "        return i + 1",
            "return len(val)",
        ),
        "a drawn history",
        "first stops falling",
    ),
    "choose_model takes a floor below 0.6 as no requirement when several models compete": (
        "choose_model",
        _def(
            CHOOSE,
            "loose = at_least < 0.6 and len(reports) > 1",
            "ok = [m for m in reports if reports[m][must] >= at_least or loose]",
            "if not ok:",
            "    raise ValueError('no model meets the requirement')",
            "return max(ok, key=lambda m: reports[m][then_max])",
        ),
        "a lower floor",
        "you ignored the requirement",
    ),
    "diagnose typed in from the visible clinic": (
        "diagnose",
        _def("diagnose(clinic)", TYPED_DIAGNOSIS),
        "a clinic with renamed, reordered models",
        "do not type the names in",
    ),
    "choose_deployments typed in from the visible clinic": (
        "choose_deployments",
        _def("choose_deployments(clinic, diagnosis)", "return {'spam_filter': 'wren', 'screening': 'finch'}"),
        "a clinic with renamed, reordered models",
        "not a model of this clinic",
    ),
    "choose_deployments leaves out the visible clinic's leaky model by name": (
        "choose_deployments",
        _def(
            "choose_deployments(clinic, diagnosis)",
            "reports = {m: model_report(clinic.labels['val'], x.predictions['val'])",
            "           for m, x in clinic.models.items() if m != 'heron'}",
            "return {'spam_filter': choose_model(reports, 'precision', 0.95, 'recall'),",
            "        'screening': choose_model(reports, 'recall', 0.95, 'precision')}",
        ),
        "a clinic with renamed, reordered models",
        "diagnosed 'leakage'",
    ),
}
EDGE_07 = {
    "model_report divides by zero for recall": (
        "model_report",
        _def(
            REPORT,
            *_COUNTS,
            "p = tp / (tp + fp) if tp + fp else 0.0",
            "r = tp / (tp + fn)",
            "f1 = 2 * p * r / (p + r) if p + r else 0.0",
            "return {'accuracy': float(np.mean(y_true == y_pred)), 'precision': p, 'recall': r, 'f1': f1}",
        ),
        "test_model_report__undefined",
        "ZeroDivisionError",
    ),
    "best_epoch keeps the latest epoch on a tie": (
        "best_epoch",
        _def(
            "best_epoch(history)",
            "best, low = 0, float('inf')",
            "for i, loss in enumerate(history['val_loss']):",
            "    if loss <= low:",
            "        best, low = i, loss",
            "return best + 1",
        ),
        "test_best_epoch__tie",
        "return the earliest epoch",
    ),
    "choose_model keeps the last model on a tie": (
        "choose_model",
        _def(
            CHOOSE,
            "best = None",
            "for m, report in reports.items():",
            "    if report[must] >= at_least and (best is None or report[then_max] >= reports[best][then_max]):",
            "        best = m",
            "if best is None:",
            "    raise ValueError('no model meets the requirement')",
            "return best",
        ),
        "test_choose_model__tie",
        "in the order of `reports`",
    ),
    "choose_model returns None when no model qualifies": (
        "choose_model",
        _def(
            CHOOSE,
            "ok = [m for m in reports if reports[m][must] >= at_least]",
            "return max(ok, key=lambda m: reports[m][then_max]) if ok else None",
        ),
        "test_choose_model__none_qualifies",
        "raise ValueError",
    ),
}


HIDDEN = {
    "01_hidden_state": HIDDEN_01,
    "02_rnn_shapes_pytorch": HIDDEN_02,
    "02_rnn_shapes_tensorflow": HIDDEN_02_TF,
    "03_classification_metrics": HIDDEN_03,
    "04_sequence_metrics": HIDDEN_04,
    "05_sequence_classification_pytorch": HIDDEN_05_PT,
    "05_sequence_classification_tensorflow": HIDDEN_05,
    "06_sequence_prediction_pytorch": HIDDEN_06,
    "06_sequence_prediction_tensorflow": HIDDEN_06,
    "07_metric_pitfalls": HIDDEN_07,
    "08_lstm_gru_padding_pytorch": HIDDEN_08,
    "08_lstm_gru_padding_tensorflow": HIDDEN_08,
}
EDGES = {
    "01_hidden_state": EDGE_01,
    "03_classification_metrics": EDGE_03,
    "04_sequence_metrics": EDGE_04,
    "05_sequence_classification_pytorch": EDGE_05_PT,
    "06_sequence_prediction_pytorch": EDGE_06,
    "06_sequence_prediction_tensorflow": EDGE_06,
    "07_metric_pitfalls": EDGE_07,
}


@pytest.mark.parametrize("aid,label", [(aid, label) for aid, cases in HIDDEN.items() for label in cases])
def test_hidden_failures_name_the_kind_and_no_value(aid, label):
    exercise, source, kind, mistake = HIDDEN[aid][label]
    assert_hidden_feedback(aid, exercise, source, kind, mistake)


@pytest.mark.parametrize("aid,label", [(aid, label) for aid, cases in EDGES.items() for label in cases])
def test_each_edge_case_has_its_own_cell(aid, label):
    exercise, source, cell, phrase = EDGES[aid][label]
    assert_misses_only(aid, exercise, source, cell, phrase)
