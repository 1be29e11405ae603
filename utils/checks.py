"""Checks that teach.

Every test cell of the course uses these helpers. A failing check raises
`CheckFailure` (an `AssertionError`, so nbgrader counts it as a failed test)
with a message in three parts: what was checked, expected vs got, and the
likely mistake when it can be recognised. A passing check stays quiet; the
`exercise` block around a test cell prints one line with the score so far, so
a learner on Colab or in plain Jupyter sees their progress without nbgrader.

Typical test cell::

    \"\"\"rnn_step returns (batch, hidden) values equal to the reference.\"\"\"
    from utils.checks import exercise, check_shape, check_close
    with exercise("test_rnn_step", points=2):
        got = rnn_step(x_t, h_prev, W_xh, W_hh, b_h)
        check_shape(got, (4, 3), "rnn_step(...)")
        check_close(got, expected, "rnn_step(...)",
                    mistakes={"you left out the bias b_h": without_bias})

Correct answers written differently must pass: values are compared as numpy
arrays with a tolerance, so lists, tuples, numpy scalars, Python floats and
torch/tf tensors are all accepted.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections import OrderedDict

import numpy as np

from ._arrays import as_numpy

__all__ = [
    "CheckFailure",
    "exercise",
    "score",
    "reset_score",
    "check_type",
    "check_shape",
    "check_close",
    "check_equal",
    "check_true",
    "check_raises",
    "check_choice",
]

_MAX_SHOWN = 6  # array elements shown in a message before it is abbreviated


class CheckFailure(AssertionError):
    """A check failed. The message is meant for the learner."""


# ----------------------------------------------------------------------------
# score keeping for self-study (plain Jupyter / Colab)
# ----------------------------------------------------------------------------

# name -> (points earned, points possible). Re-running a test cell replaces its
# entry, so the total never counts one exercise twice.
_SCORES: "OrderedDict[str, tuple[float, float]]" = OrderedDict()


def reset_score() -> None:
    """Forget every recorded result (a fresh start for the notebook)."""
    _SCORES.clear()


def score(verbose: bool = True) -> tuple[float, float]:
    """Return (points earned, points possible) over the test cells run so far.

    With `verbose`, print one line per exercise. These are the visible tests
    only: the graded score also runs hidden tests.
    """
    earned = sum(e for e, _ in _SCORES.values())
    possible = sum(p for _, p in _SCORES.values())
    if verbose:
        for name, (e, p) in _SCORES.items():
            mark = "PASS" if e == p else "FAIL"
            print(f"  [{mark}] {name}: {_fmt_points(e)}/{_fmt_points(p)}")
        print(f"Score so far (visible tests): {_fmt_points(earned)}/{_fmt_points(possible)}")
    return earned, possible


def _fmt_points(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@contextlib.contextmanager
def exercise(name: str, points: float = 1):
    """Wrap the checks of one test cell; print PASS/FAIL and the score so far.

    A failure is re-raised so that nbgrader (and the learner) see it.
    """
    try:
        yield
    except BaseException as exc:
        _SCORES[name] = (0, points)
        earned, possible = score(verbose=False)
        kind = "" if isinstance(exc, AssertionError) else f" ({type(exc).__name__})"
        print(
            f"[FAIL] {name}{kind}: 0/{_fmt_points(points)} points. "
            f"Score so far: {_fmt_points(earned)}/{_fmt_points(possible)}. "
            "Read the message below, fix your code, and run this cell again."
        )
        raise
    else:
        _SCORES[name] = (points, points)
        earned, possible = score(verbose=False)
        print(
            f"[PASS] {name}: {_fmt_points(points)}/{_fmt_points(points)} points. "
            f"Score so far: {_fmt_points(earned)}/{_fmt_points(possible)}."
        )


# ----------------------------------------------------------------------------
# formatting
# ----------------------------------------------------------------------------


def _describe(x) -> str:
    """A short, readable rendering of a value for a message."""
    if isinstance(x, (bool, np.bool_)):
        return repr(bool(x))
    if isinstance(x, numbers.Number):
        return f"{float(x):.6g}" if isinstance(x, (float, np.floating)) else repr(x)
    if isinstance(x, str):
        return repr(x)
    try:
        arr = as_numpy(x)
    except Exception:  # noqa: BLE001 - we only want a description
        return repr(x)[:200]
    if arr.dtype == object:
        return repr(x)[:200]
    if arr.ndim == 0:
        return _describe(arr.item())
    flat = arr.ravel()
    with np.printoptions(precision=4, suppress=True, threshold=_MAX_SHOWN, edgeitems=3):
        shown = np.array2string(flat[: _MAX_SHOWN] if flat.size > _MAX_SHOWN else flat, separator=", ")
    more = f" ... ({flat.size} values)" if flat.size > _MAX_SHOWN else ""
    return f"array of shape {tuple(arr.shape)}, dtype {arr.dtype}: {shown}{more}"


def _fail(what: str, problem: str, expected=None, got=None, mistake: str | None = None, *, show=True):
    lines = [f"{what}: {problem}"]
    if show:
        lines.append(f"  expected: {_describe(expected)}")
        lines.append(f"  got:      {_describe(got)}")
    if mistake:
        lines.append(f"  likely mistake: {mistake}")
    raise CheckFailure("\n".join(lines))


# ----------------------------------------------------------------------------
# the checks
# ----------------------------------------------------------------------------


def check_true(condition, message: str) -> None:
    """Fail with `message` unless `condition` is truthy."""
    if not bool(condition):
        raise CheckFailure(message)


def check_type(got, expected_types, what: str, hint: str | None = None) -> None:
    """Check `isinstance(got, expected_types)`.

    Prefer `check_shape`/`check_close`, which accept any array-like; use this
    only where the type itself is the lesson (a tuple of two arrays, a layer).
    """
    if not isinstance(got, expected_types):
        names = (
            " or ".join(t.__name__ for t in expected_types)
            if isinstance(expected_types, tuple)
            else expected_types.__name__
        )
        mistake = hint
        if got is None and mistake is None:
            mistake = "the function returns None: did you forget `return`?"
        raise CheckFailure(
            f"{what} should be a {names}, but it is a {type(got).__name__}."
            + (f"\n  likely mistake: {mistake}" if mistake else "")
        )


def _shape_of(got, what: str) -> tuple:
    if got is None:
        raise CheckFailure(f"{what} returned None: did you forget `return`?")
    if hasattr(got, "shape") and not isinstance(got, np.ndarray):
        return tuple(int(d) for d in got.shape)
    try:
        return tuple(as_numpy(got, name=what).shape)
    except ValueError as exc:
        raise CheckFailure(f"{what} is not a rectangular array: {exc}") from None


def check_shape(got, expected_shape, what: str, hint: str | None = None) -> None:
    """Check the shape of an array-like (or compare two shape tuples).

    Recognises a transposed first two axes ("time-major vs batch-major") and a
    missing or extra axis, and says so.
    """
    expected_shape = tuple(int(d) for d in expected_shape)
    if isinstance(got, (tuple, list)) and all(isinstance(d, numbers.Integral) for d in got) and (
        len(got) == len(expected_shape) and len(got) > 0 and not hasattr(got, "shape")
    ) and what.endswith("shape"):
        shape = tuple(int(d) for d in got)
    else:
        shape = _shape_of(got, what)
    if shape == expected_shape:
        return
    mistake = hint
    if mistake is None:
        if len(shape) == len(expected_shape) >= 2 and shape[:2] == expected_shape[1::-1] and shape[2:] == expected_shape[2:]:
            mistake = (
                "the first two axes are swapped: batch-major (batch, time, ...) and "
                "time-major (time, batch, ...) are mixed up"
            )
        elif len(shape) == len(expected_shape) - 1:
            mistake = "one axis is missing: did you drop the batch axis or take only the last step?"
        elif len(shape) == len(expected_shape) + 1:
            mistake = "there is one axis too many: did you keep every time step, or stack an extra dimension?"
        elif sorted(shape) == sorted(expected_shape):
            mistake = "the right sizes in the wrong order: check which axis is which"
    raise CheckFailure(
        f"{what} has the wrong shape.\n  expected shape: {expected_shape}\n  got shape:      {shape}"
        + (f"\n  likely mistake: {mistake}" if mistake else "")
    )


def _as_float_array(x, what: str, role: str) -> np.ndarray:
    if x is None:
        raise CheckFailure(f"{what} returned None: did you forget `return`?")
    try:
        arr = as_numpy(x, name=what)
    except ValueError as exc:
        raise CheckFailure(f"{what} is not a rectangular array: {exc}") from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise CheckFailure(f"{what} should be numeric, but the {role} value is {_describe(x)}")
    return arr.astype(np.float64)


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))


def _auto_mistake(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> str | None:
    """Recognise common slips by comparing got with simple transforms of expected."""
    if got.shape != expected.shape:
        return None
    finite = np.isfinite(expected) & np.isfinite(got)
    if np.isnan(got).any() and not np.isnan(expected).any():
        return "your result contains NaN: a division by zero, or log/exp of an out-of-range value?"
    if np.isinf(got).any() and not np.isinf(expected).any():
        return "your result contains inf: an overflow (for example exp of a large logit without subtracting the max)?"
    if not finite.any():
        return None
    e, g = expected[finite], got[finite]
    nz = np.abs(e) > 1e-12
    if nz.any():
        ratio = g[nz] / e[nz]
        r = float(np.median(ratio))
        if np.allclose(ratio, r, rtol=1e-6, atol=1e-9) and abs(r - 1) > 1e-6:
            if abs(r - round(r)) < 1e-6 and round(r) >= 2:
                return (
                    f"your result is {round(r)} times too large: did you sum where a mean was "
                    "wanted (for example over time steps or the batch)?"
                )
            inv = 1 / r if r != 0 else 0
            if r != 0 and abs(inv - round(inv)) < 1e-6 and round(inv) >= 2:
                return f"your result is {round(inv)} times too small: did you divide by an extra count?"
            if abs(r + 1) < 1e-6:
                return "the sign is flipped"
    if e.ndim >= 1 and e.size > 1 and np.allclose(np.sort(g.ravel()), np.sort(e.ravel()), rtol=rtol, atol=atol):
        return "the right values in the wrong places: check the order of axes or of the classes"
    return None


def check_close(
    got,
    expected,
    what: str,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    mistakes: dict | None = None,
    hint: str | None = None,
) -> None:
    """Check that `got` equals `expected` within a tolerance (NaN equals NaN).

    `mistakes` maps a description of a typical mistake to the value that
    mistake would produce; when `got` matches one, the message names it. The
    most specific description wins, then the automatic ones (sum vs mean,
    swapped axes, overflow). `hint` is shown when nothing is recognised.
    """
    exp = _as_float_array(expected, what, "expected")
    g = _as_float_array(got, what, "returned")
    if g.shape != exp.shape:
        if g.size == exp.size == 1:
            g = g.reshape(exp.shape)
        else:
            check_shape(g, exp.shape, what)
    if _close(g, exp, rtol, atol):
        return
    mistake = None
    for description, wrong in (mistakes or {}).items():
        try:
            w = _as_float_array(wrong, what, "wrong")
        except CheckFailure:
            continue
        if w.size == g.size and _close(g.reshape(w.shape), w, rtol, atol) and not _close(w.reshape(exp.shape), exp, rtol, atol):
            mistake = description
            break
    if mistake is None:
        mistake = _auto_mistake(g, exp, rtol, atol) or hint
    _fail(what, "the values are not what was expected.", expected, got, mistake)


def check_equal(got, expected, what: str, *, mistakes: dict | None = None, hint: str | None = None) -> None:
    """Exact comparison: integers, counts, shapes, strings, choices."""
    if isinstance(expected, (str, bool)) or expected is None:
        ok = got == expected
    else:
        try:
            g, e = as_numpy(got, name=what), as_numpy(expected, name=what)
            ok = g.shape == e.shape and bool(np.array_equal(g, e))
        except Exception:  # noqa: BLE001 - fall back to ==
            ok = got == expected
    if ok:
        return
    mistake = None
    for description, wrong in (mistakes or {}).items():
        try:
            if np.array_equal(as_numpy(got), as_numpy(wrong)):
                mistake = description
                break
        except Exception:  # noqa: BLE001
            continue
    _fail(what, "not what was expected.", expected, got, mistake or hint)


def check_raises(fn, exception_types, what: str, *, must_mention=(), hint: str | None = None) -> None:
    """Check that calling `fn()` raises one of `exception_types`.

    `must_mention` lists strings (e.g. the expected and actual sizes) that the
    error message has to contain, so that the error helps whoever reads it.
    """
    if not isinstance(exception_types, tuple):
        exception_types = (exception_types,)
    names = " or ".join(t.__name__ for t in exception_types)
    try:
        fn()
    except exception_types as exc:
        text = str(exc)
        missing = [str(m) for m in must_mention if str(m) not in text]
        if missing:
            raise CheckFailure(
                f"{what} raised {type(exc).__name__} as it should, but its message does not mention "
                f"{', '.join(repr(m) for m in missing)}.\n  message was: {text!r}"
                + (f"\n  likely mistake: {hint}" if hint else "")
            ) from None
        return
    except Exception as exc:  # noqa: BLE001 - the wrong exception type is the lesson
        raise CheckFailure(
            f"{what} should raise {names}, but it raised {type(exc).__name__}: {exc}"
            + (f"\n  likely mistake: {hint}" if hint else "")
        ) from None
    raise CheckFailure(f"{what} should raise {names}, but it raised nothing." + (f"\n  likely mistake: {hint}" if hint else ""))


def check_choice(got, correct, what: str, *, options=None, explanations: dict | None = None) -> None:
    """Check a multiple-choice answer (a letter, a number or a string).

    `explanations` maps a wrong option to why it is wrong; that is what a
    learner who chose it reads.
    """
    norm = (lambda v: v.strip().lower() if isinstance(v, str) else v)
    if options is not None and norm(got) not in {norm(o) for o in options}:
        raise CheckFailure(f"{what}: {got!r} is not one of the options {list(options)}.")
    if norm(got) == norm(correct):
        return
    why = None
    for option, text in (explanations or {}).items():
        if norm(option) == norm(got):
            why = text
    raise CheckFailure(f"{what}: {got!r} is not the best answer." + (f"\n  why not: {why}" if why else ""))


def is_number(x) -> bool:
    """True for Python and numpy real scalars (and 0-d arrays)."""
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, numbers.Real):
        return True
    return isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "iuf"


def finite(x) -> bool:
    """True when `x` is a finite real number."""
    return is_number(x) and math.isfinite(float(x))
