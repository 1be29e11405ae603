"""utils.metrics against scikit-learn wherever it uses scikit-learn's names (spec section 4).

Property tests over the whole argument space of every function with
scikit-learn's name: each optional argument is either left out (its default)
or set to a drawn value, and the call goes to both libraries. scikit-learn is
the oracle: the same number (or array, dtype kind, report text), the same
warnings (UndefinedMetricWarning, UserWarning), and where scikit-learn
refuses the input, an error that ``except ValueError`` catches.

The deliberate refusals (inputs scikit-learn answers but utils refuses, listed
in the module docstring of utils.metrics) are tested as refusals, and the
generators below never produce them.
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import utils.metrics as M

SK_NAMED = [
    "confusion_matrix",
    "accuracy_score",
    "precision_recall_fscore_support",
    "precision_score",
    "recall_score",
    "f1_score",
    "fbeta_score",
    "classification_report",
    "mean_squared_error",
]
WATCHED = {"UndefinedMetricWarning", "UserWarning"}
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
EXAMPLES = 250


# ----------------------------------------------------------------------------
# running both libraries
# ----------------------------------------------------------------------------


def _outcome(fn, args, kwargs):
    """(result, exception, names of the watched warnings) of one call."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            res, err = fn(*args, **kwargs), None
        except Exception as exc:  # the oracle's error of any class is compared below
            res, err = None, exc
    return res, err, {type(w.message).__name__ for w in rec} & WATCHED


def _same_value(ours, theirs, context, *, rtol=1e-10):
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), context
        for a, b in zip(ours, theirs):
            _same_value(a, b, context, rtol=rtol)
        return
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs), f"{context}: keys {list(ours)} vs {list(theirs)}"
        for key in theirs:
            _same_value(ours[key], theirs[key], f"{context}[{key!r}]", rtol=rtol)
        return
    if isinstance(theirs, str):
        assert ours == theirs, f"{context}:\n{ours}\n--- scikit-learn ---\n{theirs}"
        return
    if theirs is None:
        assert ours is None, context
        return
    if isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray), f"{context}: ours {ours!r} is not an array"
        assert ours.shape == theirs.shape, f"{context}: shape {ours.shape} vs {theirs.shape}"
        assert ours.dtype.kind == theirs.dtype.kind, f"{context}: dtype {ours.dtype} vs {theirs.dtype}"
    else:
        assert np.ndim(ours) == 0, f"{context}: ours {ours!r} for scikit-learn's scalar {theirs!r}"
    np.testing.assert_allclose(
        np.asarray(ours, dtype=float),
        np.asarray(theirs, dtype=float),
        rtol=rtol,
        atol=1e-12,
        equal_nan=True,
        err_msg=context,
    )


def check_against_sklearn(name, args, kwargs, *, compare_text=True):
    """One call to both libraries: same outcome, or a ValueError where scikit-learn refuses."""
    context = f"{name}(*{args!r}, **{kwargs!r})"
    theirs, their_err, their_warn = _outcome(getattr(skm, name), args, kwargs)
    ours, our_err, our_warn = _outcome(getattr(M, name), args, kwargs)
    if their_err is not None:
        assert our_err is not None, f"{context}: scikit-learn raised {their_err!r}; utils returned {ours!r}"
        assert isinstance(our_err, ValueError), (
            f"{context}: scikit-learn raised {type(their_err).__name__}; utils raised {our_err!r}, "
            "which `except ValueError` would not catch"
        )
        return "refused"
    assert our_err is None, f"{context}: utils raised {our_err!r}; scikit-learn gave {theirs!r}"
    if isinstance(theirs, str) and not compare_text:
        return "answered"
    _same_value(ours, theirs, context)
    assert our_warn == their_warn, f"{context}: warnings {sorted(our_warn)} vs scikit-learn {sorted(their_warn)}"
    return "answered"


# ----------------------------------------------------------------------------
# generators: labels of every kind and each optional argument left out or set
# ----------------------------------------------------------------------------


@st.composite
def label_data(draw, *, max_classes=6):
    """(pool, y_true, y_pred, n) with labels of one kind, in one of the accepted containers."""
    kind = draw(st.sampled_from(["int", "shifted", "str", "bool", "float"]))
    k = draw(st.integers(1, max_classes))
    if kind == "bool":
        pool = np.array([False, True])
    elif kind == "int":
        pool = np.arange(k)
    elif kind == "float":
        pool = np.arange(k).astype(float)
    elif kind == "shifted":
        pool = np.array(sorted(draw(st.lists(st.integers(-5, 40), min_size=k, max_size=k, unique=True))))
    else:
        pool = np.array(
            [f"c{i}" for i in sorted(draw(st.lists(st.integers(0, 30), min_size=k, max_size=k, unique=True)))]
        )
    n = draw(st.integers(1, 30))
    index = st.lists(st.integers(0, pool.size - 1), min_size=n, max_size=n)
    yt, yp = pool[draw(index)], pool[draw(index)]
    form = draw(st.sampled_from(["array", "list", "column"]))
    if form == "list":
        yt, yp = yt.tolist(), yp.tolist()
    elif form == "column":  # (n, 1): n labels, for scikit-learn and for utils
        yt, yp = yt.reshape(-1, 1), yp.reshape(-1, 1)
    return pool, yt, yp, n


def _maybe(draw, kwargs, name, strategy):
    """Leave `name` at its default (not passed) or pass a drawn value."""
    if draw(st.booleans()):
        kwargs[name] = draw(strategy)


def labels_arg(pool):
    """A subset of the pool in any order, maybe with a label of the same kind absent from the data."""
    absent = {"U": "zz", "b": None, "f": 99.0}.get(pool.dtype.kind, 99)
    cand = pool.tolist() + ([] if absent is None else [absent])
    return st.lists(st.sampled_from(cand), min_size=1, max_size=len(cand), unique=True).flatmap(
        lambda lab: st.sampled_from([lab, np.array(lab)])
    )


def weights_arg(n):
    ints = st.lists(st.integers(0, 3), min_size=n, max_size=n)
    floats = st.lists(st.floats(0, 2, allow_nan=False, width=32), min_size=n, max_size=n)
    signed = st.lists(st.floats(-1, 2, allow_nan=False, width=32), min_size=n, max_size=n)
    return st.one_of(
        ints,
        ints.map(np.array),
        floats.map(np.array),
        signed.map(np.array),
        ints.map(lambda w: np.array(w, dtype=object)),  # object dtype holding numbers
        st.lists(st.booleans(), min_size=n, max_size=n).map(np.array),
    )


ZERO_DIVISION = st.sampled_from(["warn", 0, 1, 0.0, 1.0, np.nan, True, False])
AVERAGE = st.sampled_from([None, "binary", "micro", "macro", "weighted", "samples"])


def pos_label_arg(pool):
    return st.sampled_from(pool.tolist() + [1, 0, "c0", None])


# ----------------------------------------------------------------------------
# the property tests, one per function with scikit-learn's name
# ----------------------------------------------------------------------------


@settings(max_examples=EXAMPLES, **SETTINGS)
@given(data=st.data())
def test_confusion_matrix_parity(data):
    pool, yt, yp, n = data.draw(label_data())
    kw = {}
    _maybe(data.draw, kw, "labels", labels_arg(pool))
    _maybe(data.draw, kw, "sample_weight", weights_arg(n))
    _maybe(data.draw, kw, "normalize", st.sampled_from([None, "true", "pred", "all"]))
    check_against_sklearn("confusion_matrix", (yt, yp), kw)


@settings(max_examples=EXAMPLES, **SETTINGS)
@given(data=st.data())
def test_accuracy_score_parity(data):
    pool, yt, yp, n = data.draw(label_data())
    kw = {}
    _maybe(data.draw, kw, "normalize", st.sampled_from([True, False, np.True_, np.False_]))
    _maybe(data.draw, kw, "sample_weight", weights_arg(n))
    w = kw.get("sample_weight")
    if w is not None and not kw.get("normalize", True) and np.asarray(w).dtype.kind == "b":
        with pytest.raises(ValueError, match="boolean"):  # a deliberate refusal (tested below)
            M.accuracy_score(yt, yp, **kw)
        kw["sample_weight"] = np.asarray(w).astype(int)  # what the message asks for
    check_against_sklearn("accuracy_score", (yt, yp), kw)


def _prf_kwargs(draw, pool, n, *, beta=True, warn_for=False):
    kw = {}
    if beta:
        _maybe(draw, kw, "beta", st.sampled_from([0, 0.5, 1.0, 2, 3.5, math.inf]))
    _maybe(draw, kw, "labels", labels_arg(pool))
    _maybe(draw, kw, "pos_label", pos_label_arg(pool))
    _maybe(draw, kw, "average", AVERAGE)
    if warn_for:
        names = st.lists(st.sampled_from(["precision", "recall", "f-score"]), unique=True)
        _maybe(draw, kw, "warn_for", st.one_of(names, names.map(tuple), names.map(set)))
    _maybe(draw, kw, "sample_weight", weights_arg(n))
    _maybe(draw, kw, "zero_division", ZERO_DIVISION)
    return kw


@settings(max_examples=2 * EXAMPLES, **SETTINGS)
@given(data=st.data())
def test_precision_recall_fscore_support_parity(data):
    pool, yt, yp, n = data.draw(label_data())
    check_against_sklearn("precision_recall_fscore_support", (yt, yp), _prf_kwargs(data.draw, pool, n, warn_for=True))


@pytest.mark.parametrize("name", ["precision_score", "recall_score", "f1_score"])
@settings(max_examples=EXAMPLES, **SETTINGS)
@given(data=st.data())
def test_precision_recall_f1_parity(name, data):
    pool, yt, yp, n = data.draw(label_data())
    check_against_sklearn(name, (yt, yp), _prf_kwargs(data.draw, pool, n, beta=False))


@settings(max_examples=EXAMPLES, **SETTINGS)
@given(data=st.data())
def test_fbeta_score_parity(data):
    pool, yt, yp, n = data.draw(label_data())
    kw = _prf_kwargs(data.draw, pool, n, beta=False)
    kw["beta"] = data.draw(st.sampled_from([0, 0.5, 1, 2.0, math.inf]))  # required, as in scikit-learn
    check_against_sklearn("fbeta_score", (yt, yp), kw)


@settings(max_examples=EXAMPLES, **SETTINGS)
@given(data=st.data())
def test_classification_report_parity(data):
    pool, yt, yp, n = data.draw(label_data())
    kw = {}
    _maybe(data.draw, kw, "labels", labels_arg(pool))
    n_names = len(kw["labels"]) if "labels" in kw else np.unique(np.concatenate([np.ravel(yt), np.ravel(yp)])).size
    _maybe(
        data.draw,
        kw,
        "target_names",
        st.sampled_from([n_names, n_names + 1]).map(lambda m: [f"name {i}" for i in range(m)]),
    )
    _maybe(data.draw, kw, "sample_weight", weights_arg(n))
    _maybe(data.draw, kw, "digits", st.integers(0, 5))
    _maybe(data.draw, kw, "output_dict", st.booleans())
    _maybe(data.draw, kw, "zero_division", ZERO_DIVISION)
    # float weights: the supports are sums that may differ in their last bit (summation order),
    # which the text shows in full; the dict comparison covers those cases to 1e-10
    w = kw.get("sample_weight")
    exact = w is None or np.asarray(w).dtype.kind in "biu"
    check_against_sklearn("classification_report", (yt, yp), kw, compare_text=exact)
    if not exact and not kw.get("output_dict"):
        check_against_sklearn("classification_report", (yt, yp), {**kw, "output_dict": True})


@settings(max_examples=2 * EXAMPLES, **SETTINGS)
@given(data=st.data())
def test_mean_squared_error_parity(data):
    n = data.draw(st.integers(1, 20))
    m = data.draw(st.sampled_from([None, 1, 2, 3, 4]))
    shape = (n,) if m is None else (n, m)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    yt, yp = rng.normal(size=shape), rng.normal(size=shape)
    if data.draw(st.booleans()):
        yt, yp = np.round(yt * 3).astype(int), np.round(yp * 3).astype(int)
    if data.draw(st.booleans()):
        yt, yp = yt.tolist(), yp.tolist()
    kw = {}
    _maybe(data.draw, kw, "sample_weight", weights_arg(n))
    outputs = 1 if m is None else m
    _maybe(
        data.draw,
        kw,
        "multioutput",
        st.one_of(
            st.sampled_from(["raw_values", "uniform_average"]),
            st.lists(st.floats(0.125, 3, width=32), min_size=outputs, max_size=outputs),
            st.lists(st.floats(0.125, 3, width=32), min_size=outputs + 1, max_size=outputs + 1).map(np.array),
        ),
    )
    check_against_sklearn("mean_squared_error", (yt, yp), kw)


def test_the_generators_reach_answers_and_refusals():
    """Most drawn calls are answered (numbers compared), some refused: the property tests test both."""
    seen = {"answered": 0, "refused": 0}

    @settings(max_examples=300, derandomize=True, **SETTINGS)
    @given(data=st.data())
    def run(data):
        pool, yt, yp, n = data.draw(label_data())
        seen[
            check_against_sklearn(
                "precision_recall_fscore_support", (yt, yp), _prf_kwargs(data.draw, pool, n, warn_for=True)
            )
        ] += 1

    run()
    assert seen["answered"] > 150 and seen["refused"] > 10, seen


# ----------------------------------------------------------------------------
# defaults: the same parameters with the same defaults as scikit-learn
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SK_NAMED)
def test_signature_has_sklearn_parameters_and_defaults(name):
    ours = inspect.signature(getattr(M, name)).parameters
    theirs = inspect.signature(getattr(skm, name)).parameters
    for p in theirs.values():
        assert p.name in ours, f"{name} lacks scikit-learn's argument {p.name!r}"
        q = ours[p.name]
        assert q.kind == p.kind, f"{name}({p.name}): {q.kind} vs scikit-learn's {p.kind}"
        assert q.default == p.default, f"{name}({p.name}): default {q.default!r} vs scikit-learn's {p.default!r}"
    assert list(ours)[:2] == ["y_true", "y_pred"]


def test_precision_recall_fscore_support_defaults_to_one_score_per_class():
    """The corrected default (average=None): multiclass data is answered, as by scikit-learn."""
    yt, yp = [0, 1, 2, 2, 1, 0], [0, 2, 2, 2, 1, 1]
    got, exp = M.precision_recall_fscore_support(yt, yp), skm.precision_recall_fscore_support(yt, yp)
    for a, b in zip(got, exp):
        assert isinstance(a, np.ndarray) and a.shape == (3,)
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # binary data: per-class arrays as well, not the binary score
    p, r, f, s = M.precision_recall_fscore_support([0, 1, 1, 0], [0, 1, 0, 0])
    assert p.shape == r.shape == f.shape == s.shape == (2,)
    # the single-score functions keep average="binary"
    with pytest.raises(ValueError, match="binary"):
        M.f1_score(yt, yp)


# ----------------------------------------------------------------------------
# errors: what scikit-learn refuses is refused with an error `except ValueError` catches
# ----------------------------------------------------------------------------

Y, P = [0, 1, 1, 0], [0, 1, 0, 0]
SK_REFUSES = [
    # labels
    ("confusion_matrix", (["a", "b"], [0, 1]), {}),  # mixed label types between arguments
    ("accuracy_score", ([0, 1], ["a", "b"]), {}),
    ("f1_score", (np.array(["a", 1, None], dtype=object), [1, 1, 1]), {}),
    ("confusion_matrix", ([0, 1], [0.2, 0.9]), {}),  # scores, not labels
    ("accuracy_score", ([0.0, np.nan], [0, 1]), {}),
    ("precision_score", ([0.0, np.inf], [0, 1]), {}),
    ("confusion_matrix", ([], []), {}),
    ("f1_score", ([], []), {}),
    ("accuracy_score", ([0, 1, 1], [0, 1]), {}),
    ("confusion_matrix", (np.zeros((2, 3, 4), int), np.zeros((2, 3, 4), int)), {}),
    ("accuracy_score", ([[0, 2], [1, 0]], [[0, 1], [1, 1]]), {}),  # 2-D, not 0/1: multiclass-multioutput
    ("confusion_matrix", ([[0, 1], [1, 0]], [[0, 1], [1, 1]]), {}),  # multilabel: not supported by either
    ("f1_score", ([0, 1, 2], [0, 1, 1]), {}),  # multiclass with average="binary"
    ("f1_score", ([0, 2, 2], [0, 2, 0]), {"pos_label": 1}),
    ("precision_score", (Y, P), {"pos_label": "a"}),
    ("f1_score", (Y, P), {"average": "samples"}),
    ("confusion_matrix", (Y, P), {"labels": []}),
    ("confusion_matrix", (Y, P), {"labels": [5, 6]}),
    # sample weights
    ("confusion_matrix", ([0, 1], [0, 1]), {"sample_weight": [1 + 1j, 1]}),
    ("accuracy_score", ([0, 1], [0, 1]), {"sample_weight": np.array([1 + 0j, 2])}),
    ("accuracy_score", ([0, 1], [0, 1]), {"sample_weight": [0, 0]}),
    ("f1_score", ([0, 1], [0, 1]), {"sample_weight": [1, np.nan]}),
    ("confusion_matrix", ([0, 1], [0, 1]), {"sample_weight": [1, 2, 3]}),
    ("accuracy_score", ([0, 1], [0, 1]), {"sample_weight": [[1, 2]]}),
    ("accuracy_score", ([0, 1], [0, 1]), {"sample_weight": 2}),
    ("accuracy_score", ([0, 1], [0, 1]), {"sample_weight": [1, -1]}),  # weights sum to 0
    # parameters
    ("f1_score", (Y, P), {"average": "mean"}),
    ("f1_score", (Y, P), {"zero_division": 0.5}),
    ("f1_score", (Y, P), {"zero_division": "nan"}),
    ("fbeta_score", (Y, P), {"beta": -1}),
    ("precision_recall_fscore_support", (Y, P), {"warn_for": "precision"}),
    ("confusion_matrix", (Y, P), {"normalize": "rows"}),
    ("accuracy_score", (Y, P), {"normalize": 1}),
    ("accuracy_score", (Y, P), {"normalize": "true"}),
    ("classification_report", (Y, P), {"digits": -1}),
    ("classification_report", (Y, P), {"digits": 2.0}),
    ("classification_report", (Y, P), {"output_dict": 1}),
    ("classification_report", (Y, P), {"target_names": ["a", "b", "c"]}),
    # mean_squared_error
    ("mean_squared_error", ([], []), {}),
    ("mean_squared_error", ([1.0, np.nan], [1.0, 2.0]), {}),
    ("mean_squared_error", ([1.0, 2.0], [1.0, 2.0, 3.0]), {}),
    ("mean_squared_error", (np.zeros((2, 2)), np.zeros((2, 3))), {}),
    ("mean_squared_error", ([1.0, 2.0], [1.0, 2.5]), {"multioutput": "foo"}),
    ("mean_squared_error", ([1.0, 2.0], [1.0, 2.5]), {"multioutput": None}),
    ("mean_squared_error", ([1.0, 2.0], [1.0, 2.5]), {"multioutput": [2.0]}),
    ("mean_squared_error", (np.ones((3, 2)), np.zeros((3, 2))), {"multioutput": [1.0, 2.0, 3.0]}),
    ("mean_squared_error", ([1.0, 2.0], [1.0, 2.5]), {"sample_weight": [0, 0]}),
    ("mean_squared_error", ([1.0, 2.0], [1.0, 2.5]), {"sample_weight": [1, -1]}),  # ZeroDivisionError there
    ("mean_squared_error", ([1.0, 2.0], [1.0, 2.5]), {"sample_weight": [1 + 1j, 1]}),
    ("mean_squared_error", ([1.0, 2.0], [1.0, 2.5]), {"sample_weight": [[1.0, 1.0]]}),
    ("mean_squared_error", ([1.0, 2.0], [1.0, 2.5]), {"sample_weight": [1.0, np.inf]}),
]


@pytest.mark.parametrize("name,args,kwargs", SK_REFUSES, ids=[f"{c[0]}-{i}" for i, c in enumerate(SK_REFUSES)])
def test_what_sklearn_refuses_is_caught_by_except_value_error(name, args, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception):  # noqa: B017 - the table must hold inputs the oracle refuses
            getattr(skm, name)(*args, **kwargs)
        try:
            getattr(M, name)(*args, **kwargs)
        except ValueError:
            pass
        else:  # pragma: no cover - the failure is the message
            pytest.fail(f"utils.metrics.{name} did not raise a ValueError for {args!r}, {kwargs!r}")


def test_metric_input_error_is_both_value_error_and_type_error():
    assert issubclass(M.MetricInputError, ValueError) and issubclass(M.MetricInputError, TypeError)
    for call, words in [
        (lambda: M.confusion_matrix(["a", "b"], [0, 1]), "mixed label types"),
        (lambda: M.confusion_matrix([0, 1], [0, 1], sample_weight=[1 + 1j, 1]), "complex"),
        (lambda: M.accuracy_score([0, 1], [0, 1], sample_weight=np.array(["1", "2"], dtype=object)), "str"),
        (lambda: M.f1_score([0, 1], [0, 1], average="mean"), "average"),
    ]:
        with pytest.raises(M.MetricInputError, match=words):
            call()
        for cls in (ValueError, TypeError):
            with pytest.raises(cls):
                call()


# ----------------------------------------------------------------------------
# deliberate refusals: scikit-learn answers, utils refuses with a clear ValueError
# ----------------------------------------------------------------------------

REFUSALS = [
    ("accuracy_score", ([0, 1, 1], [[0], [1], [1]]), {}, ["shapes", "(3,)", "(3, 1)"]),
    ("f1_score", ([[0], [1], [1]], [0, 1, 0]), {}, ["shapes"]),
    ("mean_squared_error", ([0.0, 1.0], [[0.0], [1.0]]), {}, ["shapes"]),
    (
        "accuracy_score",
        ([[0, 1, 1], [1, 0, 1]], [[0, 0, 1], [1, 0, 1]]),
        {},
        ["2-D", "multilabel", "token_accuracy", "mask=", "sequences=True", ".ravel()"],
    ),
    ("f1_score", ([[0, 1], [1, 1]], [[0, 1], [0, 1]]), {"average": "macro"}, ["2-D", "mask=", ".ravel()"]),
    ("precision_recall_fscore_support", ([[0, 1], [1, 1]], [[0, 1], [0, 1]]), {}, ["2-D", "multilabel"]),
    ("classification_report", ([[0, 1], [1, 1]], [[0, 1], [0, 1]]), {}, ["2-D", "multilabel"]),
    ("confusion_matrix", (["a", 1], ["a", "a"]), {}, ["y_true", "mixes strings and numbers"]),
    ("f1_score", ([0, 1], [0, 1]), {"labels": ["a"], "average": "macro"}, ["mixed label types", "labels"]),
    ("confusion_matrix", ([0, 1], [0, 1]), {"labels": [0, 0]}, ["labels", "duplicates"]),
    ("f1_score", ([0, 1], [0, 1]), {"labels": [0, 0], "average": "macro"}, ["labels", "duplicates"]),
    ("confusion_matrix", ([0, 1], [0, 1]), {"labels": [[0, 1]]}, ["labels", "1-D"]),
    ("confusion_matrix", ([0, 1], [0, 1]), {"sample_weight": ["1", "2"]}, ["sample_weight", "numeric"]),
    # scikit-learn's count is a logical "or" of booleans here (1.0 whatever the count)
    (
        "accuracy_score",
        ([0, 0, 1], [0, 0, 1]),
        {"sample_weight": np.array([True, True, False]), "normalize": False},
        ["boolean", "integer weights"],
    ),
]


@pytest.mark.parametrize("name,args,kwargs,words", REFUSALS, ids=[f"{c[0]}-{i}" for i, c in enumerate(REFUSALS)])
def test_deliberate_refusals_are_refused_with_a_clear_message(name, args, kwargs, words):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(skm, name)(*args, **kwargs)  # scikit-learn answers: this is a refusal of ours
    with pytest.raises(ValueError) as info:
        getattr(M, name)(*args, **kwargs)
    for word in words:
        assert word.lower() in str(info.value).lower(), f"{str(info.value)!r} should mention {word!r}"


def test_probability_rows_that_do_not_sum_to_one_are_refused():
    """scikit-learn's log_loss renormalises such rows (with a warning); cross_entropy refuses them."""
    with pytest.raises(ValueError, match="sum to 1"):
        M.cross_entropy([0, 1], [[0.5, 0.4], [0.2, 0.7]], from_logits=False)


# ----------------------------------------------------------------------------
# 2-D labels: the sequence meaning only when the call says so
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,kw",
    [
        ("accuracy_score", {}),
        ("confusion_matrix", {}),
        ("f1_score", {"average": "macro"}),
        ("precision_recall_fscore_support", {}),
        ("recall_score", {"average": None}),
        ("classification_report", {"output_dict": True}),
    ],
)
def test_two_d_labels_pool_the_real_tokens_when_the_call_says_sequences(name, kw):
    rng = np.random.default_rng(3)
    yt, yp = rng.integers(0, 3, (6, 5)), rng.integers(0, 3, (6, 5))
    mask = rng.random((6, 5)) < 0.7
    mask[0, 0] = True
    ours, theirs = getattr(M, name), getattr(skm, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same_value(ours(yt, yp, sequences=True, **kw), theirs(yt.ravel(), yp.ravel(), **kw), f"{name} sequences")
        _same_value(ours(yt, yp, mask=mask, **kw), theirs(yt[mask], yp[mask], **kw), f"{name} mask")
        padded = np.where(mask, yt, -100)
        _same_value(ours(padded, yp, ignore_index=-100, **kw), theirs(yt[mask], yp[mask], **kw), f"{name} ignore")
    with pytest.raises(ValueError, match="2-D"):
        ours(yt, yp, **kw)
    with pytest.raises(TypeError, match="sequences"):
        ours(yt, yp, sequences="yes", **kw)


def test_the_issue_example_is_refused_not_answered_differently():
    yt, yp = [[0, 1, 1], [1, 0, 1]], [[0, 0, 1], [1, 0, 1]]
    assert skm.accuracy_score(yt, yp) == 0.5  # multilabel: rows entirely right
    with pytest.raises(ValueError, match="token_accuracy"):
        M.accuracy_score(yt, yp)
    assert (
        M.accuracy_score(yt, yp, sequences=True)
        == M.token_accuracy(yt, yp)
        == skm.accuracy_score(np.ravel(yt), np.ravel(yp))
    )


# ----------------------------------------------------------------------------
# smaller differences of the issue
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("jit", [False, True])
def test_integer_weights_beyond_2_53_are_summed_exactly(monkeypatch, jit):
    if jit:
        monkeypatch.setattr(M, "_JIT_MIN", 1)  # weighted counts never use the kernel; the setting must not matter
    big = 2**60
    yt, yp = np.array([0, 1, 1, 0, 1]), np.array([0, 1, 0, 0, 1])
    w = np.array([big + 1, big + 3, 5, big + 7, 1], dtype=np.int64)
    got, exp = M.confusion_matrix(yt, yp, sample_weight=w), skm.confusion_matrix(yt, yp, sample_weight=w)
    assert got.dtype == np.int64 and exp.dtype == np.int64
    np.testing.assert_array_equal(got, exp)
    assert int(got[0, 0]) == (big + 1) + (big + 7)  # exact, which float64 is not
    got_l = M.confusion_matrix(yt, yp, sample_weight=w, labels=[1, 0])
    np.testing.assert_array_equal(got_l, skm.confusion_matrix(yt, yp, sample_weight=w, labels=[1, 0]))


def test_object_weights_holding_numbers_are_accepted_where_sklearn_accepts_them():
    yt, yp = [0, 1, 1, 2], [0, 1, 2, 2]
    w = np.array([1, 2.5, 3, True], dtype=object)
    for name, kw in [
        ("confusion_matrix", {}),
        ("accuracy_score", {}),
        ("accuracy_score", {"normalize": False}),
        ("mean_squared_error", {}),
    ]:
        assert check_against_sklearn(name, (yt, yp), {**kw, "sample_weight": w}) == "answered"
    # scikit-learn's precision/recall family cannot cast them (a TypeError there): refused, as ValueError too
    for name, kw in [
        ("f1_score", {"average": "macro"}),
        ("precision_recall_fscore_support", {}),
        ("classification_report", {}),
    ]:
        assert check_against_sklearn(name, (yt, yp), {**kw, "sample_weight": w}) == "refused"
        with pytest.raises(M.MetricInputError, match="object dtype"):
            getattr(M, name)(yt, yp, sample_weight=w, **kw)
    with pytest.raises(ValueError, match="sample_weight"):
        M.accuracy_score(yt, yp, sample_weight=np.array([1, None, 2, 3], dtype=object))


def test_single_label_confusion_matrix_warns_like_sklearn():
    for kw in ({}, {"labels": [1]}, {"normalize": "all"}):
        check_against_sklearn("confusion_matrix", ([1, 1, 1], [1, 1, 1]), kw)
        with pytest.warns(UserWarning, match="single label"):
            M.confusion_matrix([1, 1, 1], [1, 1, 1], **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # num_classes states the shape: nothing to warn about
        np.testing.assert_array_equal(M.confusion_matrix([0, 0], [0, 0], num_classes=1), [[2]])


def test_one_message_filter_silences_the_undefined_metric_warning_of_both_libraries():
    """The documented filter: by message, since utils' class is not scikit-learn's."""
    from sklearn.exceptions import UndefinedMetricWarning as SkWarning

    assert not issubclass(M.UndefinedMetricWarning, SkWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*is ill-defined and being set to")
        assert M.precision_score([0, 1], [0, 0]) == skm.precision_score([0, 1], [0, 0]) == 0.0
        assert M.f1_score([0, 0], [0, 0]) == skm.f1_score([0, 0], [0, 0]) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=SkWarning)
        warnings.filterwarnings("ignore", category=M.UndefinedMetricWarning)
        assert M.recall_score([0, 0], [1, 0]) == skm.recall_score([0, 0], [1, 0]) == 0.0


def test_mean_squared_error_mask_with_weights_and_multioutput():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    w = rng.random(5) + 0.1
    full = np.ones((5, 4), dtype=bool)
    # an all-True mask changes nothing: scikit-learn's weighted mean
    assert M.mean_squared_error(a, b, sample_weight=w, mask=full) == pytest.approx(
        skm.mean_squared_error(a, b, sample_weight=w), rel=1e-12
    )
    mask = rng.random((5, 4)) < 0.6
    mask[0, 0] = True
    wm = np.broadcast_to(w[:, None], (5, 4))[mask]
    assert M.mean_squared_error(a, b, sample_weight=w, mask=mask) == pytest.approx(
        skm.mean_squared_error(a[mask], b[mask], sample_weight=wm), rel=1e-12
    )
    with pytest.raises(ValueError, match="uniform_average"):
        M.mean_squared_error(a, b, mask=mask, multioutput="raw_values")
    with pytest.raises(ValueError, match="reduction='mean'"):
        M.mean_squared_error(a, b, sample_weight=w, reduction="sum")
    # more axes than scikit-learn takes: outputs are the trailing axes
    c, d = rng.normal(size=(5, 3, 2)), rng.normal(size=(5, 3, 2))
    np.testing.assert_allclose(
        M.mean_squared_error(c, d, multioutput="raw_values"),
        skm.mean_squared_error(c.reshape(5, 6), d.reshape(5, 6), multioutput="raw_values").reshape(3, 2),
        rtol=1e-12,
    )
