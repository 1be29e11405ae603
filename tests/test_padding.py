"""Topic 08 helpers: the variable-length order task, padding masks, last real steps, gradients and clipping.

Oracles are the frameworks: PyTorch's packing (`pack_padded_sequence`) and Keras'
masking give the state at each sequence's last real step; `tf.sequence_mask` the
mask; `clip_grad_norm_` and Keras' `global_clipnorm` the clipping.
"""

from __future__ import annotations

import numpy as np
import pytest

from utils.data import order
from utils.data.memory import make_sum_task

torch = pytest.importorskip("torch")


# --------------------------------------------------------------------------- data


def test_variable_order_dataset_follows_its_rule():
    X, y, lengths = order.make_variable_order_dataset(2000, 3, 20, seed=3)
    assert X.shape == (2000, 20) and X.dtype == np.int64 and lengths.min() == 3 and lengths.max() == 20
    real = np.arange(20)[None, :] < lengths[:, None]
    assert np.all(X[~real] == order.ORDER_PAD) and np.all(X[real] != order.ORDER_PAD)
    first = np.argmax(X == order.ORDER_FIRST, axis=1)
    second = np.argmax(X == order.ORDER_SECOND, axis=1)
    assert np.all((X == order.ORDER_FIRST).sum(1) == 1) and np.all((X == order.ORDER_SECOND).sum(1) == 1)
    np.testing.assert_array_equal(y, (first < second).astype(int))
    assert 0.45 < y.mean() < 0.55


def test_pre_padding_moves_the_same_words_to_the_end():
    X, y, lengths = order.make_variable_order_dataset(300, seed=1)
    X_pre, y_pre, l_pre = order.make_variable_order_dataset(300, seed=1, padding="pre")
    np.testing.assert_array_equal(y, y_pre)
    np.testing.assert_array_equal(lengths, l_pre)
    np.testing.assert_array_equal(X_pre, order.move_padding(X, lengths, "pre"))
    for row, row_pre, n in zip(X, X_pre, lengths):
        np.testing.assert_array_equal(row_pre[20 - n :], row[:n])
        assert np.all(row_pre[: 20 - n] == 0)
    np.testing.assert_array_equal(order.move_padding(X_pre, lengths, "post"), X)


def test_variable_task_has_no_test_message_seen_in_training():
    task = order.load_variable_order_task(seed=0)
    assert [len(task[k][0]) for k in ("train", "val", "test")] == [3000, 500, 1000]
    assert not order.seen_in(task["train"][0], task["test"][0]).any()
    assert not order.seen_in(task["train"][0], task["val"][0]).any()
    pre = order.load_variable_order_task(seed=0, padding="pre")
    np.testing.assert_array_equal(pre["test"][0], order.move_padding(*task["test"][::2], "pre"))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="padding"):
        order.make_variable_order_dataset(5, padding="middle")
    with pytest.raises(ValueError, match="lengths"):
        order.move_padding(np.zeros((2, 4), dtype=int), [5, 1])
    with pytest.raises(ValueError, match="max_len"):
        order.make_variable_order_dataset(5, 6, 4)


def test_sum_task_targets_are_scaled_sums():
    X, y = make_sum_task(50, 30, seed=2)
    assert X.shape == (50, 30, 1) and y.shape == (50, 1) and X.dtype == np.float32
    np.testing.assert_allclose(y[:, 0], X[:, :, 0].sum(1) / np.sqrt(30), rtol=1e-5)


# --------------------------------------------------------------------------- PyTorch


def test_torch_mask_and_last_output_agree_with_packing():
    from torch.nn.utils.rnn import pack_padded_sequence

    from utils.torch_utils import gather_last, padding_mask

    lengths = [4, 1, 7, 3, 7]
    np.testing.assert_array_equal(padding_mask(lengths, 7).numpy(), np.arange(7)[None] < np.array(lengths)[:, None])
    assert padding_mask([0, 2], 3).tolist() == [[False, False, False], [True, True, False]]
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, batch_first=True)
    x = torch.randn(5, 7, 3)
    with torch.no_grad():
        outputs, _ = lstm(x)
        _, (h_n, _) = lstm(pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False))
    np.testing.assert_allclose(gather_last(outputs, lengths).numpy(), h_n[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(
        gather_last(outputs.transpose(0, 1), lengths, batch_first=False).numpy(), h_n[0].numpy(), atol=1e-6
    )
    with pytest.raises(ValueError, match="lengths"):
        gather_last(outputs, [0, 1, 2, 3, 4])


def test_torch_gradient_norms_vanish_below_one_and_explode_above():
    from utils.torch_utils import input_gradient_norms, rnn_with_gain

    x = np.random.default_rng(0).normal(size=(40, 16, 4))
    small = input_gradient_norms(rnn_with_gain(4, 32, 0.6, input_scale=0.3), x)
    large = input_gradient_norms(rnn_with_gain(4, 32, 1.5, input_scale=0.3), x)
    assert small.shape == large.shape == (40,)
    assert small[0] < 1e-3 * small[-1]  # vanishes towards the start
    assert large[0] > 3 * large[-1]  # grows towards the start


def test_torch_training_diverges_without_clipping_and_trains_with_it():
    from utils.torch_utils import train_sum_task

    torch.set_num_threads(1)
    free = train_sum_task(clip_norm=None, progress=False)
    clipped = train_sum_task(clip_norm=1.0, progress=False)
    assert not np.all(np.isfinite(free["loss"]))
    assert np.all(np.isfinite(clipped["loss"]))
    assert np.mean(clipped["loss"][-30:]) < 0.5 * np.mean(clipped["loss"][:30])
    assert max(clipped["grad_norm"]) > 1.0  # clipping had something to do


# --------------------------------------------------------------------------- Keras


def test_keras_mask_last_output_and_masked_lstm_agree():
    pytest.importorskip("tensorflow")
    import keras
    import tensorflow as tf

    from utils.tf_utils import gather_last, padding_mask

    lengths = np.array([4, 1, 7, 3])
    np.testing.assert_array_equal(np.asarray(padding_mask(lengths, 7)), np.arange(7)[None] < lengths[:, None])
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(4, 7, 3)).astype("float32")
    x[np.arange(7)[None] >= lengths[:, None]] = 0.0
    lstm = keras.layers.LSTM(5, return_sequences=True)
    outputs = lstm(x)
    masked_last = keras.layers.LSTM(5)
    masked_last.build((None, None, 3))
    masked_last.set_weights(lstm.get_weights())
    want = masked_last(x, mask=tf.sequence_mask(lengths, 7))
    np.testing.assert_allclose(np.asarray(gather_last(outputs, lengths)), np.asarray(want), atol=1e-6)
    also = keras.Sequential([keras.layers.Masking(0.0), masked_last])
    np.testing.assert_allclose(np.asarray(also(x)), np.asarray(want), atol=1e-6)


def test_keras_clipping_runs_and_gradient_norms():
    pytest.importorskip("tensorflow")
    from utils.tf_utils import input_gradient_norms, rnn_with_gain, train_sum_task

    x = np.random.default_rng(0).normal(size=(16, 40, 4))
    small = input_gradient_norms(rnn_with_gain(4, 32, 0.6, input_scale=0.3), x)
    large = input_gradient_norms(rnn_with_gain(4, 32, 1.5, input_scale=0.3), x)
    assert small[0] < 1e-3 * small[-1] and large[0] > 3 * large[-1]
    free = train_sum_task(clip_norm=None, progress=False)
    clipped = train_sum_task(clip_norm=1.0, progress=False)
    assert not np.all(np.isfinite(free["loss"]))
    assert np.all(np.isfinite(clipped["loss"]))
    assert np.mean(clipped["loss"][-30:]) < 0.5 * np.mean(clipped["loss"][:30])
