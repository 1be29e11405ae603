"""Topic 08 (TensorFlow / Keras 3): exploding and vanishing gradients over time steps, and clipping.

The same names exist in `utils.torch_utils.gradients` for PyTorch:

- `rnn_with_gain(input_size, hidden_size, gain, nonlinearity="tanh", seed=0)`: a
  `SimpleRNN(return_sequences=True)` whose recurrent kernel is `gain` times a random
  orthogonal matrix (spectral radius = gain), from `utils.rnn.init_rnn_weights`;
- `input_gradient_norms(layer, x, seed=0)`: for every time step t, the norm of the
  gradient of a fixed random read-out of the LAST hidden state with respect to x_t;
  x is batch-major (batch, time, features), as Keras wants it;
- `train_sum_task(gain, lr, clip_norm=None, clipping="global", ...)`: SGD on
  `utils.data.make_sum_task` with a relu SimpleRNN; `clipping="global"` passes
  `global_clipnorm=clip_norm` to the optimizer (what `clip_grad_norm_` does in
  PyTorch), `clipping="each"` passes `clipnorm=clip_norm`, which clips every
  variable's gradient on its own.
"""

from __future__ import annotations

import sys

import keras
import numpy as np
import tensorflow as tf

from ..rnn import init_rnn_weights

__all__ = ["rnn_with_gain", "input_gradient_norms", "train_sum_task"]


def rnn_with_gain(
    input_size: int,
    hidden_size: int,
    gain: float,
    nonlinearity: str = "tanh",
    *,
    input_scale: float = 1.0,
    seed: int = 0,
):
    """A built `SimpleRNN(return_sequences=True)` with recurrent kernel gain * orthogonal and a zero bias."""
    W_xh, W_hh, b_h = init_rnn_weights(input_size, hidden_size, recurrent_gain=gain, input_scale=input_scale, seed=seed)
    layer = keras.layers.SimpleRNN(hidden_size, activation=nonlinearity, return_sequences=True)
    layer.build((None, None, input_size))
    layer.set_weights([W_xh.astype("float32"), W_hh.astype("float32"), b_h.astype("float32")])
    return layer


def input_gradient_norms(layer, x, seed: int = 0) -> np.ndarray:
    """||d(v . h_T) / d x_t|| for every step t of a batch-major x (batch, time, features): shape (time,)."""
    x = tf.convert_to_tensor(np.asarray(x, dtype=np.float32))
    if len(x.shape) != 3:
        raise ValueError(f"x should be batch-major (batch, time, features), got shape {tuple(x.shape)}")
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = layer(x)
        v = tf.random.stateless_normal((x.shape[0], outputs.shape[-1]), seed=(seed, 0))
        read_out = tf.reduce_sum(outputs[:, -1] * v)
    grad = tape.gradient(read_out, x)
    return np.sqrt(np.sum(grad.numpy().astype(np.float64) ** 2, axis=(0, 2)))


def train_sum_task(
    gain: float = 1.2,
    lr: float = 0.05,
    clip_norm: float | None = None,
    *,
    clipping: str = "global",
    steps: int = 300,
    seq_len: int = 30,
    hidden_size: int = 32,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = True,
    desc: str = "training",
) -> dict:
    """Train a relu SimpleRNN + Dense(1) with plain SGD on the running-sum task.

    Returns {"loss": [...], "grad_norm": [...]} (one value per step; grad_norm is
    the global norm before clipping). Once the loss is no longer finite,
    training stops and the rest is filled with NaN.
    """
    from tqdm.auto import tqdm

    from ..data.memory import make_sum_task

    if clipping not in ("global", "each"):
        raise ValueError(f"`clipping` should be 'global' (global_clipnorm) or 'each' (clipnorm), got {clipping!r}")
    keras.utils.set_random_seed(seed)
    layer = rnn_with_gain(1, hidden_size, gain, "relu", seed=seed)
    head = keras.layers.Dense(1)
    head.build((None, hidden_size))
    variables = layer.trainable_variables + head.trainable_variables
    options = {} if clip_norm is None else {("global_clipnorm" if clipping == "global" else "clipnorm"): clip_norm}
    optimizer = keras.optimizers.SGD(learning_rate=lr, **options)
    X, y = make_sum_task(steps * batch_size, seq_len, seed=seed)

    @tf.function
    def step_fn(xb, yb):
        with tf.GradientTape() as tape:
            outputs = layer(xb)
            loss = tf.reduce_mean(tf.square(head(outputs[:, -1]) - yb))
        grads = tape.gradient(loss, variables)
        norm = tf.linalg.global_norm(grads)
        optimizer.apply_gradients(zip(grads, variables))
        return loss, norm

    history: dict[str, list[float]] = {"loss": [], "grad_norm": []}
    for step in tqdm(range(steps), desc=desc, disable=not progress, file=sys.stdout, mininterval=0.5):
        batch = slice(step * batch_size, (step + 1) * batch_size)
        loss, norm = step_fn(tf.constant(X[batch]), tf.constant(y[batch]))
        if not np.isfinite(float(loss)):
            pad = steps - step
            history["loss"] += [float("nan")] * pad
            history["grad_norm"] += [float("nan")] * pad
            break
        history["loss"].append(float(loss))
        history["grad_norm"].append(float(norm))
    return history
