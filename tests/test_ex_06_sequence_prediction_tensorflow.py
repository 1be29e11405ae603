"""Exercise tests of 06_sequence_prediction_tensorflow: its variants (the tests: tests/exercise_support.py).

The framework-free variants of `shift_for_next_token` and `evaluate_per_step`
are shared with the PyTorch track (tests/test_ex_06_sequence_prediction_pytorch.py);
the `predict_next` variants that call the model and one `evaluate_per_step` variant written with
TensorFlow ops are below.
"""

from __future__ import annotations

import pytest

from tests.exercise_support import exercise_tests, table
from tests.test_ex_06_sequence_prediction_pytorch import FRAMEWORK_FREE_RIGHT, FRAMEWORK_FREE_WRONG, predict_next_wrong

pytestmark = pytest.mark.slow
STEM = "06_sequence_prediction_tensorflow"
EXERCISES = ["shift_for_next_token", "predict_next", "evaluate_per_step"]


# -- predict_next ---------------------------------------------------------------

PREDICT_RESET = """
def predict_next(model, prefix):
    for token in prefix:
        logits, hidden = model([[token]], None, return_state=True)
    return int(np.argmax(logits[0, -1]))
"""

PREDICT_FIRST_OUTPUT = """
def predict_next(model, prefix):
    logits = model([list(prefix)])
    return int(np.argmax(logits[0, 0]))
"""

PREDICT_SKIPS_LAST = """
def predict_next(model, prefix):
    hidden = None
    for token in prefix[:-1]:
        logits, hidden = model([[token]], hidden, return_state=True)
    return int(np.argmax(logits[0, -1]))
"""

PREDICT_RETURNS_LOGITS = """
def predict_next(model, prefix):
    hidden = None
    for token in prefix:
        logits, hidden = model([[token]], hidden, return_state=True)
    return logits[0, -1]
"""


PREDICT_BY_HAND = """
def predict_next(model, prefix):
    state = tf.zeros((1, model.hidden_size))
    for token in prefix:
        x = model.embedding(tf.constant([[token]]))
        out, state = model.rnn(x, initial_state=[state])
    scores = model.head(out[:, -1])
    return int(tf.argmax(scores, axis=-1)[0])
"""

PREDICT_WRONG = predict_next_wrong(
    {
        "hidden-reset": PREDICT_RESET,
        "first-output": PREDICT_FIRST_OUTPUT,
        "skips-last-token": PREDICT_SKIPS_LAST,
        "returns-logits": PREDICT_RETURNS_LOGITS,
    }
)
PREDICT_RIGHT = {"layers-by-hand": PREDICT_BY_HAND}


# -- evaluate_per_step with framework ops -----------------------------------------

EVAL_FRAMEWORK = """
def evaluate_per_step(model, inputs, targets, mask):
    logits = tf.cast(model(inputs), tf.float64)
    nll = tf.keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    m = tf.cast(mask, tf.float64)
    hits = tf.cast(tf.equal(tf.argmax(logits, -1), tf.cast(targets, tf.int64)), tf.float64) * m
    return {
        "loss": tf.reduce_sum(nll * m, 0) / tf.reduce_sum(m, 0),
        "accuracy": tf.reduce_sum(hits, 0) / tf.reduce_sum(m, 0),
        "perplexity": tf.exp(tf.reduce_sum(nll * m) / tf.reduce_sum(m)),
    }
"""


EVAL_FRAMEWORK_ACCURACY = """
def evaluate_per_step(model, inputs, targets, mask):
    logits = tf.cast(model(inputs), tf.float64)
    logp = tf.nn.log_softmax(logits, axis=-1)
    m = tf.cast(mask, tf.float64)
    y = tf.cast(np.where(np.asarray(mask), targets, 0), tf.int64)
    nll = -tf.gather(logp, y, axis=-1, batch_dims=2) * m
    hits = tf.cast(tf.equal(tf.argmax(logits, -1), tf.cast(targets, tf.int64)), tf.float64) * m
    return {
        "loss": tf.reduce_sum(nll, 0) / tf.reduce_sum(m, 0),
        "accuracy": tf.reduce_sum(hits, 0) / tf.reduce_sum(m, 0),
        "perplexity": tf.exp(tf.reduce_sum(nll) / tf.reduce_sum(m)),
    }
"""

WRONG = {
    **table("predict_next", PREDICT_WRONG),
    **FRAMEWORK_FREE_WRONG,
    **table("evaluate_per_step", {"a Keras loss (issue 11)": (EVAL_FRAMEWORK, ["sparse_categorical_crossentropy"])}),
}
RIGHT = {
    **table("predict_next", PREDICT_RIGHT),
    **table("evaluate_per_step", {"framework ops, own loss": EVAL_FRAMEWORK_ACCURACY}),
    **FRAMEWORK_FREE_RIGHT,
}

globals().update(exercise_tests(STEM, EXERCISES, WRONG, RIGHT, hidden_only={}))
