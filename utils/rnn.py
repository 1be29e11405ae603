"""The numpy reference of the Elman RNN taught in topic 01.

    h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h)

Row-vector convention: x_t is (batch, input_size), W_xh is (input_size, hidden),
W_hh is (hidden, hidden), b_h is (hidden,). Sequences are time-major:
x is (seq_len, batch, input_size), like torch.nn.RNN's default.

`init_rnn_weights` makes reproducible random weights whose recurrent gain sets
how long the network remembers; `input_influence` measures how far a nudge to
one input step reaches through later hidden states (the lesson's plot).

Topic 08 adds the gated cells, in the same row-vector convention (H = hidden):

    LSTM  z = x_t W + h_{t-1} U + b             W (input, 4H), U (H, 4H), b (4H,)
          z_i, z_f, z_g, z_o = split(z, 4)      gate order i, f, g, o (PyTorch's order;
          i, f, o = sigma(z_i), sigma(z_f), sigma(z_o)    Keras calls g "c", same place)
          g = tanh(z_g)
          c_t = f * c_{t-1} + i * g
          h_t = o * tanh(c_t)
    GRU   r = sigma(x_t W_r + b_xr + h_{t-1} U_r + b_hr)  W (input, 3H), U (H, 3H),
          z = sigma(x_t W_z + b_xz + h_{t-1} U_z + b_hz)  b_x and b_h (3H,) each,
          n = tanh(x_t W_n + b_xn + r * (h_{t-1} U_n + b_hn))   gate order r, z, n
          h_t = (1 - z) * n + z * h_{t-1}
          (PyTorch's GRU; Keras' GRU with reset_after=True, its default, computes the
          same but stores the gates in the order z, r, n.)

`lstm_step`/`lstm_forward` and `gru_step`/`gru_forward` are the references that
`torch.nn.LSTM`/`nn.GRU` and `keras.layers.LSTM`/`GRU` are tested against
(tests/test_lstm_gru.py) once the weights are copied across.
"""

from __future__ import annotations

import numpy as np

from ._arrays import as_numpy

__all__ = [
    "rnn_step",
    "rnn_forward",
    "init_rnn_weights",
    "input_influence",
    "LSTM_GATES",
    "GRU_GATES",
    "sigmoid",
    "lstm_step",
    "lstm_forward",
    "gru_step",
    "gru_forward",
]

#: The order of the four blocks of an LSTM's W, U and b (PyTorch: i, f, g, o; Keras: i, f, c, o, the same).
LSTM_GATES = ("i", "f", "g", "o")
#: The order of the three blocks of a GRU's W, U and biases (PyTorch's; Keras stores z, r, n).
GRU_GATES = ("r", "z", "n")


def _float(x, name: str) -> np.ndarray:
    arr = as_numpy(x, name=name).astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains NaN or inf")
    return arr


def _rnn_weights(W_xh, W_hh, b_h, input_size: int):
    """The three weights as float64 arrays, checked against each other and against `input_size`."""
    W_xh, W_hh, b_h = _float(W_xh, "W_xh"), _float(W_hh, "W_hh"), _float(b_h, "b_h")
    if W_hh.ndim != 2 or W_hh.shape[0] != W_hh.shape[1] or W_xh.shape != (input_size, W_hh.shape[0]):
        raise ValueError(
            f"weight shapes do not fit: inputs have {input_size} features, W_xh {W_xh.shape} "
            f"(want (input_size, hidden)), W_hh {W_hh.shape} (want (hidden, hidden))"
        )
    if b_h.shape != (W_hh.shape[0],):
        raise ValueError(f"b_h should have shape {(W_hh.shape[0],)}, got {b_h.shape}")
    return W_xh, W_hh, b_h


def _initial_state(h, batch: int, hidden: int, name: str) -> np.ndarray:
    h = _float(h, name)
    if h.shape != (batch, hidden):
        raise ValueError(f"{name} should have shape {(batch, hidden)}, got {h.shape}")
    return h


def _recur(x_part, h_prev, W_hh) -> np.ndarray:
    """h_t from the input's part of the pre-activation, x_t W_xh + b_h, and the previous state.

    The input's part needs no earlier step, so `rnn_forward` computes it for every step in one
    product; only h_{t-1} W_hh has to wait for the step before. `rnn_step` goes through the same
    function, so stepping by hand and unrolling add the same terms in the same order.
    """
    return np.tanh(x_part + h_prev @ W_hh)


def rnn_step(x_t, h_prev, W_xh, W_hh, b_h) -> np.ndarray:
    """One step of the recurrence; returns the new hidden state (batch, hidden)."""
    x_t, h_prev = _float(x_t, "x_t"), _float(h_prev, "h_prev")
    if x_t.ndim != 2 or h_prev.ndim != 2:
        raise ValueError(f"x_t and h_prev must be 2-D (batch, features); got shapes {x_t.shape} and {h_prev.shape}")
    W_xh, W_hh, b_h = _rnn_weights(W_xh, W_hh, b_h, x_t.shape[1])
    h_prev = _initial_state(h_prev, x_t.shape[0], W_hh.shape[0], "h_prev")
    return _recur(x_t @ W_xh + b_h, h_prev, W_hh)


def _time_major(x) -> np.ndarray:
    """x as float64, checked: 3-D time-major (seq_len, batch, input_size) with at least one step."""
    x = _float(x, "x")
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D time-major (seq_len, batch, input_size); got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError("x has no time steps (seq_len is 0)")
    return x


def rnn_forward(x, h0, W_xh, W_hh, b_h) -> tuple[np.ndarray, np.ndarray]:
    """Unroll over a time-major sequence x (seq_len, batch, input_size).

    Returns (outputs, h_last): outputs is (seq_len, batch, hidden), the hidden
    state after every step; h_last is outputs[-1].

    The arguments are checked once, and the input's part of every step,
    x_t W_xh + b_h, comes from one product over the whole sequence (as cuDNN
    and Keras do); the loop over time is left with what only it can do.
    """
    x = _time_major(x)
    W_xh, W_hh, b_h = _rnn_weights(W_xh, W_hh, b_h, x.shape[2])
    h = _initial_state(h0, x.shape[1], W_hh.shape[0], "h0")
    x_parts = x @ W_xh + b_h  # (seq_len, batch, hidden)
    outputs = np.empty_like(x_parts)
    for t in range(len(x_parts)):  # the recurrence is sequential by nature: each step needs the last
        h = outputs[t] = _recur(x_parts[t], h, W_hh)
    return outputs, outputs[-1]


def init_rnn_weights(
    input_size: int,
    hidden_size: int,
    *,
    recurrent_gain: float = 1.0,
    input_scale: float = 1.0,
    bias_scale: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random weights (W_xh, W_hh, b_h) for `rnn_forward`, reproducible from `seed`.

    W_xh is Gaussian with standard deviation input_scale / sqrt(input_size), so
    one input step moves the pre-activation by about `input_scale`.
    W_hh is `recurrent_gain` times a random orthogonal matrix: every singular
    value equals the gain, which makes the gain the one knob that sets how
    long the network remembers (below 1 memories fade, near 1 they last).
    b_h is Gaussian with standard deviation `bias_scale` (zeros by default).
    """
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer, got {value!r}")
    for name, scale in (("recurrent_gain", recurrent_gain), ("input_scale", input_scale), ("bias_scale", bias_scale)):
        if not np.isfinite(scale) or scale < 0:
            raise ValueError(f"`{name}` must be a finite number >= 0, got {scale!r}")
    rng = np.random.default_rng(seed)
    W_xh = rng.normal(0.0, input_scale / np.sqrt(input_size), size=(input_size, hidden_size))
    q, r = np.linalg.qr(rng.normal(size=(hidden_size, hidden_size)))
    q *= np.sign(np.diag(r))  # a uniformly random orthogonal matrix (Haar), not one biased by QR's signs
    W_hh = recurrent_gain * q
    b_h = rng.normal(0.0, bias_scale, size=hidden_size) if bias_scale > 0 else np.zeros(hidden_size)
    return W_xh, W_hh, b_h


def input_influence(x, h0, W_xh, W_hh, b_h, *, step: int = 0, delta: float = 1e-3, direction=None) -> np.ndarray:
    """How much each hidden state moves when the input at one time step is nudged.

    Runs `rnn_forward` twice: once on `x`, once with `x[step]` changed by
    `delta * direction` (a unit vector; by default the same amount on every
    feature). Returns an array of shape (seq_len,): for every time step t the
    size of the change ||h_t' - h_t|| divided by `delta`, averaged over the
    batch. Steps before `step` are exactly 0 (the past cannot see the future);
    how fast the curve falls after `step` says how far the input's influence
    reaches.
    """
    x = _float(x, "x")
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D time-major (seq_len, batch, input_size); got shape {x.shape}")
    seq_len, _, input_size = x.shape
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or not 0 <= step < seq_len:
        raise ValueError(f"`step` must be an integer time index in [0, {seq_len}), got {step!r}")
    if not np.isfinite(delta) or delta <= 0:
        raise ValueError(f"`delta` must be a finite number > 0, got {delta!r}")
    if direction is None:
        direction = np.ones(input_size)
    direction = _float(direction, "direction")
    if direction.shape != (input_size,):
        raise ValueError(f"`direction` must have shape ({input_size},) like one input step, got {direction.shape}")
    norm = np.linalg.norm(direction)
    if norm == 0:
        raise ValueError("`direction` must not be the zero vector")
    nudged = x.copy()
    nudged[step] += delta * direction / norm
    base, _ = rnn_forward(x, h0, W_xh, W_hh, b_h)
    moved, _ = rnn_forward(nudged, h0, W_xh, W_hh, b_h)
    return np.linalg.norm(moved - base, axis=-1).mean(axis=1) / delta


# ----------------------------------------------------------------------------
# topic 08: the gated cells
# ----------------------------------------------------------------------------


def sigmoid(z) -> np.ndarray:
    """The logistic function 1 / (1 + exp(-z)), without overflow for large |z|."""
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _gated_args(x_t, h_prev, W, U, gates: int, name: str):
    x_t, h_prev = _float(x_t, "x_t"), _float(h_prev, "h_prev")
    W, U = _float(W, "W"), _float(U, "U")
    if x_t.ndim != 2 or h_prev.ndim != 2:
        raise ValueError(f"x_t and h_prev must be 2-D (batch, features); got shapes {x_t.shape} and {h_prev.shape}")
    hidden = h_prev.shape[1]
    if W.shape != (x_t.shape[1], gates * hidden) or U.shape != (hidden, gates * hidden):
        raise ValueError(
            f"{name} weight shapes do not fit: x_t {x_t.shape}, h_prev {h_prev.shape}, W {W.shape} "
            f"(want (input_size, {gates} * hidden) = {(x_t.shape[1], gates * hidden)}), U {U.shape} "
            f"(want (hidden, {gates} * hidden) = {(hidden, gates * hidden)})"
        )
    if h_prev.shape[0] != x_t.shape[0]:
        raise ValueError(f"x_t and h_prev have different batch sizes: {x_t.shape[0]} and {h_prev.shape[0]}")
    return x_t, h_prev, W, U


def _bias(b, size: int, name: str) -> np.ndarray:
    b = _float(b, name)
    if b.shape != (size,):
        raise ValueError(f"`{name}` should have shape {(size,)}, got {b.shape}")
    return b


def lstm_step(x_t, h_prev, c_prev, W, U, b) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM step, gates in the order i, f, g, o; returns `(h_t, c_t)`, each (batch, hidden).

    W is (input_size, 4 * hidden), U is (hidden, 4 * hidden), b is (4 * hidden,):
    the column blocks of width `hidden` belong to the input gate i, the forget
    gate f, the candidate g and the output gate o, in that order.
    """
    x_t, h_prev, W, U = _gated_args(x_t, h_prev, W, U, 4, "LSTM")
    c_prev = _float(c_prev, "c_prev")
    if c_prev.shape != h_prev.shape:
        raise ValueError(f"c_prev should have the shape of h_prev {h_prev.shape}, got {c_prev.shape}")
    b = _bias(b, W.shape[1], "b")
    z = x_t @ W + h_prev @ U + b  # (batch, 4H): the four gates' pre-activations side by side
    z_i, z_f, z_g, z_o = np.split(z, 4, axis=1)
    i, f, g, o = sigmoid(z_i), sigmoid(z_f), np.tanh(z_g), sigmoid(z_o)
    c_t = f * c_prev + i * g
    h_t = o * np.tanh(c_t)
    return h_t, c_t


def lstm_forward(x, h0, c0, W, U, b) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Unroll `lstm_step` over a time-major x (seq_len, batch, input_size).

    Returns `(outputs, (h_last, c_last))` like `torch.nn.LSTM` (without its
    layer axis): outputs is (seq_len, batch, hidden), the h of every step.
    """
    x = _time_major(x)
    h, c = _float(h0, "h0"), _float(c0, "c0")
    outputs = []
    for x_t in x:  # sequential by nature
        h, c = lstm_step(x_t, h, c, W, U, b)
        outputs.append(h)
    return np.stack(outputs), (h, c)


def gru_step(x_t, h_prev, W, U, b_x, b_h) -> np.ndarray:
    """One GRU step, gates in the order r, z, n; returns h_t (batch, hidden).

    W is (input_size, 3 * hidden), U is (hidden, 3 * hidden); b_x and b_h are
    the input-side and the recurrent-side biases, (3 * hidden,) each. They are
    kept apart because b_hn sits inside the reset gate's product:
    n = tanh(x W_n + b_xn + r * (h U_n + b_hn)).
    """
    x_t, h_prev, W, U = _gated_args(x_t, h_prev, W, U, 3, "GRU")
    b_x, b_h = _bias(b_x, W.shape[1], "b_x"), _bias(b_h, W.shape[1], "b_h")
    x_r, x_z, x_n = np.split(x_t @ W + b_x, 3, axis=1)
    h_r, h_z, h_n = np.split(h_prev @ U + b_h, 3, axis=1)
    r = sigmoid(x_r + h_r)
    z = sigmoid(x_z + h_z)
    n = np.tanh(x_n + r * h_n)
    return (1.0 - z) * n + z * h_prev


def gru_forward(x, h0, W, U, b_x, b_h) -> tuple[np.ndarray, np.ndarray]:
    """Unroll `gru_step` over a time-major x; returns `(outputs, h_last)` like `rnn_forward`."""
    x = _time_major(x)
    h = _float(h0, "h0")
    outputs = []
    for x_t in x:
        h = gru_step(x_t, h, W, U, b_x, b_h)
        outputs.append(h)
    out = np.stack(outputs)
    return out, out[-1]
