"""Exercise tests of 01_hidden_state: the test cells accept every correct answer and teach on wrong ones.

For each graded exercise: the source solution passes; the release stub fails;
typical wrong answers fail with a message naming the mistake; correct answers
written differently (loops, lists, einsum, Python floats) pass.
"""

from __future__ import annotations

import pytest

from tests.harness import exercise_notebook

STEM = "01_hidden_state"


@pytest.fixture(scope="module")
def nb():
    return exercise_notebook(STEM)


# ---------------------------------------------------------------- rnn_step

STEP_WRONG = {
    "no bias": ("def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
                "    return np.tanh(x_t @ W_xh + h_prev @ W_hh)\n", ["bias"]),
    "no tanh": ("def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
                "    return x_t @ W_xh + h_prev @ W_hh + b_h\n", ["tanh is missing"]),
    "sigmoid": ("def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
                "    return 1 / (1 + np.exp(-(x_t @ W_xh + h_prev @ W_hh + b_h)))\n", ["sigmoid"]),
    "h_prev ignored": ("def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
                       "    return np.tanh(x_t @ W_xh + b_h)\n", ["ignored h_prev"]),
    "W_hh transposed": ("def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
                        "    return np.tanh(x_t @ W_xh + h_prev @ W_hh.T + b_h)\n", ["transposed"]),
    "modifies its input": ("def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
                           "    h_prev += 0.0 * h_prev\n"
                           "    x_t *= 1.0\n"
                           "    b_h += 1e-3\n"
                           "    return np.tanh(x_t @ W_xh + h_prev @ W_hh + b_h - 1e-3)\n", ["in place"]),
    "returns None": ("def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
                     "    h = np.tanh(x_t @ W_xh + h_prev @ W_hh + b_h)\n", ["return"]),
}

STEP_RIGHT = {
    "np.dot": ("def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
               "    return np.tanh(np.dot(x_t, W_xh) + np.dot(h_prev, W_hh) + b_h)\n"),
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
        "    return rows\n"),
    "einsum, float32": ("def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
                        "    z = np.einsum('bi,ih->bh', x_t, W_xh) + np.einsum('bk,kh->bh', h_prev, W_hh) + b_h[None, :]\n"
                        "    return np.tanh(z)\n"),
    "via exp": ("def rnn_step(x_t, h_prev, W_xh, W_hh, b_h):\n"
                "    z = x_t @ W_xh + h_prev @ W_hh + b_h\n"
                "    return 2.0 / (1.0 + np.exp(-2.0 * z)) - 1.0\n"),
}


def test_rnn_step_solution_passes(nb):
    assert nb.baseline["test_rnn_step"].passed, nb.baseline["test_rnn_step"]
    nb.assert_passes("rnn_step")


def test_rnn_step_release_stub_fails(nb):
    results = nb.assert_fails("rnn_step", nb.release_stub("rnn_step"))
    assert all(r.error_type == "NotImplementedError" for r in results.values() if not r.passed)


@pytest.mark.parametrize("name", list(STEP_WRONG))
def test_rnn_step_wrong_answers_fail_and_teach(nb, name):
    source, fragments = STEP_WRONG[name]
    nb.assert_fails("rnn_step", source, message_contains=fragments)


@pytest.mark.parametrize("name", list(STEP_RIGHT))
def test_rnn_step_other_correct_answers_pass(nb, name):
    nb.assert_passes("rnn_step", STEP_RIGHT[name])


# ------------------------------------------------------------- rnn_forward

FORWARD_WRONG = {
    "only the last step": ("def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
                           "    h = h0\n"
                           "    for x_t in x:\n"
                           "        h = rnn_step(x_t, h, W_xh, W_hh, b_h)\n"
                           "    return h, h\n", ["only the last step"]),
    "batch-major stacking": ("def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
                             "    h, states = h0, []\n"
                             "    for x_t in x:\n"
                             "        h = rnn_step(x_t, h, W_xh, W_hh, b_h)\n"
                             "        states.append(h)\n"
                             "    return np.stack(states, axis=1), h\n", ["batch-major"]),
    "loops over axis 1": ("def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
                          "    h, states = h0, []\n"
                          "    for t in range(x.shape[1]):\n"
                          "        h = rnn_step(x[:, t], h, W_xh, W_hh, b_h)\n"
                          "        states.append(h)\n"
                          "    return np.stack(states), h\n", ["time-major"]),
    "restarts from h0": ("def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
                         "    states = [rnn_step(x_t, h0, W_xh, W_hh, b_h) for x_t in x]\n"
                         "    return np.stack(states), states[-1]\n", ["starts again from h0"]),
    "shifted by one": ("def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
                       "    h, states = h0, []\n"
                       "    for x_t in x:\n"
                       "        states.append(h)\n"
                       "        h = rnn_step(x_t, h, W_xh, W_hh, b_h)\n"
                       "    return np.stack(states), h\n", ["shifted by one"]),
    "h_last is the first state": ("def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
                                  "    h, states = h0, []\n"
                                  "    for x_t in x:\n"
                                  "        h = rnn_step(x_t, h, W_xh, W_hh, b_h)\n"
                                  "        states.append(h)\n"
                                  "    return np.stack(states), states[0]\n", ["LAST step"]),
    "tanh missing in the step": ("def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
                                 "    h, states = h0, []\n"
                                 "    for x_t in x:\n"
                                 "        h = x_t @ W_xh + h @ W_hh + b_h\n"
                                 "        states.append(h)\n"
                                 "    return np.stack(states), h\n", ["outputs", "expected"]),
    "returns only outputs": ("def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
                             "    h, states = h0, []\n"
                             "    for x_t in x:\n"
                             "        h = rnn_step(x_t, h, W_xh, W_hh, b_h)\n"
                             "        states.append(h)\n"
                             "    return np.stack(states)\n", ["return both"]),
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
        "    return outputs, outputs[-1]\n"),
    "nested lists, returned as a list": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    outputs, h = [], h0\n"
        "    for t in range(len(x)):\n"
        "        h = rnn_step(x[t], h, W_xh, W_hh, b_h)\n"
        "        outputs.append(np.asarray(h).tolist())\n"
        "    return [outputs, outputs[-1]]\n"),
    "batch-major internally, transposed back": (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    xb = np.transpose(x, (1, 0, 2))\n"
        "    h, states = h0, []\n"
        "    for t in range(xb.shape[1]):\n"
        "        h = rnn_step(xb[:, t, :], h, W_xh, W_hh, b_h)\n"
        "        states.append(h)\n"
        "    out = np.stack(states, axis=1).transpose(1, 0, 2)\n"
        "    return out, out[-1].copy()\n"),
}


def test_rnn_forward_solution_passes(nb):
    assert nb.baseline["test_rnn_forward"].passed, nb.baseline["test_rnn_forward"]
    nb.assert_passes("rnn_forward")


def test_rnn_forward_release_stub_fails(nb):
    nb.assert_fails("rnn_forward", nb.release_stub("rnn_forward"))


@pytest.mark.parametrize("name", list(FORWARD_WRONG))
def test_rnn_forward_wrong_answers_fail_and_teach(nb, name):
    source, fragments = FORWARD_WRONG[name]
    nb.assert_fails("rnn_forward", source, message_contains=fragments)


def test_rnn_forward_batch_major_mixup_is_named_when_shapes_agree(nb):
    """With seq_len == batch only the values give the mix-up away; the hidden test still names it."""
    source, _ = FORWARD_WRONG["loops over axis 1"]
    square_only = source.replace("def rnn_forward", "def _mixed").replace("np.stack(states), h", "np.stack(states), h") + (
        "def rnn_forward(x, h0, W_xh, W_hh, b_h):\n"
        "    if np.shape(x)[0] == np.shape(x)[1]:\n"
        "        return _mixed(x, h0, W_xh, W_hh, b_h)\n"
        "    from utils.rnn import rnn_forward as ok\n"
        "    return ok(x, h0, W_xh, W_hh, b_h)\n")
    results = nb.assert_fails("rnn_forward", square_only, message_contains=["time-major and batch-major are mixed up"])
    assert not any("Traceback" in r.message for r in results.values())


@pytest.mark.parametrize("name", list(FORWARD_RIGHT))
def test_rnn_forward_other_correct_answers_pass(nb, name):
    nb.assert_passes("rnn_forward", FORWARD_RIGHT[name])


# ---------------------------------------------------------- answer_why_rnn

@pytest.mark.parametrize("choice,fragment", [('"a"', "one step at a time"), ('"b"', "convolution"),
                                             ('"d"', "the opposite"), ('"e"', "not one of the options"),
                                             ("3", "one letter in quotes")])
def test_answer_why_rnn_wrong_answers_fail_and_teach(nb, choice, fragment):
    nb.assert_fails("answer_why_rnn", f"answer_why_rnn = {choice}\n", message_contains=[fragment])


@pytest.mark.parametrize("choice", ['"C"', '" c "', "'c'"])
def test_answer_why_rnn_correct_forms_pass(nb, choice):
    nb.assert_passes("answer_why_rnn", f"answer_why_rnn = {choice}\n")


def test_answer_why_rnn_solution_passes_and_stub_fails(nb):
    nb.assert_passes("answer_why_rnn")
    nb.assert_fails("answer_why_rnn", nb.release_stub("answer_why_rnn"))
