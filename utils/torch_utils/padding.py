"""Topic 08 (PyTorch): padded batches of variable-length sequences, and a length-aware classifier.

The same names exist in `utils.tf_utils.padding` for Keras:

- `padding_mask(lengths, max_len)`: boolean (batch, max_len), True at a real step
  (the course's sense; PyTorch's `key_padding_mask` uses the opposite one);
- `gather_last(outputs, lengths, batch_first=True)`: each sequence's output at
  its last real step, `lengths - 1`;
- `PaddedLSTMClassifier(vocab_size, embed_dim, hidden_size, read=...)`:
  Embedding -> nn.LSTM -> one logit per message, reading the LSTM in one of three ways:
  "last" (`outputs[:, -1]`, the naive reading, which lands on padding),
  "gather" (the output at `lengths - 1`) or "packed"
  (`pack_padded_sequence(..., enforce_sorted=False)`, then `h_n`);
- `train_padded_classifier(model, (X, y, lengths), val, ...)`: Adam, a tqdm.auto
  progress bar, a history dict;
- `predict_padded_proba(model, X, lengths)`: probabilities of spam.

Run it as a script for the accuracy of each reading: `python -m utils.torch_utils.padding`.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

__all__ = [
    "padding_mask",
    "gather_last",
    "READS",
    "PaddedLSTMClassifier",
    "train_padded_classifier",
    "predict_padded_proba",
]

#: The ways `PaddedLSTMClassifier` reads its LSTM.
READS = ("last", "gather", "packed")


def _lengths(lengths, device=None) -> torch.Tensor:
    lens = torch.as_tensor(np.asarray(lengths.cpu() if torch.is_tensor(lengths) else lengths), dtype=torch.long)
    if lens.dim() != 1:
        raise ValueError(f"`lengths` should be 1-D, one length per sequence, got shape {tuple(lens.shape)}")
    return lens.to(device) if device is not None else lens


def padding_mask(lengths, max_len: int) -> torch.Tensor:
    """Boolean tensor (batch, max_len): True where step t < lengths[b] (a real step), False on padding.

    Built by PyTorch's own padding: `pad_sequence` of one run of True per
    sequence, padded with False up to `max_len`.
    """
    lens = _lengths(lengths)
    if lens.numel() == 0:
        return torch.zeros((0, max_len), dtype=torch.bool)
    if int(lens.min()) < 0 or int(lens.max()) > max_len:
        raise ValueError(f"`lengths` should lie in 0..max_len={max_len}, got {lens.tolist()[:8]}")
    runs = [torch.ones(int(n), dtype=torch.bool) for n in lens] + [torch.zeros(max_len, dtype=torch.bool)]
    return pad_sequence(runs, batch_first=True, padding_value=False)[:-1]


def gather_last(outputs: torch.Tensor, lengths, batch_first: bool = True) -> torch.Tensor:
    """The output at each sequence's last real step, `lengths - 1`: (batch, features).

    Works with autograd (it is an indexing operation), so a model can train through it.
    """
    if outputs.dim() != 3:
        raise ValueError(f"`outputs` should be 3-D, got shape {tuple(outputs.shape)}")
    out = outputs if batch_first else outputs.transpose(0, 1)
    lens = _lengths(lengths, out.device)
    if lens.shape[0] != out.shape[0] or int(lens.min()) < 1 or int(lens.max()) > out.shape[1]:
        raise ValueError(f"`lengths` should hold {out.shape[0]} values in 1..{out.shape[1]}, got {lens.tolist()[:8]}")
    return out[torch.arange(out.shape[0], device=out.device), lens - 1]


class PaddedLSTMClassifier(nn.Module):
    """Word ids (batch, max_len), padded with 0 at the end, and their lengths -> one logit per message."""

    def __init__(self, vocab_size: int, embed_dim: int = 8, hidden_size: int = 16, read: str = "packed"):
        super().__init__()
        if read not in READS:
            raise ValueError(f"`read` should be one of {READS}, got {read!r}")
        self.read = read
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def features(self, x: torch.Tensor, lengths) -> torch.Tensor:
        """The (batch, hidden) vector the head reads, by `self.read`."""
        if x.dim() != 2:
            raise ValueError(f"x should be word ids of shape (batch, time), got shape {tuple(x.shape)}")
        embedded = self.embedding(x)
        if self.read == "packed":
            packed = pack_padded_sequence(embedded, _lengths(lengths), batch_first=True, enforce_sorted=False)
            _, (h_n, _) = self.lstm(packed)
            return h_n[-1]  # the last layer's state after each sequence's own last step
        outputs, _ = self.lstm(embedded)
        if self.read == "last":
            return outputs[:, -1]  # the naive reading: after the padding
        return gather_last(outputs, lengths)

    def forward(self, x: torch.Tensor, lengths) -> torch.Tensor:
        return self.head(self.features(x, lengths)).squeeze(-1)


def _tensors(X, y, lengths, *, device):
    X = torch.as_tensor(np.asarray(X), dtype=torch.long, device=device)
    y = torch.as_tensor(np.asarray(y), dtype=torch.float32, device=device)
    lengths = _lengths(lengths)
    if X.dim() != 2 or y.shape != (X.shape[0],) or lengths.shape != (X.shape[0],):
        raise ValueError(
            f"expected X (n, time), y (n,) and lengths (n,), got {tuple(X.shape)}, "
            f"{tuple(y.shape)} and {tuple(lengths.shape)}"
        )
    return X, y, lengths


@torch.no_grad()
def predict_padded_proba(model: nn.Module, X, lengths, batch_size: int = 4096) -> np.ndarray:
    """Probability of spam for each padded message, as a float numpy array (n,)."""
    model.eval()
    device = next(model.parameters()).device
    X = torch.as_tensor(np.asarray(X), dtype=torch.long, device=device)
    lens = _lengths(lengths)
    out = [
        torch.sigmoid(model(X[i : i + batch_size], lens[i : i + batch_size])).cpu()
        for i in range(0, X.shape[0], batch_size)
    ]
    return torch.cat(out).numpy().astype(np.float64)


def train_padded_classifier(
    model: nn.Module,
    train,
    val=None,
    *,
    epochs: int = 2,
    lr: float = 1e-2,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = True,
    device=None,
    desc: str = "training",
) -> dict:
    """Train with Adam on `(X, y, lengths)` numpy triples; return a history dict.

    history: "loss" (mean training loss of each epoch's batches), "val_loss" and
    "val_accuracy" (measured after each epoch, with `val`). The tqdm.auto progress
    bar writes to stdout.
    """
    from tqdm.auto import tqdm

    if device is None:
        from .device import get_device

        device = get_device()
    model.to(device)
    X, y, lengths = _tensors(*train, device=device)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: dict[str, list[float]] = {"loss": [], "val_loss": [], "val_accuracy": []}
    bar = tqdm(range(1, epochs + 1), desc=desc, unit="epoch", disable=not progress, file=sys.stdout)
    for _ in bar:
        model.train()
        order = torch.randperm(X.shape[0], generator=generator)
        total = 0.0
        for i in range(0, X.shape[0], batch_size):
            idx = order[i : i + batch_size]
            optimizer.zero_grad()
            loss = nn.functional.binary_cross_entropy_with_logits(
                model(X[idx.to(device)], lengths[idx]), y[idx.to(device)]
            )
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        history["loss"].append(total / X.shape[0])
        shown = {"loss": f"{history['loss'][-1]:.3f}"}
        if val is not None:
            Xv, yv, lv = val
            p = np.clip(predict_padded_proba(model, Xv, lv), 1e-7, 1 - 1e-7)
            yv = np.asarray(yv)
            history["val_loss"].append(float(-np.mean(yv * np.log(p) + (1 - yv) * np.log(1 - p))))
            history["val_accuracy"].append(float(np.mean((p >= 0.5) == yv)))
            shown.update(val_acc=f"{history['val_accuracy'][-1]:.3f}")
        bar.set_postfix(shown)
    bar.close()
    if val is None:
        del history["val_loss"], history["val_accuracy"]
    return history


if __name__ == "__main__":
    from ..data.order import ORDER_VOCAB, load_variable_order_task

    torch.set_num_threads(1)
    task = load_variable_order_task(seed=0)
    for read in READS:
        torch.manual_seed(0)
        m = PaddedLSTMClassifier(len(ORDER_VOCAB), read=read)
        train_padded_classifier(m, task["train"], epochs=2, progress=False)
        p = predict_padded_proba(m, task["test"][0], task["test"][2])
        print(read, f"test accuracy {np.mean((p >= 0.5) == task['test'][1]):.3f}")
