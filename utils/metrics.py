"""The course's metric reference: scikit-learn's names and meanings, plus sequences.

Every exercise of the course is checked against these functions, and the
lessons use them to compute every number they quote. They follow
scikit-learn: the same names, the argument order ``(y_true, y_pred)``, and the
same meaning of ``labels``, ``pos_label``, ``average`` (None, "binary",
"micro", "macro", "weighted") and ``zero_division`` ("warn", 0, 1, nan). On
top of that they understand sequences:

* ``mask`` marks the real positions of padded batches: **True = a real
  position**, False = padding. Masked positions are dropped *before* anything
  else is worked out, including the set of labels. Careful: PyTorch's
  ``key_padding_mask`` (``nn.MultiheadAttention``, ``nn.Transformer``) uses
  the opposite sense, True = padding; pass ``~key_padding_mask`` here.
* ``ignore_index`` drops the positions where ``y_true`` equals it, like
  ``torch.nn.functional.cross_entropy(..., ignore_index=-100)``.
* sequence arrays are batch-major: labels ``(batch, time)``, scores
  ``(batch, time, classes)``.

Inputs may be lists, numpy arrays, torch tensors (detached for you, moved to
the CPU) or tf tensors. Outputs are numpy arrays or Python floats. This module
imports neither torch nor tensorflow.

Label rules: integer, boolean and string labels are accepted; floats only when
they are whole numbers (``1.0``, as scikit-learn accepts them); a float such
as ``0.7`` is refused because it is a score that still needs thresholding (see
:func:`threshold`).

Wherever a function has scikit-learn's name (:func:`confusion_matrix`,
:func:`accuracy_score`, :func:`precision_recall_fscore_support`,
:func:`precision_score`, :func:`recall_score`, :func:`f1_score`,
:func:`fbeta_score`, :func:`classification_report`,
:func:`mean_squared_error`) it has scikit-learn's defaults and gives
scikit-learn's number; the tests check this against scikit-learn over every
argument. In particular ``precision_recall_fscore_support`` defaults to
``average=None`` (one score per class), while ``precision_score``,
``recall_score``, ``f1_score`` and ``fbeta_score`` default to
``average="binary"``.

2-D labels. scikit-learn reads a 2-D array of labels as *multilabel* input
(one 0/1 column per label, e.g. ``accuracy_score`` is then the share of rows
that are entirely right); this module does not compute multilabel metrics.
So the scikit-learn-named classification functions refuse 2-D labels unless
the call says that they are ``(batch, time)`` sequences, by passing ``mask=``,
``ignore_index=`` or ``sequences=True``; the real tokens are then pooled (each
counts once, like ``y_true[mask]``). A single column ``(n, 1)`` is read as
``n`` labels, as scikit-learn reads it. Other ways to score sequences:
:func:`token_accuracy`, :func:`sequence_accuracy` (whole rows right),
:func:`per_step_scores`, or flatten yourself with ``y_true.ravel()``.

Errors. Bad input raises a ``ValueError`` naming the argument and what was
expected; no function returns a wrong number silently. Where the problem is
the type of a value (mixed string and number labels, complex or text
weights, a bad parameter value) the error is a :class:`MetricInputError`,
which is both a ``ValueError`` and a ``TypeError`` (like scikit-learn's
``InvalidParameterError``): every input that scikit-learn refuses is refused
here with an error that ``except ValueError`` catches.

Deliberate refusals: a few inputs that scikit-learn accepts are refused here
because they are almost always a mistake in a course exercise:

* ``y_true`` of shape ``(n,)`` against ``y_pred`` of shape ``(n, 1)`` (or the
  reverse): scikit-learn flattens the column; here the shapes must match;
* 2-D labels without ``mask``/``ignore_index``/``sequences=True`` (above);
* strings and numbers mixed in one list of labels (scikit-learn turns the
  numbers into strings), and ``labels`` of another type than the data;
* ``labels`` that contain a label twice, or that are not 1-D;
* sample weights written as strings, and boolean weights in
  ``accuracy_score(..., normalize=False)`` (scikit-learn returns 1.0 there
  for any count); weights of object dtype holding numbers are accepted where
  scikit-learn accepts them (``confusion_matrix``, ``accuracy_score``,
  ``mean_squared_error``) and refused where it refuses them (the
  precision/recall family and ``classification_report``);
* in :func:`cross_entropy` with ``from_logits=False``, probability rows that
  do not sum to 1.

Warnings. :class:`UndefinedMetricWarning` is this module's own class (importing
scikit-learn's would make scikit-learn a dependency), so a filter written for
``sklearn.exceptions.UndefinedMetricWarning`` does not catch it. To silence
both, filter by message, which is the same in both libraries::

    warnings.filterwarnings("ignore", message=".*is ill-defined and being set to")

or name both classes. Better: pass ``zero_division=0`` (or 1, or ``np.nan``),
which states the value you want and never warns. :func:`confusion_matrix`
warns (``UserWarning``) when it finds a single label, as scikit-learn does:
pass ``labels=`` or ``num_classes=`` to get the full shape.
"""

from __future__ import annotations

import inspect
import math
import numbers
import warnings

import numpy as np

from . import _arrays
from ._validation import (
    MetricInputError,
    as_labels,
    as_mask,
    as_sample_weight,
    as_scores,
    check_label_kinds,
    check_same_shape,
)

__all__ = [
    "UndefinedMetricWarning",
    "MetricInputError",
    "threshold",
    "confusion_matrix",
    "accuracy_score",
    "precision_recall_fscore_support",
    "precision_score",
    "recall_score",
    "f1_score",
    "fbeta_score",
    "classification_report",
    "per_step_confusion_matrix",
    "per_step_scores",
    "token_accuracy",
    "sequence_accuracy",
    "cross_entropy",
    "mean_squared_error",
    "perplexity",
]

_AVERAGES = (None, "binary", "micro", "macro", "weighted")
_REDUCTIONS = ("mean", "sum", "none", "per_step", "per_sequence")
# Label ranges up to this bound are counted directly with np.bincount; larger
# (or negative) integer labels go through np.unique first.
_DIRECT_LIMIT = 1024
# Elements per block in the counting kernel: small enough for the block and
# its temporaries to stay in the CPU cache.
_BLOCK = 1 << 16
# From this many labels on, confusion counts use the compiled one-pass kernel
# of utils._kernels when numba is installed (numpy below, or without numba).
_JIT_MIN = 1 << 22  # about 4.2 million; numpy takes ~8 ms there


class UndefinedMetricWarning(UserWarning):
    """A score was undefined (0/0) and replaced by `zero_division`'s value.

    The counterpart of scikit-learn's warning of the same name, with the same
    message; raised only when ``zero_division="warn"`` (the default), where
    the value used is 0. It is not a subclass of scikit-learn's class (this
    module does not import scikit-learn), so filter both by message::

        warnings.filterwarnings("ignore", message=".*is ill-defined and being set to")

    or, better, pass ``zero_division=0``, 1 or ``np.nan``, which never warns.
    """


# ----------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------


def threshold(scores, threshold=0.5):
    """Labels from scores: 1 where ``score > threshold`` (strictly), else 0.

    A score exactly equal to the threshold is a *negative*. ``scores`` are
    probabilities or any real scores (logits with threshold 0); NaN/inf are
    refused. Returns an ``int64`` array of the same shape.
    """
    s = as_scores(scores, "scores", min_ndim=0)
    if not isinstance(threshold, numbers.Real) or isinstance(threshold, bool) or not math.isfinite(threshold):
        raise MetricInputError(f"`threshold` must be a finite real number; got {threshold!r}")
    return (s > threshold).astype(np.int64)


# Invalid parameter values raise MetricInputError (a ValueError and a TypeError),
# as scikit-learn's parameter validation raises its InvalidParameterError.


def _check_zero_division(zero_division):
    if isinstance(zero_division, str):
        if zero_division == "warn":
            return 0.0
    elif isinstance(zero_division, (numbers.Real, np.bool_)):  # True/False are 1/0, as in scikit-learn
        if math.isnan(zero_division):
            return np.nan
        if zero_division in (0, 1):
            return float(zero_division)
    raise MetricInputError(f'`zero_division` must be "warn", 0, 1 or np.nan; got {zero_division!r}')


def _check_average(average):
    if average not in _AVERAGES or (average is not None and not isinstance(average, str)):
        hint = ""
        if average == "samples":
            hint = " ('samples' averages over the rows of multilabel input, which this module does not compute)"
        raise MetricInputError(f"`average` must be one of {list(_AVERAGES)!r}; got {average!r}{hint}")


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise MetricInputError(f"`{name}` must be True or False; got {value!r}")
    return bool(value)


def _check_beta(beta):
    """beta >= 0 (inf allowed), as scikit-learn; True/False read as 1/0 like scikit-learn does."""
    # typeshed's numbers.Real declares only < and <=; a NaN beta must fail too, hence `not >=`
    if not isinstance(beta, (numbers.Real, np.bool_)) or not beta >= 0:  # type: ignore[operator]
        raise MetricInputError(f"`beta` must be a real number >= 0; got {beta!r}")
    return float(beta)


def _check_int_arg(value, name, *, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise MetricInputError(f"`{name}` must be an int >= {minimum}; got {value!r}")
    return int(value)


def _pair(
    y_true,
    y_pred,
    *,
    mask=None,
    ignore_index=None,
    sample_weight=None,
    sequences=False,
    ndim=(1, 2),
    where="this function",
):
    """Validated labels, flattened to the real positions: (yt, yp, weights).

    2-D labels are (batch, time) sequences only when the call says so
    (`mask`, `ignore_index` or `sequences=True`); otherwise they are refused,
    because scikit-learn would read them as multilabel input. A single
    column (n, 1) is n labels, as in scikit-learn.
    """
    sequences = _check_bool(sequences, "sequences")
    yt = as_labels(y_true, "y_true", ndim=ndim)
    yp = as_labels(y_pred, "y_pred", ndim=ndim)
    check_same_shape(yt, yp, "y_true", "y_pred")
    check_label_kinds(y_true=yt, y_pred=yp)
    if yt.ndim == 2 and not (sequences or mask is not None or ignore_index is not None):
        if yt.shape[1] != 1:
            raise ValueError(_two_d_message(yt.shape, where))
        yt, yp = yt[:, 0], yp[:, 0]  # a column vector: n labels, as scikit-learn reads it
    keep = as_mask(mask, yt.shape)
    w = as_sample_weight(sample_weight, yt.shape)
    if ignore_index is not None:
        real = yt != ignore_index
        keep = real if keep is None else keep & real
    if keep is not None:
        yt, yp = yt[keep], yp[keep]
        if w is not None:
            w = w[keep]
            if w.size and not w.any():
                raise ValueError("`sample_weight` is zero at every real position; expected a non-zero weight")
        if yt.size == 0:
            raise ValueError(
                "`mask`/`ignore_index` leave no real position; expected at least one "
                "(remember: in `mask`, True marks a real position)"
            )
    elif yt.ndim != 1:
        yt, yp = yt.ravel(), yp.ravel()
        w = None if w is None else w.ravel()
    return yt, yp, w


def _weight_dtype(sample_weight):
    """The dtype of `sample_weight` as given (before any conversion); None without weights."""
    if sample_weight is None or isinstance(sample_weight, (str, bytes)):
        return None
    return getattr(sample_weight, "dtype", None) or np.asarray(sample_weight).dtype


def _refuse_object_weights(sample_weight, where):
    """scikit-learn's precision/recall family refuses weights of object dtype: so do these."""
    dtype = _weight_dtype(sample_weight)
    if dtype is not None and np.dtype(dtype).kind == "O":
        raise MetricInputError(
            f"`sample_weight` has object dtype; {where}, like scikit-learn's, needs a numeric array: "
            "pass `np.asarray(sample_weight, dtype=float)`"
        )


def _two_d_message(shape, where):
    token = "`token_accuracy(y_true, y_pred)`" if where == "accuracy_score" else "`per_step_scores`/`token_accuracy`"
    return (
        f"`y_true` and `y_pred` are 2-D (shape {tuple(shape)}). scikit-learn would read them as multilabel "
        f"input (one 0/1 column per label) and {where} here does not compute that. If they are "
        "(batch, time) sequences, say so: pass `mask=` (True = a real step), `ignore_index=`, or "
        f"`sequences=True` to pool every token; or use {token}; or flatten them first with "
        "`y_true.ravel()`, `y_pred.ravel()`."
    )


def _as_label_list(labels, like: np.ndarray) -> np.ndarray:
    lab = as_labels(labels, "labels", ndim=1, allow_empty=True)
    if lab.size == 0:
        raise ValueError("`labels` is empty; expected at least one label")
    check_label_kinds(labels=lab, y_true=like)
    if np.unique(lab).size != lab.size:
        raise ValueError(f"`labels` contains duplicates: {lab.tolist()!r}; expected each label once")
    return lab


# ----------------------------------------------------------------------------
# the counting kernel
# ----------------------------------------------------------------------------


def _count_codes(yt, yp, k, w=None, extra=None, extra_size=1):
    """(extra_size*k*k,) counts of the pairs (yt, yp), all assumed in [0, k).

    `extra` (optional int array, values in [0, extra_size)) adds a leading
    index, e.g. the time step. Processed in blocks that stay in the cache.
    """
    size = extra_size * k * k
    # integer weights are summed exactly in int64 (as scikit-learn does); np.bincount
    # would sum them in float64, which is not exact above 2**53
    exact = w is not None and w.dtype.kind in "biu"
    out = np.zeros(size, dtype=np.float64 if (w is not None and not exact) else np.int64)
    n = yt.shape[0]
    for start in range(0, n, _BLOCK):  # loop over blocks, not samples
        stop = min(start + _BLOCK, n)
        codes = yt[start:stop].astype(np.intp, copy=True)
        codes *= k
        codes += yp[start:stop]
        if extra is not None:
            codes += extra[start:stop] * (k * k)
        if exact:
            np.add.at(out, codes, w[start:stop].astype(np.int64, copy=False))
        else:
            out += np.bincount(codes, weights=None if w is None else w[start:stop], minlength=size)
    return out


def _int_range(a):
    return int(a.min()), int(a.max())


def _unsigned(a):
    """The same memory read as unsigned: one max() then checks 0 <= a < k at once."""
    return a if a.dtype.kind == "u" else a.view(a.dtype.str.replace("i", "u"))


def _fast_counts(yt, yp, *, k=None, mask=None, per_step=False, limit=_DIRECT_LIMIT):
    """Counts of (true, pred) pairs of small non-negative integer labels, in cache-sized blocks.

    Returns ``(counts, k)`` with counts of shape (k, k), or (T, k, k) for
    ``per_step`` (2-D inputs, one matrix per column), or None when a real
    label is outside 0..k-1 (``k`` given) or outside 0..limit-1 (``k``
    inferred): the caller then takes the general path or reports the error.

    Why it is fast: each block is read from memory once and then stays in
    the cache; validation is one unsigned max() per block and input (a
    negative label reads as a huge unsigned one); masked positions are
    multiplied by 0 and taken back out of cell (0, 0) afterwards instead of
    being compressed away; temporaries reuse two preallocated buffers; binary
    blocks are counted with three sums instead of a histogram.
    """
    known = k is not None
    if known and k > limit:
        return None
    if per_step:
        n_rows, T = yt.shape
        rows = max(1, _BLOCK // max(T, 1))
    else:
        yt, yp = yt.reshape(-1), yp.reshape(-1)
        if mask is None and yt.size >= _JIT_MIN:
            jit = _jit_counts(yt, yp, k=k, limit=limit)
            if jit is not NotImplemented:
                return jit
        mask = None if mask is None else mask.reshape(-1)
        n_rows, T, rows = yt.shape[0], 1, _BLOCK
    kc = k if known else 0
    acc = None
    width = rows * T
    buf_a = np.empty(width, dtype=np.int64) if mask is not None else None
    buf_b = np.empty(width, dtype=np.int64) if mask is not None else None
    codes_buf = np.empty(width, dtype=np.intp)
    step_offsets = np.arange(T, dtype=np.intp)
    for start in range(0, n_rows, rows):  # loop over blocks of rows, not over samples
        a, b = yt[start : start + rows], yp[start : start + rows]
        n_here = a.shape[0]
        size = a.size
        m = None if mask is None else mask[start : start + rows]
        if m is not None:
            assert buf_a is not None and buf_b is not None  # allocated whenever there is a mask
            a = np.multiply(a, m, out=buf_a[:size].reshape(a.shape), casting="unsafe")
            b = np.multiply(b, m, out=buf_b[:size].reshape(b.shape), casting="unsafe")
        top = max(int(np.maximum.reduce(_unsigned(a), axis=None)), int(np.maximum.reduce(_unsigned(b), axis=None)))
        if known:
            if top >= kc:
                return None
        elif top >= kc:
            if top >= limit:
                return None
            new = max(top + 1, 2)
            if acc is not None:
                grown = np.zeros((T, new, new), dtype=np.int64)
                grown[:, :kc, :kc] = acc
                acc = grown
            kc = new
        if acc is None:
            acc = np.zeros((T, kc, kc), dtype=np.int64)
        codes = codes_buf[:size].reshape(a.shape)
        if not per_step and kc == 2:
            # binary: three sums (the labels are 0/1 here), no histogram
            n_t, n_p = int(a.sum(dtype=np.int64)), int(b.sum(dtype=np.int64))
            n_tp = int(np.bitwise_and(a, b, out=codes, dtype=np.intp, casting="unsafe").sum())
            acc[0] += ((n_here - n_t - n_p + n_tp, n_p - n_tp), (n_t - n_tp, n_tp))
        else:
            # computed in intp: uint8 * k would wrap, and uint64 with int64 has no integer loop
            np.multiply(a, kc, out=codes, dtype=np.intp, casting="unsafe")
            np.add(codes, b, out=codes, dtype=np.intp, casting="unsafe")
            if per_step:
                np.add(codes, step_offsets * (kc * kc), out=codes)
            counts = np.bincount(codes.reshape(-1), minlength=T * kc * kc)
            acc += counts.reshape(T, kc, kc)
        if m is not None:  # padding was counted as the pair (0, 0)
            acc[:, 0, 0] -= n_here - (np.count_nonzero(m, axis=0) if per_step else np.count_nonzero(m))
    if acc is None:  # no rows at all
        kc = max(kc, 1)
        acc = np.zeros((T, kc, kc), dtype=np.int64)
    return (acc if per_step else acc[0]), kc


def _jit_counts(yt, yp, *, k, limit):
    """`_fast_counts` for large 1-D inputs in one compiled pass; NotImplemented without numba.

    Counts into a (stride, stride) table and keeps its top-left corner.
    stride is k when it is given; when the labels are inferred, a small table
    (64 labels) is tried first and `limit` only if a larger label turns up
    (the kernel stops at the first label that does not fit).
    """
    from . import _kernels

    kernel = _kernels.pair_counter() if (yt.dtype.kind in "iu" and yp.dtype.kind in "iu") else None
    if kernel is None:
        return NotImplemented
    for stride in (k,) if k is not None else (min(64, limit), limit):
        table = np.zeros((stride, stride), dtype=np.int64)
        if kernel(yt, yp, stride, table.reshape(-1)) < 0:
            break
    else:  # a label outside 0..stride-1: the caller reports it or takes the general path
        return None
    if k is not None:
        return table, k
    used = np.flatnonzero(table.any(axis=0) | table.any(axis=1))
    kc = max(int(used[-1]) + 1 if used.size else 1, 2)
    return table[:kc, :kc].copy(), kc


def _encode(y, sorted_labels, order):
    """Indices of y in the label list (via its sorted copy); -1 where absent."""
    pos = np.searchsorted(sorted_labels, y)
    pos_c = np.minimum(pos, sorted_labels.size - 1)
    found = sorted_labels[pos_c] == y
    return np.where(found, order[pos_c], -1)


def _range_error(yt, yp, k):
    """Raise the ValueError for a label outside 0..k-1 (num_classes=k)."""
    if yt.dtype.kind not in "iu" or yp.dtype.kind not in "iu":
        raise MetricInputError("`num_classes` needs integer labels 0..num_classes-1; got strings")
    for arr, name in ((yt, "y_true"), (yp, "y_pred")):
        if arr.size == 0:
            continue
        lo, hi = _int_range(arr)
        if lo < 0 or hi >= k:
            bad = lo if lo < 0 else hi
            raise ValueError(f"`{name}` contains the label {bad}, outside 0..{k - 1} allowed by num_classes={k}")


def _pick_labels(cm, k, labels):
    """Rows/columns `labels` (ints, in that order) of (.., k, k) counts over 0..k-1.

    A label outside 0..k-1 never occurs in the data counted, so its row and
    column are zeros; pairs with a label not in `labels` are left out.
    """
    idx = labels.astype(np.int64)
    inside = (idx >= 0) & (idx < k)
    if labels.dtype.kind == "u":
        inside &= labels < k  # uint64 above 2**63 reads as negative in int64
    safe = np.where(inside, idx, 0)
    out = cm[..., safe[:, None], safe[None, :]]
    if not inside.all():
        out = out * (inside[:, None] & inside[None, :])
    return out


def _trim_absent(cm, k):
    """Keep the labels that occur (as true or predicted) in a (.., k, k) count array."""
    seen = cm.sum(axis=-1) + cm.sum(axis=-2)
    if seen.ndim > 1:
        seen = seen.sum(axis=0)
    present = np.flatnonzero(seen > 0)
    if present.size == k:
        return cm, np.arange(k)
    return cm[..., present[:, None], present[None, :]], present


def _confusion(yt, yp, w, *, labels=None, num_classes=None):
    """Counts over a label list: returns (cm (K, K), labels array).

    * num_classes: labels 0..K-1; a label outside raises ValueError.
    * labels: that list, in that order; pairs with a label outside are dropped.
    * neither: the sorted labels present in yt or yp.
    """
    ints = yt.dtype.kind in "iu" and yp.dtype.kind in "iu"
    if num_classes is not None:
        k = num_classes
        if ints and w is None:
            fast = _fast_counts(yt, yp, k=k)
            if fast is not None:
                return fast[0], np.arange(k)
        _range_error(yt, yp, k)
        return _count_codes(yt, yp, k, w).reshape(k, k), np.arange(k)
    if labels is not None:
        k = labels.size
        int_labels = ints and labels.dtype.kind in "iu"
        if int_labels and w is None:
            # counts of the labels present (fast when they are small), then the rows asked for
            fast = _fast_counts(yt, yp, k=k) if np.array_equal(labels, np.arange(k)) else None
            if fast is not None:
                return fast[0], labels
            fast = _fast_counts(yt, yp)
            if fast is not None:
                return _pick_labels(fast[0], fast[1], labels), labels
        if int_labels and np.array_equal(labels, np.arange(k)):
            keep = (yt >= 0) & (yt < k) & (yp >= 0) & (yp < k)
            if not keep.all():
                yt, yp = yt[keep], yp[keep]
                w = None if w is None else w[keep]
            return _count_codes(yt, yp, k, w).reshape(k, k), labels
        order = np.argsort(labels, kind="stable")
        sorted_labels = labels[order]
        it, ip = _encode(yt, sorted_labels, order), _encode(yp, sorted_labels, order)
        keep = (it >= 0) & (ip >= 0)
        it, ip = it[keep], ip[keep]
        w = None if w is None else w[keep]
        return _count_codes(it, ip, k, w).reshape(k, k), labels
    # infer the labels present
    if ints:
        fast = _fast_counts(yt, yp)
        if fast is not None:
            cm, k = fast
            if w is None:
                return _trim_absent(cm, k)
            _, present = _trim_absent(cm, k)
            full = _count_codes(yt, yp, k, w).reshape(k, k)
            return full[np.ix_(present, present)], present
    present = np.unique(np.concatenate([yt, yp]))
    it = np.searchsorted(present, yt)
    ip = np.searchsorted(present, yp)
    k = present.size
    return _count_codes(it, ip, k, w).reshape(k, k), present


def _normalize_cm(cm, normalize):
    if normalize is None:
        return cm
    if normalize not in ("true", "pred", "all"):
        raise ValueError(f'`normalize` must be None, "true", "pred" or "all"; got {normalize!r}')
    with np.errstate(all="ignore"):
        if normalize == "true":
            out = cm / cm.sum(axis=-1, keepdims=True)
        elif normalize == "pred":
            out = cm / cm.sum(axis=-2, keepdims=True)
        else:
            out = cm / cm.sum(axis=(-2, -1), keepdims=True)
    return np.nan_to_num(out)


# ----------------------------------------------------------------------------
# classification (one label per position)
# ----------------------------------------------------------------------------


def confusion_matrix(
    y_true,
    y_pred,
    *,
    labels=None,
    num_classes=None,
    mask=None,
    ignore_index=None,
    sample_weight=None,
    normalize=None,
    sequences=False,
):
    """Confusion matrix C: ``C[i, j]`` counts positions of true class i predicted as j.

    Rows are the actual classes, columns the predicted ones (scikit-learn's
    convention). The classes are, in this order:

    * ``labels`` if given (pairs whose true or predicted label is not in the
      list are left out, as in scikit-learn; at least one label must occur in
      ``y_true``);
    * ``0..num_classes-1`` if ``num_classes`` is given (a label outside that
      range is an error; use this to get a fixed (K, K) shape even when a
      class never occurs);
    * otherwise the sorted labels occurring in ``y_true`` or ``y_pred`` at
      real positions.

    ``normalize`` "true" / "pred" / "all" divides by row sums, column sums or
    the total (0 where a row or column is empty). Returns an ``int64`` array
    (integer or no weights; integer weights are summed exactly), or
    ``float64`` with float weights or ``normalize``. A (1, 1) result warns,
    as in scikit-learn: pass ``labels`` or ``num_classes`` for the full shape.

    Labels are 1-D; 2-D ``(batch, time)`` labels need ``mask``,
    ``ignore_index`` or ``sequences=True`` (their real tokens are pooled),
    because scikit-learn would read a 2-D array as multilabel input.
    ``sample_weight`` has the shape of ``y_true``.
    """
    if labels is not None and num_classes is not None:
        raise ValueError("give `labels` or `num_classes`, not both")
    if num_classes is not None:
        num_classes = _check_int_arg(num_classes, "num_classes", minimum=1)
    if normalize is not None and (not isinstance(normalize, str) or normalize not in ("true", "pred", "all")):
        raise MetricInputError(f'`normalize` must be None, "true", "pred" or "all"; got {normalize!r}')
    yt, yp, w = _pair(
        y_true,
        y_pred,
        mask=mask,
        ignore_index=ignore_index,
        sample_weight=sample_weight,
        sequences=sequences,
        where="confusion_matrix",
    )
    if labels is not None:
        labels = _as_label_list(labels, yt)
        if not np.isin(labels, yt).any():
            raise ValueError(f"none of `labels` {labels.tolist()!r} occurs in `y_true`; expected at least one")
    cm, _ = _confusion(yt, yp, w, labels=labels, num_classes=num_classes)
    if cm.shape == (1, 1) and num_classes is None:
        warnings.warn(
            "A single label was found in 'y_true' and 'y_pred'. For the confusion matrix to have the correct "
            "shape, use the 'labels' parameter to pass all known labels (or `num_classes`).",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )
    return _normalize_cm(cm, normalize)


def accuracy_score(
    y_true, y_pred, *, mask=None, ignore_index=None, sample_weight=None, normalize=True, sequences=False
):
    """Fraction (or, with ``normalize=False``, number) of real positions predicted right.

    With ``sample_weight`` the positions are weighted. 2-D ``(batch, time)``
    labels need ``mask``, ``ignore_index`` or ``sequences=True`` and then
    count tokens (like :func:`token_accuracy`): scikit-learn would read a 2-D
    array as multilabel input and count whole rows. For whole sequences use
    :func:`sequence_accuracy`. Boolean weights with ``normalize=False`` are
    refused (scikit-learn's count is wrong there): use integer weights.
    """
    normalize = _check_bool(normalize, "normalize")
    dtype = _weight_dtype(sample_weight)
    if not normalize and dtype is not None and np.dtype(dtype).kind == "b":
        raise MetricInputError(
            "boolean `sample_weight` with normalize=False is refused: scikit-learn returns 1.0 for any count "
            "there (numpy's dot of booleans is a logical or); pass integer weights, e.g. `w.astype(int)`"
        )
    yt, yp, w = _pair(
        y_true,
        y_pred,
        mask=mask,
        ignore_index=ignore_index,
        sample_weight=sample_weight,
        sequences=sequences,
        where="accuracy_score",
    )
    right = yt == yp
    if w is None:
        return float(right.mean()) if normalize else float(right.sum())
    if normalize:
        total = float(w.sum())
        if total == 0:
            raise ValueError("`sample_weight` sums to 0 over the real positions; the accuracy is undefined")
        return float(np.dot(right, w) / total)
    return float(np.dot(right, w))


def _caller_stacklevel():
    """The stacklevel that points a warning at the first frame outside this module."""
    level, frame = 1, inspect.currentframe()
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    return level - 1


def _warn(metric, modifier, size, average):
    where = "due to" if size == 1 else "in labels with"
    warnings.warn(
        f"{metric} is ill-defined and being set to 0.0 {where} no {modifier} samples. "
        "Use `zero_division` parameter to control this behavior.",
        UndefinedMetricWarning,
        stacklevel=_caller_stacklevel(),
    )


def _divide(num, den, zero_value, metric, modifier, warn_for, zero_division, average):
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    bad = den == 0
    out = num / np.where(bad, 1.0, den)
    if bad.any():
        out[bad] = zero_value
        if isinstance(zero_division, str) and metric in warn_for:
            _warn(metric.capitalize() if metric != "f-score" else "F-score", modifier, out.shape[0], average)
    return out


def _nanaverage(a, weights=None):
    if a.shape[0] == 0:
        return float("nan")
    ok = ~np.isnan(a)
    if not ok.any():
        return float("nan")
    if weights is None:
        return float(a[ok].mean())
    wv = np.asarray(weights, dtype=np.float64)[ok]
    if wv.sum() == 0:
        return float(a[ok].mean())
    return float(np.average(a[ok], weights=wv))


def _select_labels(present, like, labels, average, pos_label):
    """scikit-learn's choice of the labels scored (None = every present label)."""
    if average == "binary":
        if present.size > 2:
            raise ValueError(
                f"average='binary' needs at most two classes, but the data hold {present.size} "
                f"({present[:10].tolist()!r}); choose average=None, 'micro', 'macro' or 'weighted'"
            )
        if pos_label is None:  # scikit-learn fails on it even with a single label present
            raise MetricInputError(f"`pos_label`=None is not a valid label; expected one of {present.tolist()!r}")
        if not (_kind_ok(pos_label, like) and _contains(present, pos_label)):
            if present.size >= 2:
                raise ValueError(
                    f"`pos_label`={pos_label!r} is not a valid label; expected one of {present.tolist()!r}"
                )
        return _as_label_list([pos_label], like) if _kind_ok(pos_label, like) else None
    if pos_label not in (None, 1):
        warnings.warn(
            f"pos_label={pos_label!r} is ignored when average != 'binary' (got {average!r}). "
            "Use labels=[pos_label] to score a single class.",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )
    return labels


def _contains(present, value):
    try:
        return bool(np.any(present == value))
    except (TypeError, ValueError):  # pragma: no cover - numpy comparison oddities
        return False


def _kind_ok(value, like):
    is_str = isinstance(value, (str, np.str_))
    return is_str == (like.dtype.kind in "US")


def _prf_counts(cm, present, labels):
    """tp, predicted, true sums for `labels` (None: the sorted present labels)."""
    tp, pred, true = np.diagonal(cm), cm.sum(0), cm.sum(1)
    if labels is None:
        return tp, pred, true
    idx = np.searchsorted(present, labels)
    idx_c = np.minimum(idx, present.size - 1)
    found = present[idx_c] == labels
    pick = lambda a: np.where(found, a[idx_c], 0)
    return pick(tp), pick(pred), pick(true)


_WARN_FOR = ("precision", "recall", "f-score")


def _check_warn_for(warn_for):
    if not isinstance(warn_for, (list, tuple, set, frozenset)):
        raise MetricInputError(
            f"`warn_for` must be a list, tuple or set of names among {list(_WARN_FOR)!r}; got {warn_for!r}"
        )
    return tuple(warn_for)


def _prf(
    y_true,
    y_pred,
    *,
    beta,
    labels,
    pos_label,
    average,
    zero_division,
    mask,
    ignore_index,
    sample_weight,
    warn_for,
    sequences=False,
    where="this function",
):
    _check_average(average)
    zero_value = _check_zero_division(zero_division)
    beta = _check_beta(beta)
    warn_for = _check_warn_for(warn_for)
    _refuse_object_weights(sample_weight, where)
    yt, yp, w = _pair(
        y_true,
        y_pred,
        mask=mask,
        ignore_index=ignore_index,
        sample_weight=sample_weight,
        sequences=sequences,
        where=where,
    )
    if labels is not None:
        labels = _as_label_list(labels, yt)
    cm, present = _confusion(yt, yp, w)
    chosen = _select_labels(present, yt, labels, average, pos_label)
    if average == "binary" and chosen is None:  # pos_label of another type than the data
        tp = pred = true = np.zeros(1)
    else:
        tp, pred, true = _prf_counts(cm, present, chosen)
    if average == "micro":
        tp, pred, true = np.array([tp.sum()]), np.array([pred.sum()]), np.array([true.sum()])
    precision = _divide(tp, pred, zero_value, "precision", "predicted", warn_for, zero_division, average)
    recall = _divide(tp, true, zero_value, "recall", "true", warn_for, zero_division, average)
    if np.isposinf(beta):
        f = recall
    elif beta == 0:
        f = precision
    else:
        b2 = float(beta) ** 2
        f = _divide(
            (1 + b2) * np.asarray(tp, dtype=np.float64),
            b2 * np.asarray(true, dtype=np.float64) + pred,
            zero_value,
            "f-score",
            "true nor predicted",
            warn_for,
            zero_division,
            average,
        )
    if average is None:
        support = np.asarray(true)
        # scikit-learn reports float supports with weights, and also (a quirk
        # kept for identical reports) when no position at all is predicted right
        integral = w is None and np.trace(cm) > 0
        support = support.astype(np.int64) if integral else support.astype(np.float64)
        return precision, recall, f, support
    weights = true if average == "weighted" else None
    return _nanaverage(precision, weights), _nanaverage(recall, weights), _nanaverage(f, weights), None


_PRF_DOC = """

    Arguments as in scikit-learn: ``labels`` picks (and orders) the classes
    scored; ``pos_label`` is the positive class for ``average="binary"`` (the
    data may then hold at most two classes); ``average`` None returns one
    score per class, "micro" pools the counts, "macro" is the plain mean over
    classes, "weighted" the mean weighted by support. ``zero_division`` is the
    value of a 0/0 score: "warn" (0, with an :class:`UndefinedMetricWarning`),
    0, 1 or ``np.nan`` (nan scores are left out of averages). ``mask``,
    ``ignore_index`` and ``sample_weight`` select and weight positions.
    2-D ``(batch, time)`` labels need ``mask``, ``ignore_index`` or
    ``sequences=True`` (their real tokens are pooled): scikit-learn would read
    a 2-D array as multilabel input, which this module does not compute.
"""


def precision_recall_fscore_support(
    y_true,
    y_pred,
    *,
    beta=1.0,
    labels=None,
    pos_label=1,
    average=None,
    warn_for=_WARN_FOR,
    sample_weight=None,
    zero_division="warn",
    mask=None,
    ignore_index=None,
    sequences=False,
):
    """Precision, recall, F-beta and support, as scikit-learn computes them.

    precision = TP / (TP + FP), recall = TP / (TP + FN),
    F-beta = (1 + beta²) TP / ((1 + beta²) TP + beta² FN + FP).
    Returns ``(precision, recall, fbeta, support)``: by default
    (``average=None``, as in scikit-learn) arrays with one value per class,
    in the order of ``labels`` (default: the sorted labels present); with an
    ``average``, three floats and ``support=None``. ``warn_for`` names the
    scores ("precision", "recall", "f-score") that may raise an
    :class:`UndefinedMetricWarning` when ``zero_division="warn"``.
    """
    return _prf(
        y_true,
        y_pred,
        beta=beta,
        labels=labels,
        pos_label=pos_label,
        average=average,
        zero_division=zero_division,
        mask=mask,
        ignore_index=ignore_index,
        sample_weight=sample_weight,
        warn_for=warn_for,
        sequences=sequences,
        where="precision_recall_fscore_support",
    )


def _unwrap(x):
    return x if isinstance(x, np.ndarray) else float(x)


def precision_score(
    y_true,
    y_pred,
    *,
    labels=None,
    pos_label=1,
    average="binary",
    sample_weight=None,
    zero_division="warn",
    mask=None,
    ignore_index=None,
    sequences=False,
):
    """Precision TP / (TP + FP): of the positions predicted as a class, the share that are."""
    p, _, _, _ = _prf(
        y_true,
        y_pred,
        beta=1.0,
        labels=labels,
        pos_label=pos_label,
        average=average,
        zero_division=zero_division,
        mask=mask,
        ignore_index=ignore_index,
        sample_weight=sample_weight,
        warn_for=("precision",),
        sequences=sequences,
        where="precision_score",
    )
    return _unwrap(p)


def recall_score(
    y_true,
    y_pred,
    *,
    labels=None,
    pos_label=1,
    average="binary",
    sample_weight=None,
    zero_division="warn",
    mask=None,
    ignore_index=None,
    sequences=False,
):
    """Recall TP / (TP + FN): of the positions truly of a class, the share found."""
    _, r, _, _ = _prf(
        y_true,
        y_pred,
        beta=1.0,
        labels=labels,
        pos_label=pos_label,
        average=average,
        zero_division=zero_division,
        mask=mask,
        ignore_index=ignore_index,
        sample_weight=sample_weight,
        warn_for=("recall",),
        sequences=sequences,
        where="recall_score",
    )
    return _unwrap(r)


def fbeta_score(
    y_true,
    y_pred,
    *,
    beta,
    labels=None,
    pos_label=1,
    average="binary",
    sample_weight=None,
    zero_division="warn",
    mask=None,
    ignore_index=None,
    sequences=False,
):
    """F-beta: recall counts beta times as much as precision (beta=1 is F1)."""
    _, _, f, _ = _prf(
        y_true,
        y_pred,
        beta=beta,
        labels=labels,
        pos_label=pos_label,
        average=average,
        zero_division=zero_division,
        mask=mask,
        ignore_index=ignore_index,
        sample_weight=sample_weight,
        warn_for=("f-score",),
        sequences=sequences,
        where="fbeta_score",
    )
    return _unwrap(f)


def f1_score(
    y_true,
    y_pred,
    *,
    labels=None,
    pos_label=1,
    average="binary",
    sample_weight=None,
    zero_division="warn",
    mask=None,
    ignore_index=None,
    sequences=False,
    beta=1.0,
):
    """F1 = 2 TP / (2 TP + FP + FN), the harmonic mean of precision and recall.

    ``beta`` other than 1 gives the F-beta score (same as :func:`fbeta_score`).
    """
    _, _, f, _ = _prf(
        y_true,
        y_pred,
        beta=beta,
        labels=labels,
        pos_label=pos_label,
        average=average,
        zero_division=zero_division,
        mask=mask,
        ignore_index=ignore_index,
        sample_weight=sample_weight,
        warn_for=("f-score",),
        sequences=sequences,
        where="f1_score",
    )
    return _unwrap(f)


for _f in (precision_recall_fscore_support, precision_score, recall_score, fbeta_score, f1_score):
    if _f.__doc__ is not None:  # None under `python -OO`, which strips docstrings
        _f.__doc__ += _PRF_DOC


def _label_names(labels, labels_arr, y_true, y_pred):
    """Class names as scikit-learn prints them: booleans as True/False, float labels as 1.0."""
    if labels is not None:
        return [f"{lab}" for lab in _arrays.as_numpy(labels).tolist()]
    kinds = {_arrays.as_numpy(y).dtype.kind for y in (y_true, y_pred)}
    if kinds == {"b"}:
        return [f"{bool(lab)}" for lab in labels_arr.tolist()]
    if "f" in kinds and kinds <= set("biuf"):
        return [f"{float(lab)}" for lab in labels_arr.tolist()]
    return [f"{lab}" for lab in labels_arr.tolist()]


def classification_report(
    y_true,
    y_pred,
    *,
    labels=None,
    target_names=None,
    sample_weight=None,
    digits=2,
    output_dict=False,
    zero_division="warn",
    mask=None,
    ignore_index=None,
    sequences=False,
):
    """scikit-learn's text report: precision, recall, F1 and support per class, then averages.

    The "accuracy" line replaces "micro avg" when every label in the data is
    reported. With ``output_dict=True`` the same numbers come as a dict.
    2-D ``(batch, time)`` labels need ``mask``, ``ignore_index`` or
    ``sequences=True`` (their real tokens are pooled).
    """
    output_dict = _check_bool(output_dict, "output_dict")
    digits = _check_int_arg(digits, "digits", minimum=0)
    _check_zero_division(zero_division)
    _refuse_object_weights(sample_weight, "classification_report")
    yt, yp, w = _pair(
        y_true,
        y_pred,
        mask=mask,
        ignore_index=ignore_index,
        sample_weight=sample_weight,
        sequences=sequences,
        where="classification_report",
    )
    present = np.unique(np.concatenate([yt, yp]))
    if labels is None:
        labels_arr, given = present, False
    else:
        labels_arr, given = _as_label_list(labels, yt), True
    micro_is_accuracy = not given or set(labels_arr.tolist()) >= set(present.tolist())
    if target_names is not None and len(target_names) != labels_arr.size:
        if given:
            warnings.warn(
                f"labels size, {labels_arr.size}, does not match size of target_names, {len(target_names)}",
                stacklevel=2,
            )
        else:
            raise ValueError(
                f"`target_names` has {len(target_names)} names for {labels_arr.size} classes; "
                "expected one name per class (or pass `labels`)"
            )
    if target_names is None:
        target_names = _label_names(labels, labels_arr, y_true, y_pred)
    kw = dict(labels=labels_arr, sample_weight=w, zero_division=zero_division)
    p, r, f, s = precision_recall_fscore_support(yt, yp, average=None, **kw)
    headers = ["precision", "recall", "f1-score", "support"]
    rows = list(zip(target_names, p, r, f, s))
    averages = []
    for avg in ("micro", "macro", "weighted"):
        heading = "accuracy" if (avg == "micro" and micro_is_accuracy) else f"{avg} avg"
        ap, ar, af, _ = precision_recall_fscore_support(yt, yp, average=avg, **kw)
        averages.append((heading, ap, ar, af, np.sum(s)))
    if output_dict:
        table: dict[str, float | dict[str, float]] = {
            name: dict(zip(headers, map(float, vals))) for name, *vals in rows
        }
        for heading, *vals in averages:
            table[heading] = float(vals[0]) if heading == "accuracy" else dict(zip(headers, map(float, vals)))
        return table
    width = max(max(len(n) for n in target_names), len("weighted avg"), digits)
    report = ("{:>{width}s} " + " {:>9}" * 4).format("", *headers, width=width) + "\n\n"
    row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    for row in rows:
        report += row_fmt.format(*row, width=width, digits=digits)
    report += "\n"
    for heading, ap, ar, af, total in averages:
        if heading == "accuracy":
            fmt = "{:>{width}s} " + " {:>9.{digits}}" * 2 + " {:>9.{digits}f}" + " {:>9}\n"
            report += fmt.format(heading, "", "", af, total, width=width, digits=digits)
        else:
            report += row_fmt.format(heading, ap, ar, af, total, width=width, digits=digits)
    return report


# ----------------------------------------------------------------------------
# sequences (batch, time)
# ----------------------------------------------------------------------------


def _seq_pair(y_true, y_pred, mask, ignore_index=None):
    yt = as_labels(y_true, "y_true", ndim=2)
    yp = as_labels(y_pred, "y_pred", ndim=2)
    check_same_shape(yt, yp, "y_true", "y_pred")
    check_label_kinds(y_true=yt, y_pred=yp)
    keep = as_mask(mask, yt.shape)
    if ignore_index is not None:
        real = yt != ignore_index
        keep = real if keep is None else keep & real
    return yt, yp, keep  # keep None: every position is real


def per_step_confusion_matrix(y_true, y_pred, *, mask=None, labels=None, num_classes=None):
    """One confusion matrix per time step: (T, K, K) from (batch, time) labels.

    ``out[t]`` counts the real positions of step t (rows actual, columns
    predicted). The classes are the same for every step: ``labels`` (pairs
    with a label outside the list are left out), ``0..num_classes-1`` (a
    label outside is an error), or the sorted labels present at any real
    position. A fully padded step gives an all-zero matrix.
    """
    if labels is not None and num_classes is not None:
        raise ValueError("give `labels` or `num_classes`, not both")
    if num_classes is not None:
        num_classes = _check_int_arg(num_classes, "num_classes", minimum=1)
    yt, yp, keep = _seq_pair(y_true, y_pred, mask)
    if labels is not None:
        labels = _as_label_list(labels, yt)
    elif num_classes is None and keep is not None and not keep.any():
        raise ValueError("`mask` leaves no real position, so the classes are unknown; pass `num_classes` or `labels`")
    return _per_step_counts(yt, yp, keep, labels, num_classes)[0]


def _per_step_counts(yt, yp, keep, labels, num_classes):
    """(T, K, K) counts and the label list, for validated (batch, time) labels."""
    T = yt.shape[1]
    ints = yt.dtype.kind in "iu" and yp.dtype.kind in "iu"
    if ints and labels is None:
        fast = _fast_counts(yt, yp, k=num_classes, mask=keep, per_step=True)
        if fast is not None:
            cm, k = fast
            return (cm, np.arange(k)) if num_classes is not None else _trim_absent(cm, k)
    elif ints and labels.dtype.kind in "iu":
        # the same fast counts however the classes are named: count the labels
        # present, then keep the rows and columns of `labels`, in their order
        k = labels.size
        fast = _fast_counts(yt, yp, k=k, mask=keep, per_step=True) if np.array_equal(labels, np.arange(k)) else None
        if fast is None:
            fast = _fast_counts(yt, yp, mask=keep, per_step=True)
            if fast is not None:
                return _pick_labels(fast[0], fast[1], labels), labels
        else:
            return fast[0], labels
    if keep is None:
        keep = np.ones(yt.shape, dtype=bool)
    steps = np.broadcast_to(np.arange(T), yt.shape)[keep]
    ft, fp = yt[keep], yp[keep]
    if num_classes is not None:
        _range_error(ft, fp, num_classes)
        k, it, ip, lab = num_classes, ft, fp, np.arange(num_classes)
    elif labels is not None:
        order = np.argsort(labels, kind="stable")
        sl = labels[order]
        k, it, ip = labels.size, _encode(ft, sl, order), _encode(fp, sl, order)
        ok = (it >= 0) & (ip >= 0)
        it, ip, steps, lab = it[ok], ip[ok], steps[ok], labels
    else:
        lab = np.unique(np.concatenate([ft, fp]))
        k, it, ip = lab.size, np.searchsorted(lab, ft), np.searchsorted(lab, fp)
    counts = _count_codes(it, ip, k, None, extra=steps, extra_size=T)
    return counts.reshape(T, k, k), lab


_STEP_METRICS = ("precision", "recall", "f1", "accuracy")


def per_step_scores(
    y_true,
    y_pred,
    *,
    metric="f1",
    average="binary",
    mask=None,
    zero_division=np.nan,
    pos_label=1,
    labels=None,
    num_classes=None,
    beta=1.0,
):
    """One score per time step: (T,) from (batch, time) labels.

    ``metric`` is "precision", "recall", "f1" (F-beta with ``beta``) or
    "accuracy". Each step is scored like scikit-learn's function on that
    step's real positions, with the class list fixed across steps (as if
    ``labels=`` were passed at every step): the labels present anywhere, or
    ``labels``/``num_classes``. A step with no real position is NaN. The
    default ``zero_division=np.nan`` marks undefined scores as NaN (and macro
    averages skip them), which is what a curve over time should show.
    With ``average=None`` the result is (T, K): one score per step and class.
    """
    if metric not in _STEP_METRICS:
        raise ValueError(f"`metric` must be one of {list(_STEP_METRICS)!r}; got {metric!r}")
    _check_average(average)
    zero_value = _check_zero_division(zero_division)
    # typeshed's numbers.Real declares only < and <=; a NaN beta must fail too, hence `not >`
    if not isinstance(beta, numbers.Real) or isinstance(beta, bool) or not beta > 0:  # type: ignore[operator]
        raise ValueError(f"`beta` must be a real number > 0; got {beta!r}")
    yt, yp, keep = _seq_pair(y_true, y_pred, mask)
    if keep is not None and not keep.any():
        raise ValueError("`mask` leaves no real position; expected at least one")
    if labels is not None and num_classes is not None:
        raise ValueError("give `labels` or `num_classes`, not both")
    if labels is not None:
        labels = _as_label_list(labels, yt)
    if num_classes is not None:
        num_classes = _check_int_arg(num_classes, "num_classes", minimum=1)
    cm, class_list = _per_step_counts(yt, yp, keep, labels, num_classes)  # (T, K, K)
    T, K, _ = cm.shape
    real = np.full(T, yt.shape[0]) if keep is None else keep.sum(0)
    if metric == "accuracy":
        with np.errstate(all="ignore"):
            acc = np.trace(cm, axis1=1, axis2=2) / real
        return np.where(real > 0, acc, np.nan)
    tp = np.diagonal(cm, axis1=1, axis2=2).astype(np.float64)  # (T, K)
    pred = cm.sum(1).astype(np.float64)
    true = cm.sum(2).astype(np.float64)
    if average == "binary":
        if class_list.size > 2:
            raise ValueError(
                f"average='binary' needs at most two classes, but the data hold {class_list.size}; "
                "choose average=None, 'micro', 'macro' or 'weighted'"
            )
        hit = np.flatnonzero(class_list == pos_label) if _kind_ok(pos_label, yt) else np.array([], dtype=int)
        if hit.size == 0:
            if class_list.size >= 2:
                raise ValueError(
                    f"`pos_label`={pos_label!r} is not a valid label; expected one of {class_list.tolist()!r}"
                )
            tp = pred = true = np.zeros((T, 1))
        else:
            tp, pred, true = tp[:, hit], pred[:, hit], true[:, hit]
    elif average == "micro":
        tp, pred, true = tp.sum(1, keepdims=True), pred.sum(1, keepdims=True), true.sum(1, keepdims=True)

    def div(num, den):
        with np.errstate(all="ignore"):
            return np.where(den == 0, zero_value, num / np.where(den == 0, 1, den))

    if metric == "precision":
        score = div(tp, pred)
    elif metric == "recall":
        score = div(tp, true)
    else:
        b2 = float(beta) ** 2
        score = div((1 + b2) * tp, b2 * true + pred)
    if average is None:
        score[real == 0] = np.nan
        return score
    if average == "weighted":
        wts = true
    else:
        wts = np.ones_like(score)
    ok = ~np.isnan(score)
    wsum = (wts * ok).sum(1)
    # all weights zero -> plain mean of the defined scores (as scikit-learn)
    plain = ok.sum(1)
    with np.errstate(all="ignore"):
        weighted = np.where(ok, score * wts, 0).sum(1) / wsum
        unweighted = np.where(ok, score, 0).sum(1) / plain
    out = np.where(wsum > 0, weighted, unweighted)
    out[(plain == 0) | (real == 0)] = np.nan
    return out


def token_accuracy(y_true, y_pred, *, mask=None, ignore_index=None):
    """Share of real tokens predicted right (padding never counts).

    Works for any shape (typically (batch, time)); ``mask`` has the same shape.
    """
    yt = as_labels(y_true, "y_true")
    yp = as_labels(y_pred, "y_pred")
    check_same_shape(yt, yp, "y_true", "y_pred")
    check_label_kinds(y_true=yt, y_pred=yp)
    keep = as_mask(mask, yt.shape)
    if ignore_index is not None:
        keep = (yt != ignore_index) if keep is None else keep & (yt != ignore_index)
    right = yt == yp
    if keep is None:
        return float(right.mean())
    n = int(keep.sum())
    if n == 0:
        raise ValueError("`mask`/`ignore_index` leave no real token; expected at least one")
    return float(np.count_nonzero(right & keep) / n)


def sequence_accuracy(y_true, y_pred, *, mask=None, ignore_index=None):
    """Share of sequences (rows of (batch, time)) whose every real step is right.

    Exact match over the real steps; padded steps never count. A row with no
    real step is not a sequence and is left out; if no row has one, that is
    an error.
    """
    yt, yp, keep = _seq_pair(y_true, y_pred, mask, ignore_index)
    if keep is None:
        return float(np.all(yt == yp, axis=1).mean())
    has_real = keep.any(axis=1)
    if not has_real.any():
        raise ValueError("no row of `y_true` has a real step (check `mask`: True = real); expected at least one")
    wrong = (yt != yp) & keep
    row_right = ~wrong.any(axis=1)
    return float(row_right[has_real].mean())


# ----------------------------------------------------------------------------
# losses
# ----------------------------------------------------------------------------


def _reduce(values, keep, reduction, name):
    """Reduce per-position values (zeros at masked positions) over the real ones."""
    if reduction == "none":
        return values
    if reduction == "sum":
        return float(values.sum())
    n = keep.sum() if keep is not None else values.size
    if reduction == "mean":
        return float(values.sum() / n)
    if values.ndim != 2:
        raise ValueError(
            f"reduction={reduction!r} needs (batch, time) positions; `{name}` gives positions of shape {values.shape}"
        )
    k = np.ones(values.shape, dtype=bool) if keep is None else keep
    axis = 0 if reduction == "per_step" else 1
    count = k.sum(axis)
    with np.errstate(all="ignore"):
        out = values.sum(axis) / count
    return np.where(count > 0, out, np.nan)


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"`reduction` must be one of {list(_REDUCTIONS)!r}; got {reduction!r}")


def cross_entropy(y_true, y_pred, *, from_logits=True, mask=None, ignore_index=None, reduction="mean"):
    """Cross-entropy of integer targets under predicted class scores (classes on the last axis).

    ``y_true`` holds class indices of shape S (e.g. (batch,) or (batch, time));
    ``y_pred`` has shape S + (C,). ``from_logits`` says what ``y_pred`` is and
    is never guessed: True = raw scores (logits; a log-softmax is taken with
    the log-sum-exp trick, so logits of ±1000 are fine), False =
    probabilities (each row must sum to 1; a probability of exactly 0 on the
    target gives an infinite loss, as in mathematics).

    ``reduction``: "mean" over real positions (PyTorch's and Keras' default),
    "sum", "none" (the loss at every position, 0 where masked, as PyTorch
    does with ignore_index), "per_step" ((T,) mean over the real positions of
    each step, NaN for a fully padded step) or "per_sequence" ((batch,) mean
    over each row's real steps, NaN for an empty row).
    """
    _check_reduction(reduction)
    if not isinstance(from_logits, (bool, np.bool_)):
        raise MetricInputError(f"`from_logits` must be True (logits) or False (probabilities); got {from_logits!r}")
    scores = as_scores(y_pred, "y_pred", min_ndim=1)
    target = as_labels(y_true, "y_true")
    if target.dtype.kind not in "iu":
        raise MetricInputError(f"`y_true` must hold integer class indices; got dtype {target.dtype}")
    if target.shape != scores.shape[:-1]:
        hint = ""
        if target.shape == scores.shape:
            hint = " It has the shape of `y_pred`: one-hot targets? pass `y_true.argmax(-1)`."
        raise ValueError(
            f"`y_true` has shape {tuple(target.shape)}; expected {tuple(scores.shape[:-1])}, "
            f"the shape of `y_pred` {tuple(scores.shape)} without its last (class) axis.{hint}"
        )
    C = scores.shape[-1]
    keep = as_mask(mask, target.shape)
    if ignore_index is not None:
        real = target != ignore_index
        keep = real if keep is None else keep & real
    if keep is not None and not keep.any():
        raise ValueError("`mask`/`ignore_index` leave no real position; expected at least one")
    sel = target if keep is None else np.where(keep, target, 0)
    lo, hi = int(sel.min()), int(sel.max())
    if lo < 0 or hi >= C:
        raise ValueError(
            f"`y_true` contains the class {lo if lo < 0 else hi} at a real position; "
            f"expected 0..{C - 1} for {C} classes in `y_pred`"
        )
    if from_logits:
        m = scores.max(axis=-1, keepdims=True)
        lse = (m + np.log(np.exp(scores - m).sum(axis=-1, keepdims=True)))[..., 0]
        picked = np.take_along_axis(scores, sel[..., None].astype(np.intp), axis=-1)[..., 0]
        loss = lse - picked
    else:
        if scores.min() < 0 or scores.max() > 1:
            raise ValueError(
                "`y_pred` holds values outside [0, 1] but from_logits=False says they are probabilities; "
                "pass from_logits=True for raw scores"
            )
        sums = scores.sum(axis=-1)
        if not np.allclose(sums, 1.0, atol=1e-4):
            worst = sums.flat[np.argmax(np.abs(sums - 1))]
            raise ValueError(
                f"rows of `y_pred` must sum to 1 when from_logits=False (one row sums to {worst:.6g}); "
                "pass from_logits=True for logits, or apply a softmax first"
            )
        picked = np.take_along_axis(scores, sel[..., None].astype(np.intp), axis=-1)[..., 0]
        with np.errstate(divide="ignore"):
            loss = -np.log(picked)
    if keep is not None:
        loss = np.where(keep, loss, 0.0)
    return _reduce(loss, keep, reduction, "y_true")


_MULTIOUTPUT = ("raw_values", "uniform_average")


def _check_multioutput(multioutput, a):
    """ "raw_values", "uniform_average" or one weight per output (scikit-learn's multioutput)."""
    if isinstance(multioutput, str):
        if multioutput not in _MULTIOUTPUT:
            raise MetricInputError(
                f"`multioutput` must be one of {list(_MULTIOUTPUT)!r} or an array of weights; got {multioutput!r}"
            )
        return multioutput
    if multioutput is None:
        raise MetricInputError(f"`multioutput` must be one of {list(_MULTIOUTPUT)!r} or an array of weights; got None")
    weights = as_scores(multioutput, "multioutput")
    outputs = a.shape[1:]
    if a.ndim == 1 or int(np.prod(outputs)) == 1:
        raise ValueError(
            "`multioutput` weights are useful only with several outputs (2-D values (n_samples, n_outputs)); "
            f"`y_true` has shape {a.shape}"
        )
    if weights.shape not in (outputs, (int(np.prod(outputs)),)):
        raise ValueError(f"`multioutput` has {weights.size} weights; expected one per output, shape {outputs}")
    weights = weights.reshape(-1)
    if weights.sum() == 0:
        raise ValueError("`multioutput` weights sum to 0; the weighted average is undefined")
    return weights


def mean_squared_error(
    y_true, y_pred, *, sample_weight=None, multioutput="uniform_average", mask=None, reduction="mean"
):
    """Mean of (y_true - y_pred)², as scikit-learn computes it, over the real positions.

    As in scikit-learn, values are ``(n_samples,)`` or ``(n_samples,
    n_outputs)``; ``sample_weight`` has one weight per sample (shape
    ``(n_samples,)``, negative weights allowed, their sum must not be 0);
    ``multioutput`` is "uniform_average" (the mean over outputs: the default),
    "raw_values" (one MSE per output, shape ``(n_outputs,)``; ``(1,)`` for 1-D
    values) or an array with one weight per output. Values with more axes,
    e.g. ``(batch, time, features)``, have outputs of shape ``y_true.shape[1:]``.

    Sequence support: ``mask`` has the shape of ``y_true`` or of its leading
    axes (a (batch, time) mask for (batch, time, features) values); masked
    values never count and the mean is over the real values (each counts
    once, weighted by its sample's weight), so ``multioutput`` must then stay
    "uniform_average". ``reduction`` as in :func:`cross_entropy` ("none"
    keeps the squared errors, 0 where masked; "per_step"/"per_sequence" need
    at least 2-D values and average over every other axis); reductions other
    than "mean" take no ``sample_weight`` or ``multioutput``.

    Refused although scikit-learn accepts it: ``(n,)`` against ``(n, 1)``
    shapes (scikit-learn flattens the column): the shapes must match.
    """
    _check_reduction(reduction)
    a = as_scores(y_true, "y_true")
    b = as_scores(y_pred, "y_pred")
    check_same_shape(a, b, "y_true", "y_pred")
    multioutput = _check_multioutput(multioutput, a)
    keep = as_mask(mask, a.shape, allow_prefix=True)
    n = a.shape[0]
    w = as_sample_weight(sample_weight, (n,))
    if w is not None and w.ndim == 0:  # pragma: no cover - as_sample_weight checks the shape
        raise ValueError("`sample_weight` must have one weight per sample")
    if reduction != "mean" and (w is not None or not isinstance(multioutput, str) or multioutput != "uniform_average"):
        raise ValueError(
            f"`sample_weight` and `multioutput` go with reduction='mean' only; got reduction={reduction!r}"
        )
    sq = (a - b) ** 2
    if keep is not None:
        if not keep.any():
            raise ValueError("`mask` leaves no real position; expected at least one")
        keep = np.broadcast_to(keep.reshape(keep.shape + (1,) * (a.ndim - keep.ndim)), a.shape)
        sq = np.where(keep, sq, 0.0)
        if reduction == "mean":
            if not isinstance(multioutput, str) or multioutput != "uniform_average":
                raise ValueError(
                    "with a `mask`, mean_squared_error averages over the real values, so `multioutput` must stay "
                    "'uniform_average'; for one value per time step use reduction='per_step'"
                )
            if w is not None:
                wfull = keep * w.astype(np.float64).reshape((n,) + (1,) * (a.ndim - 1))
                total = wfull.sum()
                if total == 0:
                    raise ValueError("`sample_weight` sums to 0 over the real positions; the mean is undefined")
                return float((sq * wfull).sum() / total)
    if reduction in ("per_step", "per_sequence"):
        if a.ndim < 2:
            raise ValueError(f"reduction={reduction!r} needs (batch, time[, ...]) values; got shape {a.shape}")
        k = np.ones(a.shape, dtype=bool) if keep is None else keep
        extra = tuple(range(2, a.ndim))
        return (
            _reduce(sq.sum(axis=extra), k.sum(axis=extra) if extra else k, reduction, "y_true")
            if extra
            else _reduce(sq, k, reduction, "y_true")
        )
    if reduction != "mean" or keep is not None:
        return _reduce(sq, keep, reduction, "y_true")
    # scikit-learn's computation: the MSE of each output, then their (weighted) average
    if w is not None and w.sum() == 0:
        raise ValueError("`sample_weight` sums to 0; the weighted mean is undefined")
    raw = np.average(sq.reshape(n, -1), axis=0, weights=w)
    if isinstance(multioutput, str):
        if multioutput == "raw_values":
            return raw.reshape(a.shape[1:]) if a.ndim > 1 else raw
        return float(np.average(raw))
    return float(np.average(raw, weights=multioutput))


def perplexity(y_true, y_pred, *, from_logits=True, mask=None, ignore_index=None):
    """exp(mean cross-entropy over the real tokens): the effective number of choices per token."""
    return float(
        np.exp(
            cross_entropy(
                y_true, y_pred, from_logits=from_logits, mask=mask, ignore_index=ignore_index, reduction="mean"
            )
        )
    )


_MASK_NOTE = """
    ``mask``: boolean, True = a real position, False = padding (dropped
    before anything is counted). PyTorch's ``key_padding_mask`` means the
    opposite (True = padding): pass ``~key_padding_mask``.
"""

for _name in __all__:
    _obj = globals()[_name]
    if inspect.isfunction(_obj) and _obj.__doc__ is not None and "mask" in inspect.signature(_obj).parameters:
        _obj.__doc__ = _obj.__doc__.rstrip() + "\n" + _MASK_NOTE
del _name, _obj
