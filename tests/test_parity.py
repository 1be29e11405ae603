"""Framework parity: numpy, PyTorch and Keras agree, and so do the metrics on their outputs.

1. The same weights give the same outputs (to 1e-5) in the numpy RNN of
   `utils.rnn`, `torch.nn.RNN` and `keras.layers.SimpleRNN`, for several seeds
   and shapes (the PyTorch and TensorFlow tracks promise the same numbers).
2. The same predictions give identical `utils.metrics` results whether they
   arrive as numpy arrays, torch tensors (also ones that require grad) or tf
   tensors; scikit-learn is the oracle for the classification metrics.
3. End to end: one RNN and read-out with the same weights in the three
   frameworks predicts the same labels, so every metric agrees.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
sklearn_metrics = pytest.importorskip("sklearn.metrics")

from utils import metrics  # noqa: E402
from utils.rnn import rnn_forward  # noqa: E402
from utils.tf_utils import copy_numpy_weights as copy_to_keras  # noqa: E402
from utils.torch_utils import copy_numpy_weights as copy_to_torch  # noqa: E402

TOL = 1e-5
CASES = [  # seed, (seq_len, batch, input_size, hidden_size)
    (0, (4, 2, 5, 3)),  # the worked case of topic 02
    (1, (10, 3, 8, 16)),
    (2, (1, 1, 1, 1)),
    (3, (25, 4, 3, 2)),  # hidden smaller than input, long sequence
    (4, (6, 7, 6, 6)),  # square W_xh: a missing transpose would not crash
]


def _weights(seed, seq_len, batch, input_size, hidden_size):
    rng = np.random.default_rng(seed)
    W_xh = rng.normal(0, 0.6, size=(input_size, hidden_size))
    W_hh = rng.normal(0, 0.6, size=(hidden_size, hidden_size))
    b_h = rng.normal(0, 0.3, size=hidden_size)
    x = rng.normal(size=(seq_len, batch, input_size))  # time-major
    return W_xh, W_hh, b_h, x


def _torch_run(W_xh, W_hh, b_h, x, *, batch_first=False):
    torch.manual_seed(0)
    layer = copy_to_torch(torch.nn.RNN(W_xh.shape[0], W_xh.shape[1], batch_first=batch_first), W_xh, W_hh, b_h)
    data = np.swapaxes(x, 0, 1) if batch_first else x
    with torch.no_grad():
        out, h_n = layer(torch.tensor(data, dtype=torch.float32))
    out = out.numpy()
    return (np.swapaxes(out, 0, 1) if batch_first else out), h_n.numpy()[0]


def _keras_run(W_xh, W_hh, b_h, x):
    keras.utils.set_random_seed(0)
    layer = keras.layers.SimpleRNN(W_xh.shape[1], return_sequences=True, return_state=True)
    copy_to_keras(layer, W_xh, W_hh, b_h)
    out, state = layer(np.swapaxes(x, 0, 1).astype("float32"))  # Keras is batch-major
    return np.swapaxes(np.asarray(out), 0, 1), np.asarray(state)


# --------------------------------------------------------------------------- 1. the layers


@pytest.mark.parametrize("seed,sizes", CASES)
def test_same_weights_same_outputs_in_numpy_torch_and_keras(seed, sizes):
    W_xh, W_hh, b_h, x = _weights(seed, *sizes)
    ref_out, ref_h = rnn_forward(x, np.zeros((sizes[1], sizes[3])), W_xh, W_hh, b_h)
    torch_out, torch_h = _torch_run(W_xh, W_hh, b_h, x)
    torch_bf_out, torch_bf_h = _torch_run(W_xh, W_hh, b_h, x, batch_first=True)
    keras_out, keras_h = _keras_run(W_xh, W_hh, b_h, x)
    for name, out, h in [
        ("torch", torch_out, torch_h),
        ("torch batch_first", torch_bf_out, torch_bf_h),
        ("keras", keras_out, keras_h),
    ]:
        assert out.shape == ref_out.shape, name
        np.testing.assert_allclose(out, ref_out, atol=TOL, rtol=TOL, err_msg=f"{name} outputs vs numpy")
        np.testing.assert_allclose(h, ref_h, atol=TOL, rtol=TOL, err_msg=f"{name} final state vs numpy")
    np.testing.assert_allclose(torch_out, keras_out, atol=TOL, rtol=TOL, err_msg="torch vs keras")


def test_parity_is_not_vacuous():
    """A wrong copy (W_hh not transposed for torch) is far outside the tolerance, so the checks above bite."""
    W_xh, W_hh, b_h, x = _weights(4, 6, 7, 6, 6)
    ref_out, _ = rnn_forward(x, np.zeros((7, 6)), W_xh, W_hh, b_h)
    wrong_out, _ = _torch_run(W_xh, W_hh.T, b_h, x)  # copy_to_torch transposes again: the mistake
    assert np.abs(wrong_out - ref_out).max() > 100 * TOL


# --------------------------------------------------------------------------- 2. the metrics


def _predictions(seed=0, batch=32, time=12, classes=3):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, classes, size=(batch, time))
    logits = rng.normal(size=(batch, time, classes)).astype(np.float32)
    logits[np.arange(batch)[:, None], np.arange(time), y_true] += 1.0  # better than chance
    y_pred = logits.argmax(-1)
    lengths = rng.integers(1, time + 1, size=batch)
    mask = np.arange(time) < lengths[:, None]  # True = a real step
    values = rng.normal(size=(batch, time)).astype(np.float32)
    targets = np.tanh(values) + rng.normal(0, 0.1, size=(batch, time)).astype(np.float32)
    return y_true, y_pred, logits, mask, values, targets


def _containers(array):
    """The same values as numpy, torch (plain and requiring grad) and tf (constant and Variable)."""
    yield "numpy", array
    yield "torch", torch.from_numpy(np.ascontiguousarray(array))
    if array.dtype.kind == "f":
        yield "torch requires_grad", torch.tensor(array, requires_grad=True)
    yield "tf", tf.constant(array)
    if array.dtype.kind == "f":
        yield "tf Variable", tf.Variable(array)


def _all_metrics(y_true, y_pred, logits, mask, values, targets):
    flat_true, flat_pred = y_true[:, 0], y_pred[:, 0]
    return {
        "confusion_matrix": metrics.confusion_matrix(flat_true, flat_pred, num_classes=3),
        "confusion_matrix masked 2-D": metrics.confusion_matrix(y_true, y_pred, mask=mask, num_classes=3),
        "accuracy": metrics.accuracy_score(flat_true, flat_pred),
        "prfs macro": metrics.precision_recall_fscore_support(flat_true, flat_pred, average="macro", zero_division=0),
        "f1 per class": metrics.f1_score(flat_true, flat_pred, average=None, zero_division=0),
        "precision binary": metrics.precision_score(flat_true > 0, flat_pred > 0, zero_division=0),
        "per_step_confusion": metrics.per_step_confusion_matrix(y_true, y_pred, mask=mask, num_classes=3),
        "token_accuracy": metrics.token_accuracy(y_true, y_pred, mask=mask),
        "sequence_accuracy": metrics.sequence_accuracy(y_true, y_pred, mask=mask),
        "cross_entropy": metrics.cross_entropy(y_true, logits, mask=mask),
        "cross_entropy per_step": metrics.cross_entropy(y_true, logits, mask=mask, reduction="per_step"),
        "perplexity": metrics.perplexity(y_true, logits, mask=mask),
        "mse": metrics.mean_squared_error(targets, values, mask=mask),
    }


def _assert_same(results, reference, label):
    assert results.keys() == reference.keys()
    for key, want in reference.items():
        got = results[key]
        if isinstance(want, tuple):
            assert isinstance(got, tuple) and len(got) == len(want), f"{label}: {key}"
            for g, w in zip(got, want):
                np.testing.assert_array_equal(
                    np.asarray(g, dtype=float), np.asarray(w, dtype=float), err_msg=f"{label}: {key}"
                )
        else:
            assert type(got) is type(want), f"{label}: {key} returned {type(got)} instead of {type(want)}"
            np.testing.assert_array_equal(got, want, err_msg=f"{label}: {key}")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_identical_whichever_framework_holds_the_predictions(seed):
    y_true, y_pred, logits, mask, values, targets = _predictions(seed)
    reference = _all_metrics(y_true, y_pred, logits, mask, values, targets)
    # the reference itself agrees with scikit-learn where scikit-learn has the metric
    flat_true, flat_pred = y_true[:, 0], y_pred[:, 0]
    np.testing.assert_array_equal(
        reference["confusion_matrix"], sklearn_metrics.confusion_matrix(flat_true, flat_pred, labels=[0, 1, 2])
    )
    np.testing.assert_array_equal(
        reference["confusion_matrix masked 2-D"],
        sklearn_metrics.confusion_matrix(y_true[mask], y_pred[mask], labels=[0, 1, 2]),
    )
    assert reference["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(flat_true, flat_pred))
    sk = sklearn_metrics.precision_recall_fscore_support(flat_true, flat_pred, average="macro", zero_division=0)
    np.testing.assert_allclose(np.asarray(reference["prfs macro"][:3], dtype=float), np.asarray(sk[:3], dtype=float))
    assert reference["token_accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(y_true[mask], y_pred[mask]))
    assert reference["perplexity"] == pytest.approx(np.exp(reference["cross_entropy"]))

    assert reference["mse"] == pytest.approx(sklearn_metrics.mean_squared_error(targets[mask], values[mask]))
    inputs = {"y_true": y_true, "y_pred": y_pred, "logits": logits, "mask": mask, "values": values, "targets": targets}
    for arg in inputs:
        for label, container in _containers(inputs[arg]):
            if label == "numpy":
                continue
            swapped = dict(inputs, **{arg: container})
            _assert_same(_all_metrics(**swapped), reference, f"{arg} as {label}")
    # everything at once, in each framework
    for framework in ("torch", "tf"):
        converted = {arg: dict(_containers(a))[framework] for arg, a in inputs.items()}
        _assert_same(_all_metrics(**converted), reference, f"all inputs as {framework}")


def test_metrics_leave_framework_tensors_untouched():
    y_true, y_pred, logits, mask, values, targets = _predictions(3)
    t_logits = torch.tensor(logits, requires_grad=True)
    metrics.cross_entropy(torch.from_numpy(y_true), t_logits, mask=torch.from_numpy(mask))
    assert t_logits.requires_grad and t_logits.grad is None
    np.testing.assert_array_equal(t_logits.detach().numpy(), logits)


# --------------------------------------------------------------------------- 3. end to end


@pytest.mark.parametrize("seed", [0, 5])
def test_same_model_in_three_frameworks_gives_the_same_metrics(seed):
    """RNN + linear read-out per step, same weights: identical labels, metrics equal to 1e-5."""
    seq_len, batch, input_size, hidden_size, classes = 8, 16, 4, 6, 3
    W_xh, W_hh, b_h, x = _weights(seed, seq_len, batch, input_size, hidden_size)
    rng = np.random.default_rng(seed + 100)
    W_out, b_out = rng.normal(size=(hidden_size, classes)), rng.normal(size=classes)
    y_true = rng.integers(0, classes, size=(batch, seq_len))
    mask = np.arange(seq_len) < rng.integers(1, seq_len + 1, size=batch)[:, None]

    ref_states, _ = rnn_forward(x, np.zeros((batch, hidden_size)), W_xh, W_hh, b_h)
    torch_states, _ = _torch_run(W_xh, W_hh, b_h, x)
    keras_states, _ = _keras_run(W_xh, W_hh, b_h, x)
    logits = {  # batch-major (batch, time, classes), in each framework's own tensor type
        "numpy": np.swapaxes(ref_states, 0, 1) @ W_out + b_out,
        "torch": torch.tensor(np.swapaxes(torch_states, 0, 1)) @ torch.tensor(W_out, dtype=torch.float32)
        + torch.tensor(b_out, dtype=torch.float32),
        "tf": tf.matmul(tf.constant(np.swapaxes(keras_states, 0, 1)), tf.constant(W_out, dtype=tf.float32))
        + tf.constant(b_out, dtype=tf.float32),
    }
    predictions = {
        "numpy": logits["numpy"].argmax(-1),
        "torch": logits["torch"].argmax(-1),
        "tf": tf.argmax(logits["tf"], axis=-1),
    }
    results = {}
    for name in logits:
        results[name] = {
            "per_step_confusion": metrics.per_step_confusion_matrix(
                y_true, predictions[name], mask=mask, num_classes=classes
            ),
            "token_accuracy": metrics.token_accuracy(y_true, predictions[name], mask=mask),
            "sequence_accuracy": metrics.sequence_accuracy(y_true, predictions[name], mask=mask),
            "f1 macro": metrics.f1_score(y_true, predictions[name], mask=mask, average="macro", zero_division=0),
            "cross_entropy": metrics.cross_entropy(y_true, logits[name], mask=mask),
        }
    for name in ("torch", "tf"):
        np.testing.assert_array_equal(np.asarray(predictions[name]), predictions["numpy"], err_msg=name)
        for key, want in results["numpy"].items():
            np.testing.assert_allclose(results[name][key], want, rtol=TOL, atol=TOL, err_msg=f"{name}: {key}")
