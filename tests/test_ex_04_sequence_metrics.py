"""Exercise tests of 04_sequence_metrics: the test cells accept right answers and teach on wrong ones.

For every graded function: the source solution passes, the release stub fails,
typical wrong answers fail with a message that names the mistake, and correct
answers written differently (loops, lists, Python floats) pass.
"""

from __future__ import annotations

from tests.exercise_support import by_exercise, exercise_tests

STEM = "04_sequence_metrics"
EXERCISES = [
    "per_step_confusion",
    "token_accuracy",
    "sequence_accuracy",
    "masked_cross_entropy",
    "per_step_loss",
    "perplexity",
    "masked_mse",
]


# ---------------------------------------------------------------------------- wrong answers
# exercise: [(label, source of a wrong answer, phrases the failure message must contain)]

WRONG = by_exercise(
    {
        "per_step_confusion": [
            (
                "padded steps counted",
                """
def per_step_confusion(y_true, y_pred, mask):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    cm = np.zeros((y_true.shape[1], 2, 2), dtype=int)
    for a in (0, 1):
        for p in (0, 1):
            cm[:, a, p] = ((y_true == a) & (y_pred == p)).sum(axis=0)
    return cm
""",
                ["padded steps were counted"],
            ),
            (
                "rows = predicted",
                """
def per_step_confusion(y_true, y_pred, mask):
    y_true, y_pred, mask = np.asarray(y_true), np.asarray(y_pred), np.asarray(mask, bool)
    cm = np.zeros((y_true.shape[1], 2, 2), dtype=int)
    for a in (0, 1):
        for p in (0, 1):
            cm[:, p, a] = ((y_true == a) & (y_pred == p) & mask).sum(axis=0)
    return cm
""",
                ["rows and columns are swapped"],
            ),
            (
                "positive class first",
                """
def per_step_confusion(y_true, y_pred, mask):
    y_true, y_pred, mask = np.asarray(y_true), np.asarray(y_pred), np.asarray(mask, bool)
    cm = np.zeros((y_true.shape[1], 2, 2), dtype=int)
    for a in (0, 1):
        for p in (0, 1):
            cm[:, 1 - a, 1 - p] = ((y_true == a) & (y_pred == p) & mask).sum(axis=0)
    return cm
""",
                ["classes are in the wrong order"],
            ),
            (
                "time-major: one matrix per sequence",
                """
def per_step_confusion(y_true, y_pred, mask):
    y_true, y_pred, mask = np.asarray(y_true), np.asarray(y_pred), np.asarray(mask, bool)
    cm = np.zeros((y_true.shape[0], 2, 2), dtype=int)
    for a in (0, 1):
        for p in (0, 1):
            cm[:, a, p] = ((y_true == a) & (y_pred == p) & mask).sum(axis=1)
    return cm
""",
                ["wrong shape", "count over the batch axis", "batch-major"],
            ),
        ],
        "token_accuracy": [
            (
                "padded steps counted",
                """
def token_accuracy(y_true, y_pred, mask):
    return float((np.asarray(y_true) == np.asarray(y_pred)).mean())
""",
                ["padded steps were counted"],
            ),
            (
                "divided by every position",
                """
def token_accuracy(y_true, y_pred, mask):
    mask = np.asarray(mask, bool)
    return float(((np.asarray(y_true) == np.asarray(y_pred)) & mask).sum() / mask.size)
""",
                ["divided by every position"],
            ),
            (
                "count, not share",
                """
def token_accuracy(y_true, y_pred, mask):
    mask = np.asarray(mask, bool)
    return int(((np.asarray(y_true) == np.asarray(y_pred)) & mask).sum())
""",
                ["number of correct steps"],
            ),
        ],
        "sequence_accuracy": [
            (
                "padded steps counted",
                """
def sequence_accuracy(y_true, y_pred, mask):
    mask = np.asarray(mask, bool)
    right = (np.asarray(y_true) == np.asarray(y_pred)).all(axis=1)
    return float(right[mask.any(axis=1)].mean())
""",
                ["padded steps were counted"],
            ),
            (
                "empty rows counted as right",
                """
def sequence_accuracy(y_true, y_pred, mask):
    mask = np.asarray(mask, bool)
    right = ((np.asarray(y_true) == np.asarray(y_pred)) | ~mask).all(axis=1)
    return float(right.mean())
""",
                ["counted as a right sequence", "leave it out"],
            ),
            (
                "empty rows counted as wrong",
                """
def sequence_accuracy(y_true, y_pred, mask):
    mask = np.asarray(mask, bool)
    right = ((np.asarray(y_true) == np.asarray(y_pred)) | ~mask).all(axis=1) & mask.any(axis=1)
    return float(right.mean())
""",
                ["counted as a wrong sequence"],
            ),
            (
                "token accuracy instead",
                """
def sequence_accuracy(y_true, y_pred, mask):
    mask = np.asarray(mask, bool)
    return float((np.asarray(y_true) == np.asarray(y_pred))[mask].mean())
""",
                ["token accuracy", "all its real steps"],
            ),
        ],
        "masked_cross_entropy": [
            (
                "unstable softmax",
                """
def masked_cross_entropy(logits, targets, mask):
    logits, targets, mask = np.asarray(logits, float), np.asarray(targets), np.asarray(mask, bool)
    with np.errstate(all="ignore"):
        probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
        p = np.take_along_axis(probs, targets[..., None], axis=-1)[..., 0]
        return float(-np.log(p)[mask].mean())
""",
                ["logits around 1000", "overflows", "log-sum-exp"],
            ),
            (
                "sum instead of mean",
                """
def masked_cross_entropy(logits, targets, mask):
    logits, targets, mask = np.asarray(logits, float), np.asarray(targets), np.asarray(mask, bool)
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return float(-np.take_along_axis(logp, targets[..., None], -1)[..., 0][mask].sum())
""",
                ["sum instead of mean"],
            ),
            (
                "padded steps counted",
                """
def masked_cross_entropy(logits, targets, mask):
    logits, targets = np.asarray(logits, float), np.asarray(targets)
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return float(-np.take_along_axis(logp, targets[..., None], -1).mean())
""",
                ["padded steps were counted"],
            ),
            (
                "divided by every position",
                """
def masked_cross_entropy(logits, targets, mask):
    logits, targets, mask = np.asarray(logits, float), np.asarray(targets), np.asarray(mask, bool)
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    return float((nll * mask).sum() / mask.size)
""",
                ["divided by every position"],
            ),
        ],
        "per_step_loss": [
            (
                "0 instead of NaN on an empty step",
                """
def per_step_loss(logits, targets, mask):
    logits, targets, mask = np.asarray(logits, float), np.asarray(targets), np.asarray(mask, bool)
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    return (nll * mask).sum(axis=0) / np.maximum(mask.sum(axis=0), 1)
""",
                ["should be NaN", "perfect"],
            ),
            (
                "per sequence (time and batch axes confused)",
                """
def per_step_loss(logits, targets, mask):
    logits, targets, mask = np.asarray(logits, float), np.asarray(targets), np.asarray(mask, bool)
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    return (nll * mask).sum(axis=1) / mask.sum(axis=1)
""",
                ["wrong shape", "not over time"],
            ),
            (
                "padded steps counted",
                """
def per_step_loss(logits, targets, mask):
    logits, targets, mask = np.asarray(logits, float), np.asarray(targets), np.asarray(mask, bool)
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    out = nll.mean(axis=0)
    out[~mask.any(axis=0)] = np.nan
    return out
""",
                ["padded steps were counted"],
            ),
            (
                "sum over the batch",
                """
def per_step_loss(logits, targets, mask):
    logits, targets, mask = np.asarray(logits, float), np.asarray(targets), np.asarray(mask, bool)
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    return np.where(mask.any(axis=0), (nll * mask).sum(axis=0), np.nan)
""",
                ["sum instead of mean"],
            ),
        ],
        "perplexity": [
            (
                "returns the cross-entropy",
                """
def perplexity(logits, targets, mask):
    return masked_cross_entropy(logits, targets, mask)
""",
                ["exp(mean cross-entropy)"],
            ),
            (
                "base 2",
                """
def perplexity(logits, targets, mask):
    return 2 ** masked_cross_entropy(logits, targets, mask)
""",
                ["base 2"],
            ),
            (
                "exp of the sum",
                """
def perplexity(logits, targets, mask):
    return float(np.exp(masked_cross_entropy(logits, targets, mask) * np.asarray(mask).sum()))
""",
                ["sum instead of mean"],
            ),
            (
                "mean of exp",
                """
def perplexity(logits, targets, mask):
    logits, targets, mask = np.asarray(logits, float), np.asarray(targets), np.asarray(mask, bool)
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    return float(np.exp(nll[mask]).mean())
""",
                ["not the mean of exp"],
            ),
        ],
        "masked_mse": [
            (
                "padded steps counted",
                """
def masked_mse(y_true, y_pred, mask):
    return float(((np.asarray(y_pred) - np.asarray(y_true)) ** 2).mean())
""",
                ["padded steps were counted"],
            ),
            (
                "RMSE",
                """
def masked_mse(y_true, y_pred, mask):
    d = np.asarray(y_pred) - np.asarray(y_true)
    return float(np.sqrt((d ** 2)[np.asarray(mask, bool)].mean()))
""",
                ["RMSE"],
            ),
            (
                "sum instead of mean",
                """
def masked_mse(y_true, y_pred, mask):
    d = np.asarray(y_pred) - np.asarray(y_true)
    return float((d ** 2)[np.asarray(mask, bool)].sum())
""",
                ["sum instead of mean"],
            ),
            (
                "absolute error",
                """
def masked_mse(y_true, y_pred, mask):
    d = np.asarray(y_pred) - np.asarray(y_true)
    return float(np.abs(d)[np.asarray(mask, bool)].mean())
""",
                ["absolute errors"],
            ),
        ],
    }
)


# ---------------------------------------------------------------------------- right answers written differently

RIGHT = by_exercise(
    {
        "per_step_confusion": [
            (
                "python loops",
                """
def per_step_confusion(y_true, y_pred, mask):
    B, T = len(y_true), len(y_true[0])
    out = [[[0, 0], [0, 0]] for _ in range(T)]
    for b in range(B):
        for t in range(T):
            if mask[b][t]:
                out[t][int(y_true[b][t])][int(y_pred[b][t])] += 1
    return out
""",
            ),
            (
                "np.add.at, float counts",
                """
def per_step_confusion(y_true, y_pred, mask):
    y_true, y_pred, mask = np.asarray(y_true), np.asarray(y_pred), np.asarray(mask, dtype=bool)
    cm = np.zeros((y_true.shape[1], 2, 2))
    steps = np.nonzero(mask)[1]
    np.add.at(cm, (steps, y_true[mask], y_pred[mask]), 1.0)
    return cm
""",
            ),
        ],
        "token_accuracy": [
            (
                "python loops",
                """
def token_accuracy(y_true, y_pred, mask):
    right = total = 0
    for row_t, row_p, row_m in zip(y_true, y_pred, mask):
        for a, p, m in zip(row_t, row_p, row_m):
            if m:
                total += 1
                right += a == p
    return right / total
""",
            ),
            (
                "numpy float",
                """
def token_accuracy(y_true, y_pred, mask):
    m = np.asarray(mask, dtype=bool)
    return np.sum(np.equal(y_true, y_pred) & m) / np.sum(m)
""",
            ),
        ],
        "sequence_accuracy": [
            (
                "python loops",
                """
def sequence_accuracy(y_true, y_pred, mask):
    right = count = 0
    for row_t, row_p, row_m in zip(y_true, y_pred, mask):
        real = [(a, p) for a, p, m in zip(row_t, row_p, row_m) if m]
        if not real:
            continue
        count += 1
        right += all(a == p for a, p in real)
    return right / count
""",
            ),
            (
                "counting wrong steps",
                """
def sequence_accuracy(y_true, y_pred, mask):
    mask = np.asarray(mask, dtype=bool)
    wrong = ((np.asarray(y_true) != np.asarray(y_pred)) & mask).sum(axis=1)
    rows = mask.sum(axis=1) > 0
    return np.mean(wrong[rows] == 0)
""",
            ),
        ],
        "masked_cross_entropy": [
            (
                "python loops with math",
                """
import math
def masked_cross_entropy(logits, targets, mask):
    logits, targets, mask = np.asarray(logits, float), np.asarray(targets), np.asarray(mask, bool)
    total, n = 0.0, 0
    for b in range(logits.shape[0]):
        for t in range(logits.shape[1]):
            if mask[b, t]:
                z = logits[b, t]
                m = max(z)
                total += m + math.log(sum(math.exp(v - m) for v in z)) - z[targets[b, t]]
                n += 1
    return total / n
""",
            ),
            (
                "np.logaddexp.reduce and one-hot",
                """
def masked_cross_entropy(logits, targets, mask):
    logits = np.asarray(logits, dtype=float)
    onehot = np.eye(logits.shape[-1])[np.asarray(targets)]
    nll = np.logaddexp.reduce(logits, axis=-1) - (onehot * logits).sum(-1)
    m = np.asarray(mask, dtype=float)
    return np.float64((nll * m).sum() / m.sum())
""",
            ),
        ],
        "per_step_loss": [
            (
                "python loop over steps",
                """
def per_step_loss(logits, targets, mask):
    logits, targets, mask = np.asarray(logits, float), np.asarray(targets), np.asarray(mask, bool)
    out = []
    for t in range(logits.shape[1]):
        rows = np.flatnonzero(mask[:, t])
        if len(rows) == 0:
            out.append(float("nan"))
            continue
        z = logits[rows, t]
        lse = z.max(-1) + np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1))
        out.append(float(np.mean(lse - z[np.arange(len(rows)), targets[rows, t]])))
    return out
""",
            ),
            (
                "nanmean over a NaN-filled grid",
                """
import warnings
def per_step_loss(logits, targets, mask):
    logits = np.asarray(logits, dtype=float)
    onehot = np.eye(logits.shape[-1])[np.asarray(targets)]
    nll = np.logaddexp.reduce(logits, axis=-1) - (onehot * logits).sum(-1)
    grid = np.where(np.asarray(mask, dtype=bool), nll, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(grid, axis=0)
""",
            ),
        ],
        "perplexity": [
            (
                "geometric mean of 1/p, self-contained",
                """
def perplexity(logits, targets, mask):
    logits, targets, mask = np.asarray(logits, float), np.asarray(targets), np.asarray(mask, bool)
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    picked = np.take_along_axis(logp, targets[..., None], -1)[..., 0][mask]
    return np.exp(-picked.sum() / picked.size)
""",
            ),
            (
                "math.exp of the reused loss",
                """
import math
def perplexity(logits, targets, mask):
    return math.exp(masked_cross_entropy(logits, targets, mask))
""",
            ),
        ],
        "masked_mse": [
            (
                "python loops",
                """
def masked_mse(y_true, y_pred, mask):
    errs = [(p - a) ** 2 for ra, rp, rm in zip(y_true, y_pred, mask) for a, p, m in zip(ra, rp, rm) if m]
    return sum(errs) / len(errs)
""",
            ),
            (
                "weighted average",
                """
def masked_mse(y_true, y_pred, mask):
    d = np.subtract(y_pred, y_true)
    return np.average(d ** 2, weights=np.asarray(mask, dtype=float))
""",
            ),
        ],
    }
)

# issue 11: "write it yourself" is checked; the message names the call and what to write instead
WRONG.update(
    by_exercise(
        {
            "token_accuracy": [
                (
                    "utils.metrics does it",
                    """
from utils import metrics
def token_accuracy(y_true, y_pred, mask):
    return metrics.token_accuracy(y_true, y_pred, mask=mask)
""",
                    ["write it yourself", "metrics.token_accuracy", "mean of (y_true == y_pred)"],
                )
            ],
            "per_step_confusion": [
                (
                    "utils.metrics does it",
                    """
def per_step_confusion(y_true, y_pred, mask):
    from utils.metrics import per_step_confusion_matrix
    return per_step_confusion_matrix(y_true, y_pred, mask=mask, num_classes=2)
""",
                    ["write it yourself", "utils.metrics.per_step_confusion_matrix"],
                )
            ],
            "masked_cross_entropy": [
                (
                    "a framework loss does it",
                    """
import torch
def masked_cross_entropy(logits, targets, mask):
    m = torch.as_tensor(np.asarray(mask, dtype=bool))
    losses = torch.nn.functional.cross_entropy(torch.as_tensor(np.asarray(logits, dtype=float)).transpose(1, 2),
                                               torch.as_tensor(np.asarray(targets)), reduction="none")
    return float(losses[m].mean())
""",
                    ["write it yourself", "torch.nn.functional.cross_entropy", "np.take_along_axis"],
                )
            ],
            "perplexity": [
                (
                    "scikit-learn's log_loss",
                    """
def perplexity(logits, targets, mask):
    from sklearn.metrics import log_loss
    z = np.asarray(logits, dtype=float)
    p = np.exp(z - z.max(-1, keepdims=True)); p /= p.sum(-1, keepdims=True)
    m = np.asarray(mask, dtype=bool)
    return float(np.exp(log_loss(np.asarray(targets)[m], p[m], labels=list(range(z.shape[-1])))))
""",
                    ["write it yourself", "sklearn.metrics"],
                )
            ],
            "sequence_accuracy": [
                (
                    "utils.metrics does it",
                    """
def sequence_accuracy(y_true, y_pred, mask):
    from utils.metrics import sequence_accuracy as ref
    return ref(y_true, y_pred, mask=mask)
""",
                    ["write it yourself", "utils.metrics.sequence_accuracy"],
                )
            ],
            "per_step_loss": [
                (
                    "a Keras loss does it",
                    """
def per_step_loss(logits, targets, mask):
    import keras
    m = np.asarray(mask, dtype=bool)
    tok = np.asarray(keras.losses.sparse_categorical_crossentropy(np.where(m, targets, 0),
                                                                  np.asarray(logits, dtype="float64"),
                                                                  from_logits=True))
    real = m.sum(0)
    return np.where(real > 0, np.where(m, tok, 0).sum(0) / np.maximum(real, 1), np.nan)
""",
                    ["write it yourself", "keras.losses.sparse_categorical_crossentropy"],
                ),
                (
                    "no log-sum-exp (issue 11: huge logits had no visible case)",
                    """
def per_step_loss(logits, targets, mask):
    z = np.asarray(logits, dtype=float)
    with np.errstate(all="ignore"):
        logp = np.log(np.exp(z) / np.exp(z).sum(-1, keepdims=True))
    m = np.asarray(mask, dtype=bool)
    tok = -np.take_along_axis(logp, np.where(m, targets, 0)[..., None], -1)[..., 0]
    real = m.sum(0)
    return np.where(real > 0, np.where(m, tok, 0).sum(0) / np.maximum(real, 1), np.nan)
""",
                    ["logits around 1000", "log-sum-exp"],
                ),
            ],
            "masked_mse": [
                (
                    "utils.metrics does it",
                    """
import utils.metrics as um
def masked_mse(y_true, y_pred, mask):
    return um.mean_squared_error(y_true, y_pred, mask=mask)
""",
                    ["write it yourself", "um.mean_squared_error"],
                )
            ],
        }
    )
)

# the nb fixture and the shared tests (tests/exercise_support.py)
globals().update(exercise_tests(STEM, EXERCISES, WRONG, RIGHT, hidden_only={}))
