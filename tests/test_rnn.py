"""utils.rnn: the numpy Elman RNN against torch.nn.RNN, and the lesson helpers.

torch is the oracle for the recurrence: with the numpy weights copied in
(PyTorch keeps W_ih = W_xh.T, W_hh.T and two biases, one of them zero), its
outputs and h_n must match `rnn_forward`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from utils.rnn import init_rnn_weights, input_influence, rnn_forward, rnn_step

# torch.nn.RNN's own internals warn about torch.jit on this torch version; not our concern here.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def _torch_rnn(W_xh, W_hh, b_h):
    input_size, hidden = W_xh.shape
    rnn = torch.nn.RNN(input_size, hidden, nonlinearity="tanh", dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(W_xh.T.copy()))
        rnn.weight_hh_l0.copy_(torch.from_numpy(W_hh.T.copy()))
        rnn.bias_ih_l0.copy_(torch.from_numpy(b_h))
        rnn.bias_hh_l0.zero_()
    return rnn


@pytest.mark.parametrize("seq_len,batch,input_size,hidden", [(1, 1, 1, 1), (5, 3, 4, 6), (12, 2, 7, 3)])
def test_rnn_forward_matches_torch(seq_len, batch, input_size, hidden):
    rng = np.random.default_rng(seq_len * 100 + hidden)
    x = rng.normal(size=(seq_len, batch, input_size))
    h0 = rng.normal(size=(batch, hidden))
    W_xh, W_hh, b_h = init_rnn_weights(input_size, hidden, recurrent_gain=0.9, bias_scale=0.5, seed=seq_len)
    outputs, h_last = rnn_forward(x, h0, W_xh, W_hh, b_h)
    ref_out, ref_hn = _torch_rnn(W_xh, W_hh, b_h)(torch.from_numpy(x), torch.from_numpy(h0)[None])
    assert outputs.shape == (seq_len, batch, hidden)
    np.testing.assert_allclose(outputs, ref_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_last, ref_hn[0].detach().numpy(), rtol=1e-10, atol=1e-12)


def test_rnn_step_matches_torch_rnn_cell():
    rng = np.random.default_rng(1)
    W_xh, W_hh, b_h = init_rnn_weights(4, 5, bias_scale=1.0, seed=3)
    x_t, h_prev = rng.normal(size=(3, 4)), rng.normal(size=(3, 5))
    cell = torch.nn.RNNCell(4, 5, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.from_numpy(W_xh.T.copy()))
        cell.weight_hh.copy_(torch.from_numpy(W_hh.T.copy()))
        cell.bias_ih.copy_(torch.from_numpy(b_h))
        cell.bias_hh.zero_()
    expected = cell(torch.from_numpy(x_t), torch.from_numpy(h_prev)).detach().numpy()
    np.testing.assert_allclose(rnn_step(x_t, h_prev, W_xh, W_hh, b_h), expected, rtol=1e-10, atol=1e-12)


def test_rnn_step_accepts_lists_and_tensors():
    W_xh, W_hh, b_h = init_rnn_weights(2, 3, seed=0)
    x_t = [[0.5, -1.0]]
    h_prev = [[0.0, 0.1, 0.2]]
    from_lists = rnn_step(x_t, h_prev, W_xh.tolist(), W_hh.tolist(), b_h.tolist())
    from_tensors = rnn_step(torch.tensor(x_t, requires_grad=True), torch.tensor(h_prev), W_xh, W_hh, b_h)
    np.testing.assert_allclose(from_lists, from_tensors, rtol=1e-6)


@pytest.mark.parametrize(
    "args,fragment",
    [
        (dict(x_t=np.zeros(2)), "2-D"),
        (dict(W_xh=np.zeros((3, 3))), "weight shapes"),
        (dict(h_prev=np.zeros((2, 3))), "h_prev"),
        (dict(b_h=np.zeros(2)), "b_h"),
        (dict(x_t=np.array([[np.nan, 0.0]])), "NaN"),
    ],
)
def test_rnn_step_rejects_bad_input(args, fragment):
    W_xh, W_hh, b_h = init_rnn_weights(2, 3, seed=0)
    kwargs = dict(x_t=np.zeros((1, 2)), h_prev=np.zeros((1, 3)), W_xh=W_xh, W_hh=W_hh, b_h=b_h)
    kwargs.update(args)
    with pytest.raises(ValueError, match=fragment):
        rnn_step(**kwargs)


def test_rnn_forward_rejects_batch_major_2d_and_empty():
    W_xh, W_hh, b_h = init_rnn_weights(2, 3, seed=0)
    with pytest.raises(ValueError, match="time-major"):
        rnn_forward(np.zeros((4, 2)), np.zeros((1, 3)), W_xh, W_hh, b_h)
    with pytest.raises(ValueError, match="no time steps"):
        rnn_forward(np.zeros((0, 1, 2)), np.zeros((1, 3)), W_xh, W_hh, b_h)


def test_rnn_forward_is_rnn_step_unrolled_and_leaves_its_inputs_alone():
    """rnn_forward computes every step's input part in one product; stepping by hand gives the same states."""
    rng = np.random.default_rng(7)
    W_xh, W_hh, b_h = init_rnn_weights(6, 4, recurrent_gain=1.1, bias_scale=0.5, seed=2)
    x, h0 = rng.normal(size=(9, 3, 6)), rng.normal(size=(3, 4))
    x_copy, h0_copy = x.copy(), h0.copy()
    outputs, h_last = rnn_forward(x, h0, W_xh, W_hh, b_h)
    h, by_hand = h0, []
    for x_t in x:
        h = rnn_step(x_t, h, W_xh, W_hh, b_h)
        by_hand.append(h)
    np.testing.assert_allclose(outputs, np.stack(by_hand), rtol=1e-14, atol=1e-15)
    assert np.array_equal(h_last, outputs[-1])
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(h0, h0_copy)


def test_rnn_forward_names_a_wrong_initial_state_or_weight():
    W_xh, W_hh, b_h = init_rnn_weights(2, 3, seed=0)
    with pytest.raises(ValueError, match="h0 should have shape"):
        rnn_forward(np.zeros((4, 2, 2)), np.zeros((1, 3)), W_xh, W_hh, b_h)
    with pytest.raises(ValueError, match="weight shapes"):
        rnn_forward(np.zeros((4, 2, 5)), np.zeros((2, 3)), W_xh, W_hh, b_h)
    with pytest.raises(ValueError, match="b_h"):
        rnn_forward(np.zeros((4, 2, 2)), np.zeros((2, 3)), W_xh, W_hh, np.zeros(4))


def test_init_rnn_weights_shapes_gain_and_determinism():
    W_xh, W_hh, b_h = init_rnn_weights(5, 8, recurrent_gain=0.7, seed=4)
    assert W_xh.shape == (5, 8) and W_hh.shape == (8, 8) and b_h.shape == (8,)
    # every singular value of W_hh is the gain (gain times an orthogonal matrix)
    np.testing.assert_allclose(np.linalg.svd(W_hh, compute_uv=False), 0.7, rtol=1e-12)
    assert not b_h.any()
    again = init_rnn_weights(5, 8, recurrent_gain=0.7, seed=4)
    for a, b in zip((W_xh, W_hh, b_h), again):
        np.testing.assert_array_equal(a, b)
    other = init_rnn_weights(5, 8, recurrent_gain=0.7, seed=5)
    assert not np.allclose(W_xh, other[0])
    assert init_rnn_weights(5, 8, bias_scale=1.0, seed=4)[2].std() > 0


@pytest.mark.parametrize(
    "kwargs", [dict(input_size=0), dict(hidden_size=2.5), dict(recurrent_gain=-1.0), dict(input_scale=float("nan"))]
)
def test_init_rnn_weights_rejects_bad_arguments(kwargs):
    args = dict(input_size=2, hidden_size=3)
    args.update(kwargs)
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        init_rnn_weights(**args)


def test_input_influence_matches_torch_autograd_and_is_causal():
    """For a small delta the nudge's effect is the Jacobian-vector product, which torch computes exactly."""
    rng = np.random.default_rng(7)
    seq_len, input_size, hidden = 15, 3, 6
    W_xh, W_hh, b_h = init_rnn_weights(input_size, hidden, recurrent_gain=0.95, seed=2)
    x = rng.normal(size=(seq_len, 1, input_size))
    h0 = np.zeros((1, hidden))
    step = 4
    got = input_influence(x, h0, W_xh, W_hh, b_h, step=step, delta=1e-6)
    assert got.shape == (seq_len,)
    assert np.all(got[:step] == 0.0)
    rnn = _torch_rnn(W_xh, W_hh, b_h)
    direction = torch.zeros(seq_len, 1, input_size, dtype=torch.float64)
    direction[step] = 1.0 / np.sqrt(input_size)
    _, jvp = torch.func.jvp(lambda inp: rnn(inp, torch.from_numpy(h0)[None])[0], (torch.from_numpy(x),), (direction,))
    expected = jvp.detach().numpy()[:, 0, :]
    np.testing.assert_allclose(got, np.linalg.norm(expected, axis=-1), rtol=1e-4, atol=1e-9)


def test_input_influence_fades_faster_with_a_smaller_gain():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4, 3))
    h0 = np.zeros((4, 8))
    short = input_influence(x, h0, *init_rnn_weights(3, 8, recurrent_gain=0.5, seed=1))
    long = input_influence(x, h0, *init_rnn_weights(3, 8, recurrent_gain=1.0, seed=1))
    assert short[0] > 0 and long[0] > 0
    assert short[20] / short[0] < long[20] / long[0]


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(step=10), "step"),
        (dict(step=-1), "step"),
        (dict(delta=0.0), "delta"),
        (dict(direction=np.zeros(3)), "zero"),
        (dict(direction=np.ones(2)), "direction"),
    ],
)
def test_input_influence_rejects_bad_arguments(kwargs, fragment):
    W_xh, W_hh, b_h = init_rnn_weights(3, 4, seed=0)
    with pytest.raises(ValueError, match=fragment):
        input_influence(np.zeros((10, 1, 3)), np.zeros((1, 4)), W_xh, W_hh, b_h, **kwargs)
