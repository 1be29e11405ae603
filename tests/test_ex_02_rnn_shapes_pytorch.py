"""Exercise tests of 02_rnn_shapes_pytorch: its variants; the tests are those of tests/exercise_support.py."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.exercise_support import answer_tables, exercise_tests, table

STEM = "02_rnn_shapes_pytorch"
EXERCISES = ["expected_rnn_shapes", "make_rnn", "check_input", "load_numpy_weights", "answer_constructor"]


# --------------------------------------------------------------------------- expected_rnn_shapes

SHAPES_HEAD = (
    "def expected_rnn_shapes(seq_len, batch, input_size, hidden_size, num_layers=1, bidirectional=False, "
    "batch_first=False):\n"
)

SHAPES_WRONG = {
    "ignores batch_first": (
        "    D = 2 if bidirectional else 1\n"
        "    return (seq_len, batch, D * hidden_size), (D * num_layers, batch, hidden_size)\n",
        ["batch_first is mixed up"],
    ),
    "batch_first applied to h_n too": (
        "    D = 2 if bidirectional else 1\n"
        "    if batch_first:\n"
        "        return (batch, seq_len, D * hidden_size), (batch, D * num_layers, hidden_size)\n"
        "    return (seq_len, batch, D * hidden_size), (D * num_layers, batch, hidden_size)\n",
        ["h_n ignores batch_first"],
    ),
    "h_n without num_layers": (
        "    D = 2 if bidirectional else 1\n"
        "    out = (batch, seq_len, D * hidden_size) if batch_first else (seq_len, batch, D * hidden_size)\n"
        "    return out, (D, batch, hidden_size)\n",
        ["you left out num_layers"],
    ),
    "h_n without the direction factor": (
        "    D = 2 if bidirectional else 1\n"
        "    out = (batch, seq_len, D * hidden_size) if batch_first else (seq_len, batch, D * hidden_size)\n"
        "    return out, (num_layers, batch, hidden_size)\n",
        ["direction factor D"],
    ),
    "output without D": (
        "    D = 2 if bidirectional else 1\n"
        "    out = (batch, seq_len, hidden_size) if batch_first else (seq_len, batch, hidden_size)\n"
        "    return out, (D * num_layers, batch, hidden_size)\n",
        ["concatenates both directions"],
    ),
    "hard-coded worked case": ("    return (4, 2, 3), (1, 2, 3)\n", ["expected"]),
    "input_size on the last axis": (
        "    D = 2 if bidirectional else 1\n"
        "    out = (batch, seq_len, D * input_size) if batch_first else (seq_len, batch, D * input_size)\n"
        "    return out, (D * num_layers, batch, hidden_size)\n",
        ["not input_size"],
    ),
}

SHAPES_RIGHT = {
    "lists and a lookup": (
        "    first_two = [batch, seq_len] if batch_first else [seq_len, batch]\n"
        "    directions = {False: 1, True: 2}[bool(bidirectional)]\n"
        "    return first_two + [directions * hidden_size], [directions * num_layers, batch, hidden_size]\n"
    ),
    "numpy ints": (
        "    import numpy as np\n"
        "    D = np.int64(1 + int(bidirectional))\n"
        "    out = (seq_len, batch, int(D * hidden_size))\n"
        "    if batch_first:\n"
        "        out = (out[1], out[0], out[2])\n"
        "    return (out, (D * num_layers, np.int64(batch), hidden_size))\n"
    ),
}

# issue 11: "without building a layer" is checked
SHAPES_WRONG.update(
    {
        "running a real layer": (
            "    import torch\n"
            "    layer = torch.nn.RNN(input_size, hidden_size, num_layers, batch_first=batch_first, "
            "bidirectional=bidirectional)\n"
            "    x = torch.zeros((batch, seq_len, input_size) if batch_first else (seq_len, batch, input_size))\n"
            "    out, h = layer(x)\n"
            "    return tuple(out.shape), tuple(h.shape)\n",
            ["write it yourself", "torch.nn.RNN", "D * hidden_size"],
        ),
        "the course adapter": (
            "    from utils.torch_utils import rnn_output_shapes\n"
            "    return rnn_output_shapes(seq_len, batch, input_size, hidden_size, num_layers, bidirectional, "
            "batch_first)\n",
            ["utils.torch_utils"],
        ),
    }
)


# --------------------------------------------------------------------------- make_rnn

MAKE_WRONG = {
    "swapped arguments": (
        "def make_rnn(input_size, hidden_size):\n"
        "    return torch.nn.RNN(hidden_size, input_size, num_layers=2, batch_first=True)\n",
        ["arguments are swapped"],
    ),
    "time-major (batch_first missing)": (
        "def make_rnn(input_size, hidden_size):\n    return torch.nn.RNN(input_size, hidden_size, num_layers=2)\n",
        ["batch_first=True"],
    ),
    "one layer": (
        "def make_rnn(input_size, hidden_size):\n    return torch.nn.RNN(input_size, hidden_size, batch_first=True)\n",
        ["num_layers=2"],
    ),
    "bidirectional": (
        "def make_rnn(input_size, hidden_size):\n"
        "    return torch.nn.RNN(input_size, hidden_size, 2, batch_first=True, bidirectional=True)\n",
        ["bidirectional=False"],
    ),
    "a cell instead of a layer": (
        "def make_rnn(input_size, hidden_size):\n    return torch.nn.RNNCell(input_size, hidden_size)\n",
        ["torch.nn.RNN", "RNNCell"],
    ),
    "returns the output instead of the layer": (
        "def make_rnn(input_size, hidden_size):\n"
        "    layer = torch.nn.RNN(input_size, hidden_size, 2, batch_first=True)\n"
        "    return layer(torch.zeros(1, 1, input_size))\n",
        ["should be a RNN"],
    ),
    "hard-coded sizes": (
        "def make_rnn(input_size, hidden_size):\n    return torch.nn.RNN(10, 20, num_layers=2, batch_first=True)\n",
        ["input_size"],
    ),
}

# issue 11: a relu layer passed before
MAKE_WRONG["relu instead of tanh"] = (
    "def make_rnn(input_size, hidden_size):\n"
    "    return torch.nn.RNN(input_size, hidden_size, num_layers=2, batch_first=True,"
    " nonlinearity='relu')\n",
    ["relu", "default tanh"],
)

MAKE_RIGHT = {
    "keywords": (
        "from torch import nn\n"
        "def make_rnn(input_size, hidden_size):\n"
        "    return nn.RNN(input_size=input_size, hidden_size=hidden_size, num_layers=2,\n"
        "                  nonlinearity='tanh', bias=True, batch_first=True, bidirectional=False)\n"
    ),
    "positional, then moved to the device": (
        "from utils.torch_utils import get_device\n"
        "def make_rnn(input_size, hidden_size):\n"
        "    layer = torch.nn.RNN(input_size, hidden_size, 2, 'tanh', True, True)\n"
        "    return layer.to(get_device())\n"
    ),
}


# --------------------------------------------------------------------------- check_input

CHECK_WRONG = {
    "raises TypeError": (
        "def check_input(layer, x):\n"
        "    if x.shape[-1] != layer.input_size:\n"
        "        raise TypeError(f'expected {layer.input_size} features, got {x.shape[-1]}')\n",
        ["should raise ValueError", "TypeError"],
    ),
    "message without the sizes": (
        "def check_input(layer, x):\n"
        "    if x.shape[-1] != layer.input_size:\n"
        "        raise ValueError('wrong number of features')\n",
        ["does not mention", "'8'"],
    ),
    "looks at the wrong axis": (
        "def check_input(layer, x):\n"
        "    if x.shape[1] != layer.input_size:\n"
        "        raise ValueError(f'expected {layer.input_size} features, got {x.shape[1]}')\n",
        ["should accept the data"],
    ),
    "compares with hidden_size": (
        "def check_input(layer, x):\n"
        "    if x.shape[-1] != layer.hidden_size:\n"
        "        raise ValueError(f'expected {layer.hidden_size} features, got {x.shape[-1]}')\n",
        ["should accept the data"],
    ),
    "never raises": ("def check_input(layer, x):\n    return x.shape[-1] == layer.input_size\n", ["raised nothing"]),
    "assert instead of an error": (
        "def check_input(layer, x):\n    assert x.shape[-1] == layer.input_size, (layer.input_size, x.shape[-1])\n",
        ["should raise ValueError", "AssertionError"],
    ),
}

# issue 11: the forms the instructions name (numpy, unbatched) have a visible case
CHECK_WRONG["tensors only (size(-1))"] = (
    "def check_input(layer, x):\n"
    "    if x.size(-1) != layer.input_size:\n"
    "        raise ValueError(f'expected {layer.input_size}, got {x.size(-1)}')\n",
    ["numpy x", "x.shape[-1]"],
)
CHECK_WRONG["batched only (x.shape[2])"] = (
    "def check_input(layer, x):\n"
    "    if x.shape[2] != layer.input_size:\n"
    "        raise ValueError(f'expected {layer.input_size}, got {x.shape[2]}')\n",
    ["unbatched"],
)

CHECK_RIGHT = {
    "numpy shape, returns True": (
        "import numpy as np\n"
        "def check_input(layer, x):\n"
        "    features = np.shape(x)[-1]\n"
        "    expected = layer.weight_ih_l0.shape[1]\n"
        "    if features == expected:\n"
        "        return True\n"
        "    raise ValueError('expected input_size=' + str(expected) + ' but got ' + str(features) + ' features')\n"
    ),
    "size(-1) and a ValueError subclass": (
        "class FeatureSizeError(ValueError):\n"
        "    pass\n"
        "def check_input(layer, x):\n"
        "    got = x.size(-1) if hasattr(x, 'size') and callable(x.size) else x.shape[-1]\n"
        "    if got != layer.input_size:\n"
        "        raise FeatureSizeError('%d features were expected; x has %d' % (layer.input_size, got))\n"
    ),
}


# --------------------------------------------------------------------------- load_numpy_weights

LOAD_HEAD = (
    "def load_numpy_weights(layer, W_xh, W_hh, b_h):\n"
    "    f32 = lambda a: torch.tensor(np.asarray(a), dtype=torch.float32)\n"
)

LOAD_WRONG = {
    "W_hh not transposed": (
        "    with torch.no_grad():\n"
        "        layer.weight_ih_l0.copy_(f32(W_xh).T)\n"
        "        layer.weight_hh_l0.copy_(f32(W_hh))\n"
        "        layer.bias_ih_l0.copy_(f32(b_h))\n"
        "        layer.bias_hh_l0.zero_()\n",
        ["W_hh was copied without the transpose"],
    ),
    "W_xh not transposed": (
        "    with torch.no_grad():\n"
        "        layer.weight_ih_l0.copy_(f32(W_xh))\n"
        "        layer.weight_hh_l0.copy_(f32(W_hh).T)\n"
        "        layer.bias_ih_l0.copy_(f32(b_h))\n"
        "        layer.bias_hh_l0.zero_()\n",
        ["W_xh.T"],
    ),
    "W_xh replaced without the transpose": (
        "    layer.weight_ih_l0 = torch.nn.Parameter(f32(W_xh))\n"
        "    with torch.no_grad():\n"
        "        layer.weight_hh_l0.copy_(f32(W_hh).T)\n"
        "        layer.bias_ih_l0.copy_(f32(b_h))\n"
        "        layer.bias_hh_l0.zero_()\n",
        ["(hidden, input)"],
    ),
    "bias in both": (
        "    with torch.no_grad():\n"
        "        layer.weight_ih_l0.copy_(f32(W_xh).T)\n"
        "        layer.weight_hh_l0.copy_(f32(W_hh).T)\n"
        "        layer.bias_ih_l0.copy_(f32(b_h))\n"
        "        layer.bias_hh_l0.copy_(f32(b_h))\n",
        ["counts twice"],
    ),
    "one bias only": (
        "    with torch.no_grad():\n"
        "        layer.weight_ih_l0.copy_(f32(W_xh).T)\n"
        "        layer.weight_hh_l0.copy_(f32(W_hh).T)\n"
        "        layer.bias_ih_l0.copy_(f32(b_h))\n",
        ["bias_hh_l0 kept its random initial values"],
    ),
    "float64 parameters": (
        "    layer.weight_ih_l0.data = torch.tensor(np.asarray(W_xh).T)\n"
        "    layer.weight_hh_l0.data = torch.tensor(np.asarray(W_hh).T)\n"
        "    layer.bias_ih_l0.data = torch.tensor(np.asarray(b_h))\n"
        "    layer.bias_hh_l0.data = torch.zeros(len(b_h), dtype=torch.float64)\n",
        ["float32"],
    ),
    "new layer returned, argument untouched": (
        "    new = torch.nn.RNN(W_xh.shape[0], W_xh.shape[1])\n"
        "    with torch.no_grad():\n"
        "        new.weight_ih_l0.copy_(f32(W_xh).T)\n"
        "        new.weight_hh_l0.copy_(f32(W_hh).T)\n"
        "        new.bias_ih_l0.copy_(f32(b_h))\n"
        "        new.bias_hh_l0.zero_()\n"
        "    return new\n",
        ["the biases were left as they were"],
    ),
}

# issue 11: copying outside torch.no_grad() got a hint about transposes
LOAD_WRONG["copied outside torch.no_grad()"] = (
    "    layer.weight_ih_l0.copy_(f32(W_xh).T)\n"
    "    layer.weight_hh_l0.copy_(f32(W_hh).T)\n"
    "    layer.bias_ih_l0.copy_(f32(b_h))\n"
    "    layer.bias_hh_l0.zero_()\n",
    ["torch.no_grad()"],
)

LOAD_RIGHT = {
    "split bias, state_dict": (
        "    state = layer.state_dict()\n"
        "    state['weight_ih_l0'] = f32(np.transpose(W_xh))\n"
        "    state['weight_hh_l0'] = f32(np.transpose(W_hh))\n"
        "    state['bias_ih_l0'] = f32(np.asarray(b_h) / 2)\n"
        "    state['bias_hh_l0'] = f32(np.asarray(b_h) / 2)\n"
        "    layer.load_state_dict(state)\n"
    ),
    "bias in bias_hh, Parameters replaced": (
        "    layer.weight_ih_l0 = torch.nn.Parameter(f32(W_xh).t().contiguous())\n"
        "    layer.weight_hh_l0 = torch.nn.Parameter(f32(W_hh).t().contiguous())\n"
        "    layer.bias_ih_l0 = torch.nn.Parameter(torch.zeros(len(b_h)))\n"
        "    layer.bias_hh_l0 = torch.nn.Parameter(f32(b_h))\n"
        "    return None\n"
    ),
    "the course adapter": (
        "    from utils.torch_utils import copy_numpy_weights\n    return copy_numpy_weights(layer, W_xh, W_hh, b_h)\n"
    ),
}


# --------------------------------------------------------------------------- answer_constructor

ANSWER_WRONG, ANSWER_RIGHT = answer_tables(
    "answer_constructor",
    {"'a'": "no RNNLayer", "'b'": "swapped", "'d'": "required", "'e'": "not one of the options"},
    ["'C'", "' c '"],
)


WRONG = {
    **table("expected_rnn_shapes", SHAPES_WRONG, head=SHAPES_HEAD),
    **table("make_rnn", MAKE_WRONG),
    **table("check_input", CHECK_WRONG),
    **table("load_numpy_weights", LOAD_WRONG, head=LOAD_HEAD),
    **ANSWER_WRONG,
}
RIGHT = {
    **table("expected_rnn_shapes", SHAPES_RIGHT, head=SHAPES_HEAD),
    **table("make_rnn", MAKE_RIGHT),
    **table("check_input", CHECK_RIGHT),
    **table("load_numpy_weights", LOAD_RIGHT, head=LOAD_HEAD),
    **ANSWER_RIGHT,
}

# the nb fixture and the shared tests (tests/exercise_support.py); check_input's and
# load_numpy_weights' cells catch the stub's NotImplementedError and report it
# the WRONG variants that no visible case can catch, and why
HIDDEN_ONLY = {
    ("make_rnn", "hard-coded sizes"): "an answer fitted to the visible sizes; the hidden tests try other sizes"
}

globals().update(exercise_tests(STEM, EXERCISES, WRONG, RIGHT, stub_error_in_message=True, hidden_only=HIDDEN_ONLY))
