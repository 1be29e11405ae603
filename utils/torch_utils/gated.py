"""Topic 08 (PyTorch): what `nn.LSTM` and `nn.GRU` return, and weight copies from the numpy cells.

The same names exist in `utils.tf_utils.gated` for Keras' `LSTM` and `GRU`:

- `lstm_output_shapes(...)`  `(output_shape, h_n_shape, c_n_shape)` by the documented rules
  (the reference the exercise `expected_lstm_shapes` is checked against);
- `gru_output_shapes(...)`   `(output_shape, h_n_shape)`, the rules of `nn.RNN`;
- `observed_gated_shapes(kind, ...)` the shapes a real layer returns when it is run;
- `gated_shape_table()`      both, for LSTM and GRU and every combination of options;
- `check_lstm_shapes(got, ...)` a teaching check of a learner's shapes;
- `copy_numpy_lstm_weights(layer, W, U, b)` / `numpy_lstm_weights(layer)`;
- `copy_numpy_gru_weights(layer, W, U, b_x, b_h)`.

Conventions (D = 2 if bidirectional else 1; `nn.LSTM(...)(x)` returns
`(output, (h_n, c_n))`, `nn.GRU(...)(x)` returns `(output, h_n)`):

    output  (L, N, D * H_out), or (N, L, D * H_out) with batch_first=True
    h_n     (D * num_layers, N, H_out)   -- never affected by batch_first
    c_n     (D * num_layers, N, H_out)   -- LSTM only, the same shape as h_n

The numpy cells of `utils.rnn` use row vectors and one LSTM bias; PyTorch
stores `weight_ih_l0` = W.T (4H, input), `weight_hh_l0` = U.T and two biases
that are added (`bias_ih_l0 + bias_hh_l0` = b). The LSTM blocks are in the
order i, f, g, o in both; the GRU blocks r, z, n.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from .._arrays import as_numpy
from .._shapes_common import as_shape, check_shape_parts
from .shapes import _param, rnn_output_shapes

__all__ = [
    "lstm_output_shapes",
    "gru_output_shapes",
    "observed_gated_shapes",
    "gated_shape_table",
    "check_lstm_shapes",
    "copy_numpy_lstm_weights",
    "numpy_lstm_weights",
    "copy_numpy_gru_weights",
]

_LAYERS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}


def lstm_output_shapes(seq_len, batch, input_size, hidden_size, num_layers=1, bidirectional=False, batch_first=False):
    """Return `(output_shape, h_n_shape, c_n_shape)` of `torch.nn.LSTM` by the documented rules."""
    output, h_n = rnn_output_shapes(seq_len, batch, input_size, hidden_size, num_layers, bidirectional, batch_first)
    return output, h_n, h_n


def gru_output_shapes(seq_len, batch, input_size, hidden_size, num_layers=1, bidirectional=False, batch_first=False):
    """Return `(output_shape, h_n_shape)` of `torch.nn.GRU`: the rules of `nn.RNN`."""
    return rnn_output_shapes(seq_len, batch, input_size, hidden_size, num_layers, bidirectional, batch_first)


def observed_gated_shapes(
    kind, seq_len, batch, input_size, hidden_size, num_layers=1, bidirectional=False, batch_first=False
):
    """Build a real `nn.LSTM` ("lstm"), `nn.GRU` ("gru") or `nn.RNN` ("rnn"), run it on zeros, return its shapes.

    The result has the structure of the layer's return value: `(output, h_n, c_n)`
    shapes for an LSTM (whose return value is `(output, (h_n, c_n))`), `(output, h_n)`
    otherwise.
    """
    if kind not in _LAYERS:
        raise ValueError(f"`kind` must be one of {sorted(_LAYERS)}, got {kind!r}")
    layer = _LAYERS[kind](
        input_size, hidden_size, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first
    )
    x = torch.zeros((batch, seq_len, input_size) if batch_first else (seq_len, batch, input_size))
    with torch.no_grad():
        output, state = layer(x)
    if kind == "lstm":
        h_n, c_n = state
        return tuple(output.shape), tuple(h_n.shape), tuple(c_n.shape)
    return tuple(output.shape), tuple(state.shape)


def gated_shape_table(
    seq_len=4, batch=2, input_size=5, hidden_size=3, num_layers_options=(1, 2), kinds=("lstm", "gru")
):
    """One row per layer kind and combination of num_layers, batch_first and bidirectional.

    Each row (a dict) holds the kind, the options, the input shape, the measured
    `output`, `h_n` and (LSTM) `c_n` shapes (None for a GRU), and `agrees`:
    whether the measurement equals the rules.
    """
    rules = {"lstm": lstm_output_shapes, "gru": gru_output_shapes, "rnn": lambda *a: rnn_output_shapes(*a)}
    rows = []
    for kind in kinds:
        for num_layers, batch_first, bidirectional in itertools.product(
            num_layers_options, (False, True), (False, True)
        ):
            args = (seq_len, batch, input_size, hidden_size, num_layers, bidirectional, batch_first)
            observed = observed_gated_shapes(kind, *args)
            rows.append(
                {
                    "kind": kind,
                    "num_layers": num_layers,
                    "batch_first": batch_first,
                    "bidirectional": bidirectional,
                    "input": (batch, seq_len, input_size) if batch_first else (seq_len, batch, input_size),
                    "output": observed[0],
                    "h_n": observed[1],
                    "c_n": observed[2] if kind == "lstm" else None,
                    "agrees": observed == tuple(rules[kind](*args)),
                }
            )
    return rows


def check_lstm_shapes(
    got, seq_len, batch, input_size, hidden_size, num_layers=1, bidirectional=False, batch_first=False
) -> None:
    """Check a learner's `(output_shape, h_n_shape, c_n_shape)` against `lstm_output_shapes`; teach on failure."""
    from ..checks import CheckFailure, _shown

    call = (
        f"expected_lstm_shapes(seq_len={seq_len}, batch={batch}, input_size={input_size}, "
        f"hidden_size={hidden_size}, num_layers={num_layers}, bidirectional={bidirectional}, "
        f"batch_first={batch_first})"
    )
    if got is None:
        raise CheckFailure(f"{call} returned None: did you forget `return`?")
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        two = isinstance(got, (tuple, list)) and len(got) == 2
        raise CheckFailure(
            f"{call} should return three shapes (output_shape, h_n_shape, c_n_shape){_shown(f', got {got!r}')}"
            + (
                "\n  likely mistake: an LSTM has a cell state c as well as h: nn.LSTM returns "
                "(output, (h_n, c_n)), and c_n has the shape of h_n"
                if two
                else ""
            )
        )
    out = as_shape(got[0], f"{call}[0] (the output shape)", "(4, 2, 3)")
    h_n = as_shape(got[1], f"{call}[1] (the h_n shape)", "(1, 2, 3)")
    c_n = as_shape(got[2], f"{call}[2] (the c_n shape)", "(1, 2, 3)")
    want_out, want_h, want_c = lstm_output_shapes(
        seq_len, batch, input_size, hidden_size, num_layers, bidirectional, batch_first
    )
    D, H = (2 if bidirectional else 1), hidden_size
    out_mistakes = [
        (
            "batch_first is mixed up: (seq_len, batch, ...) by default, (batch, seq_len, ...) with batch_first=True",
            lstm_output_shapes(seq_len, batch, input_size, hidden_size, num_layers, bidirectional, not batch_first)[0],
        ),
        (
            "the output's last axis is D * hidden_size: a bidirectional layer concatenates both directions",
            want_out[:2] + (H,),
        ),
        (
            "the output holds h only: its last axis is D * hidden_size, not 4 * hidden_size (the four gates "
            "are inside the cell, they do not come out)",
            want_out[:2] + (4 * D * H,),
        ),
        (
            "the output holds h only, not h and c side by side: its last axis is D * hidden_size",
            want_out[:2] + (2 * D * H,),
        ),
        (
            "num_layers does not change the output: only the top layer's outputs come out",
            want_out[:2] + (D * H * num_layers,),
        ),
        ("the output's last axis is the hidden size, not input_size", want_out[:2] + (D * input_size,)),
    ]
    state_mistakes = [
        (
            "the states ignore batch_first: h_n and c_n are always (D * num_layers, batch, hidden_size)",
            (batch, D * num_layers, H),
        ),
        (
            "the states keep one entry per layer and direction: the first axis is D * num_layers, "
            "you left out num_layers",
            (D, batch, H),
        ),
        (
            "the states keep one entry per layer and direction: the first axis is D * num_layers, "
            "you left out the direction factor D (2 when bidirectional)",
            (num_layers, batch, H),
        ),
        (
            "each state has hidden_size values; the directions are stacked on the first axis, not "
            "concatenated on the last",
            (num_layers, batch, D * H),
        ),
        ("the states have a batch axis too: (D * num_layers, batch, hidden_size)", (D * num_layers, H)),
        ("h_n and c_n hold the last step only, not every step", (seq_len, batch, H)),
    ]
    check_shape_parts(
        call,
        [
            ("output shape", out, want_out, out_mistakes),
            ("h_n shape", h_n, want_h, state_mistakes),
            ("c_n shape", c_n, want_c, state_mistakes),
        ],
        hint="output is (L, N, D * H_out) (batch_first: (N, L, D * H_out)); "
        "h_n and c_n are both (D * num_layers, N, H_out)",
    )


def _one_layer(layer, cls):
    if not isinstance(layer, cls):
        raise TypeError(f"`layer` must be a torch.nn.{cls.__name__}, got {type(layer).__name__}")
    if layer.num_layers != 1 or layer.bidirectional or not layer.bias:
        raise ValueError(f"the copy needs a one-layer, one-direction nn.{cls.__name__} with biases")
    if getattr(layer, "proj_size", 0):
        raise ValueError("the copy needs an nn.LSTM without proj_size")


def copy_numpy_lstm_weights(layer, W, U, b):
    """Load the numpy LSTM weights of `utils.rnn.lstm_step` into a one-layer `nn.LSTM`, in place.

    weight_ih_l0 <- W.T, weight_hh_l0 <- U.T, bias_ih_l0 <- b, bias_hh_l0 <- 0
    (the gate order i, f, g, o is PyTorch's own). Returns the layer.
    """
    _one_layer(layer, torch.nn.LSTM)
    H, n_in = layer.hidden_size, layer.input_size
    with torch.no_grad():
        layer.weight_ih_l0.copy_(_param(W, (n_in, 4 * H), "W", layer.weight_ih_l0).T)
        layer.weight_hh_l0.copy_(_param(U, (H, 4 * H), "U", layer.weight_hh_l0).T)
        layer.bias_ih_l0.copy_(_param(b, (4 * H,), "b", layer.bias_ih_l0))
        layer.bias_hh_l0.zero_()
    return layer


def numpy_lstm_weights(layer):
    """`(W, U, b)` of a one-layer `nn.LSTM` in the convention of `utils.rnn.lstm_step` (float64)."""
    _one_layer(layer, torch.nn.LSTM)
    W = as_numpy(layer.weight_ih_l0).T.astype(np.float64)
    U = as_numpy(layer.weight_hh_l0).T.astype(np.float64)
    b = (as_numpy(layer.bias_ih_l0) + as_numpy(layer.bias_hh_l0)).astype(np.float64)
    return W, U, b


def copy_numpy_gru_weights(layer, W, U, b_x, b_h):
    """Load the numpy GRU weights of `utils.rnn.gru_step` into a one-layer `nn.GRU`, in place.

    weight_ih_l0 <- W.T, weight_hh_l0 <- U.T, bias_ih_l0 <- b_x, bias_hh_l0 <- b_h
    (gate order r, z, n, PyTorch's own). The two GRU biases cannot be merged:
    b_hn is multiplied by the reset gate. Returns the layer.
    """
    _one_layer(layer, torch.nn.GRU)
    H, n_in = layer.hidden_size, layer.input_size
    with torch.no_grad():
        layer.weight_ih_l0.copy_(_param(W, (n_in, 3 * H), "W", layer.weight_ih_l0).T)
        layer.weight_hh_l0.copy_(_param(U, (H, 3 * H), "U", layer.weight_hh_l0).T)
        layer.bias_ih_l0.copy_(_param(b_x, (3 * H,), "b_x", layer.bias_ih_l0))
        layer.bias_hh_l0.copy_(_param(b_h, (3 * H,), "b_h", layer.bias_hh_l0))
    return layer
