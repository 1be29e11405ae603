"""Exercise tests of 01_hidden_state: the test cells accept every correct answer and teach on wrong ones.

For each graded exercise: the source solution passes; the release stub fails;
typical wrong answers fail with a message naming the mistake; correct answers
written differently (loops, lists, einsum, Python floats) pass.
"""

from __future__ import annotations

from tests.exercise_support import answer_tables, exercise_tests, table

STEM = "01_hidden_state"
EXERCISES = ["rnn_step", "rnn_forward", "answer_why_rnn"]


# ---------------------------------------------------------------- rnn_step

STEP_WRONG = {
    "no bias": (
        "def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n    return np.tanh(x_t @ W_xh + h_prev @ W_hh)\n",
        ["bias"],
    ),
    "no tanh": (
        "def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n    return x_t @ W_xh + h_prev @ W_hh + b_h\n",
        ["tanh is missing"],
    ),
    "sigmoid": (
        "def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
        "    return 1 / (1 + np.exp(-(x_t @ W_xh + h_prev @ W_hh + b_h)))\n",
        ["sigmoid"],
    ),
    "h_prev ignored": (
        "def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n    return np.tanh(x_t @ W_xh + b_h)\n",
        ["ignored h_prev"],
    ),
    "W_hh transposed": (
        "def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n    return np.tanh(x_t @ W_xh + h_prev @ W_hh.T + b_h)\n",
        ["transposed"],
    ),
    "modifies its input": (
        "def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
        "    h_prev += 0.0 * h_prev\n"
        "    x_t *= 1.0\n"
        "    b_h += 1e-3\n"
        "    return np.tanh(x_t @ W_xh + h_prev @ W_hh + b_h - 1e-3)\n",
        ["in place"],
    ),
    "returns None": (
        "def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n    h = np.tanh(x_t @ W_xh + h_prev @ W_hh + b_h)\n",
        ["return"],
    ),
    # issue 11: the reference is not an answer
    "the reference does it": (
        "from utils.rnn import rnn_step as _reference\n"
        "def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
        "    return _reference(x_t, h_prev, W_xh, W_hh, b_h)\n",
        ["write it yourself", "utils.rnn.rnn_step", "np.tanh(x_t @ W_xh"],
    ),
    "the reference module does it": (
        "import utils.rnn\n"
        "def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
        "    return utils.rnn.rnn_step(x_t, h_prev, W_xh, W_hh, b_h)\n",
        ["utils.rnn.rnn_step"],
    ),
}

STEP_RIGHT = {
    "np.dot": (
        "def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
        "    return np.tanh(np.dot(x_t, W_xh) + np.dot(h_prev, W_hh) + b_h)\n"
    ),
    "python loops and lists": (
        "import math\n"
        "def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
        "    rows = []\n"
        "    for b in range(len(x_t)):\n"
        "        row = []\n"
        "        for j in range(len(b_h)):\n"
        "            s = float(b_h[j])\n"
        "            s += sum(float(x_t[b][i]) * float(W_xh[i][j]) for i in range(len(W_xh)))\n"
        "            s += sum(float(h_prev[b][k]) * float(W_hh[k][j]) for k in range(len(W_hh)))\n"
        "            row.append(math.tanh(s))\n"
        "        rows.append(row)\n"
        "    return rows\n"
    ),
    "einsum, float32": (
        "def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
        "    z = np.einsum('bi,ih->bh', x_t, W_xh) + np.einsum('bk,kh->bh', h_prev, W_hh) + b_h[None, :]\n"
        "    return np.tanh(z)\n"
    ),
    "via exp": (
        "def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
        "    z = x_t @ W_xh + h_prev @ W_hh + b_h\n"
        "    return 2.0 / (1.0 + np.exp(-2.0 * z)) - 1.0\n"
    ),
}


# ------------------------------------------------------------- rnn_forward

FORWARD_WRONG = {
    "only the last step": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    h = h0\n"
        "    for x_t in x:\n"
        "        h = rnn_step(x_t, h, W_xh, W_hh, b_h)\n"
        "    return h, h\n",
        ["only the last step"],
    ),
    "batch-major stacking": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    h, states = h0, []\n"
        "    for x_t in x:\n"
        "        h = rnn_step(x_t, h, W_xh, W_hh, b_h)\n"
        "        states.append(h)\n"
        "    return np.stack(states, axis=1), h\n",
        ["batch-major"],
    ),
    "loops over axis 1": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    h, states = h0, []\n"
        "    for t in range(x.shape[1]):\n"
        "        h = rnn_step(x[:, t], h, W_xh, W_hh, b_h)\n"
        "        states.append(h)\n"
        "    return np.stack(states), h\n",
        ["time-major"],
    ),
    "restarts from h0": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    states = [rnn_step(x_t, h0, W_xh, W_hh, b_h) for x_t in x]\n"
        "    return np.stack(states), states[-1]\n",
        ["starts again from h0"],
    ),
    "shifted by one": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    h, states = h0, []\n"
        "    for x_t in x:\n"
        "        states.append(h)\n"
        "        h = rnn_step(x_t, h, W_xh, W_hh, b_h)\n"
        "    return np.stack(states), h\n",
        ["shifted by one"],
    ),
    "h_last is the first state": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    h, states = h0, []\n"
        "    for x_t in x:\n"
        "        h = rnn_step(x_t, h, W_xh, W_hh, b_h)\n"
        "        states.append(h)\n"
        "    return np.stack(states), states[0]\n",
        ["LAST step"],
    ),
    "tanh missing in the step": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    h, states = h0, []\n"
        "    for x_t in x:\n"
        "        h = x_t @ W_xh + h @ W_hh + b_h\n"
        "        states.append(h)\n"
        "    return np.stack(states), h\n",
        ["outputs", "expected"],
    ),
    "returns only outputs": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    h, states = h0, []\n"
        "    for x_t in x:\n"
        "        h = rnn_step(x_t, h, W_xh, W_hh, b_h)\n"
        "        states.append(h)\n"
        "    return np.stack(states)\n",
        ["return both"],
    ),
    # issue 11: `from utils.rnn import rnn_step, rnn_forward` scored 6/6
    "the reference does it": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    from utils.rnn import rnn_forward as ref\n"
        "    return ref(x, h0, W_xh, W_hh, b_h)\n",
        ["write it yourself", "utils.rnn"],
    ),
}

FORWARD_RIGHT = {
    "preallocated array, own tanh": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    x = np.asarray(x)\n"
        "    outputs = np.zeros((x.shape[0], x.shape[1], W_hh.shape[0]))\n"
        "    h = np.array(h0, dtype=float)\n"
        "    for t in range(x.shape[0]):\n"
        "        h = np.tanh(x[t] @ W_xh + h @ W_hh + b_h)\n"
        "        outputs[t] = h\n"
        "    return outputs, outputs[-1]\n"
    ),
    "nested lists, returned as a list": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    outputs, h = [], h0\n"
        "    for t in range(len(x)):\n"
        "        h = rnn_step(x[t], h, W_xh, W_hh, b_h)\n"
        "        outputs.append(np.asarray(h).tolist())\n"
        "    return [outputs, outputs[-1]]\n"
    ),
    "batch-major internally, transposed back": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    xb = np.transpose(x, (1, 0, 2))\n"
        "    h, states = h0, []\n"
        "    for t in range(xb.shape[1]):\n"
        "        h = rnn_step(xb[:, t, :], h, W_xh, W_hh, b_h)\n"
        "        states.append(h)\n"
        "    out = np.stack(states, axis=1).transpose(1, 0, 2)\n"
        "    return out, out[-1].copy()\n"
    ),
}


# ---------------------------------------------------------- answer_why_rnn

ANSWER_WRONG, ANSWER_RIGHT = answer_tables(
    "answer_why_rnn",
    {
        '"a"': "one step at a time",
        '"b"': "convolution",
        '"d"': "the opposite",
        '"e"': "not one of the options",
        "3": "one letter in quotes",
    },
    ['"C"', '" c "', "'c'"],
)


WRONG = {**table("rnn_step", STEP_WRONG), **table("rnn_forward", FORWARD_WRONG), **ANSWER_WRONG}
RIGHT = {**table("rnn_step", STEP_RIGHT), **table("rnn_forward", FORWARD_RIGHT), **ANSWER_RIGHT}

# the nb fixture and the shared tests (tests/exercise_support.py)
globals().update(exercise_tests(STEM, EXERCISES, WRONG, RIGHT, hidden_only={}))


def test_rnn_forward_batch_major_mixup_is_named_when_shapes_agree(nb):
    """With seq_len == batch only the values give the mix-up away; the hidden test still names it."""
    source, _ = WRONG[("rnn_forward", "loops over axis 1")]
    square_only = source.replace("def rnn_forward", "def _mixed").replace(
        "np.stack(states), h", "np.stack(states), h"
    ) + (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    if np.shape(x)[0] == np.shape(x)[1]:\n"
        "        return _mixed(x, h0, W_xh, W_hh, b_h)\n"
        "    h, states = h0, []\n"
        "    for x_t in x:\n"
        "        h = rnn_step(x_t, h, W_xh, W_hh, b_h)\n"
        "        states.append(h)\n"
        "    return np.stack(states), h\n"
    )
    results = nb.assert_fails("rnn_forward", square_only, message_contains=["time-major and batch-major are mixed up"])
    assert not any("Traceback" in r.message for r in results.values())
