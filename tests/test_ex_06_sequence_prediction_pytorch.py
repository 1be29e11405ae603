"""Exercise tests of 06_sequence_prediction_pytorch: its variants (the tests: tests/exercise_support.py).

The variants that never touch the framework (`shift_for_next_token`, most
`evaluate_per_step` ones, a `predict_next` that goes through `predict`) are
graded the same way in both tracks: FRAMEWORK_FREE_WRONG and
FRAMEWORK_FREE_RIGHT are defined here once and the TensorFlow file imports
them. The `predict_next` variants that call the model and one
`evaluate_per_step` variant written with torch ops are PyTorch's.
"""

from __future__ import annotations

import pytest

from tests.exercise_support import exercise_tests, table

pytestmark = pytest.mark.slow
STEM = "06_sequence_prediction_pytorch"
EXERCISES = ["shift_for_next_token", "predict_next", "evaluate_per_step"]


# -- shift_for_next_token (both tracks) ---------------------------------------------

SHIFT_NOT_SHIFTED = """
def shift_for_next_token(tokens):
    tokens = np.asarray(tokens)
    return tokens[:, :-1], tokens[:, :-1]
"""

SHIFT_WRONG_WAY = """
def shift_for_next_token(tokens):
    tokens = np.asarray(tokens)
    return tokens[:, 1:], tokens[:, :-1]
"""

SHIFT_ROLL = """
def shift_for_next_token(tokens):
    tokens = np.asarray(tokens)
    return tokens, np.roll(tokens, -1, axis=1)
"""

SHIFT_BATCH_AXIS = """
def shift_for_next_token(tokens):
    tokens = np.asarray(tokens)
    return tokens[:-1], tokens[1:]
"""

SHIFT_TWO_STEPS = """
def shift_for_next_token(tokens):
    tokens = np.asarray(tokens)
    return tokens[:, :-2], tokens[:, 2:]
"""

SHIFT_LOOP_LISTS = """
def shift_for_next_token(tokens):
    inputs, targets = [], []
    for row in tokens:
        row = [int(v) for v in row]
        inputs.append(row[:-1])
        targets.append(row[1:])
    return inputs, targets
"""

SHIFT_DELETE = """
def shift_for_next_token(tokens):
    last = np.shape(tokens)[1] - 1
    return np.delete(tokens, last, axis=1), np.delete(tokens, 0, axis=1)
"""

SHIFT_WRONG = {
    "not-shifted": (SHIFT_NOT_SHIFTED, ["not shifted"]),
    "wrong-way": (SHIFT_WRONG_WAY, ["swapped"]),
    "roll": (SHIFT_ROLL, ["np.roll"]),
    "batch-axis": (SHIFT_BATCH_AXIS, ["batch axis"]),
    "two-steps": (SHIFT_TWO_STEPS, ["exactly one step"]),
}
SHIFT_RIGHT = {"loop-lists": SHIFT_LOOP_LISTS, "np-delete": SHIFT_DELETE}


# -- evaluate_per_step (both tracks, but for the framework-ops variant) -------------

EVAL = """
def evaluate_per_step(model, inputs, targets, mask):
    logits = np.asarray(predict(model, inputs), dtype=np.float64)
    z = logits - logits.max(-1, keepdims=True)
    m = np.asarray(mask, dtype=bool)
    nll = -np.take_along_axis(z - np.log(np.exp(z).sum(-1, keepdims=True)),
                              np.where(m, targets, 0)[..., None], -1)[..., 0]{before}
    return {{
        "loss": {loss},
        "accuracy": {accuracy},
        "perplexity": {perplexity},
    }}
"""
# the loss is the learner's own (numpy); accuracy and perplexity may come from utils.metrics
PER_STEP_LOSS = "np.where(m.any(0), np.where(m, nll, 0).sum(0) / np.maximum(m.sum(0), 1), np.nan)"
EGOOD = dict(
    before="",
    loss=PER_STEP_LOSS,
    accuracy='metrics.per_step_scores(targets, logits.argmax(-1), metric="accuracy", mask=mask)',
    perplexity="metrics.perplexity(targets, logits, mask=mask)",
)


def _eval(**changes):
    return EVAL.format(**{**EGOOD, **changes})


def _eval_from_loss(perplexity):
    """The per-step loss computed once, then turned into a perplexity by `perplexity`."""
    return _eval(before="\n    loss = " + PER_STEP_LOSS, loss="loss", perplexity=perplexity)


EVAL_NO_MASK = _eval(
    loss="nll.mean(0)",
    accuracy='metrics.per_step_scores(targets, logits.argmax(-1), metric="accuracy")',
    perplexity="metrics.perplexity(targets, logits)",
)
EVAL_SUM_OVER_BATCH = _eval(loss="np.where(m, nll, 0).sum(0)")
EVAL_PPL_SUMMED_OVER_TIME = _eval_from_loss("float(np.exp(np.nansum(loss)))")
EVAL_PPL_STEP_MEAN = _eval_from_loss("float(np.exp(np.nanmean(loss)))")
EVAL_ACC_PADDED = _eval(accuracy="(logits.argmax(-1) == targets).mean(axis=0)")
EVAL_SCALAR_LOSS = _eval(loss="nll[m].mean()")
# issue 11: with batch == time, averaging over the wrong axis passed the shape check
EVAL_WRONG_AXIS = _eval(loss="np.where(m, nll, 0).sum(1) / np.maximum(m.sum(1), 1)")
# issue 11: the loss of evaluate_per_step is the learner's own
EVAL_UTILS_LOSS = _eval(loss='metrics.cross_entropy(targets, logits, mask=mask, reduction="per_step")')

EVAL_NAIVE_SOFTMAX = """
def evaluate_per_step(model, inputs, targets, mask):
    logits = predict(model, inputs).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    picked = np.take_along_axis(probs, np.asarray(targets)[..., None], -1)[..., 0]
    nll = -np.log(picked)
    m = np.asarray(mask)
    with np.errstate(all="ignore"):
        loss = np.where(m, nll, 0).sum(0) / m.sum(0)
        acc = np.where(m, logits.argmax(-1) == targets, 0).sum(0) / m.sum(0)
    return {"loss": loss, "accuracy": acc, "perplexity": float(np.exp(np.where(m, nll, 0).sum() / m.sum()))}
"""

EVAL_NUMPY_LOOP = """
def evaluate_per_step(model, inputs, targets, mask):
    logits = np.asarray(predict(model, inputs), dtype=np.float64)
    targets, mask = np.asarray(targets), np.asarray(mask)
    losses, accuracies, total, count = [], [], 0.0, 0
    for t in range(targets.shape[1]):
        rows = np.flatnonzero(mask[:, t])
        if rows.size == 0:
            losses.append(float("nan"))
            accuracies.append(float("nan"))
            continue
        z = logits[rows, t]
        z = z - z.max(axis=1, keepdims=True)
        log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        nll = -log_probs[np.arange(rows.size), targets[rows, t]]
        losses.append(nll.mean())
        accuracies.append(np.mean(z.argmax(axis=1) == targets[rows, t]))
        total, count = total + nll.sum(), count + rows.size
    return {"loss": losses, "accuracy": accuracies, "perplexity": np.exp(total / count)}
"""

EVAL_WRONG = {
    "no-mask": (EVAL_NO_MASK, ["padded steps were counted"]),
    "sum-over-batch": (EVAL_SUM_OVER_BATCH, ["summed over the sentences"]),
    "ppl-summed-over-time": (EVAL_PPL_SUMMED_OVER_TIME, ["summed over time"]),
    "ppl-step-mean": (EVAL_PPL_STEP_MEAN, ["every step weighs the same"]),
    "accuracy-padded": (EVAL_ACC_PADDED, ["a pad is not a token"]),
    "scalar-loss": (EVAL_SCALAR_LOSS, ["one loss per time step"]),
    "naive-softmax-overflows": (EVAL_NAIVE_SOFTMAX, ["subtract"]),
    "mean over time, not over the batch": (EVAL_WRONG_AXIS, ["not over time"]),
    "utils.metrics computes the loss": (
        EVAL_UTILS_LOSS,
        ["write it yourself", "metrics.cross_entropy", "np.take_along_axis"],
    ),
}

# -- predict_next (both tracks: the mistakes, and one variant through `predict`) ----

#: What the test cells must say about each typical mistake; each track writes the mistake in its framework.
PREDICT_MISTAKES = {
    "hidden-reset": ["reset at every step"],
    "first-output": ["FIRST token"],
    "skips-last-token": ["never fed"],
    "returns-logits": ["returned the logits"],
}


def predict_next_wrong(sources: dict) -> dict:
    """`{label: source}` of one track's versions of PREDICT_MISTAKES -> `{label: (source, phrases)}`."""
    assert sorted(sources) == sorted(PREDICT_MISTAKES), sorted(sources)
    return {label: (sources[label], phrases) for label, phrases in PREDICT_MISTAKES.items()}


PREDICT_WHOLE_PREFIX = """
def predict_next(model, prefix):
    logits = predict(model, np.array([prefix]))
    return logits[0, -1].argmax()
"""

FRAMEWORK_FREE_WRONG = {**table("shift_for_next_token", SHIFT_WRONG), **table("evaluate_per_step", EVAL_WRONG)}
FRAMEWORK_FREE_RIGHT = {
    **table("shift_for_next_token", SHIFT_RIGHT),
    **table("predict_next", {"whole-prefix": PREDICT_WHOLE_PREFIX}),
    **table("evaluate_per_step", {"numpy-loop": EVAL_NUMPY_LOOP}),
}


# -- predict_next ---------------------------------------------------------------

PREDICT_RESET = """
def predict_next(model, prefix):
    with torch.no_grad():
        for token in prefix:
            logits, hidden = model([[token]], None, return_state=True)
    return int(logits[0, -1].argmax())
"""

PREDICT_FIRST_OUTPUT = """
def predict_next(model, prefix):
    with torch.no_grad():
        logits = model([list(prefix)])
    return int(logits[0, 0].argmax())
"""

PREDICT_SKIPS_LAST = """
def predict_next(model, prefix):
    hidden = None
    with torch.no_grad():
        for token in prefix[:-1]:
            logits, hidden = model([[token]], hidden, return_state=True)
    return int(logits[0, -1].argmax())
"""

PREDICT_RETURNS_LOGITS = """
def predict_next(model, prefix):
    hidden = None
    with torch.no_grad():
        for token in prefix:
            logits, hidden = model([[token]], hidden, return_state=True)
    return logits[0, -1]
"""


PREDICT_BY_HAND = """
def predict_next(model, prefix):
    device = next(model.parameters()).device
    hidden = None
    with torch.no_grad():
        for token in prefix:
            x = model.embedding(torch.tensor([[token]], device=device))
            out, hidden = model.rnn(x, hidden)
        scores = model.head(out[:, -1])
    return scores.argmax(dim=-1).item()
"""

PREDICT_WRONG = predict_next_wrong(
    {
        "hidden-reset": PREDICT_RESET,
        "first-output": PREDICT_FIRST_OUTPUT,
        "skips-last-token": PREDICT_SKIPS_LAST,
        "returns-logits": PREDICT_RETURNS_LOGITS,
    }
)
PREDICT_RIGHT = {"layers-by-hand": PREDICT_BY_HAND}


# -- evaluate_per_step with framework ops -----------------------------------------

EVAL_FRAMEWORK = """
def evaluate_per_step(model, inputs, targets, mask):
    import torch.nn.functional as F
    with torch.no_grad():
        logits = model(torch.as_tensor(inputs)).double().cpu()
    y = torch.as_tensor(targets).long()
    m = torch.as_tensor(mask).double()
    nll = F.cross_entropy(logits.transpose(1, 2), y, reduction="none") * m
    hits = (logits.argmax(-1) == y).double() * m
    return {
        "loss": (nll.sum(0) / m.sum(0)).numpy(),
        "accuracy": hits.sum(0) / m.sum(0),
        "perplexity": torch.exp(nll.sum() / m.sum()),
    }
"""

EVAL_FRAMEWORK_ACCURACY = """
def evaluate_per_step(model, inputs, targets, mask):
    logits = np.asarray(predict(model, inputs), dtype=np.float64)
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    y, m = torch.as_tensor(np.asarray(targets)).long(), torch.as_tensor(np.asarray(mask)).double()
    nll = -torch.as_tensor(logp).gather(-1, y.clamp(min=0)[..., None])[..., 0] * m
    hits = (torch.as_tensor(logits).argmax(-1) == y).double() * m
    return {"loss": (nll.sum(0) / m.sum(0)).numpy(), "accuracy": hits.sum(0) / m.sum(0),
            "perplexity": torch.exp(nll.sum() / m.sum())}
"""


WRONG = {
    **table("predict_next", PREDICT_WRONG),
    **FRAMEWORK_FREE_WRONG,
    **table("evaluate_per_step", {"a framework loss (issue 11)": (EVAL_FRAMEWORK, ["F.cross_entropy"])}),
}
RIGHT = {
    **table("predict_next", PREDICT_RIGHT),
    **FRAMEWORK_FREE_RIGHT,
    **table("evaluate_per_step", {"framework ops for the accuracy": EVAL_FRAMEWORK_ACCURACY}),
}

globals().update(exercise_tests(STEM, EXERCISES, WRONG, RIGHT, hidden_only={}))
