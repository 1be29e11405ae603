"""utils.checks for issue 11: "write it yourself" (check_own_work) and form-only multiple-choice cells.

check_own_work reads the code of the learner's function (and of the helpers
it calls) and fails, naming the call, when it hands the work to a helper the
exercise forbids. exercise(..., form_only=True) never prints PASS, since such
a cell has not checked the answer.
"""

from __future__ import annotations

import numpy as np
import pytest

from utils import checks


def _define(source: str, extra: dict | None = None) -> dict:
    namespace = {"__name__": "__main__", "np": np, **(extra or {})}
    exec(source, namespace)  # test inputs written here
    return namespace


DELEGATING = {
    "a module imported at the top": (
        "from utils import metrics\ndef f(a, b):\n    return metrics.f1_score(a, b)\n",
        "metric libraries",
        "metrics.f1_score",
    ),
    "an import inside the function": (
        "def f(a, b):\n    from sklearn.metrics import f1_score\n    return f1_score(a, b)\n",
        "metric libraries",
        "sklearn.metrics",
    ),
    "an alias of the reference": (
        "from utils.rnn import rnn_step as mine\ndef f(a, b):\n    return mine(a, b)\n",
        "the course's RNN reference",
        "utils.rnn.rnn_step",
    ),
    "through the learner's own helper": (
        "import utils.metrics\ndef _h(a):\n    return utils.metrics.accuracy_score(a, a)\n"
        "def f(a, b):\n    return _h(a)\n",
        "metric libraries",
        "`_h` uses",
    ),
    "a framework loss": (
        "import torch.nn.functional as F\ndef f(a, b):\n    return F.cross_entropy(a, b)\n",
        "framework losses",
        "F.cross_entropy",
    ),
    "a loss class in a method": (
        "from torch import nn\nclass f:\n    def __call__(self, a, b):\n        return nn.CrossEntropyLoss()(a, b)\n",
        "framework losses",
        "nn.CrossEntropyLoss",
    ),
    "a layer built in the function": (
        "def f(a, b):\n    import torch\n    return torch.nn.RNN(a, b)\n",
        "framework layers",
        "torch.nn.RNN",
    ),
}


@pytest.mark.parametrize("label", list(DELEGATING))
def test_delegation_is_caught_and_named(label):
    source, group, shown = DELEGATING[label]
    if "torch" in source:
        pytest.importorskip("torch")
    f = _define(source)["f"]
    with pytest.raises(checks.CheckFailure) as info:
        checks.check_own_work(f, "f", forbids=[group], instead="numpy, by hand")
    text = str(info.value)
    assert shown in text and "write it yourself" in text and "numpy, by hand" in text


def test_own_work_passes_and_allowed_helpers_stay_allowed():
    ns = _define(
        "import math\nfrom utils import metrics\n"
        "def own(a, b):\n    return float(np.mean(np.asarray(a) == np.asarray(b))) + math.fsum([0.0])\n"
        "def allowed(a, b):\n    return metrics.accuracy_score(a, b)\n"
    )
    checks.check_own_work(ns["own"], "own", forbids=list(checks.HELPER_GROUPS), instead="x")
    checks.check_own_work(ns["allowed"], "allowed", forbids=["metric libraries"], allows=["utils.metrics"], instead="x")
    checks.check_own_work(42, "not a function", forbids=["metric libraries"], instead="x")  # nothing to read


def test_form_only_cell_never_prints_pass(capsys):
    checks.reset_score()
    with checks.exercise("test_answer", points=1, form_only=True):
        pass
    out = capsys.readouterr().out
    assert "[FORM OK]" in out and "[PASS]" not in out
    assert checks.score(verbose=False) == (0, 0)  # the visible score does not count an unchecked answer
    checks.score()
    assert "[FORM OK] test_answer" in capsys.readouterr().out
    with pytest.raises(checks.CheckFailure):
        with checks.exercise("test_answer", points=1, form_only=True):
            checks.check_true(False, "not one of the options")
    assert "[FAIL] test_answer" in capsys.readouterr().out
    assert checks.score(verbose=False) == (0, 1)
    checks.reset_score()
