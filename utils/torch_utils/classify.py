"""Topic 05 (PyTorch): a many-to-one RNN classifier, its order-blind baseline, training.

The same names exist in `utils.tf_utils.classify` for Keras:

- `RNNClassifier(vocab_size, embed_dim, hidden_size, cell="rnn")`: Embedding -> nn.RNN
  (or nn.GRU, nn.LSTM) -> the LAST output -> Linear -> one logit per message (batch,);
- `BagOfWordsClassifier(vocab_size, embed_dim)`: the same embedding, averaged
  over time (order-blind) -> Linear -> logit;
- `train_step(model, optimizer, x, y)`: one optimisation step, returns the loss;
- `train_classifier(model, train, val, ...)`: epochs with a tqdm.auto progress
  bar, early stopping, and a history dict for `utils.plots.plot_loss_curves`;
- `predict_proba(model, X)`: probabilities of spam as a numpy array;
- `classification_summary`, `choose_threshold`: framework-free, from `utils.evaluation`.

Run it as a script for a quick check of the spec §8 bar:
`python -m utils.torch_utils.classify`.
"""

from __future__ import annotations

import copy
import sys

import numpy as np
import torch
from torch import nn

from .._shapes_common import positive_int
from ..evaluation import choose_threshold, classification_summary, pick_cell

__all__ = [
    "RNNClassifier",
    "BagOfWordsClassifier",
    "train_step",
    "train_classifier",
    "predict_proba",
    "classification_summary",
    "choose_threshold",
    "set_threads",
]


def set_threads(num_threads: int = 2) -> None:
    """Use at most `num_threads` CPU threads: small RNNs gain nothing from more, and the CPU is shared."""
    torch.set_num_threads(max(1, int(num_threads)))


#: The recurrent layers an RNNClassifier can read the messages with.
_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class RNNClassifier(nn.Module):
    """Word ids (batch, time) -> one logit per message (batch,), read from the last output of a recurrent layer.

    `cell` picks the layer: "rnn" (a tanh `nn.RNN`, the model of lesson 05), "gru" or "lstm"; all
    three read batch-first and only the last time step's output reaches the linear head. Sizes
    must be positive ints (TypeError or ValueError naming the argument otherwise).
    """

    def __init__(self, vocab_size: int, embed_dim: int = 8, hidden_size: int = 16, cell: str = "rnn"):
        super().__init__()
        layer = pick_cell(_CELLS, cell)
        vocab_size, embed_dim = positive_int(vocab_size, "vocab_size"), positive_int(embed_dim, "embed_dim")
        hidden_size = positive_int(hidden_size, "hidden_size")
        self.cell = cell
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.rnn = layer(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2:
            raise ValueError(f"x should be word ids of shape (batch, time), got shape {tuple(x.shape)}")
        outputs, _ = self.rnn(self.embedding(x))  # (batch, time, hidden); the states are not needed
        return self.head(outputs[:, -1]).squeeze(-1)


class BagOfWordsClassifier(nn.Module):
    """The order-blind baseline: the mean of the word embeddings -> one logit per message."""

    def __init__(self, vocab_size: int, embed_dim: int = 8):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.head = nn.Linear(embed_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2:
            raise ValueError(f"x should be word ids of shape (batch, time), got shape {tuple(x.shape)}")
        return self.head(self.embedding(x).mean(dim=1)).squeeze(-1)


def _as_tensors(X, y, *, device):
    X = torch.as_tensor(np.asarray(X), dtype=torch.long, device=device)
    y = torch.as_tensor(np.asarray(y), dtype=torch.float32, device=device)
    if X.dim() != 2 or y.dim() != 1 or X.shape[0] != y.shape[0]:
        raise ValueError(f"expected X (batch, time) and y (batch,), got {tuple(X.shape)} and {tuple(y.shape)}")
    return X, y


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x, y) -> float:
    """One optimisation step on a batch; returns the mean binary cross-entropy before the step."""
    model.train()
    optimizer.zero_grad()
    loss = nn.functional.binary_cross_entropy_with_logits(model(x), y.float())
    loss.backward()
    optimizer.step()
    return float(loss.item())


@torch.no_grad()
def _evaluate(model, X, y, batch_size=2048):
    model.eval()
    total, correct = 0.0, 0
    for i in range(0, X.shape[0], batch_size):
        logits = model(X[i : i + batch_size])
        target = y[i : i + batch_size]
        total += float(nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="sum"))
        correct += int(((logits > 0).float() == target).sum())
    return total / X.shape[0], correct / X.shape[0]


def train_classifier(
    model: nn.Module,
    train,
    val=None,
    *,
    epochs: int = 20,
    lr: float = 1e-2,
    batch_size: int = 32,
    patience: int | None = None,
    seed: int = 0,
    progress: bool = True,
    device=None,
    desc: str = "training",
) -> dict:
    """Train with Adam on (X, y) numpy pairs; return a history dict.

    history keys: "loss", "val_loss", "accuracy", "val_accuracy" (one value per
    epoch; loss and accuracy measured on the whole set after the epoch),
    "best_epoch" (1-based, lowest validation loss) and "stopped_epoch".
    `patience`: stop when the validation loss has not improved for that many
    epochs and restore the best weights (early stopping). The progress bar
    (tqdm.auto) writes to stdout so notebooks stay free of stderr.
    """
    from tqdm.auto import tqdm

    if device is None:
        from .device import get_device

        device = get_device()
    model.to(device)
    X, y = _as_tensors(*train, device=device)
    Xv, yv = _as_tensors(*val, device=device) if val is not None else (None, None)
    if patience is not None and val is None:
        raise ValueError("early stopping (`patience`) needs validation data `val`")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: dict[str, list[float]] = {"loss": [], "val_loss": [], "accuracy": [], "val_accuracy": []}
    best, best_state, waited = np.inf, None, 0
    bar = tqdm(range(1, epochs + 1), desc=desc, unit="epoch", disable=not progress, file=sys.stdout, leave=True)
    for epoch in bar:
        order = torch.randperm(X.shape[0], generator=generator).to(device)
        for i in range(0, X.shape[0], batch_size):
            idx = order[i : i + batch_size]
            train_step(model, optimizer, X[idx], y[idx])
        loss, acc = _evaluate(model, X, y)
        history["loss"].append(loss)
        history["accuracy"].append(acc)
        shown = {"loss": f"{loss:.3f}", "acc": f"{acc:.3f}"}
        if Xv is not None:
            vloss, vacc = _evaluate(model, Xv, yv)
            history["val_loss"].append(vloss)
            history["val_accuracy"].append(vacc)
            shown.update(val_loss=f"{vloss:.3f}", val_acc=f"{vacc:.3f}")
            if vloss < best - 1e-6:
                best, waited = vloss, 0
                history["best_epoch"] = epoch
                best_state = copy.deepcopy(model.state_dict())
            else:
                waited += 1
        bar.set_postfix(shown)
        history["stopped_epoch"] = epoch
        if patience is not None and waited >= patience:
            break
    bar.close()
    if patience is not None and best_state is not None:
        model.load_state_dict(best_state)
    if Xv is None:
        del history["val_loss"], history["val_accuracy"]
    return history


@torch.no_grad()
def predict_proba(model: nn.Module, X, batch_size: int = 4096) -> np.ndarray:
    """Probability of class 1 (spam) for each message, as a float numpy array (n,)."""
    model.eval()
    device = next(model.parameters()).device
    X = torch.as_tensor(np.asarray(X), dtype=torch.long, device=device)
    if X.dim() != 2:
        raise ValueError(f"X should be word ids of shape (num_messages, time), got shape {tuple(X.shape)}")
    out = [torch.sigmoid(model(X[i : i + batch_size])).cpu() for i in range(0, X.shape[0], batch_size)]
    return torch.cat(out).numpy().astype(np.float64)


if __name__ == "__main__":  # a quick look at the spec §8 bar
    import time

    from ..data.order import ORDER_VOCAB, load_order_task

    set_threads(2)
    task = load_order_task(seed=0)
    for name, cls in (("rnn", RNNClassifier), ("bag", BagOfWordsClassifier)):
        torch.manual_seed(0)
        model = cls(len(ORDER_VOCAB))
        start = time.perf_counter()
        hist = train_classifier(model, task["train"], task["val"], epochs=15, patience=4, progress=False)
        p = predict_proba(model, task["test"][0])
        acc = classification_summary(task["test"][1], p)["accuracy"]
        print(name, f"{time.perf_counter() - start:.1f}s", hist["stopped_epoch"], f"test acc {acc:.3f}")
