"""utils.metrics, sequence part: per-step metrics vs scikit-learn step by step; losses vs PyTorch and Keras."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

import utils.metrics as M

# scikit-learn (the oracle) warns when a step or case holds a single label; that is its business
pytestmark = pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")


def _random_batch(rng, *, k=None, pad_steps=True):
    batch, steps = int(rng.integers(1, 12)), int(rng.integers(1, 9))
    k = int(rng.integers(1, 5)) if k is None else k
    yt = rng.integers(0, k, (batch, steps))
    yp = np.where(rng.random((batch, steps)) < 0.6, yt, rng.integers(0, k, (batch, steps)))
    lengths = rng.integers(0, steps + 1, batch)
    mask = np.arange(steps)[None, :] < lengths[:, None]
    if pad_steps and steps > 1 and rng.random() < 0.3:
        mask[:, -1] = False  # a fully padded last step
    return yt, yp, mask


def test_per_step_confusion_matches_sklearn_at_each_step():
    rng = np.random.default_rng(10)
    done = 0
    for _ in range(400):
        yt, yp, mask = _random_batch(rng)
        if not mask.any():
            with pytest.raises(ValueError):
                M.per_step_confusion_matrix(yt, yp, mask=mask)
            continue
        labels = np.unique(np.concatenate([yt[mask], yp[mask]]))
        got = M.per_step_confusion_matrix(yt, yp, mask=mask)
        assert got.shape == (yt.shape[1], labels.size, labels.size)
        for t in range(yt.shape[1]):
            real = mask[:, t]
            if not real.any():
                assert not got[t].any(), "a fully padded step must give an all-zero matrix"
                continue
            np.testing.assert_array_equal(got[t], skm.confusion_matrix(yt[real, t], yp[real, t], labels=labels))
        k = int(max(yt.max(), yp.max())) + 1
        fixed = M.per_step_confusion_matrix(yt, yp, mask=mask, num_classes=k)
        assert fixed.shape == (yt.shape[1], k, k)
        assert fixed.sum() == mask.sum()
        done += 1
    assert done > 300


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.uint64])
def test_per_step_confusion_with_labels_in_small_or_unsigned_integer_types(dtype):
    """Codes label * K + label are computed in intp: uint8 labels of 20 classes must not wrap at 256."""
    rng = np.random.default_rng(11)
    k = 20
    yt = rng.integers(0, k, (64, 9)).astype(dtype)
    yp = rng.integers(0, k, (64, 9))  # int64 beside the other type
    mask = rng.random((64, 9)) < 0.8
    got = M.per_step_confusion_matrix(yt, yp, mask=mask, num_classes=k)
    for t in range(yt.shape[1]):
        real = mask[:, t]
        np.testing.assert_array_equal(got[t], skm.confusion_matrix(yt[real, t], yp[real, t], labels=np.arange(k)))
    whole = M.confusion_matrix(yt, yp.astype(dtype), sequences=True)  # 2-D: pooled tokens, said explicitly
    np.testing.assert_array_equal(whole, skm.confusion_matrix(yt.ravel(), yp.ravel()))


@pytest.mark.parametrize("metric", ["precision", "recall", "f1", "accuracy"])
@pytest.mark.parametrize("average", ["binary", None, "micro", "macro", "weighted"])
def test_per_step_scores_match_sklearn_at_each_step(metric, average):
    rng = np.random.default_rng(hash((metric, str(average))) % 2**32)
    sk = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}.get(metric)
    for i in range(60):
        yt, yp, mask = _random_batch(rng, k=2 if average == "binary" else None)
        if not mask.any():
            continue
        zero_division = [np.nan, 0, 1][i % 3]
        got = M.per_step_scores(yt, yp, metric=metric, average=average, mask=mask, zero_division=zero_division)
        labels = np.unique(np.concatenate([yt[mask], yp[mask]]))
        for t in range(yt.shape[1]):
            real = mask[:, t]
            if not real.any():
                assert np.all(np.isnan(got[t])), "a fully padded step must be NaN"
                continue
            a, b = yt[real, t], yp[real, t]
            if metric == "accuracy":
                exp = skm.accuracy_score(a, b)
            elif average == "binary":
                exp = sk(a, b, average="binary", zero_division=zero_division)
            else:
                exp = sk(a, b, labels=labels, average=average, zero_division=zero_division)
            np.testing.assert_allclose(
                got[t],
                exp,
                rtol=1e-12,
                equal_nan=True,
                err_msg=f"step {t} of {yt.tolist()} / {yp.tolist()} mask {mask.tolist()}",
            )


def test_per_step_lesson_04_example():
    # three steps, 20 samples each, TP/FP/FN/TN = 8/2/1/9, 7/3/2/8, 9/1/0/10
    counts = [(8, 2, 1, 9), (7, 3, 2, 8), (9, 1, 0, 10)]
    yt = np.stack([np.repeat([1, 0, 1, 0], c) for c in counts], axis=1)
    yp = np.stack([np.repeat([1, 1, 0, 0], c) for c in counts], axis=1)
    cms = M.per_step_confusion_matrix(yt, yp)
    for t, (tp, fp, fn, tn) in enumerate(counts):
        np.testing.assert_array_equal(cms[t], [[tn, fp], [fn, tp]])
    np.testing.assert_allclose(M.per_step_scores(yt, yp, metric="precision"), [0.8, 0.7, 0.9])


def test_token_and_sequence_accuracy_against_loops():
    rng = np.random.default_rng(11)
    for _ in range(300):
        yt, yp, mask = _random_batch(rng)
        if not mask.any():
            for f in (M.token_accuracy, M.sequence_accuracy):
                with pytest.raises(ValueError):
                    f(yt, yp, mask=mask)
            continue
        assert M.token_accuracy(yt, yp, mask=mask) == pytest.approx(skm.accuracy_score(yt[mask], yp[mask]))
        rows = [bool(np.all(yt[b][mask[b]] == yp[b][mask[b]])) for b in range(yt.shape[0]) if mask[b].any()]
        assert M.sequence_accuracy(yt, yp, mask=mask) == pytest.approx(np.mean(rows))
        # ignore_index marks the same positions
        padded = np.where(mask, yt, -100)
        assert M.sequence_accuracy(padded, yp, ignore_index=-100) == pytest.approx(np.mean(rows))
        assert M.token_accuracy(padded, yp, ignore_index=-100) == pytest.approx(M.token_accuracy(yt, yp, mask=mask))


def _logits_case(rng, scale=3.0):
    batch, steps, classes = int(rng.integers(1, 8)), int(rng.integers(1, 7)), int(rng.integers(2, 6))
    logits = rng.normal(scale=scale, size=(batch, steps, classes))
    targets = rng.integers(0, classes, (batch, steps))
    mask = rng.random((batch, steps)) < 0.75
    mask[0, 0] = True
    return logits, targets, mask


def test_cross_entropy_matches_torch():
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(12)
    for i in range(150):
        logits, targets, mask = _logits_case(rng, scale=[1.0, 10.0, 300.0][i % 3])
        tgt = np.where(mask, targets, -100)
        lt = torch.as_tensor(logits).permute(0, 2, 1)  # torch wants (N, C, T)
        tt = torch.as_tensor(tgt)
        for reduction in ("mean", "sum", "none"):
            exp = F.cross_entropy(lt, tt, ignore_index=-100, reduction=reduction).numpy()
            got = M.cross_entropy(tgt, logits, ignore_index=-100, reduction=reduction)
            np.testing.assert_allclose(got, exp, rtol=1e-10, atol=1e-10)
            got_mask = M.cross_entropy(targets, logits, mask=mask, reduction=reduction)
            np.testing.assert_allclose(got_mask, exp, rtol=1e-10, atol=1e-10)
        per_pos = F.cross_entropy(lt, tt, ignore_index=-100, reduction="none").numpy()
        with np.errstate(invalid="ignore"):
            exp_step = per_pos.sum(0) / mask.sum(0)
            exp_seq = per_pos.sum(1) / mask.sum(1)
        np.testing.assert_allclose(
            M.cross_entropy(targets, logits, mask=mask, reduction="per_step"),
            exp_step,
            rtol=1e-10,
            atol=1e-12,
            equal_nan=True,
        )
        np.testing.assert_allclose(
            M.cross_entropy(targets, logits, mask=mask, reduction="per_sequence"),
            exp_seq,
            rtol=1e-10,
            atol=1e-12,
            equal_nan=True,
        )
        exp_ppl = float(np.exp(F.cross_entropy(lt, tt, ignore_index=-100).item()))
        assert M.perplexity(targets, logits, mask=mask) == pytest.approx(exp_ppl, rel=1e-10)


def test_cross_entropy_from_probabilities_matches_keras():
    import keras

    rng = np.random.default_rng(13)
    loss_logits = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    loss_probs = keras.losses.SparseCategoricalCrossentropy(from_logits=False)
    for _ in range(40):
        n, classes = int(rng.integers(1, 30)), int(rng.integers(2, 7))
        logits = rng.normal(scale=2.0, size=(n, classes))
        targets = rng.integers(0, classes, n)
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        exp_l = float(keras.ops.convert_to_numpy(loss_logits(targets, logits.astype("float32"))))
        exp_p = float(keras.ops.convert_to_numpy(loss_probs(targets, probs.astype("float32"))))
        assert M.cross_entropy(targets, logits, from_logits=True) == pytest.approx(exp_l, rel=1e-5)
        assert M.cross_entropy(targets, probs, from_logits=False) == pytest.approx(exp_p, rel=1e-5)
        w = (rng.random(n) < 0.7).astype("float32")
        w[0] = 1.0
        # Keras' sample_weight with 0/1 weights and reduction sum / number of real items = our masked mean
        exp_masked = (
            float(
                keras.ops.convert_to_numpy(
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")(
                        targets, logits.astype("float32"), sample_weight=w
                    )
                )
            )
            / w.sum()
        )
        assert M.cross_entropy(targets, logits, mask=w.astype(bool)) == pytest.approx(exp_masked, rel=1e-5)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]])
    targets = np.array([0, 2])
    got = M.cross_entropy(targets, logits, reduction="none")
    assert np.all(np.isfinite(got))
    # exact values by hand: log(1 + e^-1000 + e^-1000) ~ 0, and 1000 - 999 + log(1 + e^-1 + e^-2000)
    np.testing.assert_allclose(got, [0.0, 1.0 + np.log1p(np.exp(-1.0))], atol=1e-12)
    import torch

    exp = torch.nn.functional.cross_entropy(torch.as_tensor(logits), torch.as_tensor(targets), reduction="none")
    np.testing.assert_allclose(got, exp.numpy(), atol=1e-9)


def test_cross_entropy_probability_zero_on_target_is_infinite():
    assert M.cross_entropy([1], [[1.0, 0.0]], from_logits=False) == np.inf


@settings(max_examples=60, deadline=None)
@given(
    shape=st.sampled_from([(5,), (3, 4), (2, 3, 2)]),
    seed=st.integers(0, 2**31 - 1),
    use_mask=st.booleans(),
)
def test_mean_squared_error_matches_sklearn_and_numpy(shape, seed, use_mask):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=shape), rng.normal(size=shape)
    if not use_mask:
        flat_a, flat_b = a.reshape(shape[0], -1), b.reshape(shape[0], -1)
        assert M.mean_squared_error(a, b) == pytest.approx(skm.mean_squared_error(flat_a, flat_b), rel=1e-12)
        return
    mask = rng.random(shape[:2]) < 0.7
    mask.flat[0] = True
    full = np.broadcast_to(mask.reshape(mask.shape + (1,) * (len(shape) - mask.ndim)), shape)
    assert M.mean_squared_error(a, b, mask=mask) == pytest.approx(np.mean((a[full] - b[full]) ** 2), rel=1e-12)
    assert M.mean_squared_error(a, b, mask=mask, reduction="sum") == pytest.approx(np.sum((a[full] - b[full]) ** 2))
    if len(shape) >= 2:
        per_step = M.mean_squared_error(a, b, mask=mask, reduction="per_step")
        for t in range(shape[1]):
            sel = full[:, t]
            exp = np.mean((a[:, t][sel] - b[:, t][sel]) ** 2) if sel.any() else np.nan
            np.testing.assert_allclose(per_step[t], exp, rtol=1e-12, equal_nan=True)
        per_seq = M.mean_squared_error(a, b, mask=mask, reduction="per_sequence")
        for r in range(shape[0]):
            sel = full[r]
            exp = np.mean((a[r][sel] - b[r][sel]) ** 2) if sel.any() else np.nan
            np.testing.assert_allclose(per_seq[r], exp, rtol=1e-12, equal_nan=True)


def test_sequence_functions_accept_torch_and_tf():
    import tensorflow as tf
    import torch

    rng = np.random.default_rng(14)
    logits, targets, mask = _logits_case(rng)
    yp = logits.argmax(-1)
    ref = (
        M.cross_entropy(targets, logits, mask=mask),
        M.per_step_scores(targets, yp, mask=mask, average="macro"),
        M.sequence_accuracy(targets, yp, mask=mask),
        M.perplexity(targets, logits, mask=mask),
    )
    for conv in (torch.as_tensor, tf.constant):
        got = (
            M.cross_entropy(conv(targets), conv(logits), mask=conv(mask)),
            M.per_step_scores(conv(targets), conv(yp), mask=conv(mask), average="macro"),
            M.sequence_accuracy(conv(targets), conv(yp), mask=conv(mask)),
            M.perplexity(conv(targets), conv(logits), mask=conv(mask)),
        )
        for a, b in zip(got, ref):
            np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True)
    t = torch.as_tensor(logits, dtype=torch.float32).requires_grad_()
    assert M.cross_entropy(targets, t, mask=mask) == pytest.approx(ref[0], rel=1e-5)


def test_per_step_generic_paths_strings_negative_labels_and_padding_values():
    rng = np.random.default_rng(15)
    for i in range(60):
        yt, yp, mask = _random_batch(rng, k=3)
        if not mask.any():
            continue
        pool = [np.array(["neg", "pos", "zz"]), np.array([-5, 7, 10**9]), np.array([0, 1, 2])][i % 3]
        a, b = pool[yt], pool[yp]
        if pool.dtype.kind == "i":
            a = np.where(mask, a, -100)  # padding values that are not labels
        labels = np.unique(np.concatenate([a[mask], b[mask]]))
        got = M.per_step_confusion_matrix(a, b, mask=mask)
        given = list(pool[[2, 0]])  # a subset, in a chosen order
        got_given = M.per_step_confusion_matrix(a, b, mask=mask, labels=given)
        for t in range(yt.shape[1]):
            real = mask[:, t]
            exp = skm.confusion_matrix(a[real, t], b[real, t], labels=labels) if real.any() else 0
            np.testing.assert_array_equal(got[t], exp)
            if real.any() and np.isin(given, a[real, t]).any():
                np.testing.assert_array_equal(got_given[t], skm.confusion_matrix(a[real, t], b[real, t], labels=given))
        scores = M.per_step_scores(a, b, mask=mask, metric="recall", average="macro", zero_division=0)
        for t in range(yt.shape[1]):
            real = mask[:, t]
            if real.any():
                exp = skm.recall_score(a[real, t], b[real, t], labels=labels, average="macro", zero_division=0)
                assert scores[t] == pytest.approx(exp)


def test_per_step_num_classes_and_binary_pos_label():
    rng = np.random.default_rng(16)
    yt, yp, mask = _random_batch(rng, k=2, pad_steps=False)
    mask[:, 0] = True
    got = M.per_step_confusion_matrix(yt, yp, mask=mask, num_classes=4)
    assert got.shape == (yt.shape[1], 4, 4) and not got[:, 2:].any() and not got[:, :, 2:].any()
    p0 = M.per_step_scores(yt, yp, mask=mask, metric="precision", pos_label=0)
    for t in range(yt.shape[1]):
        real = mask[:, t]
        if real.any():
            exp = skm.precision_score(yt[real, t], yp[real, t], pos_label=0, zero_division=np.nan)
            np.testing.assert_allclose(p0[t], exp, equal_nan=True)
    with pytest.raises(ValueError, match="num_classes"):
        M.per_step_confusion_matrix(yt + 3, yp, mask=mask, num_classes=4)


def test_per_step_confusion_names_the_classes_any_way_with_the_same_counts():
    """labels= (any order, subsets, absent or negative labels), num_classes= or neither: sklearn at every step."""
    rng = np.random.default_rng(17)
    for i in range(150):
        yt, yp, mask = _random_batch(rng, k=int(rng.integers(1, 6)))
        if not mask.any():
            continue
        if i % 4 == 0:  # padding values that are not labels, at masked positions only
            yt = np.where(mask, yt, -100)
        if i % 5 == 1:
            yt, yp = yt.astype(np.uint8) if yt.min() >= 0 else yt, yp.astype(np.int16)
        pool = np.unique(np.concatenate([yt[mask], yp[mask]]))
        cand = np.concatenate([pool, [7, -3, 2**40]])
        labels = list(rng.permutation(cand)[: int(rng.integers(1, cand.size + 1))])
        got = M.per_step_confusion_matrix(yt, yp, mask=mask, labels=labels)
        assert got.shape == (yt.shape[1], len(labels), len(labels))
        for t in range(yt.shape[1]):
            real = mask[:, t]
            exp = (
                skm.confusion_matrix(yt[real, t], yp[real, t], labels=labels)
                if real.any() and np.isin(labels, yt[real, t]).any()
                else None
            )
            if exp is not None:
                np.testing.assert_array_equal(got[t], exp, err_msg=f"step {t}, labels {labels}")
            elif not real.any():
                assert not got[t].any()
        k = int(max(yt[mask].max(), yp[mask].max())) + 1
        by_range = M.per_step_confusion_matrix(yt, yp, mask=mask, num_classes=k)
        np.testing.assert_array_equal(M.per_step_confusion_matrix(yt, yp, mask=mask, labels=list(range(k))), by_range)


def test_labels_take_the_fast_counting_path(monkeypatch):
    """Speed does not depend on how the classes are named: labels= never falls back to the generic path here."""
    rng = np.random.default_rng(18)
    yt, yp = rng.integers(0, 3, (64, 20)), rng.integers(0, 3, (64, 20))
    mask = rng.random((64, 20)) < 0.8
    expected = M.per_step_confusion_matrix(yt, yp, mask=mask, num_classes=3)

    def generic(*args, **kwargs):
        raise AssertionError("the generic counting path was taken")

    monkeypatch.setattr(M, "_count_codes", generic)
    np.testing.assert_array_equal(M.per_step_confusion_matrix(yt, yp, mask=mask, labels=[0, 1, 2]), expected)
    np.testing.assert_array_equal(
        M.per_step_confusion_matrix(yt, yp, mask=mask, labels=[2, 0]), expected[:, [2, 0]][:, :, [2, 0]]
    )
    np.testing.assert_array_equal(M.per_step_confusion_matrix(yt, yp, mask=mask), expected)
    np.testing.assert_array_equal(
        M.confusion_matrix(yt, yp, mask=mask, labels=[1, 0, 2]), expected.sum(0)[[1, 0, 2]][:, [1, 0, 2]]
    )
