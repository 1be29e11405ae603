"""Exercise tests of 05_sequence_classification_pytorch: its variants (the tests: tests/exercise_support.py).

Three exercises are framework-free (`evaluate`, `choose_threshold`,
`answer_pitfalls`) and graded the same way in both tracks: their variants,
FRAMEWORK_FREE_WRONG and FRAMEWORK_FREE_RIGHT, are defined here once and the
TensorFlow file imports them. The model and `train_step` variants are PyTorch's.
"""

from __future__ import annotations

import pytest

from tests.exercise_support import exercise_tests, table

pytestmark = pytest.mark.slow
STEM = "05_sequence_classification_pytorch"
EXERCISES = ["SpamRNN", "train_step", "evaluate", "choose_threshold", "answer_pitfalls"]


# ----------------------------------------------------------------------------- evaluate (both tracks)

EVAL = """
def evaluate(y_true, proba, threshold=0.5):
    y_true = np.asarray(y_true)
    y_pred = ({cmp}).astype(int)
    return {{
        "accuracy": metrics.accuracy_score(y_true, y_pred),
        "precision": metrics.{p}_score(y_true, y_pred, zero_division=0),
        "recall": metrics.{r}_score(y_true, y_pred, zero_division=0),
        "f1": metrics.f1_score(y_true, y_pred, zero_division=0),
        "confusion_matrix": {cm},
    }}
"""
EGOOD = dict(
    cmp="np.asarray(proba) >= threshold",
    p="precision",
    r="recall",
    cm="metrics.confusion_matrix(y_true, y_pred, labels=[0, 1])",
)


def _eval(**changes):
    return EVAL.format(**{**EGOOD, **changes})


EVALUATE_WRONG = {
    "precision and recall swapped": (_eval(p="recall", r="precision"), ["swapped"]),
    "confusion matrix transposed": (
        _eval(cm="metrics.confusion_matrix(y_true, y_pred, labels=[0, 1]).T"),
        ["transposed"],
    ),
    "strict > at the threshold": (_eval(cmp="np.asarray(proba) > threshold"), ["tie"]),
    "threshold ignored": (_eval(cmp="np.asarray(proba) >= 0.5"), ["threshold argument was ignored"]),
    "confusion matrix without labels": (_eval(cm="metrics.confusion_matrix(y_true, y_pred)"), ["wrong shape"]),
    "F1 as the arithmetic mean (issue 11: named)": (
        _eval().replace(
            "metrics.f1_score(y_true, y_pred, zero_division=0)",
            "(metrics.precision_score(y_true, y_pred, zero_division=0)"
            " + metrics.recall_score(y_true, y_pred, zero_division=0)) / 2",
        ),
        ["arithmetic mean", "HARMONIC"],
    ),
    "plain lists compared with the threshold (issue 11)": (
        """
def evaluate(y_true, proba, threshold=0.5):
    y_pred = [int(p >= threshold) for p in proba]
    tp = sum(1 for t, p in zip(y_true, y_pred) if t == p == 1)
    return {"accuracy": metrics.accuracy_score(y_true, y_pred),
            "precision": metrics.precision_score(y_true, y_pred, zero_division=0),
            "recall": metrics.recall_score(y_true, y_pred, zero_division=0),
            "f1": metrics.f1_score(y_true, y_pred, zero_division=0),
            "confusion_matrix": metrics.confusion_matrix(y_true, y_pred, labels=[0, 1]),
            "hits": y_pred[np.asarray(y_true) == 1]}
""",
        ["may be plain lists", "np.asarray"],
    ),
    "NaN for undefined precision": (
        """
def evaluate(y_true, proba, threshold=0.5):
    y = np.asarray(y_true); p = (np.asarray(proba) >= threshold).astype(int)
    tp = np.sum((y == 1) & (p == 1)); fp = np.sum((y == 0) & (p == 1)); fn = np.sum((y == 1) & (p == 0))
    tn = np.sum((y == 0) & (p == 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp); recall = tp / (tp + fn)
        f1 = 2 * precision * recall / (precision + recall)
    return {"accuracy": (tp + tn) / y.size, "precision": precision, "recall": recall, "f1": f1,
            "confusion_matrix": [[tn, fp], [fn, tp]]}
""",
        ["NaN"],
    ),
}

EVALUATE_RIGHT = {
    # by hand from the counts, lists out, zero division handled explicitly
    "counts by hand": """
def evaluate(y_true, proba, threshold=0.5):
    y = [int(v) for v in np.asarray(y_true)]
    p = [int(v >= threshold) for v in np.asarray(proba, dtype=float)]
    tp = sum(a == 1 and b == 1 for a, b in zip(y, p)); tn = sum(a == 0 and b == 0 for a, b in zip(y, p))
    fp = sum(a == 0 and b == 1 for a, b in zip(y, p)); fn = sum(a == 1 and b == 0 for a, b in zip(y, p))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": (tp + tn) / len(y), "precision": precision, "recall": recall, "f1": f1,
            "confusion_matrix": [[tn, fp], [fn, tp]]}
""",
    # utils.metrics in one call, numpy floats left as they are
    "precision_recall_fscore_support": """
def evaluate(y_true, proba, threshold=0.5):
    y_pred = np.where(np.asarray(proba) < threshold, 0, 1)
    p, r, f, _ = metrics.precision_recall_fscore_support(y_true, y_pred, average="binary", zero_division=0)
    return dict(accuracy=metrics.accuracy_score(y_true, y_pred), precision=p, recall=r, f1=f,
                confusion_matrix=metrics.confusion_matrix(y_true, y_pred, num_classes=2))
""",
}


# ----------------------------------------------------------------------------- choose_threshold (both tracks)

CHOOSE = """
def choose_threshold(y_true, scores, metric, goal):
    y_true = np.asarray(y_true); scores = np.asarray(scores, dtype=float)
    good = []
    for t in np.unique(scores):
        pred = (scores >= t).astype(int)
        value = {score}(y_true, pred, zero_division=0)
        if value >= goal:
            good.append({keep})
    if not good:
        return None
    return {pick}
"""
BY_METRIC = "(metrics.precision_score if metric == 'precision' else metrics.recall_score)"

CHOOSE_WRONG = {
    "metric argument ignored": (
        CHOOSE.format(score="metrics.recall_score", keep="t", pick="float(max(good))"),
        ["read the `metric` argument"],
    ),
    "largest threshold for precision": (
        CHOOSE.format(score=BY_METRIC, keep="t", pick="float(max(good))"),
        ["SMALLEST"],
    ),
    "metric value returned": (
        CHOOSE.format(
            score=BY_METRIC, keep="value", pick="float(min(good)) if metric == 'precision' else float(max(good))"
        ),
        ["not one of the scores"],
    ),
    "never returns None": (
        """
def choose_threshold(y_true, scores, metric, goal):
    y = np.asarray(y_true); s = np.asarray(scores, dtype=float)
    f = metrics.precision_score if metric == "precision" else metrics.recall_score
    vals = np.array([f(y, (s >= t).astype(int), zero_division=0) for t in np.unique(s)])
    ok = np.unique(s)[vals >= goal]
    if ok.size == 0:
        return float(np.unique(s)[np.argmax(vals)])   # best effort instead of None
    return float(ok.min() if metric == "precision" else ok.max())
""",
        ["None"],
    ),
}

CHOOSE_RIGHT = {
    "vectorised counts": """
def choose_threshold(y_true, scores, metric, goal):
    y = np.asarray(y_true); s = np.asarray(scores, dtype=float)
    ts = np.unique(s)
    pred = s[None, :] >= ts[:, None]
    tp = (pred & (y[None, :] == 1)).sum(axis=1)
    if metric == "precision":
        ok = (pred.sum(axis=1) > 0) & (tp >= goal * pred.sum(axis=1))
        return float(ts[ok][0]) if ok.any() else None
    ok = tp >= goal * (y == 1).sum()
    return float(ts[ok][-1]) if ok.any() else None
""",
    # from the top (recall) or from the bottom (precision), stopping at the first hit
    "loop to the first hit": """
def choose_threshold(y_true, scores, metric, goal):
    y = list(np.asarray(y_true)); s = [float(v) for v in scores]
    candidates = sorted(set(s), reverse=(metric == "recall"))
    for t in candidates:
        pred = [int(v >= t) for v in s]
        if metric == "precision":
            value = metrics.precision_score(y, pred, zero_division=0)
        else:
            value = metrics.recall_score(y, pred, zero_division=0)
        if value >= goal:
            return t
    return None
""",
}


# ----------------------------------------------------------------------------- answer_pitfalls (both tracks)


def _pitfalls_cell(answers: dict) -> str:
    return "answer_pitfalls = " + repr(answers)


def _truth() -> dict:
    """The diagnosis of each picture, read from its numbers by the tests (utils keeps no answer key)."""
    from tests.test_order_data import pitfall_from_numbers
    from utils.data.order import pitfall_pictures

    return {name: pitfall_from_numbers(pic) for name, pic in pitfall_pictures(seed=0).items()}


def _swapped(a: str, b: str) -> str:
    """The true answers with the pictures of diagnoses `a` and `b` exchanged."""
    truth = _truth()
    ka = next(k for k, v in truth.items() if v == a)
    kb = next(k for k, v in truth.items() if v == b)
    return _pitfalls_cell({**truth, ka: b, kb: a})


def _pitfalls_right() -> dict:
    truth = _truth()
    return {
        "upper case, spaces": _pitfalls_cell({k.lower(): v.upper().replace("_", " ") for k, v in truth.items()}),
        "dashes, padded keys": _pitfalls_cell({f" {k} ": f"{v.replace('_', '-')} " for k, v in truth.items()}),
    }


PITFALLS_WRONG = {
    "leakage <-> overfitting": (_swapped("leakage", "overfitting"), ["look again"]),
    "imbalance <-> fine": (_swapped("imbalance", "fine"), ["look again at picture"]),
    "order_blind <-> overfitting": (_swapped("order_blind", "overfitting"), ["look again at picture"]),
    "unknown label": (
        "answer_pitfalls = {'A': 'leak', 'B': 'fine', 'C': 'fine', 'D': 'fine', 'E': 'fine'}",
        ["not one of"],
    ),
    "a list": (
        "answer_pitfalls = ['leakage', 'overfitting', 'imbalance', 'order_blind', 'fine']",
        ["should be a dict"],
    ),
    # issue 11: the visible test used to accept any five words from the list
    "one word for everything": (
        "answer_pitfalls = {'A': 'fine', 'B': 'fine', 'C': 'fine', 'D': 'fine', 'E': 'fine'}",
        ["each word names exactly one picture"],
    ),
    "every name wrong": (
        _pitfalls_cell(dict(zip("ABCDE", ["leakage", "overfitting", "imbalance", "fine", "order_blind"]))),
        ["look again at picture"],
    ),
}

FRAMEWORK_FREE_WRONG = {
    **table("evaluate", EVALUATE_WRONG),
    **table("choose_threshold", CHOOSE_WRONG),
    **table("answer_pitfalls", PITFALLS_WRONG),
}
FRAMEWORK_FREE_RIGHT = {
    **table("evaluate", EVALUATE_RIGHT),
    **table("choose_threshold", CHOOSE_RIGHT),
    **table("answer_pitfalls", _pitfalls_right()),
}


# ----------------------------------------------------------------------------- SpamRNN

MODEL = """
class SpamRNN(nn.Module):
    def __init__(self, vocab_size, embed_dim, hidden_size):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.rnn = nn.RNN(embed_dim, hidden_size, batch_first={batch_first})
        self.out = nn.Linear(hidden_size, 1)

    def forward(self, x):
        outputs, h_n = self.rnn(self.embedding(x))
        return {ret}
"""
LAST = "self.out(outputs[:, -1]).squeeze(-1)"

MODEL_WRONG = {
    "first time step": (MODEL.format(batch_first=True, ret="self.out(outputs[:, 0]).squeeze(-1)"), ["FIRST time step"]),
    "sigmoid in the model": (MODEL.format(batch_first=True, ret=f"torch.sigmoid({LAST})"), ["sigmoid"]),
    "time-major layer": (MODEL.format(batch_first=False, ret=LAST), ["batch_first=True"]),
    "outputs averaged": (MODEL.format(batch_first=True, ret="self.out(outputs.mean(dim=1)).squeeze(-1)"), ["averaged"]),
    "squeeze of every axis": (
        MODEL.format(batch_first=True, ret="self.out(outputs[:, -1]).squeeze()"),
        ["squeeze only the last axis"],
    ),
    "logits (batch, 1)": (MODEL.format(batch_first=True, ret="self.out(outputs[:, -1])"), ["wrong shape"]),
    "two layers": (
        MODEL.replace("nn.RNN(embed_dim, hidden_size, ", "nn.RNN(embed_dim, hidden_size, num_layers=2, ").format(
            batch_first=True, ret=LAST
        ),
        ["one layer"],
    ),
}

MODEL_RIGHT = {
    # the last hidden state h_n instead of the last output (the same numbers for one layer)
    "h_n": MODEL.format(batch_first=True, ret="self.out(h_n[-1]).squeeze(-1)"),
    # a time-major RNN fed a transposed input, the head's axis dropped by indexing
    "time-major, transposed input": MODEL.format(batch_first=False, ret="0").replace(
        "outputs, h_n = self.rnn(self.embedding(x))\n        return 0",
        "outputs, _ = self.rnn(self.embedding(x).transpose(0, 1))\n        return self.out(outputs[-1])[:, 0]",
    ),
}


# ----------------------------------------------------------------------------- train_step

STEP = """
def train_step(model, optimizer, x, y):
    {zero}
    logits = model(x)
    loss = {loss}
    loss.backward()
    {step}
    return {ret}
"""
GOOD = dict(
    zero="optimizer.zero_grad()",
    loss="nn.functional.binary_cross_entropy_with_logits(logits, y.float())",
    step="optimizer.step()",
    ret="loss.item()",
)


def _step(**changes):
    return STEP.format(**{**GOOD, **changes})


STEP_WRONG = {
    "no zero_grad": (_step(zero="pass"), ["zero_grad"]),
    "summed loss": (
        _step(loss="nn.functional.binary_cross_entropy_with_logits(logits, y.float(), reduction='sum')"),
        ["MEAN"],
    ),
    "sigmoid twice": (
        _step(loss="nn.functional.binary_cross_entropy_with_logits(torch.sigmoid(logits), y.float())"),
        ["sigmoid was applied twice"],
    ),
    "no optimizer step": (_step(step="pass"), ["did not change"]),
    "loss after the update": (
        _step(ret="nn.functional.binary_cross_entropy_with_logits(model(x), y.float()).item()"),
        ["after the update"],
    ),
    # plain BCE on logits: values out of [0, 1], whatever the message says
    "BCE on logits": (_step(loss="nn.functional.binary_cross_entropy(logits, y.float())"), []),
}

STEP_RIGHT = {
    "BCEWithLogitsLoss, float()": _step(loss="nn.BCEWithLogitsLoss()(logits, y.to(logits.dtype))", ret="float(loss)"),
    # sigmoid then plain BCE, zero_grad at the end instead of the start
    "sigmoid + BCE, zero_grad last": """
def train_step(model, optimizer, x, y):
    probabilities = torch.sigmoid(model(x))
    loss = nn.functional.binary_cross_entropy(probabilities, y.float())
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach().cpu().numpy())
""",
}

# issue 11: honest mistakes that passed, or met a raw framework error
STEP_WRONG.update(
    {
        "the tensor returned": (_step(ret="loss"), ["Python float", "loss.item()"]),
        "integer labels to the BCE": (
            _step(loss="nn.functional.binary_cross_entropy_with_logits(logits, y)"),
            ["integers", "y.float()"],
        ),
    }
)


WRONG = {**table("SpamRNN", MODEL_WRONG), **table("train_step", STEP_WRONG), **FRAMEWORK_FREE_WRONG}
RIGHT = {**table("SpamRNN", MODEL_RIGHT), **table("train_step", STEP_RIGHT), **FRAMEWORK_FREE_RIGHT}

# the WRONG variants that no visible case can catch, and why
HIDDEN_ONLY = {}

globals().update(
    exercise_tests(STEM, EXERCISES, WRONG, RIGHT, requires="torch", stub_error_in_message=True, hidden_only=HIDDEN_ONLY)
)
