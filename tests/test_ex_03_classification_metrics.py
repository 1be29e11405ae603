"""Exercise tests of 03_classification_metrics: the test cells accept every correct answer and teach on wrong ones.

For each graded exercise: the source solution passes; the release stub fails;
typical wrong answers (transposed matrix, precision and recall swapped, sum vs
mean, a threshold off by one, ...) fail with a message naming the mistake;
correct answers written differently (loops, lists, Python or numpy floats) pass.
"""

from __future__ import annotations

from tests.exercise_support import exercise_tests

STEM = "03_classification_metrics"
EXERCISES = ["confusion_matrix", "precision", "recall", "f1", "accuracy", "threshold_for_recall", "judgement"]


def _def(signature: str, *body: str) -> str:
    return f"def {signature}:\n" + "".join(f"    {line}\n" for line in body)


CM_SIG = "confusion_matrix(y_true, y_pred, num_classes)"
WRONG = {
    # ------------------------------------------------------------ confusion_matrix
    ("confusion_matrix", "transposed"): (
        _def(
            CM_SIG,
            "cm = np.zeros((num_classes, num_classes), dtype=int)",
            "for t, p in zip(y_true, y_pred):",
            "    cm[p, t] += 1",
            "return cm",
        ),
        ["transposed"],
    ),
    ("confusion_matrix", "fancy-index += drops repeats"): (
        _def(
            CM_SIG,
            "cm = np.zeros((num_classes, num_classes), dtype=int)",
            "cm[np.asarray(y_true), np.asarray(y_pred)] += 1",
            "return cm",
        ),
        ["np.add.at"],
    ),
    ("confusion_matrix", "float counts"): (
        _def(
            CM_SIG,
            "cm = np.zeros((num_classes, num_classes))",
            "np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)",
            "return cm",
        ),
        ["dtype=int"],
    ),
    ("confusion_matrix", "size from the labels seen"): (
        _def(
            CM_SIG,
            "k = int(max(max(y_true), max(y_pred))) + 1",
            "cm = np.zeros((k, k), dtype=int)",
            "np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)",
            "return cm",
        ),
        ["num_classes for the size"],
    ),
    ("confusion_matrix", "normalised"): (
        _def(
            CM_SIG,
            "cm = np.zeros((num_classes, num_classes), dtype=int)",
            "np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)",
            "return cm / cm.sum()",
        ),
        ["integer counts"],
    ),
    # ------------------------------------------------------------ precision / recall
    ("precision", "is recall"): (
        _def(
            "precision(cm, positive=1)", "cm = np.asarray(cm)", "return cm[positive, positive] / cm[positive, :].sum()"
        ),
        ["swapped"],
    ),
    ("precision", "ignores positive"): (
        _def(
            "precision(cm, positive=1)",
            "cm = np.asarray(cm)",
            "col = cm[:, 1].sum()",
            "return cm[1, 1] / col if col else 0.0",
        ),
        ["ignored `positive`"],
    ),
    ("precision", "divides by zero"): (
        _def(
            "precision(cm, positive=1)",
            "cm = [list(map(int, row)) for row in cm]",
            "return cm[positive][positive] / sum(row[positive] for row in cm)",
        ),
        ["ZeroDivisionError", "return 0.0"],
    ),
    ("precision", "over the whole matrix"): (
        _def("precision(cm, positive=1)", "cm = np.asarray(cm)", "return cm[positive, positive] / cm.sum()"),
        ["whole matrix"],
    ),
    ("recall", "is precision"): (
        _def("recall(cm, positive=1)", "cm = np.asarray(cm)", "return cm[positive, positive] / cm[:, positive].sum()"),
        ["swapped"],
    ),
    ("recall", "on a transposed matrix"): (
        _def(
            "recall(cm, positive=1)",
            "cm = np.asarray(cm).T",
            "row = cm[positive].sum()",
            "return cm[positive, positive] / row if row else 0.0",
        ),
        ["swapped"],
    ),
    ("recall", "NaN when undefined"): (
        _def(
            "recall(cm, positive=1)",
            "cm = np.asarray(cm, dtype=float)",
            "with np.errstate(invalid='ignore'):",
            "    return cm[positive, positive] / cm[positive].sum()",
        ),
        ["return 0.0"],
    ),
    ("recall", "ignores positive"): (
        _def(
            "recall(cm, positive=1)",
            "cm = np.asarray(cm)",
            "row = cm[1].sum()",
            "return cm[1, 1] / row if row else 0.0",
        ),
        ["ignored `positive`"],
    ),
    # ------------------------------------------------------------ f1
    ("f1", "arithmetic mean"): (
        _def("f1(cm, positive=1)", "return (precision(cm, positive) + recall(cm, positive)) / 2"),
        ["HARMONIC"],
    ),
    ("f1", "Jaccard"): (
        _def(
            "f1(cm, positive=1)",
            "cm = np.asarray(cm)",
            "tp = cm[positive, positive]",
            "return tp / (cm[:, positive].sum() + cm[positive].sum() - tp)",
        ),
        ["Jaccard"],
    ),
    ("f1", "no factor 2"): (
        _def(
            "f1(cm, positive=1)",
            "p, r = precision(cm, positive), recall(cm, positive)",
            "return p * r / (p + r) if p + r else 0.0",
        ),
        ["factor 2"],
    ),
    ("f1", "divides by zero"): (
        _def(
            "f1(cm, positive=1)",
            "p, r = float(precision(cm, positive)), float(recall(cm, positive))",
            "return 2 * p * r / (p + r)",
        ),
        ["ZeroDivisionError"],
    ),
    # ------------------------------------------------------------ accuracy
    ("accuracy", "a count, not a fraction"): (
        _def("accuracy(cm)", "return np.trace(np.asarray(cm))"),
        ["NUMBER of correct"],
    ),
    ("accuracy", "positive class only"): (
        _def("accuracy(cm)", "cm = np.asarray(cm)", "return cm[1, 1] / cm.sum()"),
        ["only the positive"],
    ),
    ("accuracy", "balanced accuracy"): (
        _def("accuracy(cm)", "cm = np.asarray(cm)", "return np.mean(np.diag(cm) / cm.sum(axis=1))"),
        ["balanced accuracy"],
    ),
    ("accuracy", "divided by the classes"): (
        _def("accuracy(cm)", "cm = np.asarray(cm)", "return np.trace(cm) / len(cm)"),
        ["number of classes"],
    ),
    # ------------------------------------------------------------ threshold_for_recall
    ("threshold_for_recall", "strict >"): (
        _def(
            "threshold_for_recall(y_true, scores, min_recall)",
            "y_true, scores = np.asarray(y_true), np.asarray(scores, dtype=float)",
            "for t in np.unique(scores)[::-1]:",
            "    if np.sum((scores > t) & (y_true == 1)) / np.sum(y_true == 1) >= min_recall:",
            "        return float(t)",
        ),
        ["scores > t instead of scores >= t"],
    ),
    ("threshold_for_recall", "stops one score early"): (
        _def(
            "threshold_for_recall(y_true, scores, min_recall)",
            "y_true, scores = np.asarray(y_true), np.asarray(scores, dtype=float)",
            "previous = None",
            "for t in np.unique(scores)[::-1]:",
            "    if np.sum((scores >= t) & (y_true == 1)) / np.sum(y_true == 1) >= min_recall:",
            "        return float(previous if previous is not None else t)",
            "    previous = t",
        ),
        ["next score ABOVE"],
    ),
    ("threshold_for_recall", "labels ignored (quantile)"): (
        _def(
            "threshold_for_recall(y_true, scores, min_recall)",
            "return float(np.quantile(np.asarray(scores, dtype=float), 1 - min_recall))",
        ),
        ["expected"],
    ),
    ("threshold_for_recall", "smallest instead of largest"): (
        _def(
            "threshold_for_recall(y_true, scores, min_recall)",
            "y_true, scores = np.asarray(y_true), np.asarray(scores, dtype=float)",
            "ok = [t for t in np.unique(scores) if np.mean(scores[y_true == 1] >= t) >= min_recall]",
            "return float(min(ok))",
        ),
        ["largest"],
    ),
    ("threshold_for_recall", "no error without positives"): (
        _def(
            "threshold_for_recall(y_true, scores, min_recall)",
            "y_true, scores = np.asarray(y_true), np.asarray(scores, dtype=float)",
            "pos = scores[y_true == 1]",
            "for t in np.unique(scores)[::-1]:",
            "    if pos.size and np.mean(pos >= t) >= min_recall:",
            "        return float(t)",
            "return float(scores.min())",
        ),
        ["raise ValueError"],
    ),
    # ------------------------------------------------------------ judgement
    ("judgement", "fooled by accuracy"): ('fit_for_production = True\nreason = "a"\n', ["its recall is"]),
    ("judgement", "right verdict, accuracy reason"): (
        'fit_for_production = False\nreason = "a"\n',
        ["98 % says nothing"],
    ),
    ("judgement", "right verdict, precision reason"): (
        'fit_for_production = False\nreason = "c"\n',
        ["not bad in itself"],
    ),
    ("judgement", "right verdict, wrong claim"): (
        'fit_for_production = False\nreason = "d"\n',
        ["can always be computed"],
    ),
    ("judgement", "a string verdict"): ('fit_for_production = "False"\nreason = "b"\n', ["without quotes"]),
    ("judgement", "not an option"): ('fit_for_production = False\nreason = "e"\n', ["not one of the options"]),
    # ------------------------------------------------------------ issue 11: delegation is caught and named
    ("confusion_matrix", "scikit-learn does it"): (
        _def(
            CM_SIG,
            "from sklearn.metrics import confusion_matrix as sk_cm",
            "return sk_cm(y_true, y_pred, labels=list(range(num_classes)))",
        ),
        ["write it yourself", "sklearn.metrics"],
    ),
    ("precision", "utils.metrics does it"): (
        "from utils import metrics\n"
        + _def(
            "precision(cm, positive=1)",
            "cm = np.asarray(cm)",
            "rows, cols = np.divmod(np.arange(cm.size), cm.shape[0])",
            "t, p = np.repeat(rows, cm.ravel()), np.repeat(cols, cm.ravel())",
            "return metrics.precision_score(t == positive, p == positive, zero_division=0)",
        ),
        ["write it yourself", "metrics.precision_score", "TP / (TP + FP)"],
    ),
    ("f1", "scikit-learn inside a helper"): (
        "def _expand(cm):\n    from sklearn.metrics import f1_score\n    return f1_score\n"
        + _def(
            "f1(cm, positive=1)",
            "cm = np.asarray(cm)",
            "rows, cols = np.divmod(np.arange(cm.size), cm.shape[0])",
            "t, p = np.repeat(rows, cm.ravel()), np.repeat(cols, cm.ravel())",
            "return _expand(cm)(t == positive, p == positive, zero_division=0)",
        ),
        ["write it yourself", "`_expand` uses sklearn.metrics"],
    ),
    ("accuracy", "utils.metrics does it"): (
        "import utils.metrics\n"
        + _def(
            "accuracy(cm)",
            "cm = np.asarray(cm)",
            "rows, cols = np.divmod(np.arange(cm.size), cm.shape[0])",
            "return utils.metrics.accuracy_score(np.repeat(rows, cm.ravel()), np.repeat(cols, cm.ravel()))",
        ),
        ["write it yourself", "utils.metrics.accuracy_score", "np.trace"],
    ),
    ("threshold_for_recall", "utils.evaluation does it"): (
        "from utils.evaluation import choose_threshold\n"
        + _def(
            "threshold_for_recall(y_true, scores, min_recall)",
            "return choose_threshold(y_true, scores, 'recall', min_recall)",
        ),
        ["write it yourself", "utils.evaluation.choose_threshold"],
    ),
    ("recall", "torchmetrics-style import"): (
        _def(
            "recall(cm, positive=1)",
            "import sklearn.metrics as skm",
            "cm = np.asarray(cm)",
            "rows, cols = np.divmod(np.arange(cm.size), cm.shape[0])",
            "return skm.recall_score(np.repeat(rows, cm.ravel()) == positive, np.repeat(cols, cm.ravel()) == positive)",
        ),
        ["write it yourself", "skm.recall_score"],
    ),
    # ------------------------------------------------------------ issue 11: a list of lists is named
    ("recall", "a list of lists indexed like an array"): (
        _def(
            "recall(cm, positive=1)", "row = sum(cm[positive])", "return cm[positive, positive] / row if row else 0.0"
        ),
        ["list of lists", "np.asarray"],
    ),
    ("accuracy", "a list of lists summed like an array"): (
        _def("accuracy(cm)", "return np.trace(cm) / cm.sum()"),
        ["list of lists", "np.asarray"],
    ),
    # ------------------------------------------------------- issue 11 §9: one class against the rest has a visible case
    ("precision", "two classes only"): (
        _def(
            "precision(cm, positive=1)",
            "cm = np.asarray(cm)",
            "tp = cm[positive, positive]",
            "den = tp + cm[1 - positive, positive]",
            "return tp / den if den else 0.0",
        ),
        ["3-class"],
    ),
}

RIGHT = {
    ("confusion_matrix", "nested lists"): _def(
        CM_SIG,
        "cm = [[0] * num_classes for _ in range(num_classes)]",
        "for t, p in zip(y_true, y_pred):",
        "    cm[int(t)][int(p)] += 1",
        "return cm",
    ),
    ("confusion_matrix", "bincount"): _def(
        CM_SIG,
        "codes = np.asarray(y_true) * num_classes + np.asarray(y_pred)",
        "return np.bincount(codes, minlength=num_classes ** 2).reshape(num_classes, num_classes)",
    ),
    ("confusion_matrix", "comparison broadcasting"): _def(
        CM_SIG,
        "k = np.arange(num_classes)",
        "t = np.asarray(y_true)[:, None] == k",
        "p = np.asarray(y_pred)[:, None] == k",
        "return (t.T.astype(np.int32) @ p.astype(np.int32))",
    ),
    ("precision", "python ints"): _def(
        "precision(cm, positive=1)",
        "tp = int(cm[positive][positive])",
        "predicted = sum(int(row[positive]) for row in cm)",
        "return tp / predicted if predicted > 0 else 0",
    ),
    ("precision", "numpy float"): _def(
        "precision(cm, positive=1)",
        "cm = np.asarray(cm, dtype=np.float32)",
        "den = cm[:, positive].sum()",
        "return np.float32(0) if den == 0 else cm[positive, positive] / den",
    ),
    ("recall", "python ints"): _def(
        "recall(cm, positive=1)",
        "tp = int(cm[positive][positive])",
        "actual = sum(int(v) for v in cm[positive])",
        "return tp / actual if actual else 0.0",
    ),
    ("recall", "numpy float64"): _def(
        "recall(cm, positive=1)",
        "cm = np.asarray(cm)",
        "fn = cm[positive].sum() - cm[positive, positive]",
        "tp = cm[positive, positive]",
        "return np.float64(tp / (tp + fn)) if tp + fn else np.float64(0.0)",
    ),
    ("f1", "from counts"): _def(
        "f1(cm, positive=1)",
        "cm = np.asarray(cm)",
        "tp = cm[positive, positive]",
        "fp = cm[:, positive].sum() - tp",
        "fn = cm[positive].sum() - tp",
        "return 2 * tp / (2 * tp + fp + fn) if tp else 0.0",
    ),
    ("f1", "harmonic mean via inverses"): _def(
        "f1(cm, positive=1)",
        "p, r = precision(cm, positive), recall(cm, positive)",
        "return 0.0 if p == 0 or r == 0 else 2 / (1 / p + 1 / r)",
    ),
    ("accuracy", "python loop"): _def(
        "accuracy(cm)",
        "total = sum(sum(row) for row in cm)",
        "correct = sum(cm[i][i] for i in range(len(cm)))",
        "return correct / total",
    ),
    ("accuracy", "numpy float32"): _def(
        "accuracy(cm)", "cm = np.asarray(cm, dtype=np.float32)", "return np.diag(cm).sum() / cm.sum()"
    ),
    ("threshold_for_recall", "k-th largest positive score"): _def(
        "threshold_for_recall(y_true, scores, min_recall)",
        "import math",
        "pos = sorted((s for s, y in zip(scores, y_true) if y == 1), reverse=True)",
        "if not pos:",
        "    raise ValueError('no positive in y_true: recall is undefined')",
        "k = math.ceil(min_recall * len(pos) - 1e-9)",
        "return pos[max(k, 1) - 1]",
    ),
    ("threshold_for_recall", "searchsorted, vectorized"): _def(
        "threshold_for_recall(y_true, scores, min_recall)",
        "y, s = np.asarray(y_true), np.asarray(scores, dtype=float)",
        "if not (y == 1).any():",
        "    raise ValueError('y_true has no positive sample')",
        "cand = np.unique(s)[::-1]",
        "pos = np.sort(s[y == 1])",
        "found = pos.size - np.searchsorted(pos, cand, side='left')",
        "return cand[np.argmax(found / pos.size >= min_recall)]",
    ),
    ("judgement", "other spellings"): 'fit_for_production = not True\nreason = " B "\n',
    ("judgement", "numpy bool"): 'fit_for_production = np.bool_(False)\nreason = "b"\n',
}


# the nb fixture and the shared tests (tests/exercise_support.py)
globals().update(exercise_tests(STEM, EXERCISES, WRONG, RIGHT, stub_error_in_message=True, hidden_only={}))
