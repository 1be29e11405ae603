"""utils.data.order: the order-decides-the-label task, its splits, and the 05 evaluation references.

Oracles: the rule itself re-derived row by row in plain Python, Python sets for
duplicates, scikit-learn for metrics and for an order-blind model.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

from utils import evaluation
from utils.data import order
from utils.data.order import (
    ORDER_FIRST,
    ORDER_SECOND,
    ORDER_VOCAB,
    choose_threshold,
    classification_summary,
    decode_messages,
    grouped_split,
    load_order_task,
    make_order_dataset,
    pitfall_pictures,
    random_split,
    seen_in,
    shuffle_within_rows,
    with_duplicates,
)


def test_star_import_exports_the_public_names():
    import utils.data as data

    for name in order.__all__:
        assert hasattr(data, name), name


def test_each_message_holds_both_key_words_once_and_the_label_follows_their_order():
    X, y = make_order_dataset(500, 12, seed=3)
    assert X.shape == (500, 12) and y.shape == (500,)
    assert X.dtype == np.int64 and y.dtype == np.int64
    for row, label in zip(X.tolist(), y.tolist()):
        assert row.count(ORDER_FIRST) == 1 and row.count(ORDER_SECOND) == 1
        assert 0 not in row  # padding is never generated
        assert label == int(row.index(ORDER_FIRST) < row.index(ORDER_SECOND))


def test_same_seed_same_data_other_seed_other_data():
    a = make_order_dataset(200, seed=1)
    b = make_order_dataset(200, seed=1)
    c = make_order_dataset(200, seed=2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_positive_fraction_and_label_noise():
    _, y = make_order_dataset(20000, seed=0, positive_fraction=0.05)
    assert abs(y.mean() - 0.05) < 0.01
    X, y_clean = make_order_dataset(20000, seed=4)
    X2, y_noisy = make_order_dataset(20000, seed=4, label_noise=0.2)
    np.testing.assert_array_equal(X, X2)  # noise changes labels only
    assert abs((y_clean != y_noisy).mean() - 0.2) < 0.015


def test_an_order_blind_model_is_at_chance():
    """A bag of words (scikit-learn) on the same messages cannot beat chance: the words carry no label."""
    X, y = make_order_dataset(3000, seed=0)
    Xt, yt = make_order_dataset(2000, seed=1)
    vec = CountVectorizer(token_pattern=r"[^ ]+")
    clf = LogisticRegression(max_iter=1000).fit(vec.fit_transform(decode_messages(X)), y)
    acc = accuracy_score(yt, clf.predict(vec.transform(decode_messages(Xt))))
    assert acc <= 0.56, acc


def test_decode_and_shuffle():
    X, _ = make_order_dataset(3, 5, seed=0)
    text = decode_messages(X)
    assert len(text) == 3 and all(len(t.split()) == 5 for t in text)
    assert all(w in ORDER_VOCAB for t in text for w in t.split())
    assert decode_messages(X[0]) == text[:1]
    S = shuffle_within_rows(X, seed=0)
    np.testing.assert_array_equal(np.sort(S, axis=1), np.sort(X, axis=1))
    with pytest.raises(ValueError, match="outside"):
        decode_messages(np.array([[99, 1]]))


def test_duplicates_and_leaky_vs_clean_splits():
    X, y = make_order_dataset(300, seed=5, label_noise=0.1)
    Xd, yd = with_duplicates(X, y, max_copies=4, seed=5)
    assert len(X) <= len(Xd) <= 4 * len(X)
    # every copy keeps its message's label
    label_of = {tuple(r): label for r, label in zip(X.tolist(), y.tolist())}
    assert all(label_of[tuple(r)] == label for r, label in zip(Xd.tolist(), yd.tolist()))
    (tr, ytr), (te, yte) = random_split(Xd, yd, (0.7, 0.3), seed=0)
    assert len(tr) + len(te) == len(Xd) and abs(len(te) - 0.3 * len(Xd)) <= 1
    train_set = {tuple(r) for r in tr.tolist()}
    expected_seen = np.array([tuple(r) in train_set for r in te.tolist()])
    np.testing.assert_array_equal(seen_in(tr, te), expected_seen)
    assert expected_seen.mean() > 0.5  # a random row split of bulk mail leaks
    parts = grouped_split(Xd, yd, (0.6, 0.2, 0.2), seed=0)
    assert sum(len(p[0]) for p in parts) == len(Xd)
    sets = [{tuple(r) for r in p[0].tolist()} for p in parts]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert not seen_in(parts[0][0], parts[2][0]).any()


def test_load_order_task_has_no_message_in_two_parts():
    task = load_order_task(seed=0, num_train=3000, num_val=500, num_test=500, seq_len=5)
    sets = {k: {tuple(r) for r in v[0].tolist()} for k, v in task.items()}
    assert not (sets["train"] & sets["val"]) and not (sets["train"] & sets["test"]) and not (sets["val"] & sets["test"])
    for X, y in task.values():
        assert all(
            label == int(list(r).index(ORDER_FIRST) < list(r).index(ORDER_SECOND))
            for r, label in zip(X.tolist(), y.tolist())
        )
    again = load_order_task(seed=0, num_train=3000, num_val=500, num_test=500, seq_len=5)
    np.testing.assert_array_equal(task["test"][0], again["test"][0])


@pytest.mark.parametrize(
    "call, err, words",
    [
        (lambda: make_order_dataset(0), ValueError, "num_samples"),
        (lambda: make_order_dataset(5, 1), ValueError, "seq_len"),
        (lambda: make_order_dataset(5.0), TypeError, "num_samples"),
        (lambda: make_order_dataset(5, positive_fraction=1.5), ValueError, "positive_fraction"),
        (lambda: make_order_dataset(5, label_noise=0.7), ValueError, "label_noise"),
        (lambda: random_split(np.zeros((4, 3), int), np.zeros(4, int), (0.5, 0.6)), ValueError, "fractions"),
        (lambda: random_split(np.zeros((4, 3)), np.zeros(4, int)), TypeError, "X"),
        (lambda: seen_in(np.zeros((4, 3), int), np.zeros((4, 2), int)), ValueError, "seq_len"),
        (lambda: with_duplicates(np.zeros((4, 3), int), np.zeros(3, int)), ValueError, "y"),
        (lambda: classification_summary([0, 1], [0.1, np.nan]), ValueError, "proba"),
        (lambda: classification_summary([0, 2], [0.1, 0.3]), ValueError, "y_true"),
        (lambda: classification_summary([0, 1], [0.1, 0.3, 0.2]), ValueError, "proba"),
        (lambda: choose_threshold([0, 1], [0.1, 0.3], "f1", 0.5), ValueError, "metric"),
        (lambda: choose_threshold([0, 1], [0.1, 0.3], "recall", 1.5), ValueError, "goal"),
        (lambda: choose_threshold([0, 0], [0.1, 0.3], "recall", 0.5), ValueError, "positive"),
    ],
)
def test_bad_input_is_named(call, err, words):
    with pytest.raises(err, match=words):
        call()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.9])
def test_classification_summary_matches_scikit_learn(seed, threshold):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.35 * y + rng.random(300) * 0.65, 0, 1)
    p[:5] = threshold  # ties at the threshold count as positive (>=)
    got = classification_summary(y, p, threshold)
    pred = (p >= threshold).astype(int)
    assert got["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(precision_score(y, pred, zero_division=0))
    assert got["recall"] == pytest.approx(recall_score(y, pred, zero_division=0))
    assert got["f1"] == pytest.approx(f1_score(y, pred, zero_division=0))
    np.testing.assert_array_equal(got["confusion_matrix"], confusion_matrix(y, pred, labels=[0, 1]))


def test_classification_summary_with_no_positive_prediction_gives_zero_not_nan():
    got = classification_summary([0, 1, 1], [0.1, 0.2, 0.3], 0.9)
    assert got["precision"] == 0.0 and got["f1"] == 0.0 and got["recall"] == 0.0


def _brute_force(y, s, metric, goal):
    """Every candidate threshold, scored by scikit-learn."""
    ok = []
    for t in np.unique(s):
        pred = (s >= t).astype(int)
        score = (precision_score if metric == "precision" else recall_score)(y, pred, zero_division=0)
        if score >= goal and pred.any():
            ok.append(t)
    if not ok:
        return None
    return float(min(ok)) if metric == "precision" else float(max(ok))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    metric=st.sampled_from(["precision", "recall"]),
    goal=st.sampled_from([0.5, 0.8, 0.9, 0.95, 1.0]),
    n=st.integers(2, 60),
)
def test_choose_threshold_matches_a_brute_force_search(seed, metric, goal, n):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[0] = 1
    s = np.round(rng.random(n) * 0.6 + 0.4 * y, 1)  # rounded: ties happen
    assert choose_threshold(y, s, metric, goal) == _brute_force(y, s, metric, goal)


def pitfall_from_numbers(picture: dict) -> str:
    """The diagnosis a careful reader makes from one picture's numbers (the tests' own key, kept out of utils)."""
    h = picture["history"]
    if picture["overlap"] > 0.3:
        return "leakage"
    if picture["positives"] < 0.1:
        return "imbalance"
    if max(h["val_accuracy"]) < 0.6:
        return "order_blind"
    if h["val_loss"][-1] > min(h["val_loss"]) + 0.1 and h["loss"][-1] < h["loss"][0]:
        return "overfitting"
    return "fine"


def test_pitfall_pictures_show_what_they_claim():
    pics = pitfall_pictures(seed=0)
    assert sorted(pics) == list("ABCDE")
    assert all("pitfall" not in p for p in pics.values())  # the picture does not give the answer away
    by = {pitfall_from_numbers(p): p for p in pics.values()}
    assert sorted(by) == sorted(order.PITFALLS)  # each sign shows in exactly one picture
    assert by["imbalance"]["positives"] < 0.05
    assert by["imbalance"]["test"]["accuracy"] > 0.9 > 0.3 > by["imbalance"]["test"]["recall"]
    assert by["leakage"]["overlap"] > 0.3 and by["leakage"]["test"]["accuracy"] > 0.98
    h = by["overfitting"]["history"]
    assert h["loss"][-1] < h["loss"][0] and h["val_loss"][-1] > min(h["val_loss"]) + 0.2
    assert abs(by["order_blind"]["test"]["accuracy"] - 0.5) < 0.06
    assert by["fine"]["test"]["precision"] > 0.9 and by["fine"]["test"]["recall"] > 0.9
    np.testing.assert_array_equal(pitfall_pictures(seed=0)["A"]["history"]["loss"], pics["A"]["history"]["loss"])


def test_no_answer_key_is_importable_from_utils():
    """Issue 11: answer keys live only in hidden tests; utils keeps no diagnosis of the pictures."""
    import utils.data as data

    assert not hasattr(order, "pitfall_answers") and not hasattr(data, "pitfall_answers")
    for pic in order._pictures(0).values():
        assert set(pic) == {"history", "test", "positives", "overlap"}


def test_evaluation_references_live_in_utils_evaluation_and_are_re_exported():
    """One implementation: utils.evaluation, re-exported by utils.data.order (and utils.data) for the notebooks."""
    import utils.data as data

    assert order.classification_summary is evaluation.classification_summary is data.classification_summary
    assert order.choose_threshold is evaluation.choose_threshold is data.choose_threshold


def test_utils_evaluation_imports_no_framework():
    import subprocess
    import sys

    code = (
        "import sys, utils.evaluation, utils.data.order; "
        "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.9])
def test_binary_predictions_count_a_tie_as_positive(threshold):
    rng = np.random.default_rng(3)
    p = rng.random(50)
    p[:4] = threshold
    got = evaluation.binary_predictions(list(p), threshold)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, np.where(p < threshold, 0, 1))
    assert got[:4].tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize(
    "call, err, words",
    [
        (lambda: evaluation.binary_predictions([0.2, 0.7], "0.5"), TypeError, "threshold"),
        (lambda: evaluation.binary_predictions([0.2, np.inf], 0.5), ValueError, "proba"),
        (lambda: evaluation.binary_predictions(["a", "b"], 0.5), TypeError, "proba"),
        (lambda: classification_summary([0, 1], [0.2, 0.7], True), TypeError, "threshold"),
        (lambda: choose_threshold([0, 1], [0.1, 0.3], "recall", 0), ValueError, "goal"),
        (lambda: choose_threshold([0, 1], [0.1, 0.3], "recall", "high"), TypeError, "goal"),
    ],
)
def test_evaluation_bad_input_is_named(call, err, words):
    with pytest.raises(err, match=words):
        call()
