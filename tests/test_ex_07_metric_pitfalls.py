"""Exercise tests of 07_metric_pitfalls: right answers pass, typical wrong ones fail and teach.

The diagnoses and deployment choices are graded from computed metrics: a
hard-coded answer that is right on the visible clinic must fail the hidden
tests, which rename and reorder the models.
"""

from __future__ import annotations

from tests.exercise_support import by_exercise, exercise_tests

STEM = "07_metric_pitfalls"
EXERCISES = ["model_report", "accuracy_on", "best_epoch", "choose_model", "diagnose", "choose_deployments"]


_REPORT_BODY = """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    tp = np.sum((y_true == 1) & (y_pred == 1)); fp = np.sum((y_true == 0) & (y_pred == 1))
    fn = np.sum((y_true == 1) & (y_pred == 0))
"""

WRONG = by_exercise(
    {
        "model_report": [
            (
                "utils.metrics does it (issue 11)",
                """
from utils import metrics
def model_report(y_true, y_pred):
    return {"accuracy": metrics.accuracy_score(y_true, y_pred),
            "precision": metrics.precision_score(y_true, y_pred, zero_division=0),
            "recall": metrics.recall_score(y_true, y_pred, zero_division=0),
            "f1": metrics.f1_score(y_true, y_pred, zero_division=0)}
""",
                ["write it yourself", "utils.metrics", "np.sum((y_true == 1) & (y_pred == 1))"],
            ),
            (
                "precision and recall swapped",
                "def model_report(y_true, y_pred):"
                + _REPORT_BODY
                + """
    p, r = tp / (tp + fn), tp / (tp + fp)
    return {"accuracy": np.mean(y_true == y_pred), "precision": p, "recall": r, "f1": 2 * p * r / (p + r)}
""",
                ["precision and recall look swapped"],
            ),
            (
                "F1 as arithmetic mean",
                "def model_report(y_true, y_pred):"
                + _REPORT_BODY
                + """
    p, r = tp / (tp + fp), tp / (tp + fn)
    return {"accuracy": np.mean(y_true == y_pred), "precision": p, "recall": r, "f1": (p + r) / 2}
""",
                ["harmonic mean"],
            ),
            (
                "NaN where a ratio is 0/0",
                "def model_report(y_true, y_pred):"
                + _REPORT_BODY
                + """
    with np.errstate(all="ignore"):
        p, r = tp / (tp + fp), tp / (tp + fn)
        return {"accuracy": np.mean(y_true == y_pred), "precision": p, "recall": r, "f1": 2 * p * r / (p + r)}
""",
                ["never predicts 1", "0.0"],
            ),
            (
                "a key missing",
                "def model_report(y_true, y_pred):"
                + _REPORT_BODY
                + """
    return {"accuracy": np.mean(y_true == y_pred), "precision": tp / (tp + fp), "recall": tp / (tp + fn)}
""",
                ["should have the keys", "f1"],
            ),
        ],
        "accuracy_on": [
            (
                "utils.metrics does it (issue 11)",
                """
def accuracy_on(y_true, y_pred, where):
    from utils.metrics import accuracy_score
    w = np.asarray(where, dtype=bool)
    return accuracy_score(np.asarray(y_true)[w], np.asarray(y_pred)[w])
""",
                ["write it yourself", "utils.metrics.accuracy_score"],
            ),
            (
                "ignores where",
                """
def accuracy_on(y_true, y_pred, where):
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))
""",
                ["keep only those where"],
            ),
            (
                "the complement",
                """
def accuracy_on(y_true, y_pred, where):
    keep = ~np.asarray(where, dtype=bool)
    return float(np.mean(np.asarray(y_true)[keep] == np.asarray(y_pred)[keep]))
""",
                ["you measured the other examples"],
            ),
            (
                "divides by all examples",
                """
def accuracy_on(y_true, y_pred, where):
    where = np.asarray(where, dtype=bool)
    return float(np.sum((np.asarray(y_true) == np.asarray(y_pred)) & where) / where.size)
""",
                ["divided by the number of all examples"],
            ),
        ],
        "best_epoch": [
            (
                "the course's reference does it (issue 11)",
                """
def best_epoch(history):
    from utils.evaluation import best_epoch as ref
    return ref(history)
""",
                ["write it yourself", "utils.evaluation"],
            ),
            (
                "counted from 0",
                """
def best_epoch(history):
    return int(np.argmin(history["val_loss"]))
""",
                ["counted epochs from 0"],
            ),
            (
                "training loss",
                """
def best_epoch(history):
    return int(np.argmin(history["train_loss"])) + 1
""",
                ["early stopping watches the validation loss"],
            ),
            (
                "highest loss",
                """
def best_epoch(history):
    return int(np.argmax(history["val_loss"])) + 1
""",
                ["look for the lowest"],
            ),
            (
                "latest epoch on a tie",
                """
def best_epoch(history):
    v = list(history["val_loss"])
    return len(v) - v[::-1].index(min(v))
""",
                ["earliest epoch"],
            ),
        ],
        "choose_model": [
            (
                "the course's reference does it (issue 11)",
                """
from utils.data.clinic import deployments_on_validation
def choose_model(reports, must, at_least, then_max):
    ok = [m for m in reports if reports[m][must] >= at_least]
    if not ok:
        raise ValueError("no model meets the requirement")
    return max(ok, key=lambda m: reports[m][then_max]) if deployments_on_validation else None
""",
                ["write it yourself", "deployments_on_validation"],
            ),
            (
                "ignores the requirement",
                """
def choose_model(reports, must, at_least, then_max):
    return max(reports, key=lambda m: reports[m][then_max])
""",
                ["you ignored the requirement"],
            ),
            (
                "maximises the required metric",
                """
def choose_model(reports, must, at_least, then_max):
    return max(reports, key=lambda m: reports[m][must])
""",
                ["the requirement is a floor"],
            ),
            (
                "returns None when nothing qualifies",
                """
def choose_model(reports, must, at_least, then_max):
    ok = [m for m in reports if reports[m][must] >= at_least]
    return max(ok, key=lambda m: reports[m][then_max]) if ok else None
""",
                ["should raise ValueError", "raise ValueError when no model meets the requirement"],
            ),
            (
                "strict inequality",
                """
def choose_model(reports, must, at_least, then_max):
    ok = [m for m in reports if reports[m][must] > at_least]
    if not ok:
        raise ValueError("none")
    return max(ok, key=lambda m: reports[m][then_max])
""",
                ["use >="],
            ),
        ],
        "diagnose": [
            (
                "the course's reference does it (issue 11)",
                """
import utils.data.clinic as reference
def diagnose(clinic):
    return reference.diagnose_clinic(clinic)
""",
                ["write it yourself", "reference.diagnose_clinic"],
            ),
            (
                "typed-in answer (right on the visible clinic)",
                """
def diagnose(clinic):
    return {"kestrel": "accuracy_paradox", "heron": "leakage", "osprey": "overfitting", "plover": "ignores_order",
            "wren": "none", "finch": "none", "lark": "none", "robin": "none"}
""",
                ["renamed", "do not type the names in"],
            ),
            (
                "accuracy alone: the paradox goes unseen",
                """
def diagnose(clinic):
    out = {}
    for m, model in clinic.models.items():
        acc = {s: model_report(clinic.labels[s], model.predictions[s])["accuracy"] for s in ("train", "val", "test")}
        o = clinic.order_matters["test"]
        if acc["val"] - acc["test"] > 0.05:
            out[m] = "leakage"
        elif acc["train"] - acc["val"] > 0.05:
            out[m] = "overfitting"
        elif abs(accuracy_on(clinic.labels["test"], model.predictions["test"], o) - 0.5) <= 0.05:
            out[m] = "ignores_order"
        else:
            out[m] = "none"
    return out
""",
                ["'kestrel'", "is not the best answer", "test recall 0.250"],
            ),
            (
                "leakage and overfitting swapped",
                """
def diagnose(clinic):
    out = {}
    y, o = clinic.labels["test"], clinic.order_matters["test"]
    for m, model in clinic.models.items():
        acc = {s: model_report(clinic.labels[s], model.predictions[s])["accuracy"] for s in ("train", "val", "test")}
        rep = model_report(y, model.predictions["test"])
        if rep["accuracy"] >= np.mean(y == 0) and rep["recall"] < 0.5:
            out[m] = "accuracy_paradox"
        elif acc["val"] - acc["test"] > 0.05:
            out[m] = "overfitting"
        elif acc["train"] - acc["val"] > 0.05:
            out[m] = "leakage"
        elif abs(accuracy_on(y, model.predictions["test"], o) - 0.5) <= 0.05:
            out[m] = "ignores_order"
        else:
            out[m] = "none"
    return out
""",
                ["'heron'", "train/val/test accuracy"],
            ),
            (
                "every model is fine",
                """
def diagnose(clinic):
    return {m: "none" for m in clinic.models}
""",
                ["is not the best answer", "Compare them with the signs"],
            ),
            (
                "a name that is not a pitfall",
                """
def diagnose(clinic):
    return {m: "data leakage" for m in clinic.models}
""",
                ["is not one of the options"],
            ),
        ],
        "choose_deployments": [
            (
                "chosen on the test split (issue 11: the protocol)",
                """
def choose_deployments(clinic, diagnosis):
    reports = {m: model_report(clinic.labels["test"], x.predictions["test"]) for m, x in clinic.models.items()}
    return {"spam_filter": choose_model(reports, "precision", 0.95, "recall"),
            "screening": choose_model(reports, "recall", 0.95, "precision")}
""",
                ["read the test split", "choices (models, thresholds, epochs) are made on validation data"],
            ),
            (
                "leaky model kept",
                """
def choose_deployments(clinic, diagnosis):
    reports = {m: model_report(clinic.labels["val"], x.predictions["val"]) for m, x in clinic.models.items()}
    return {"spam_filter": choose_model(reports, "precision", 0.95, "recall"),
            "screening": choose_model(reports, "recall", 0.95, "precision")}
""",
                ["'heron' is not the best answer", "diagnosed 'leakage'", "Leave the leaky models out"],
            ),
            (
                "highest precision / highest recall alone",
                """
def choose_deployments(clinic, diagnosis):
    reports = {m: model_report(clinic.labels["val"], x.predictions["val"]) for m, x in clinic.models.items()
               if diagnosis[m] != "leakage"}
    return {"spam_filter": max(reports, key=lambda m: reports[m]["precision"]),
            "screening": max(reports, key=lambda m: reports[m]["recall"])}
""",
                ["'kestrel' is not the best answer", "then the highest recall"],
            ),
            (
                "requirements swapped between the uses",
                """
def choose_deployments(clinic, diagnosis):
    reports = {m: model_report(clinic.labels["val"], x.predictions["val"]) for m, x in clinic.models.items()
               if diagnosis[m] != "leakage"}
    return {"spam_filter": choose_model(reports, "recall", 0.95, "precision"),
            "screening": choose_model(reports, "precision", 0.95, "recall")}
""",
                ["'finch' is not the best answer", "precision >= 0.95"],
            ),
            (
                "typed-in answer (right on the visible clinic)",
                """
def choose_deployments(clinic, diagnosis):
    return {"spam_filter": "wren", "screening": "finch"}
""",
                ["renamed"],
            ),
            (
                "the course's reference does it",
                """
from utils.data.clinic import deployments_on_validation
def choose_deployments(clinic, diagnosis):
    return deployments_on_validation(clinic, diagnosis)
""",
                ["write it yourself", "deployments_on_validation"],
            ),
        ],
    }
)


def test_typed_in_answers_pass_the_visible_tests_but_not_the_hidden_ones(nb):
    # the visible cell is a fair check for self-learners; only the hidden checks catch a typed answer
    for name in ("diagnose", "choose_deployments"):
        source = next(
            src for (exercise, label), (src, _) in WRONG.items() if exercise == name and label.startswith("typed-in")
        )
        results = nb.check(name, source)
        (result,) = results.values()
        assert not result.passed and "renamed" in result.message
        visible = nb.tests[name][0].source.split("### BEGIN HIDDEN TESTS")[0]
        namespace = dict(nb.namespace)
        exec(source, namespace)
        exec(visible, namespace)  # raises if the visible part failed


RIGHT = by_exercise(
    {
        "model_report": [
            (
                "python counting, numpy floats",
                """
def model_report(y_true, y_pred):
    pairs = list(zip(list(y_true), list(y_pred)))
    tp = sum(1 for a, p in pairs if a == 1 and p == 1)
    fp = sum(1 for a, p in pairs if a == 0 and p == 1)
    fn = sum(1 for a, p in pairs if a == 1 and p == 0)
    acc = np.float64(sum(1 for a, p in pairs if a == p) / len(pairs))
    prec = np.float64(tp / (tp + fp)) if tp + fp > 0 else np.float64(0)
    rec = np.float64(tp / (tp + fn)) if tp + fn > 0 else np.float64(0)
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else 0.0
    return dict(accuracy=acc, precision=prec, recall=rec, f1=f1, support=tp + fn)
""",
            ),
            (
                "confusion matrix with bincount",
                """
def model_report(y_true, y_pred):
    cm = np.bincount(2 * np.asarray(y_true) + np.asarray(y_pred), minlength=4).reshape(2, 2)
    (tn, fp), (fn, tp) = cm
    safe = lambda a, b: a / b if b else 0.0
    p, r = safe(tp, tp + fp), safe(tp, tp + fn)
    return {"accuracy": (tp + tn) / cm.sum(), "precision": p, "recall": r, "f1": safe(2 * p * r, p + r)}
""",
            ),
        ],
        "accuracy_on": [
            (
                "python loop",
                """
def accuracy_on(y_true, y_pred, where):
    kept = [a == p for a, p, w in zip(y_true, y_pred, where) if w]
    return sum(kept) / len(kept)
""",
            ),
            (
                "boolean weights",
                """
def accuracy_on(y_true, y_pred, where):
    return np.average(np.equal(y_true, y_pred), weights=np.asarray(where, dtype=float))
""",
            ),
        ],
        "best_epoch": [
            (
                "python min and index",
                """
def best_epoch(history):
    losses = list(history["val_loss"])
    return losses.index(min(losses)) + 1
""",
            ),
            (
                "numpy integer, loop",
                """
def best_epoch(history):
    best, best_loss = 0, np.inf
    for i, loss in enumerate(history["val_loss"]):
        if loss < best_loss:
            best, best_loss = i, loss
    return np.int64(best + 1)
""",
            ),
        ],
        "choose_model": [
            (
                "loop",
                """
def choose_model(reports, must, at_least, then_max):
    best = None
    for model_id, rep in reports.items():
        if rep[must] >= at_least and (best is None or rep[then_max] > reports[best][then_max]):
            best = model_id
    if best is None:
        raise ValueError(f"nothing reaches {must} >= {at_least}")
    return best
""",
            ),
            (
                "sorted, stable",
                """
def choose_model(reports, must, at_least, then_max):
    ranked = sorted((m for m in reports if reports[m][must] >= at_least), key=lambda m: -reports[m][then_max])
    if not ranked:
        raise ValueError("no model meets the requirement")
    return ranked[0]
""",
            ),
        ],
        "diagnose": [
            (
                "with utils.metrics",
                """
def diagnose(clinic):
    from utils.metrics import accuracy_score, recall_score
    y, o = clinic.labels["test"], clinic.order_matters["test"]
    result = {}
    for m in clinic.model_ids:
        pred = clinic.models[m].predictions
        tr, va, te = (accuracy_score(clinic.labels[s], pred[s]) for s in ("train", "val", "test"))
        if te >= accuracy_score(y, np.zeros_like(y)) and recall_score(y, pred["test"]) < 0.5:
            result[m] = "accuracy_paradox"
        elif va - te > 0.05:
            result[m] = "leakage"
        elif tr - va > 0.05 and abs(va - te) <= 0.05:
            result[m] = "overfitting"
        elif abs(accuracy_score(y[o], pred["test"][o]) - 0.5) <= 0.05 and accuracy_score(y[~o], pred["test"][~o]) > 0.9:
            result[m] = "ignores_order"
        else:
            result[m] = "none"
    return result
""",
            ),
            (
                "checks in another order, list of pairs",
                """
def diagnose(clinic):
    y, o = clinic.labels["test"], clinic.order_matters["test"]
    pairs = []
    for m, model in clinic.models.items():
        a = {s: accuracy_on(clinic.labels[s], model.predictions[s], np.ones(len(clinic.labels[s]), bool))
             for s in ("train", "val", "test")}
        blind = abs(accuracy_on(y, model.predictions["test"], o) - 0.5) <= 0.05 and \\
            accuracy_on(y, model.predictions["test"], ~o) > 0.9
        paradox = a["test"] >= 1 - y.mean() and model_report(y, model.predictions["test"])["recall"] < 0.5
        name = ("ignores_order" if blind and not paradox else "accuracy_paradox" if paradox
                else "leakage" if a["val"] > a["test"] + 0.05
                else "overfitting" if a["train"] > a["val"] + 0.05 else "none")
        pairs.append((m, name))
    return dict(pairs)
""",
            ),
        ],
        "choose_deployments": [
            (
                "utils.metrics and a loop",
                """
def choose_deployments(clinic, diagnosis):
    from utils.metrics import precision_score, recall_score
    y = clinic.labels["val"]
    trusted = [m for m in clinic.model_ids if diagnosis[m] != "leakage"]
    p = {m: precision_score(y, clinic.models[m].predictions["val"], zero_division=0) for m in trusted}
    r = {m: recall_score(y, clinic.models[m].predictions["val"], zero_division=0) for m in trusted}
    spam = max((m for m in p if p[m] >= 0.95), key=r.get)
    screen = max((m for m in r if r[m] >= 0.95), key=p.get)
    return dict(spam_filter=spam, screening=screen)
""",
            ),
            (
                "reuses choose_model with numpy floats",
                """
def choose_deployments(clinic, diagnosis):
    y = clinic.labels["val"]
    reports = {}
    for m in clinic.model_ids:
        if diagnosis.get(m) == "leakage":
            continue
        rep = model_report(y, clinic.models[m].predictions["val"])
        reports[m] = {k: np.float64(v) for k, v in rep.items()}
    answer = {}
    answer["screening"] = choose_model(reports, "recall", 0.95, "precision")
    answer["spam_filter"] = choose_model(reports, "precision", 0.95, "recall")
    return answer
""",
            ),
        ],
    }
)

# the nb fixture and the shared tests (tests/exercise_support.py)
# the WRONG variants that no visible case can catch, and why
HIDDEN_ONLY = {
    (
        "diagnose",
        "typed-in answer (right on the visible clinic)",
    ): "right on the visible clinic by construction; the hidden clinics rename and reorder the models",
    (
        "choose_deployments",
        "typed-in answer (right on the visible clinic)",
    ): "right on the visible clinic by construction; the hidden clinics rename and reorder the models",
}

globals().update(exercise_tests(STEM, EXERCISES, WRONG, RIGHT, stub_error_in_message=True, hidden_only=HIDDEN_ONLY))
