"""Plots the lessons share: pictures of matrices, curves over time, and trade-offs.

Every function draws on the Axes you pass (`ax=...`) or on a new figure, labels
its axes, sets a title, and returns the Axes. None of them calls `plt.show()`:
Jupyter shows the figure at the end of the cell, and a script can save it with
`ax.figure.savefig(path)`.

=========================  ======================================================
plot_confusion_matrix      heatmap with the count in every cell; rows = actual, columns = predicted
plot_per_step              a metric per time step, one curve per model (NaN = no data, left as a gap)
plot_loss_curves           training and validation loss per epoch, best epoch marked
plot_hidden_states         heatmap of a hidden state over time (units x time steps)
plot_threshold_tradeoff    precision and recall as the decision threshold moves
plot_influence             how strongly an early input still affects later steps
plot_metric_bars           a few metrics for a few models, side by side
=========================  ======================================================

Inputs may be lists, numpy arrays, torch or tf tensors. Bad input (wrong number
of dimensions, NaN where a count belongs, empty arrays) raises ValueError or
TypeError naming the argument.
"""

from __future__ import annotations

import numbers
from typing import Literal

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from ._arrays import as_numpy

__all__ = [
    "plot_confusion_matrix",
    "plot_per_step",
    "plot_loss_curves",
    "plot_hidden_states",
    "plot_threshold_tradeoff",
    "plot_influence",
    "plot_metric_bars",
    "threshold_tradeoff",
]


# ----------------------------------------------------------------------------
# input checking
# ----------------------------------------------------------------------------


def _numeric(x, name: str, *, ndim: int | tuple[int, ...] | None = None, finite: bool = True) -> np.ndarray:
    """`x` as a float array, or a clear error naming `name`."""
    if x is None:
        raise TypeError(f"`{name}` is None; expected an array of numbers")
    if isinstance(x, (str, bytes, dict)):
        raise TypeError(f"`{name}` should be an array of numbers, got a {type(x).__name__}")
    arr = as_numpy(x, name=name)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` should hold numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"`{name}` should be {want}, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"`{name}` is empty; expected at least one value")
    if finite and not np.isfinite(arr).all():
        raise ValueError(f"`{name}` contains NaN or inf; expected finite numbers")
    return arr


def _new_axes(ax, figsize):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")  # nothing clipped
    elif not isinstance(ax, matplotlib.axes.Axes):
        raise TypeError(f"`ax` should be a matplotlib Axes (or None), got {type(ax).__name__}")
    return ax


def _labels(labels, count: int, name: str = "labels") -> list[str]:
    if labels is None:
        return [str(i) for i in range(count)]
    labels = [str(lab) for lab in (labels.tolist() if hasattr(labels, "tolist") else labels)]
    if len(labels) != count:
        raise ValueError(f"`{name}` has {len(labels)} entries, but there are {count} rows/steps to label")
    return labels


# ----------------------------------------------------------------------------
# confusion matrix
# ----------------------------------------------------------------------------

_NORMALIZE = (None, "true", "pred", "all")


def plot_confusion_matrix(cm, labels=None, normalize=None, ax=None, title=None, cmap="Blues"):
    """Heatmap of a confusion matrix, with the value written in each cell.

    Rows are the actual class and columns the predicted class (scikit-learn's
    and the course's convention); the axis labels say so. `normalize` is None
    (counts), "true" (each row sums to 1: the diagonal is per-class recall),
    "pred" (each column sums to 1: the diagonal is per-class precision) or
    "all". Normalized cells also show the count in brackets.
    """
    counts = _numeric(cm, "cm", ndim=2)
    if counts.shape[0] != counts.shape[1]:
        raise ValueError(f"`cm` should be square (K, K), got shape {counts.shape}")
    if (counts < 0).any():
        raise ValueError("`cm` holds counts, which cannot be negative")
    if normalize not in _NORMALIZE:
        raise ValueError(f"`normalize` should be one of {_NORMALIZE}, got {normalize!r}")
    k = counts.shape[0]
    names = _labels(labels, k)
    if normalize is None:
        shown = counts
    else:
        axis = {"true": 1, "pred": 0, "all": None}[normalize]
        totals = counts.sum(axis=axis, keepdims=axis is not None)
        with np.errstate(invalid="ignore", divide="ignore"):
            shown = np.where(totals > 0, counts / np.where(totals > 0, totals, 1), 0.0)
    ax = _new_axes(ax, (1.2 + 0.9 * k, 1.0 + 0.8 * k))
    vmax = 1.0 if normalize else max(float(shown.max()), 1.0)
    image = ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest")
    integer = np.allclose(counts, np.round(counts))
    for i in range(k):
        for j in range(k):
            count = f"{int(round(counts[i, j])):,}" if integer else f"{counts[i, j]:.3g}"
            text = count if normalize is None else f"{shown[i, j]:.2f}\n({count})"
            dark = shown[i, j] > 0.6 * vmax
            ax.text(j, i, text, ha="center", va="center", color="white" if dark else "black", fontsize=10)
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted label (columns)")
    ax.set_ylabel("actual label (rows)")
    default = "Confusion matrix" + ("" if normalize is None else f" (normalized over {normalize})")
    ax.set_title(title if title is not None else default)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


# ----------------------------------------------------------------------------
# curves
# ----------------------------------------------------------------------------


def _series(values, name: str) -> dict[str, np.ndarray]:
    if isinstance(values, dict):
        if not values:
            raise ValueError(f"`{name}` is an empty dict; expected name -> values")
        return {str(k): _numeric(v, f"{name}[{k!r}]", ndim=1, finite=False) for k, v in values.items()}
    return {"": _numeric(values, name, ndim=1, finite=False)}


def plot_per_step(values, ax=None, ylabel="metric", title=None, xlabel="time step", start=0, ylim=None, good=None):
    """One curve per model of a metric measured at every time step.

    `values` is one 1-D array or a dict name -> 1-D array (a legend is drawn).
    NaN marks a step without data (for example a fully padded step): the curve
    leaves a gap there instead of inventing a value. Steps are numbered from
    `start` (0 by default, as in the arrays). `good` draws the "good" level as a
    dashed line: one number, or a dict name -> level (`utils.evaluation.GOOD_PER_STEP`),
    each drawn in the colour of the curve of that name.
    """
    series = _series(values, "values")
    for key, arr in series.items():
        if np.isinf(arr).any():
            raise ValueError(f"`values` {key!r} contains inf; use NaN for a step without data")
    ax = _new_axes(ax, (6.4, 3.6))
    colours = {}
    for key, arr in series.items():
        steps = np.arange(start, start + arr.size)
        (line,) = ax.plot(steps, arr, marker="o", markersize=4, label=key or None)
        colours[key] = line.get_color()
    if isinstance(good, dict):
        for key, level in good.items():
            if key in colours:
                ax.axhline(
                    float(level),
                    color=colours[key],
                    linestyle="--",
                    linewidth=1,
                    alpha=0.8,
                    label=f"good {key} ({float(level):.2f})",
                )
    elif good is not None:
        ax.axhline(float(good), color="gray", linestyle="--", label=f"good ({float(good):.2f})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else f"{ylabel} per {xlabel}")
    longest = max(arr.size for arr in series.values())
    if longest <= 20:
        ax.set_xticks(np.arange(start, start + longest))
    if ylim is not None:
        ax.set_ylim(*ylim)
    if any(series) or good is not None:
        ax.legend()
    ax.grid(alpha=0.3)
    return ax


_TRAIN_KEYS = ("loss", "train_loss", "train")
_VAL_KEYS = ("val_loss", "valid_loss", "validation_loss", "val")


def _pick(history: dict, keys):
    for key in keys:
        if key in history:
            return history[key]
    return None


def plot_loss_curves(
    history=None, *, train=None, val=None, ax=None, best_epoch=None, title=None, ylabel="loss", start=1
):
    """Training and validation loss per epoch.

    Pass a Keras `History` (or its `.history` dict, with "loss"/"val_loss"), a
    dict with "train"/"val", or the lists `train=` and `val=` directly.
    `best_epoch`: an epoch number to mark, or "auto" to mark the epoch with the
    lowest validation loss (what early stopping would keep). Epochs are
    numbered from `start` (1 by default, as Keras prints them).
    """
    if history is not None:
        if train is not None or val is not None:
            raise TypeError("pass either `history` or `train=`/`val=`, not both")
        history = getattr(history, "history", history)
        if not isinstance(history, dict):
            raise TypeError(
                f"`history` should be a dict like {{'loss': [...], 'val_loss': [...]}} or a Keras History, "
                f"got {type(history).__name__}"
            )
        train, val = _pick(history, _TRAIN_KEYS), _pick(history, _VAL_KEYS)
        if train is None and val is None:
            raise ValueError(f"`history` has none of the keys {_TRAIN_KEYS + _VAL_KEYS}; it has {sorted(history)}")
    if train is None and val is None:
        raise ValueError("nothing to plot: pass `history`, or `train=` and/or `val=` loss lists")
    curves = {}
    if train is not None:
        curves["training"] = _numeric(train, "train", ndim=1, finite=False)
    if val is not None:
        curves["validation"] = _numeric(val, "val", ndim=1, finite=False)
    ax = _new_axes(ax, (6.4, 3.6))
    for label, arr in curves.items():
        ax.plot(np.arange(start, start + arr.size), arr, marker="o", markersize=3, label=f"{label} {ylabel}")
    if isinstance(best_epoch, str):
        if best_epoch != "auto":
            raise ValueError(f"`best_epoch` should be an epoch number, 'auto' or None, got {best_epoch!r}")
        if "validation" not in curves:
            raise ValueError("`best_epoch='auto'` needs validation losses (`val=` or 'val_loss')")
        if np.isnan(curves["validation"]).all():
            raise ValueError("`best_epoch='auto'`: every validation loss is NaN")
        best_epoch = int(np.nanargmin(curves["validation"])) + start
    if best_epoch is not None:
        if not isinstance(best_epoch, numbers.Integral):
            raise TypeError(f"`best_epoch` should be an int, got {type(best_epoch).__name__}")
        last = start + max(a.size for a in curves.values()) - 1
        if not start <= best_epoch <= last:
            raise ValueError(f"`best_epoch` should be between {start} and {last}, got {best_epoch}")
        ax.axvline(best_epoch, color="gray", linestyle="--", label=f"best epoch ({int(best_epoch)})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else f"Training and validation {ylabel}")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


# ----------------------------------------------------------------------------
# hidden states and influence
# ----------------------------------------------------------------------------


def plot_hidden_states(h, tokens=None, ax=None, title=None, cmap="RdBu_r"):
    """Heatmap of hidden states over time: one column per time step, one row per unit.

    `h` has shape (time, hidden), for example `outputs[:, 0]` of the numpy
    `rnn_forward` (time-major) for the first sequence of the batch. `tokens`
    (one per step) label the columns. The colour scale is symmetric around 0;
    it is [-1, 1] when every value lies there, as tanh states do.
    """
    arr = as_numpy(h, name="h") if h is not None else h
    if arr is not None and getattr(arr, "ndim", 0) == 3:
        raise ValueError(
            f"`h` should be 2-D (time, hidden), got shape {arr.shape}: pick one sequence first, "
            "e.g. outputs[:, 0] (time-major) or outputs[0] (batch-first)"
        )
    states = _numeric(h, "h", ndim=2)
    steps, units = states.shape
    names = _labels(tokens, steps, "tokens")
    limit = float(np.abs(states).max())
    limit = 1.0 if limit <= 1.0 else limit
    ax = _new_axes(ax, (max(4.0, 0.55 * steps + 2), max(2.5, 0.3 * units + 1.2)))
    image = ax.imshow(states.T, cmap=cmap, vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(steps), names, rotation=0 if tokens is None else 45)
    if units <= 24:
        ax.set_yticks(range(units))
    ax.set_xlabel("time step" if tokens is None else "time step (input token)")
    ax.set_ylabel("hidden unit")
    ax.set_title(title if title is not None else "Hidden state over time")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="activation")
    return ax


def plot_influence(
    values, ax=None, title=None, xlabel="time step", ylabel="influence of the first input", log=False, start=0
):
    """Bars of how much an early input still moves the state at each later step.

    `values[t]` is any non-negative measure of influence at step t, e.g. the
    norm of the change in h_t when only x_0 is perturbed. With `log=True` the
    y axis is logarithmic, which shows an exponential fade as a straight line.
    """
    arr = _numeric(values, "values", ndim=1)
    if (arr < 0).any():
        raise ValueError("`values` should be non-negative magnitudes (take the norm or abs first)")
    if log and (arr <= 0).any():
        raise ValueError("`log=True` needs strictly positive `values` (a zero cannot be shown on a log axis)")
    ax = _new_axes(ax, (6.4, 3.4))
    ax.bar(np.arange(start, start + arr.size), arr, color="tab:purple")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else "How far an early input's influence reaches")
    ax.grid(alpha=0.3, axis="y")
    return ax


# ----------------------------------------------------------------------------
# thresholds
# ----------------------------------------------------------------------------

_RULES = (">=", ">")


def threshold_tradeoff(y_true, scores, thresholds=None, rule=">="):
    """Precision and recall of the positive class (1) at each threshold.

    Returns `(thresholds, precision, recall)` as float arrays. A sample is
    predicted positive when `scores >= t` (rule ">=", the convention of
    `threshold_for_recall` in topic 03) or `scores > t` (rule ">", the strict
    convention `utils.metrics` uses to threshold probabilities). By default
    the thresholds are the distinct scores, where the predictions change.
    Precision is NaN where nothing is predicted positive (it is undefined).
    """
    if rule not in _RULES:
        raise ValueError(f"`rule` should be '>=' or '>', got {rule!r}")
    y = as_numpy(y_true, name="y_true")
    if y.dtype == object or y.dtype.kind not in "biuf":
        raise TypeError(f"`y_true` should hold 0/1 labels, got dtype {y.dtype}")
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"`y_true` should be a non-empty 1-D array of 0/1 labels, got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"`y_true` should hold only 0 and 1, got values {np.unique(y)[:6].tolist()}")
    s = _numeric(scores, "scores", ndim=1)
    if s.shape != y.shape:
        raise ValueError(f"`y_true` and `scores` should have the same length, got {y.size} and {s.size}")
    positives = int(y.sum())
    if positives == 0:
        raise ValueError("`y_true` has no positive (1) sample, so recall is undefined at every threshold")
    t = np.unique(s) if thresholds is None else _numeric(thresholds, "thresholds", ndim=1)
    # Count, for every threshold at once, how many scores (and positive scores) clear it.
    order = np.sort(s)
    pos_sorted = np.sort(s[y == 1])
    side: Literal["left", "right"] = "left" if rule == ">=" else "right"
    predicted = s.size - np.searchsorted(order, t, side=side)
    true_pos = pos_sorted.size - np.searchsorted(pos_sorted, t, side=side)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, true_pos / np.maximum(predicted, 1), np.nan)
    recall = true_pos / positives
    return t, precision.astype(np.float64), recall.astype(np.float64)


def plot_threshold_tradeoff(y_true, scores, ax=None, mark=None, thresholds=None, rule=">=", title=None):
    """Precision and recall of the positive class as the threshold moves.

    Predicts positive for `scores >= t` by default (rule ">=", as
    `threshold_for_recall` of topic 03); pass `rule=">"` for the strict
    convention of `utils.metrics`. Raising the threshold trades recall for
    precision. `mark` draws a vertical line at a chosen threshold and writes
    its precision and recall in the legend.
    """
    t, precision, recall = threshold_tradeoff(y_true, scores, thresholds, rule)
    ax = _new_axes(ax, (6.4, 3.8))
    # Between two distinct scores the predictions do not change: with ">=" a
    # threshold just above a score behaves like the next score, with ">" like
    # the score itself. The step style draws exactly that.
    style = "steps-pre" if rule == ">=" else "steps-post"
    ax.plot(t, precision, label="precision", color="tab:blue", drawstyle=style)
    ax.plot(t, recall, label="recall", color="tab:orange", drawstyle=style)
    if mark is not None:
        # numpy's stubs take no numbers.Real: every Real that reaches np.isfinite is a concrete number
        if not isinstance(mark, numbers.Real) or not np.isfinite(mark):  # type: ignore[call-overload]
            raise ValueError(f"`mark` should be a finite threshold or None, got {mark!r}")
        _, p, r = threshold_tradeoff(y_true, scores, [float(mark)], rule)
        p_text = "undefined" if np.isnan(p[0]) else f"{p[0]:.2f}"
        ax.axvline(
            float(mark),
            color="gray",
            linestyle="--",
            label=f"threshold {float(mark):.3g}: precision {p_text}, recall {r[0]:.2f}",
        )
    ax.set_xlabel(f"threshold t (positive when score {rule} t)")
    ax.set_ylabel("precision / recall")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(title if title is not None else "Precision and recall vs threshold")
    ax.legend(loc="lower left")
    ax.grid(alpha=0.3)
    return ax


# ----------------------------------------------------------------------------
# comparisons
# ----------------------------------------------------------------------------


def plot_metric_bars(results, ax=None, metrics=None, title=None, good=None, ylabel="score"):
    """Grouped bars: a few metrics (accuracy, precision, ...) for a few models.

    `results` maps a model name to a dict metric -> value, e.g.
    `{"RNN": {"accuracy": 0.93, "recall": 0.9}, "order-blind": {...}}`.
    `metrics` picks and orders the metrics (default: those of the first
    model). `good` draws a dashed line at a "good enough" level. The value is
    written above each bar.
    """
    if not isinstance(results, dict) or not results:
        raise TypeError("`results` should be a non-empty dict: model name -> {metric: value}")
    for name, row in results.items():
        if not isinstance(row, dict):
            raise TypeError(f"`results[{name!r}]` should be a dict metric -> value, got {type(row).__name__}")
    metrics = list(metrics) if metrics is not None else list(next(iter(results.values())))
    if not metrics:
        raise ValueError("no metrics to plot")
    table = np.empty((len(results), len(metrics)))
    for i, (name, row) in enumerate(results.items()):
        for j, metric in enumerate(metrics):
            if metric not in row:
                raise ValueError(f"`results[{name!r}]` has no {metric!r}; it has {sorted(row)}")
            table[i, j] = float(row[metric])
    ax = _new_axes(ax, (1.5 + 1.3 * len(metrics) * max(1, len(results)) / 2, 3.8))
    width = 0.8 / len(results)
    x = np.arange(len(metrics))
    for i, name in enumerate(results):
        bars = ax.bar(x + (i - (len(results) - 1) / 2) * width, table[i], width, label=str(name))
        ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
    if good is not None:
        ax.axhline(float(good), color="gray", linestyle="--", label=f"good ({float(good):.2f})")
    ax.set_xticks(x, metrics)
    ax.set_xlabel("metric")
    ax.set_ylabel(ylabel)
    top = float(np.nanmax(table)) if np.isfinite(table).any() else 1.0
    ax.set_ylim(0, max(1.05, top * 1.12))
    ax.set_title(title if title is not None else "Metrics by model")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)  # beside the bars, never over them
    return ax
