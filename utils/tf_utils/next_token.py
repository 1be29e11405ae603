"""Topic 06 in TensorFlow / Keras 3: next-token models, training with model.fit, generation, sine regression.

The same names exist in `utils.torch_utils.next_token` (PyTorch), so both tracks read alike:

- `make_next_token_model(vocab_size, ...)`: Embedding -> SimpleRNN -> Dense over the vocabulary,
  many-to-many (`return_sequences=True`): one distribution over the next token at every step.
- `make_sine_regressor(...)`: SimpleRNN -> Dense(1), one number per step.
- Both models are called as `model(inputs)` -> outputs (batch, time, ...), or
  `model(inputs, hidden, return_state=True)` -> `(outputs, hidden)` to carry
  the hidden state from one call to the next (feeding a sentence word by word).
  Inputs may be tensors, numpy arrays or nested lists.
- `train_model(model, inputs, targets, mask=None, ...)` compiles with Adam and
  runs `model.fit` (the mask becomes the sample weight, so padded steps never
  count) with a tqdm progress bar over epochs. Returns the history dict
  {"loss": [...], "val_loss": [...]}.
- `predict(model, inputs)` -> numpy outputs; `generate(model, prompt_ids, ...)`
  -> token ids, greedy or sampled with a temperature (seeded).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

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

_CELLS = {"rnn": keras.layers.SimpleRNN, "gru": keras.layers.GRU, "lstm": keras.layers.LSTM}


def _check_cell(cell: str):
    return pick_cell(_CELLS, cell)


class _Recurrent(keras.Model):
    """What both models share: an input layer, one recurrent layer, a Dense head."""

    def __call__(self, inputs, hidden=None, return_state=False, **kwargs):
        # Keras reads a Python list as several inputs; a list of token ids is one
        # input here, so turn it into a tensor first. `hidden` always travels as
        # a keyword (Keras accepts only tensors as positional arguments).
        if not tf.is_tensor(inputs) and not isinstance(inputs, keras.KerasTensor):
            inputs = self._to_tensor(inputs)
        if hidden is not None and not isinstance(hidden, (list, tuple)) and not tf.is_tensor(hidden):
            hidden = tf.convert_to_tensor(as_numpy(hidden, name="hidden"), dtype=tf.float32)
        return super().__call__(inputs, hidden=hidden, return_state=return_state, **kwargs)

    def _run(self, x, hidden, return_state):
        if hidden is None:
            outputs, *states = self.rnn(x)
        else:
            outputs, *states = self.rnn(x, initial_state=hidden if isinstance(hidden, (list, tuple)) else [hidden])
        y = self.head(outputs)
        if not return_state:
            return y
        return y, (states[0] if len(states) == 1 else states)


@keras.saving.register_keras_serializable(package="utils")
class NextTokenModel(_Recurrent):
    """Embedding -> recurrent layer (return_sequences) -> Dense: logits over the vocabulary at every step.

    `model(tokens)` with tokens (batch, time) returns logits (batch, time, vocab_size).
    """

    def __init__(self, vocab_size: int, embed_dim: int = 16, hidden_size: int = 64, cell: str = "rnn", **kwargs):
        super().__init__(**kwargs)
        if int(vocab_size) < 2:
            raise ValueError(f"`vocab_size` must be at least 2, got {vocab_size}")
        self.vocab_size, self.hidden_size = int(vocab_size), int(hidden_size)
        self.embed_dim, self.cell_kind = int(embed_dim), cell
        self.embedding = keras.layers.Embedding(self.vocab_size, int(embed_dim))
        self.rnn = _check_cell(cell)(self.hidden_size, return_sequences=True, return_state=True)
        self.head = keras.layers.Dense(self.vocab_size)

    def _to_tensor(self, tokens):
        arr = as_numpy(tokens, name="tokens")
        if arr.dtype.kind not in "iu":
            raise TypeError(f"`tokens` must hold integer token ids, got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise ValueError(f"`tokens` must be batch-major (batch, time), got shape {arr.shape}")
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab_size):
            raise ValueError(
                f"token ids must lie in [0, {self.vocab_size}), got values from {arr.min()} to {arr.max()}"
            )
        return tf.convert_to_tensor(arr, dtype=tf.int32)

    def call(self, tokens, hidden=None, return_state=False):
        return self._run(self.embedding(tokens), hidden, return_state)

    def get_config(self):  # a copy (pickle, keras.saving) is the same model
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
            "hidden_size": self.hidden_size,
            "cell": self.cell_kind,
        }


@keras.saving.register_keras_serializable(package="utils")
class SineRegressor(_Recurrent):
    """Recurrent layer (return_sequences) -> Dense(1): one value per step. `model(x)` with x (batch, time, 1)."""

    def __init__(self, hidden_size: int = 32, cell: str = "rnn", **kwargs):
        super().__init__(**kwargs)
        self.hidden_size, self.cell_kind = int(hidden_size), cell
        self.rnn = _check_cell(cell)(self.hidden_size, return_sequences=True, return_state=True)
        self.head = keras.layers.Dense(1)

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size, "cell": self.cell_kind}

    def _to_tensor(self, x):
        arr = as_numpy(x, name="inputs")
        if arr.ndim != 3:
            raise ValueError(f"`inputs` must be batch-major (batch, time, 1), got shape {arr.shape}")
        return tf.convert_to_tensor(arr, dtype=tf.float32)

    def call(self, x, hidden=None, return_state=False):
        return self._run(x, hidden, return_state)


def make_next_token_model(
    vocab_size: int, embed_dim: int = 16, hidden_size: int = 64, *, cell: str = "rnn", seed: int = 0, device=None
) -> NextTokenModel:
    """A seeded, built `NextTokenModel`. `device` is accepted for symmetry with PyTorch; Keras places layers."""
    keras.utils.set_random_seed(seed)
    model = NextTokenModel(vocab_size, embed_dim, hidden_size, cell)
    model(np.zeros((1, 1), dtype=np.int32))  # create the weights now, from the seed just set
    return model


def make_sine_regressor(hidden_size: int = 32, *, cell: str = "rnn", seed: int = 0, device=None) -> SineRegressor:
    """A seeded, built `SineRegressor`."""
    keras.utils.set_random_seed(seed)
    model = SineRegressor(hidden_size, cell)
    model(np.zeros((1, 1, 1), dtype=np.float32))
    return model


class _EpochBar(keras.callbacks.Callback):
    """A tqdm.auto bar over epochs (Keras' own progress bar is switched off)."""

    def __init__(self, epochs: int, enabled: bool):
        super().__init__()
        from tqdm.auto import tqdm

        self.bar = tqdm(total=epochs, desc="epochs", disable=not enabled, leave=True)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.set_postfix({k: f"{v:.3f}" for k, v in (logs or {}).items() if "loss" in k})
        self.bar.update(1)

    def on_train_end(self, logs=None):
        self.bar.close()


def _arrays(model, inputs, targets, mask):
    x, y, m = next_step_arrays(inputs, targets, mask, token_targets=isinstance(model, NextTokenModel))
    dtype = np.int32 if isinstance(model, NextTokenModel) else np.float32
    return x.astype(dtype), y.astype(dtype), m.astype(np.float32)


def train_model(
    model: keras.Model,
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
    """Compile and `fit` `model` on (inputs, targets[, mask]); return {"loss": [...], "val_loss": [...]}.

    The loss is the mean over real steps (mask True, passed as the sample
    weight) of the cross-entropy (next-token model) or the squared error
    (regressor). `validation` is an optional `(inputs, targets[, mask])`.
    """
    validation = training_options(epochs, batch_size, validation)
    x, y, m = _arrays(model, inputs, targets, mask)
    val = None if validation is None else _arrays(model, *validation)
    if isinstance(model, NextTokenModel):
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")
    else:
        loss = keras.losses.MeanSquaredError(reduction="mean_with_sample_weight")
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0), loss=loss)
    fit = model.fit(
        x,
        y,
        sample_weight=m,
        epochs=int(epochs),
        batch_size=int(batch_size),
        shuffle=True,
        verbose=0,
        validation_data=val,
        validation_batch_size=None if val is None else len(val[0]),
        callbacks=[_EpochBar(int(epochs), progress)],
    )
    return {k: [float(v) for v in vals] for k, vals in fit.history.items()}


def predict(model: keras.Model, inputs) -> np.ndarray:
    """The model's outputs for `inputs` as a numpy array (logits for a next-token model)."""
    return as_numpy(model(inputs, training=False))


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
    logits, hidden = model([ids], return_state=True)
    for _ in range(int(max_new_tokens)):
        last = as_numpy(logits)[0, -1].astype(np.float64)
        nxt = choose_token(last, temperature, rng)
        ids.append(nxt)
        if stop_id is not None and nxt == stop_id:
            break
        logits, hidden = model([[nxt]], hidden, return_state=True)
    return ids
