"""Topic 02 (TensorFlow / Keras 3): the shape rules of `keras.layers.SimpleRNN` and weight copies.

The same names exist in `utils.torch_utils.shapes` for `torch.nn.RNN`:

- `rnn_output_shapes(...)`   the shapes the rules predict (alias `simple_rnn_output_shapes`);
- `observed_rnn_shapes(...)` the shapes a real layer produces when it is called;
- `rnn_shape_table()`        both, for every combination of the layer's options;
- `check_rnn_input(layer, x)` a clear ValueError when the feature sizes disagree;
- `copy_numpy_weights(layer, W_xh, W_hh, b_h)` load the weights of `utils.rnn` into a layer;
- `numpy_weights(layer)`     the reverse;
- `error_summary(exc)`       one readable line from a framework error.

Keras is batch-major: input (N, L, F). With D = 2 for `Bidirectional` (merge_mode
"concat"), else 1:

    return_sequences=False  output (N, D * units)      the last step only
    return_sequences=True   output (N, L, D * units)   every step
    return_state=True       the layer returns [output, state] (Bidirectional:
                            [output, forward_state, backward_state]); each state is (N, units)

Keras 3 has no `time_major` argument and no `layer.output_shape`: shapes are
found by calling the layer. Its weights follow the row-vector convention of
`utils.rnn`: kernel = W_xh (features, units), recurrent_kernel = W_hh, and a
single bias b_h (PyTorch, by contrast, stores W_xh.T and two biases).
"""

from __future__ import annotations

import itertools

import keras
import numpy as np

from .._arrays import as_numpy
from .._shapes_common import as_shape, check_shape_parts, error_summary, positive_int

__all__ = [
    "rnn_output_shapes",
    "simple_rnn_output_shapes",
    "observed_rnn_shapes",
    "rnn_shape_table",
    "check_rnn_input",
    "copy_numpy_weights",
    "numpy_weights",
    "error_summary",
    "check_rnn_shapes",
]


def rnn_output_shapes(batch, time, features, units, return_sequences=False, return_state=False, bidirectional=False):
    """Return the shapes `keras.layers.SimpleRNN` produces on (batch, time, features) input.

    - without `return_state`: the output shape alone, a tuple of ints;
    - with `return_state`: `(output_shape, state_shape)`, or with `bidirectional`
      `(output_shape, forward_state_shape, backward_state_shape)`.

    `features` appears in no shape (it only has to match the kernel); it is
    accepted so that the call names every size of the data.
    """
    batch, time = positive_int(batch, "batch"), positive_int(time, "time")
    positive_int(features, "features")
    units = positive_int(units, "units")
    width = (2 if bidirectional else 1) * units
    output = (batch, time, width) if return_sequences else (batch, width)
    if not return_state:
        return output
    state = (batch, units)
    return (output, state, state) if bidirectional else (output, state)


#: The name used in the TensorFlow lesson and assignment (same function).
simple_rnn_output_shapes = rnn_output_shapes


def _shape_tree(result):
    if isinstance(result, (list, tuple)):
        return tuple(tuple(int(d) for d in r.shape) for r in result)
    return tuple(int(d) for d in result.shape)


def observed_rnn_shapes(batch, time, features, units, return_sequences=False, return_state=False, bidirectional=False):
    """Build a real SimpleRNN (wrapped in Bidirectional if asked), call it on zeros, return its shapes.

    The result has the same structure as `rnn_output_shapes`.
    """
    layer = keras.layers.SimpleRNN(units, return_sequences=return_sequences, return_state=return_state)
    if bidirectional:
        layer = keras.layers.Bidirectional(layer)
    return _shape_tree(layer(np.zeros((batch, time, features), dtype="float32")))


def rnn_shape_table(batch=2, time=4, features=5, units=3):
    """One row per combination of return_sequences, return_state and bidirectional.

    Each row (a dict) holds the options, the input shape and the shapes
    measured by calling a real layer (`output`, and `states`, a tuple of state
    shapes, empty without return_state); `agrees` says whether they equal
    `rnn_output_shapes`.
    """
    rows = []
    for bidirectional, return_sequences, return_state in itertools.product((False, True), repeat=3):
        args = (batch, time, features, units, return_sequences, return_state, bidirectional)
        observed, predicted = observed_rnn_shapes(*args), rnn_output_shapes(*args)
        output, states = (observed[0], tuple(observed[1:])) if return_state else (observed, ())
        rows.append(
            {
                "bidirectional": bidirectional,
                "return_sequences": return_sequences,
                "return_state": return_state,
                "input": (batch, time, features),
                "output": output,
                "states": states,
                "agrees": observed == predicted,
            }
        )
    return rows


def _cell(layer):
    if isinstance(layer, keras.layers.Bidirectional):
        return layer.forward_layer.cell
    if isinstance(layer, keras.layers.SimpleRNN):
        return layer.cell
    raise TypeError(f"`layer` must be a keras.layers.SimpleRNN (or Bidirectional of one), got {type(layer).__name__}")


def check_rnn_input(layer, x) -> None:
    """Raise ValueError unless `x` is batch-major 3-D with as many features as the layer's kernel.

    A layer that has not been built yet takes its feature size from its first
    input, so only the number of axes is checked then.
    """
    cell = _cell(layer)
    shape = tuple(x.shape) if hasattr(x, "shape") else np.shape(x)
    if len(shape) != 3:
        raise ValueError(f"`x` must be 3-D batch-major (batch, time, features); got shape {tuple(shape)}")
    if not layer.built:
        return
    expected = int(cell.kernel.shape[0])
    if shape[-1] != expected:
        raise ValueError(
            f"the layer was built for {expected} features per time step, but x has {shape[-1]} "
            f"(x.shape = {tuple(shape)}). Give the layer data with {expected} features, or build a new "
            f"layer for {shape[-1]}."
        )


def copy_numpy_weights(layer, W_xh, W_hh, b_h):
    """Load numpy RNN weights (row-vector convention) into a SimpleRNN; build it first if needed.

    kernel <- W_xh, recurrent_kernel <- W_hh, bias <- b_h: no transposes, one bias.
    Returns the layer, which then computes what `utils.rnn.rnn_forward` computes
    (on batch-major input).
    """
    if not isinstance(layer, keras.layers.SimpleRNN):
        raise TypeError(f"`layer` must be a keras.layers.SimpleRNN, got {type(layer).__name__}")
    arrays = {name: as_numpy(a, name=name) for name, a in (("W_xh", W_xh), ("W_hh", W_hh), ("b_h", b_h))}
    units = layer.cell.units
    features = arrays["W_xh"].shape[0] if arrays["W_xh"].ndim == 2 else -1
    for name, want in (("W_xh", (features, units)), ("W_hh", (units, units)), ("b_h", (units,))):
        if arrays[name].shape != want or features < 1:
            raise ValueError(
                f"`{name}` should have shape {want} for a layer of {units} units, got {arrays[name].shape}"
            )
        if not np.all(np.isfinite(arrays[name])):
            raise ValueError(f"`{name}` contains NaN or inf")
    if not layer.built:
        layer.build((None, None, features))
    elif int(layer.cell.kernel.shape[0]) != features:
        raise ValueError(
            f"the layer was built for {int(layer.cell.kernel.shape[0])} features, W_xh has {features} rows"
        )
    if not layer.cell.use_bias:
        if np.any(arrays["b_h"] != 0):
            raise ValueError("the layer was built with use_bias=False, so it cannot hold a non-zero b_h")
        layer.set_weights([arrays["W_xh"], arrays["W_hh"]])
    else:
        layer.set_weights([arrays["W_xh"], arrays["W_hh"], arrays["b_h"]])
    return layer


def numpy_weights(layer):
    """Return `(W_xh, W_hh, b_h)` of a built SimpleRNN in the numpy convention (float64)."""
    cell = _cell(layer)
    if not layer.built:
        raise ValueError("the layer has no weights yet: call it on data (or build it) first")
    W_xh = np.asarray(cell.kernel.numpy(), dtype=np.float64)
    W_hh = np.asarray(cell.recurrent_kernel.numpy(), dtype=np.float64)
    b_h = np.asarray(cell.bias.numpy(), dtype=np.float64) if cell.use_bias else np.zeros(cell.units)
    return W_xh, W_hh, b_h


def _is_shape(value) -> bool:
    try:
        return all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in value) and len(value) > 0
    except TypeError:
        return False


def check_rnn_shapes(got, batch, time, features, units, return_sequences=False, return_state=False) -> None:
    """Check a learner's `expected_simple_rnn_shapes(...)` result against `rnn_output_shapes`; teach on failure.

    Expected structure: the output shape alone, or `(output_shape, state_shape)`
    with `return_state`. Lists, tuples and `TensorShape`s are accepted.
    """
    from ..checks import CheckFailure, _shown

    call = (
        f"expected_simple_rnn_shapes(batch={batch}, time={time}, features={features}, units={units}, "
        f"return_sequences={return_sequences}, return_state={return_state})"
    )
    if got is None:
        raise CheckFailure(f"{call} returned None: did you forget `return`?")
    want = rnn_output_shapes(batch, time, features, units, return_sequences, return_state)
    want_out, want_state = (want[0], want[1]) if return_state else (want, None)
    if return_state:
        if _is_shape(got) or not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailure(
                f"{call} should return a pair (output_shape, state_shape){_shown(f', got {got!r}')}\n"
                "  likely mistake: with return_state=True the layer returns [output, state], so the shapes "
                "come as a pair"
            )
        out = as_shape(got[0], f"{call}[0] (the output shape)", "(2, 4, 3)")
        state = as_shape(got[1], f"{call}[1] (the state shape)", "(2, 4, 3)")
    else:
        if not _is_shape(got):
            raise CheckFailure(
                f"{call} should return the output shape alone"
                f"{_shown(f', such as {want_out}')}{_shown(f', got {got!r}')}\n"
                "  likely mistake: without return_state the layer returns only its output, not a pair"
            )
        out, state = as_shape(got, call, "(2, 4, 3)"), None
    seq = (batch, time, units)
    out_mistakes = [
        ("Keras is batch-major: (batch, time, units), not time-major (time, batch, units)", (time, batch, units)),
        ("return_sequences=False keeps only the last step: (batch, units)", seq),
        ("return_sequences=True keeps every step: (batch, time, units)", (batch, units)),
        ("the last axis is the number of units, not the number of input features", want_out[:-1] + (features,)),
    ]
    state_mistakes = [
        ("the state is the hidden state after the last step only: (batch, units)", seq),
        (
            "Keras is batch-major and a SimpleRNN has a single state: (batch, units), with no layer axis",
            (1, batch, units),
        ),
        ("the state has as many values as the layer has units, not input features", (batch, features)),
    ]
    checks: list[tuple] = [("output shape", out, want_out, out_mistakes)]
    if return_state:
        checks.append(("state shape", state, want_state, state_mistakes))
    check_shape_parts(
        call,
        checks,
        hint="output is (batch, units), or (batch, time, units) with return_sequences; the state is (batch, units)",
    )
