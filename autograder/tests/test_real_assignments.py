"""The hostile corpus on the course's own assignments (release/ as students get it, source/ solutions).

Generated from the real notebooks, so it follows them as they change: correct
answers get every point, the release stub none, and every hostile case gets
its status with the points nbgrader's rule gives.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.examples import build_class

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(
    os.environ,
    TF_CPP_MIN_LOG_LEVEL="3",
    TF_ENABLE_ONEDNN_OPTS="0",
    MPLBACKEND="Agg",
    PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
)
ASSIGNMENTS = ["01_hidden_state", "03_classification_metrics"]
CASES = [
    "correct",
    "stub",
    "invalid_json",
    "other_assignment",
    "deleted_test",
    "edited_test",
    "emptied_test",
    "points_changed",
    "os_exit",
    "writes_outside",
    "monkeypatch",
    "patch_at_call_time",
    "warnings",
]


def _tests_in_order(nb) -> list[tuple[str, float]]:
    return [
        (c.metadata["nbgrader"]["grade_id"], float(c.metadata["nbgrader"]["points"]))
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")
    ]


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_hostile_corpus_on_a_course_assignment(aid, tmp_path):
    source_nb = ROOT / "source" / aid / f"{aid}.ipynb"
    release_nb = ROOT / "release" / aid / f"{aid}.ipynb"
    assert source_nb.is_file() and release_nb.is_file(), f"{aid} must exist in source/ and release/"
    other = next(a for a in ASSIGNMENTS if a != aid)
    subs, out, escape = tmp_path / "subs", tmp_path / "out", tmp_path / "escaped.txt"
    build_class(
        source_nb,
        release_nb,
        subs,
        escape_path=escape,
        only=set(CASES),
        other_nb=ROOT / "release" / other / f"{other}.ipynb",
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            aid,
            str(subs),
            "--out",
            str(out),
            "--jobs",
            "2",
            "--cell-timeout",
            "30",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    tests = _tests_in_order(nbformat.read(release_nb, as_version=4))
    first, first_points = tests[0]
    max_points = sum(p for _, p in tests)
    with open(out / "grades.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(out / "totals.csv", newline="") as fh:
        totals = {
            r["student_id"]: (float(r["points"]), float(r["max_points"]), r["status"]) for r in csv.DictReader(fh)
        }
    cell = {(r["student_id"], r["grade_id"]): (float(r["points"]), r["status"], r["message"]) for r in rows}
    assert len(rows) == len(CASES) * len(tests)
    assert all(t[1] == max_points for t in totals.values())

    assert totals["correct"] == (max_points, max_points, "passed"), [cell[("correct", g)] for g, _ in tests]
    assert totals["warnings"] == (max_points, max_points, "passed")
    assert totals["os_exit"] == (max_points, max_points, "passed")
    assert totals["writes_outside"] == (max_points, max_points, "passed")
    assert not escape.exists()
    assert totals["stub"][0] == 0 and all(cell[("stub", g)][1] != "passed" for g, _ in tests)
    assert totals["invalid_json"] == (0, max_points, "invalid")
    assert totals["other_assignment"] == (0, max_points, "invalid")
    assert other in cell[("other_assignment", first)][2]
    assert totals["deleted_test"] == (max_points - first_points, max_points, "missing")
    assert cell[("deleted_test", first)][:2] == (0, "missing")
    assert cell[("edited_test", first)][:2] == (0, "tampered") and totals["edited_test"][0] == 0
    assert cell[("points_changed", first)][:2] == (0, "tampered") and totals["points_changed"][0] == 0
    assert cell[("emptied_test", first)][:2] == (first_points, "tampered")
    assert totals["emptied_test"] == (max_points, max_points, "tampered")
    assert totals["monkeypatch"][0] == 0
    assert cell[("patch_at_call_time", first)][0] == 0 and cell[("patch_at_call_time", first)][1] in ("failed", "error")
    assert totals["patch_at_call_time"][0] <= max_points - first_points


EVERY_ASSIGNMENT = sorted(p.parent.name for p in (ROOT / "source").glob("*/*.ipynb") if p.stem == p.parent.name)


@pytest.mark.slow
@pytest.mark.parametrize("aid", EVERY_ASSIGNMENT)
def test_every_assignment_grades_its_solution_full_and_its_stub_zero(aid, tmp_path):
    """The grader on each course assignment as it is: the source solutions (submitted as a
    student would, from the release) get every point, the release stub none."""
    source_nb = ROOT / "source" / aid / f"{aid}.ipynb"
    release_nb = ROOT / "release" / aid / f"{aid}.ipynb"
    subs, out = tmp_path / "subs", tmp_path / "out"
    build_class(source_nb, release_nb, subs, escape_path=tmp_path / "escaped.txt", only={"correct", "stub"})
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", aid, str(subs), "--out", str(out), "--jobs", "2"],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tests = _tests_in_order(nbformat.read(release_nb, as_version=4))
    max_points = sum(p for _, p in tests)
    with open(out / "grades.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(out / "totals.csv", newline="") as fh:
        totals = {
            r["student_id"]: (float(r["points"]), float(r["max_points"]), r["status"]) for r in csv.DictReader(fh)
        }
    failing = [
        (r["grade_id"], r["status"], r["message"][:300])
        for r in rows
        if r["student_id"] == "correct" and r["status"] != "passed"
    ]
    assert totals["correct"] == (max_points, max_points, "passed"), failing
    assert totals["stub"][0] == 0 and totals["stub"][1] == max_points
    assert all(r["status"] != "passed" for r in rows if r["student_id"] == "stub")


@pytest.mark.slow
def test_a_metric_call_on_millions_of_labels_inside_the_sandbox_keeps_full_marks(tmp_path):
    """From utils.metrics._JIT_MIN labels on, confusion_matrix loads numba's kernel; the sandbox must not break it.

    The grading sandbox refuses every file write outside the working folder,
    so numba cannot write its cache (NUMBA_CACHE_DIR points outside, too) and
    compiles in memory. The added cell checks that the compiled path ran and
    counted right, and breaks the student's rnn_step if not.
    """
    aid = "01_hidden_state"
    subs, out = tmp_path / "subs", tmp_path / "out"
    written = build_class(
        ROOT / "source" / aid / f"{aid}.ipynb",
        ROOT / "release" / aid / f"{aid}.ipynb",
        subs,
        escape_path=tmp_path / "escaped.txt",
        only={"correct"},
    )
    nb = nbformat.read(written["correct"], as_version=4)
    after = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "def rnn_step" in c.source)
    nb.cells.insert(
        after + 1,
        nbformat.v4.new_code_cell(
            "import sys\nimport numpy as np\nimport utils.metrics as M\nfrom utils import _kernels\n"
            "y = np.random.default_rng(0).integers(0, 10, M._JIT_MIN + 5)\n"
            "cm = M.confusion_matrix(y, y)\n"
            "if not ('numba' in sys.modules and _kernels.pair_counter() is not None and cm.trace() == y.size):\n"
            "    def rnn_step(*args, **kwargs):\n"
            "        return None\n"
        ),
    )
    nbformat.write(nb, written["correct"])
    env = dict(ENV, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            aid,
            str(subs),
            "--out",
            str(out),
            "--cell-timeout",
            "60",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out / "totals.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert (row["status"], row["points"]) == ("passed", row["max_points"]), row
    assert not (tmp_path / "numba-cache").exists(), "the sandbox let numba write outside the working folder"
