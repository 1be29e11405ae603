"""Input conversion and validation for `utils.metrics`.

Every public metric funnels its arguments through these helpers, so that bad
input is refused the same way everywhere: a `ValueError` that names the
argument, says what was expected and what came instead. Where the problem is
the *type* of a value (strings mixed with numbers, complex numbers, a mask
that is not boolean) the error is a :class:`MetricInputError`, which is both a
`ValueError` and a `TypeError`: code written for scikit-learn (``except
ValueError``) catches it, and so does ``except TypeError``. The checks
are written to be cheap (one pass, or a handful of reductions) because the
metrics are also benchmarked on 10^7 labels.

Label rules (decided once, here):

* integers, booleans and strings are labels;
* floats are accepted as labels only when every value is a whole number
  (``1.0``), as scikit-learn does; they are turned into ``int64``. A float
  with a fractional part (``0.7``) is refused: it looks like a score or a
  probability that still needs thresholding;
* NaN and inf are refused;
* strings and numbers cannot be mixed, in one array or between ``y_true`` and
  ``y_pred``.

This module imports neither torch nor tensorflow.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._arrays import as_numpy

__all__ = [
    "MetricInputError",
    "to_array",
    "as_labels",
    "check_same_shape",
    "as_mask",
    "as_sample_weight",
    "as_scores",
    "label_kind",
    "check_label_kinds",
]


class MetricInputError(ValueError, TypeError):
    """A value of the wrong type or kind was passed to a metric.

    Both a ``ValueError`` and a ``TypeError``, like scikit-learn's
    ``InvalidParameterError``: where scikit-learn raises ``ValueError`` (mixed
    string and number labels, complex sample weights, a bad parameter value)
    ``except ValueError`` catches this error too, and older code that caught
    ``TypeError`` keeps working.
    """


def _describe(x) -> str:
    return f"shape {tuple(x.shape)} and dtype {x.dtype}"


def to_array(x, name: str, *, allow_empty: bool = False) -> np.ndarray:
    """`x` (list, numpy, torch or tf tensor) as a numpy array; refuses None and empty input."""
    if x is None:
        raise MetricInputError(f"`{name}` is None; expected an array-like (list, numpy array or tensor)")
    if isinstance(x, (str, bytes)):
        raise MetricInputError(f"`{name}` is a string; expected an array-like of values")
    arr = as_numpy(x, name=name)
    if arr.dtype.kind == "c":
        raise MetricInputError(f"`{name}` holds complex numbers; expected real values")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"`{name}` is empty (shape {tuple(arr.shape)}); expected at least one value")
    return arr


def _object_labels(arr: np.ndarray, name: str) -> np.ndarray:
    """Labels given as Python objects (or a list numpy turned into strings)."""
    kinds = set()
    for t in set(map(type, arr.ravel().tolist())):
        if issubclass(t, (bool, np.bool_)):
            kinds.add("number")
        elif issubclass(t, (str, np.str_)):
            kinds.add("string")
        elif issubclass(t, (numbers.Integral, numbers.Real)):
            kinds.add("number")
        else:
            raise MetricInputError(f"`{name}` holds values of type {t.__name__}; expected integer or string labels")
    if kinds == {"number", "string"}:
        raise MetricInputError(
            f"`{name}` mixes strings and numbers as labels; use one type (for example all ints 0..K-1, or all strings)"
        )
    if kinds == {"string"}:
        return arr.astype(str)
    return np.asarray(arr.ravel().tolist()).reshape(arr.shape)


def as_labels(x, name: str, *, ndim=None, allow_empty: bool = False) -> np.ndarray:
    """Class labels as a numpy array of ints (any int dtype) or strings.

    `ndim` is an int or a tuple of allowed ranks. Whole-number floats become
    ``int64``; booleans become ``uint8`` (0/1) without a copy.
    """
    raw_is_sequence = isinstance(x, (list, tuple))
    arr = to_array(x, name, allow_empty=allow_empty)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            hint = ""
            if arr.ndim == max(allowed) + 1:
                hint = (
                    " It has one axis too many: if the last axis holds scores or "
                    "probabilities per class, take `.argmax(-1)` first."
                )
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"`{name}` must be {want} labels; got {arr.ndim}-D ({_describe(arr)}).{hint}")
    kind = arr.dtype.kind
    if kind == "O" or (kind in "US" and raw_is_sequence):
        if kind in "US":
            arr = np.asarray(x, dtype=object)
        arr = _object_labels(arr, name)
        kind = arr.dtype.kind
    if kind == "b":
        return arr.view(np.uint8)
    if kind in "iu":
        return arr
    if kind == "f":
        if arr.size and not np.isfinite(arr).all():
            raise ValueError(f"`{name}` contains NaN or inf; labels must be finite whole numbers")
        if arr.size and not (arr == np.round(arr)).all():
            raise ValueError(
                f"`{name}` holds floats with a fractional part (e.g. {arr[arr != np.round(arr)].flat[0]!r}); "
                "expected integer class labels. If these are scores or probabilities, "
                "turn them into labels first, e.g. `utils.metrics.threshold(p, 0.5)` or `.argmax(-1)`."
            )
        return arr.astype(np.int64)
    if kind in "US":
        return arr
    raise MetricInputError(f"`{name}` has dtype {arr.dtype}; expected integer, boolean or string labels")


def label_kind(arr: np.ndarray) -> str:
    return "string" if arr.dtype.kind in "US" else "number"


def check_label_kinds(**arrays) -> None:
    """Refuse strings in one argument and numbers in another."""
    kinds = {name: label_kind(a) for name, a in arrays.items() if a is not None}
    if len(set(kinds.values())) > 1:
        desc = ", ".join(f"`{n}` holds {k}s" for n, k in kinds.items())
        raise MetricInputError(f"mixed label types: {desc}; use the same type of label everywhere")


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        what = "lengths" if a.ndim == b.ndim == 1 else "shapes"
        raise ValueError(
            f"`{name_a}` and `{name_b}` have different {what}: {tuple(a.shape)} vs {tuple(b.shape)}; "
            "expected one prediction per true value"
        )


def as_mask(mask, shape, name: str = "mask", *, allow_prefix: bool = False) -> np.ndarray | None:
    """A boolean mask (True = real position) of exactly `shape`.

    With `allow_prefix` the mask may also cover only the leading axes (e.g. a
    (batch, time) mask for (batch, time, features) values).
    """
    if mask is None:
        return None
    m = to_array(mask, name, allow_empty=True)
    if m.dtype.kind != "b":
        raise MetricInputError(
            f"`{name}` must be boolean (True = real position, False = padding); got dtype {m.dtype}. "
            "Build it with a comparison, e.g. `lengths[:, None] > np.arange(T)`. "
            "Note: PyTorch's key_padding_mask uses the opposite sense (True = padding): pass `~key_padding_mask`."
        )
    shape = tuple(shape)
    ok = m.shape == shape or (allow_prefix and 0 < m.ndim <= len(shape) and m.shape == shape[: m.ndim])
    if not ok:
        expect = f"{shape}" + (f" (or its leading axes {shape[:-1]})" if allow_prefix and len(shape) > 1 else "")
        raise ValueError(f"`{name}` has shape {tuple(m.shape)}; expected {expect}, the shape of `y_true`")
    return m


def as_sample_weight(sample_weight, shape) -> np.ndarray | None:
    """Real weights of exactly `shape` (integer weights keep their integer dtype).

    Weights of object dtype that hold Python numbers are accepted (as
    float64), as scikit-learn accepts them. Strings are refused even where scikit-learn
    would parse them: a weight written as text is almost always a mistake.
    """
    if sample_weight is None:
        return None
    w = to_array(sample_weight, "sample_weight", allow_empty=True)
    if w.dtype.kind == "O":
        w = _object_weights(w)
    if w.dtype.kind not in "biuf":
        raise MetricInputError(f"`sample_weight` must be numeric; got dtype {w.dtype}")
    if w.dtype.kind == "b":
        w = w.astype(np.int64)  # True/False weigh 1/0 (a sum of booleans would be a logical or)
    if w.shape != tuple(shape):
        raise ValueError(
            f"`sample_weight` has shape {tuple(w.shape)}; expected {tuple(shape)}, one weight per label in `y_true`"
        )
    if w.dtype.kind == "f" and not np.isfinite(w).all():
        raise ValueError("`sample_weight` contains NaN or inf; expected finite weights")
    if w.size and not w.any():
        raise ValueError("`sample_weight` is all zeros; expected at least one non-zero weight")
    return w


def _object_weights(w: np.ndarray) -> np.ndarray:
    """Weights given as Python objects: numbers only (bool, int, float), as float64."""
    for t in set(map(type, w.ravel().tolist())):
        if issubclass(t, (str, bytes, np.str_)) or not issubclass(t, (numbers.Real, np.bool_)):
            raise MetricInputError(
                f"`sample_weight` holds values of type {t.__name__}; expected numbers (one weight per label)"
            )
    # float64, as scikit-learn sums weights of object dtype (a confusion matrix is then float)
    return np.asarray(w.ravel().tolist(), dtype=np.float64).reshape(w.shape)


def as_scores(x, name: str, *, min_ndim: int = 1) -> np.ndarray:
    """Finite floating scores (logits, probabilities, regression values) as float64."""
    arr = to_array(x, name)
    if arr.dtype.kind not in "biuf":
        raise MetricInputError(f"`{name}` must be numeric; got dtype {arr.dtype}")
    if arr.ndim < min_ndim:
        raise ValueError(f"`{name}` must have at least {min_ndim} axes; got {_describe(arr)}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        bad = "NaN" if np.isnan(arr).any() else "inf"
        raise ValueError(f"`{name}` contains {bad}; expected finite numbers (did training diverge?)")
    return arr
