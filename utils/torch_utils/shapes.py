"""Topic 02 (PyTorch): the shape rules of `torch.nn.RNN` and weight copies from the numpy RNN.

The same names exist in `utils.tf_utils.shapes` for Keras' `SimpleRNN`:

- `rnn_output_shapes(...)`   the shapes the rules (`SHAPE_RULES`) predict;
- `observed_rnn_shapes(...)` the shapes a real layer produces when it is run;
- `rnn_shape_table()`        both, for every combination of the layer's options;
- `check_rnn_input(layer, x)` a clear ValueError when the feature sizes disagree;
- `copy_numpy_weights(layer, W_xh, W_hh, b_h)` load the weights of `utils.rnn` into a layer;
- `numpy_weights(layer)`     the reverse: the layer's weights in the numpy convention;
- `error_summary(exc)`       one readable line from a framework error.

Conventions of `torch.nn.RNN` (D = 2 if bidirectional else 1):

    input   (L, N, H_in)          or (N, L, H_in) with batch_first=True
    output  (L, N, D * H_out)     or (N, L, D * H_out) with batch_first=True
    h_n     (D * num_layers, N, H_out)   -- never affected by batch_first

PyTorch stores `weight_ih_l0` as (hidden, input), i.e. the transpose of the
numpy W_xh (input, hidden), and keeps two biases, `bias_ih_l0` and
`bias_hh_l0`, that are simply added: b_h = bias_ih + bias_hh.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from .._arrays import as_numpy
from .._shapes_common import as_shape, check_shape_parts, error_summary, positive_int

__all__ = [
    "rnn_output_shapes",
    "observed_rnn_shapes",
    "rnn_shape_table",
    "check_rnn_input",
    "copy_numpy_weights",
    "numpy_weights",
    "error_summary",
    "check_rnn_shapes",
]


#: The shape rules of `torch.nn.RNN` (and of `nn.GRU`, and `nn.LSTM`'s h_n and c_n), as PyTorch's
#: documentation writes them: every axis is the product of named sizes, L = seq_len, N = batch,
#: H = hidden_size, D = 2 if bidirectional else 1. Keyed by `batch_first`: it swaps the output's first
#: two axes and never touches the states.
SHAPE_RULES = {
    False: {"output": (("L",), ("N",), ("D", "H")), "h_n": (("D", "num_layers"), ("N",), ("H",))},
    True: {"output": (("N",), ("L",), ("D", "H")), "h_n": (("D", "num_layers"), ("N",), ("H",))},
}


def _flag(value, name: str) -> bool:
    """`value` as a bool; TypeError for anything else (a string such as "False" is truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def rnn_output_shapes(seq_len, batch, input_size, hidden_size, num_layers=1, bidirectional=False, batch_first=False):
    """Return `(output_shape, h_n_shape)` of `torch.nn.RNN` by the documented rules (`SHAPE_RULES`).

    `input_size` does not appear in either shape (it only has to match the
    data); it is accepted so the call reads like the layer's constructor.
    """
    positive_int(input_size, "input_size")
    sizes = {
        "L": positive_int(seq_len, "seq_len"),
        "N": positive_int(batch, "batch"),
        "H": positive_int(hidden_size, "hidden_size"),
        "num_layers": positive_int(num_layers, "num_layers"),
        "D": 2 if _flag(bidirectional, "bidirectional") else 1,
    }
    rules = SHAPE_RULES[_flag(batch_first, "batch_first")]
    return tuple(tuple(math.prod(sizes[name] for name in axis) for axis in rules[part]) for part in ("output", "h_n"))


def observed_rnn_shapes(seq_len, batch, input_size, hidden_size, num_layers=1, bidirectional=False, batch_first=False):
    """Build a real `torch.nn.RNN`, run it on zeros, and return `(output_shape, h_n_shape)`."""
    layer = torch.nn.RNN(
        input_size, hidden_size, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first
    )
    x = torch.zeros((batch, seq_len, input_size) if batch_first else (seq_len, batch, input_size))
    with torch.no_grad():
        output, h_n = layer(x)
    return tuple(output.shape), tuple(h_n.shape)


def rnn_shape_table(seq_len=4, batch=2, input_size=5, hidden_size=3, num_layers_options=(1, 2)):
    """One row per combination of num_layers, batch_first and bidirectional.

    Each row (a dict) holds the options, the input shape, and the output and
    h_n shapes measured by running a real layer; `agrees` says whether they
    equal `rnn_output_shapes`.
    """
    rows = []
    for num_layers, batch_first, bidirectional in itertools.product(num_layers_options, (False, True), (False, True)):
        observed = observed_rnn_shapes(seq_len, batch, input_size, hidden_size, num_layers, bidirectional, batch_first)
        predicted = rnn_output_shapes(seq_len, batch, input_size, hidden_size, num_layers, bidirectional, batch_first)
        rows.append(
            {
                "num_layers": num_layers,
                "batch_first": batch_first,
                "bidirectional": bidirectional,
                "input": (batch, seq_len, input_size) if batch_first else (seq_len, batch, input_size),
                "output": observed[0],
                "h_n": observed[1],
                "agrees": observed == predicted,
            }
        )
    return rows


def check_rnn_input(layer, x) -> None:
    """Raise ValueError unless the last axis of `x` has `layer.input_size` features.

    The feature axis is the last one whatever `batch_first` says, so this also
    covers unbatched (L, H_in) input.
    """
    if not isinstance(layer, torch.nn.RNNBase):
        raise TypeError(f"`layer` must be a torch.nn.RNN (or LSTM/GRU), got {type(layer).__name__}")
    shape = tuple(x.shape) if hasattr(x, "shape") else np.shape(x)
    if len(shape) not in (2, 3):
        raise ValueError(f"`x` must be 3-D (or 2-D unbatched); got shape {tuple(shape)}")
    if shape[-1] != layer.input_size:
        raise ValueError(
            f"the layer expects input_size={layer.input_size} features per time step, "
            f"but x has {shape[-1]} (x.shape = {tuple(shape)}). Build the layer with "
            f"input_size={shape[-1]}, or fix the data."
        )


def _param(W, shape, name, like: torch.Tensor) -> torch.Tensor:
    arr = as_numpy(W, name=name)
    if arr.shape != shape:
        raise ValueError(f"`{name}` should have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains NaN or inf")
    return torch.as_tensor(np.array(arr, dtype=np.float64), dtype=like.dtype, device=like.device)


def copy_numpy_weights(layer, W_xh, W_hh, b_h):
    """Load numpy RNN weights (row-vector convention) into a one-layer, one-direction `nn.RNN`.

    weight_ih_l0 <- W_xh.T, weight_hh_l0 <- W_hh.T, bias_ih_l0 <- b_h, bias_hh_l0 <- 0.
    Returns the layer, which then computes what `utils.rnn.rnn_forward` computes.
    """
    if not isinstance(layer, torch.nn.RNN):
        raise TypeError(f"`layer` must be a torch.nn.RNN, got {type(layer).__name__}")
    if layer.num_layers != 1 or layer.bidirectional or layer.nonlinearity != "tanh":
        raise ValueError("copy_numpy_weights needs a one-layer, one-direction tanh nn.RNN")
    hidden, inputs = layer.hidden_size, layer.input_size
    with torch.no_grad():
        layer.weight_ih_l0.copy_(_param(W_xh, (inputs, hidden), "W_xh", layer.weight_ih_l0).T)
        layer.weight_hh_l0.copy_(_param(W_hh, (hidden, hidden), "W_hh", layer.weight_hh_l0).T)
        if layer.bias:
            layer.bias_ih_l0.copy_(_param(b_h, (hidden,), "b_h", layer.bias_ih_l0))
            layer.bias_hh_l0.zero_()
        elif np.any(as_numpy(b_h, name="b_h") != 0):
            raise ValueError("the layer was built with bias=False, so it cannot hold a non-zero b_h")
    return layer


def numpy_weights(layer):
    """Return `(W_xh, W_hh, b_h)` of a one-layer `nn.RNN` in the numpy convention (float64)."""
    if not isinstance(layer, torch.nn.RNN):
        raise TypeError(f"`layer` must be a torch.nn.RNN, got {type(layer).__name__}")
    W_xh = as_numpy(layer.weight_ih_l0).T.astype(np.float64)
    W_hh = as_numpy(layer.weight_hh_l0).T.astype(np.float64)
    if layer.bias:
        b_h = (as_numpy(layer.bias_ih_l0) + as_numpy(layer.bias_hh_l0)).astype(np.float64)
    else:
        b_h = np.zeros(layer.hidden_size)
    return W_xh, W_hh, b_h


def check_rnn_shapes(
    got, seq_len, batch, input_size, hidden_size, num_layers=1, bidirectional=False, batch_first=False
) -> None:
    """Check a learner's `(output_shape, h_n_shape)` against `rnn_output_shapes`; teach on failure.

    Lists, tuples and `torch.Size` are all accepted. The message names the
    typical mistakes: batch_first mixed up, D or num_layers left out, h_n
    treated as if batch_first applied to it.
    """
    from ..checks import CheckFailure, _shown

    call = (
        f"expected_rnn_shapes(seq_len={seq_len}, batch={batch}, input_size={input_size}, "
        f"hidden_size={hidden_size}, num_layers={num_layers}, bidirectional={bidirectional}, "
        f"batch_first={batch_first})"
    )
    if got is None:
        raise CheckFailure(f"{call} returned None: did you forget `return`?")
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise CheckFailure(f"{call} should return a pair (output_shape, h_n_shape){_shown(f', got {got!r}')}")
    out = as_shape(got[0], f"{call}[0] (the output shape)", "(4, 2, 3)")
    h_n = as_shape(got[1], f"{call}[1] (the h_n shape)", "(4, 2, 3)")
    want_out, want_h = rnn_output_shapes(
        seq_len, batch, input_size, hidden_size, num_layers, bidirectional, batch_first
    )
    D, H = (2 if bidirectional else 1), hidden_size
    out_mistakes = [
        (
            "batch_first is mixed up: (seq_len, batch, ...) by default, (batch, seq_len, ...) with batch_first=True",
            rnn_output_shapes(seq_len, batch, input_size, hidden_size, num_layers, bidirectional, not batch_first)[0],
        ),
        (
            "the output's last axis is D * hidden_size: a bidirectional layer concatenates both directions",
            want_out[:2] + (H,),
        ),
        (
            "num_layers does not change the output: only the top layer's outputs come out",
            want_out[:2] + (D * H * num_layers,),
        ),
        ("the output's last axis is the hidden size, not input_size", want_out[:2] + (D * input_size,)),
    ]
    h_mistakes = [
        ("h_n ignores batch_first: it is always (D * num_layers, batch, hidden_size)", (batch, D * num_layers, H)),
        (
            "h_n has one state per layer and direction: its first axis is D * num_layers, you left out num_layers",
            (D, batch, H),
        ),
        (
            "h_n has one state per layer and direction: its first axis is D * num_layers, you left out the "
            "direction factor D (2 when bidirectional)",
            (num_layers, batch, H),
        ),
        (
            "each state in h_n has hidden_size values; the directions are stacked on the first axis, not "
            "concatenated on the last",
            (num_layers, batch, D * H),
        ),
        ("h_n has a batch axis too: (D * num_layers, batch, hidden_size)", (D * num_layers, H)),
    ]
    check_shape_parts(
        call,
        [("output shape", out, want_out, out_mistakes), ("h_n shape", h_n, want_h, h_mistakes)],
        hint="output is (L, N, D * H_out) (batch_first: (N, L, D * H_out)); h_n is (D * num_layers, N, H_out)",
    )
