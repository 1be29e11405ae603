"""Exercise tests of 08_lstm_gru_padding_tensorflow: its variants; the tests are those of tests/exercise_support.py.

Besides the shared guarantees, the masked classifier of the lesson clears the bar of the issue (>= 90 % test
accuracy on the variable-length order task) on the lesson's training budget, whichever side the padding is on.
"""

from __future__ import annotations

import pytest

pytest.importorskip("tensorflow")

from tests.exercise_support import answer_tables, exercise_tests, table

STEM = "08_lstm_gru_padding_tensorflow"
EXERCISES = [
    "expected_keras_lstm_shapes",
    "lengths_to_mask",
    "last_real_output",
    "lstm_step",
    "clip_by_global_norm",
    "answer_padded_readout",
]


# --------------------------------------------------------------------------- expected_keras_lstm_shapes

SHAPES_HEAD = (
    "def expected_keras_lstm_shapes(batch, time, features, units, return_sequences=False, return_state=False):\n"
)
SHAPES_WRONG = {
    "a pair, as for SimpleRNN": (
        "    out = (batch, time, units) if return_sequences else (batch, units)\n"
        "    return (out, (batch, units)) if return_state else out\n",
        ["an LSTM has two states"],
    ),
    "time-major": (
        "    out = (time, batch, units) if return_sequences else (batch, units)\n"
        "    return (out, (batch, units), (batch, units)) if return_state else out\n",
        ["Keras is batch-major"],
    ),
    "return_sequences reversed": (
        "    out = (batch, units) if return_sequences else (batch, time, units)\n"
        "    return (out, (batch, units), (batch, units)) if return_state else out\n",
        ["keeps only the last step"],
    ),
    "states with a layer axis, as in PyTorch": (
        "    out = (batch, time, units) if return_sequences else (batch, units)\n"
        "    return (out, (1, batch, units), (1, batch, units)) if return_state else out\n",
        ["no layer axis"],
    ),
    "always a triple": (
        "    out = (batch, time, units) if return_sequences else (batch, units)\n"
        "    return out, (batch, units), (batch, units)\n",
        ["returns only its output"],
    ),
    "4 * units": (
        "    out = (batch, time, 4 * units) if return_sequences else (batch, 4 * units)\n"
        "    return (out, (batch, units), (batch, units)) if return_state else out\n",
        ["not 4 * units"],
    ),
}
SHAPES_RIGHT = {
    "lists": (
        "    shape = [batch] + ([time] if return_sequences else []) + [units]\n"
        "    return [shape, [batch, units], [batch, units]] if return_state else shape\n"
    ),
    "calling a real layer": (
        "    import keras, numpy as np\n"
        "    out = keras.layers.LSTM(units, return_sequences=return_sequences, return_state=return_state)(\n"
        "        np.zeros((batch, time, features), 'float32'))\n"
        "    return tuple(t.shape for t in out) if return_state else out.shape\n"
    ),
}

# --------------------------------------------------------------------------- lengths_to_mask

MASK_HEAD = "def lengths_to_mask(lengths, max_len):\n    lengths = np.asarray(lengths).reshape(-1, 1)\n"
MASK_WRONG = {
    "inverted": ("    return np.arange(max_len)[None, :] >= lengths\n", ["the mask is inverted"]),
    "off by one": ("    return np.arange(max_len)[None, :] <= lengths\n", ["off by one"]),
    "padding at the front (pad_sequences' default)": (
        "    return np.arange(max_len)[None, :] >= max_len - lengths\n",
        ["padding at the front"],
    ),
    "0/1 integers": ("    return (np.arange(max_len)[None, :] < lengths).astype('int32')\n", ["should be boolean"]),
    "a row loop that breaks on length 0": (
        "    rows = []\n"
        "    for n in lengths[:, 0]:\n"
        "        rows.append([True] * int(n) + [False] * (max_len - int(n)) if n > 0 else [True] * max_len)\n"
        "    return np.array(rows)\n",
        ["lengths_to_mask(a tensor of lengths with an all-padding row, 3)"],
    ),
    "tf.sequence_mask": ("    return tf.sequence_mask(lengths[:, 0], max_len)\n", ["write it yourself"]),
}
MASK_RIGHT = {
    "tensorflow ops": ("    return tf.range(max_len)[None, :] < tf.constant(lengths, dtype=tf.int32)\n"),
    "a loop over rows": (
        "    mask = np.zeros((len(lengths), max_len), dtype=bool)\n"
        "    for b, n in enumerate(lengths[:, 0]):\n"
        "        mask[b, :n] = True\n"
        "    return mask\n"
    ),
}

# --------------------------------------------------------------------------- last_real_output

LAST_HEAD = "def last_real_output(outputs, lengths, batch_first=True):\n"
LAST_WRONG = {
    "outputs[:, -1]": ("    return outputs[:, -1] if batch_first else outputs[-1]\n", ["state after the padding"]),
    "lengths without - 1": (
        "    out = outputs if batch_first else tf.transpose(outputs, (1, 0, 2))\n"
        "    return tf.gather(out, np.asarray(lengths), batch_dims=1)\n",
        ["without - 1"],
    ),
    "padding at the front read as real": (
        "    out = outputs if batch_first else tf.transpose(outputs, (1, 0, 2))\n"
        "    return tf.gather(out, out.shape[1] - np.asarray(lengths), batch_dims=1)\n",
        ["padding at the front"],
    ),
    "ignores batch_first": (
        "    return tf.gather(outputs, np.asarray(lengths) - 1, batch_dims=1)\n",
        ["batch_first=False"],
    ),
    "the course's adapter": (
        "    from utils.tf_utils import gather_last\n    return gather_last(outputs, lengths, batch_first)\n",
        ["write it yourself"],
    ),
}
LAST_RIGHT = {
    "a numpy loop": (
        "    out = np.asarray(outputs)\n"
        "    if not batch_first:\n"
        "        out = out.transpose(1, 0, 2)\n"
        "    return np.stack([out[b, int(n) - 1] for b, n in enumerate(np.asarray(lengths))])\n"
    ),
    "gather_nd": (
        "    out = outputs if batch_first else tf.transpose(outputs, (1, 0, 2))\n"
        "    lengths = tf.cast(tf.reshape(lengths, [-1]), tf.int32)\n"
        "    idx = tf.stack([tf.range(tf.shape(out)[0]), lengths - 1], axis=1)\n"
        "    return tf.gather_nd(out, idx)\n"
    ),
    "keras ops and a one-hot mask": (
        "    out = keras.ops.convert_to_tensor(outputs)\n"
        "    if not batch_first:\n"
        "        out = keras.ops.transpose(out, (1, 0, 2))\n"
        "    pick = keras.ops.one_hot(np.asarray(lengths) - 1, out.shape[1])[:, :, None]\n"
        "    return keras.ops.sum(out * pick, axis=1)\n"
    ),
}

# --------------------------------------------------------------------------- lstm_step

STEP_HEAD = (
    "def lstm_step(x_t, h_prev, c_prev, W, U, b):\n"
    "    sig = lambda a: 1 / (1 + np.exp(-a))\n"
    "    z = x_t @ W + h_prev @ U + b\n"
)
STEP_WRONG = {
    "gate order i, f, o, c": (
        "    i, f, o, g = np.split(z, 4, axis=1)\n"
        "    c = sig(f) * c_prev + sig(i) * np.tanh(g)\n"
        "    return sig(o) * np.tanh(c), c\n",
        ["not i, f, o, c"],
    ),
    "i and f swapped": (
        "    f, i, g, o = np.split(z, 4, axis=1)\n"
        "    c = sig(f) * c_prev + sig(i) * np.tanh(g)\n"
        "    return sig(o) * np.tanh(c), c\n",
        ["i and f are swapped"],
    ),
    "TensorFlow 1 order i, c, f, o": (
        "    i, g, f, o = np.split(z, 4, axis=1)\n"
        "    c = sig(f) * c_prev + sig(i) * np.tanh(g)\n"
        "    return sig(o) * np.tanh(c), c\n",
        ["old TensorFlow 1 order"],
    ),
    "c and h swapped": (
        "    i, f, g, o = np.split(z, 4, axis=1)\n"
        "    c = sig(f) * c_prev + sig(i) * np.tanh(g)\n"
        "    return c, sig(o) * np.tanh(c)\n",
        ["h and c are swapped"],
    ),
    "no tanh on c": (
        "    i, f, g, o = np.split(z, 4, axis=1)\n"
        "    c = sig(f) * c_prev + sig(i) * np.tanh(g)\n"
        "    return sig(o) * c, c\n",
        ["tanh of the new cell state is missing"],
    ),
    "utils.rnn's reference": (
        "    from utils.rnn import lstm_step as reference\n    return reference(x_t, h_prev, c_prev, W, U, b)\n",
        ["write it yourself"],
    ),
}
STEP_RIGHT = {
    "slices and a stable sigmoid": (
        "    H = h_prev.shape[1]\n"
        "    s = lambda a: np.exp(-np.logaddexp(0, -a))\n"
        "    i, f, g, o = (z[:, k * H:(k + 1) * H] for k in range(4))\n"
        "    c = s(f) * c_prev + s(i) * np.tanh(g)\n"
        "    return [s(o) * np.tanh(c), c]\n"
    ),
    "tensorflow arithmetic": (
        "    i, f, g, o = tf.split(tf.constant(z), 4, axis=1)\n"
        "    c = tf.sigmoid(f) * c_prev + tf.sigmoid(i) * tf.tanh(g)\n"
        "    return (tf.sigmoid(o) * tf.tanh(c)).numpy(), c.numpy()\n"
    ),
}

# --------------------------------------------------------------------------- clip_by_global_norm

CLIP_HEAD = "def clip_by_global_norm(grads, max_norm):\n    grads = [np.asarray(g, dtype=float) for g in grads]\n"
CLIP_WRONG = {
    "per tensor (clipnorm)": (
        "    norm = float(np.sqrt(sum((g ** 2).sum() for g in grads)))\n"
        "    return [g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads], norm\n",
        ["each tensor was clipped on its own"],
    ),
    "norm after clipping": (
        "    norm = float(np.sqrt(sum((g ** 2).sum() for g in grads)))\n"
        "    scale = min(1.0, max_norm / norm)\n"
        "    return [g * scale for g in grads], norm * scale\n",
        ["BEFORE clipping"],
    ),
    "no square root": (
        "    sq = float(sum((g ** 2).sum() for g in grads))\n"
        "    scale = min(1.0, max_norm / sq ** 0.5)\n"
        "    return [g * scale for g in grads], sq\n",
        ["square root of the sum of squares"],
    ),
    "always rescaled": (
        "    norm = float(np.sqrt(sum((g ** 2).sum() for g in grads)))\n"
        "    return [g * max_norm / norm for g in grads], norm\n",
        ["clipping only ever shrinks"],
    ),
    "sum of the tensors' norms": (
        "    norm = float(sum(np.linalg.norm(g) for g in grads))\n"
        "    scale = min(1.0, max_norm / norm)\n"
        "    return [g * scale for g in grads], norm\n",
        ["not the sum of the tensors' own norms"],
    ),
    "tf.clip_by_global_norm": (
        "    clipped, norm = tf.clip_by_global_norm(grads, max_norm)\n"
        "    return [c.numpy() for c in clipped], float(norm)\n",
        ["write it yourself"],
    ),
}
CLIP_RIGHT = {
    "one long vector": (
        "    flat = np.concatenate([g.ravel() for g in grads])\n"
        "    norm = np.linalg.norm(flat)\n"
        "    factor = max_norm / max(norm, max_norm)\n"
        "    return tuple(g * factor for g in grads), norm\n"
    ),
    "tensorflow ops": (
        "    ts = [tf.constant(g) for g in grads]\n"
        "    norm = tf.linalg.global_norm(ts)\n"
        "    scale = tf.minimum(1.0, max_norm / norm)\n"
        "    return [t * tf.cast(scale, t.dtype) for t in ts], norm\n"
    ),
}

# --------------------------------------------------------------------------- answer_padded_readout

ANSWER_WRONG, ANSWER_RIGHT = answer_tables(
    "answer_padded_readout",
    {
        "'a'": "without a mask",
        "'c'": "same state after the padding",
        "'d'": "diluted by its padding",
        "'e'": "not one of the options",
    },
    ["'B'", "' b '"],
)


WRONG = {
    **table("expected_keras_lstm_shapes", SHAPES_WRONG, head=SHAPES_HEAD),
    **table("lengths_to_mask", MASK_WRONG, head=MASK_HEAD),
    **table("last_real_output", LAST_WRONG, head=LAST_HEAD),
    **table("lstm_step", STEP_WRONG, head=STEP_HEAD),
    **table("clip_by_global_norm", CLIP_WRONG, head=CLIP_HEAD),
    **ANSWER_WRONG,
}
RIGHT = {
    **table("expected_keras_lstm_shapes", SHAPES_RIGHT, head=SHAPES_HEAD),
    **table("lengths_to_mask", MASK_RIGHT, head=MASK_HEAD),
    **table("last_real_output", LAST_RIGHT, head=LAST_HEAD),
    **table("lstm_step", STEP_RIGHT, head=STEP_HEAD),
    **table("clip_by_global_norm", CLIP_RIGHT, head=CLIP_HEAD),
    **ANSWER_RIGHT,
}

# every WRONG variant fails a visible case too (none is caught by the hidden tests alone)
globals().update(exercise_tests(STEM, EXERCISES, WRONG, RIGHT, requires="tensorflow", hidden_only={}))


# --------------------------------------------------------------------------- the padded-classifier bar


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_masked_classifier_clears_the_bar(padding):
    """The lesson's budget (2 epochs) gives the masked LSTM >= 90 % test accuracy on lengths 3 to 20,
    padded either way."""
    from utils import metrics
    from utils.data import order
    from utils.tf_utils import PaddedLSTMClassifier, predict_padded_proba, train_padded_classifier

    task = order.load_variable_order_task(seed=0, padding=padding)
    model = PaddedLSTMClassifier(len(order.ORDER_VOCAB), read="mask")
    train_padded_classifier(model, task["train"], epochs=2, lr=1e-2, batch_size=64, seed=0, progress=False)
    X_test, y_test, lengths = task["test"]
    pred = (predict_padded_proba(model, X_test) >= 0.5).astype(int)
    assert metrics.accuracy_score(y_test, pred) >= 0.90
