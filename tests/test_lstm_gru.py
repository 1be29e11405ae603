"""Topic 08: the numpy LSTM and GRU of `utils.rnn` equal `torch.nn.LSTM`/`GRU` and `keras.layers.LSTM`/`GRU`.

Random weights, several seeds and shapes, tolerance 1e-5 (the frameworks compute
in float32). Also: the shape rules of `utils.*_utils.gated` equal what real layers
return, and the references refuse shapes that do not fit.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

# after the importorskips: without torch or keras the module is skipped before utils' adapters fail to import
from utils import rnn, tf_utils, torch_utils  # noqa: E402 - importorskip must run first

TOL = 1e-5
CASES = [  # seed, (seq_len, batch, input_size, hidden)
    (0, (4, 2, 5, 3)),
    (1, (12, 3, 8, 16)),
    (2, (1, 1, 1, 1)),
    (3, (30, 4, 3, 2)),
    (4, (6, 5, 6, 6)),  # square blocks: a transpose or a swapped gate would not crash
]


def _data(seed, seq_len, batch, input_size, hidden, gates):
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 0.6, size=(input_size, gates * hidden))
    U = rng.normal(0, 0.6, size=(hidden, gates * hidden))
    b1 = rng.normal(0, 0.4, size=gates * hidden)
    b2 = rng.normal(0, 0.4, size=gates * hidden)
    x = rng.normal(size=(seq_len, batch, input_size))
    h0 = rng.normal(0, 0.5, size=(batch, hidden))
    c0 = rng.normal(0, 0.5, size=(batch, hidden))
    return W, U, b1, b2, x, h0, c0


def _f32(a):
    return torch.tensor(np.asarray(a), dtype=torch.float32)


@pytest.mark.parametrize("seed,sizes", CASES)
def test_numpy_lstm_equals_torch_and_keras(seed, sizes):
    W, U, b, _, x, h0, c0 = _data(seed, *sizes, gates=4)
    ref_out, (ref_h, ref_c) = rnn.lstm_forward(x, h0, c0, W, U, b)
    torch.manual_seed(seed)
    layer = torch_utils.copy_numpy_lstm_weights(torch.nn.LSTM(sizes[2], sizes[3]), W, U, b)
    with torch.no_grad():
        out, (h_n, c_n) = layer(_f32(x), (_f32(h0[None]), _f32(c0[None])))
    np.testing.assert_allclose(out.numpy(), ref_out, atol=TOL, rtol=TOL, err_msg="torch LSTM outputs")
    np.testing.assert_allclose(h_n[0].numpy(), ref_h, atol=TOL, rtol=TOL, err_msg="torch LSTM h_n")
    np.testing.assert_allclose(c_n[0].numpy(), ref_c, atol=TOL, rtol=TOL, err_msg="torch LSTM c_n")
    kl = keras.layers.LSTM(sizes[3], return_sequences=True, return_state=True)
    tf_utils.copy_numpy_lstm_weights(kl, W, U, b)
    k_out, k_h, k_c = kl(
        np.swapaxes(x, 0, 1).astype("float32"), initial_state=[h0.astype("float32"), c0.astype("float32")]
    )
    np.testing.assert_allclose(
        np.swapaxes(np.asarray(k_out), 0, 1), ref_out, atol=TOL, rtol=TOL, err_msg="keras LSTM outputs"
    )
    np.testing.assert_allclose(np.asarray(k_h), ref_h, atol=TOL, rtol=TOL, err_msg="keras LSTM h")
    np.testing.assert_allclose(np.asarray(k_c), ref_c, atol=TOL, rtol=TOL, err_msg="keras LSTM c")
    # and back: the weights read out of each layer are those copied in
    for got in (torch_utils.numpy_lstm_weights(layer), tf_utils.numpy_lstm_weights(kl)):
        for g, w in zip(got, (W, U, b)):
            np.testing.assert_allclose(g, w, atol=1e-6)


@pytest.mark.parametrize("seed,sizes", CASES)
def test_numpy_gru_equals_torch_and_keras(seed, sizes):
    W, U, b_x, b_h, x, h0, _ = _data(seed, *sizes, gates=3)
    ref_out, ref_h = rnn.gru_forward(x, h0, W, U, b_x, b_h)
    torch.manual_seed(seed)
    layer = torch_utils.copy_numpy_gru_weights(torch.nn.GRU(sizes[2], sizes[3]), W, U, b_x, b_h)
    with torch.no_grad():
        out, h_n = layer(_f32(x), _f32(h0[None]))
    np.testing.assert_allclose(out.numpy(), ref_out, atol=TOL, rtol=TOL, err_msg="torch GRU outputs")
    np.testing.assert_allclose(h_n[0].numpy(), ref_h, atol=TOL, rtol=TOL, err_msg="torch GRU h_n")
    kl = keras.layers.GRU(sizes[3], return_sequences=True, return_state=True)
    tf_utils.copy_numpy_gru_weights(kl, W, U, b_x, b_h)
    k_out, k_h = kl(np.swapaxes(x, 0, 1).astype("float32"), initial_state=[h0.astype("float32")])
    np.testing.assert_allclose(
        np.swapaxes(np.asarray(k_out), 0, 1), ref_out, atol=TOL, rtol=TOL, err_msg="keras GRU outputs"
    )
    np.testing.assert_allclose(np.asarray(k_h), ref_h, atol=TOL, rtol=TOL, err_msg="keras GRU h")


def test_parity_is_not_vacuous():
    """Swapping two gate blocks, or merging the GRU biases, moves the outputs far beyond the tolerance."""
    W, U, b, b2, x, h0, c0 = _data(4, 6, 5, 6, 6, gates=4)
    ref_out, _ = rnn.lstm_forward(x, h0, c0, W, U, b)
    H = 6
    swap = np.r_[np.arange(H, 2 * H), np.arange(H), np.arange(2 * H, 4 * H)]  # f and i exchanged
    wrong, _ = rnn.lstm_forward(x, h0, c0, W[:, swap], U[:, swap], b[swap])
    assert np.abs(wrong - ref_out).max() > 100 * TOL
    Wg, Ug, b_x, b_h = W[:, :18], U[:, :18], b[:18], b2[:18]
    ref, _ = rnn.gru_forward(x, h0, Wg, Ug, b_x, b_h)
    merged, _ = rnn.gru_forward(x, h0, Wg, Ug, b_x + b_h, np.zeros(18))
    assert np.abs(merged - ref).max() > 100 * TOL


def test_lstm_step_is_the_first_step_of_lstm_forward():
    W, U, b, _, x, h0, c0 = _data(7, 3, 2, 4, 5, gates=4)
    h, c = rnn.lstm_step(x[0], h0, c0, W, U, b)
    out, _ = rnn.lstm_forward(x[:1], h0, c0, W, U, b)
    np.testing.assert_array_equal(out[0], h)
    assert h.shape == c.shape == (2, 5)


def test_references_refuse_shapes_that_do_not_fit():
    W, U, b, _, x, h0, c0 = _data(0, 2, 2, 3, 4, gates=4)
    with pytest.raises(ValueError, match="4 \\* hidden"):
        rnn.lstm_step(x[0], h0, c0, W[:, :12], U, b)
    with pytest.raises(ValueError, match="c_prev"):
        rnn.lstm_step(x[0], h0, c0[:, :2], W, U, b)
    with pytest.raises(ValueError, match="b"):
        rnn.lstm_step(x[0], h0, c0, W, U, b[:5])
    with pytest.raises(ValueError, match="3 \\* hidden"):
        rnn.gru_step(x[0], h0, W, U, b, b)
    with pytest.raises(ValueError, match="time-major"):
        rnn.lstm_forward(x[0], h0, c0, W, U, b)


def test_sigmoid_is_stable_for_huge_inputs():
    z = np.array([-1e4, -50.0, 0.0, 50.0, 1e4])
    s = rnn.sigmoid(z)
    assert np.all(np.isfinite(s)) and s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_torch_shape_rules_equal_real_layers(kind):
    rows = torch_utils.gated_shape_table(
        seq_len=5, batch=3, input_size=4, hidden_size=2, num_layers_options=(1, 3), kinds=(kind,)
    )
    assert len(rows) == 8 and all(row["agrees"] for row in rows), rows


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_keras_shape_rules_equal_real_layers(kind):
    rows = tf_utils.gated_shape_table(batch=3, time=5, features=4, units=2, kinds=(kind,))
    assert len(rows) == 4 and all(row["agrees"] for row in rows), rows
    lstm_state = [r for r in rows if r["return_state"]][0]["states"]
    assert len(lstm_state) == (2 if kind == "lstm" else 1)
