"""utils.metrics, classification part: scikit-learn is the oracle on thousands of generated cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

import utils.metrics as M

# scikit-learn (the oracle) warns when a step or case holds a single label; that is its business
pytestmark = pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")

N_RANDOM = 600  # seeded random cases per oracle test (each case checks several averages/modes)


def _labels_for(rng, k, kind):
    """k distinct labels of a kind: small ints, shifted/negative ints, or strings."""
    if kind == "int":
        return np.arange(k)
    if kind == "shifted":
        return np.sort(rng.choice(np.arange(-5, 20), size=k, replace=False))
    return np.array([f"c{i}" for i in sorted(rng.choice(20, size=k, replace=False))])


def _random_case(rng):
    k = int(rng.integers(1, 7))
    kind = ["int", "shifted", "str"][int(rng.integers(3))]
    pool = _labels_for(rng, k, kind)
    n = int(rng.integers(1, 40))
    # skewed class frequencies so that some classes are never predicted or never true
    p_true = rng.dirichlet(np.ones(k) * 0.6)
    p_pred = rng.dirichlet(np.ones(k) * 0.6)
    yt = pool[rng.choice(k, size=n, p=p_true)]
    yp = pool[rng.choice(k, size=n, p=p_pred)]
    labels = None
    if rng.random() < 0.4:
        # a random subset of the pool, possibly with a label absent from the data
        extra = np.array(["zz"]) if kind == "str" else np.array([99])
        cand = np.concatenate([pool, extra])
        m = int(rng.integers(1, cand.size + 1))
        labels = list(rng.permutation(cand)[:m])
    sw = None
    if rng.random() < 0.3:
        sw = rng.integers(0, 4, size=n) if rng.random() < 0.5 else rng.random(n)
    return yt, yp, labels, sw, pool


def _call_both(fn_ours, fn_sk, *args, **kwargs):
    """Run both; return (ours, theirs, ours_warned, theirs_warned) or the exception types."""
    out = []
    for fn in (fn_ours, fn_sk):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            try:
                res = fn(*args, **kwargs)
            except ValueError as exc:
                res = exc
        warned = any(type(w.message).__name__ == "UndefinedMetricWarning" for w in rec)
        out.append((res, warned))
    return out


def _assert_same(ours, theirs, context):
    if isinstance(theirs, Exception):
        assert isinstance(ours, ValueError), f"{context}: scikit-learn raised {theirs!r}, ours returned {ours!r}"
        return
    assert not isinstance(ours, Exception), f"{context}: ours raised {ours!r}, scikit-learn gave {theirs!r}"
    if isinstance(theirs, tuple):
        for a, b in zip(ours, theirs):
            _assert_same(a, b, context)
        return
    if theirs is None:
        assert ours is None, context
        return
    np.testing.assert_allclose(
        np.asarray(ours, dtype=float),
        np.asarray(theirs, dtype=float),
        rtol=1e-12,
        atol=1e-12,
        equal_nan=True,
        err_msg=context,
    )


def test_confusion_matrix_matches_sklearn_on_random_cases():
    rng = np.random.default_rng(1)
    for i in range(N_RANDOM):
        yt, yp, labels, sw, _ = _random_case(rng)
        normalize = [None, None, "true", "pred", "all"][i % 5]
        kw = dict(labels=labels, sample_weight=sw, normalize=normalize)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn's single-label UserWarning
            try:
                expected = skm.confusion_matrix(yt, yp, **kw)
            except ValueError:
                with pytest.raises(ValueError):
                    M.confusion_matrix(yt, yp, **kw)
                continue
        got = M.confusion_matrix(yt, yp, **kw)
        assert got.shape == expected.shape, (i, kw)
        assert got.dtype.kind == expected.dtype.kind, (i, got.dtype, expected.dtype)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, err_msg=str((i, kw)))


def test_confusion_matrix_num_classes_gives_fixed_shape():
    rng = np.random.default_rng(2)
    for _ in range(200):
        k = int(rng.integers(1, 7))
        n = int(rng.integers(1, 30))
        yt = rng.integers(0, k, n)
        yp = rng.integers(0, k, n)
        got = M.confusion_matrix(yt, yp, num_classes=k)
        np.testing.assert_array_equal(got, skm.confusion_matrix(yt, yp, labels=np.arange(k)))
        assert got.sum() == n


@pytest.mark.parametrize(
    "func", ["precision_recall_fscore_support", "precision_score", "recall_score", "f1_score", "fbeta_score"]
)
def test_prf_family_matches_sklearn_on_random_cases(func):
    rng = np.random.default_rng(3 + len(func))
    ours_fn, sk_fn = getattr(M, func), getattr(skm, func)
    checked = 0
    for i in range(N_RANDOM):
        yt, yp, labels, sw, pool = _random_case(rng)
        average = [None, "binary", "micro", "macro", "weighted"][i % 5]
        zero_division = ["warn", 0, 1, np.nan][(i // 5) % 4]
        kw = dict(labels=labels, sample_weight=sw, average=average, zero_division=zero_division)
        if average == "binary":
            kw["pos_label"] = (
                pool[int(rng.integers(pool.size))].item()
                if rng.random() < 0.5
                else ("c0" if pool.dtype.kind == "U" else 1)
            )
        if func in ("fbeta_score",) or (func == "precision_recall_fscore_support" and i % 3 == 0):
            kw["beta"] = [0.5, 2.0, 1.0, 0.0][i % 4]
        (ours, ow), (theirs, tw) = _call_both(ours_fn, sk_fn, yt, yp, **kw)
        context = f"case {i}: {func}(y_true={yt.tolist()}, y_pred={yp.tolist()}, **{kw})"
        _assert_same(ours, theirs, context)
        if not isinstance(theirs, Exception):
            assert ow == tw, f"{context}: UndefinedMetricWarning ours={ow} sklearn={tw}"
            checked += 1
    assert checked > N_RANDOM // 2  # most cases are valid, not errors


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=30),
    average=st.sampled_from([None, "micro", "macro", "weighted"]),
    zero_division=st.sampled_from([0, 1, np.nan]),
    beta=st.sampled_from([0.5, 1.0, 3.0]),
)
def test_prf_hypothesis(data, average, zero_division, beta):
    yt = [a for a, _ in data]
    yp = [b for _, b in data]
    got = M.precision_recall_fscore_support(yt, yp, average=average, zero_division=zero_division, beta=beta)
    exp = skm.precision_recall_fscore_support(yt, yp, average=average, zero_division=zero_division, beta=beta)
    _assert_same(got, exp, f"{data} {average} {zero_division} {beta}")


def test_accuracy_matches_sklearn():
    rng = np.random.default_rng(4)
    for i in range(300):
        yt, yp, _, sw, _ = _random_case(rng)
        normalize = bool(i % 2)
        if sw is not None and normalize and np.sum(sw) == 0:
            continue
        got = M.accuracy_score(yt, yp, sample_weight=sw, normalize=normalize)
        np.testing.assert_allclose(got, skm.accuracy_score(yt, yp, sample_weight=sw, normalize=normalize), rtol=1e-12)


def test_classification_report_matches_sklearn_text_and_dict():
    rng = np.random.default_rng(5)
    for i in range(120):
        yt, yp, labels, sw, _ = _random_case(rng)
        kw = dict(labels=labels, sample_weight=sw, zero_division=[0, 1, np.nan][i % 3], digits=[2, 3, 4][i % 3])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                text = skm.classification_report(yt, yp, **kw)
                d = skm.classification_report(yt, yp, output_dict=True, **kw)
            except ValueError:
                continue
            if sw is None or sw.dtype.kind == "i":
                # float weights: supports may differ in the last bit (summation order), so
                # the text is compared only for exact counts; the dict below is compared for all
                assert M.classification_report(yt, yp, **kw) == text, i
            got = M.classification_report(yt, yp, output_dict=True, **kw)
        assert got.keys() == d.keys()
        for key in d:
            if isinstance(d[key], dict):
                for sub in d[key]:
                    np.testing.assert_allclose(got[key][sub], d[key][sub], equal_nan=True)
            else:
                np.testing.assert_allclose(got[key], d[key])


def test_classification_report_target_names():
    yt, yp = [0, 1, 2, 2], [0, 2, 2, 1]
    names = ["cat", "dog", "pig"]
    assert M.classification_report(yt, yp, target_names=names) == skm.classification_report(yt, yp, target_names=names)


def test_mask_and_ignore_index_drop_positions_before_labels():
    # the padding value 9 would be a fourth class if it were not dropped first
    yt = np.array([[0, 1, 2, 9], [2, 1, 9, 9]])
    yp = np.array([[0, 2, 2, 5], [2, 1, 7, 0]])
    mask = yt != 9
    exp = skm.confusion_matrix(yt[mask], yp[mask])
    np.testing.assert_array_equal(M.confusion_matrix(yt, yp, mask=mask), exp)
    np.testing.assert_array_equal(M.confusion_matrix(yt, yp, ignore_index=9), exp)
    assert M.accuracy_score(yt, yp, ignore_index=9) == skm.accuracy_score(yt[mask], yp[mask])
    np.testing.assert_allclose(
        M.f1_score(yt, yp, mask=mask, average="macro"), skm.f1_score(yt[mask], yp[mask], average="macro")
    )


def test_edge_cases_table():
    cases = [
        # (y_true, y_pred, kwargs) -- every one compared with scikit-learn
        ([1, 1, 1], [1, 1, 1], {}),  # one class only
        ([0, 0, 0], [0, 0, 0], {"zero_division": 0}),  # positive class absent everywhere
        ([0, 1, 1, 0], [0, 0, 0, 0], {"zero_division": 1}),  # a class never predicted
        ([0, 0, 0, 0], [0, 1, 1, 0], {"zero_division": 0}),  # a class absent from y_true
        ([0, 1, 2], [0, 1, 1], {"labels": [3, 4], "average": "macro", "zero_division": 0}),  # labels absent
        ([0, 1, 2], [0, 1, 1], {"labels": [2, 0], "average": None, "zero_division": np.nan}),
        ([0, 1, 2, 2], [0, 1, 1, 2], {"average": "micro", "labels": [1, 2]}),
        ([True, False, True], [True, True, False], {}),  # booleans
        ([1.0, 0.0, 1.0], [1.0, 1.0, 0.0], {}),  # whole-number floats
        (["spam", "ham", "spam"], ["spam", "spam", "ham"], {"pos_label": "spam"}),
    ]
    for yt, yp, kw in cases:
        for name in ("precision_score", "recall_score", "f1_score"):
            (ours, _), (theirs, _) = _call_both(getattr(M, name), getattr(skm, name), yt, yp, **kw)
            _assert_same(ours, theirs, f"{name}({yt}, {yp}, **{kw})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for yt, yp, kw in cases:
            kw = {k: v for k, v in kw.items() if k == "labels"}
            try:
                exp = skm.confusion_matrix(yt, yp, **kw)
            except ValueError:
                with pytest.raises(ValueError):
                    M.confusion_matrix(yt, yp, **kw)
                continue
            np.testing.assert_array_equal(M.confusion_matrix(yt, yp, **kw), exp)


def test_worked_example_of_lesson_03():
    # [[50, 10], [5, 35]]: rows actual, columns predicted
    yt = np.repeat([0, 0, 1, 1], [50, 10, 5, 35])
    yp = np.repeat([0, 1, 0, 1], [50, 10, 5, 35])
    np.testing.assert_array_equal(M.confusion_matrix(yt, yp), [[50, 10], [5, 35]])
    assert M.precision_score(yt, yp) == pytest.approx(35 / 45)
    assert M.recall_score(yt, yp) == pytest.approx(35 / 40)
    assert M.accuracy_score(yt, yp) == pytest.approx(0.85)
    assert M.f1_score(yt, yp) == pytest.approx(14 / 17)


def test_threshold_is_strict():
    p = np.array([0.2, 0.5, 0.5000001, 0.9])
    np.testing.assert_array_equal(M.threshold(p, 0.5), (p > 0.5).astype(int))
    assert M.threshold([0.5], 0.5).tolist() == [0]  # a tie is negative


def test_large_inputs_take_the_fast_paths_correctly():
    rng = np.random.default_rng(6)
    for k in (2, 10, 37):
        yt = rng.integers(0, k, 200_000)
        yp = rng.integers(0, k, 200_000)
        exp = skm.confusion_matrix(yt, yp)
        np.testing.assert_array_equal(M.confusion_matrix(yt, yp), exp)
        np.testing.assert_array_equal(M.confusion_matrix(yt, yp, num_classes=k), exp)
        np.testing.assert_array_equal(M.confusion_matrix(yt.astype(np.int32), yp.astype(np.uint8)), exp)
    # labels that grow from block to block (binary first, then 10 classes), odd length, with a mask
    n = 3 * 65536 + 7
    for k_late in (3, 10, 40):
        yt = rng.integers(0, 2, n)
        yp = rng.integers(0, 2, n)
        yt[100_000:] = rng.integers(0, k_late, n - 100_000)
        yp[150_000:] = rng.integers(0, k_late, n - 150_000)
        mask = rng.random(n) < 0.9
        yt_pad = np.where(mask, yt, -1)  # padding value outside the labels
        np.testing.assert_array_equal(M.confusion_matrix(yt, yp), skm.confusion_matrix(yt, yp))
        np.testing.assert_array_equal(
            M.confusion_matrix(yt_pad, yp, mask=mask), skm.confusion_matrix(yt[mask], yp[mask])
        )
        np.testing.assert_array_equal(
            M.confusion_matrix(yt, yp, num_classes=k_late, mask=mask),
            skm.confusion_matrix(yt[mask], yp[mask], labels=np.arange(k_late)),
        )
    # huge and negative label values go through the generic path
    yt = rng.choice([-7, 10**9, 3], 5000)
    yp = rng.choice([-7, 10**9, 3], 5000)
    np.testing.assert_array_equal(M.confusion_matrix(yt, yp), skm.confusion_matrix(yt, yp))


def test_outputs_are_numpy_or_python_floats():
    yt, yp = [0, 1, 1, 0], [0, 1, 0, 0]
    assert type(M.accuracy_score(yt, yp)) is float
    assert type(M.f1_score(yt, yp)) is float
    assert isinstance(M.f1_score(yt, yp, average=None), np.ndarray)
    assert isinstance(M.confusion_matrix(yt, yp), np.ndarray)


def test_torch_and_tf_tensors_give_the_numpy_numbers():
    import tensorflow as tf
    import torch

    rng = np.random.default_rng(7)
    yt = rng.integers(0, 3, 64)
    yp = rng.integers(0, 3, 64)
    mask = rng.random(64) > 0.2
    ref_cm = M.confusion_matrix(yt, yp, mask=mask)
    ref_f1 = M.f1_score(yt, yp, average="macro", mask=mask)
    for conv in (torch.as_tensor, tf.constant, list):
        np.testing.assert_array_equal(M.confusion_matrix(conv(yt), conv(yp), mask=conv(mask)), ref_cm)
        assert M.f1_score(conv(yt), conv(yp), average="macro", mask=conv(mask)) == ref_f1
    t = torch.tensor(yt.astype(np.float32), requires_grad=True)  # whole-number floats, with grad
    assert M.accuracy_score(t, torch.as_tensor(yp)) == M.accuracy_score(yt, yp)


def _same_outcome(call_a, call_b):
    """Both calls return equal arrays, or both raise the same error with the same message."""
    outcomes = []
    for call in (call_a, call_b):
        try:
            outcomes.append(("ok", call()))
        except (ValueError, TypeError) as err:
            outcomes.append((type(err).__name__, str(err)))
    (kind_a, val_a), (kind_b, val_b) = outcomes
    assert kind_a == kind_b, outcomes
    if kind_a == "ok":
        np.testing.assert_array_equal(val_a, val_b)
    else:
        assert val_a == val_b


@pytest.mark.parametrize("seed", range(4))
def test_compiled_counting_kernel_agrees_with_sklearn_and_the_numpy_path(monkeypatch, seed):
    """Large inputs use utils._kernels (numba); forced on small inputs here, it must match both oracles."""
    from utils import _kernels

    assert _kernels.pair_counter() is not None, "numba is pinned in requirements.txt and must load"
    rng = np.random.default_rng(100 + seed)
    dtypes = [np.int64, np.int32, np.int8, np.uint8, np.uint16, np.uint64]
    for _ in range(150):
        k = int(rng.integers(1, 14))
        n = int(rng.integers(1, 300))
        pool = np.arange(k)
        if rng.random() < 0.3:  # labels with gaps: absent ones are dropped when inferred
            pool = np.sort(rng.choice(40, size=k, replace=False))
        yt = rng.choice(pool, n)
        yp = rng.choice(pool, n)
        trouble = rng.random()
        if trouble < 0.1:
            yp[rng.integers(n)] = -3  # negative: inferred labels take the general path
        elif trouble < 0.2:
            yt[rng.integers(n)] = 5000  # beyond the direct limit: general path
        yt = yt.astype(rng.choice(dtypes) if yt.min() >= 0 and yt.max() < 128 else np.int64)
        yp = yp.astype(rng.choice(dtypes) if yp.min() >= 0 and yp.max() < 128 else np.int64)
        if rng.random() < 0.2:  # a strided, read-only view
            yt = np.repeat(yt, 2)[::2]
            yt.flags.writeable = False
        num_classes = int(rng.integers(1, 45)) if rng.random() < 0.3 else None

        def compiled(yt=yt, yp=yp, num_classes=num_classes):
            with monkeypatch.context() as m:
                m.setattr(M, "_JIT_MIN", 1)
                return M.confusion_matrix(yt, yp, num_classes=num_classes)

        def plain(yt=yt, yp=yp, num_classes=num_classes):
            with monkeypatch.context() as m:
                m.setattr(_kernels, "pair_counter", lambda: None)
                m.setattr(M, "_JIT_MIN", 1)
                return M.confusion_matrix(yt, yp, num_classes=num_classes)

        _same_outcome(compiled, plain)
        if num_classes is None:
            np.testing.assert_array_equal(compiled(), skm.confusion_matrix(yt, yp))
        elif max(yt.astype(np.int64).max(), yp.astype(np.int64).max()) < num_classes and min(yt.min(), yp.min()) >= 0:
            np.testing.assert_array_equal(compiled(), skm.confusion_matrix(yt, yp, labels=np.arange(num_classes)))


def test_compiled_kernel_runs_at_its_real_threshold_and_can_be_switched_off(monkeypatch):
    from utils import _kernels

    rng = np.random.default_rng(7)
    n = M._JIT_MIN + 11
    yt = rng.integers(0, 10, n)
    yp = np.where(rng.random(n) < 0.8, yt, rng.integers(0, 10, n))
    expected = skm.confusion_matrix(yt, yp)
    kernel = _kernels.pair_counter()
    calls = []
    monkeypatch.setattr(_kernels, "pair_counter", lambda: lambda *a: calls.append(1) or kernel(*a))
    np.testing.assert_array_equal(M.confusion_matrix(yt, yp), expected)
    np.testing.assert_array_equal(M.confusion_matrix(yt, yp, num_classes=10), expected)
    assert len(calls) == 2, "inputs of _JIT_MIN labels or more must use the compiled kernel"
    with pytest.raises(ValueError, match=r"`y_pred` contains the label 10, outside 0\.\.9"):
        M.confusion_matrix(yt, np.where(yp == 3, 10, yp), num_classes=10)
    monkeypatch.undo()
    # the documented switch: RNN_COURSE_NO_JIT=1 keeps the numpy path (fresh cache of the lookup)
    monkeypatch.setenv(_kernels.DISABLE_ENV, "1")
    _kernels.pair_counter.cache_clear()
    try:
        assert _kernels.pair_counter() is None
        np.testing.assert_array_equal(M.confusion_matrix(yt, yp), expected)
    finally:
        monkeypatch.delenv(_kernels.DISABLE_ENV)
        _kernels.pair_counter.cache_clear()
    assert _kernels.pair_counter() is not None
