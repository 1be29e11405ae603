"""Topic 05: short "messages" whose label is decided by the ORDER of two words.

A message is a fixed-length sequence of word ids. Every message contains the
word "send" exactly once and the word "money" exactly once; the other
positions are filler words drawn at random. The label is

    1 (spam)  when "send" comes before "money"   ("... send ... money ...")
    0 (ham)   when "money" comes before "send"

Both classes contain exactly the same words, so a model that ignores order (a
bag of words, a mean of embeddings) cannot beat chance, while a recurrent
network that remembers which key word came first can be perfect. Everything is
deterministic in `seed`, so both framework tracks see the same data.

The helpers below also build what the lesson needs to show the pitfalls of
evaluation with real numbers:

- `with_duplicates`, `random_split`, `grouped_split`, `seen_in`:
  duplicated messages and leaky vs clean splits (data leakage);
- `positive_fraction=` and `label_noise=` of `make_order_dataset`: class
  imbalance and noisy labels (which a memorising model will learn by heart);
- `load_order_task`: the standard train/validation/test split of the lessons
  and tests (same numbers in both tracks);
- `classification_summary`, `choose_threshold`: the numpy metrics dict and the
  threshold choice for a precision or recall goal (the graded references,
  defined in `utils.evaluation` and re-exported here);
- `pitfall_pictures`: metric "pictures" of four classic mistakes, for the
  graded diagnosis exercise. Which picture shows which mistake is not stored
  anywhere in `utils`: the learner reads it from the numbers, and the answer
  key lives only in the hidden test of the source notebook.

Nothing here imports torch or tensorflow.
"""

from __future__ import annotations

import numbers

import numpy as np

# The evaluation references live in `utils.evaluation` (shared by both framework
# adapters); re-exported so that `from utils.data.order import classification_summary` keeps working.
from ..evaluation import choose_threshold, classification_summary

__all__ = [
    "ORDER_VOCAB",
    "ORDER_PAD",
    "ORDER_FIRST",
    "ORDER_SECOND",
    "ORDER_CLASS_NAMES",
    "make_order_dataset",
    "decode_messages",
    "shuffle_within_rows",
    "with_duplicates",
    "random_split",
    "grouped_split",
    "seen_in",
    "load_order_task",
    "classification_summary",
    "choose_threshold",
    "PITFALLS",
    "pitfall_pictures",
]

#: The words. Id 0 is padding (never generated, kept so that id 0 means "nothing"
#: as in most NLP code); 1 and 2 are the two key words; the rest are fillers.
ORDER_VOCAB = (
    "<pad>",
    "send",
    "money",
    "hi",
    "team",
    "the",
    "report",
    "is",
    "ready",
    "thanks",
    "for",
    "lunch",
    "today",
    "call",
    "me",
)
ORDER_PAD, ORDER_FIRST, ORDER_SECOND = 0, 1, 2
ORDER_CLASS_NAMES = ("ham", "spam")
_FILLERS = np.arange(3, len(ORDER_VOCAB))


def _int_arg(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` should be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"`{name}` should be at least {minimum}, got {value}")
    return int(value)


def _fraction(value, name: str, *, low: float = 0.0, high: float = 1.0, open_low=False, open_high=False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` should be a number, got {type(value).__name__}")
    v = float(value)
    bad = not np.isfinite(v) or v < low or v > high or (open_low and v == low) or (open_high and v == high)
    if bad:
        lo, hi = ("(" if open_low else "["), (")" if open_high else "]")
        raise ValueError(f"`{name}` should be in {lo}{low}, {high}{hi}, got {value}")
    return v


def _tokens(X, name: str = "X") -> np.ndarray:
    arr = np.asarray(X)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"`{name}` should hold integer word ids, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"`{name}` should be 2-D (num_messages, seq_len), got shape {arr.shape}")
    return arr


def _labels(y, n: int, name: str = "y") -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"`{name}` should be 1-D with one label per message ({n}), got shape {arr.shape}")
    return arr


def make_order_dataset(num_samples, seq_len=10, *, seed=0, positive_fraction=0.5, label_noise=0.0):
    """Generate `num_samples` messages of `seq_len` word ids and their labels.

    Returns `(X, y)`: X int64 (num_samples, seq_len), y int64 (num_samples,)
    with 1 = spam ("send" before "money") and 0 = ham. `positive_fraction` is
    the expected share of spam (0.5 balanced; 0.05 for an imbalanced set).
    `label_noise` flips that share of the labels at random (a labeller's
    mistakes); the default 0 keeps every label true to the rule.
    """
    n = _int_arg(num_samples, "num_samples", 1)
    seq_len = _int_arg(seq_len, "seq_len", 2)
    p = _fraction(positive_fraction, "positive_fraction")
    noise = _fraction(label_noise, "label_noise", high=0.5)
    rng = np.random.default_rng(seed)
    X = rng.choice(_FILLERS, size=(n, seq_len)).astype(np.int64)
    # two distinct positions per message: the earlier one and the later one
    a = rng.integers(0, seq_len, size=n)
    b = (a + rng.integers(1, seq_len, size=n)) % seq_len
    early, late = np.minimum(a, b), np.maximum(a, b)
    y = (rng.random(n) < p).astype(np.int64)
    rows = np.arange(n)
    X[rows, early] = np.where(y == 1, ORDER_FIRST, ORDER_SECOND)
    X[rows, late] = np.where(y == 1, ORDER_SECOND, ORDER_FIRST)
    if noise > 0:
        flip = rng.random(n) < noise
        y = np.where(flip, 1 - y, y)
    return X, y


def decode_messages(X) -> list[str]:
    """Word ids -> readable messages, one string per row (a 1-D row gives a 1-item list)."""
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr[None, :]
    arr = _tokens(arr)
    if arr.size and (arr.min() < 0 or arr.max() >= len(ORDER_VOCAB)):
        raise ValueError(f"`X` holds ids outside 0..{len(ORDER_VOCAB) - 1}")
    words = np.asarray(ORDER_VOCAB)
    return [" ".join(words[row]) for row in arr]


def shuffle_within_rows(X, *, seed=0) -> np.ndarray:
    """The same words in a random order within each message (what an order-blind model sees)."""
    arr = _tokens(X)
    rng = np.random.default_rng(seed)
    keys = rng.random(arr.shape)
    return np.take_along_axis(arr, np.argsort(keys, axis=1), axis=1)


def with_duplicates(X, y, *, max_copies=4, seed=0):
    """Repeat every message 1..max_copies times (bulk mail) and shuffle the rows.

    Returns `(X_dup, y_dup)`. Copies keep their label, so a noisy label is
    noisy in every copy.
    """
    arr = _tokens(X)
    labels = _labels(y, arr.shape[0])
    max_copies = _int_arg(max_copies, "max_copies", 1)
    rng = np.random.default_rng(seed)
    copies = rng.integers(1, max_copies + 1, size=arr.shape[0])
    idx = np.repeat(np.arange(arr.shape[0]), copies)
    idx = idx[rng.permutation(idx.size)]
    return arr[idx], labels[idx]


def _check_fractions(fractions) -> np.ndarray:
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.ndim != 1 or fr.size < 2 or (fr <= 0).any() or not np.isclose(fr.sum(), 1.0):
        raise ValueError(f"`fractions` should be two or more positive shares summing to 1, got {fractions}")
    return fr


def _cut(n: int, fractions: np.ndarray) -> np.ndarray:
    edges = np.round(np.cumsum(fractions)[:-1] * n).astype(int)
    return edges


def random_split(X, y, fractions=(0.8, 0.2), *, seed=0):
    """Split ROWS at random: copies of one message can land in several parts (leaky).

    Returns a list of `(X_part, y_part)` tuples, one per fraction.
    """
    arr = _tokens(X)
    labels = _labels(y, arr.shape[0])
    fr = _check_fractions(fractions)
    order = np.random.default_rng(seed).permutation(arr.shape[0])
    return [(arr[i], labels[i]) for i in np.split(order, _cut(arr.shape[0], fr))]


def grouped_split(X, y, fractions=(0.8, 0.2), *, seed=0):
    """Split distinct MESSAGES: all copies of a message go to the same part (clean).

    Returns a list of `(X_part, y_part)` tuples; no message appears in two parts.
    """
    arr = _tokens(X)
    labels = _labels(y, arr.shape[0])
    fr = _check_fractions(fractions)
    _, group = np.unique(arr, axis=0, return_inverse=True)
    group = group.reshape(-1)
    num_groups = int(group.max()) + 1
    shuffled = np.random.default_rng(seed).permutation(num_groups)
    part_of_group = np.empty(num_groups, dtype=np.int64)
    for k, chunk in enumerate(np.split(shuffled, _cut(num_groups, fr))):
        part_of_group[chunk] = k
    part = part_of_group[group]
    return [(arr[part == k], labels[part == k]) for k in range(fr.size)]


def seen_in(X_reference, X) -> np.ndarray:
    """Boolean mask over the rows of `X`: True where that exact message is also in `X_reference`."""
    ref = _tokens(X_reference, "X_reference")
    arr = _tokens(X)
    if ref.shape[1] != arr.shape[1]:
        raise ValueError(f"`X_reference` and `X` should have the same seq_len, got {ref.shape[1]} and {arr.shape[1]}")
    both = np.concatenate([ref, arr])
    _, inverse = np.unique(both, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    return np.isin(inverse[ref.shape[0] :], inverse[: ref.shape[0]])


def load_order_task(seed=0, *, num_train=2000, num_val=500, num_test=1000, seq_len=10):
    """The standard task of the lessons and tests: a dict of (X, y) for "train", "val", "test".

    The three parts are generated with different seeds derived from `seed`,
    and any test or validation message that also occurs in training is
    replaced, so the held-out parts are truly unseen.
    """
    parts = {}
    sizes = {"train": num_train, "val": num_val, "test": num_test}
    for k, (name, size) in enumerate(sizes.items()):
        _int_arg(size, f"num_{name}", 1)
        parts[name] = make_order_dataset(size, seq_len, seed=seed * 1000 + k)
    seen = parts["train"][0]
    for k, name in enumerate(("val", "test"), start=1):
        X, y = parts[name]
        extra = 0
        while True:  # regenerate the (rare) messages already seen in training
            dup = seen_in(seen, X)
            if not dup.any():
                break
            extra += 1
            Xn, yn = make_order_dataset(int(dup.sum()), seq_len, seed=seed * 1000 + 100 * k + extra)
            X, y = X.copy(), y.copy()
            X[dup], y[dup] = Xn, yn
        parts[name] = (X, y)
        seen = np.concatenate([seen, X])
    return parts


# ----------------------------------------------------------------------------
# pictures of pitfalls (graded diagnosis)
# ----------------------------------------------------------------------------

#: The fixed list of answers for the diagnosis exercise.
PITFALLS = ("leakage", "overfitting", "imbalance", "order_blind", "fine")


def pitfall_pictures(seed=0) -> dict:
    """Five metric "pictures": four show the signature of one pitfall, one is healthy.

    Returns a dict name -> picture. Each picture is a dict with
    - "history": per-epoch "loss", "val_loss", "accuracy", "val_accuracy" lists,
    - "test": a `classification_summary` of its test predictions,
    - "positives": the share of positives in its test set,
    - "overlap": the share of test messages also in training.
    The pictures are named "A".."E" in a shuffled order so that the name gives
    nothing away, and no diagnosis is kept with them: naming the pitfall of
    each picture (one of PITFALLS) is the learner's exercise.
    """
    return _pictures(seed)


def _pictures(seed):
    rng = np.random.default_rng(seed)
    epochs = np.arange(1, 21)

    def noisy(curve, scale=0.01):
        return [float(v) for v in np.clip(curve + rng.normal(0, scale, curve.shape), 0.001, None)]

    def summary(pos_rate, n, tpr, tnr):
        y = (rng.random(n) < pos_rate).astype(int)
        y[:2] = [0, 1]
        hit = rng.random(n)
        pred = np.where(y == 1, hit < tpr, hit >= tnr).astype(int)
        return classification_summary(y, pred.astype(float), 0.5), float(y.mean())

    decay = np.exp(-epochs / 4)
    cases = {}
    # leakage: great curves, near-perfect test score, and half the test set seen in training
    test, pos = summary(0.5, 1000, 0.995, 0.995)
    cases["leakage"] = dict(
        history=dict(
            loss=noisy(0.05 + 0.6 * decay),
            val_loss=noisy(0.05 + 0.6 * decay),
            accuracy=noisy(1 - 0.45 * decay),
            val_accuracy=noisy(1 - 0.45 * decay),
        ),
        test=test,
        positives=pos,
        overlap=float(rng.uniform(0.4, 0.6)),
    )
    # overfitting: training loss keeps falling, validation loss turns up after a few epochs
    test, pos = summary(0.5, 1000, 0.72, 0.7)
    cases["overfitting"] = dict(
        history=dict(
            loss=noisy(0.02 + 0.65 * decay),
            val_loss=noisy(0.45 + 0.25 * decay + 0.02 * epochs),
            accuracy=noisy(1 - 0.48 * decay),
            val_accuracy=noisy(0.72 - 0.2 * decay),
        ),
        test=test,
        positives=pos,
        overlap=0.0,
    )
    # imbalance: 3 % positives, accuracy looks great, recall is tiny
    test, pos = summary(0.03, 2000, 0.12, 0.995)
    flat = np.ones_like(decay, dtype=float)
    cases["imbalance"] = dict(
        history=dict(
            loss=noisy(0.12 + 0.3 * decay),
            val_loss=noisy(0.13 + 0.3 * decay),
            accuracy=noisy(0.97 * flat - 0.1 * decay),
            val_accuracy=noisy(0.97 * flat - 0.1 * decay),
        ),
        test=test,
        positives=pos,
        overlap=0.0,
    )
    # order-blind: balanced classes, nothing learned, train and validation both at chance
    test, pos = summary(0.5, 1000, 0.5, 0.5)
    cases["order_blind"] = dict(
        history=dict(
            loss=noisy(0.693 * flat + 0.02 * decay, 0.003),
            val_loss=noisy(0.694 * flat + 0.02 * decay, 0.003),
            accuracy=noisy(0.5 * flat, 0.01),
            val_accuracy=noisy(0.5 * flat, 0.01),
        ),
        test=test,
        positives=pos,
        overlap=0.0,
    )
    # fine: both curves fall together, balanced test set, good and balanced scores
    test, pos = summary(0.5, 1000, 0.95, 0.96)
    cases["fine"] = dict(
        history=dict(
            loss=noisy(0.1 + 0.6 * decay),
            val_loss=noisy(0.13 + 0.6 * decay),
            accuracy=noisy(0.96 - 0.45 * decay),
            val_accuracy=noisy(0.95 - 0.45 * decay),
        ),
        test=test,
        positives=pos,
        overlap=0.0,
    )
    # the shuffled names; the kind of each case is dropped here, so it is stored nowhere
    pictures = list(cases.values())
    return {name: pictures[j] for name, j in zip("ABCDE", rng.permutation(len(pictures)))}


# ----------------------------------------------------------------------------
# topic 08: the same task with messages of different lengths, padded
# ----------------------------------------------------------------------------

_PADDING = ("post", "pre")


def _padding(padding) -> str:
    if padding not in _PADDING:
        raise ValueError(f"`padding` should be 'post' (pad at the end) or 'pre' (pad at the front), got {padding!r}")
    return padding


def _lengths(lengths, X: np.ndarray) -> np.ndarray:
    arr = np.asarray(lengths)
    if arr.dtype.kind not in "iu" or arr.shape != (X.shape[0],):
        raise ValueError(f"`lengths` should be {X.shape[0]} integers, one per message, got {arr.dtype} {arr.shape}")
    if arr.size and (arr.min() < 1 or arr.max() > X.shape[1]):
        raise ValueError(f"`lengths` should lie in 1..{X.shape[1]}, got {arr.min()}..{arr.max()}")
    return arr.astype(np.int64)


def move_padding(X, lengths, padding="pre") -> np.ndarray:
    """Move the padding of messages padded at the end to the front (`padding="pre"`), or back ("post").

    `X` is (num_messages, max_len) with the real words of row i in its first
    `lengths[i]` positions (for "pre") or its last `lengths[i]` (for "post").
    Returns a new array; the words keep their order.
    """
    arr = _tokens(X)
    lens = _lengths(lengths, arr)
    T = arr.shape[1]
    shift = lens if _padding(padding) == "pre" else T - lens
    # a row rotated by its length (or by its padding) brings the real words to the other end
    idx = (np.arange(T)[None, :] + shift[:, None]) % T
    return np.take_along_axis(arr, idx, axis=1)


def make_variable_order_dataset(num_samples, min_len=3, max_len=20, *, seed=0, padding="post"):
    """The order task with messages of `min_len` to `max_len` words, padded to `max_len` with id 0.

    Returns `(X, y, lengths)`: X int64 (num_samples, max_len), y int64
    (num_samples,) with 1 = spam ("send" before "money"), lengths int64
    (num_samples,), uniform in min_len..max_len. With `padding="post"` the
    words of row i are X[i, :lengths[i]] and zeros follow; with "pre" the zeros
    come first (Keras' `pad_sequences` default). Labels are balanced in
    expectation and true to the rule.
    """
    n = _int_arg(num_samples, "num_samples", 1)
    min_len = _int_arg(min_len, "min_len", 2)
    max_len = _int_arg(max_len, "max_len", min_len)
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, size=n)
    X = rng.choice(_FILLERS, size=(n, max_len)).astype(np.int64)
    a = (rng.random(n) * lengths).astype(np.int64)
    b = (a + 1 + (rng.random(n) * (lengths - 1)).astype(np.int64)) % lengths
    early, late = np.minimum(a, b), np.maximum(a, b)
    y = (rng.random(n) < 0.5).astype(np.int64)
    rows = np.arange(n)
    X[rows, early] = np.where(y == 1, ORDER_FIRST, ORDER_SECOND)
    X[rows, late] = np.where(y == 1, ORDER_SECOND, ORDER_FIRST)
    X[np.arange(max_len)[None, :] >= lengths[:, None]] = ORDER_PAD
    if _padding(padding) == "pre":
        X = move_padding(X, lengths, "pre")
    return X, y, lengths.astype(np.int64)


def load_variable_order_task(
    seed=0, *, num_train=3000, num_val=500, num_test=1000, min_len=3, max_len=20, padding="post"
):
    """The standard padded task of topic 08: a dict of (X, y, lengths) for "train", "val", "test".

    As in `load_order_task`, a validation or test message that also occurs in
    training (or, for test, in validation) is replaced by a fresh one.
    """
    _padding(padding)
    parts = {}
    sizes = {"train": num_train, "val": num_val, "test": num_test}
    for k, (name, size) in enumerate(sizes.items()):
        _int_arg(size, f"num_{name}", 1)
        parts[name] = make_variable_order_dataset(size, min_len, max_len, seed=seed * 1000 + 800 + k)
    seen = parts["train"][0]
    for k, name in enumerate(("val", "test"), start=1):
        X, y, lengths = parts[name]
        extra = 0
        while True:  # regenerate the messages already seen (short ones repeat often)
            dup = seen_in(seen, X)
            if not dup.any():
                break
            extra += 1
            Xn, yn, ln = make_variable_order_dataset(
                int(dup.sum()), min_len, max_len, seed=seed * 1000 + 900 + 50 * k + extra
            )
            X, y, lengths = X.copy(), y.copy(), lengths.copy()
            X[dup], y[dup], lengths[dup] = Xn, yn, ln
        parts[name] = (X, y, lengths)
        seen = np.concatenate([seen, X])
    if padding == "pre":
        parts = {name: (move_padding(X, lengths, "pre"), y, lengths) for name, (X, y, lengths) in parts.items()}
    return parts
