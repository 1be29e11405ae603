"""Topic 08 (TensorFlow / Keras 3): what `keras.layers.LSTM` and `GRU` return, and weight copies.

The same names exist in `utils.torch_utils.gated` for `torch.nn.LSTM` and `nn.GRU`:

- `lstm_output_shapes(...)`  what `LSTM(units, return_sequences, return_state)` returns on
  (batch, time, features): the output shape alone, or `(output, h, c)` shapes with
  `return_state` (alias `keras_lstm_output_shapes`, the reference of the exercise
  `expected_keras_lstm_shapes`);
- `gru_output_shapes(...)`   the same for `GRU`: the output shape, or `(output, h)`;
- `observed_gated_shapes(kind, ...)`, `gated_shape_table()` the shapes real layers return;
- `check_lstm_shapes(got, ...)` a teaching check of a learner's shapes;
- `copy_numpy_lstm_weights(layer, W, U, b)` / `numpy_lstm_weights(layer)`;
- `copy_numpy_gru_weights(layer, W, U, b_x, b_h)`.

Keras is batch-major and has no layer axis in its states: with `return_state=True`
an LSTM returns `[output, h, c]`, a GRU `[output, h]`, each state (batch, units).

Weights: `kernel` (features, 4 * units) = W, `recurrent_kernel` = U and one bias b,
in the row-vector convention of `utils.rnn`; the LSTM gate blocks are i, f, c, o
(PyTorch calls the candidate g: the same order). A GRU (reset_after=True, the
default) keeps its blocks in the order z, r, n and a bias of shape (2, 3 * units):
row 0 the input bias, row 1 the recurrent bias.
"""

from __future__ import annotations

import itertools

import keras
import numpy as np

from .._arrays import as_numpy
from .._shapes_common import as_shape, check_shape_parts, positive_int

__all__ = [
    "lstm_output_shapes",
    "keras_lstm_output_shapes",
    "gru_output_shapes",
    "observed_gated_shapes",
    "gated_shape_table",
    "check_lstm_shapes",
    "copy_numpy_lstm_weights",
    "numpy_lstm_weights",
    "copy_numpy_gru_weights",
]

_LAYERS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}
_NUM_STATES = {"lstm": 2, "gru": 1, "rnn": 1}


def _gated_shapes(num_states, batch, time, features, units, return_sequences, return_state):
    batch, time = positive_int(batch, "batch"), positive_int(time, "time")
    positive_int(features, "features")
    units = positive_int(units, "units")
    output = (batch, time, units) if return_sequences else (batch, units)
    if not return_state:
        return output
    return (output,) + ((batch, units),) * num_states


def lstm_output_shapes(batch, time, features, units, return_sequences=False, return_state=False):
    """The shapes `keras.layers.LSTM` returns on (batch, time, features) input.

    Without `return_state`: the output shape alone; with it: `(output, h, c)` shapes.
    """
    return _gated_shapes(2, batch, time, features, units, return_sequences, return_state)


#: The name used in the TensorFlow assignment (same function).
keras_lstm_output_shapes = lstm_output_shapes


def gru_output_shapes(batch, time, features, units, return_sequences=False, return_state=False):
    """The shapes `keras.layers.GRU` returns: the output shape alone, or `(output, h)` shapes."""
    return _gated_shapes(1, batch, time, features, units, return_sequences, return_state)


def _shape_tree(result):
    if isinstance(result, (list, tuple)):
        return tuple(tuple(int(d) for d in r.shape) for r in result)
    return tuple(int(d) for d in result.shape)


def observed_gated_shapes(kind, batch, time, features, units, return_sequences=False, return_state=False):
    """Build a real `LSTM` ("lstm"), `GRU` ("gru") or `SimpleRNN` ("rnn"), call it on zeros, return its shapes."""
    if kind not in _LAYERS:
        raise ValueError(f"`kind` must be one of {sorted(_LAYERS)}, got {kind!r}")
    layer = _LAYERS[kind](units, return_sequences=return_sequences, return_state=return_state)
    return _shape_tree(layer(np.zeros((batch, time, features), dtype="float32")))


def gated_shape_table(batch=2, time=4, features=5, units=3, kinds=("lstm", "gru")):
    """One row per layer kind and combination of return_sequences and return_state.

    Each row (a dict) holds the kind, the options, the input shape, the measured
    `output` shape and `states` (a tuple of state shapes, empty without
    return_state), and `agrees`: whether the measurement equals the rules.
    """
    rows = []
    for kind in kinds:
        for return_sequences, return_state in itertools.product((False, True), repeat=2):
            args = (batch, time, features, units, return_sequences, return_state)
            observed = observed_gated_shapes(kind, *args)
            predicted = _gated_shapes(_NUM_STATES[kind], *args)
            output, states = (observed[0], tuple(observed[1:])) if return_state else (observed, ())
            rows.append(
                {
                    "kind": kind,
                    "return_sequences": return_sequences,
                    "return_state": return_state,
                    "input": (batch, time, features),
                    "output": output,
                    "states": states,
                    "agrees": observed == predicted,
                }
            )
    return rows


def _is_shape(value) -> bool:
    try:
        return len(value) > 0 and all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in value)
    except TypeError:
        return False


def check_lstm_shapes(got, batch, time, features, units, return_sequences=False, return_state=False) -> None:
    """Check a learner's `expected_keras_lstm_shapes(...)` against `lstm_output_shapes`; teach on failure.

    Expected structure: the output shape alone, or `(output_shape, h_shape, c_shape)`
    with `return_state`. Lists, tuples and `TensorShape`s are accepted.
    """
    from ..checks import CheckFailure, _shown

    call = (
        f"expected_keras_lstm_shapes(batch={batch}, time={time}, features={features}, units={units}, "
        f"return_sequences={return_sequences}, return_state={return_state})"
    )
    if got is None:
        raise CheckFailure(f"{call} returned None: did you forget `return`?")
    want = lstm_output_shapes(batch, time, features, units, return_sequences, return_state)
    want_out = want[0] if return_state else want
    if return_state:
        if _is_shape(got) or not isinstance(got, (tuple, list)) or len(got) != 3:
            two = isinstance(got, (tuple, list)) and len(got) == 2 and not _is_shape(got)
            raise CheckFailure(
                f"{call} should return three shapes (output_shape, h_shape, c_shape){_shown(f', got {got!r}')}\n"
                + (
                    "  likely mistake: an LSTM has two states: with return_state=True it returns "
                    "[output, h, c] (a GRU or SimpleRNN returns [output, h])"
                    if two
                    else "  likely mistake: with return_state=True the layer returns [output, h, c]"
                )
            )
        out = as_shape(got[0], f"{call}[0] (the output shape)", "(2, 3)")
        states = [as_shape(got[k], f"{call}[{k}] (the {n} shape)", "(2, 3)") for k, n in ((1, "h"), (2, "c"))]
    else:
        if not _is_shape(got):
            raise CheckFailure(
                f"{call} should return the output shape alone"
                f"{_shown(f', such as {want_out}')}{_shown(f', got {got!r}')}\n"
                "  likely mistake: without return_state the layer returns only its output, not a tuple"
            )
        out, states = as_shape(got, call, "(2, 3)"), []
    seq = (batch, time, units)
    out_mistakes = [
        ("Keras is batch-major: (batch, time, units), not time-major (time, batch, units)", (time, batch, units)),
        ("return_sequences=False keeps only the last step: (batch, units)", seq),
        ("return_sequences=True keeps every step: (batch, time, units)", (batch, units)),
        (
            "the output holds h only: its last axis is units, not 4 * units (the four gates stay inside the cell)",
            want_out[:-1] + (4 * units,),
        ),
        ("the last axis is the number of units, not the number of input features", want_out[:-1] + (features,)),
    ]
    state_mistakes = [
        ("h and c are the states after the last step only: (batch, units)", seq),
        ("Keras is batch-major and has no layer axis in its states: (batch, units)", (1, batch, units)),
        ("each state has as many values as the layer has units, not input features", (batch, features)),
        ("each state is (batch, units): h and c are returned separately, not side by side", (batch, 2 * units)),
    ]
    parts = [("output shape", out, want_out, out_mistakes)]
    for name, got_state, want_state in zip(("h shape", "c shape"), states, want[1:] if return_state else ()):
        parts.append((name, got_state, want_state, state_mistakes))
    check_shape_parts(
        call,
        parts,
        hint="output is (batch, units), or (batch, time, units) with return_sequences; "
        "with return_state the layer also returns h and c, each (batch, units)",
    )


def _array(a, shape, name):
    arr = as_numpy(a, name=name)
    if arr.shape != shape:
        raise ValueError(f"`{name}` should have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains NaN or inf")
    return arr.astype(np.float32)


def _ready(layer, cls, features):
    if not isinstance(layer, cls):
        raise TypeError(f"`layer` must be a keras.layers.{cls.__name__}, got {type(layer).__name__}")
    if not layer.cell.use_bias:
        raise ValueError(f"the copy needs a {cls.__name__} with use_bias=True")
    if not layer.built:
        layer.build((None, None, features))
    elif int(layer.cell.kernel.shape[0]) != features:
        raise ValueError(f"the layer was built for {int(layer.cell.kernel.shape[0])} features, W has {features} rows")


def copy_numpy_lstm_weights(layer, W, U, b):
    """Load the numpy LSTM weights of `utils.rnn.lstm_step` into `keras.layers.LSTM` (built if needed).

    kernel <- W, recurrent_kernel <- U, bias <- b: no transposes, one bias, the
    same gate order (i, f, c, o). Returns the layer.
    """
    W = as_numpy(W, name="W")
    features = W.shape[0] if W.ndim == 2 else -1
    _ready(layer, keras.layers.LSTM, features)
    units = layer.cell.units
    layer.set_weights(
        [_array(W, (features, 4 * units), "W"), _array(U, (units, 4 * units), "U"), _array(b, (4 * units,), "b")]
    )
    return layer


def numpy_lstm_weights(layer):
    """`(W, U, b)` of a built `keras.layers.LSTM` in the convention of `utils.rnn.lstm_step` (float64)."""
    if not isinstance(layer, keras.layers.LSTM) or not layer.built:
        raise ValueError("`layer` must be a built keras.layers.LSTM (call it on data first)")
    cell = layer.cell
    return tuple(np.asarray(v.numpy(), dtype=np.float64) for v in (cell.kernel, cell.recurrent_kernel, cell.bias))


def _rzn_to_zrn(a, units):
    r, z, n = np.split(a, [units, 2 * units], axis=-1)
    return np.concatenate([z, r, n], axis=-1)


def copy_numpy_gru_weights(layer, W, U, b_x, b_h):
    """Load the numpy GRU weights of `utils.rnn.gru_step` (gates r, z, n) into `keras.layers.GRU`.

    Keras keeps the blocks in the order z, r, n, so they are reordered; the
    layer must use `reset_after=True` (the default), whose bias (2, 3 * units)
    holds b_x in row 0 and b_h in row 1. Returns the layer.
    """
    if not isinstance(layer, keras.layers.GRU):
        raise TypeError(f"`layer` must be a keras.layers.GRU, got {type(layer).__name__}")
    if not layer.cell.reset_after:
        raise ValueError("the copy needs GRU(reset_after=True), the default, which computes what PyTorch's GRU does")
    units = layer.cell.units
    W = as_numpy(W, name="W")
    features = W.shape[0] if W.ndim == 2 else -1
    _ready(layer, keras.layers.GRU, features)
    W = _array(W, (features, 3 * units), "W")
    U = _array(U, (units, 3 * units), "U")
    bias = np.stack([_array(b_x, (3 * units,), "b_x"), _array(b_h, (3 * units,), "b_h")])
    layer.set_weights([_rzn_to_zrn(W, units), _rzn_to_zrn(U, units), _rzn_to_zrn(bias, units)])
    return layer
