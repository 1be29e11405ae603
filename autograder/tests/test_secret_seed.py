"""Hidden cases drawn from a seed only the grader knows (`grade --secret-seed-file`).

The metric exercises of 03, 04 and 07 and the shape function of 02 (PyTorch) draw some hidden cases with
`utils.checks.hidden_seed(default)`: fixed without a secret (a notebook, a plain graded run), other cases
under each secret. Shown here: where the drawing sits (hidden blocks, under hidden_case), that the drawn
cases change with the secret and stay put without one, that the solutions pass under many secrets, and,
with the real grader, that a submission which memorised the hidden answers of one run loses points in a
run with another secret while correct answers keep full marks.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

import utils.checks as checks
from autograder.examples import build_class
from autograder.tests.test_grading import ENV

ROOT = Path(__file__).resolve().parents[2]
DRAWING = [
    "02_rnn_shapes_pytorch",
    "02_rnn_shapes_tensorflow",
    "03_classification_metrics",
    "04_sequence_metrics",
    "07_metric_pitfalls",
]
SECRETS = ("a secret only the grader keeps", "another term, another secret")


def _source(aid):
    return nbformat.read(ROOT / "source" / aid / f"{aid}.ipynb", as_version=4)


def _meta(cell):
    return cell.metadata.get("nbgrader", {})


def _drawing_tests(nb):
    return [c for c in nb.cells if _meta(c).get("grade") and "hidden_seed(" in c.source]


def _hidden_lines(source):
    inside, found = False, []
    for line in source.splitlines():
        if line.strip() == "### BEGIN HIDDEN TESTS":
            inside = True
        elif line.strip() == "### END HIDDEN TESTS":
            inside = False
        elif inside:
            found.append(line)
    return found


#: The seeds _secret has drawn, by secret text: each secret file is read once per session.
_SECRET_SEEDS: dict = {}


def _secret(text):
    """The seed the grader draws from a secret file holding `text` (None: no file)."""
    if text is None:
        return None
    if text not in _SECRET_SEEDS:
        import tempfile

        from autograder.state import read_secret_seed

        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "secret.txt").write_text(text)
            _SECRET_SEEDS[text] = read_secret_seed(Path(tmp) / "secret.txt")
    return _SECRET_SEEDS[text]


@contextlib.contextmanager
def _grader_secret(seed):
    """What the grader's trusted process does with --secret-seed-file (None: no file)."""
    checks.use_grader(None, seed)
    try:
        yield
    finally:
        checks.use_grader(None, None)


def _solution_namespace(nb) -> dict:
    """The notebook's code cells except the tests and the setup cell, run: the solutions are defined."""
    ns: dict = {}
    for cell in nb.cells:
        if (
            cell.cell_type == "code"
            and not _meta(cell).get("grade")
            and "colab-setup" not in cell.metadata.get("tags", [])
        ):
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(cell.source, "<solution>", "exec"), ns)
    return ns


def _run_test(cell, ns):
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(cell.source, f"<{_meta(cell)['grade_id']}>", "exec"), dict(ns))


@pytest.mark.parametrize("aid", DRAWING)
def test_drawn_cases_sit_in_hidden_blocks_under_hidden_case(aid):
    tests = _drawing_tests(_source(aid))
    assert tests, f"{aid} draws no hidden case from hidden_seed"
    for cell in tests:
        drawing = [line for line in cell.source.splitlines() if "hidden_seed(" in line and "import" not in line]
        hidden = _hidden_lines(cell.source)
        assert drawing and all(line in hidden for line in drawing), _meta(cell)["grade_id"]
        assert any("hidden_case(" in line for line in cell.source.splitlines()), _meta(cell)["grade_id"]
    release = (ROOT / "release" / aid / f"{aid}.ipynb").read_text(encoding="utf-8")
    assert "hidden_seed" not in release  # the student version shows no drawing


def _spy(real, calls):
    """`real` (a confusion_matrix of three arguments) that first appends (y_true as a list, K) to `calls`."""
    return lambda t, p, k: calls.append((np.asarray(t).tolist(), k)) or real(t, p, k)


def test_the_drawn_values_follow_the_secret_and_stay_fixed_without_one():
    nb = _source("03_classification_metrics")
    ns = _solution_namespace(nb)
    cell = next(c for c in nb.cells if _meta(c).get("grade_id") == "test_confusion_matrix")
    seen = {}
    for secret in (None, None, *SECRETS):
        calls: list = []
        spy = dict(ns, confusion_matrix=_spy(ns["confusion_matrix"], calls))
        with _grader_secret(_secret(secret)):
            _run_test(cell, spy)
        seen.setdefault(secret, []).append(repr(calls))
    assert seen[None][0] == seen[None][1]  # no secret: reproducible
    assert len({seen[None][0], seen[SECRETS[0]][0], seen[SECRETS[1]][0]}) == 3  # each secret draws other cases


@pytest.mark.parametrize("aid", DRAWING)
def test_solutions_pass_the_drawn_cases_under_many_secrets(aid):
    nb = _source(aid)
    ns = _solution_namespace(nb)
    for seed in [None, *range(25)]:
        with _grader_secret(seed):
            for cell in _drawing_tests(nb):
                _run_test(cell, ns)


# --------------------------------------------------------------------------------------------------------------
# the real grader: a submission that memorised one run's hidden answers
# --------------------------------------------------------------------------------------------------------------

AID = "03_classification_metrics"

MEMORISED = '''
import hashlib
import numpy as np

def _key(args, kwargs):
    plain = [np.asarray(a).tolist() for a in args] + sorted((k, np.asarray(v).tolist()) for k, v in kwargs.items())
    return hashlib.sha256(repr(plain).encode()).hexdigest()

_ANSWERS_{name} = {table!r}

def {name}(*args, **kwargs):
    """Every answer this function gave in one graded run, looked up, not computed."""
    kind, value = _ANSWERS_{name}.get(_key(args, kwargs), ("missing", None))
    if kind == "raise":
        raise ValueError("as the solution did")
    if kind == "missing":
        raise NotImplementedError("a case that was not in the run this answer was copied from")
    return np.asarray(value) if kind == "array" else value
'''


def _key(args, kwargs):
    plain = [np.asarray(a).tolist() for a in args] + sorted((k, np.asarray(v).tolist()) for k, v in kwargs.items())
    return hashlib.sha256(repr(plain).encode()).hexdigest()


def _memorise(source, seed) -> dict:
    """Run every test cell of `source` on the solution under `seed`; {function: {call: answer}}."""
    ns = _solution_namespace(source)
    names = [
        c.metadata["nbgrader"]["grade_id"]
        for c in source.cells
        if _meta(c).get("solution") and c.source.lstrip().startswith("def ")
    ]
    tables = {name: {} for name in names}

    def recorder(name, real):
        def spy(*args, **kwargs):
            try:
                value = real(*args, **kwargs)
            except ValueError:
                tables[name][_key(args, kwargs)] = ("raise", None)
                raise
            kind = "array" if isinstance(value, np.ndarray) else "value"
            tables[name][_key(args, kwargs)] = (kind, value.tolist() if kind == "array" else value)
            return value

        return spy

    spied = dict(ns, **{name: recorder(name, ns[name]) for name in names})
    with _grader_secret(seed):
        for cell in source.cells:
            if _meta(cell).get("grade"):
                with contextlib.suppress(Exception):
                    _run_test(cell, spied)
    return tables


def _memorising_submission(release, tables, source) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    answers = {_meta(c)["grade_id"]: c.source for c in source.cells if _meta(c).get("solution")}
    for cell in nb.cells:
        gid = _meta(cell).get("grade_id")
        if gid in tables:
            cell.source = MEMORISED.format(name=gid, table=tables[gid])
        elif gid in answers:  # the multiple-choice answers: as the solution
            cell.source = answers[gid]
    return nb


def _grade(subs, out, secret_file):
    command = [
        sys.executable,
        "-m",
        "autograder",
        "grade",
        AID,
        str(subs),
        "--out",
        str(out),
        "--jobs",
        "2",
        "--cell-timeout",
        "30",
        "--timeout",
        "120",
    ]
    if secret_file is not None:
        command += ["--secret-seed-file", str(secret_file)]
    proc = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out / "totals.csv", newline="") as fh:
        totals = {r["student_id"]: (float(r["points"]), float(r["max_points"])) for r in csv.DictReader(fh)}
    with open(out / "grades.csv", newline="") as fh:
        failed = {(r["student_id"], r["grade_id"]) for r in csv.DictReader(fh) if r["status"] != "passed"}
    return totals, failed


@pytest.mark.slow
def test_two_secrets_draw_other_cases_and_memorised_answers_lose_points(tmp_path):
    source = _source(AID)
    release_path = ROOT / "release" / AID / f"{AID}.ipynb"
    release = nbformat.read(release_path, as_version=4)
    subs = tmp_path / "subs"
    build_class(
        ROOT / "source" / AID / f"{AID}.ipynb", release_path, subs, escape_path=tmp_path / "escaped", only={"correct"}
    )
    secret_files = []
    for i, text in enumerate(SECRETS):
        secret_files.append(tmp_path / f"secret-{i}.txt")
        secret_files[-1].write_text(text + "\n")
    from autograder.assignment import source_fingerprint
    from autograder.state import read_secret_seed, submission_key, submission_seed

    # one student copied the answers of a run without a secret; another the cases its own earlier (correct)
    # submission was given under the first secret, as a perfect leak would tell it
    earlier = submission_key(
        subs / "correct" / f"{AID}.ipynb", source_fingerprint(ROOT / "source" / AID / f"{AID}.ipynb")
    )
    leaked_seed = submission_seed(read_secret_seed(secret_files[0]), "copied_first_secret", earlier)
    for student, seed in (("copied_default", None), ("copied_first_secret", leaked_seed)):
        tables = _memorise(source, seed)
        assert all(tables.values()), "every function was called by the tests"
        (subs / student).mkdir()
        nbformat.write(_memorising_submission(release, tables, source), subs / student / f"{AID}.ipynb")

    first, failed_first = _grade(subs, tmp_path / "out-first", secret_files[0])
    second, failed_second = _grade(subs, tmp_path / "out-second", secret_files[1])
    full = first["correct"][1]
    assert first["correct"] == second["correct"] == (full, full)  # correct answers: full marks under both
    # the cases of its earlier submission fit no later one (the cases depend on the content), under either secret
    assert first["copied_first_secret"][0] < full and second["copied_first_secret"][0] < full
    # the answers copied from a run without a secret fit neither
    assert first["copied_default"][0] < full and second["copied_default"][0] < full
    lost = {gid for student, gid in failed_second if student == "copied_first_secret"}
    drawing = {_meta(c)["grade_id"] for c in _drawing_tests(source)}
    assert lost and lost <= drawing, lost  # only the tests that draw cases tell the copy apart
