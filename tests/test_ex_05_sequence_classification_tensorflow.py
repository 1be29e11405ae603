"""Exercise tests of 05_sequence_classification_tensorflow (tests/harness.py).

Each graded exercise: passes on the source solution, fails on the release stub,
fails on typical wrong answers with a message that names the mistake, and passes
on correct answers written differently.
"""

from __future__ import annotations

import pytest

from tests.harness import exercise_notebook

pytestmark = pytest.mark.slow
STEM = "05_sequence_classification_tensorflow"


@pytest.fixture(scope="module")
def nb():
    pytest.importorskip("tensorflow")
    return exercise_notebook(STEM)


def test_every_exercise_passes_on_the_solution_and_fails_on_the_stub(nb):
    assert sorted(nb.solutions) == sorted(["build_spam_rnn", "train_step", "evaluate", "choose_threshold", "answer_pitfalls"])
    failed = [r for r in nb.baseline.values() if not r.passed]
    assert not failed, failed
    for name in nb.solutions:
        nb.assert_passes(name)
        nb.assert_fails(name, nb.release_stub(name))


# ----------------------------------------------------------------------------- build_spam_rnn

MODEL = '''
def build_spam_rnn(vocab_size, embed_dim, hidden_size):
    return keras.Sequential([
        keras.layers.Embedding(vocab_size, embed_dim),
        {middle}
        {head}
    ])
'''
RNN = "keras.layers.SimpleRNN(hidden_size),"
DENSE = "keras.layers.Dense(1),"


@pytest.mark.parametrize("source, fragment", [
    (MODEL.format(middle="keras.layers.SimpleRNN(hidden_size, return_sequences=True), keras.layers.Lambda(lambda h: h[:, 0]),",
                  head=DENSE), "FIRST time step"),
    (MODEL.format(middle=RNN, head='keras.layers.Dense(1, activation="sigmoid"),'), "sigmoid"),
    (MODEL.format(middle="keras.layers.SimpleRNN(hidden_size, return_sequences=True),", head=DENSE), "return_sequences=False"),
    (MODEL.format(middle="keras.layers.SimpleRNN(hidden_size, return_sequences=True), keras.layers.GlobalAveragePooling1D(),",
                  head=DENSE), "averaged"),
    (MODEL.format(middle="keras.layers.GlobalAveragePooling1D(),", head=DENSE), "cannot see word order"),
    (MODEL.format(middle=RNN, head="keras.layers.Dense(2),"), "Dense(1)"),
])
def test_build_spam_rnn_wrong_answers_fail_with_a_teaching_message(nb, source, fragment):
    nb.assert_fails("build_spam_rnn", source, message_contains=[fragment])


@pytest.mark.parametrize("source", [
    # the functional API, logits squeezed to (batch,)
    '''
def build_spam_rnn(vocab_size, embed_dim, hidden_size):
    ids = keras.Input(shape=(None,), dtype="int32")
    h = keras.layers.SimpleRNN(hidden_size, activation="tanh")(keras.layers.Embedding(vocab_size, embed_dim)(ids))
    return keras.Model(ids, keras.ops.squeeze(keras.layers.Dense(1)(h), axis=-1))
''',
    # return_state=True and the final state, in a subclassed model
    '''
def build_spam_rnn(vocab_size, embed_dim, hidden_size):
    class Spam(keras.Model):
        def __init__(self):
            super().__init__()
            self.emb = keras.layers.Embedding(vocab_size, embed_dim)
            self.rnn = keras.layers.SimpleRNN(hidden_size, return_sequences=True, return_state=True)
            self.out = keras.layers.Dense(1)

        def call(self, x):
            _, state = self.rnn(self.emb(x))
            return self.out(state)
    return Spam()
''',
])
def test_build_spam_rnn_correct_variants_pass(nb, source):
    nb.assert_passes("build_spam_rnn", source)


# ----------------------------------------------------------------------------- train_step

STEP = '''
def train_step(model, optimizer, x, y):
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = {loss}
    grads = tape.gradient(loss, model.trainable_variables)
    {apply}
    return {ret}
'''
GOOD = dict(loss="keras.losses.BinaryCrossentropy(from_logits=True)(tf.cast(y, tf.float32), logits)",
            apply="optimizer.apply_gradients(zip(grads, model.trainable_variables))", ret="float(loss)")


def _step(**changes):
    return STEP.format(**{**GOOD, **changes})


@pytest.mark.parametrize("source, fragment", [
    (_step(loss="keras.losses.BinaryCrossentropy()(tf.cast(y, tf.float32), logits)"), "from_logits=True"),
    (_step(loss="tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(y, tf.float32), logits=logits))"), "MEAN"),
    (_step(loss="keras.losses.BinaryCrossentropy(from_logits=True)(tf.cast(y, tf.float32), tf.sigmoid(logits))"), "sigmoid was applied twice"),
    (_step(apply="pass"), "did not change"),
    (_step(ret="float(keras.losses.BinaryCrossentropy(from_logits=True)(tf.cast(y, tf.float32), model(x)))"), "after the update"),
])
def test_train_step_wrong_answers_fail_with_a_teaching_message(nb, source, fragment):
    nb.assert_fails("train_step", source, message_contains=[fragment])


def test_train_step_loss_outside_the_tape_fails(nb):
    source = '''
def train_step(model, optimizer, x, y):
    logits = model(x, training=True)
    loss = keras.losses.BinaryCrossentropy(from_logits=True)(tf.cast(y, tf.float32), logits)
    with tf.GradientTape() as tape:
        pass
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return float(loss)
'''
    nb.assert_fails("train_step", source)


@pytest.mark.parametrize("source", [
    _step(loss="tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(y, logits.dtype), logits=logits))",
          apply="optimizer.apply(grads, model.trainable_variables)", ret="loss.numpy()"),
    # keras.ops and an explicit mean, the optimizer fed a list of pairs
    '''
def train_step(model, optimizer, x, y):
    target = keras.ops.cast(keras.ops.convert_to_tensor(y), "float32")
    with tf.GradientTape() as tape:
        per_message = keras.ops.binary_crossentropy(target, model(x, training=True), from_logits=True)
        loss = keras.ops.mean(per_message)
    variables = model.trainable_variables
    optimizer.apply_gradients(list(zip(tape.gradient(loss, variables), variables)))
    return float(loss)
''',
])
def test_train_step_correct_variants_pass(nb, source):
    nb.assert_passes("train_step", source)


# ----------------------------------------------------------------------------- evaluate

EVAL = '''
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
'''
EGOOD = dict(cmp="np.asarray(proba) >= threshold", p="precision", r="recall",
             cm="metrics.confusion_matrix(y_true, y_pred, labels=[0, 1])")


def _eval(**changes):
    return EVAL.format(**{**EGOOD, **changes})


@pytest.mark.parametrize("source, fragment", [
    (_eval(p="recall", r="precision"), "swapped"),
    (_eval(cm="metrics.confusion_matrix(y_true, y_pred, labels=[0, 1]).T"), "transposed"),
    (_eval(cmp="np.asarray(proba) > threshold"), "tie"),
    (_eval(cmp="np.asarray(proba) >= 0.5"), "threshold argument was ignored"),
    (_eval(cm="metrics.confusion_matrix(y_true, y_pred)"), "wrong shape"),
])
def test_evaluate_wrong_answers_fail_with_a_teaching_message(nb, source, fragment):
    nb.assert_fails("evaluate", source, message_contains=[fragment])


def test_evaluate_nan_for_undefined_precision_fails(nb):
    source = '''
def evaluate(y_true, proba, threshold=0.5):
    y = np.asarray(y_true); p = (np.asarray(proba) >= threshold).astype(int)
    tp = np.sum((y == 1) & (p == 1)); fp = np.sum((y == 0) & (p == 1)); fn = np.sum((y == 1) & (p == 0))
    tn = np.sum((y == 0) & (p == 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp); recall = tp / (tp + fn)
        f1 = 2 * precision * recall / (precision + recall)
    return {"accuracy": (tp + tn) / y.size, "precision": precision, "recall": recall, "f1": f1,
            "confusion_matrix": [[tn, fp], [fn, tp]]}
'''
    nb.assert_fails("evaluate", source, message_contains=["NaN"])


@pytest.mark.parametrize("source", [
    # by hand from the counts, lists out, zero division handled explicitly
    '''
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
''',
    # utils.metrics in one call, numpy floats left as they are
    '''
def evaluate(y_true, proba, threshold=0.5):
    y_pred = np.where(np.asarray(proba) < threshold, 0, 1)
    p, r, f, _ = metrics.precision_recall_fscore_support(y_true, y_pred, average="binary", zero_division=0)
    return dict(accuracy=metrics.accuracy_score(y_true, y_pred), precision=p, recall=r, f1=f,
                confusion_matrix=metrics.confusion_matrix(y_true, y_pred, num_classes=2))
''',
])
def test_evaluate_correct_variants_pass(nb, source):
    nb.assert_passes("evaluate", source)


# ----------------------------------------------------------------------------- choose_threshold

CHOOSE = '''
def choose_threshold(y_true, scores, metric, goal):
    y_true = np.asarray(y_true); scores = np.asarray(scores, dtype=float)
    good = []
    for t in np.unique(scores):
        pred = (scores >= t).astype(int)
        value = metrics.{m}_score(y_true, pred, zero_division=0)
        if value >= goal:
            good.append({keep})
    if not good:
        return None
    return {pick}
'''


@pytest.mark.parametrize("source, fragment", [
    # the metric argument ignored: always recall
    (CHOOSE.format(m="recall", keep="t", pick="float(max(good))"), "read the `metric` argument"),
    # the wrong end for precision: the largest threshold
    (CHOOSE.format(m="{m}", keep="t", pick="float(max(good))").replace(
        "metrics.{m}_score", "(metrics.precision_score if metric == 'precision' else metrics.recall_score)"),
     "SMALLEST"),
    # the metric value instead of the threshold
    (CHOOSE.format(m="{m}", keep="value", pick="float(min(good)) if metric == 'precision' else float(max(good))").replace(
        "metrics.{m}_score", "(metrics.precision_score if metric == 'precision' else metrics.recall_score)"),
     "not one of the scores"),
])
def test_choose_threshold_wrong_answers_fail_with_a_teaching_message(nb, source, fragment):
    nb.assert_fails("choose_threshold", source, message_contains=[fragment])


def test_choose_threshold_that_never_returns_none_fails(nb):
    source = '''
def choose_threshold(y_true, scores, metric, goal):
    y = np.asarray(y_true); s = np.asarray(scores, dtype=float)
    f = metrics.precision_score if metric == "precision" else metrics.recall_score
    vals = np.array([f(y, (s >= t).astype(int), zero_division=0) for t in np.unique(s)])
    ok = np.unique(s)[vals >= goal]
    if ok.size == 0:
        return float(np.unique(s)[np.argmax(vals)])   # best effort instead of None
    return float(ok.min() if metric == "precision" else ok.max())
'''
    nb.assert_fails("choose_threshold", source, message_contains=["None"])


@pytest.mark.parametrize("source", [
    # vectorised counts over sorted scores
    '''
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
''',
    # a loop from the top (recall) or from the bottom (precision), stopping at the first hit
    '''
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
''',
])
def test_choose_threshold_correct_variants_pass(nb, source):
    nb.assert_passes("choose_threshold", source)


# ----------------------------------------------------------------------------- answer_pitfalls


def _answers(**changes):
    from utils.data.order import pitfall_answers

    answers = {**pitfall_answers(seed=0), **changes}
    return "answer_pitfalls = " + repr(answers)


def _swap(a, b):
    from utils.data.order import pitfall_answers

    truth = pitfall_answers(seed=0)
    ka = next(k for k, v in truth.items() if v == a)
    kb = next(k for k, v in truth.items() if v == b)
    return _answers(**{ka: b, kb: a})


@pytest.mark.parametrize("source, fragment", [
    (_swap("leakage", "overfitting"), "look again"),
    (_swap("imbalance", "fine"), "look again at picture"),
    (_swap("order_blind", "overfitting"), "look again at picture"),
    ("answer_pitfalls = {'A': 'leak', 'B': 'fine', 'C': 'fine', 'D': 'fine', 'E': 'fine'}", "not one of"),
    ("answer_pitfalls = ['leakage', 'overfitting', 'imbalance', 'order_blind', 'fine']", "should be a dict"),
])
def test_answer_pitfalls_wrong_answers_fail_with_a_teaching_message(nb, source, fragment):
    nb.assert_fails("answer_pitfalls", source, message_contains=[fragment])


def test_answer_pitfalls_written_differently_pass(nb):
    from utils.data.order import pitfall_answers

    truth = pitfall_answers(seed=0)
    shouty = {k.lower(): v.upper().replace("_", " ") for k, v in truth.items()}
    nb.assert_passes("answer_pitfalls", "answer_pitfalls = " + repr(shouty))
    dashed = {f" {k} ": f"{v.replace('_', '-')} " for k, v in truth.items()}
    nb.assert_passes("answer_pitfalls", "answer_pitfalls = " + repr(dashed))
