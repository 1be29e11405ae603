"""Framework-free evaluation and decoding helpers shared by the PyTorch and TensorFlow adapters.

Both tracks of topics 05 and 06 call these, so a number means the same thing
whichever framework produced the model's outputs. Nothing here imports torch or
tensorflow: inputs may be lists, numpy arrays or framework tensors (turned into
numpy by `utils._arrays.as_numpy`).

Topic 05 (binary classification of messages):

- `binary_predictions(proba, threshold)`: 0/1 labels, positive when `proba >= threshold`;
- `classification_summary(y_true, proba, threshold)`: the metrics dict (the graded reference);
- `choose_threshold(y_true, scores, metric, goal)`: the threshold that meets a
  precision or recall goal (the graded reference).

Topic 06 (next-token models and sequence regression):

- `next_step_arrays(inputs, targets, mask, token_targets=...)`: checked numpy
  training arrays (targets aligned with inputs, a boolean mask of real steps);
- `training_options(epochs, batch_size, validation)`: checked loop sizes and the
  validation data as `(inputs, targets, mask)`;
- `generation_prompt(prompt_ids, temperature)`: the checked prompt as a list of ids;
- `choose_token(logits, temperature, rng)`: greedy or temperature sampling of one id;
- `pick_cell(cells, cell)`: the recurrent layer class named `cell`.

`utils.data.order` re-exports `classification_summary` and `choose_threshold`
(their historical home), and both `classify` adapters re-export them too.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._arrays import as_numpy

__all__ = [
    "binary_predictions",
    "classification_summary",
    "choose_threshold",
    "next_step_arrays",
    "training_options",
    "generation_prompt",
    "choose_token",
    "pick_cell",
    "best_epoch",
    "GOOD",
    "GOOD_PER_STEP",
    "BAD_BELOW",
    "judge_scores",
    "judge_loss_curve",
]


# ----------------------------------------------------------------------------
# what "good" and "bad" mean: defined once for every lesson, plot and check
# ----------------------------------------------------------------------------

#: A classifier is good with accuracy at or above 0.80 and precision and recall both at or above 0.75
#: (topic 03's rule of thumb: accuracy above about 80-85 %, precision and recall balanced above 75-80 %).
GOOD = {"accuracy": 0.80, "precision": 0.75, "recall": 0.75}
#: At every time step of a sequence classifier: accuracy at least 0.85, precision and recall at least 0.80.
GOOD_PER_STEP = {"accuracy": 0.85, "precision": 0.80, "recall": 0.80}
#: Bad: precision or recall below this (wrong more often than right about the positives), or an
#: accuracy that is not clearly (by CLEAR_MARGIN) above the majority-class baseline.
BAD_BELOW = 0.50
CLEAR_MARGIN = 0.05


# ----------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------


def _binary_labels(y_true) -> np.ndarray:
    y = as_numpy(y_true, name="y_true")
    if y.dtype == object or y.dtype.kind not in "biuf":
        raise TypeError(f"`y_true` should hold 0/1 labels, got dtype {y.dtype}")
    y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"`y_true` should be a non-empty 1-D array of 0/1 labels, got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"`y_true` should hold only 0 and 1, got {np.unique(y)[:6].tolist()}")
    return y.astype(np.int64)


def _scores(scores, n: int | None, name: str = "scores") -> np.ndarray:
    s = as_numpy(scores, name=name)
    if s.dtype == object or s.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` should be numeric, got dtype {s.dtype}")
    s = s.reshape(-1) if s.ndim == 2 and 1 in s.shape else s
    if s.ndim != 1 or (n is not None and s.size != n):
        expected = "one score per label" + (f" ({n})" if n is not None else "")
        raise ValueError(f"`{name}` should be 1-D with {expected}, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"`{name}` contains NaN or inf")
    return s.astype(np.float64)


def _threshold(threshold) -> float:
    # numpy's stubs take no numbers.Real: every Real that reaches np.isfinite is a concrete number
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not np.isfinite(threshold):  # type: ignore[call-overload]
        raise TypeError(f"`threshold` should be a finite number, got {threshold!r}")
    return float(threshold)


def _goal(goal) -> float:
    if isinstance(goal, bool) or not isinstance(goal, numbers.Real):
        raise TypeError(f"`goal` should be a number, got {type(goal).__name__}")
    g = float(goal)
    if not np.isfinite(g) or g <= 0.0 or g > 1.0:
        raise ValueError(f"`goal` should be in (0.0, 1.0], got {goal}")
    return g


# ----------------------------------------------------------------------------
# topic 05: thresholds and the metrics dict
# ----------------------------------------------------------------------------


def binary_predictions(proba, threshold=0.5) -> np.ndarray:
    """0/1 predictions (int64): 1 where `proba >= threshold` (a tie counts as positive)."""
    return (_scores(proba, None, "proba") >= _threshold(threshold)).astype(np.int64)


def classification_summary(y_true, proba, threshold=0.5) -> dict:
    """Metrics dict of a binary classifier: spam when `proba >= threshold`.

    Keys: "accuracy", "precision", "recall", "f1" (positive class 1, 0.0 where
    undefined) and "confusion_matrix" (2x2 ints, rows = actual, columns =
    predicted). Computed with `utils.metrics`.
    """
    from . import metrics

    y = _binary_labels(y_true)
    p = _scores(proba, y.size, "proba")
    pred = binary_predictions(p, threshold)
    return {
        "accuracy": float(metrics.accuracy_score(y, pred)),
        "precision": float(metrics.precision_score(y, pred, zero_division=0)),
        "recall": float(metrics.recall_score(y, pred, zero_division=0)),
        "f1": float(metrics.f1_score(y, pred, zero_division=0)),
        "confusion_matrix": np.asarray(metrics.confusion_matrix(y, pred, labels=[0, 1])).astype(np.int64),
    }


def choose_threshold(y_true, scores, metric, goal):
    """The threshold t (one of the scores) that meets a goal, predicting positive for `scores >= t`.

    - metric "precision": the SMALLEST t whose precision is >= goal (the most
      spam caught while keeping false alarms rare); a spam filter.
    - metric "recall": the LARGEST t whose recall is >= goal (the fewest false
      alarms while missing little); a screening test.

    Returns a float, or None when no threshold reaches the goal.
    """
    if metric not in ("precision", "recall"):
        raise ValueError(f"`metric` should be 'precision' or 'recall', got {metric!r}")
    goal = _goal(goal)
    y = _binary_labels(y_true)
    s = _scores(scores, y.size)
    if y.sum() == 0:
        raise ValueError("`y_true` has no positive (1) sample: precision and recall are undefined")
    t = np.unique(s)  # ascending
    # counts of predicted positives and true positives for `s >= t`, all thresholds at once
    predicted = s.size - np.searchsorted(np.sort(s), t, side="left")
    true_pos = y.sum() - np.searchsorted(np.sort(s[y == 1]), t, side="left")
    if metric == "precision":
        ok = true_pos >= goal * predicted - 1e-12
        ok &= predicted > 0
        return float(t[np.argmax(ok)]) if ok.any() else None
    ok = true_pos >= goal * y.sum() - 1e-12
    return float(t[np.nonzero(ok)[0][-1]]) if ok.any() else None


# ----------------------------------------------------------------------------
# topic 06: training arrays and decoding
# ----------------------------------------------------------------------------


def next_step_arrays(inputs, targets, mask=None, *, token_targets: bool):
    """Checked numpy `(inputs, targets, mask)` for a many-to-many model.

    `token_targets=True` (a next-token model): targets are integer token ids of
    the same shape as `inputs` (batch, time). `False` (a regressor): inputs are
    (batch, time, features) and targets (batch, time, 1). `mask` (batch, time) is
    boolean, True on real steps; None means every step is real. The arrays come
    back as numpy, dtypes untouched except the mask (bool); each adapter casts
    them to its framework's types.
    """
    x = as_numpy(inputs, name="inputs")
    y = as_numpy(targets, name="targets")
    if token_targets:
        if y.dtype.kind not in "iu":
            raise TypeError(f"`targets` of a next-token model must be integer token ids, got dtype {y.dtype}")
        expected = tuple(x.shape)
    else:
        expected = tuple(x.shape[:-1]) + (1,)
    if tuple(y.shape) != expected:
        raise ValueError(
            f"`targets` should have shape {expected} to match `inputs` {tuple(x.shape)}, got {tuple(y.shape)}"
        )
    if mask is None:
        m = np.ones(y.shape[:2], dtype=bool)
    else:
        m = as_numpy(mask, name="mask")
        if m.dtype != bool:
            raise TypeError(f"`mask` must be boolean (True = real step), got dtype {m.dtype}")
        if tuple(m.shape) != tuple(y.shape[:2]):
            raise ValueError(f"`mask` should have shape {tuple(y.shape[:2])}, got {tuple(m.shape)}")
    return x, y, m


def training_options(epochs, batch_size, validation=None):
    """Check the loop sizes of `train_model`; return `validation` as `(inputs, targets, mask)` or None.

    `validation` may be `(inputs, targets)` (every step real: mask None) or
    `(inputs, targets, mask)`.
    """
    if int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError(f"`epochs` and `batch_size` must be at least 1, got {epochs} and {batch_size}")
    if validation is None:
        return None
    if not isinstance(validation, (tuple, list)) or len(validation) not in (2, 3):
        raise ValueError("`validation` must be a tuple (inputs, targets) or (inputs, targets, mask)")
    return tuple(validation) if len(validation) == 3 else (*validation, None)


def generation_prompt(prompt_ids, temperature: float) -> list[int]:
    """The prompt of `generate` as a list of ints, after checking it and the temperature."""
    ids = [int(i) for i in as_numpy(prompt_ids, name="prompt_ids").ravel()]
    if not ids:
        raise ValueError("`prompt_ids` is empty: give at least one token (e.g. the <bos> id)")
    if temperature < 0:
        raise ValueError(f"`temperature` must be >= 0, got {temperature}")
    return ids


def choose_token(logits, temperature: float, rng: np.random.Generator) -> int:
    """One token id from a vector of logits: the argmax when `temperature` is 0, else a draw
    from softmax(logits / temperature) with `rng` (numpy, so both tracks make the same draws)."""
    z = np.asarray(logits, dtype=np.float64)
    if temperature == 0:
        return int(np.argmax(z))
    z = z / temperature
    p = np.exp(z - z.max())
    return int(rng.choice(p.size, p=p / p.sum()))


def pick_cell(cells: dict, cell: str):
    """`cells[cell]`, or a ValueError listing the recurrent cells there are."""
    if cell not in cells:
        raise ValueError(f"`cell` must be one of {sorted(cells)}, got {cell!r}")
    return cells[cell]


def best_epoch(history, key: str = "val_loss") -> int:
    """The 1-based epoch with the lowest `history[key]` (validation loss), the earliest on a tie.

    The weights early stopping keeps. Reads validation numbers only: epochs
    are chosen on validation data, never on the test split.
    """
    if key not in history:
        raise KeyError(f"`history` has no {key!r}; it has {sorted(history)}")
    values = np.asarray(history[key], dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all():
        raise ValueError(f"`history[{key!r}]` should be a non-empty list of finite numbers, one per epoch")
    return int(np.argmin(values)) + 1


def judge_scores(accuracy, precision, recall, *, baseline=None, per_step: bool = False) -> tuple:
    """("good" | "bad" | "in between", [reasons]) for one model's scores, by the course's one rule.

    bad: precision or recall below BAD_BELOW, or accuracy not clearly above `baseline` (the
    majority-class rate) when it is given; good: every score at or above GOOD (GOOD_PER_STEP with
    `per_step=True`); in between otherwise."""
    scores = {"accuracy": accuracy, "precision": precision, "recall": recall}
    for name, value in scores.items():
        if not isinstance(value, numbers.Real) or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"judge_scores: {name} must be a number between 0 and 1, got {value!r}")
    problems = []
    if baseline is not None and float(accuracy) < float(baseline) + CLEAR_MARGIN:
        problems.append(
            f"accuracy {float(accuracy):.3f} is not clearly above the majority baseline {float(baseline):.3f}"
        )
    low = [f"{name} {float(scores[name]):.3f}" for name in ("precision", "recall") if float(scores[name]) < BAD_BELOW]
    if low:
        problems.append(" and ".join(low) + f" below {BAD_BELOW:.2f}")
    if problems:
        return "bad", problems
    bar = GOOD_PER_STEP if per_step else GOOD
    short = [
        f"{name} {float(scores[name]):.3f} below {bar[name]:.2f}" for name in bar if float(scores[name]) < bar[name]
    ]
    if short:
        return "in between", short
    return "good", [f"every score at or above the 'good' bar ({', '.join(f'{k} {v:.2f}' for k, v in bar.items())})"]


def judge_loss_curve(losses, *, jump: float = 0.25) -> tuple:
    """("falls steadily" | "does not fall" | "jumps about", [reasons]) for a training loss curve.

    It does not fall when the last loss is not at least 5 % below the first; it jumps about when it
    rises, from one epoch to the next, by more than `jump` times its whole fall more than once."""
    values = np.asarray(as_numpy(losses), dtype=float).ravel()
    if values.size < 2:
        raise ValueError(f"judge_loss_curve needs at least two losses, got {values.size}")
    if not np.all(np.isfinite(values)):
        return "does not fall", ["the loss is not finite (NaN or inf): training diverged"]
    first, last = values[0], values[-1]
    if not last < 0.95 * first:
        return "does not fall", [f"the last loss {last:.3f} is not clearly below the first {first:.3f}"]
    fall = first - values.min()
    rises = np.diff(values)
    big = rises[rises > jump * fall]
    if big.size > 1:
        return "jumps about", [f"it rises by more than {jump:.0%} of its whole fall {big.size} times"]
    return "falls steadily", [f"from {first:.3f} to {last:.3f}"]
