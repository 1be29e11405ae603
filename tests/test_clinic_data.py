"""utils.data.clinic: the saved predictions of topic 07 tell the story they promise.

scikit-learn is the oracle for every metric; the story (which model hides which
pitfall, which model to deploy) must hold for any seed, because only the
examples move between seeds, never the counts.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, precision_score, recall_score

from utils.data import CLINIC_MODEL_IDS, CLINIC_PITFALLS, CLINIC_SPLITS, load_clinic
from utils.data import clinic as clinic_module

SEEDS = [0, 1, 7, 2024]


def _metrics(y, p):
    return {
        "accuracy": accuracy_score(y, p),
        "precision": precision_score(y, p, zero_division=0),
        "recall": recall_score(y, p, zero_division=0),
    }


def _table(clinic, split):
    y = clinic.labels[split]
    return {m: _metrics(y, clinic.models[m].predictions[split]) for m in clinic.model_ids}


def test_public_names_are_exported():
    assert set(clinic_module.__all__) >= {"load_clinic", "CLINIC_MODEL_IDS", "CLINIC_PITFALLS", "CLINIC_SPLITS"}
    assert "none" in CLINIC_PITFALLS and len(set(CLINIC_MODEL_IDS)) == len(CLINIC_MODEL_IDS)


def test_same_seed_same_data_other_seed_other_examples():
    a, b, c = load_clinic(0), load_clinic(0), load_clinic(1)
    for split in CLINIC_SPLITS:
        np.testing.assert_array_equal(a.labels[split], b.labels[split])
        np.testing.assert_array_equal(a.order_matters[split], b.order_matters[split])
        assert not np.array_equal(a.labels[split], c.labels[split])
        for m in CLINIC_MODEL_IDS:
            np.testing.assert_array_equal(a.models[m].predictions[split], b.models[m].predictions[split])
    for m in CLINIC_MODEL_IDS:
        np.testing.assert_array_equal(a.models[m].history["val_loss"], b.models[m].history["val_loss"])


@pytest.mark.parametrize("seed", SEEDS)
def test_shapes_types_and_read_only(seed):
    clinic = load_clinic(seed)
    assert clinic.model_ids == CLINIC_MODEL_IDS
    for split in CLINIC_SPLITS:
        y, order = clinic.labels[split], clinic.order_matters[split]
        assert y.ndim == 1 and y.dtype.kind == "i" and set(np.unique(y)) == {0, 1}
        assert order.shape == y.shape and order.dtype == bool and 0 < order.sum() < order.size
        # the order-dependent examples come in both orders: half of them positive
        assert y[order].mean() == pytest.approx(0.5)
        with pytest.raises(ValueError):
            y[0] = 1
        for m in CLINIC_MODEL_IDS:
            p = clinic.models[m].predictions[split]
            assert p.shape == y.shape and set(np.unique(p)) <= {0, 1}
            with pytest.raises(ValueError):
                p[0] = 1
    for m in CLINIC_MODEL_IDS:
        h = clinic.models[m].history
        assert h["train_loss"].shape == h["val_loss"].shape == (30,)
        assert np.all(np.isfinite(h["val_loss"])) and np.all(h["val_loss"] > 0)


def test_imbalanced_like_the_paradox_needs():
    y = load_clinic(0).labels["test"]
    assert 0.03 < y.mean() < 0.1  # rare positives: the always-negative baseline is above 90 %


@pytest.mark.parametrize("seed", SEEDS)
def test_each_pitfall_belongs_to_exactly_one_model(seed):
    clinic = load_clinic(seed)
    train, val, test = (_table(clinic, s) for s in CLINIC_SPLITS)
    baseline = 1 - clinic.labels["test"].mean()  # accuracy of always predicting 0

    paradox = [m for m in CLINIC_MODEL_IDS if test[m]["accuracy"] > baseline and test[m]["recall"] < 0.5]
    leakage = [m for m in CLINIC_MODEL_IDS if val[m]["accuracy"] - test[m]["accuracy"] > 0.05]
    overfit = [
        m
        for m in CLINIC_MODEL_IDS
        if train[m]["accuracy"] - val[m]["accuracy"] > 0.05 and abs(val[m]["accuracy"] - test[m]["accuracy"]) < 0.02
    ]
    order = clinic.order_matters["test"]
    y = clinic.labels["test"]
    blind = [
        m
        for m in CLINIC_MODEL_IDS
        if abs(accuracy_score(y[order], clinic.models[m].predictions["test"][order]) - 0.5) < 0.05
        and accuracy_score(y[~order], clinic.models[m].predictions["test"][~order]) > 0.9
    ]
    assert (paradox, leakage, overfit, blind) == (["kestrel"], ["heron"], ["osprey"], ["plover"])

    # the overfit model's validation loss bottoms out early; the others' do not turn up
    best = {m: int(np.argmin(clinic.models[m].history["val_loss"])) + 1 for m in CLINIC_MODEL_IDS}
    assert best["osprey"] < 12
    hist = clinic.models["osprey"].history
    assert hist["val_loss"][-1] > 2 * hist["val_loss"].min() and hist["train_loss"][-1] < 0.05


@pytest.mark.parametrize("seed", SEEDS)
def test_deployment_choices(seed):
    clinic = load_clinic(seed)
    test, val = _table(clinic, "test"), _table(clinic, "val")

    def choose(table, must, at_least, then_max):
        ok = [m for m in CLINIC_MODEL_IDS if table[m][must] >= at_least]
        return max(ok, key=lambda m: table[m][then_max])

    assert choose(test, "precision", 0.95, "recall") == "wren"  # spam filter: precision first
    assert choose(test, "recall", 0.95, "precision") == "finch"  # screening: recall first
    # the traps the lesson shows: a single metric alone, or the leaky validation numbers
    assert max(CLINIC_MODEL_IDS, key=lambda m: test[m]["precision"]) == "kestrel"
    assert max(CLINIC_MODEL_IDS, key=lambda m: test[m]["recall"]) == "robin"
    assert choose(val, "precision", 0.95, "recall") == "heron"


@pytest.mark.parametrize("bad", [-1, 1.5, "0", None, True])
def test_bad_seed_is_refused(bad):
    with pytest.raises(TypeError, match="seed"):
        load_clinic(bad)


# ------------------------------------------------------------------------- issue 11: the references and the protocol


def test_reference_diagnosis_names_each_pitfall_once():
    from utils.data.clinic import diagnose_clinic

    for seed in (0, 3, 8):
        found = diagnose_clinic(load_clinic(seed))
        assert sorted(v for v in found.values() if v != "none") == sorted(p for p in CLINIC_PITFALLS if p != "none")


def test_the_diagnosis_is_a_table_of_rules_whose_thresholds_are_named_once(monkeypatch):
    """The rules come in CLINIC_PITFALLS' order, their words quote the thresholds, and the thresholds decide."""
    from utils.data import clinic as cm
    from utils.evaluation import BAD_BELOW

    assert [pitfall for pitfall, _, _ in cm.DIAGNOSIS_RULES] + ["none"] == list(CLINIC_PITFALLS)
    assert cm.DIAGNOSIS_THRESHOLDS["bad_recall"] == BAD_BELOW
    signs = cm.diagnosis_signs()
    assert signs["accuracy_paradox"].endswith("test recall below 0.5")
    assert signs["overfitting"].count("0.05") == 2 and "0.9" in signs["ignores_order"]
    clinic = load_clinic(0)
    assert cm.diagnose_clinic(clinic)["heron"] == "leakage"
    monkeypatch.setitem(cm.DIAGNOSIS_THRESHOLDS, "agree_within", 0.6)  # every gap now counts as agreement
    assert "leakage" not in cm.diagnose_clinic(clinic).values()


def test_sealed_test_split_refuses_every_read_and_choices_read_validation_only():
    import pytest

    from utils.data.clinic import SplitSealedError, deployments_on_validation, diagnose_clinic, seal_split

    clinic = load_clinic(0)
    sealed = seal_split(clinic, "test")
    reads = [
        lambda: sealed.labels["test"],
        lambda: sealed.labels.get("test"),
        lambda: np.asarray(dict.__getitem__(sealed.labels, "test")),
        lambda: sealed.models["wren"].predictions["test"],
        lambda: sealed.order_matters["test"],
        lambda: dict.__getitem__(sealed.labels, "test") == 1,
    ]
    for read in reads:
        with pytest.raises(SplitSealedError, match="made on validation data"):
            read()
    np.testing.assert_array_equal(sealed.labels["val"], clinic.labels["val"])
    assert "test=sealed" in repr(sealed)
    diagnosis = diagnose_clinic(clinic)
    chosen = deployments_on_validation(sealed, diagnosis)  # reads no test data
    assert chosen == deployments_on_validation(clinic, diagnosis)
    leaky = [m for m, d in diagnosis.items() if d == "leakage"]
    assert leaky and not set(leaky) & set(chosen.values())
