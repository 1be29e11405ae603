"""The numpy reference of the Elman RNN taught in topic 01.

    h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h)

Row-vector convention: x_t is (batch, input_size), W_xh is (input_size, hidden),
W_hh is (hidden, hidden), b_h is (hidden,). Sequences are time-major:
x is (seq_len, batch, input_size), like torch.nn.RNN's default.

`init_rnn_weights` makes reproducible random weights whose recurrent gain sets
how long the network remembers; `input_influence` measures how far a nudge to
one input step reaches through later hidden states (the lesson's plot).
"""

from __future__ import annotations

import numpy as np

from ._arrays import as_numpy

__all__ = ["rnn_step", "rnn_forward", "init_rnn_weights", "input_influence"]


def _float(x, name: str) -> np.ndarray:
    arr = as_numpy(x, name=name).astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains NaN or inf")
    return arr


def rnn_step(x_t, h_prev, W_xh, W_hh, b_h) -> np.ndarray:
    """One step of the recurrence; returns the new hidden state (batch, hidden)."""
    x_t, h_prev = _float(x_t, "x_t"), _float(h_prev, "h_prev")
    W_xh, W_hh, b_h = _float(W_xh, "W_xh"), _float(W_hh, "W_hh"), _float(b_h, "b_h")
    if x_t.ndim != 2 or h_prev.ndim != 2:
        raise ValueError(
            f"x_t and h_prev must be 2-D (batch, features); got shapes {x_t.shape} and {h_prev.shape}"
        )
    if W_xh.shape != (x_t.shape[1], W_hh.shape[0]) or W_hh.shape[0] != W_hh.shape[1]:
        raise ValueError(
            f"weight shapes do not fit: x_t {x_t.shape}, W_xh {W_xh.shape} (want (input_size, hidden)), "
            f"W_hh {W_hh.shape} (want (hidden, hidden))"
        )
    if h_prev.shape != (x_t.shape[0], W_hh.shape[0]):
        raise ValueError(f"h_prev should have shape {(x_t.shape[0], W_hh.shape[0])}, got {h_prev.shape}")
    if b_h.shape != (W_hh.shape[0],):
        raise ValueError(f"b_h should have shape {(W_hh.shape[0],)}, got {b_h.shape}")
    return np.tanh(x_t @ W_xh + h_prev @ W_hh + b_h)


def rnn_forward(x, h0, W_xh, W_hh, b_h) -> tuple[np.ndarray, np.ndarray]:
    """Unroll over a time-major sequence x (seq_len, batch, input_size).

    Returns (outputs, h_last): outputs is (seq_len, batch, hidden), the hidden
    state after every step; h_last is outputs[-1].
    """
    x = _float(x, "x")
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D time-major (seq_len, batch, input_size); got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError("x has no time steps (seq_len is 0)")
    h = _float(h0, "h0")
    outputs = []
    for x_t in x:  # the recurrence is sequential by nature: each step needs the last
        h = rnn_step(x_t, h, W_xh, W_hh, b_h)
        outputs.append(h)
    out = np.stack(outputs)
    return out, out[-1]


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
    for name, value in (("recurrent_gain", recurrent_gain), ("input_scale", input_scale), ("bias_scale", bias_scale)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"`{name}` must be a finite number >= 0, got {value!r}")
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
