"""Topic 08 (PyTorch): exploding and vanishing gradients over time steps, and clipping.

The same names exist in `utils.tf_utils.gradients` for Keras:

- `rnn_with_gain(input_size, hidden_size, gain, nonlinearity="tanh", seed=0)`: an
  `nn.RNN` whose recurrent weight is `gain` times a random orthogonal matrix
  (every singular value, hence the spectral radius, equals `gain`), from
  `utils.rnn.init_rnn_weights`;
- `input_gradient_norms(layer, x, seed=0)`: for every time step t, the norm of
  the gradient of a fixed random read-out of the LAST hidden state with respect to
  the input x_t (backpropagation through time, measured);
- `train_sum_task(gain, lr, clip_norm=None, ...)`: SGD on `utils.data.make_sum_task`
  with a relu RNN, optionally clipping with `torch.nn.utils.clip_grad_norm_`;
  returns the loss and the gradient norm (before clipping) of every step.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

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
) -> torch.nn.RNN:
    """A one-layer `nn.RNN` (time-major) with W_hh = gain * orthogonal and zero biases."""
    W_xh, W_hh, _ = init_rnn_weights(input_size, hidden_size, recurrent_gain=gain, input_scale=input_scale, seed=seed)
    layer = torch.nn.RNN(input_size, hidden_size, nonlinearity=nonlinearity)
    with torch.no_grad():
        layer.weight_ih_l0.copy_(torch.tensor(W_xh.T, dtype=torch.float32))
        layer.weight_hh_l0.copy_(torch.tensor(W_hh.T, dtype=torch.float32))
        layer.bias_ih_l0.zero_()
        layer.bias_hh_l0.zero_()
    return layer


def input_gradient_norms(layer: torch.nn.RNN, x, seed: int = 0) -> np.ndarray:
    """||d(v . h_T) / d x_t|| for every step t of a time-major x (seq_len, batch, input_size).

    v is a fixed random direction (seeded) and the norm is taken over the batch
    and the features, so the result is one number per time step, shape
    (seq_len,). Late steps are close to the read-out; how the curve falls (or
    rises) towards t = 0 shows gradients vanishing (or exploding) through time.
    """
    device = next(layer.parameters()).device
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32, device=device).clone().requires_grad_(True)
    if x.dim() != 3:
        raise ValueError(f"x should be time-major (seq_len, batch, input_size), got shape {tuple(x.shape)}")
    outputs, _ = layer(x)
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(outputs.shape[1:], generator=g).to(device)
    (outputs[-1] * v).sum().backward()
    return x.grad.norm(dim=(1, 2)).cpu().numpy().astype(np.float64)


def train_sum_task(
    gain: float = 1.2,
    lr: float = 0.05,
    clip_norm: float | None = None,
    *,
    steps: int = 300,
    seq_len: int = 30,
    hidden_size: int = 32,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = True,
    desc: str = "training",
) -> dict:
    """Train a relu RNN + linear read-out with plain SGD on the running-sum task.

    Every step draws a fresh batch of `utils.data.make_sum_task`. With `clip_norm`,
    the gradients are rescaled by `torch.nn.utils.clip_grad_norm_` so that their
    global norm is at most `clip_norm`. Returns {"loss": [...], "grad_norm": [...]}
    (one value per step; grad_norm is the global norm before clipping). Once the
    loss is no longer finite, training stops and the rest is filled with NaN.
    """
    from tqdm.auto import tqdm

    from ..data.memory import make_sum_task

    torch.manual_seed(seed)
    layer = rnn_with_gain(1, hidden_size, gain, "relu", seed=seed)
    layer.batch_first = True
    head = torch.nn.Linear(hidden_size, 1)
    params = list(layer.parameters()) + list(head.parameters())
    optimizer = torch.optim.SGD(params, lr=lr)
    X, y = make_sum_task(steps * batch_size, seq_len, seed=seed)
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    history: dict[str, list[float]] = {"loss": [], "grad_norm": []}
    for step in tqdm(range(steps), desc=desc, disable=not progress, file=sys.stdout, mininterval=0.5):
        batch = slice(step * batch_size, (step + 1) * batch_size)
        outputs, _ = layer(X[batch])
        loss = torch.nn.functional.mse_loss(head(outputs[:, -1]), y[batch])
        if not torch.isfinite(loss):
            pad = steps - step
            history["loss"] += [float("nan")] * pad
            history["grad_norm"] += [float("nan")] * pad
            break
        optimizer.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, clip_norm if clip_norm is not None else float("inf"))
        optimizer.step()
        history["loss"].append(float(loss.detach()))
        history["grad_norm"].append(float(norm))
    return history
