"""Topic 08 (TensorFlow / Keras 3): padded batches, masks, and a length-aware classifier.

The same names exist in `utils.torch_utils.padding` for PyTorch:

- `padding_mask(lengths, max_len)`: boolean (batch, max_len), True at a real step
  (`tf.sequence_mask`; the mask Keras layers pass along has the same sense);
- `gather_last(outputs, lengths, batch_first=True)`: each sequence's output at its
  last real step, `lengths - 1`, for outputs padded at the end;
- `PaddedLSTMClassifier(vocab_size, embed_dim, hidden_size, read=...)`:
  Embedding -> LSTM -> Dense(1), one logit per message. read="last": no mask, the
  LSTM's final output, which is the state after the padding when the padding is
  at the end ("post") and after the real words when it is at the front ("pre",
  `keras.utils.pad_sequences`' default); read="mask": `Embedding(mask_zero=True)`,
  so the LSTM skips padded steps wherever they are;
- `train_padded_classifier(model, (X, y, lengths), val, ...)`: `model.fit`;
- `predict_padded_proba(model, X, lengths=None)`: probabilities of spam.

Keras needs no lengths: the mask is worked out from the zeros (id 0 = padding).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "padding_mask",
    "gather_last",
    "READS",
    "PaddedLSTMClassifier",
    "train_padded_classifier",
    "predict_padded_proba",
]

#: The ways `PaddedLSTMClassifier` reads its LSTM.
READS = ("last", "mask")


def padding_mask(lengths, max_len: int):
    """Boolean tensor (batch, max_len): True where step t < lengths[b] (a real step)."""
    lens = np.asarray(lengths)
    if lens.ndim != 1:
        raise ValueError(f"`lengths` should be 1-D, one length per sequence, got shape {lens.shape}")
    if lens.size and (lens.min() < 0 or lens.max() > max_len):
        raise ValueError(f"`lengths` should lie in 0..max_len={max_len}, got {lens.tolist()[:8]}")
    return tf.sequence_mask(lens, max_len)


def gather_last(outputs, lengths, batch_first: bool = True):
    """The output at each sequence's last real step, `lengths - 1`: (batch, features)."""
    out = tf.convert_to_tensor(outputs)
    if len(out.shape) != 3:
        raise ValueError(f"`outputs` should be 3-D, got shape {tuple(out.shape)}")
    if not batch_first:
        out = tf.transpose(out, (1, 0, 2))
    lens = np.asarray(lengths).astype(np.int64)
    if lens.shape != (out.shape[0],) or lens.min() < 1 or lens.max() > out.shape[1]:
        raise ValueError(f"`lengths` should hold {out.shape[0]} values in 1..{out.shape[1]}, got {lens.tolist()[:8]}")
    return tf.gather(out, lens - 1, batch_dims=1)


class PaddedLSTMClassifier(keras.Model):
    """Word ids (batch, max_len), padded with 0 -> one logit per message (batch,)."""

    def __init__(self, vocab_size: int, embed_dim: int = 8, hidden_size: int = 16, read: str = "mask", **kwargs):
        super().__init__(**kwargs)
        if read not in READS:
            raise ValueError(f"`read` should be one of {READS}, got {read!r}")
        self.read = read
        self.embedding = keras.layers.Embedding(vocab_size, embed_dim, mask_zero=(read == "mask"))
        self.lstm = keras.layers.LSTM(hidden_size)  # return_sequences=False: the final output only
        self.head = keras.layers.Dense(1)

    def call(self, x):
        if len(x.shape) != 2:
            raise ValueError(f"x should be word ids of shape (batch, time), got shape {tuple(x.shape)}")
        return keras.ops.squeeze(self.head(self.lstm(self.embedding(x))), axis=-1)


def predict_padded_proba(model, X, lengths=None, batch_size: int = 4096) -> np.ndarray:
    """Probability of spam for each padded message, as a float numpy array (n,). `lengths` is not needed."""
    del lengths  # the mask comes from the zeros
    X = np.asarray(X)
    out = [
        tf.sigmoid(model(X[i : i + batch_size], training=False)).numpy().reshape(-1)
        for i in range(0, X.shape[0], batch_size)
    ]
    return np.concatenate(out).astype(np.float64)


def train_padded_classifier(
    model,
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
    """Compile and `fit` with Adam on `(X, y, lengths)` numpy triples; return a history dict.

    history: "loss" (running mean over each epoch's batches, as Keras reports it),
    "val_loss" and "val_accuracy" with `val`. `device` is accepted for symmetry with
    the PyTorch version. The progress display is one line per epoch on stdout.
    """
    del device
    X, y = np.asarray(train[0]), np.asarray(train[1], dtype=np.float32)
    keras.utils.set_random_seed(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")],
    )
    validation_data = None if val is None else (np.asarray(val[0]), np.asarray(val[1], dtype=np.float32))
    if progress:
        print(f"{desc}: {epochs} epochs")
    fit = model.fit(
        X,
        y,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=validation_data,
        shuffle=True,
        verbose=2 if progress else 0,
    )
    keep = ("loss", "val_loss", "val_accuracy") if val is not None else ("loss",)
    return {key: [float(v) for v in fit.history[key]] for key in keep}
