"""utils.torch_utils.next_token and utils.tf_utils.next_token: the same models and helpers in both frameworks
(topic 06).

Oracles: the models run on a whole sequence (for step-by-step feeding and
generation), `utils.metrics` (for the losses the training loops report), and
the other framework (for parity once weights are copied).
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from utils import metrics
from utils.data import next_token_data, pad_sequences, sine_windows

FRAMEWORKS = ["torch", "tf"]


@pytest.fixture(scope="module", params=FRAMEWORKS)
def fw(request):
    return importlib.import_module(f"utils.{request.param}_utils")


def _np(x):
    from utils._arrays import as_numpy

    return as_numpy(x)


def test_same_public_names_in_both_frameworks():
    # the topic-06 modules themselves (the packages re-export their names)
    torch_predict = importlib.import_module("utils.torch_utils.next_token")
    tf_predict = importlib.import_module("utils.tf_utils.next_token")
    assert torch_predict.__all__ == tf_predict.__all__
    for name in torch_predict.__all__:
        assert hasattr(importlib.import_module("utils.torch_utils"), name)
        assert hasattr(importlib.import_module("utils.tf_utils"), name)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_shapes_and_word_by_word_equals_whole_sequence(fw, cell):
    model = fw.make_next_token_model(11, embed_dim=5, hidden_size=7, cell=cell, seed=1)
    tokens = np.random.default_rng(0).integers(0, 11, size=(3, 6))
    logits = fw.predict(model, tokens)
    assert logits.shape == (3, 6, 11)
    whole, _ = model(tokens, return_state=True)
    np.testing.assert_allclose(_np(whole), logits, rtol=1e-5, atol=1e-6)
    hidden = None
    for t in range(tokens.shape[1]):
        step, hidden = model(tokens[:, t : t + 1], hidden, return_state=True)
        np.testing.assert_allclose(_np(step)[:, 0], logits[:, t], rtol=1e-4, atol=1e-5)
    # lists work too (a learner's `model([[token]])`)
    np.testing.assert_allclose(fw.predict(model, tokens[:1].tolist()), logits[:1], rtol=1e-5, atol=1e-6)


def test_bad_tokens_are_rejected_with_clear_errors(fw):
    model = fw.make_next_token_model(6, embed_dim=3, hidden_size=4)
    with pytest.raises(TypeError, match="integer"):
        model(np.zeros((1, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="token ids"):
        model([[0, 6]])
    with pytest.raises(ValueError, match="batch-major"):
        model(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="cell"):
        fw.make_next_token_model(6, cell="transformer")


def test_training_reports_the_masked_mean_loss_of_utils_metrics(fw):
    data = next_token_data(seed=0)
    model = fw.make_next_token_model(len(data.vocab), embed_dim=8, hidden_size=16, seed=0)
    history = fw.train_model(
        model,
        data.train_inputs,
        data.train_targets,
        data.train_mask,
        epochs=4,
        batch_size=32,
        learning_rate=1e-2,
        seed=0,
        progress=False,
        validation=(data.test_inputs, data.test_targets, data.test_mask),
    )
    assert len(history["loss"]) == len(history["val_loss"]) == 4
    assert history["loss"][-1] < history["loss"][0]
    logits = fw.predict(model, data.test_inputs)
    expected = metrics.cross_entropy(data.test_targets, logits, mask=data.test_mask)
    assert history["val_loss"][-1] == pytest.approx(expected, rel=1e-4)


def test_padded_targets_never_influence_training(fw):
    rng = np.random.default_rng(0)
    tokens, mask = pad_sequences([rng.integers(1, 9, size=n) for n in [6, 4, 3, 5, 2, 6]])
    x, y, m = tokens[:, :-1], tokens[:, 1:], mask[:, 1:]
    garbage = np.where(m, y, rng.integers(0, 9, size=y.shape))  # other targets, at padded steps only
    runs = []
    for targets in (y, garbage):
        model = fw.make_next_token_model(9, embed_dim=4, hidden_size=6, seed=2)
        runs.append(fw.train_model(model, x, targets, m, epochs=3, batch_size=3, seed=0, progress=False))
        runs.append(fw.predict(model, x))
    np.testing.assert_allclose(runs[0]["loss"], runs[2]["loss"], rtol=1e-6)
    np.testing.assert_allclose(runs[1], runs[3], rtol=1e-6, atol=1e-7)


def test_train_model_rejects_bad_arguments(fw):
    model = fw.make_next_token_model(5, embed_dim=3, hidden_size=4)
    x = np.ones((2, 3), dtype=np.int64)
    with pytest.raises(TypeError, match="mask"):
        fw.train_model(model, x, x, np.ones((2, 3)), epochs=1, progress=False)
    with pytest.raises(ValueError, match="targets"):
        fw.train_model(model, x, x[:, :2], epochs=1, progress=False)
    with pytest.raises(TypeError, match="integer"):
        fw.train_model(model, x, x.astype(float), epochs=1, progress=False)
    with pytest.raises(ValueError, match="epochs"):
        fw.train_model(model, x, x, epochs=0, progress=False)


def test_sine_regressor_learns_and_reports_the_mse_of_utils_metrics(fw):
    train, test = sine_windows(96, 20, seed=0), sine_windows(32, 20, seed=1)
    model = fw.make_sine_regressor(hidden_size=16, seed=0)
    before = metrics.mean_squared_error(test.targets, fw.predict(model, test.inputs))
    history = fw.train_model(
        model,
        train.inputs,
        train.targets,
        epochs=8,
        batch_size=32,
        seed=0,
        progress=False,
        validation=(test.inputs, test.targets),
    )
    predicted = fw.predict(model, test.inputs)
    assert predicted.shape == test.targets.shape
    after = metrics.mean_squared_error(test.targets, predicted)
    assert history["val_loss"][-1] == pytest.approx(after, rel=1e-4)
    assert after < before / 3


def test_generate_greedy_matches_argmax_of_the_whole_sequence(fw):
    model = fw.make_next_token_model(10, embed_dim=4, hidden_size=8, seed=4)
    ids = fw.generate(model, [1, 5], max_new_tokens=6)
    assert len(ids) == 8 and ids[:2] == [1, 5]
    for t in range(2, len(ids)):
        assert ids[t] == int(fw.predict(model, [ids[:t]])[0, -1].argmax())
    stop = ids[3]
    stopped = fw.generate(model, [1, 5], max_new_tokens=6, stop_id=stop)
    assert stopped[-1] == stop and len(stopped) <= len(ids)


def test_generate_sampling_is_seeded(fw):
    model = fw.make_next_token_model(10, embed_dim=4, hidden_size=8, seed=4)
    a = fw.generate(model, [1], 15, temperature=1.5, seed=3)
    assert a == fw.generate(model, [1], 15, temperature=1.5, seed=3)
    assert any(fw.generate(model, [1], 15, temperature=1.5, seed=s) != a for s in range(4, 8))
    with pytest.raises(ValueError, match="prompt_ids"):
        fw.generate(model, [], 3)
    with pytest.raises(ValueError, match="temperature"):
        fw.generate(model, [1], 3, temperature=-1)


def test_torch_and_keras_models_agree_once_weights_are_copied():
    import torch

    import utils.tf_utils as tfu
    import utils.torch_utils as tu

    t_model = tu.make_next_token_model(12, embed_dim=5, hidden_size=7, seed=0, device="cpu")
    k_model = tfu.make_next_token_model(12, embed_dim=5, hidden_size=7, seed=0)
    w = {name: p.detach().numpy() for name, p in t_model.named_parameters()}
    k_model.embedding.set_weights([w["embedding.weight"]])
    # Keras keeps kernel = W_ih.T and one bias; PyTorch keeps two biases.
    k_model.rnn.set_weights(
        [w["rnn.weight_ih_l0"].T, w["rnn.weight_hh_l0"].T, w["rnn.bias_ih_l0"] + w["rnn.bias_hh_l0"]]
    )
    k_model.head.set_weights([w["head.weight"].T, w["head.bias"]])
    tokens = np.random.default_rng(1).integers(0, 12, size=(4, 9))
    np.testing.assert_allclose(tfu.predict(k_model, tokens), tu.predict(t_model, tokens), rtol=1e-5, atol=1e-5)
    assert isinstance(t_model, torch.nn.Module)


# ----------------------------------------------------------------------------
# the framework-free helpers both adapters use (utils.evaluation)
# ----------------------------------------------------------------------------


def test_both_adapters_decode_with_the_one_numpy_helper():
    from utils import evaluation

    for mod in ("utils.torch_utils.next_token", "utils.tf_utils.next_token"):
        adapter = importlib.import_module(mod)
        assert adapter.choose_token is evaluation.choose_token
        assert adapter.next_step_arrays is evaluation.next_step_arrays


def test_choose_token_greedy_is_argmax_and_sampling_follows_the_tempered_softmax():
    from scipy.special import softmax

    from utils.evaluation import choose_token

    logits = np.array([1.0, 3.0, -2.0, 2.5, 0.0])
    assert choose_token(logits, 0.0, np.random.default_rng(0)) == int(np.argmax(logits))
    for temperature in (0.5, 1.0, 2.0):
        rng = np.random.default_rng(7)
        draws = [choose_token(list(logits), temperature, rng) for _ in range(20_000)]
        freq = np.bincount(draws, minlength=logits.size) / len(draws)
        np.testing.assert_allclose(freq, softmax(logits / temperature), atol=0.015)
    # huge logits do not overflow
    assert choose_token(np.array([1000.0, 999.0]), 1.0, np.random.default_rng(0)) in (0, 1)


def test_next_step_arrays_check_targets_and_mask():
    from utils.evaluation import next_step_arrays

    x = np.arange(6).reshape(2, 3)
    got_x, got_y, mask = next_step_arrays(x.tolist(), x, None, token_targets=True)
    np.testing.assert_array_equal(got_x, x)
    assert mask.dtype == bool and mask.shape == (2, 3) and mask.all()
    sine = np.zeros((2, 3, 1))
    _, _, mask = next_step_arrays(sine, sine, np.array([[True, False, True]] * 2), token_targets=False)
    assert mask.sum() == 4
    with pytest.raises(TypeError, match="integer token ids"):
        next_step_arrays(x, x.astype(float), token_targets=True)
    with pytest.raises(ValueError, match=r"`targets` should have shape \(2, 3, 1\)"):
        next_step_arrays(sine, sine[..., 0], token_targets=False)
    with pytest.raises(TypeError, match="mask"):
        next_step_arrays(x, x, np.ones((2, 3)), token_targets=True)
    with pytest.raises(ValueError, match="mask"):
        next_step_arrays(x, x, np.ones((3, 2), dtype=bool), token_targets=True)


def test_generation_prompt_and_pick_cell_name_bad_input():
    from utils.evaluation import generation_prompt, pick_cell

    assert generation_prompt(np.array([[2, 5]]), 0.0) == [2, 5]
    with pytest.raises(ValueError, match="prompt_ids"):
        generation_prompt([], 1.0)
    with pytest.raises(ValueError, match="temperature"):
        generation_prompt([1], -0.5)
    assert pick_cell({"rnn": int}, "rnn") is int
    with pytest.raises(ValueError, match=r"`cell` must be one of \['rnn'\]"):
        pick_cell({"rnn": int}, "transformer")


def test_training_options_check_sizes_and_complete_the_validation_triple():
    from utils.evaluation import training_options

    x = np.zeros((2, 3), dtype=np.int64)
    assert training_options(1, 4) is None
    inputs, targets, mask = training_options(2, 8, [x, x])
    assert inputs is x and targets is x and mask is None
    assert training_options(2, 8, (x, x, x > 0))[2].dtype == bool
    with pytest.raises(ValueError, match="batch_size"):
        training_options(1, 0)
    with pytest.raises(ValueError, match="validation"):
        training_options(1, 1, (x,))
    with pytest.raises(ValueError, match="validation"):
        training_options(1, 1, x)
