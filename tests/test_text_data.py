"""utils.data.text: the shipped corpus, vocabulary, padding, next-token pairs and the noisy sine (topic 06)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from utils.data import (
    BOS,
    EOS,
    PAD,
    UNK,
    Vocabulary,
    build_vocabulary,
    corpus_sentences,
    load_corpus,
    next_token_data,
    noisy_sine,
    pad_sequences,
    shift_for_next_token,
    sine_windows,
    tokenize,
)

# -- the corpus ---------------------------------------------------------------


def test_corpus_is_shipped_small_and_one_sentence_per_line():
    text = load_corpus()
    assert 1_000 < len(text.encode("utf-8")) < 20_000, "a few KB, as the issue asks"
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) >= 50
    for line in lines:
        words = tokenize(line)
        assert len(words) >= 3 and words[-1] == ".", line


def test_corpus_has_structure_that_needs_context():
    """After "<animal> says" comes that animal's own sound: the lesson's context example relies on it."""
    sounds: dict[str, set] = {}
    for s in corpus_sentences():
        for i in range(1, len(s) - 1):
            if s[i] == "says":
                sounds.setdefault(s[i - 1], set()).add(s[i + 1])
    for animal in ["cow", "dog", "cat", "bird", "duck"]:
        assert len(sounds[animal]) == 1, (animal, sounds[animal])
    assert len({next(iter(sounds[a])) for a in ["cow", "dog", "cat", "bird", "duck"]}) == 5


def test_tokenize_lowercases_and_splits_punctuation():
    assert tokenize("The Cow says moo.") == ["the", "cow", "says", "moo", "."]
    assert tokenize("  ") == []
    with pytest.raises(TypeError, match="text"):
        tokenize(["the", "cow"])


def test_corpus_sentences_of_custom_text_and_empty_text():
    assert corpus_sentences("a b .\n\nc d .\n") == [["a", "b", "."], ["c", "d", "."]]
    with pytest.raises(ValueError, match="no words"):
        corpus_sentences("\n \n")


# -- vocabulary -----------------------------------------------------------------


def test_vocabulary_specials_and_round_trip_of_every_sentence():
    sentences = corpus_sentences()
    vocab = build_vocabulary(sentences)
    assert vocab.id_to_token[:4] == [PAD, BOS, EOS, UNK]
    assert (vocab.pad_id, vocab.bos_id, vocab.eos_id, vocab.unk_id) == (0, 1, 2, 3)
    assert len(vocab) == 4 + len({w for s in sentences for w in s})
    for s in sentences:
        ids = vocab.encode(s, add_bos=True, add_eos=True)
        assert ids[0] == vocab.bos_id and ids[-1] == vocab.eos_id
        assert vocab.decode(ids) == " ".join(s)
        assert vocab.decode(ids, skip_special=False) == " ".join([BOS, *s, EOS])


def test_vocabulary_unknown_words_and_bad_ids():
    vocab = Vocabulary(["cow", "says", "moo"])
    assert vocab.encode("the cow says moo") == [vocab.unk_id, 4, 5, 6]
    assert "cow" in vocab and "horse" not in vocab
    with pytest.raises(ValueError, match="ids"):
        vocab.decode([0, 99])
    with pytest.raises(ValueError, match="1-D"):
        vocab.decode([[4, 5]])
    with pytest.raises(TypeError, match="str"):
        Vocabulary(["cow", 3])


# -- padding and shifting ---------------------------------------------------------


@given(st.lists(st.lists(st.integers(1, 50), min_size=0, max_size=9), min_size=1, max_size=6))
@settings(max_examples=60, deadline=None)
def test_pad_sequences_keeps_values_and_marks_real_tokens(seqs):
    tokens, mask = pad_sequences(seqs)
    assert tokens.dtype == np.int64 and mask.dtype == bool
    assert tokens.shape == mask.shape == (len(seqs), max(len(s) for s in seqs))
    for i, s in enumerate(seqs):
        assert mask[i].sum() == len(s)
        assert list(tokens[i, : len(s)]) == s
        assert (tokens[i, len(s) :] == 0).all()


def test_pad_sequences_errors():
    with pytest.raises(ValueError, match="empty"):
        pad_sequences([])
    with pytest.raises(ValueError, match="length"):
        pad_sequences([[1, 2, 3]], length=2)
    with pytest.raises(ValueError, match="integer"):
        pad_sequences([[1.5, 2]])
    tokens, mask = pad_sequences([[4, 5]], pad_id=9, length=4)
    assert tokens.tolist() == [[4, 5, 9, 9]] and mask.tolist() == [[True, True, False, False]]


@given(arrays(np.int64, st.tuples(st.integers(1, 5), st.integers(2, 12)), elements=st.integers(0, 99)))
@settings(max_examples=60, deadline=None)
def test_shift_pairs_each_token_with_the_next_one(tokens):
    inputs, targets = shift_for_next_token(tokens)
    assert inputs.shape == targets.shape == (tokens.shape[0], tokens.shape[1] - 1)
    for t in range(tokens.shape[1] - 1):
        assert (inputs[:, t] == tokens[:, t]).all()
        assert (targets[:, t] == tokens[:, t + 1]).all()


def test_shift_with_mask_and_1d():
    tokens, mask = pad_sequences([[1, 7, 8, 2], [1, 9, 2]])
    inputs, targets, target_mask = shift_for_next_token(tokens, mask)
    assert target_mask.tolist() == [[True, True, True], [True, True, False]]
    assert (target_mask == (targets != 0)).all()
    x, y = shift_for_next_token([3, 4, 5])
    assert x.tolist() == [3, 4] and y.tolist() == [4, 5]


@pytest.mark.parametrize(
    "tokens, mask, error, fragment",
    [
        ([[1]], None, ValueError, "at least 2"),
        ([[1.0, 2.0]], None, TypeError, "integer"),
        (np.zeros((2, 3, 4), int), None, ValueError, "2-D"),
        ([[1, 2, 3]], [[True, True]], ValueError, "mask"),
        ([[1, 2, 3]], [[1, 1, 0]], TypeError, "boolean"),
    ],
)
def test_shift_rejects_bad_input(tokens, mask, error, fragment):
    with pytest.raises(error, match=fragment):
        shift_for_next_token(tokens, mask)


# -- the lesson's dataset --------------------------------------------------------


def test_next_token_data_is_deterministic_split_and_consistent():
    a, b, c = next_token_data(seed=0), next_token_data(seed=0), next_token_data(seed=1)
    assert (a.train_tokens == b.train_tokens).all() and (a.test_tokens == b.test_tokens).all()
    assert a.train_sentences != c.train_sentences
    train = {tuple(s) for s in a.train_sentences}
    test = {tuple(s) for s in a.test_sentences}
    assert not train & test, "the same sentence in train and test would leak"
    assert train | test == {tuple(s) for s in corpus_sentences()}
    assert abs(len(test) / (len(train) + len(test)) - 0.2) < 0.02
    for split in ("train", "test"):
        tokens = getattr(a, f"{split}_tokens")
        inputs, targets, mask = (getattr(a, f"{split}_{k}") for k in ("inputs", "targets", "mask"))
        assert (tokens[:, 0] == a.vocab.bos_id).all()
        assert ((tokens == a.vocab.eos_id).sum(axis=1) == 1).all()
        assert (inputs == tokens[:, :-1]).all() and (targets == tokens[:, 1:]).all()
        assert (mask == (targets != a.vocab.pad_id)).all()
        sentences = getattr(a, f"{split}_sentences")
        assert [a.vocab.decode(row) for row in tokens] == [" ".join(s) for s in sentences]
    with pytest.raises(ValueError, match="test_fraction"):
        next_token_data(test_fraction=1.0)


# -- the noisy sine ----------------------------------------------------------------


def test_noisy_sine_without_noise_is_the_sine_and_noise_has_the_stated_std():
    clean, noisy = noisy_sine(100, period=20.0, noise=0.0)
    np.testing.assert_allclose(clean, np.sin(2 * np.pi * np.arange(100) / 20.0), atol=1e-6)
    np.testing.assert_array_equal(clean, noisy)
    clean, noisy = noisy_sine(20_000, noise=0.3, seed=5)
    assert abs(np.std(noisy - clean) - 0.3) < 0.01
    assert (noisy_sine(50, seed=1)[1] == noisy_sine(50, seed=1)[1]).all()
    assert not (noisy_sine(50, seed=1)[1] == noisy_sine(50, seed=2)[1]).all()


def test_sine_windows_are_shifted_pairs_of_one_wave():
    w = sine_windows(num_windows=8, window=25, period=20.0, noise=0.1, seed=3)
    assert w.inputs.shape == w.targets.shape == w.clean_targets.shape == (8, 25, 1)
    assert w.inputs.dtype == np.float32
    np.testing.assert_array_equal(w.targets[:, :-1], w.inputs[:, 1:])  # the same shift as next-token pairs
    # the clean targets are a sine of period 20: x_{t+10} = -x_t
    np.testing.assert_allclose(w.clean_targets[:, 10:], -w.clean_targets[:, :-10], atol=1e-5)
    quiet = sine_windows(num_windows=4, window=10, noise=0.0, seed=3)
    np.testing.assert_array_equal(quiet.targets, quiet.clean_targets)
    again = sine_windows(num_windows=8, window=25, period=20.0, noise=0.1, seed=3)
    np.testing.assert_array_equal(w.inputs, again.inputs)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"num_windows": 0}, "num_windows"),
        ({"window": 0}, "window"),
        ({"period": 0}, "period"),
        ({"noise": -1}, "noise"),
    ],
)
def test_sine_windows_rejects_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        sine_windows(**kwargs)
