"""Topic 07, the metric clinic: saved predictions of several models.

Eight models were trained on the same binary task: flag a message (label 1)
among many ordinary ones (label 0); about 6 % of the messages are positive.
For each model we kept its hard predictions (0/1) on three splits that share
one set of labels:

- ``train``: the data it was fitted on,
- ``val``:   the validation split used while developing it,
- ``test``:  a fresh test set collected later, never seen during development,

plus its learning curves (``train_loss`` and ``val_loss`` per epoch). In a
small part of every split (``order_matters``) both key tokens of the task
occur and only their *order* decides the label; a model that pools its inputs
without regard to order can only guess there.

Some models hide a metric pitfall (the accuracy paradox, leakage, overfitting,
ignoring order); some are sound candidates to deploy, with different
precision/recall trade-offs. The model ids are neutral on purpose: the lesson
and the exercises find out which is which from the metrics, never from a name.

Everything is generated from a seed; the same seed gives the same arrays on
every machine. Counts (true positives, false positives, ...) are fixed by
design, so every seed tells the same story with different examples::

    from utils.data import load_clinic
    clinic = load_clinic(seed=0)
    clinic.model_ids                       # ('kestrel', 'heron', ...)
    m = clinic.models["heron"]
    m.predictions["test"], clinic.labels["test"], clinic.order_matters["test"]
    m.history["val_loss"]                  # one value per epoch
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np

from ..evaluation import BAD_BELOW

__all__ = [
    "CLINIC_MODEL_IDS",
    "CLINIC_PITFALLS",
    "CLINIC_SPLITS",
    "ClinicModel",
    "Clinic",
    "load_clinic",
]

#: The models of the clinic, in the order they are presented.
CLINIC_MODEL_IDS = ("kestrel", "heron", "osprey", "plover", "wren", "finch", "lark", "robin")

#: The names a diagnosis may use ("none": nothing wrong with how it was measured).
CLINIC_PITFALLS = ("accuracy_paradox", "leakage", "overfitting", "ignores_order", "none")

#: The splits every model has predictions for.
CLINIC_SPLITS = ("train", "val", "test")

# Split sizes: (examples, positives among them, order-dependent examples,
# positives among the order-dependent ones).
_SIZES = {
    "train": (3000, 180, 180, 90),
    "val": (1000, 60, 60, 30),
    "test": (2000, 120, 120, 60),
}

_EPOCHS = 30


class _ModelSpec(TypedDict):
    rates: dict[str, tuple[float, float]]  # split -> (recall, false-positive rate)
    order: str
    curve: str
    description: str


# How each model behaves on each split, on the examples where order does not
# matter: (recall, false-positive rate). On the order-dependent examples a
# model either behaves the same way ("same") or guesses ("guess": exactly half
# of them right, whatever their label).
_SPEC: dict[str, _ModelSpec] = {
    # predicts "positive" very rarely, so its accuracy sits above the
    # always-negative baseline while it misses most positives
    "kestrel": {
        "rates": {"train": (0.26, 0.0), "val": (0.25, 0.0), "test": (0.25, 0.0)},
        "order": "same",
        "curve": "plateau",
        "description": "logistic regression on token counts, class weights left at 1",
    },
    # near perfect on train and validation, much worse on fresh data
    "heron": {
        "rates": {"train": (0.99, 0.003), "val": (0.983, 0.002), "test": (0.55, 0.08)},
        "order": "same",
        "curve": "leaky",
        "description": "GRU, 64 units; validation messages sampled from the training pool",
    },
    # memorises the training set; validation and test agree, both lower
    "osprey": {
        "rates": {"train": (1.0, 0.0), "val": (0.6, 0.12), "test": (0.6, 0.12)},
        "order": "same",
        "curve": "overfit",
        "description": "two-layer LSTM, 512 units, trained 30 epochs without early stopping",
    },
    # fine wherever the tokens alone decide, guesses where only the order does
    "plover": {
        "rates": {"train": (0.96, 0.02), "val": (0.95, 0.02), "test": (0.95, 0.02)},
        "order": "guess",
        "curve": "healthy",
        "description": "mean of token embeddings followed by a dense layer",
    },
    # precise: almost never flags an ordinary message, finds three in four positives
    "wren": {
        "rates": {"train": (0.77, 0.002), "val": (0.75, 0.002), "test": (0.75, 0.0016)},
        "order": "same",
        "curve": "healthy",
        "description": "GRU, 32 units, early stopping, decision threshold 0.8",
    },
    # sensitive: misses almost nothing, pays with false alarms
    "finch": {
        "rates": {"train": (0.98, 0.03), "val": (0.967, 0.032), "test": (0.975, 0.032)},
        "order": "same",
        "curve": "healthy",
        "description": "GRU, 32 units, early stopping, decision threshold 0.2",
    },
    # balanced, good F1, but meets neither strict requirement
    "lark": {
        "rates": {"train": (0.91, 0.006), "val": (0.9, 0.006), "test": (0.9, 0.0055)},
        "order": "same",
        "curve": "healthy",
        "description": "GRU, 32 units, early stopping, decision threshold 0.5",
    },
    # flags a quarter of everything: full recall, poor precision
    "robin": {
        "rates": {"train": (1.0, 0.25), "val": (1.0, 0.25), "test": (1.0, 0.25)},
        "order": "same",
        "curve": "healthy",
        "description": "GRU, 8 units, decision threshold 0.05",
    },
}


@dataclass(frozen=True)
class ClinicModel:
    """The saved results of one model: predictions per split and learning curves."""

    model_id: str
    description: str
    predictions: dict  # split -> (n,) int 0/1
    history: dict  # "train_loss", "val_loss" -> (epochs,)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={_size(p)}" for s, p in dict.items(self.predictions))
        epochs = len(self.history["val_loss"])
        return f"ClinicModel({self.model_id!r}: {self.description}; predictions {sizes}; {epochs} epochs)"


@dataclass(frozen=True)
class Clinic:
    """Shared labels and order flags per split, and the saved results of every model."""

    seed: int
    labels: dict  # split -> (n,) int 0/1
    order_matters: dict  # split -> (n,) bool
    models: dict = field(repr=False)  # model id -> ClinicModel

    @property
    def model_ids(self) -> tuple[str, ...]:
        return tuple(self.models)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={_size(y)}" for s, y in dict.items(self.labels))
        return f"Clinic(seed={self.seed}, splits {sizes}, models {list(self.models)})"


def _size(arr) -> str:
    return "sealed" if isinstance(arr, _Sealed) else str(len(arr))


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)  # saved predictions: nobody changes them by accident
    return arr


def _labels(rng: np.random.Generator, split: str) -> tuple[np.ndarray, np.ndarray]:
    n, positives, n_order, order_positives = _SIZES[split]
    y = np.zeros(n, dtype=np.int64)
    order = np.zeros(n, dtype=bool)
    # order-dependent block first, then the rest, then shuffle everything together
    y[:order_positives] = 1
    order[:n_order] = True
    y[n_order : n_order + positives - order_positives] = 1
    perm = rng.permutation(n)
    return y[perm], order[perm]


def _pick(rng: np.random.Generator, idx: np.ndarray, count: int) -> np.ndarray:
    return rng.choice(idx, size=count, replace=False) if count else idx[:0]


def _predictions(rng, y, order, recall, fpr, order_mode) -> np.ndarray:
    """Predictions with exactly the stated counts (rounded) in each group."""
    pred = np.zeros_like(y)
    groups = [(~order, "same"), (order, order_mode)]
    for in_group, mode in groups:
        pos = np.flatnonzero(in_group & (y == 1))
        neg = np.flatnonzero(in_group & (y == 0))
        if mode == "guess":
            tp, fp = len(pos) // 2, len(neg) - len(neg) // 2  # exactly half of them right
        else:
            tp, fp = int(round(recall * len(pos))), int(round(fpr * len(neg)))
        pred[_pick(rng, pos, tp)] = 1
        pred[_pick(rng, neg, fp)] = 1
    return pred


def _history(rng: np.random.Generator, kind: str) -> dict[str, np.ndarray]:
    epoch = np.arange(1, _EPOCHS + 1, dtype=np.float64)
    noise = lambda scale: rng.normal(0.0, scale, size=_EPOCHS)
    if kind == "plateau":
        train = 0.20 + 0.10 * np.exp(-epoch / 3)
        val = train + 0.005
    elif kind == "leaky":  # validation is (partly) training data: the curves stick together
        train = 0.02 + 0.5 * np.exp(-epoch / 5)
        val = train + 0.004
    elif kind == "overfit":  # validation loss bottoms out early, then climbs
        train = 0.005 + 0.6 * np.exp(-epoch / 4)
        val = 0.30 + 0.35 * np.exp(-epoch / 2.5) + 0.012 * np.maximum(epoch - 7, 0) ** 1.3
    else:  # healthy: both fall and flatten, a small steady gap
        train = 0.06 + 0.5 * np.exp(-epoch / 5)
        val = train + 0.03 * (1 - np.exp(-epoch / 5))
    train = np.clip(train + noise(0.002), 1e-4, None)
    val = np.clip(val + noise(0.002), 1e-4, None)
    return {"train_loss": _frozen(train), "val_loss": _frozen(val)}


def load_clinic(seed: int = 0) -> Clinic:
    """Generate the clinic's labels and saved predictions (deterministic in `seed`)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"`seed` should be a non-negative int, got {seed!r}")
    rng = np.random.default_rng([int(seed), 7])
    labels, order = {}, {}
    for split in CLINIC_SPLITS:
        y, o = _labels(rng, split)
        labels[split], order[split] = _frozen(y), _frozen(o)
    models = {}
    for model_id in CLINIC_MODEL_IDS:
        spec = _SPEC[model_id]
        preds = {
            split: _frozen(_predictions(rng, labels[split], order[split], *spec["rates"][split], spec["order"]))
            for split in CLINIC_SPLITS
        }
        models[model_id] = ClinicModel(
            model_id=model_id,
            description=spec["description"],
            predictions=preds,
            history=_history(rng, spec["curve"]),
        )
    return Clinic(
        seed=int(seed),
        labels=labels,
        order_matters=order,
        models=models,
    )


# ----------------------------------------------------------------------------
# the course's references for topic 07 (what the graded tests compare with)
# ----------------------------------------------------------------------------

__all__ += [
    "clinic_scores",
    "diagnose_clinic",
    "diagnosis_signs",
    "clinic_evidence",
    "deployments_on_validation",
    "seal_split",
    "SplitSealedError",
    "DEPLOYMENT_REQUIREMENTS",
    "DIAGNOSIS_THRESHOLDS",
    "DIAGNOSIS_RULES",
]

#: use -> (metric that must reach the floor, floor, metric to maximise then)
DEPLOYMENT_REQUIREMENTS = {"spam_filter": ("precision", 0.95, "recall"), "screening": ("recall", 0.95, "precision")}


def clinic_scores(clinic: Clinic, split: str) -> dict:
    """model id -> accuracy, precision, recall and F1 of class 1 on `split` (utils.metrics, zero_division=0)."""
    from .. import metrics

    y = clinic.labels[split]
    out = {}
    for model_id, model in clinic.models.items():
        pred = model.predictions[split]
        out[model_id] = {
            "accuracy": float(metrics.accuracy_score(y, pred)),
            "precision": float(metrics.precision_score(y, pred, zero_division=0)),
            "recall": float(metrics.recall_score(y, pred, zero_division=0)),
            "f1": float(metrics.f1_score(y, pred, zero_division=0)),
        }
    return out


def _signs(clinic: Clinic) -> dict:
    from .. import metrics

    scores = {split: clinic_scores(clinic, split) for split in CLINIC_SPLITS}
    y, order = clinic.labels["test"], clinic.order_matters["test"]
    baseline = float(np.mean(y == 0))  # accuracy of always answering 0
    out = {}
    for m, model in clinic.models.items():
        pred = model.predictions["test"]
        acc = {s: scores[s][m]["accuracy"] for s in CLINIC_SPLITS}
        on_order = float(metrics.accuracy_score(y[order], pred[order]))
        elsewhere = float(metrics.accuracy_score(y[~order], pred[~order]))
        out[m] = {
            "accuracy": acc,
            "recall": scores["test"][m]["recall"],
            "baseline": baseline,
            "order": on_order,
            "elsewhere": elsewhere,
        }
    return out


def _gap(s: dict, a: str, b: str) -> float:
    """How far accuracy on split `a` lies above accuracy on split `b` (negative when below)."""
    return s["accuracy"][a] - s["accuracy"][b]


#: Every threshold of topic 07's diagnosis, named once. The recall floor of the accuracy paradox is
#: utils.evaluation's BAD_BELOW: a model that finds fewer than half of the positives is bad.
DIAGNOSIS_THRESHOLDS = {
    "bad_recall": BAD_BELOW,  # the accuracy paradox: test recall below this
    "agree_within": 0.05,  # two accuracies this close agree; further apart, the higher one is suspect
    "coin": 0.5,  # a guess between two labels
    "good_elsewhere": 0.9,  # accuracy where the words alone decide, for a model that only ignores order
}

#: The diagnosis as a table: (pitfall, its sign in words, the test of that sign on a model's numbers
#: from `_signs` and the thresholds). Checked in this order; a model gets the first pitfall whose sign
#: it shows, and "none" when it shows none of them (the exercise's table says the same).
DIAGNOSIS_RULES = (
    (
        "accuracy_paradox",
        "test accuracy at least that of always answering 0, yet test recall below {bad_recall}",
        lambda s, t: s["accuracy"]["test"] >= s["baseline"] and s["recall"] < t["bad_recall"],
    ),
    (
        "leakage",
        "validation accuracy more than {agree_within} above test accuracy",
        lambda s, t: _gap(s, "val", "test") > t["agree_within"],
    ),
    (
        "overfitting",
        "training accuracy more than {agree_within} above validation accuracy, while validation "
        "and test agree (within {agree_within})",
        lambda s, t: _gap(s, "train", "val") > t["agree_within"] and abs(_gap(s, "val", "test")) <= t["agree_within"],
    ),
    (
        "ignores_order",
        "test accuracy within {agree_within} of a coin's {coin} where only the order decides, "
        "above {good_elsewhere} elsewhere",
        lambda s, t: abs(s["order"] - t["coin"]) <= t["agree_within"] and s["elsewhere"] > t["good_elsewhere"],
    ),
)


def diagnosis_signs() -> dict:
    """pitfall -> its sign in words, with the thresholds of DIAGNOSIS_THRESHOLDS filled in."""
    return {pitfall: sign.format(**DIAGNOSIS_THRESHOLDS) for pitfall, sign, _ in DIAGNOSIS_RULES}


def diagnose_clinic(clinic: Clinic) -> dict:
    """The reference diagnosis of topic 07: model id -> one of CLINIC_PITFALLS, by DIAGNOSIS_RULES."""
    return {
        m: next((pitfall for pitfall, _, shows in DIAGNOSIS_RULES if shows(s, DIAGNOSIS_THRESHOLDS)), "none")
        for m, s in _signs(clinic).items()
    }


def clinic_evidence(clinic: Clinic) -> dict:
    """model id -> one line of the numbers behind its diagnosis (for feedback messages)."""
    return {
        m: (
            f"train/val/test accuracy {s['accuracy']['train']:.3f}/{s['accuracy']['val']:.3f}/"
            f"{s['accuracy']['test']:.3f} (always-0 baseline {s['baseline']:.3f}), test recall {s['recall']:.3f}, "
            f"test accuracy where order matters {s['order']:.3f} vs {s['elsewhere']:.3f} elsewhere"
        )
        for m, s in _signs(clinic).items()
    }


def deployments_on_validation(clinic: Clinic, diagnosis: dict, requirements: dict | None = None) -> dict:
    """The reference choice of topic 07: use -> model id, chosen on VALIDATION data only.

    Models whose validation data is compromised (diagnosed "leakage") are left
    out; among the others, the one that meets the floor and maximises the
    other metric on validation wins (the first on a tie). A use that no model
    can serve raises ValueError.
    """
    requirements = DEPLOYMENT_REQUIREMENTS if requirements is None else requirements
    val = clinic_scores(seal_split(clinic, "test"), "val")
    trusted = [m for m in clinic.models if diagnosis.get(m) != "leakage"]
    out = {}
    for use, (must, floor, then) in requirements.items():
        eligible = [m for m in trusted if val[m][must] >= floor]
        if not eligible:
            raise ValueError(f"no trusted model reaches {must} >= {floor} on validation for {use}")
        out[use] = max(eligible, key=lambda m: val[m][then])
    return out


class SplitSealedError(RuntimeError):
    """Raised when code reads a split that was sealed (the test split, while choices are being made)."""


class _Sealed:
    """Stands in for a sealed split's array: any use of it raises SplitSealedError."""

    def __init__(self, message: str):
        self._message = message

    def _refuse(self, *args, **kwargs):
        raise SplitSealedError(self._message)

    __array__ = __len__ = __iter__ = __getitem__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __and__ = __rand__ = _refuse
    __invert__ = __bool__ = __float__ = __int__ = __index__ = _refuse
    __hash__ = None  # type: ignore[assignment]  # unhashable, as numpy arrays are; typeshed wants a method

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        self._refuse()

    def __repr__(self) -> str:
        return "<sealed split>"


class _SealedSplits(dict):
    """A split -> array dict whose sealed split raises on every read."""

    def __init__(self, data: dict, split: str, message: str):
        super().__init__({k: (_Sealed(message) if k == split else v) for k, v in data.items()})
        self._split, self._message = split, message

    def __getitem__(self, key):
        if key == self._split:
            raise SplitSealedError(self._message)
        return super().__getitem__(key)

    def get(self, key, default=None):
        if key == self._split:
            raise SplitSealedError(self._message)
        return super().get(key, default)


def seal_split(clinic: Clinic, split: str = "test") -> Clinic:
    """A copy of `clinic` in which reading `split` (labels, order flags or any model's predictions) raises.

    The tests of topic 07 hand this to a choice: a choice that reads the test
    split fails, since choices are made on validation data and the test split
    is read once, at the end, to report.
    """
    from dataclasses import replace

    if split not in CLINIC_SPLITS:
        raise ValueError(f"`split` should be one of {CLINIC_SPLITS}, got {split!r}")
    message = (
        f"the {split!r} split was read while choosing: choices (models, thresholds, epochs) are made on "
        f"validation data; the {split} split is read once, at the end, to report the chosen models"
    )
    models = {
        m: replace(model, predictions=_SealedSplits(model.predictions, split, message))
        for m, model in clinic.models.items()
    }
    return replace(
        clinic,
        labels=_SealedSplits(clinic.labels, split, message),
        order_matters=_SealedSplits(clinic.order_matters, split, message),
        models=models,
    )
