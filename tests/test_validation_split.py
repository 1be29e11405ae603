"""Issue 11, one evaluation protocol: topic 06's corpus has a real validation split, disjoint from train and test."""

from __future__ import annotations

import pytest

from utils.data import corpus_sentences, next_token_data


def test_next_token_data_has_a_disjoint_validation_split():
    data = next_token_data(seed=0, val_fraction=0.15)
    train, val, test = (
        {tuple(s) for s in part} for part in (data.train_sentences, data.val_sentences, data.test_sentences)
    )
    assert val and not (train & val or val & test or train & test)
    assert train | val | test == {tuple(s) for s in corpus_sentences()}
    assert abs(len(val) / (len(train) + len(val) + len(test)) - 0.15) < 0.02
    assert (data.val_inputs == data.val_tokens[:, :-1]).all() and (data.val_targets == data.val_tokens[:, 1:]).all()
    assert [data.vocab.decode(row) for row in data.val_tokens] == [" ".join(s) for s in data.val_sentences]
    same = next_token_data(seed=0, val_fraction=0.15)
    assert (same.val_tokens == data.val_tokens).all() and (same.test_tokens == data.test_tokens).all()
    # the test split does not depend on whether a validation split is taken
    assert next_token_data(seed=0).test_sentences == data.test_sentences


@pytest.mark.parametrize("val_fraction", [-0.1, 0.8, 1.0])
def test_bad_validation_fraction_is_named(val_fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        next_token_data(seed=0, val_fraction=val_fraction)
