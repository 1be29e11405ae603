"""Exercise tests of 08_lstm_gru_padding_pytorch: its variants; the tests are those of tests/exercise_support.py.

Besides the shared guarantees, the length-aware classifier of the lesson clears the bar of the issue
(>= 90 % test accuracy on the variable-length order task) on the lesson's training budget.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from tests.exercise_support import answer_tables, exercise_tests, table

STEM = "08_lstm_gru_padding_pytorch"
EXERCISES = [
    "expected_lstm_shapes",
    "lengths_to_mask",
    "last_real_output",
    "lstm_step",
    "clip_by_global_norm",
    "answer_padded_readout",
]


# --------------------------------------------------------------------------- expected_lstm_shapes

SHAPES_HEAD = (
    "def expected_lstm_shapes(seq_len, batch, input_size, hidden_size, num_layers=1, bidirectional=False, "
    "batch_first=False):\n    D = 2 if bidirectional else 1\n"
)
SHAPES_WRONG = {
    "a pair, as for nn.RNN": (
        "    out = (batch, seq_len, D * hidden_size) if batch_first else (seq_len, batch, D * hidden_size)\n"
        "    return out, (D * num_layers, batch, hidden_size)\n",
        ["c_n has the shape of h_n"],
    ),
    "batch_first applied to the states": (
        "    if batch_first:\n"
        "        return (batch, seq_len, D * hidden_size), (batch, D * num_layers, hidden_size), "
        "(batch, D * num_layers, hidden_size)\n"
        "    return (seq_len, batch, D * hidden_size), (D * num_layers, batch, hidden_size), "
        "(D * num_layers, batch, hidden_size)\n",
        ["the states ignore batch_first"],
    ),
    "4 * hidden in the output": (
        "    out = (batch, seq_len, 4 * D * hidden_size) if batch_first else (seq_len, batch, 4 * D * hidden_size)\n"
        "    s = (D * num_layers, batch, hidden_size)\n"
        "    return out, s, s\n",
        ["not 4 * hidden_size"],
    ),
    "states without num_layers": (
        "    out = (batch, seq_len, D * hidden_size) if batch_first else (seq_len, batch, D * hidden_size)\n"
        "    return out, (D, batch, hidden_size), (D, batch, hidden_size)\n",
        ["you left out num_layers"],
    ),
    "ignores batch_first": (
        "    s = (D * num_layers, batch, hidden_size)\n    return (seq_len, batch, D * hidden_size), s, s\n",
        ["batch_first is mixed up"],
    ),
    "output without D": (
        "    out = (batch, seq_len, hidden_size) if batch_first else (seq_len, batch, hidden_size)\n"
        "    s = (D * num_layers, batch, hidden_size)\n"
        "    return out, s, s\n",
        ["concatenates both directions"],
    ),
}
SHAPES_RIGHT = {
    "lists": (
        "    first = [batch, seq_len] if batch_first else [seq_len, batch]\n"
        "    state = [D * num_layers, batch, hidden_size]\n"
        "    return [first + [D * hidden_size], state, list(state)]\n"
    ),
    "running a real nn.LSTM": (
        "    import torch\n"
        "    layer = torch.nn.LSTM(input_size, hidden_size, num_layers, batch_first=batch_first, "
        "bidirectional=bidirectional)\n"
        "    x = torch.zeros((batch, seq_len, input_size) if batch_first else (seq_len, batch, input_size))\n"
        "    out, (h, c) = layer(x)\n"
        "    return out.shape, h.shape, c.shape\n"
    ),
}

# --------------------------------------------------------------------------- lengths_to_mask

MASK_HEAD = "def lengths_to_mask(lengths, max_len):\n    lengths = np.asarray(lengths).reshape(-1, 1)\n"
MASK_WRONG = {
    "inverted (PyTorch's key_padding_mask sense)": (
        "    return np.arange(max_len)[None, :] >= lengths\n",
        ["the mask is inverted"],
    ),
    "off by one": ("    return np.arange(max_len)[None, :] <= lengths\n", ["off by one"]),
    "padding at the front read as real": (
        "    return np.arange(max_len)[None, :] >= max_len - lengths\n",
        ["padding at the front"],
    ),
    "0/1 integers": ("    return (np.arange(max_len)[None, :] < lengths).astype(int)\n", ["should be boolean"]),
    "a row loop that breaks on length 0": (
        "    rows = []\n"
        "    for n in lengths[:, 0]:\n"
        "        rows.append([True] * int(n) + [False] * (max_len - int(n)) if n > 0 else [True] * max_len)\n"
        "    return np.array(rows)\n",
        ["lengths_to_mask(a tensor of lengths with an all-padding row, 3)"],
    ),
    "the course's adapter": (
        "    from utils.torch_utils import padding_mask\n    return padding_mask(lengths[:, 0], max_len)\n",
        ["write it yourself"],
    ),
}
MASK_RIGHT = {
    "torch tensor": ("    return torch.arange(max_len)[None, :] < torch.as_tensor(lengths)\n"),
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
        "    out = outputs if batch_first else outputs.transpose(0, 1)\n"
        "    return out[torch.arange(out.shape[0]), torch.as_tensor(lengths)]\n",
        ["without - 1"],
    ),
    "padding at the front read as real": (
        "    out = outputs if batch_first else outputs.transpose(0, 1)\n"
        "    lengths = torch.as_tensor(lengths)\n"
        "    return out[torch.arange(out.shape[0]), out.shape[1] - lengths]\n",
        ["padding at the front"],
    ),
    "ignores batch_first": (
        "    lengths = torch.as_tensor(lengths)\n    return outputs[torch.arange(outputs.shape[0]), lengths - 1]\n",
        ["batch_first=False"],
    ),
    "h of the first sequence for all": (
        "    lengths = torch.as_tensor(lengths)\n"
        "    out = outputs if batch_first else outputs.transpose(0, 1)\n"
        "    return out[:, lengths - 1][0]\n",
        ["values are not what was expected"],
    ),
    "the course's adapter": (
        "    from utils.torch_utils import gather_last\n    return gather_last(outputs, lengths, batch_first)\n",
        ["write it yourself"],
    ),
}
LAST_RIGHT = {
    "a loop over the batch": (
        "    out = outputs if batch_first else outputs.permute(1, 0, 2)\n"
        "    return torch.stack([out[b, int(n) - 1] for b, n in enumerate(lengths)])\n"
    ),
    "gather": (
        "    out = outputs if batch_first else outputs.transpose(0, 1)\n"
        "    idx = (torch.as_tensor(lengths) - 1).view(-1, 1, 1).expand(-1, 1, out.shape[2])\n"
        "    return out.gather(1, idx).squeeze(1)\n"
    ),
    "numpy": (
        "    out = np.asarray(outputs.detach())\n"
        "    if not batch_first:\n"
        "        out = out.swapaxes(0, 1)\n"
        "    return out[np.arange(len(out)), np.asarray(lengths) - 1]\n"
    ),
}

# --------------------------------------------------------------------------- lstm_step

STEP_HEAD = (
    "def lstm_step(x_t, h_prev, c_prev, W, U, b):\n"
    "    sig = lambda a: 1 / (1 + np.exp(-a))\n"
    "    z = x_t @ W + h_prev @ U + b\n"
)
STEP_WRONG = {
    "gate order i, f, o, g": (
        "    i, f, o, g = np.split(z, 4, axis=1)\n"
        "    c = sig(f) * c_prev + sig(i) * np.tanh(g)\n"
        "    return sig(o) * np.tanh(c), c\n",
        ["not i, f, o, g"],
    ),
    "i and f swapped": (
        "    f, i, g, o = np.split(z, 4, axis=1)\n"
        "    c = sig(f) * c_prev + sig(i) * np.tanh(g)\n"
        "    return sig(o) * np.tanh(c), c\n",
        ["i and f are swapped"],
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
    "only h returned": (
        "    i, f, g, o = np.split(z, 4, axis=1)\n"
        "    c = sig(f) * c_prev + sig(i) * np.tanh(g)\n"
        "    return sig(o) * np.tanh(c)\n",
        ["return the pair (h_t, c_t)"],
    ),
    "utils.rnn's reference": (
        "    from utils import rnn\n    return rnn.lstm_step(x_t, h_prev, c_prev, W, U, b)\n",
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
    "torch arithmetic": (
        "    import torch\n"
        "    zt = torch.tensor(z)\n"
        "    i, f, g, o = zt.chunk(4, dim=1)\n"
        "    c = torch.sigmoid(f) * torch.tensor(c_prev) + torch.sigmoid(i) * torch.tanh(g)\n"
        "    return torch.sigmoid(o) * torch.tanh(c), c\n"
    ),
}

# --------------------------------------------------------------------------- clip_by_global_norm

CLIP_HEAD = "def clip_by_global_norm(grads, max_norm):\n    grads = [np.asarray(g, dtype=float) for g in grads]\n"
CLIP_WRONG = {
    "per tensor": (
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
    "torch's clip_grad_norm_": (
        "    import torch\n"
        "    ps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]\n"
        "    for p, g in zip(ps, grads):\n"
        "        p.grad = torch.tensor(g)\n"
        "    norm = torch.nn.utils.clip_grad_norm_(ps, max_norm)\n"
        "    return [p.grad.numpy() for p in ps], float(norm)\n",
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
    "in place, as torch does": (
        "    import torch\n"
        "    ts = [torch.tensor(g) for g in grads]\n"
        "    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in ts]))\n"
        "    if norm > max_norm:\n"
        "        for t in ts:\n"
        "            t.mul_(max_norm / norm)\n"
        "    return ts, norm.item()\n"
    ),
}

# --------------------------------------------------------------------------- answer_padded_readout

ANSWER_WRONG, ANSWER_RIGHT = answer_tables(
    "answer_padded_readout",
    {
        "'a'": "after the last padded step",
        "'b'": "without packing",
        "'d'": "off by one",
        "'e'": "not one of the options",
    },
    ["'C'", "' c '"],
)


WRONG = {
    **table("expected_lstm_shapes", SHAPES_WRONG, head=SHAPES_HEAD),
    **table("lengths_to_mask", MASK_WRONG, head=MASK_HEAD),
    **table("last_real_output", LAST_WRONG, head=LAST_HEAD),
    **table("lstm_step", STEP_WRONG, head=STEP_HEAD),
    **table("clip_by_global_norm", CLIP_WRONG, head=CLIP_HEAD),
    **ANSWER_WRONG,
}
RIGHT = {
    **table("expected_lstm_shapes", SHAPES_RIGHT, head=SHAPES_HEAD),
    **table("lengths_to_mask", MASK_RIGHT, head=MASK_HEAD),
    **table("last_real_output", LAST_RIGHT, head=LAST_HEAD),
    **table("lstm_step", STEP_RIGHT, head=STEP_HEAD),
    **table("clip_by_global_norm", CLIP_RIGHT, head=CLIP_HEAD),
    **ANSWER_RIGHT,
}

# every WRONG variant fails a visible case too (none is caught by the hidden tests alone)
globals().update(exercise_tests(STEM, EXERCISES, WRONG, RIGHT, requires="torch", hidden_only={}))


# --------------------------------------------------------------------------- the padded-classifier bar


@pytest.mark.parametrize("read", ["gather", "packed"])
def test_length_aware_classifier_clears_the_bar(read):
    """The lesson's budget (2 epochs) gives the length-aware model >= 90 % test accuracy on lengths 3 to 20."""
    import torch

    from utils import metrics
    from utils.data import order
    from utils.torch_utils import PaddedLSTMClassifier, predict_padded_proba, train_padded_classifier

    torch.set_num_threads(1)
    task = order.load_variable_order_task(seed=0)
    assert task["test"][2].min() == 3 and task["test"][2].max() == 20
    torch.manual_seed(0)
    model = PaddedLSTMClassifier(len(order.ORDER_VOCAB), read=read)
    train_padded_classifier(
        model, task["train"], epochs=2, lr=1e-2, batch_size=64, seed=0, progress=False, device="cpu"
    )
    X_test, y_test, lengths = task["test"]
    pred = (predict_padded_proba(model, X_test, lengths) >= 0.5).astype(int)
    assert metrics.accuracy_score(y_test, pred) >= 0.90
    # reading the same trained model at outputs[:, -1] changes what it sees: its predictions move
    model.read = "last"
    naive = (predict_padded_proba(model, X_test, lengths) >= 0.5).astype(int)
    padded = lengths < X_test.shape[1]
    assert np.array_equal(naive[~padded], pred[~padded])  # no padding, same step read
