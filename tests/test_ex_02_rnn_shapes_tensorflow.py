"""Exercise tests of 02_rnn_shapes_tensorflow: its variants; the tests are those of tests/exercise_support.py."""

from __future__ import annotations

import pytest

pytest.importorskip("keras")

from tests.exercise_support import answer_tables, exercise_tests, table

STEM = "02_rnn_shapes_tensorflow"
EXERCISES = ["expected_simple_rnn_shapes", "make_rnn", "check_input", "load_numpy_weights", "answer_constructor"]


# --------------------------------------------------------------------------- expected_simple_rnn_shapes

SHAPES_HEAD = (
    "def expected_simple_rnn_shapes(batch, time, features, units, return_sequences=False, return_state=False):\n"
)

SHAPES_WRONG = {
    "time-major": (
        "    out = (time, batch, units) if return_sequences else (batch, units)\n"
        "    return (out, (batch, units)) if return_state else out\n",
        ["batch-major"],
    ),
    "ignores return_sequences": (
        "    out = (batch, time, units)\n    return (out, (batch, units)) if return_state else out\n",
        ["keeps only the last step"],
    ),
    "always a pair": (
        "    out = (batch, time, units) if return_sequences else (batch, units)\n    return out, (batch, units)\n",
        ["returns only its output"],
    ),
    "ignores return_state": (
        "    return (batch, time, units) if return_sequences else (batch, units)\n",
        ["should return a pair"],
    ),
    "PyTorch-style state with a layer axis": (
        "    out = (batch, time, units) if return_sequences else (batch, units)\n"
        "    return (out, (1, batch, units)) if return_state else out\n",
        ["no layer axis"],
    ),
    "state keeps every step": (
        "    out = (batch, time, units) if return_sequences else (batch, units)\n"
        "    return (out, out) if return_state else out\n",
        ["last step only"],
    ),
    "features instead of units": (
        "    out = (batch, time, features) if return_sequences else (batch, features)\n"
        "    return (out, (batch, units)) if return_state else out\n",
        ["number of units"],
    ),
}

SHAPES_RIGHT = {
    "lists and slicing": (
        "    full = [batch, time, units]\n"
        "    output_shape = full if return_sequences else full[::2]\n"
        "    if not return_state:\n"
        "        return output_shape\n"
        "    return [output_shape, [batch, units]]\n"
    ),
    "numpy ints": (
        "    b, t, u = np.int64(batch), np.int64(time), np.int64(units)\n"
        "    out = (b, t, u) if return_sequences else (b, u)\n"
        "    return (out, (b, u)) if return_state else out\n"
    ),
}


# --------------------------------------------------------------------------- make_rnn

# issue 11: "without building a layer" is checked
SHAPES_WRONG_BUILDS = {
    "calling a real layer": (
        "    layer = keras.layers.SimpleRNN(units, return_sequences=return_sequences, return_state=return_state)\n"
        "    result = layer(np.zeros((batch, time, features), 'float32'))\n"
        "    if return_state:\n"
        "        return result[0].shape, result[1].shape\n"
        "    return result.shape\n",
        ["write it yourself", "keras.layers.SimpleRNN"],
    ),
    "the course adapter": (
        "    from utils.tf_utils import rnn_output_shapes\n"
        "    return rnn_output_shapes(batch, time, features, units, return_sequences, return_state)\n",
        ["utils.tf_utils"],
    ),
}

MAKE_WRONG = {
    "no return_state": (
        "def make_rnn(units):\n    return keras.layers.SimpleRNN(units, return_sequences=True)\n",
        ["return_state=True"],
    ),
    "no return_sequences": (
        "def make_rnn(units):\n    return keras.layers.SimpleRNN(units, return_state=True)\n",
        ["return_sequences=True"],
    ),
    "a cell instead of a layer": (
        "def make_rnn(units):\n    return keras.layers.SimpleRNNCell(units)\n",
        ["should be a SimpleRNN"],
    ),
    "wrapped in a model": (
        "def make_rnn(units):\n"
        "    return keras.Sequential([keras.layers.SimpleRNN(units, return_sequences=True, return_state=True)])\n",
        ["should be a SimpleRNN"],
    ),
    "hard-coded units": (
        "def make_rnn(units):\n    return keras.layers.SimpleRNN(20, return_sequences=True, return_state=True)\n",
        ["units"],
    ),
}

# issue 11: a relu layer passed before
MAKE_WRONG["relu instead of tanh"] = (
    "def make_rnn(units):\n"
    "    return keras.layers.SimpleRNN(units, activation='relu', return_sequences=True,"
    " return_state=True)\n",
    ["relu", "default tanh"],
)

MAKE_RIGHT = {
    "keywords": (
        "def make_rnn(units):\n"
        "    return keras.layers.SimpleRNN(units=units, activation='tanh', use_bias=True,\n"
        "                                  return_state=True, return_sequences=True)\n"
    ),
    "tf.keras spelling": (
        "import tensorflow as tf\n"
        "def make_rnn(units):\n"
        "    layer = tf.keras.layers.SimpleRNN(int(units), return_sequences=True, return_state=True)\n"
        "    return layer\n"
    ),
}


# --------------------------------------------------------------------------- check_input

CHECK_WRONG = {
    "raises TypeError": (
        "def check_input(layer, x):\n"
        "    n = layer.cell.kernel.shape[0]\n"
        "    if x.shape[-1] != n:\n"
        "        raise TypeError(f'expected {n} features, got {x.shape[-1]}')\n",
        ["should raise ValueError", "TypeError"],
    ),
    "message without the sizes": (
        "def check_input(layer, x):\n"
        "    if x.shape[-1] != layer.cell.kernel.shape[0]:\n"
        "        raise ValueError('wrong number of features')\n",
        ["does not mention", "'8'"],
    ),
    "compares with units": (
        "def check_input(layer, x):\n"
        "    if x.shape[-1] != layer.units:\n"
        "        raise ValueError(f'expected {layer.units} features, got {x.shape[-1]}')\n",
        ["should accept the data"],
    ),
    "time-major thinking (axis 0)": (
        "def check_input(layer, x):\n"
        "    n = layer.cell.kernel.shape[0]\n"
        "    if x.shape[0] != n:\n"
        "        raise ValueError(f'expected {n} features, got {x.shape[0]}')\n",
        ["should accept the data"],
    ),
    "never raises": (
        "def check_input(layer, x):\n    return x.shape[-1] == layer.cell.kernel.shape[0]\n",
        ["raised nothing"],
    ),
}

CHECK_RIGHT = {
    "get_weights and np.shape": (
        "def check_input(layer, x):\n"
        "    expected = layer.get_weights()[0].shape[0]\n"
        "    got = np.shape(x)[2]\n"
        "    if got == expected:\n"
        "        return True\n"
        "    raise ValueError('expected ' + str(expected) + ' features but got ' + str(got))\n"
    ),
    "kernel variable and a ValueError subclass": (
        "class FeatureSizeError(ValueError):\n"
        "    pass\n"
        "def check_input(layer, x):\n"
        "    kernel = [w for w in layer.weights if w.path.endswith('/kernel') and 'recurrent' not in w.path][0]\n"
        "    n, m = int(kernel.shape[0]), int(x.shape[-1])\n"
        "    if n != m:\n"
        "        raise FeatureSizeError('%d features expected, %d given' % (n, m))\n"
    ),
}


# --------------------------------------------------------------------------- load_numpy_weights

LOAD_HEAD = "def load_numpy_weights(layer, W_xh, W_hh, b_h):\n"

LOAD_WRONG = {
    "W_hh transposed (PyTorch habit)": (
        "    layer.set_weights([W_xh, np.transpose(W_hh), b_h])\n",
        ["W_hh was transposed"],
    ),
    "W_xh transposed (PyTorch habit)": ("    layer.set_weights([np.transpose(W_xh), W_hh, b_h])\n", ["no transpose"]),
    "both transposed": ("    layer.set_weights([np.asarray(W_xh).T, np.asarray(W_hh).T, b_h])\n", ["no transpose"]),
    "bias left out": (
        "    layer.cell.kernel.assign(W_xh)\n    layer.cell.recurrent_kernel.assign(W_hh)\n",
        ["bias is missing"],
    ),
    "bias added twice": ("    layer.set_weights([W_xh, W_hh, 2 * np.asarray(b_h)])\n", ["single bias"]),
    "PyTorch's two biases": ("    layer.set_weights([W_xh, W_hh, b_h, np.zeros_like(b_h)])\n", ["three weights"]),
    "recurrent kernel not copied": (
        "    layer.cell.kernel.assign(W_xh)\n    layer.cell.bias.assign(b_h)\n",
        ["recurrent weights were not copied"],
    ),
}

LOAD_RIGHT = {
    "assign each variable": (
        "    cell = layer.cell\n"
        "    cell.kernel.assign(np.asarray(W_xh, dtype='float32'))\n"
        "    cell.recurrent_kernel.assign(tf.constant(W_hh, dtype=tf.float32))\n"
        "    cell.bias.assign(list(b_h))\n"
    ),
    "by weight path": (
        "    values = {'recurrent_kernel': W_hh, 'kernel': W_xh, 'bias': b_h}\n"
        "    for w in layer.weights:\n"
        "        w.assign(np.asarray(values[w.path.split('/')[-1]], dtype='float32'))\n"
        "    return layer\n"
    ),
    "the course adapter": (
        "    from utils.tf_utils import copy_numpy_weights\n    copy_numpy_weights(layer, W_xh, W_hh, b_h)\n"
    ),
}


# --------------------------------------------------------------------------- answer_constructor

ANSWER_WRONG, ANSWER_RIGHT = answer_tables(
    "answer_constructor",
    {"'a'": "no RNNLayer", "'c'": "activation", "'d'": "required", "'x'": "not one of the options"},
    ["'B'", "'b '"],
)


WRONG = {
    **table("expected_simple_rnn_shapes", {**SHAPES_WRONG, **SHAPES_WRONG_BUILDS}, head=SHAPES_HEAD),
    **table("make_rnn", MAKE_WRONG),
    **table("check_input", CHECK_WRONG),
    **table("load_numpy_weights", LOAD_WRONG, head=LOAD_HEAD),
    **ANSWER_WRONG,
}
RIGHT = {
    **table("expected_simple_rnn_shapes", SHAPES_RIGHT, head=SHAPES_HEAD),
    **table("make_rnn", MAKE_RIGHT),
    **table("check_input", CHECK_RIGHT),
    **table("load_numpy_weights", LOAD_RIGHT, head=LOAD_HEAD),
    **ANSWER_RIGHT,
}

# the nb fixture and the shared tests (tests/exercise_support.py); check_input's and
# load_numpy_weights' cells catch the stub's NotImplementedError and report it
# the WRONG variants that no visible case can catch, and why
HIDDEN_ONLY = {
    ("make_rnn", "hard-coded units"): "an answer fitted to the visible sizes; the hidden tests try other sizes"
}

globals().update(exercise_tests(STEM, EXERCISES, WRONG, RIGHT, stub_error_in_message=True, hidden_only=HIDDEN_ONLY))
