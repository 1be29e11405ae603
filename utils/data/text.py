"""Topic 06 data: the course's small corpus, a vocabulary, next-token pairs, a noisy sine.

Nothing is downloaded. The corpus (`corpus.txt`, shipped as package data) was
written for this course: short, repetitive sentences ("the cow says moo .")
so that a tiny RNN learns visible structure in seconds, including structure
that needs context ("says" is followed by "moo" only after "cow").

Conventions shared with `utils.metrics`: arrays are batch-major (batch, time),
and a `mask` is boolean with True = a real token (PyTorch's padding masks use
the opposite sense).

    >>> from utils.data import next_token_data
    >>> data = next_token_data(seed=0)
    >>> data.train_inputs.shape == data.train_targets.shape == data.train_mask.shape
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from .._arrays import as_numpy

__all__ = [
    "PAD",
    "BOS",
    "EOS",
    "UNK",
    "load_corpus",
    "tokenize",
    "corpus_sentences",
    "Vocabulary",
    "build_vocabulary",
    "pad_sequences",
    "shift_for_next_token",
    "NextTokenData",
    "next_token_data",
    "noisy_sine",
    "SineWindows",
    "sine_windows",
]

#: Special tokens. Their ids are fixed: <pad> is 0 so that zero-padding is padding.
PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
_SPECIALS = (PAD, BOS, EOS, UNK)

_TOKEN = re.compile(r"[a-z0-9']+|[.,!?;:]")


def load_corpus() -> str:
    """Return the text of the shipped corpus (one sentence per line)."""
    return resources.files("utils.data").joinpath("corpus.txt").read_text(encoding="utf-8")


def tokenize(text: str) -> list[str]:
    """Split one piece of text into lower-case words and punctuation marks."""
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a str, got {type(text).__name__}")
    return _TOKEN.findall(text.lower())


def corpus_sentences(text: str | None = None) -> list[list[str]]:
    """The corpus (or `text`) as a list of tokenised sentences, one per non-empty line."""
    text = load_corpus() if text is None else text
    sentences = [tokenize(line) for line in text.splitlines()]
    sentences = [s for s in sentences if s]
    if not sentences:
        raise ValueError("`text` contains no words")
    return sentences


class Vocabulary:
    """A fixed mapping between tokens and integer ids.

    Ids 0-3 are the special tokens <pad>, <bos>, <eos>, <unk>; the words follow
    in order of first appearance, so the same corpus always gives the same ids.
    """

    def __init__(self, words):
        self.id_to_token: list[str] = list(_SPECIALS)
        for w in words:
            if not isinstance(w, str):
                raise TypeError(f"vocabulary entries must be str, got {type(w).__name__}")
            if w not in self.id_to_token:
                self.id_to_token.append(w)
        self.token_to_id: dict[str, int] = {t: i for i, t in enumerate(self.id_to_token)}

    pad_id = 0
    bos_id = 1
    eos_id = 2
    unk_id = 3

    def __len__(self) -> int:
        return len(self.id_to_token)

    def __contains__(self, token) -> bool:
        return token in self.token_to_id

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens: {self.id_to_token[4:10]} ...)"

    def encode(self, words, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Token ids of `words` (a list of tokens or a string); unknown words map to <unk>."""
        if isinstance(words, str):
            words = tokenize(words)
        ids = [self.token_to_id.get(w, self.unk_id) for w in words]
        return ([self.bos_id] if add_bos else []) + ids + ([self.eos_id] if add_eos else [])

    def decode(self, ids, *, skip_special: bool = True) -> str:
        """The text of a sequence of ids (special tokens left out unless `skip_special` is False)."""
        arr = as_numpy(ids, name="ids")
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise ValueError(f"`ids` must be a 1-D sequence of integer ids, got shape {arr.shape}, dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= len(self)):
            raise ValueError(f"`ids` must lie in [0, {len(self)}), got values from {arr.min()} to {arr.max()}")
        words = [self.id_to_token[int(i)] for i in arr]
        if skip_special:
            words = [w for w in words if w not in _SPECIALS]
        return " ".join(words)


def build_vocabulary(sentences) -> Vocabulary:
    """The vocabulary of a list of tokenised sentences."""
    return Vocabulary(w for s in sentences for w in s)


def pad_sequences(sequences, *, pad_id: int = 0, length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pad integer sequences on the right into a (batch, time) array and its mask.

    Returns `(tokens, mask)`: tokens int64, mask bool with True = a real token.
    `length` defaults to the longest sequence; a longer sequence is an error
    (never silently cut).
    """
    seqs = [list(as_numpy(s, name="sequences").ravel()) for s in sequences]
    if not seqs:
        raise ValueError("`sequences` is empty")
    longest = max(len(s) for s in seqs)
    length = longest if length is None else int(length)
    if length < longest:
        raise ValueError(f"`length` is {length} but the longest sequence has {longest} tokens")
    tokens = np.full((len(seqs), length), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), length), dtype=bool)
    for i, s in enumerate(seqs):
        if s and not all(float(v).is_integer() for v in s):
            raise ValueError(f"`sequences[{i}]` holds non-integer values; token ids must be integers")
        tokens[i, : len(s)] = s
        mask[i, : len(s)] = True
    return tokens, mask


def shift_for_next_token(tokens, mask=None):
    """The next-token pairs of a (batch, time) token array: the reference answer of topic 06.

    inputs = tokens[:, :-1] and targets = tokens[:, 1:]: at every step the model
    reads one token and must predict the one after it. With `mask` (True = real
    token) a third array is returned, the mask of the targets: a target is real
    when the token it names is real. A 1-D sequence is shifted the same way.
    """
    arr = as_numpy(tokens, name="tokens")
    if arr.ndim not in (1, 2):
        raise ValueError(f"`tokens` must be 1-D (time,) or 2-D (batch, time), got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"`tokens` must hold integer token ids, got dtype {arr.dtype}")
    if arr.shape[-1] < 2:
        raise ValueError(f"`tokens` needs at least 2 time steps to make a next-token pair, got {arr.shape[-1]}")
    inputs, targets = arr[..., :-1], arr[..., 1:]
    if mask is None:
        return inputs, targets
    m = as_numpy(mask, name="mask")
    if m.shape != arr.shape:
        raise ValueError(f"`mask` must have the shape of `tokens` {arr.shape}, got {m.shape}")
    if m.dtype != bool:
        raise TypeError(f"`mask` must be boolean (True = real token), got dtype {m.dtype}")
    return inputs, targets, m[..., 1:]


@dataclass
class NextTokenData:
    """The corpus as padded next-token pairs, split into train, validation and test sentences.

    `*_tokens` are whole sentences `<bos> w1 ... wn <eos> <pad> ...`; `*_inputs`
    and `*_targets` are those shifted by one; `*_mask` marks the real targets.
    The validation part (`val_*`, empty when `val_fraction=0`) is what every
    choice (epochs, early stopping, settings) is made on; the test part is read
    once, at the end, to report.
    """

    vocab: Vocabulary
    train_sentences: list
    test_sentences: list
    train_tokens: np.ndarray
    train_inputs: np.ndarray
    train_targets: np.ndarray
    train_mask: np.ndarray
    test_tokens: np.ndarray
    test_inputs: np.ndarray
    test_targets: np.ndarray
    test_mask: np.ndarray
    val_sentences: list = field(default_factory=list)
    val_tokens: np.ndarray | None = None
    val_inputs: np.ndarray | None = None
    val_targets: np.ndarray | None = None
    val_mask: np.ndarray | None = None


def next_token_data(
    seed: int = 0, test_fraction: float = 0.2, text: str | None = None, *, val_fraction: float = 0.0
) -> NextTokenData:
    """Tokenise the corpus, build the vocabulary, shuffle the sentences with `seed`, split and pad.

    The vocabulary comes from every sentence (the corpus is tiny, and unknown
    words are not this lesson's subject); train, validation and test share no
    sentence. `val_fraction` (of all sentences) is taken from what is left
    after the test part; the lessons use 0.15.
    """
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"`test_fraction` must lie strictly between 0 and 1, got {test_fraction}")
    if not 0.0 <= float(val_fraction) < 1.0 - float(test_fraction):
        raise ValueError(f"`val_fraction` must lie in [0, 1 - test_fraction), got {val_fraction}")
    sentences = corpus_sentences(text)
    # Duplicated lines would put the same sentence in train and test (leakage).
    unique = list(dict.fromkeys(tuple(s) for s in sentences))
    vocab = build_vocabulary(unique)
    order = np.random.default_rng(seed).permutation(len(unique))
    n_test = max(1, int(round(len(unique) * test_fraction)))
    if n_test >= len(unique):
        raise ValueError("the corpus is too small to split into train and test")
    n_val = int(round(len(unique) * float(val_fraction)))
    if n_test + n_val >= len(unique):
        raise ValueError("the corpus is too small to split into train, validation and test")
    test = [list(unique[i]) for i in order[:n_test]]
    val = [list(unique[i]) for i in order[n_test : n_test + n_val]]
    train = [list(unique[i]) for i in order[n_test + n_val :]]
    length = max(len(s) for s in unique) + 2

    def pack(sents) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        tokens, mask = pad_sequences(
            [vocab.encode(s, add_bos=True, add_eos=True) for s in sents], pad_id=vocab.pad_id, length=length
        )
        inputs, targets, target_mask = shift_for_next_token(tokens, mask)
        return tokens, inputs, targets, target_mask

    tr, te = pack(train), pack(test)
    va = pack(val) if val else (None, None, None, None)
    return NextTokenData(vocab, train, test, *tr, *te, val, *va)


def _check_wave(period, noise) -> None:
    if not period > 0:
        raise ValueError(f"`period` must be positive, got {period}")
    if not noise >= 0:
        raise ValueError(f"`noise` must be >= 0, got {noise}")


def noisy_sine(
    num_steps: int = 200, *, period: float = 20.0, noise: float = 0.1, phase: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """One sine wave sampled at integer steps, with Gaussian noise of std `noise`.

    Returns `(clean, noisy)`, both float32 of shape (num_steps,).
    """
    num_steps = int(num_steps)
    if num_steps < 2:
        raise ValueError(f"`num_steps` must be at least 2, got {num_steps}")
    _check_wave(period, noise)
    t = np.arange(num_steps)
    clean = np.sin(2 * np.pi * t / period + phase)
    noisy = clean + np.random.default_rng(seed).normal(0.0, noise, size=num_steps)
    return clean.astype(np.float32), noisy.astype(np.float32)


@dataclass
class SineWindows:
    """Windows of a noisy sine for many-to-many regression.

    inputs (N, W, 1): the noisy values x_0 ... x_{W-1};
    targets (N, W, 1): the noisy values one step later, x_1 ... x_W (the same shift as next-token pairs);
    clean_targets (N, W, 1): the noise-free values at the target steps, to judge a prediction against.
    """

    inputs: np.ndarray
    targets: np.ndarray
    clean_targets: np.ndarray


def sine_windows(
    num_windows: int = 256, window: int = 40, *, period: float = 20.0, noise: float = 0.1, seed: int = 0
) -> SineWindows:
    """`num_windows` windows of `window` steps, each starting at a random phase (seeded)."""
    num_windows, window = int(num_windows), int(window)
    if num_windows < 1:
        raise ValueError(f"`num_windows` must be at least 1, got {num_windows}")
    if window < 1:
        raise ValueError(f"`window` must be at least 1, got {window}")
    _check_wave(period, noise)
    rng = np.random.default_rng(seed)
    phases = rng.uniform(0.0, 2 * np.pi, size=(num_windows, 1))
    t = np.arange(window + 1)[None, :]
    clean = np.sin(2 * np.pi * t / period + phases)
    noisy = clean + rng.normal(0.0, noise, size=clean.shape)
    as3d = lambda a: a[..., None].astype(np.float32)
    return SineWindows(as3d(noisy[:, :-1]), as3d(noisy[:, 1:]), as3d(clean[:, 1:]))
