"""Topic 02 adapters: the shape rules and weight copies agree with the real layers.

`utils.torch_utils.shapes` and `utils.tf_utils.shapes` hold the references the
exercise tests compare against, so they are checked here against
`torch.nn.RNN` and `keras.layers.SimpleRNN` themselves, for every combination
of the layers' options, and against the numpy RNN of `utils.rnn`.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

from utils.rnn import rnn_forward  # noqa: E402
from utils.tf_utils import shapes as tfs  # noqa: E402
from utils.torch_utils import shapes as ts  # noqa: E402

TORCH_SIZES = [(4, 2, 5, 3), (1, 1, 1, 1), (7, 3, 2, 6)]  # seq_len, batch, input_size, hidden_size


# --------------------------------------------------------------------------- PyTorch


@pytest.mark.parametrize("sizes", TORCH_SIZES)
@pytest.mark.parametrize(
    "num_layers,batch_first,bidirectional", list(itertools.product((1, 2, 3), (False, True), (False, True)))
)
def test_torch_rules_match_a_real_layer(sizes, num_layers, batch_first, bidirectional):
    seq_len, batch, input_size, hidden = sizes
    layer = torch.nn.RNN(
        input_size, hidden, num_layers=num_layers, batch_first=batch_first, bidirectional=bidirectional
    )
    x = torch.zeros((batch, seq_len, input_size) if batch_first else (seq_len, batch, input_size))
    out, h_n = layer(x)
    predicted = ts.rnn_output_shapes(seq_len, batch, input_size, hidden, num_layers, bidirectional, batch_first)
    assert predicted == (tuple(out.shape), tuple(h_n.shape))
    assert (
        ts.observed_rnn_shapes(seq_len, batch, input_size, hidden, num_layers, bidirectional, batch_first) == predicted
    )


def test_torch_worked_case_and_table():
    assert ts.rnn_output_shapes(4, 2, 5, 3) == ((4, 2, 3), (1, 2, 3))
    rows = ts.rnn_shape_table()
    assert len(rows) == 8 and all(r["agrees"] for r in rows)
    assert {(r["num_layers"], r["batch_first"], r["bidirectional"]) for r in rows} == set(
        itertools.product((1, 2), (False, True), (False, True))
    )


@pytest.mark.parametrize(
    "bad,exc",
    [
        ((0, 2, 5, 3), ValueError),
        ((4, 2.0, 5, 3), TypeError),
        ((4, 2, 5, True), TypeError),
        ((4, 2, -5, 3), ValueError),
    ],
)
def test_torch_rules_reject_bad_sizes(bad, exc):
    with pytest.raises(exc, match=r"`(seq_len|batch|input_size|hidden_size)`"):
        ts.rnn_output_shapes(*bad)


@pytest.mark.parametrize("flags", [dict(bidirectional="False"), dict(batch_first=1), dict(bidirectional=None)])
def test_torch_rules_refuse_an_option_that_is_not_a_bool(flags):
    """A truthy string would silently count two directions; the rules name the option instead."""
    name = next(iter(flags))
    with pytest.raises(TypeError, match=f"`{name}` must be True or False"):
        ts.rnn_output_shapes(4, 2, 5, 3, **flags)
    assert ts.rnn_output_shapes(4, 2, 5, 3, bidirectional=np.bool_(True)) == ((4, 2, 6), (2, 2, 3))


@pytest.mark.parametrize("batch_first", [False, True])
def test_torch_check_input(batch_first):
    layer = torch.nn.RNN(8, 3, batch_first=batch_first)
    ts.check_rnn_input(layer, torch.zeros(4, 2, 8))
    ts.check_rnn_input(layer, np.zeros((6, 8)))  # unbatched input is allowed by nn.RNN
    with pytest.raises(ValueError) as info:
        ts.check_rnn_input(layer, torch.zeros(4, 2, 10))
    assert "8" in str(info.value) and "10" in str(info.value)
    with pytest.raises(RuntimeError, match="8.*10"):  # the real layer refuses the same input
        layer(torch.zeros(4, 2, 10))
    with pytest.raises(ValueError, match="3-D"):
        ts.check_rnn_input(layer, torch.zeros(8))
    with pytest.raises(TypeError, match="layer"):
        ts.check_rnn_input(torch.nn.Linear(8, 3), torch.zeros(4, 2, 8))


@pytest.mark.parametrize("seed,sizes", [(0, (4, 2, 5, 3)), (1, (6, 3, 2, 7)), (2, (1, 1, 4, 4))])
def test_torch_weight_copy_reproduces_numpy(seed, sizes):
    seq_len, batch, input_size, hidden = sizes
    rng = np.random.default_rng(seed)
    W_xh, W_hh = rng.normal(size=(input_size, hidden)), rng.normal(size=(hidden, hidden)) * 0.5
    b_h, x, h0 = (
        rng.normal(size=hidden),
        rng.normal(size=(seq_len, batch, input_size)),
        rng.normal(size=(batch, hidden)),
    )
    torch.manual_seed(seed)
    layer = ts.copy_numpy_weights(torch.nn.RNN(input_size, hidden), W_xh, W_hh, b_h)
    with torch.no_grad():
        out, h_n = layer(torch.tensor(x, dtype=torch.float32), torch.tensor(h0[None], dtype=torch.float32))
    ref_out, ref_h = rnn_forward(x, h0, W_xh, W_hh, b_h)
    np.testing.assert_allclose(out.numpy(), ref_out, atol=1e-5)
    np.testing.assert_allclose(h_n.numpy()[0], ref_h, atol=1e-5)
    back = ts.numpy_weights(layer)
    for got, want in zip(back, (W_xh, W_hh, b_h)):
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_torch_weight_copy_rejects_bad_input():
    layer = torch.nn.RNN(5, 3)
    with pytest.raises(ValueError, match="W_xh.*\\(5, 3\\)"):
        ts.copy_numpy_weights(layer, np.zeros((3, 5)), np.zeros((3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="b_h"):
        ts.copy_numpy_weights(layer, np.zeros((5, 3)), np.zeros((3, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        ts.copy_numpy_weights(layer, np.full((5, 3), np.nan), np.zeros((3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="one-layer"):
        ts.copy_numpy_weights(torch.nn.RNN(5, 3, num_layers=2), np.zeros((5, 3)), np.zeros((3, 3)), np.zeros(3))
    with pytest.raises(TypeError, match="layer"):
        ts.copy_numpy_weights(torch.nn.GRU(5, 3), np.zeros((5, 3)), np.zeros((3, 3)), np.zeros(3))


def test_error_summary_is_one_readable_line():
    try:
        torch.nn.RNN(8, 3)(torch.zeros(4, 2, 10))
    except RuntimeError as exc:
        line = ts.error_summary(exc)
    assert line.startswith("RuntimeError: ") and "8" in line and "10" in line and "\n" not in line
    try:
        layer = keras.layers.SimpleRNN(3)
        layer(np.zeros((2, 4, 8), "float32"))
        layer(np.zeros((2, 4, 10), "float32"))
    except Exception as exc:  # whatever Keras raises, the summary must be clean
        line = tfs.error_summary(exc)
    assert "\x1b" not in line and "\n" not in line and "10" in line


# --------------------------------------------------------------------------- Keras


@pytest.mark.parametrize("sizes", [(2, 4, 5, 3), (1, 1, 1, 1), (3, 7, 2, 6)])  # batch, time, features, units
@pytest.mark.parametrize(
    "bidirectional,return_sequences,return_state", list(itertools.product((False, True), repeat=3))
)
def test_keras_rules_match_a_real_layer(sizes, bidirectional, return_sequences, return_state):
    batch, time, features, units = sizes
    layer = keras.layers.SimpleRNN(units, return_sequences=return_sequences, return_state=return_state)
    if bidirectional:
        layer = keras.layers.Bidirectional(layer)
    result = layer(np.zeros((batch, time, features), "float32"))
    observed = tuple(tuple(r.shape) for r in result) if return_state else tuple(result.shape)
    predicted = tfs.rnn_output_shapes(batch, time, features, units, return_sequences, return_state, bidirectional)
    assert predicted == observed
    assert tfs.simple_rnn_output_shapes is tfs.rnn_output_shapes


def test_keras_worked_case_and_table():
    assert tfs.rnn_output_shapes(2, 4, 5, 3) == (2, 3)
    assert tfs.rnn_output_shapes(2, 4, 5, 3, return_sequences=True, return_state=True) == ((2, 4, 3), (2, 3))
    rows = tfs.rnn_shape_table()
    assert len(rows) == 8 and all(r["agrees"] for r in rows)


def test_keras_rules_reject_bad_sizes():
    with pytest.raises(ValueError, match="`units`"):
        tfs.rnn_output_shapes(2, 4, 5, 0)
    with pytest.raises(TypeError, match="`time`"):
        tfs.rnn_output_shapes(2, 4.5, 5, 3)


def test_keras_check_input():
    layer = keras.layers.SimpleRNN(3)
    tfs.check_rnn_input(layer, np.zeros((2, 4, 10)))  # not built yet: any feature size is fine
    layer(np.zeros((2, 4, 8), "float32"))
    tfs.check_rnn_input(layer, np.zeros((2, 4, 8)))
    with pytest.raises(ValueError) as info:
        tfs.check_rnn_input(layer, np.zeros((2, 4, 10)))
    assert "8" in str(info.value) and "10" in str(info.value)
    with pytest.raises(ValueError, match="3-D"):
        tfs.check_rnn_input(layer, np.zeros((4, 8)))
    with pytest.raises(TypeError, match="layer"):
        tfs.check_rnn_input(keras.layers.Dense(3), np.zeros((2, 4, 8)))


@pytest.mark.parametrize("seed,sizes", [(0, (4, 2, 5, 3)), (1, (6, 3, 2, 7)), (2, (1, 1, 4, 4))])
@pytest.mark.parametrize("prebuilt", [False, True])
def test_keras_weight_copy_reproduces_numpy(seed, sizes, prebuilt):
    seq_len, batch, features, units = sizes
    rng = np.random.default_rng(seed)
    W_xh, W_hh = rng.normal(size=(features, units)), rng.normal(size=(units, units)) * 0.5
    b_h, x = rng.normal(size=units), rng.normal(size=(batch, seq_len, features))
    layer = keras.layers.SimpleRNN(units, return_sequences=True, return_state=True)
    if prebuilt:
        layer(np.zeros((1, 1, features), "float32"))
    tfs.copy_numpy_weights(layer, W_xh, W_hh, b_h)
    out, state = layer(x.astype("float32"))
    ref_out, ref_h = rnn_forward(x.transpose(1, 0, 2), np.zeros((batch, units)), W_xh, W_hh, b_h)
    np.testing.assert_allclose(np.asarray(out), ref_out.transpose(1, 0, 2), atol=1e-5)
    np.testing.assert_allclose(np.asarray(state), ref_h, atol=1e-5)
    for got, want in zip(tfs.numpy_weights(layer), (W_xh, W_hh, b_h)):
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_keras_weight_copy_rejects_bad_input():
    layer = keras.layers.SimpleRNN(3)
    with pytest.raises(ValueError, match="W_hh"):
        tfs.copy_numpy_weights(layer, np.zeros((5, 3)), np.zeros((5, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="b_h"):
        tfs.copy_numpy_weights(layer, np.zeros((5, 3)), np.zeros((3, 3)), np.zeros((1, 3)))
    layer(np.zeros((1, 2, 5), "float32"))
    with pytest.raises(ValueError, match="5 features"):
        tfs.copy_numpy_weights(layer, np.zeros((4, 3)), np.zeros((3, 3)), np.zeros(3))
    with pytest.raises(TypeError, match="layer"):
        tfs.copy_numpy_weights(keras.layers.GRU(3), np.zeros((5, 3)), np.zeros((3, 3)), np.zeros(3))


# --------------------------------------------------------------------------- shared, framework-free part


def test_shared_shape_helpers_import_no_framework():
    """utils._shapes_common serves both adapters, so it must load without torch or tensorflow."""
    code = (
        "import sys, utils._shapes_common; "
        "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(Path(__file__).resolve().parents[1]),
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    assert ts.error_summary is tfs.error_summary


def test_shared_shape_check_names_the_mistake_or_gives_the_hint():
    from utils._shapes_common import check_shape_parts
    from utils.checks import CheckFailure

    mistakes = [("rows and columns swapped", (3, 2))]
    check_shape_parts("f()", [("output shape", (2, 3), (2, 3), mistakes)], hint="unused")
    with pytest.raises(CheckFailure, match="likely mistake: rows and columns swapped"):
        check_shape_parts("f()", [("output shape", (3, 2), (2, 3), mistakes)], hint="unused")
    with pytest.raises(CheckFailure, match=r"f\(\): the state shape is wrong(.|\n)*hint: read the rules"):
        check_shape_parts(
            "f()", [("output shape", (2, 3), (2, 3), mistakes), ("state shape", (9,), (2,), [])], hint="read the rules"
        )


@pytest.mark.parametrize("module", ["utils.torch_utils", "utils.tf_utils"])
def test_a_malformed_answer_in_a_hidden_case_is_not_quoted(module):
    """Inside hidden_case the shape checks name the problem, never the learner's value or the expected shape
    (either could give the hidden sizes away); outside it they show both."""
    import importlib

    from utils.checks import CheckFailure, hidden_case

    check = importlib.import_module(module).check_rnn_shapes
    wrong = (13, 17, 19)  # a single shape where a pair (or the output shape alone) is due
    args = (7, 3, 10, 4, 1, False, False) if module == "utils.torch_utils" else (7, 3, 10, 4, False, True)
    with pytest.raises(CheckFailure) as visible:
        check(wrong, *args)
    assert "13" in str(visible.value)
    with pytest.raises(CheckFailure) as hidden:
        with hidden_case("other sizes"):
            check(wrong, *args)
    text = str(hidden.value)
    assert text.startswith("a hidden case: other sizes")
    assert not any(str(n) in text for n in (13, 17, 19, 7, 10)), text
