"""Topic 05 (TensorFlow / Keras 3): a many-to-one RNN classifier, its baseline, training.

The same names exist in `utils.torch_utils.classify` for PyTorch:

- `RNNClassifier(vocab_size, embed_dim, hidden_size, cell="rnn")`: Embedding -> SimpleRNN
  (or GRU, LSTM; its last output) -> Dense(1) -> one logit per message (batch,);
- `BagOfWordsClassifier(vocab_size, embed_dim)`: the mean of the embeddings
  (order-blind) -> Dense(1) -> logit;
- `train_step(model, optimizer, x, y)`: one optimisation step, returns the loss;
- `train_classifier(model, train, val, ...)`: `model.fit` with a progress
  display, early stopping and a `utils.metrics` callback; returns a history
  dict for `utils.plots.plot_loss_curves`;
- `MetricsCallback(X_val, y_val)`: per-epoch validation precision and recall
  computed with `utils.metrics`;
- `predict_proba(model, X)`: probabilities of spam as a numpy array;
- `classification_summary`, `choose_threshold`: framework-free, from `utils.evaluation`.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .._shapes_common import positive_int
from ..evaluation import choose_threshold, classification_summary, pick_cell

__all__ = [
    "RNNClassifier",
    "BagOfWordsClassifier",
    "MetricsCallback",
    "train_step",
    "train_classifier",
    "predict_proba",
    "classification_summary",
    "choose_threshold",
    "set_threads",
]


def set_threads(num_threads: int = 1) -> None:
    """Use at most `num_threads` CPU threads (only possible before TensorFlow starts its runtime)."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(num_threads))
        tf.config.threading.set_inter_op_parallelism_threads(int(num_threads))
    except RuntimeError:  # the runtime is already initialised: keep its setting
        pass


def _check_ids(x):
    if len(x.shape) != 2:
        raise ValueError(f"x should be word ids of shape (batch, time), got shape {tuple(x.shape)}")


#: The recurrent layers an RNNClassifier can read the messages with.
_CELLS = {"rnn": keras.layers.SimpleRNN, "gru": keras.layers.GRU, "lstm": keras.layers.LSTM}


@keras.saving.register_keras_serializable(package="utils")
class RNNClassifier(keras.Model):
    """Word ids (batch, time) -> one logit per message (batch,), from a recurrent layer's last output.

    `cell` picks the layer: "rnn" (a tanh `SimpleRNN`, the model of lesson 05), "gru" or "lstm";
    each returns only its last output (return_sequences=False), which the Dense head reads. Sizes
    must be positive ints (TypeError or ValueError naming the argument otherwise).
    """

    def __init__(self, vocab_size: int, embed_dim: int = 8, hidden_size: int = 16, cell: str = "rnn", **kwargs):
        super().__init__(**kwargs)
        layer = pick_cell(_CELLS, cell)
        self.sizes = {
            "vocab_size": positive_int(vocab_size, "vocab_size"),
            "embed_dim": positive_int(embed_dim, "embed_dim"),
            "hidden_size": positive_int(hidden_size, "hidden_size"),
            "cell": cell,
        }
        self.embedding = keras.layers.Embedding(self.sizes["vocab_size"], self.sizes["embed_dim"])
        self.rnn = layer(self.sizes["hidden_size"])  # return_sequences=False: the last output only
        self.head = keras.layers.Dense(1)

    def call(self, x):
        _check_ids(x)
        return keras.ops.squeeze(self.head(self.rnn(self.embedding(x))), axis=-1)

    def get_config(self):  # a copy (pickle, keras.saving) is the same model
        return {**super().get_config(), **self.sizes}


class BagOfWordsClassifier(keras.Model):
    """The order-blind baseline: the mean of the word embeddings -> one logit per message."""

    def __init__(self, vocab_size: int, embed_dim: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.embedding = keras.layers.Embedding(vocab_size, embed_dim)
        self.pool = keras.layers.GlobalAveragePooling1D()
        self.head = keras.layers.Dense(1)

    def call(self, x):
        _check_ids(x)
        return keras.ops.squeeze(self.head(self.pool(self.embedding(x))), axis=-1)


def train_step(model, optimizer, x, y) -> float:
    """One optimisation step on a batch; returns the mean binary cross-entropy before the step."""
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
    y = tf.cast(y, tf.float32)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return float(loss)


def predict_proba(model, X, batch_size: int = 4096) -> np.ndarray:
    """Probability of class 1 (spam) for each message, as a float numpy array (n,)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X should be word ids of shape (num_messages, time), got shape {X.shape}")
    out = [
        tf.sigmoid(model(X[i : i + batch_size], training=False)).numpy().reshape(-1)
        for i in range(0, X.shape[0], batch_size)
    ]
    return np.concatenate(out).astype(np.float64)


class MetricsCallback(keras.callbacks.Callback):
    """After each epoch, validation precision and recall from `utils.metrics` (spam when p >= threshold).

    They are added to the epoch's logs as "val_precision" and "val_recall" (so
    they appear in `History`) and kept in `self.history`.
    """

    def __init__(self, X_val, y_val, threshold: float = 0.5):
        super().__init__()
        self.X_val, self.y_val, self.threshold = np.asarray(X_val), np.asarray(y_val), threshold
        self.history: dict[str, list[float]] = {"val_precision": [], "val_recall": []}

    def on_epoch_end(self, epoch, logs=None):
        summary = classification_summary(self.y_val, predict_proba(self.model, self.X_val), self.threshold)
        for key in ("precision", "recall"):
            self.history[f"val_{key}"].append(summary[key])
            if logs is not None:
                logs[f"val_{key}"] = summary[key]


def train_classifier(
    model,
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
    callbacks=(),
) -> dict:
    """Compile and `fit` with Adam on (X, y) numpy pairs; return a history dict.

    history keys: "loss", "val_loss", "accuracy", "val_accuracy",
    "val_precision", "val_recall" (with `val`), "best_epoch" (1-based, lowest
    validation loss) and "stopped_epoch". As Keras reports them, "loss" and
    "accuracy" are running means over the epoch's batches (the PyTorch version
    measures them on the whole training set after the epoch); the validation
    values are measured after the epoch in both. `patience`: early stopping on the
    validation loss, best weights restored. The progress display is Keras's
    one line per epoch (`verbose=2`), written to stdout. `device` is accepted
    for symmetry with the PyTorch version; Keras places layers by itself.
    """
    del device  # Keras places the model itself
    X, y = np.asarray(train[0]), np.asarray(train[1], dtype=np.float32)
    keras.utils.set_random_seed(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")],
    )
    cbs = list(callbacks)
    validation_data = None
    if val is not None:
        Xv, yv = np.asarray(val[0]), np.asarray(val[1], dtype=np.float32)
        validation_data = (Xv, yv)
        cbs.insert(0, MetricsCallback(Xv, yv))
        if patience is not None:
            cbs.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True))
    elif patience is not None:
        raise ValueError("early stopping (`patience`) needs validation data `val`")
    if progress:
        print(f"{desc}: {epochs} epochs at most")
    fit = model.fit(
        X,
        y,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=validation_data,
        shuffle=True,
        verbose=2 if progress else 0,
        callbacks=cbs,
    )
    curves = {key: [float(v) for v in values] for key, values in fit.history.items()}
    history: dict[str, list[float] | int] = {**curves, "stopped_epoch": len(curves["loss"])}
    if "val_loss" in curves:
        history["best_epoch"] = int(np.argmin(curves["val_loss"])) + 1
    return history
