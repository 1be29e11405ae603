"""Trusted verdicts: the tests run outside the student's process (spec section 7), played against the real grader.

Each trickster below answers `square` wrongly (x + 1: honest grade 0 for test_square) and tries one
trick that earned marks while the test cells ran in the student's process: reading the expected
value from the test's frames, replacing or rewriting the checks, tracing the test, lying ndarrays,
forging the report, swapping the compiled tests. Its other answers are right (2 points). Every trick
must leave it with exactly the honest grade: test_square 0, the rest full.

Correct answers in other forms (numpy floats, lists, tuples, torch and tf tensors, a value of a
student-defined class with __array__) get full marks, and so does a student-defined class called
through the channel (topic 05's SpamRNN, in test_real_assignments.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.tests.test_grading import AID, ENV, FIXTURES, ROOT, _release, _with_answer, read_csv

LIMITS = ["--cell-timeout", "20", "--timeout", "90", "--memory-mb", "2048", "--jobs", "2"]
WRONG = "    return np.asarray(x, dtype=float) + 1\n"


def _trick(body: str) -> str:
    """A `square` that tries `body` first (anything it raises is swallowed), then answers wrongly."""
    indented = "".join(f"        {line}\n" for line in body.strip("\n").splitlines())
    return f"def square(x):\n    try:\n{indented}    except Exception:\n        pass\n{WRONG}"


TRICKS = {
    # reading the expected value from the test
    "frame_locals": _trick(
        "import sys\n"
        "f = sys._getframe(1)\n"
        "while f is not None:\n"
        "    for name in ('expected', 'want', 'b'):\n"
        "        if name in f.f_locals:\n"
        "            return f.f_locals[name]\n"
        "    f = f.f_back"
    ),
    "inspect_stack": _trick(
        "import inspect, numpy as np\n"
        "for info in inspect.stack():\n"
        "    for key, value in info.frame.f_locals.items():\n"
        "        if isinstance(value, (list, np.ndarray)) and key != 'x':\n"
        "            return value"
    ),
    "traceback_frame": _trick(
        "try:\n"
        "    raise RuntimeError\n"
        "except RuntimeError as e:\n"
        "    f = e.__traceback__.tb_frame\n"
        "while f is not None:\n"
        "    if 'check_close' in f.f_globals:\n"
        "        f.f_globals['check_close'] = lambda *a, **k: None\n"
        "    f = f.f_back"
    ),
    # replacing the checks
    "namespace_checks": _trick(
        "import sys\n"
        "for m in list(sys.modules.values()):\n"
        "    for name in ('check_close', 'check_equal', 'check_shape', '_close', '_fail'):\n"
        "        if hasattr(m, name):\n"
        "            try:\n"
        "                setattr(m, name, lambda *a, **k: None)\n"
        "            except Exception:\n"
        "                pass"
    ),
    "swap_code": _trick(
        "import utils.checks as c\n"
        "c.check_close.__code__ = (lambda *a, **k: None).__code__\n"
        "c._fail.__code__ = (lambda *a, **k: None).__code__"
    ),
    "settrace_rewrite": _trick(
        "import sys, ctypes\n"
        "def tracer(frame, event, arg):\n"
        "    if 'got' in frame.f_locals and 'expected' in frame.f_locals:\n"
        "        frame.f_locals['got'] = frame.f_locals['expected']\n"
        "        ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))\n"
        "    return tracer\n"
        "sys.settrace(tracer)\n"
        "sys.setprofile(lambda *a: None)"
    ),
    "exit_true": _trick(
        "import utils.checks as c, contextlib\n"
        "@contextlib.contextmanager\n"
        "def swallow(*a, **k):\n"
        "    try:\n"
        "        yield\n"
        "    except BaseException:\n"
        "        pass\n"
        "c.exercise = swallow"
    ),
    "edit_snapshots": _trick(
        "import sys\n"
        "f = sys._getframe()\n"
        "while f is not None:\n"
        "    for key in ('snap', 'saved', 'codes', 'plan_cells', 'cells'):\n"
        "        value = f.f_locals.get(key)\n"
        "        if isinstance(value, dict):\n"
        "            value.clear()\n"
        "        elif isinstance(value, list):\n"
        "            value[:] = []\n"
        "    f = f.f_back"
    ),
    "captured_utils": _trick(
        "import sys\n"
        "for finder in sys.meta_path:\n"
        "    code = getattr(finder, 'code', None)\n"
        "    if isinstance(code, dict) and 'utils.checks' in code:\n"
        "        path, pkg, _ = code['utils.checks']\n"
        "        code['utils.checks'] = (path, pkg, compile('def check_close(*a, **k): pass\\n'\n"
        "                                              'def exercise(*a, **k):\\n'\n"
        "                                              '    import contextlib\\n'\n"
        "                                              '    return contextlib.nullcontext()', path, 'exec'))\n"
        "for name in [m for m in sys.modules if m.startswith('utils')]:\n"
        "    del sys.modules[name]"
    ),
    "numpy_builtins": _trick(
        "import numpy, numpy.core.numeric as n\n"
        "numpy.allclose = numpy.isclose = lambda *a, **k: True\n"
        "n.__builtins__['abs'] = lambda v: 0\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None"
    ),
    # lying values
    "lying_ndarray": (
        "class Liar(np.ndarray):\n"
        "    def __eq__(self, other):\n"
        "        return np.ones(np.shape(other), bool)\n"
        "    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):\n"
        "        return np.zeros(np.broadcast(*[np.asarray(i) for i in inputs]).shape)\n"
        "    def __array_function__(self, func, types, args, kwargs):\n"
        "        return True\n"
        "def square(x):\n"
        "    return (np.asarray(x, dtype=float) + 1).view(Liar)\n"
    ),
    "lying_object": (
        "class Anything(float):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    def __array__(self, dtype=None, copy=None):\n"
        "        return np.asarray(-1.0)\n"
        "def square(x):\n"
        "    return [Anything(v + 1) for v in np.ravel(x)]\n"
    ),
    "claims_ndarray": (  # its class names itself numpy.ndarray, so the handle's __class__ resolves to ndarray
        "class Fake:\n"
        "    def __array__(self, dtype=None, copy=None):\n"
        "        return np.asarray([1.0, 4.0, 9.0])\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    def __len__(self):\n"
        "        return 3\n"
        "Fake.__module__, Fake.__qualname__, Fake.__name__ = 'numpy', 'ndarray', 'ndarray'\n"
        "def square(x):\n"
        "    return Fake()\n"
    ),
    # forging the report
    "json_dumps_code": _trick(
        "import json\n"
        "def forged(obj, *a, **k):\n"
        "    if isinstance(obj, dict) and 'status' in obj:\n"
        "        obj['status'] = 'passed'\n"
        '    return \'{"status": "passed"}\'\n'
        "json.dumps.__code__ = forged.__code__"
    ),
    "signed_send": _trick(
        "import sys, os\n"
        "f = sys._getframe()\n"
        "while f is not None:\n"
        "    send = f.f_locals.get('send') or f.f_globals.get('send')\n"
        "    if callable(send):\n"
        "        for i in range(40):\n"
        "            send({'t': 'end', 'i': i, 'r': {'status': 'passed', 'message': ''}})\n"
        "    f = f.f_back\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        '        os.write(fd, b\'\\n{"t": "end", "i": 3, "r": {"status": "passed"}}\\n\')\n'
        "    except OSError:\n"
        "        pass"
    ),
    "swap_compiled_tests": _trick(
        "import sys\n"
        "f = sys._getframe()\n"
        "while f is not None:\n"
        "    for key in ('codes', 'cells', 'plan_cells'):\n"
        "        value = f.f_locals.get(key)\n"
        "        if isinstance(value, (list, dict)):\n"
        "            for k in (range(len(value)) if isinstance(value, list) else list(value)):\n"
        "                value[k] = compile('pass', 'x', 'exec')\n"
        "    f = f.f_back"
    ),
    "forge_channel_reply": _trick(
        "import os, struct, json\n"
        "body = json.dumps({'value': [1.0, 4.0, 9.0], 'bufs': []}).encode()\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        os.write(fd, struct.pack('!QQ', len(body), 0) + body)\n"
        "    except OSError:\n"
        "        pass"
    ),
    "malformed_reply": _trick(
        "import os, struct\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        os.write(fd, struct.pack('!QQ', 2**40, 2**40) + b'{')\n"
        "    except OSError:\n"
        "        pass"
    ),
    "deep_value": ("def square(x):\n    v = []\n    for _ in range(100000):\n        v = [v]\n    return v\n"),
    "lying_exception": (
        "class Fine(AssertionError):\n    def __str__(self):\n        return ''\ndef square(x):\n    raise Fine()\n"
    ),
}

# correct answers in other forms: each must keep every point
FORMS = {
    "numpy_floats": "def square(x):\n    return [np.float32(v) ** 2 for v in np.ravel(x)]\n",
    "a_tuple": "def square(x):\n    return tuple(float(v) ** 2 for v in np.ravel(x))\n",
    "a_torch_tensor": "import torch\ndef square(x):\n    return torch.tensor(np.asarray(x, dtype=float)) ** 2\n",
    "a_tf_tensor": (
        "import tensorflow as tf\ndef square(x):\n    return tf.square(tf.constant(np.asarray(x, dtype='float32')))\n"
    ),
    "own_class": (
        "class Squares:\n    def __init__(self, v):\n        self.v = v\n"
        "    def __array__(self, dtype=None, copy=None):\n        return np.asarray(self.v, dtype=dtype)\n"
        "def square(x):\n    return Squares(np.asarray(x, dtype=float) ** 2)\n"
    ),
}


@pytest.fixture(scope="module")
def tricked(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trusted")
    release_nb = _release(tmp)
    source_nb = FIXTURES / "source" / AID / f"{AID}.ipynb"
    subs, out = tmp / "subs", tmp / "out"
    for name, code in {**TRICKS, **FORMS}.items():
        _with_answer(release_nb, source_nb, subs / name / f"{AID}.ipynb", "square", code)
    _with_answer(release_nb, source_nb, subs / "honest_wrong" / f"{AID}.ipynb", "square", "def square(x):\n" + WRONG)
    cmd = [
        sys.executable,
        "-m",
        "autograder",
        "grade",
        AID,
        str(subs),
        "--out",
        str(out),
        "--course-root",
        str(FIXTURES),
        *LIMITS,
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    return {"proc": proc, "out": out}


def _grades(out: Path) -> dict:
    by = {}
    for r in read_csv(out / "grades.csv"):
        by.setdefault(r["student_id"], {})[r["grade_id"]] = (float(r["points"]), r["status"], r["message"])
    return by


def test_the_batch_completes(tricked):
    assert tricked["proc"].returncode == 0, tricked["proc"].stdout + tricked["proc"].stderr


def test_every_trick_gets_the_honest_grade(tricked):
    by = _grades(tricked["out"])
    honest = by["honest_wrong"]
    assert honest["test_square"][:2] == (0.0, "failed") and honest["test_mean_of"][0] == 1.0
    wrong = {}
    for name in TRICKS:
        got = by[name]
        if (
            got["test_square"][0] != 0.0
            or got["test_square"][1] == "passed"
            or got["test_mean_of"][:2] != (1.0, "passed")
            or got["test_answer_demo"][:2] != (1.0, "passed")
        ):
            wrong[name] = got
    assert not wrong, wrong
    totals = {r["student_id"]: float(r["points"]) for r in read_csv(tricked["out"] / "totals.csv")}
    assert all(totals[name] == 2.0 for name in TRICKS), {n: totals[n] for n in TRICKS}


def test_correct_answers_in_every_form_keep_full_marks(tricked):
    by = _grades(tricked["out"])
    for name in FORMS:
        assert all(p == m for (p, _, _), m in zip(by[name].values(), (2.0, 1.0, 1.0))), (name, by[name])


def test_the_verdict_and_its_messages_come_from_the_trusted_side(tricked):
    by = _grades(tricked["out"])
    # the checks that judged the frame reader ran in the trusted process: its wrong value, honestly explained
    assert "square([1, 2, 3])" in by["frame_locals"]["test_square"][2]
    # a value nested deeper than the channel carries, or a reply that breaks the protocol, is that
    # student's error, in words
    assert by["deep_value"]["test_square"][:2] != (2.0, "passed")
    state = json.loads((tricked["out"] / ".state" / "malformed_reply.json").read_text())
    assert state["points"] == 2.0


# ----------------------------------------------------------------------------
# "write it yourself" at grading time, on a real assignment (topic 03's accuracy forbids metric libraries)
# ----------------------------------------------------------------------------

HIDDEN_DELEGATION = (  # no import or attribute chain the static check could read: the call happens by name
    "def accuracy(cm):\n"
    "    cm = np.asarray(cm)\n"
    "    k = cm.shape[0]\n"
    "    rows, cols = np.divmod(np.arange(cm.size), k)\n"
    "    helper = getattr(__import__('utils.' + 'metrics', fromlist=['x']), 'accuracy' + '_score')\n"
    "    return float(helper(np.repeat(rows, cm.ravel()), np.repeat(cols, cm.ravel())))\n"
)


@pytest.mark.slow
def test_a_hidden_call_to_a_forbidden_helper_is_caught_and_flagged(tmp_path):
    from autograder.examples import build_class

    aid = "03_classification_metrics"
    source_nb, release_nb = ROOT / "source" / aid / f"{aid}.ipynb", ROOT / "release" / aid / f"{aid}.ipynb"
    subs, out = tmp_path / "subs", tmp_path / "out"
    written = build_class(source_nb, release_nb, subs, escape_path=tmp_path / "escaped.txt", only={"correct"})
    nb = nbformat.read(written["correct"], as_version=4)
    (subs / "hides_a_helper").mkdir()
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "accuracy":
            cell.source = HIDDEN_DELEGATION
    nbformat.write(nb, subs / "hides_a_helper" / written["correct"].name)
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", aid, str(subs), "--out", str(out)],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    by = _grades(out)
    points, status, message = by["hides_a_helper"]["test_accuracy"]
    assert (points, status) == (0.0, "failed"), message
    assert "utils.metrics" in message and "accuracy_score" in message and "write instead" in message
    assert all(s == "passed" for (_, s, _) in by["correct"].values()), by["correct"]
    totals = {r["student_id"]: r for r in read_csv(out / "totals.csv")}
    assert totals["correct"]["review"] == ""
    assert "__import__" in totals["hides_a_helper"]["review"] and "accuracy" in totals["hides_a_helper"]["review"]
    assert "hides_a_helper" in (out / "report.html").read_text(encoding="utf-8").split("To read by hand")[1]
