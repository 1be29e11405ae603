"""utils.torch_utils.classify and utils.tf_utils.classify: the 05 models, training and the spec §8 bar.

Spec §8: on held-out data the order-aware RNN reaches >= 90 % accuracy and >= 85 %
precision and recall, while the order-blind baseline stays <= 60 % accuracy.
Asserted here for both frameworks with the settings the lessons use and fixed
seeds. Metrics come from scikit-learn (the oracle), not from the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss, precision_score, recall_score

from utils.data.order import ORDER_VOCAB, load_order_task

#: The lessons' settings (notebooks/05_sequence_classification_*.ipynb use the same).
SETTINGS = dict(epochs=3, lr=1e-2, batch_size=64, patience=3, seed=0)
EMBED_DIM, HIDDEN_SIZE = 8, 16


@pytest.fixture(scope="module")
def task():
    return load_order_task(seed=0)


def _bar_scores(y, proba):
    pred = (proba >= 0.5).astype(int)
    return (accuracy_score(y, pred), precision_score(y, pred, zero_division=0), recall_score(y, pred, zero_division=0))


# ----------------------------------------------------------------------------
# PyTorch
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch_mod():
    torch = pytest.importorskip("torch")
    from utils.torch_utils import classify

    classify.set_threads(1)
    return torch, classify


def test_torch_rnn_clears_the_bar_and_the_baseline_does_not(torch_mod, task):
    torch, c = torch_mod
    torch.manual_seed(0)
    rnn = c.RNNClassifier(len(ORDER_VOCAB), EMBED_DIM, HIDDEN_SIZE)
    hist = c.train_classifier(rnn, task["train"], task["val"], progress=False, **SETTINGS)
    acc, prec, rec = _bar_scores(task["test"][1], c.predict_proba(rnn, task["test"][0]))
    assert acc >= 0.90 and prec >= 0.85 and rec >= 0.85, (acc, prec, rec)
    torch.manual_seed(0)
    bag = c.BagOfWordsClassifier(len(ORDER_VOCAB), EMBED_DIM)
    c.train_classifier(bag, task["train"], task["val"], progress=False, **SETTINGS)
    acc_bag, _, _ = _bar_scores(task["test"][1], c.predict_proba(bag, task["test"][0]))
    assert acc_bag <= 0.60, acc_bag
    assert set(hist) >= {"loss", "val_loss", "accuracy", "val_accuracy", "best_epoch", "stopped_epoch"}
    assert len(hist["loss"]) == len(hist["val_loss"]) == hist["stopped_epoch"]


def test_torch_models_map_ids_to_one_logit_and_reject_bad_shapes(torch_mod):
    torch, c = torch_mod
    x = torch.randint(0, len(ORDER_VOCAB), (5, 7))
    for model in (c.RNNClassifier(len(ORDER_VOCAB), 4, 6), c.BagOfWordsClassifier(len(ORDER_VOCAB), 4)):
        assert tuple(model(x).shape) == (5,)
        with pytest.raises(ValueError, match="batch, time"):
            model(x[0])
        p = c.predict_proba(model, x.numpy())
        assert p.shape == (5,) and p.dtype == np.float64 and ((p > 0) & (p < 1)).all()


def test_torch_classifier_is_an_embedding_a_recurrent_layer_and_a_head_on_its_last_output(torch_mod):
    """PyTorch is the oracle: the same layers built by hand from the same seed give the same logits."""
    torch, c = torch_mod
    nn = torch.nn
    x = torch.randint(0, len(ORDER_VOCAB), (5, 7), generator=torch.Generator().manual_seed(0))
    for cell, layer in (("rnn", nn.RNN), ("gru", nn.GRU), ("lstm", nn.LSTM)):
        torch.manual_seed(3)
        model = c.RNNClassifier(len(ORDER_VOCAB), 4, 6, cell=cell)
        torch.manual_seed(3)
        embedding, recurrent, head = nn.Embedding(len(ORDER_VOCAB), 4), layer(4, 6, batch_first=True), nn.Linear(6, 1)
        assert type(model.rnn) is layer and model.cell == cell
        with torch.no_grad():
            by_hand = head(recurrent(embedding(x))[0][:, -1]).squeeze(-1)
            torch.testing.assert_close(model(x), by_hand, rtol=0, atol=0)
    assert c.RNNClassifier(len(ORDER_VOCAB)).cell == "rnn"  # lesson 05's model: a plain tanh RNN


@pytest.mark.parametrize(
    "kwargs,error,fragment",
    [
        (dict(cell="transformer"), ValueError, "cell"),
        (dict(hidden_size=0), ValueError, "hidden_size"),
        (dict(embed_dim=4.0), TypeError, "embed_dim"),
        (dict(vocab_size=-3), ValueError, "vocab_size"),
    ],
)
def test_both_classifiers_name_a_bad_option(torch_mod, tf_mod, kwargs, error, fragment):
    args = dict(vocab_size=len(ORDER_VOCAB), embed_dim=4, hidden_size=6)
    args.update(kwargs)
    for module in (torch_mod[1], tf_mod[1]):
        with pytest.raises(error, match=fragment):
            module.RNNClassifier(**args)


def test_torch_rnn_reads_the_last_output(torch_mod):
    """Changing only the last word changes the logit; the bag of words ignores a swap of two words."""
    torch, c = torch_mod
    torch.manual_seed(1)
    rnn, bag = c.RNNClassifier(len(ORDER_VOCAB), 4, 6), c.BagOfWordsClassifier(len(ORDER_VOCAB), 4)
    x = torch.tensor([[3, 4, 5, 6, 7]])
    y = x.clone()
    y[0, -1] = 8
    assert not torch.allclose(rnn(x), rnn(y))
    swapped = x[:, [1, 0, 2, 3, 4]]
    assert torch.allclose(bag(x), bag(swapped)) and not torch.allclose(rnn(x), rnn(swapped))


def test_torch_train_step_returns_the_mean_bce_and_updates(torch_mod):
    torch, c = torch_mod
    torch.manual_seed(0)
    model = c.RNNClassifier(len(ORDER_VOCAB), 4, 6)
    x = torch.randint(0, len(ORDER_VOCAB), (8, 5))
    y = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
    with torch.no_grad():
        p = torch.sigmoid(model(x)).numpy()
    before = [t.detach().clone() for t in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    loss = c.train_step(model, opt, x, y)
    assert loss == pytest.approx(log_loss(y.numpy(), p, labels=[0, 1]), rel=1e-5)
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    losses = [c.train_step(model, opt, x, y) for _ in range(15)]
    assert losses[-1] < loss


def test_torch_early_stopping_restores_the_best_epoch(torch_mod):
    torch, c = torch_mod
    from utils.data.order import make_order_dataset, random_split, with_duplicates

    X, y = make_order_dataset(200, seed=5, label_noise=0.2)
    (tr, ytr), (va, yva) = random_split(*with_duplicates(X, y, seed=5), (0.7, 0.3), seed=5)
    torch.manual_seed(0)
    model = c.RNNClassifier(len(ORDER_VOCAB), 8, 32)
    hist = c.train_classifier(
        model, (tr, ytr), (va, yva), epochs=30, lr=2e-2, batch_size=64, patience=2, progress=False
    )
    assert hist["stopped_epoch"] <= 30 and hist["best_epoch"] == int(np.argmin(hist["val_loss"])) + 1
    assert hist["stopped_epoch"] - hist["best_epoch"] == 2 or hist["stopped_epoch"] == 30
    p = c.predict_proba(model, va)
    restored = log_loss(yva, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1])
    assert restored == pytest.approx(min(hist["val_loss"]), rel=1e-4)
    with pytest.raises(ValueError, match="patience"):
        c.train_classifier(model, (tr, ytr), None, epochs=1, patience=2, progress=False)


# ----------------------------------------------------------------------------
# TensorFlow / Keras
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tf_mod():
    tf = pytest.importorskip("tensorflow")
    from utils.tf_utils import classify

    classify.set_threads(1)
    return tf, classify


def test_keras_rnn_clears_the_bar_and_the_baseline_does_not(tf_mod, task):
    tf, c = tf_mod
    import keras

    keras.utils.set_random_seed(0)
    rnn = c.RNNClassifier(len(ORDER_VOCAB), EMBED_DIM, HIDDEN_SIZE)
    hist = c.train_classifier(rnn, task["train"], task["val"], progress=False, **SETTINGS)
    acc, prec, rec = _bar_scores(task["test"][1], c.predict_proba(rnn, task["test"][0]))
    assert acc >= 0.90 and prec >= 0.85 and rec >= 0.85, (acc, prec, rec)
    keras.utils.set_random_seed(0)
    bag = c.BagOfWordsClassifier(len(ORDER_VOCAB), EMBED_DIM)
    c.train_classifier(bag, task["train"], task["val"], progress=False, **SETTINGS)
    acc_bag, _, _ = _bar_scores(task["test"][1], c.predict_proba(bag, task["test"][0]))
    assert acc_bag <= 0.60, acc_bag
    assert set(hist) >= {
        "loss",
        "val_loss",
        "accuracy",
        "val_accuracy",
        "val_precision",
        "val_recall",
        "best_epoch",
        "stopped_epoch",
    }


def test_keras_metrics_callback_agrees_with_scikit_learn(tf_mod, task):
    tf, c = tf_mod
    import keras

    keras.utils.set_random_seed(3)
    model = c.BagOfWordsClassifier(len(ORDER_VOCAB), 4)
    Xv, yv = task["val"]
    cb = c.MetricsCallback(Xv, yv)
    hist = c.train_classifier(model, task["train"], None, epochs=2, progress=False, callbacks=[cb])
    assert len(cb.history["val_precision"]) == len(hist["loss"]) == 2
    pred = (c.predict_proba(model, Xv) >= 0.5).astype(int)
    assert cb.history["val_precision"][-1] == pytest.approx(precision_score(yv, pred, zero_division=0))
    assert cb.history["val_recall"][-1] == pytest.approx(recall_score(yv, pred, zero_division=0))
    assert hist["val_recall"][-1] == pytest.approx(cb.history["val_recall"][-1])


def test_keras_models_map_ids_to_one_logit(tf_mod):
    tf, c = tf_mod
    x = np.random.default_rng(0).integers(0, len(ORDER_VOCAB), (5, 7))
    for model in (c.RNNClassifier(len(ORDER_VOCAB), 4, 6), c.BagOfWordsClassifier(len(ORDER_VOCAB), 4)):
        assert tuple(model(x).shape) == (5,)
        with pytest.raises(ValueError, match="batch, time"):
            model(x[0])
        p = c.predict_proba(model, x)
        assert p.shape == (5,) and p.dtype == np.float64 and ((p > 0) & (p < 1)).all()


def test_keras_classifier_cells_and_a_copy_from_its_config(tf_mod):
    tf, c = tf_mod
    import keras

    x = np.random.default_rng(0).integers(0, len(ORDER_VOCAB), (5, 7))
    for cell, layer in (("rnn", keras.layers.SimpleRNN), ("gru", keras.layers.GRU), ("lstm", keras.layers.LSTM)):
        model = c.RNNClassifier(len(ORDER_VOCAB), 4, 6, cell=cell)
        logits = model(x)
        assert type(model.rnn) is layer and tuple(logits.shape) == (5,)
        twin = c.RNNClassifier.from_config(model.get_config())
        twin(x)
        twin.set_weights(model.get_weights())
        assert type(twin.rnn) is layer
        np.testing.assert_allclose(np.asarray(twin(x)), np.asarray(logits), rtol=1e-6)


def test_keras_train_step_returns_the_mean_bce_and_updates(tf_mod):
    tf, c = tf_mod
    import keras

    keras.utils.set_random_seed(0)
    model = c.RNNClassifier(len(ORDER_VOCAB), 4, 6)
    x = np.random.default_rng(0).integers(0, len(ORDER_VOCAB), (8, 5))
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    p = tf.sigmoid(model(x)).numpy()
    before = [v.numpy().copy() for v in model.trainable_variables]
    opt = keras.optimizers.SGD(learning_rate=0.5)
    loss = c.train_step(model, opt, x, y)
    assert loss == pytest.approx(log_loss(y, p, labels=[0, 1]), rel=1e-4)
    assert all(not np.array_equal(a, v.numpy()) for a, v in zip(before, model.trainable_variables))
    losses = [c.train_step(model, opt, x, y) for _ in range(15)]
    assert losses[-1] < loss


def test_the_same_predictions_give_the_same_summary_in_both_tracks(tf_mod, torch_mod):
    """classification_summary is one numpy function (utils.evaluation) re-exported by both adapters."""
    from utils import evaluation

    _, ct = torch_mod
    _, cf = tf_mod
    assert ct.classification_summary is cf.classification_summary is evaluation.classification_summary
    assert ct.choose_threshold is cf.choose_threshold is evaluation.choose_threshold
