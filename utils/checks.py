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
import re
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
    "hidden_case",
    "student_side",
    "hidden_seed",
]

_MAX_SHOWN = 6  # array elements shown in a message before it is abbreviated


class CheckFailure(AssertionError):
    """A check failed. The message is meant for the learner. `hidden_kind` is the kind of hidden case it
    failed in (`hidden_case`), None for a visible check: the grader shows a hidden case's message as it is
    (it carries no value) and replaces any other failure inside a hidden block with a general one."""

    hidden_kind: str | None = None


def _hidden_failure(kind: str, message: str) -> CheckFailure:
    failure = CheckFailure(f"a hidden case: {kind}\n{message}")
    failure.hidden_kind = kind
    return failure


# ----------------------------------------------------------------------------
# score keeping for self-study (plain Jupyter / Colab)
# ----------------------------------------------------------------------------

# name -> (points earned, points possible). Re-running a test cell replaces its
# entry, so the total never counts one exercise twice.
_SCORES: OrderedDict[str, tuple[float, float]] = OrderedDict()
# name -> points of the answers whose visible test checks only the form
_FORM_ONLY: OrderedDict[str, float] = OrderedDict()


def reset_score() -> None:
    """Forget every recorded result (a fresh start for the notebook)."""
    _SCORES.clear()
    _FORM_ONLY.clear()


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
        for name, p in _FORM_ONLY.items():
            print(f"  [FORM OK] {name}: {_fmt_points(p)} point(s) decided by the graded run")
        print(f"Score so far (visible tests): {_fmt_points(earned)}/{_fmt_points(possible)}")
    return earned, possible


def _fmt_points(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@contextlib.contextmanager
def exercise(name: str, points: float = 1, *, form_only: bool = False):
    """Wrap the checks of one test cell; print PASS/FAIL and the score so far.

    A failure is re-raised so that nbgrader (and the learner) see it.

    `form_only=True` is for a multiple-choice or structured answer whose
    visible test checks only the form (one of the options, the right keys):
    the answer itself is graded by hidden tests. Such a cell never prints PASS,
    since it has not checked the answer; it prints FORM OK and keeps its
    points out of the visible score.
    """
    try:
        yield
    except BaseException as exc:
        _FORM_ONLY.pop(name, None)
        _SCORES[name] = (0, points)
        earned, possible = score(verbose=False)
        kind = "" if isinstance(exc, AssertionError) else f" ({type(exc).__name__})"
        print(
            f"[FAIL] {name}{kind}: 0/{_fmt_points(points)} points. "
            f"Score so far: {_fmt_points(earned)}/{_fmt_points(possible)}. "
            "Read the message below, fix your code, and run this cell again."
        )
        hint = _failure_hint(exc)
        if hint:
            print(f"  hint: {hint}")
        raise
    else:
        if form_only:
            _SCORES.pop(name, None)
            _FORM_ONLY[name] = points
            print(
                f"[FORM OK] {name}: your answer has the right form. This cell checks only the form, not whether "
                f"the answer is right: the {_fmt_points(points)} point(s) are decided by the graded run. "
                "The lesson's self-check explains the answer."
            )
            return
        _FORM_ONLY.pop(name, None)
        _SCORES[name] = (points, points)
        earned, possible = score(verbose=False)
        print(
            f"[PASS] {name}: {_fmt_points(points)}/{_fmt_points(points)} points. "
            f"Score so far: {_fmt_points(earned)}/{_fmt_points(possible)}."
        )


def _failure_hint(exc: BaseException) -> str | None:
    """One line for the errors a learner meets before any check runs."""
    if isinstance(exc, NotImplementedError):
        return "this exercise is not written yet: replace `raise NotImplementedError()` with your code"
    if isinstance(exc, NameError) and getattr(exc, "name", None):
        return f"`{exc.name}` is not defined: run the cell above that defines it (and finish it) first, then this cell"
    return None


# ----------------------------------------------------------------------------
# formatting
# ----------------------------------------------------------------------------


def _describe(x) -> str:
    """A short, readable rendering of a value for a message."""
    if isinstance(x, (bool, np.bool_)):
        return repr(bool(x))
    if isinstance(x, numbers.Number):
        if isinstance(x, np.integer):  # numpy 2 would print np.int64(12)
            return repr(int(x))
        return f"{float(x):.6g}" if isinstance(x, (float, np.floating)) else repr(x)
    if isinstance(x, str):
        return repr(x)
    try:
        arr = as_numpy(x)
    except Exception:  # we only want a description
        return repr(x)[:200]
    if arr.dtype == object:
        return repr(x)[:200]
    if arr.ndim == 0:
        return _describe(arr.item())
    flat = arr.ravel()
    with np.printoptions(precision=4, suppress=True, threshold=_MAX_SHOWN, edgeitems=3):
        shown = np.array2string(flat[:_MAX_SHOWN] if flat.size > _MAX_SHOWN else flat, separator=", ")
    more = f" ... ({flat.size} values)" if flat.size > _MAX_SHOWN else ""
    return f"array of shape {tuple(arr.shape)}, dtype {arr.dtype}: {shown}{more}"


def _fail(what: str, problem: str, expected=None, got=None, mistake: str | None = None, *, show=True):
    lines = [f"{what}: {problem}"]
    if show and not _hidden():
        lines.append(f"  expected: {_describe(expected)}")
        lines.append(f"  got:      {_describe(got)}")
    if mistake:
        lines.append(f"  likely mistake: {mistake}")
    raise CheckFailure("\n".join(lines))


# ----------------------------------------------------------------------------
# hidden cases: a failure names the kind of case, never its values
# ----------------------------------------------------------------------------

_HIDDEN_KINDS: list = []  # the kinds of the hidden cases being checked (innermost last)
_VALUE_LINE = re.compile(r"^\s*(expected|got|message was)\b[^:]*:")
_LEADING_CALL = re.compile(r"^([A-Za-z_][\w.]*)\((?:[^()]|\([^()]*\))*\)")


def _hidden() -> bool:
    """True inside `hidden_case`: messages leave out expected values, shapes and the learner's values."""
    return bool(_HIDDEN_KINDS)


@contextlib.contextmanager
def hidden_case(kind: str | None):
    """Check one hidden case; a failure says which KIND of case failed, never its values.

    Use it around the checks of each case between `### BEGIN HIDDEN TESTS` and
    `### END HIDDEN TESTS`, with `kind` naming the case ("a batch of one",
    "huge logits", "other sizes")::

        with hidden_case("a batch of one"):
            check_close(rnn_step(x_t, h_prev, W_xh, W_hh, b_h), expected, "rnn_step(...)",
                        mistakes={"you left out the bias b_h": no_bias})

    Inside, the checks of this module show no expected value, no returned value
    and no shape, only what was checked and the likely mistake; a leading call
    in the message loses its arguments (`f(7, 4)` becomes `f(...)`); an error
    raised by the learner's code is reported by its type only (its text may
    quote the hidden input). The message starts with "a hidden case: <kind>".
    Write `what`, hints and `check_true` messages of hidden cases without
    hidden values too: they are shown as they are. `kind=None` marks a visible
    case (nothing changes), so one loop can run visible and hidden cases.
    """
    if kind is None:
        yield
        return
    _HIDDEN_KINDS.append(kind)
    try:
        yield
    except CheckFailure as exc:
        raise _hidden_failure(kind, _without_values(str(exc))) from None
    except (NotImplementedError, NameError, KeyboardInterrupt, SystemExit):
        raise  # an unwritten exercise or an undefined name: nothing hidden in them
    except Exception as exc:  # the learner's code failed on the hidden input
        raise _hidden_failure(
            kind,
            f"your code raised {type(exc).__name__} on this kind of input "
            "(its message is not shown, as it may quote the hidden input).\n"
            f"  hint: build a small input of this kind ({kind}) and run your code on it to see the error",
        ) from None
    finally:
        _HIDDEN_KINDS.pop()


def _count(n) -> str:
    """`n` in a message, or "a whole number of" in a hidden case (a count can give a hidden size away)."""
    return "a whole number of" if _hidden() else str(n)


def _shown(text: str) -> str:
    """`text` (sizes quoted in a message), or "" in a hidden case."""
    return "" if _hidden() else text


def _without_values(message: str) -> str:
    """A failure message without its value lines, and its leading call without arguments."""
    lines = [line for line in message.splitlines() if not _VALUE_LINE.match(line)]
    if lines:
        lines[0] = _LEADING_CALL.sub(lambda m: f"{m.group(1)}(...)", lines[0], count=1)
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# the checks
# ----------------------------------------------------------------------------


def _type_name(x) -> str:
    """The class name of `x` as the learner wrote it (in the graded run, `x` may be a handle on an object
    of the learner's process, whose `__class__` names the real class)."""
    return getattr(getattr(x, "__class__", type(x)), "__name__", type(x).__name__)


# set by the grader's trusted process: builds an object in the learner's process (None in a notebook)
_STUDENT_SIDE = None
# set by the grader's trusted process from `grade --secret-seed-file` (None: every hidden seed is fixed)
_HIDDEN_SEED = None


def use_grader(student_side=None, seed: int | None = None) -> None:
    """Called by the grader's trusted process, never in a notebook: `student_side(factory, *args)` builds
    objects where the learner's code runs (see `student_side`), and `seed` is this submission's own seed
    for drawn hidden cases (None: every hidden seed is the test's fixed one)."""
    global _STUDENT_SIDE, _HIDDEN_SEED
    _STUDENT_SIDE, _HIDDEN_SEED = student_side, (None if seed is None else int(seed))


def hidden_seed(default: int) -> int:
    """The seed a hidden test draws its cases from: `default` in a notebook and in a plain graded run;
    in a run with `grade --secret-seed-file`, a number derived from the instructor's secret and
    `default`, so that each test draws other cases and a copied hidden test cannot be hard-coded.
    Use it inside `### BEGIN HIDDEN TESTS` with `hidden_case(...)`, whose messages show no value::

        rng = np.random.default_rng(hidden_seed(7))
    """
    if _HIDDEN_SEED is None:
        return int(default)
    import hashlib

    digest = hashlib.sha256(f"{int(_HIDDEN_SEED)}:{int(default)}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def student_side(factory, *args, **kwargs):
    """Build `factory(*args, **kwargs)` where the learner's code runs, and return it.

    In a notebook that is right here. In the graded run the test cells run in
    the grader's own process and the learner's code in a sandbox: an object
    that the learner's function must receive (a layer to inspect, a model to
    train) is built in the sandbox, and the test then uses it as a learner
    would (`layer.units`, `model(x)`, `np.asarray(layer.cell.kernel)`). The
    factory is a class or function of numpy, torch, tensorflow, keras or
    `utils`; the arguments are plain values, arrays, tensors or such objects.
    """
    if _STUDENT_SIDE is not None:
        return _STUDENT_SIDE(factory, *args, **kwargs)
    return factory(*args, **kwargs)


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
            f"{what} should be a {names}, but it is a {_type_name(got)}."
            + (f"\n  likely mistake: {mistake}" if mistake else "")
        )


def _array_of(got, what: str) -> np.ndarray:
    """`got` as a numpy array, or a CheckFailure that says why it is not one."""
    if got is None:
        raise CheckFailure(f"{what} returned None: did you forget `return`?")
    try:
        return as_numpy(got, name=what)
    except ValueError as exc:
        raise CheckFailure(f"{what} is not a rectangular array: {exc}") from None


def _shape_of(got, what: str) -> tuple:
    if got is not None and hasattr(got, "shape") and not isinstance(got, np.ndarray):
        return tuple(int(d) for d in got.shape)
    return tuple(_array_of(got, what).shape)


def check_shape(got, expected_shape, what: str, hint: str | None = None) -> None:
    """Check the shape of an array-like (or compare two shape tuples).

    Recognises a transposed first two axes ("time-major vs batch-major") and a
    missing or extra axis, and says so.
    """
    expected_shape = tuple(int(d) for d in expected_shape)
    if (
        isinstance(got, (tuple, list))
        and all(isinstance(d, numbers.Integral) for d in got)
        and (len(got) == len(expected_shape) and len(got) > 0 and not hasattr(got, "shape"))
        and what.endswith("shape")
    ):
        shape = tuple(int(d) for d in got)
    else:
        shape = _shape_of(got, what)
    if shape == expected_shape:
        return
    mistake = hint
    if mistake is None:
        if (
            len(shape) == len(expected_shape) >= 2
            and shape[:2] == expected_shape[1::-1]
            and shape[2:] == expected_shape[2:]
        ):
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
    shapes = "" if _hidden() else f"\n  expected shape: {expected_shape}\n  got shape:      {shape}"
    raise CheckFailure(f"{what} has the wrong shape." + shapes + (f"\n  likely mistake: {mistake}" if mistake else ""))


def _as_float_array(x, what: str, role: str) -> np.ndarray:
    arr = _array_of(x, what)
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
                    f"your result is {_count(round(r))} times too large: did you "
                    "sum where a mean was wanted (for example over time steps or the batch)?"
                )
            inv = 1 / r if r != 0 else 0
            if r != 0 and abs(inv - round(inv)) < 1e-6 and round(inv) >= 2:
                return f"your result is {_count(round(inv))} times too small: did you divide by an extra count?"
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
        if (
            w.size == g.size
            and _close(g.reshape(w.shape), w, rtol, atol)
            and not _close(w.reshape(exp.shape), exp, rtol, atol)
        ):
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
        except Exception:  # fall back to ==
            ok = got == expected
    if ok:
        return
    mistake = None
    for description, wrong in (mistakes or {}).items():
        try:
            if np.array_equal(as_numpy(got), as_numpy(wrong)):
                mistake = description
                break
        except Exception:
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
                + (
                    "the sizes it should name."
                    if _hidden()
                    else f"{', '.join(repr(m) for m in missing)}.\n  message was: {text!r}"
                )
                + (f"\n  likely mistake: {hint}" if hint else "")
            ) from None
        return
    except Exception as exc:  # the wrong exception type is the lesson
        raise CheckFailure(
            f"{what} should raise {names}, but it raised {type(exc).__name__}"
            + ("" if _hidden() else f": {exc}")
            + (f"\n  likely mistake: {hint}" if hint else "")
        ) from None
    raise CheckFailure(
        f"{what} should raise {names}, but it raised nothing." + (f"\n  likely mistake: {hint}" if hint else "")
    )


def check_choice(got, correct, what: str, *, options=None, explanations: dict | None = None) -> None:
    """Check a multiple-choice answer (a letter, a number or a string).

    `explanations` maps a wrong option to why it is wrong; that is what a
    learner who chose it reads.
    """
    norm = lambda v: v.strip().lower() if isinstance(v, str) else v
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


# ----------------------------------------------------------------------------
# teaching diagnostics for the course's typical slips (spec §4)
# ----------------------------------------------------------------------------

__all__ += [
    "check_sequence_shape",
    "check_loss",
    "check_precision_recall",
    "check_confusion_matrix",
    "metric_mistakes",
]


def check_sequence_shape(got, *, batch: int, time: int, batch_first: bool, what: str, rest=()) -> None:
    """Check a sequence tensor's layout: (batch, time, *rest) or (time, batch, *rest).

    `batch_first` is the layout the layer (or function) works with. When the
    data has the other layout, the message says so in the layer's terms
    ("this looks time-major, but the layer is batch_first=True"), which is the
    slip behind most RNN shape errors.
    """
    if not isinstance(batch_first, (bool, np.bool_)):
        raise TypeError(f"`batch_first` should be True or False, got {batch_first!r}")
    rest = tuple(int(d) for d in rest)
    expected = ((batch, time) if batch_first else (time, batch)) + rest
    shape = _shape_of(got, what)
    if shape == expected:
        return
    other = ((time, batch) if batch_first else (batch, time)) + rest
    if batch != time and shape == other:
        if batch_first:
            mistake = (
                f"this looks time-major{_shown(f' (time={time}, batch={batch}, ...)')}, "
                "but the layer is batch_first=True "
                "and expects (batch, time, ...): transpose the first two axes (x.transpose(0, 1)), "
                "or build the layer with batch_first=False"
            )
        else:
            mistake = (
                f"this looks batch-first{_shown(f' (batch={batch}, time={time}, ...)')}, but the layer is time-major "
                "(batch_first=False, PyTorch's default) and expects (time, batch, ...): transpose the first two "
                "axes, or build the layer with batch_first=True"
            )
    elif len(shape) == len(expected) - 1:
        mistake = "one axis is missing: a single sequence still needs its batch axis (of size 1)"
    else:
        layout = "(batch, time, ...)" if batch_first else "(time, batch, ...)"
        mistake = f"the layer is batch_first={bool(batch_first)}, so it expects {layout}"
    raise CheckFailure(
        f"{what} has the wrong shape.\n  expected shape: {expected}\n  got shape:      {shape}"
        f"\n  likely mistake: {mistake}"
    )


def check_loss(
    got,
    expected,
    what: str,
    *,
    num_steps: int | None = None,
    batch_size: int | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    mistakes: dict | None = None,
) -> None:
    """Check a loss value, recognising the usual reductions gone wrong.

    With `num_steps` (T) and `batch_size` (B) given, a loss T times too large
    is reported as a sum over time, B times as a sum over the batch, T*B times
    as a sum over both; log base 2 instead of e, a flipped sign, and NaN/inf
    from an unstable softmax are recognised as well.
    """
    g = _as_float_array(got, what, "returned")
    e = _as_float_array(expected, what, "expected")
    if g.size == e.size == 1:
        g = g.reshape(e.shape)
    if _close(g, e, rtol, atol):
        return
    named = dict(mistakes or {})
    if g.shape == e.shape and np.isfinite(g).all() and np.isfinite(e).all():
        T, B = num_steps, batch_size
        if T is not None and T > 1:
            named.setdefault(
                f"your loss is {_count(T)} times too large{_shown(f' (T = {T} time steps)')}: did you sum over time "
                "instead of taking the mean?",
                e * T,
            )
            named.setdefault(
                f"your loss is {_count(T)} times too small: did you divide by the number of steps twice?", e / T
            )
        if B is not None and B > 1:
            named.setdefault(
                f"your loss is {_count(B)} times too large{_shown(f' (batch size {B})')}: did you sum over the batch "
                "instead of taking the mean?",
                e * B,
            )
        if T is not None and B is not None and T > 1 and B > 1:
            named.setdefault(
                f"your loss is {_count(T * B)} times too large{_shown(f' (T x B = {T} x {B})')}: "
                "did you sum over every token "
                "instead of taking the mean?",
                e * T * B,
            )
        named.setdefault(
            "you used log base 2: cross-entropy and perplexity here use the natural log (np.log)", e / np.log(2)
        )
        named.setdefault("the sign is flipped: the loss is minus the log-probability of the right class", -e)
    mistake = None
    for description, wrong in named.items():
        w = _as_float_array(wrong, what, "wrong")
        if (
            w.size == g.size
            and _close(g.reshape(w.shape), w, rtol, atol)
            and not _close(w.reshape(e.shape), e, rtol, atol)
        ):
            mistake = description
            break
    if mistake is None and g.shape == e.shape:
        if np.isnan(g).any() or np.isinf(g).any():
            mistake = (
                "your loss is NaN or inf: with large logits, exp overflows; subtract the max logit "
                "(log-sum-exp) before exponentiating"
            )
        else:
            mistake = _auto_mistake(g, e, rtol, atol)
    _fail(what, "the loss is not what was expected.", expected, got, mistake)


def check_precision_recall(
    got_precision, got_recall, expected_precision, expected_recall, what: str, *, rtol: float = 1e-6, atol: float = 1e-8
) -> None:
    """Check a (precision, recall) pair together, so that a swap is recognised.

    Precision = TP / (TP + FP) divides by what was *predicted* positive;
    recall = TP / (TP + FN) divides by what *is* positive. Mixing them up (or
    reading the confusion matrix the wrong way round) swaps the two values.
    """
    gp = _as_float_array(got_precision, f"{what} precision", "returned")
    gr = _as_float_array(got_recall, f"{what} recall", "returned")
    ep = _as_float_array(expected_precision, f"{what} precision", "expected")
    er = _as_float_array(expected_recall, f"{what} recall", "expected")
    p_ok = gp.size == ep.size and _close(gp.reshape(ep.shape), ep, rtol, atol)
    r_ok = gr.size == er.size and _close(gr.reshape(er.shape), er, rtol, atol)
    if p_ok and r_ok:
        return
    swapped = (
        gp.size == er.size
        and gr.size == ep.size
        and _close(gp.reshape(er.shape), er, rtol, atol)
        and _close(gr.reshape(ep.shape), ep, rtol, atol)
        and not _close(ep.reshape(er.shape), er, rtol, atol)
        if ep.size == er.size
        else False
    )
    if swapped:
        mistake = (
            "precision and recall look swapped: precision = TP / (TP + FP) divides by the predicted "
            "positives (a column of the confusion matrix), recall = TP / (TP + FN) by the actual positives "
            "(a row). Check also that rows are actual and columns predicted."
        )
    elif not p_ok and not r_ok:
        mistake = "both are off: check which class counts as positive and which cells are TP, FP and FN"
    else:
        mistake = None
    wrong = "precision" if not p_ok else "recall"
    if swapped or not p_ok and not r_ok:
        raise CheckFailure(
            f"{what}: precision and recall are not what was expected.\n"
            f"  expected: precision {_describe(expected_precision)}, recall {_describe(expected_recall)}\n"
            f"  got:      precision {_describe(got_precision)}, recall {_describe(got_recall)}"
            + (f"\n  likely mistake: {mistake}" if mistake else "")
        )
    check_close(
        got_precision if wrong == "precision" else got_recall,
        expected_precision if wrong == "precision" else expected_recall,
        f"{what} {wrong}",
        rtol=rtol,
        atol=atol,
    )


def check_confusion_matrix(got, expected, what: str) -> None:
    """Exact check of a confusion matrix (rows = actual, columns = predicted).

    Recognises a transposed matrix, a matrix of the wrong size (a class left
    out) and floats where counts belong.
    """
    e = as_numpy(expected, name=what)
    g = _array_of(got, what)
    if g.shape != e.shape:
        hint = None
        if g.ndim == e.ndim == 2 and g.shape[0] == g.shape[1] and g.shape[0] < e.shape[0]:
            hint = (
                "the matrix is too small for the number of classes"
                if _hidden()
                else f"the matrix is {g.shape[0]}x{g.shape[0]} but there are {e.shape[0]} classes"
            ) + ": a class that never occurs in y_true or y_pred still needs its row and column (use num_classes)"
        check_shape(g, e.shape, what, hint=hint)
    if g.dtype.kind not in "biuf":
        raise CheckFailure(f"{what} should hold integer counts, got dtype {g.dtype}")
    if np.array_equal(g, e):
        return
    mistake = None
    if np.array_equal(g, e.T):
        mistake = (
            "rows and columns are swapped: rows should be the actual class (y_true) and columns the "
            "predicted class (y_pred), i.e. cm[actual, predicted] += 1"
        )
    elif g.sum() == e.sum() and np.array_equal(np.sort(g.ravel()), np.sort(e.ravel())):
        mistake = "the right counts in the wrong cells: check the order of the classes"
    elif g.sum() != e.sum():
        mistake = (
            "the counts do not add up to the number of samples"
            if _hidden()
            else f"the counts add up to {g.sum():g}, but there are {e.sum():g} samples"
        )
    _fail(what, "the confusion matrix is not what was expected.", e, g, mistake)


def metric_mistakes(cm, metric: str, positive: int = 1) -> dict:
    """Typical wrong values of a binary metric, for `check_close(..., mistakes=...)`.

    `cm` is the true confusion matrix (rows = actual, columns = predicted).
    Returns description -> the value that mistake would give, for `metric` in
    "precision", "recall", "f1", "accuracy". Descriptions whose value equals
    the right answer are dropped (check_close ignores them anyway).
    """
    m = as_numpy(cm, name="cm").astype(np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 2:
        raise ValueError(f"`cm` should be a square (K, K) confusion matrix with K >= 2, got shape {m.shape}")
    if metric not in ("precision", "recall", "f1", "accuracy"):
        raise ValueError(f"`metric` should be 'precision', 'recall', 'f1' or 'accuracy', got {metric!r}")
    k = m.shape[0]
    if not 0 <= positive < k:
        raise ValueError(f"`positive` should be a class index in 0..{k - 1}, got {positive}")

    def ratio(num, den):
        return float(num / den) if den else 0.0

    def scores(mat, pos):
        tp = mat[pos, pos]
        p = ratio(tp, mat[:, pos].sum())
        r = ratio(tp, mat[pos, :].sum())
        f = ratio(2 * p * r, p + r)
        return {"precision": p, "recall": r, "f1": f, "accuracy": ratio(np.trace(mat), mat.sum())}

    right = scores(m, positive)
    other = 1 - positive if k == 2 else (positive + 1) % k
    out = {}
    if metric == "precision":
        out["you computed recall, TP / (TP + FN): precision divides by the predicted positives, TP / (TP + FP)"] = (
            right["recall"]
        )
    if metric == "recall":
        out["you computed precision, TP / (TP + FP): recall divides by the actual positives, TP / (TP + FN)"] = right[
            "precision"
        ]
    if metric != "accuracy":
        out[
            "rows and columns of the confusion matrix are read the wrong way round (rows = actual, columns = predicted)"
        ] = scores(m.T, positive)[metric]
        out[f"you used class {other} as the positive class instead of class {positive}"] = scores(m, other)[metric]
    if metric == "f1":
        out["you took the plain mean of precision and recall; F1 is their harmonic mean, 2PR / (P + R)"] = (
            right["precision"] + right["recall"]
        ) / 2
    if metric == "accuracy":
        out["you divided the true positives alone by the total; accuracy counts every correct cell, trace / total"] = (
            ratio(m[positive, positive], m.sum())
        )
    return {d: v for d, v in out.items() if not math.isclose(v, right[metric], rel_tol=1e-9, abs_tol=1e-12)}


# ----------------------------------------------------------------------------
# "write it yourself": catching plain delegation (spec §3, §5)
# ----------------------------------------------------------------------------

__all__ += ["check_own_work", "HELPER_GROUPS"]

#: Named groups of helpers an exercise may forbid. Each entry is a dotted name
#: (a module, or a function inside one) or an fnmatch pattern; a call or an
#: import is caught when its written form (`metrics.f1_score`) or the object it
#: resolves to (`utils.metrics.f1_score`) falls under one of them.
HELPER_GROUPS = {
    "metric libraries": (
        "utils.metrics",
        "utils.evaluation",
        "utils.data.order.classification_summary",
        "utils.data.order.choose_threshold",
        "sklearn",
        "torchmetrics",
        "torcheval",
        "keras.metrics",
        "keras.src.metrics",
        "tensorflow.keras.metrics",
        "tf.keras.metrics",
        "tf.metrics",
        "tensorflow.python.keras.metrics",
        "tf_keras.metrics",
    ),
    "framework losses": (
        "torch.nn.functional.*entropy*",
        "torch.nn.functional.*loss*",
        "torch.nn.modules.loss",
        "torch.nn.*Loss",
        "nn.*Loss",
        "nn.functional.*entropy*",
        "nn.functional.*loss*",
        "F.*entropy*",
        "F.*loss*",
        "keras.losses",
        "keras.src.losses",
        "tensorflow.keras.losses",
        "tf.keras.losses",
        "tf.losses",
        "tf.nn.*entropy*",
        "tensorflow.python.ops.nn_ops.*entropy*",
        "tf_keras.losses",
    ),
    "the course's RNN reference": ("utils.rnn",),
    "the course's framework adapters": ("utils.torch_utils", "utils.tf_utils", "utils._shapes_common"),
    "framework layers": (
        "torch.nn.modules",
        "torch.nn.RNN",
        "nn.RNN",
        "torch.nn.RNNBase",
        "keras.layers",
        "keras.src.layers",
        "tensorflow.keras.layers",
        "tf.keras.layers",
        "keras.Input",
        "keras.Sequential",
    ),
}

_LOADS = {"LOAD_GLOBAL", "LOAD_NAME"}
_ATTRS = {"LOAD_ATTR", "LOAD_METHOD"}


def _dotted(obj) -> str | None:
    """The dotted name of a module, function or class (None for anything else)."""
    import types

    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType)) or callable(obj):
        module = getattr(obj, "__module__", None)
        name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
        if isinstance(module, str) and isinstance(name, str):
            return f"{module}.{name}"
    return None


def _codes_of(obj) -> list:
    """The code objects of a function, or of every method of a class."""
    import types

    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    if isinstance(obj, types.FunctionType):
        return [(obj.__qualname__, obj.__code__, obj.__globals__)]
    if isinstance(obj, type):
        found = []
        for value in vars(obj).values():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if isinstance(value, property):
                value = value.fget
            if isinstance(value, types.FunctionType):
                found.append((value.__qualname__, value.__code__, value.__globals__))
        return found
    return []


def _seen_names(answer) -> list[tuple[str, str, str]]:
    """(written form, resolved dotted name, where) for every global, attribute chain and import in `answer`.

    Helpers the learner wrote (functions and classes of the same module) are
    followed, so a call through one's own helper is seen too.
    """
    import builtins as _builtins
    import dis
    import sys
    import types

    home = getattr(answer, "__module__", None)
    seen, visited = [], set()
    todo = list(_codes_of(answer))
    while todo:
        where, code, glob = todo.pop()
        if id(code) in visited:
            continue
        visited.add(id(code))
        instructions = list(dis.get_instructions(code))
        module_imported = None
        pending = None  # the dotted name an import just produced, until it is stored
        local_imports = {}  # local name -> dotted name it was imported as (import inside the function)
        for i, ins in enumerate(instructions):
            if ins.opname == "IMPORT_NAME":
                module_imported = str(ins.argval)
                pending = module_imported
                seen.append((module_imported, module_imported, where))
            elif ins.opname == "IMPORT_FROM" and module_imported:
                if instructions[i - 1].opname == "IMPORT_NAME" and module_imported.endswith(f".{ins.argval}"):
                    pending = module_imported  # `import a.b as c`
                else:
                    pending = f"{module_imported}.{ins.argval}"
                seen.append((pending, pending, where))
            elif ins.opname in ("STORE_FAST", "STORE_DEREF", "STORE_NAME", "STORE_GLOBAL") and pending:
                name = str(ins.argval)
                top = pending.split(".")[0]
                local_imports[name] = (
                    top if name == top and "." in pending and instructions[i - 1].opname == "IMPORT_NAME" else pending
                )
                pending = None
            elif ins.opname in ("SWAP", "POP_TOP", "COPY"):
                continue
            else:
                pending = None if ins.opname not in ("IMPORT_FROM",) else pending
            if ins.opname in _LOADS or (
                ins.opname in ("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE") and str(ins.argval) in local_imports
            ):
                written = str(ins.argval)
                if written in local_imports and ins.opname not in _LOADS:
                    dotted = local_imports[written]
                    head, _, rest = dotted.partition(".")
                    obj = sys.modules.get(head)
                    for part in rest.split(".") if rest else []:
                        obj = getattr(obj, part, None)
                    if obj is None:
                        obj = sys.modules.get(dotted)
                    seen.append((dotted, dotted, where))
                else:
                    obj = glob.get(written, getattr(_builtins, written, None))
                chain = [(written, obj)]
                j = i + 1
                while j < len(instructions) and instructions[j].opname in _ATTRS:
                    written = f"{written}.{instructions[j].argval}"
                    try:
                        obj = getattr(obj, str(instructions[j].argval)) if obj is not None else None
                    except Exception:  # a lazy attribute may fail; the written name still counts
                        obj = None
                    chain.append((written, obj))
                    j += 1
                for text, value in reversed(chain):  # the longest chain first: it names the call
                    seen.append((text, _dotted(value) or "", where))
                if (
                    isinstance(obj, (types.FunctionType, type))
                    and getattr(obj, "__module__", None) == home
                    and obj is not answer
                ):
                    todo.extend(_codes_of(obj))
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                todo.append((where, const, glob))
    return seen


def _matches(name: str, pattern: str) -> bool:
    import fnmatch

    if not name:
        return False
    return name == pattern or name.startswith(pattern + ".") or fnmatch.fnmatchcase(name, pattern)


def forbidden_patterns(forbids) -> list:
    """The dotted names and patterns that `forbids` (group names of HELPER_GROUPS, names, patterns) stands for."""
    if isinstance(forbids, str):
        forbids = (forbids,)
    patterns: list[str] = []
    for item in forbids:
        patterns.extend(HELPER_GROUPS.get(item, (item,)))
    return patterns


def called_helper(name: str, patterns, allows=()) -> bool:
    """True when the dotted `name` of something called is one of `patterns` and not in `allows`."""
    return not any(_matches(name, a) for a in allows) and any(_matches(name, p) for p in patterns)


def check_own_work(answer, what: str, *, forbids, instead: str, allows=()) -> None:
    """Fail when `answer` (a function or a class) hands its work to a forbidden helper.

    `forbids` lists group names of HELPER_GROUPS and/or dotted names and
    patterns; `allows` lists dotted names that stay allowed inside them. Only
    plain delegation is caught (an import, a call, an attribute chain written
    in the code), which is what an honest learner would write; the message
    names the call it saw and says what to write instead.
    """
    if isinstance(forbids, str):
        forbids = (forbids,)
    patterns = forbidden_patterns(forbids)
    remote = getattr(type(answer), "__own_work__", None)
    if remote is not None:  # the graded run: the answer lives in the learner's sandboxed process
        try:
            remote(
                answer,
                {
                    "what": str(what),
                    "forbids": [str(f) for f in forbids],
                    "instead": str(instead),
                    "allows": [str(a) for a in allows],
                    "patterns": patterns,
                },
            )
        except AssertionError as exc:
            raise CheckFailure(str(exc)) from None
        return
    if not _codes_of(answer):
        return  # not a function or class (nothing to read)
    caught = []
    for written, resolved, where in _seen_names(answer):
        if any(_matches(written, a) or _matches(resolved, a) for a in allows):
            continue
        if any(_matches(written, p) or _matches(resolved, p) for p in patterns):
            caught.append((len(written), written, resolved, where))
    if caught:
        # name the most specific thing seen (`torch.nn.RNN` rather than `torch`)
        _, written, resolved, where = max(caught, key=lambda c: c[0])
        shown = written if not resolved or resolved == written else f"{written} (that is {resolved})"
        raise CheckFailure(
            f"{what}: this exercise asks you to write it yourself, but `{where}` uses {shown}.\n"
            f"  not allowed here: {', '.join(str(f) for f in forbids)}\n"
            f"  write instead: {instead}"
        )
