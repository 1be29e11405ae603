"""Topic 06 in PyTorch: next-token models, their training loop, text generation, sine regression.

The same names exist in `utils.tf_utils.next_token` (Keras), so both tracks read alike:

- `make_next_token_model(vocab_size, ...)`: embedding -> RNN -> linear over the vocabulary,
  many-to-many: one distribution over the next token at every step.
- `make_sine_regressor(...)`: RNN -> linear, one number per step.
- Both models are called as `model(inputs)` -> outputs (batch, time, ...), or
  `model(inputs, hidden, return_state=True)` -> `(outputs, hidden)` to carry
  the hidden state from one call to the next (feeding a sentence word by word).
  Inputs may be tensors, numpy arrays or nested lists; they are moved to the
  model's device.
- `train_model(model, inputs, targets, mask=None, ...)` trains with Adam and a
  tqdm progress bar: masked cross-entropy for a next-token model, masked MSE
  for a regressor. Returns a history dict {"loss": [...], "val_loss": [...]}.
- `predict(model, inputs)` -> numpy outputs; `generate(model, prompt_ids, ...)`
  -> token ids, greedy or sampled with a temperature (seeded).
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from .._arrays import as_numpy
from ..evaluation import choose_token, generation_prompt, next_step_arrays, pick_cell, training_options

__all__ = [
    "NextTokenModel",
    "SineRegressor",
    "make_next_token_model",
    "make_sine_regressor",
    "train_model",
    "predict",
    "generate",
]

_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _check_cell(cell: str):
    return pick_cell(_CELLS, cell)


class _Recurrent(nn.Module):
    """What both models share: an input layer, one recurrent layer, a linear head."""

    rnn: nn.RNNBase  # set by each subclass's __init__
    head: nn.Linear

    def _features(self, inputs) -> torch.Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def forward(self, inputs, hidden=None, return_state: bool = False):
        x = self._features(inputs)  # (batch, time, features) on the model's device
        outputs, hidden = self.rnn(x, hidden)
        y = self.head(outputs)
        return (y, hidden) if return_state else y


class NextTokenModel(_Recurrent):
    """Embedding -> RNN (batch_first) -> Linear: logits over the vocabulary at every step.

    `model(tokens)` with tokens (batch, time) returns logits (batch, time, vocab_size).
    """

    def __init__(self, vocab_size: int, embed_dim: int = 16, hidden_size: int = 64, cell: str = "rnn"):
        super().__init__()
        if int(vocab_size) < 2:
            raise ValueError(f"`vocab_size` must be at least 2, got {vocab_size}")
        self.vocab_size, self.hidden_size = int(vocab_size), int(hidden_size)
        self.embedding = nn.Embedding(self.vocab_size, int(embed_dim))
        self.rnn = _check_cell(cell)(int(embed_dim), self.hidden_size, batch_first=True)
        self.head = nn.Linear(self.hidden_size, self.vocab_size)

    def _features(self, tokens) -> torch.Tensor:
        t = torch.as_tensor(as_numpy(tokens, name="tokens") if not torch.is_tensor(tokens) else tokens)
        if t.is_floating_point() or t.dtype == torch.bool:
            raise TypeError(f"`tokens` must hold integer token ids, got dtype {t.dtype}")
        if t.dim() != 2:
            raise ValueError(f"`tokens` must be batch-major (batch, time), got shape {tuple(t.shape)}")
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= self.vocab_size):
            raise ValueError(
                f"token ids must lie in [0, {self.vocab_size}), got values from {int(t.min())} to {int(t.max())}"
            )
        return self.embedding(t.long().to(_device_of(self)))


class SineRegressor(_Recurrent):
    """RNN (batch_first) -> Linear: one value per step. `model(x)` with x (batch, time, 1)."""

    def __init__(self, hidden_size: int = 32, cell: str = "rnn", input_size: int = 1):
        super().__init__()
        self.hidden_size = int(hidden_size)
        self.rnn = _check_cell(cell)(int(input_size), self.hidden_size, batch_first=True)
        self.head = nn.Linear(self.hidden_size, 1)

    def _features(self, x) -> torch.Tensor:
        t = torch.as_tensor(as_numpy(x, name="inputs") if not torch.is_tensor(x) else x)
        if t.dim() != 3:
            raise ValueError(f"`inputs` must be batch-major (batch, time, 1), got shape {tuple(t.shape)}")
        return t.float().to(_device_of(self))


def make_next_token_model(
    vocab_size: int, embed_dim: int = 16, hidden_size: int = 64, *, cell: str = "rnn", seed: int = 0, device=None
) -> NextTokenModel:
    """A seeded `NextTokenModel` on `device` (default: utils.torch_utils.get_device())."""
    from .device import get_device

    torch.manual_seed(seed)
    return NextTokenModel(vocab_size, embed_dim, hidden_size, cell).to(device or get_device())


def make_sine_regressor(hidden_size: int = 32, *, cell: str = "rnn", seed: int = 0, device=None) -> SineRegressor:
    """A seeded `SineRegressor` on `device` (default: utils.torch_utils.get_device())."""
    from .device import get_device

    torch.manual_seed(seed)
    return SineRegressor(hidden_size, cell).to(device or get_device())


@contextlib.contextmanager
def _one_cpu_thread(device: torch.device):
    """Run on one CPU thread: these models are tiny, and on a busy CPU extra threads only wait for each other
    (measured: 25 epochs of the lesson's model took 7.6 s on one thread, 50 s on two, on a loaded 2-core machine)."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _masked_loss(model, outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean loss over the real steps only (padded steps never count)."""
    if isinstance(model, NextTokenModel):
        per_step = nn.functional.cross_entropy(outputs.transpose(1, 2), targets, reduction="none")
    else:
        per_step = ((outputs - targets) ** 2).mean(dim=-1)
    weight = mask.float()
    return (per_step * weight).sum() / weight.sum().clamp(min=1.0)


def _tensors(model, inputs, targets, mask):
    x, y, m = next_step_arrays(inputs, targets, mask, token_targets=isinstance(model, NextTokenModel))
    y = torch.as_tensor(y)
    y = y.long() if isinstance(model, NextTokenModel) else y.float()
    dev = _device_of(model)
    return torch.as_tensor(x).to(dev), y.to(dev), torch.as_tensor(m).to(dev)


def train_model(
    model: nn.Module,
    inputs,
    targets,
    mask=None,
    *,
    epochs: int = 30,
    batch_size: int = 32,
    learning_rate: float = 1e-2,
    validation=None,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Train `model` with Adam on (inputs, targets[, mask]); return {"loss": [...], "val_loss": [...]}.

    The loss is the mean over real steps (mask True) of the cross-entropy
    (next-token model) or the squared error (regressor). `validation` is an
    optional `(inputs, targets[, mask])` evaluated after every epoch. The
    progress bar (tqdm.auto) shows the latest losses.
    """
    from tqdm.auto import tqdm

    validation = training_options(epochs, batch_size, validation)
    x, y, m = _tensors(model, inputs, targets, mask)
    val = None if validation is None else _tensors(model, *validation)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history: dict = {"loss": []}
    if val is not None:
        history["val_loss"] = []
    bar = tqdm(range(int(epochs)), desc="epochs", disable=not progress, leave=True)
    with _one_cpu_thread(x.device):
        for _ in bar:
            _train_epoch(model, x, y, m, val, generator, optimizer, int(batch_size), history, bar)
    model.eval()
    return history


def _train_epoch(model, x, y, m, val, generator, optimizer, batch_size, history, bar) -> None:
    """One pass over the shuffled training set, then the validation loss."""
    model.train()
    order = torch.randperm(x.shape[0], generator=generator).to(x.device)
    total, count = 0.0, 0.0
    for start in range(0, x.shape[0], batch_size):
        idx = order[start : start + batch_size]
        loss = _masked_loss(model, model(x[idx]), y[idx], m[idx])
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # plain RNNs can blow up; keep steps sane
        optimizer.step()
        weight = float(m[idx].sum())
        total, count = total + float(loss.detach()) * weight, count + weight
    history["loss"].append(total / max(count, 1.0))
    shown = {"loss": f"{history['loss'][-1]:.3f}"}
    if val is not None:
        model.eval()
        with torch.no_grad():
            history["val_loss"].append(float(_masked_loss(model, model(val[0]), val[1], val[2])))
        shown["val_loss"] = f"{history['val_loss'][-1]:.3f}"
    bar.set_postfix(shown)


def predict(model: nn.Module, inputs) -> np.ndarray:
    """The model's outputs for `inputs` as a numpy array (logits for a next-token model)."""
    model.eval()
    with torch.no_grad():
        return model(inputs).detach().cpu().numpy()


def generate(
    model: NextTokenModel,
    prompt_ids,
    max_new_tokens: int = 12,
    *,
    temperature: float = 0.0,
    seed: int = 0,
    stop_id: int | None = None,
) -> list[int]:
    """Continue `prompt_ids` one token at a time; return prompt plus new ids.

    The prompt is read once; after that each new token is fed alone with the
    hidden state carried over. `temperature` 0 picks the most likely token
    (greedy); a positive temperature samples from softmax(logits / temperature)
    with a numpy generator seeded by `seed` (the same draws in both tracks).
    Generation stops after `stop_id` (e.g. the <eos> id) when given.
    """
    ids = generation_prompt(prompt_ids, temperature)
    rng = np.random.default_rng(seed)
    model.eval()
    with torch.no_grad():
        logits, hidden = model([ids], return_state=True)
        for _ in range(int(max_new_tokens)):
            last = logits[0, -1].double().cpu().numpy()
            nxt = choose_token(last, temperature, rng)
            ids.append(nxt)
            if stop_id is not None and nxt == stop_id:
                break
            logits, hidden = model([[nxt]], hidden, return_state=True)
    return ids
