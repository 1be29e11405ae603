"""Exercise tests of 05_sequence_classification_tensorflow: its variants (the tests: tests/exercise_support.py).

The framework-free exercises (`evaluate`, `choose_threshold`,
`answer_pitfalls`) share their variants with the PyTorch track (defined in
tests/test_ex_05_sequence_classification_pytorch.py); the model and
`train_step` variants below are Keras's.
"""

from __future__ import annotations

import pytest

from tests.exercise_support import exercise_tests, table
from tests.test_ex_05_sequence_classification_pytorch import FRAMEWORK_FREE_RIGHT, FRAMEWORK_FREE_WRONG

pytestmark = pytest.mark.slow
STEM = "05_sequence_classification_tensorflow"
EXERCISES = ["build_spam_rnn", "train_step", "evaluate", "choose_threshold", "answer_pitfalls"]


# ----------------------------------------------------------------------------- build_spam_rnn

MODEL = """
def build_spam_rnn(vocab_size, embed_dim, hidden_size):
    return keras.Sequential([
        keras.layers.Embedding(vocab_size, embed_dim),
        {middle}
        {head}
    ])
"""
RNN = "keras.layers.SimpleRNN(hidden_size),"
SEQUENCES = "keras.layers.SimpleRNN(hidden_size, return_sequences=True),"
DENSE = "keras.layers.Dense(1),"

MODEL_WRONG = {
    "first time step": (
        MODEL.format(middle=SEQUENCES + " keras.layers.Lambda(lambda h: h[:, 0]),", head=DENSE),
        ["FIRST time step"],
    ),
    "sigmoid in the model": (
        MODEL.format(middle=RNN, head='keras.layers.Dense(1, activation="sigmoid"),'),
        ["sigmoid"],
    ),
    "every step returned": (MODEL.format(middle=SEQUENCES, head=DENSE), ["return_sequences=False"]),
    "outputs averaged": (
        MODEL.format(middle=SEQUENCES + " keras.layers.GlobalAveragePooling1D(),", head=DENSE),
        ["averaged"],
    ),
    "no RNN": (MODEL.format(middle="keras.layers.GlobalAveragePooling1D(),", head=DENSE), ["cannot see word order"]),
    "two outputs": (MODEL.format(middle=RNN, head="keras.layers.Dense(2),"), ["Dense(1)"]),
}

MODEL_RIGHT = {
    # the functional API, logits squeezed to (batch,)
    "functional API": """
def build_spam_rnn(vocab_size, embed_dim, hidden_size):
    ids = keras.Input(shape=(None,), dtype="int32")
    h = keras.layers.SimpleRNN(hidden_size, activation="tanh")(keras.layers.Embedding(vocab_size, embed_dim)(ids))
    return keras.Model(ids, keras.ops.squeeze(keras.layers.Dense(1)(h), axis=-1))
""",
    # return_state=True and the final state, in a subclassed model
    "subclassed, final state": """
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
""",
}


# ----------------------------------------------------------------------------- train_step

STEP = """
def train_step(model, optimizer, x, y):
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = {loss}
    grads = tape.gradient(loss, model.trainable_variables)
    {apply}
    return {ret}
"""
BCE = "keras.losses.BinaryCrossentropy(from_logits=True)"
GOOD = dict(
    loss=f"{BCE}(tf.cast(y, tf.float32), logits)",
    apply="optimizer.apply_gradients(zip(grads, model.trainable_variables))",
    ret="float(loss)",
)


def _step(**changes):
    return STEP.format(**{**GOOD, **changes})


STEP_WRONG = {
    "from_logits forgotten": (
        _step(loss="keras.losses.BinaryCrossentropy()(tf.cast(y, tf.float32), logits)"),
        ["from_logits=True"],
    ),
    "summed loss": (
        _step(
            loss="tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(y, tf.float32), logits=logits))"
        ),
        ["MEAN"],
    ),
    "sigmoid twice": (_step(loss=f"{BCE}(tf.cast(y, tf.float32), tf.sigmoid(logits))"), ["sigmoid was applied twice"]),
    "no update": (_step(apply="pass"), ["did not change"]),
    "loss after the update": (_step(ret=f"float({BCE}(tf.cast(y, tf.float32), model(x)))"), ["after the update"]),
    # no gradient reaches the weights: whatever the message says
    "loss outside the tape": (
        """
def train_step(model, optimizer, x, y):
    logits = model(x, training=True)
    loss = keras.losses.BinaryCrossentropy(from_logits=True)(tf.cast(y, tf.float32), logits)
    with tf.GradientTape() as tape:
        pass
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return float(loss)
""",
        ["outside `with tf.GradientTape() as tape:`"],
    ),
    # issue 11: the tensor returned where a Python float is asked
    "the tensor returned": (_step(ret="loss"), ["Python float", "float(loss)"]),
    "integer labels to the BCE": (
        _step(loss="tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))"),
        ["integers", "tf.cast(y, tf.float32)"],
    ),
}

STEP_RIGHT = {
    "tf.nn loss, optimizer.apply": _step(
        loss="tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(y, logits.dtype), logits=logits))",
        apply="optimizer.apply(grads, model.trainable_variables)",
        ret="float(loss.numpy())",
    ),
    # keras.ops and an explicit mean, the optimizer fed a list of pairs
    "keras.ops": """
def train_step(model, optimizer, x, y):
    target = keras.ops.cast(keras.ops.convert_to_tensor(y), "float32")
    with tf.GradientTape() as tape:
        per_message = keras.ops.binary_crossentropy(target, model(x, training=True), from_logits=True)
        loss = keras.ops.mean(per_message)
    variables = model.trainable_variables
    optimizer.apply_gradients(list(zip(tape.gradient(loss, variables), variables)))
    return float(loss)
""",
}


WRONG = {**table("build_spam_rnn", MODEL_WRONG), **table("train_step", STEP_WRONG), **FRAMEWORK_FREE_WRONG}
RIGHT = {**table("build_spam_rnn", MODEL_RIGHT), **table("train_step", STEP_RIGHT), **FRAMEWORK_FREE_RIGHT}

globals().update(
    exercise_tests(STEM, EXERCISES, WRONG, RIGHT, requires="tensorflow", stub_error_in_message=True, hidden_only={})
)
