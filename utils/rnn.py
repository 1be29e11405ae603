"""The numpy reference of the Elman RNN taught in topic 01.

    h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h)

Row-vector convention: x_t is (batch, input_size), W_xh is (input_size, hidden),
W_hh is (hidden, hidden), b_h is (hidden,). Sequences are time-major:
x is (seq_len, batch, input_size), like torch.nn.RNN's default.
"""

from __future__ import annotations

import numpy as np

from ._arrays import as_numpy

__all__ = ["rnn_step", "rnn_forward"]


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
