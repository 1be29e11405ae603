"""utils.plots: every plot renders to a PNG and shows the data it was given.

Each test draws with the Agg backend, saves a PNG into tmp_path, checks that
the file is a real, non-trivial image, and reads the plotted data back from
the Axes (the heatmap's array, the curves' y-data, the labels). Bad input
must raise a clear ValueError/TypeError naming the argument.
"""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.metrics import precision_score, recall_score

from utils import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def save_png(ax, tmp_path, name: str):
    """Save the figure, check it is a PNG with more than one colour, return its pixels."""
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC), f"{path} is not a PNG"
    assert len(data) > 2000, f"{path} is suspiciously small ({len(data)} bytes)"
    pixels = plt.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0).shape[0] > 10, "the image is (nearly) blank"
    return pixels


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


# ----------------------------------------------------------------------------
# confusion matrix
# ----------------------------------------------------------------------------


def test_confusion_matrix_counts(tmp_path):
    cm = np.array([[50, 10], [5, 35]])
    ax = plots.plot_confusion_matrix(cm, labels=["ham", "spam"])
    save_png(ax, tmp_path, "cm")
    np.testing.assert_array_equal(ax.images[0].get_array(), cm)
    assert "actual" in ax.get_ylabel() and "rows" in ax.get_ylabel()
    assert "predicted" in ax.get_xlabel() and "columns" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ham", "spam"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ham", "spam"]
    # the cell texts are the counts, row by row
    assert texts(ax) == ["50", "10", "5", "35"]
    assert ax.get_title() == "Confusion matrix"


@pytest.mark.parametrize("normalize, axis", [("true", 1), ("pred", 0), ("all", None)])
def test_confusion_matrix_normalized(tmp_path, normalize, axis):
    cm = np.array([[50, 10, 0], [5, 35, 2], [0, 0, 0]])  # the last class never occurs
    ax = plots.plot_confusion_matrix(cm, normalize=normalize, title="mine")
    save_png(ax, tmp_path, f"cm_{normalize}")
    totals = cm.sum(axis=axis, keepdims=axis is not None)
    expected = np.divide(cm, totals, out=np.zeros(cm.shape), where=totals > 0)
    np.testing.assert_allclose(ax.images[0].get_array(), expected)
    assert ax.get_title() == "mine"
    assert texts(ax)[0] == f"{expected[0, 0]:.2f}\n(50)"


def test_confusion_matrix_draws_on_given_axes(tmp_path):
    fig, axes = plt.subplots(1, 2)
    got = plots.plot_confusion_matrix([[1, 2], [3, 4]], ax=axes[1])
    assert got is axes[1]
    assert not axes[0].images


@pytest.mark.parametrize(
    "cm, kwargs, error, words",
    [
        ([[1, 2, 3], [4, 5, 6]], {}, ValueError, ["cm", "square"]),
        ([1, 2, 3], {}, ValueError, ["cm", "2-D"]),
        ([[1, -2], [3, 4]], {}, ValueError, ["cm", "negative"]),
        ([[1, np.nan], [3, 4]], {}, ValueError, ["cm", "NaN"]),
        ([[1, 2], [3, 4]], {"normalize": "rows"}, ValueError, ["normalize", "'true'"]),
        ([[1, 2], [3, 4]], {"labels": ["a"]}, ValueError, ["labels", "1"]),
        ("abc", {}, TypeError, ["cm"]),
        ([[1, 2], [3, 4]], {"ax": "not axes"}, TypeError, ["ax"]),
    ],
)
def test_confusion_matrix_bad_input(cm, kwargs, error, words):
    with pytest.raises(error) as info:
        plots.plot_confusion_matrix(cm, **kwargs)
    for word in words:
        assert word in str(info.value)


# ----------------------------------------------------------------------------
# per-step curves
# ----------------------------------------------------------------------------


def test_per_step_single_curve_keeps_nan_gaps(tmp_path):
    values = np.array([0.9, 0.8, np.nan, 0.7, 0.75])
    ax = plots.plot_per_step(values, ylabel="F1")
    save_png(ax, tmp_path, "per_step")
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), np.arange(5))
    np.testing.assert_array_equal(line.get_ydata(), values)  # NaN stays NaN: a gap, not an invented value
    assert ax.get_ylabel() == "F1" and ax.get_xlabel() == "time step"
    assert "F1" in ax.get_title()
    assert ax.get_legend() is None


def test_per_step_dict_of_models(tmp_path):
    curves = {"RNN": [0.9, 0.92, 0.95], "baseline": [0.5, 0.52, 0.49]}
    ax = plots.plot_per_step(curves, ylabel="accuracy", title="per step", start=1)
    save_png(ax, tmp_path, "per_step_dict")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["RNN", "baseline"]
    for line, values in zip(lines, curves.values()):
        np.testing.assert_allclose(line.get_ydata(), values)
        np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["RNN", "baseline"]


def test_per_step_draws_the_per_step_good_bar_in_each_curve_colour(tmp_path):
    from utils import evaluation

    curves = {"precision": [0.8, 0.7, 0.9], "recall": [0.9, 0.78, 1.0], "accuracy": [0.85, 0.75, 0.95]}
    ax = plots.plot_per_step(curves, ylabel="score", good=evaluation.GOOD_PER_STEP)
    save_png(ax, tmp_path, "per_step_good")
    lines = {line.get_label(): line for line in ax.get_lines()}
    for name, level in evaluation.GOOD_PER_STEP.items():
        bar = lines[f"good {name} ({level:.2f})"]
        np.testing.assert_allclose(bar.get_ydata(), [level, level])
        assert bar.get_color() == lines[name].get_color() and bar.get_linestyle() == "--"


def test_per_step_accepts_torch_tensor():
    torch = pytest.importorskip("torch")
    ax = plots.plot_per_step(torch.tensor([0.1, 0.2], requires_grad=True) * 2)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.2, 0.4], rtol=1e-6)


@pytest.mark.parametrize(
    "values, error, word",
    [
        ([[0.1, 0.2]], ValueError, "1-D"),
        ([], ValueError, "empty"),
        ({}, ValueError, "empty dict"),
        ([0.1, np.inf], ValueError, "inf"),
        ({"a": [[1.0]]}, ValueError, "values['a']"),
        (None, TypeError, "values"),
    ],
)
def test_per_step_bad_input(values, error, word):
    with pytest.raises(error, match=None) as info:
        plots.plot_per_step(values)
    assert word in str(info.value)


# ----------------------------------------------------------------------------
# loss curves
# ----------------------------------------------------------------------------


def test_loss_curves_from_keras_style_history(tmp_path):
    history = {"loss": [1.0, 0.6, 0.4, 0.3], "val_loss": [1.1, 0.7, 0.65, 0.8], "accuracy": [0.5, 0.6, 0.7, 0.8]}
    ax = plots.plot_loss_curves(history, best_epoch="auto")
    save_png(ax, tmp_path, "loss")
    train, val = ax.get_lines()[:2]
    np.testing.assert_allclose(train.get_ydata(), history["loss"])
    np.testing.assert_allclose(val.get_ydata(), history["val_loss"])
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3, 4])  # epochs as Keras counts them
    best = 1 + int(np.argmin(history["val_loss"]))
    marker = ax.get_lines()[2]
    assert list(marker.get_xdata()) == [best, best]
    assert f"best epoch ({best})" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"


def test_loss_curves_from_object_with_history_and_lists(tmp_path):
    class FakeHistory:  # what keras.Model.fit returns
        history = {"loss": [0.5, 0.4]}

    ax = plots.plot_loss_curves(FakeHistory())
    assert len(ax.get_lines()) == 1
    ax2 = plots.plot_loss_curves(train=[3, 2, 1], val=[3, 2.5, 2.7], best_epoch=2, title="t")
    save_png(ax2, tmp_path, "loss_lists")
    np.testing.assert_allclose(ax2.get_lines()[1].get_ydata(), [3, 2.5, 2.7])
    assert list(ax2.get_lines()[2].get_xdata()) == [2, 2]
    assert ax2.get_title() == "t"


@pytest.mark.parametrize(
    "args, kwargs, error, word",
    [
        ((), {}, ValueError, "nothing to plot"),
        (({"acc": [1]},), {}, ValueError, "val_loss"),
        (([1, 2],), {}, TypeError, "history"),
        (({"loss": [1, 2]},), {"train": [1]}, TypeError, "not both"),
        ((), {"train": [1, 2]}, ValueError, None),  # best_epoch auto without val: below
        ((), {"train": [1, 2], "val": [1, 2], "best_epoch": 5}, ValueError, "between 1 and 2"),
        ((), {"train": [1, 2], "val": [1, 2], "best_epoch": "best"}, ValueError, "'auto'"),
        ((), {"train": [1, 2], "val": [1, 2], "best_epoch": 1.5}, TypeError, "best_epoch"),
    ],
)
def test_loss_curves_bad_input(args, kwargs, error, word):
    if word is None:
        kwargs = {**kwargs, "best_epoch": "auto"}
        word = "validation"
    with pytest.raises(error) as info:
        plots.plot_loss_curves(*args, **kwargs)
    assert word in str(info.value)


# ----------------------------------------------------------------------------
# hidden states and influence
# ----------------------------------------------------------------------------


def test_hidden_states_heatmap(tmp_path):
    rng = np.random.default_rng(0)
    h = np.tanh(rng.normal(size=(6, 4)))  # (time, hidden)
    tokens = ["the", "dog", "bites", "the", "man", "."]
    ax = plots.plot_hidden_states(h, tokens=tokens)
    save_png(ax, tmp_path, "hidden")
    image = ax.images[0]
    np.testing.assert_allclose(image.get_array(), h.T)  # units down, time across
    assert image.get_clim() == (-1.0, 1.0)  # tanh range, symmetric around 0
    assert [t.get_text() for t in ax.get_xticklabels()] == tokens
    assert "time step" in ax.get_xlabel() and ax.get_ylabel() == "hidden unit"


def test_hidden_states_scale_follows_values_outside_tanh_range():
    h = np.array([[0.0, 3.0], [-2.0, 1.0]])
    ax = plots.plot_hidden_states(h)
    assert ax.images[0].get_clim() == (-3.0, 3.0)


@pytest.mark.parametrize(
    "h, kwargs, error, words",
    [
        (np.zeros((4, 2, 3)), {}, ValueError, ["h", "outputs[:, 0]"]),
        (np.zeros(4), {}, ValueError, ["h", "2-D"]),
        (np.zeros((3, 2)), {"tokens": ["a", "b"]}, ValueError, ["tokens", "2 entries"]),
        (np.full((2, 2), np.nan), {}, ValueError, ["h", "NaN"]),
    ],
)
def test_hidden_states_bad_input(h, kwargs, error, words):
    with pytest.raises(error) as info:
        plots.plot_hidden_states(h, **kwargs)
    for word in words:
        assert word in str(info.value)


def test_influence_bars(tmp_path):
    values = 0.5 ** np.arange(8)
    ax = plots.plot_influence(values, log=True)
    save_png(ax, tmp_path, "influence")
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, values)
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "time step"


@pytest.mark.parametrize(
    "values, kwargs, word",
    [([1.0, -0.5], {}, "non-negative"), ([1.0, 0.0], {"log": True}, "positive"), ([[1.0]], {}, "1-D")],
)
def test_influence_bad_input(values, kwargs, word):
    with pytest.raises(ValueError, match=word):
        plots.plot_influence(values, **kwargs)


# ----------------------------------------------------------------------------
# threshold trade-off, with scikit-learn as the oracle
# ----------------------------------------------------------------------------


def _oracle(y, s, t, rule):
    pred = (s >= t) if rule == ">=" else (s > t)
    p = precision_score(y, pred, zero_division=np.nan)
    r = recall_score(y, pred)
    return p, r


@pytest.mark.parametrize("rule", [">=", ">"])
@pytest.mark.parametrize("seed", range(5))
def test_threshold_tradeoff_matches_sklearn(rule, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 80))
    y = rng.integers(0, 2, n)
    y[0] = 1
    scores = np.round(rng.random(n) * 0.5 + 0.4 * y, 1)  # rounded: many ties at thresholds
    t, precision, recall = plots.threshold_tradeoff(y, scores, rule=rule)
    np.testing.assert_array_equal(t, np.unique(scores))
    for ti, p, r in zip(t, precision, recall):
        p_ref, r_ref = _oracle(y, scores, ti, rule)
        np.testing.assert_allclose([p, r], [p_ref, r_ref], equal_nan=True)


def test_threshold_plot_shows_the_computed_curves(tmp_path):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    scores = np.clip(rng.normal(0.35 + 0.3 * y, 0.15), 0, 1)
    ax = plots.plot_threshold_tradeoff(y, scores, mark=0.5)
    save_png(ax, tmp_path, "threshold")
    precision_line, recall_line, mark_line = ax.get_lines()
    t, precision, recall = plots.threshold_tradeoff(y, scores)
    np.testing.assert_allclose(precision_line.get_ydata(), precision, equal_nan=True)
    np.testing.assert_allclose(recall_line.get_ydata(), recall)
    np.testing.assert_allclose(recall_line.get_xdata(), t)
    p_ref, r_ref = _oracle(y, scores, 0.5, ">=")
    assert list(mark_line.get_xdata()) == [0.5, 0.5]
    legend = [x.get_text() for x in ax.get_legend().get_texts()]
    assert f"threshold 0.5: precision {p_ref:.2f}, recall {r_ref:.2f}" in legend
    assert "score >= t" in ax.get_xlabel()
    # recall can only fall as the threshold rises
    assert np.all(np.diff(recall) <= 0)


def test_threshold_explicit_thresholds_and_strict_rule():
    y = [0, 1, 1, 0]
    scores = [0.2, 0.5, 0.8, 0.5]
    t, precision, recall = plots.threshold_tradeoff(y, scores, thresholds=[0.5, 0.9], rule=">")
    for ti, p, r in zip(t, precision, recall):
        np.testing.assert_allclose([p, r], _oracle(np.array(y), np.array(scores), ti, ">"), equal_nan=True)
    assert np.isnan(precision[1])  # nothing predicted positive: precision undefined, not 0


@pytest.mark.parametrize(
    "y, s, kwargs, error, word",
    [
        ([0, 0, 0], [0.1, 0.2, 0.3], {}, ValueError, "no positive"),
        ([0, 1, 2], [0.1, 0.2, 0.3], {}, ValueError, "only 0 and 1"),
        ([0, 1], [0.1, 0.2, 0.3], {}, ValueError, "same length"),
        ([0, 1], [0.1, np.nan], {}, ValueError, "NaN"),
        ([], [], {}, ValueError, "y_true"),
        ([0, 1], [0.1, 0.2], {"rule": "=>"}, ValueError, "rule"),
        (["a", "b"], [0.1, 0.2], {}, TypeError, "y_true"),
        ([0, 1], [0.1, 0.2], {"mark": float("nan")}, ValueError, "mark"),
    ],
)
def test_threshold_bad_input(y, s, kwargs, error, word):
    with pytest.raises(error) as info:
        plots.plot_threshold_tradeoff(y, s, **kwargs)
    assert word in str(info.value)


# ----------------------------------------------------------------------------
# metric bars
# ----------------------------------------------------------------------------


def test_metric_bars(tmp_path):
    results = {
        "RNN": {"accuracy": 0.93, "precision": 0.9, "recall": 0.88},
        "order-blind": {"accuracy": 0.52, "precision": 0.5, "recall": 0.47},
    }
    ax = plots.plot_metric_bars(results, good=0.8)
    save_png(ax, tmp_path, "bars")
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [0.93, 0.9, 0.88, 0.52, 0.5, 0.47])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["accuracy", "precision", "recall"]
    assert "0.93" in texts(ax)
    ax2 = plots.plot_metric_bars(results, metrics=["recall"])
    np.testing.assert_allclose([p.get_height() for p in ax2.patches], [0.88, 0.47])


@pytest.mark.parametrize(
    "results, kwargs, error, word",
    [
        ({}, {}, TypeError, "results"),
        ({"a": 0.5}, {}, TypeError, "results['a']"),
        ({"a": {"acc": 1}}, {"metrics": ["f1"]}, ValueError, "'f1'"),
    ],
)
def test_metric_bars_bad_input(results, kwargs, error, word):
    with pytest.raises(error) as info:
        plots.plot_metric_bars(results, **kwargs)
    assert word in str(info.value)


def test_no_function_calls_show(monkeypatch, tmp_path):
    """Lessons decide when to show; the helpers never call plt.show()."""
    calls = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: calls.append(1))
    plots.plot_confusion_matrix([[1, 2], [3, 4]])
    plots.plot_per_step([1, 2])
    plots.plot_loss_curves(train=[1, 2])
    plots.plot_hidden_states(np.zeros((2, 2)))
    plots.plot_influence([1, 2])
    plots.plot_threshold_tradeoff([0, 1], [0.2, 0.8])
    plots.plot_metric_bars({"m": {"a": 1}})
    assert calls == []
