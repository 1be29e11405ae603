"""The autograder against a hostile-submission corpus, with the real nbgrader underneath.

One class (autograder.examples: every case of spec section 7, plus two wrong
answers written here) is graded once per module through the command line;
the tests then check the exact points and status of every test cell, the
files written, the feedback's secrecy, that --jobs does not change results,
and that a batch killed with SIGKILL resumes without losing or double-counting.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.examples import EXPECTED, build_class

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
AID = "ag_fixture"
ENV = dict(
    os.environ,
    TF_CPP_MIN_LOG_LEVEL="3",
    TF_ENABLE_ONEDNN_OPTS="0",
    MPLBACKEND="Agg",
    PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
)
LIMITS = ["--cell-timeout", "8", "--timeout", "60", "--memory-mb", "1024"]

S, M, A = "test_square", "test_mean_of", "test_answer_demo"  # worth 2, 1 and 1 points
OK = {S: (2, "passed"), M: (1, "passed"), A: (1, "passed")}
INVALID = {S: (0, "invalid"), M: (0, "invalid"), A: (0, "invalid")}
STUB = {S: (0, "error"), M: (0, "error"), A: (0, "error")}

# student -> (total points, total status, {test: (points, status)})
EXPECTED_GRADES = {
    "correct": (4, "passed", OK),
    "stub": (0, "error", STUB),
    "partly_wrong": (3, "error", {**OK, A: (0, "error")}),
    "warnings": (4, "passed", OK),
    "invalid_json": (0, "invalid", INVALID),
    "empty": (0, "invalid", INVALID),
    "other_assignment": (0, "invalid", INVALID),
    "deleted_test": (2, "missing", {**OK, S: (0, "missing")}),
    "duplicated": (4, "passed", OK),
    "split": (4, "passed", OK),
    "reordered": (4, "passed", OK),
    "edited_test": (0, "tampered", {**STUB, S: (0, "tampered")}),
    "emptied_test": (4, "tampered", {**OK, S: (2, "tampered")}),
    "points_changed": (0, "tampered", {**STUB, S: (0, "tampered")}),
    "grade_flag_removed": (0, "tampered", {**STUB, S: (0, "tampered")}),
    "solution_to_test": (4, "tampered", OK),
    "infinite_loop": (2, "timeout", {**OK, S: (0, "timeout")}),
    "sys_exit": (3, "error", {**OK, M: (0, "error")}),
    "os_exit": (4, "passed", OK),
    "killed_kernel": (3, "error", {**OK, M: (0, "error")}),
    "flood": (4, "passed", OK),
    "memory_bomb": (4, "passed", OK),
    "writes_outside": (4, "passed", OK),
    "monkeypatch": (0, "error", STUB),
    "patch_at_call_time": (2, "failed", {**OK, S: (0, "failed")}),  # its patches stay in its own process
    "reads_classmates": (0, "error", STUB),
    "fork_flood": (4, "passed", OK),
    "forged_report": (0, "error", STUB),
    "fill_disk": (4, "passed", OK),
    # written below: a wrong answer the visible check explains, and one that only a hidden check catches
    "doubled": (2, "failed", {**OK, S: (0, "failed")}),
    "hardcoded": (2, "failed", {**OK, S: (0, "failed")}),
}


def run_grade(subs: Path, out: Path, *extra: str, check=True) -> subprocess.CompletedProcess:
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
        *extra,
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _release(tmp: Path) -> Path:
    from autograder.assignment import prepare

    work = tmp / "release-build"
    work.mkdir()
    prepare(AID, work, FIXTURES)
    return work / "course" / "release" / AID / f"{AID}.ipynb"


def _with_answer(release_nb: Path, source_nb: Path, dest: Path, gid: str, code: str) -> None:
    nb = nbformat.read(source_nb, as_version=4)
    rel = nbformat.read(release_nb, as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")
    }
    answers[gid] = code
    for cell in rel.cells:
        g = cell.metadata.get("nbgrader", {}).get("grade_id")
        if g in answers:
            cell.source = answers[g]
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(rel, dest)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grading")
    release_nb = _release(tmp)
    source_nb = FIXTURES / "source" / AID / f"{AID}.ipynb"
    subs = tmp / "submissions"
    escape = tmp / "escaped.txt"
    build_class(source_nb, release_nb, subs, escape_path=escape)
    _with_answer(
        release_nb,
        source_nb,
        subs / "doubled" / f"{AID}.ipynb",
        "square",
        "def square(x):\n    return [2.0 * v for v in x]",
    )
    _with_answer(
        release_nb,
        source_nb,
        subs / "hardcoded" / f"{AID}.ipynb",
        "square",
        "def square(x):\n    return [1.0, 4.0, 9.0]",
    )
    out = tmp / "out"
    start = time.monotonic()
    proc = run_grade(subs, out, "--jobs", "2")
    return {
        "tmp": tmp,
        "subs": subs,
        "out": out,
        "escape": escape,
        "proc": proc,
        "release": release_nb,
        "source": source_nb,
        "seconds": time.monotonic() - start,
    }


def test_every_case_gets_its_exact_points_and_status(graded):
    rows = read_csv(graded["out"] / "grades.csv")
    got = {}
    for r in rows:
        got.setdefault(r["student_id"], {})[r["grade_id"]] = (float(r["points"]), r["status"])
    totals = {
        r["student_id"]: (float(r["points"]), float(r["max_points"]), r["status"])
        for r in read_csv(graded["out"] / "totals.csv")
    }
    assert set(got) == set(EXPECTED_GRADES) == set(totals)
    assert set(EXPECTED) <= set(EXPECTED_GRADES)
    mismatches = []
    for student, (points, status, cells) in EXPECTED_GRADES.items():
        want_cells = {g: (float(p), s) for g, (p, s) in cells.items()}
        if got[student] != want_cells or totals[student] != (float(points), 4.0, status):
            mismatches.append((student, got[student], totals[student]))
    assert not mismatches, "\n".join(map(str, mismatches))


def test_grades_csv_has_one_row_per_student_and_test_cell(graded):
    with open(graded["out"] / "grades.csv", newline="") as fh:
        header = next(csv.reader(fh))
    assert header == [
        "student_id",
        "assignment",
        "notebook",
        "grade_id",
        "points",
        "max_points",
        "status",
        "message",
        "review",
    ]
    rows = read_csv(graded["out"] / "grades.csv")
    assert len(rows) == 3 * len(EXPECTED_GRADES)
    assert {(r["student_id"], r["grade_id"]) for r in rows} == {(s, g) for s in EXPECTED_GRADES for g in (S, M, A)}
    with open(graded["out"] / "totals.csv", newline="") as fh:
        assert next(csv.reader(fh)) == ["student_id", "assignment", "points", "max_points", "status", "review"]


def test_messages_say_what_happened(graded):
    rows = {(r["student_id"], r["grade_id"]): r["message"] for r in read_csv(graded["out"] / "grades.csv")}
    state = {p.stem: json.loads(p.read_text()) for p in (graded["out"] / ".state").glob("*.json")}
    notes = {s: " ".join(d["notes"]) for s, d in state.items()}
    assert "invalid JSON" in rows[("invalid_json", S)] or "not valid JSON" in rows[("invalid_json", S)]
    assert "empty" in rows[("empty", S)]
    assert "none of the cells" in rows[("other_assignment", S)]
    assert "deleted" in rows[("deleted_test", S)]
    assert "edited" in rows[("edited_test", S)] and "original test" in rows[("edited_test", S)]
    assert "emptied" in rows[("emptied_test", S)]
    assert "points 2" in rows[("points_changed", S)]
    assert "grade True -> False" in rows[("grade_flag_removed", S)]
    assert "square" in notes["solution_to_test"] and "restored" in notes["solution_to_test"]
    assert "time limit" in rows[("infinite_loop", S)] and "stopped" in notes["infinite_loop"]
    assert "SystemExit" in rows[("sys_exit", M)]
    assert "died" in rows[("killed_kernel", M)] and "SIGKILL" in rows[("killed_kernel", M)]
    assert "died" in notes["os_exit"]
    assert "only the first" in notes["flood"]
    assert any(word in notes["memory_bomb"] for word in ("MemoryError", "stopped", "memory limit"))
    # the escape target lies under /tmp, which inside the jail is the submission's own empty scratch
    # folder: the OS answers that the path is not there, for the write and the rename into it (the
    # audit hook's refusal is for the rest)
    assert "No such file or directory" in notes["writes_outside"] or "writing" in notes["writes_outside"]
    for refused in (
        "os.remove",
        "starting programs",
        "shell commands",
        "network connections",
        "signalling other processes",
    ):
        assert refused in notes["writes_outside"], refused
    # the checks that judged it ran in the trusted process, which its patches never reached: they saw 'wrong'
    assert "square([1, 2, 3])" in rows[("patch_at_call_time", S)] and "wrong" in rows[("patch_at_call_time", S)]
    assert "appears 2 times" in notes["duplicated"]
    assert "out of order" in notes["reordered"]
    assert "doubled instead of squaring" in rows[("doubled", S)]


def test_hostile_code_changed_nothing_outside(graded):
    assert not graded["escape"].exists(), "a submission wrote outside its working directory"
    assert Path("/etc/hostname").exists() or not Path("/etc").exists()
    assert not list((graded["out"] / ".work").glob("runs/*")), "per-student working directories were left behind"


def test_feedback_shows_visible_messages_and_hides_hidden_tests(graded):
    fb = graded["out"] / "feedback"
    assert sorted(p.name for p in fb.iterdir()) == sorted(EXPECTED_GRADES)
    doubled = (fb / "doubled" / f"{AID}.html").read_text()
    assert "doubled instead of squaring" in doubled and "test_square" in doubled
    hardcoded = (fb / "hardcoded" / f"{AID}.html").read_text()
    assert "hidden check failed" in hardcoded
    hidden_code = ["-7.5", "56.25", "0.2916", "0.125", "HIDDEN", "square([-7"]
    for path in fb.glob(f"*/{AID}.html"):
        text = path.read_text()
        for secret in hidden_code:
            assert secret not in text, f"{path} shows hidden test content {secret!r}"
    # the instructor's grades.csv does keep the full message
    rows = {(r["student_id"], r["grade_id"]): r["message"] for r in read_csv(graded["out"] / "grades.csv")}
    assert "square([-7.5])" in rows[("hardcoded", S)]


def test_class_report_and_gradebook(graded):
    report = (graded["out"] / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 2
    assert "grade distribution" in report and "pass rate per test" in report
    from nbgrader.api import Gradebook

    totals = {r["student_id"]: float(r["points"]) for r in read_csv(graded["out"] / "totals.csv")}
    with Gradebook(f"sqlite:///{graded['out'] / 'gradebook.db'}") as gb:
        for student, points in totals.items():
            sub = gb.find_submission(AID, student)
            assert sub.score == pytest.approx(points), student
            assert sub.max_score == pytest.approx(4.0)


def test_progress_bar_and_totals_table(graded):
    assert "grading ag_fixture" in graded["proc"].stderr and "100%" in graded["proc"].stderr
    assert "correct" in graded["proc"].stdout and "patch_at_call_time" in graded["proc"].stdout


SUBSET = [
    "correct",
    "stub",
    "partly_wrong",
    "os_exit",
    "killed_kernel",
    "patch_at_call_time",
    "deleted_test",
    "edited_test",
    "doubled",
]


def test_jobs_1_and_jobs_2_agree(graded, tmp_path):
    subs = tmp_path / "subs"
    for student in SUBSET:
        (subs / student).mkdir(parents=True)
        (subs / student / f"{AID}.ipynb").write_bytes((graded["subs"] / student / f"{AID}.ipynb").read_bytes())
    run_grade(subs, tmp_path / "out", "--jobs", "1")
    serial = read_csv(tmp_path / "out" / "grades.csv")
    parallel = [r for r in read_csv(graded["out"] / "grades.csv") if r["student_id"] in SUBSET]
    assert serial == parallel


def test_a_batch_killed_half_way_resumes_and_counts_nothing_twice(graded, tmp_path):
    subs = tmp_path / "subs"
    students = ["correct", "stub", "deleted_test", "os_exit", "doubled"]
    for student in students:
        nb = nbformat.read(graded["subs"] / student / f"{AID}.ipynb", as_version=4)
        nb.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(1.2)"))
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, subs / student / f"{AID}.ipynb")
    out = tmp_path / "out"
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
        "--jobs",
        "1",
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    state = out / ".state"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list(state.glob("*.json"))) < 2:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in state.glob("*.json")}
    assert 2 <= len(before) < len(students), "the kill came too late to test resuming"
    time.sleep(0.5)
    # forked children carry the parent's command line (with this test's unique OUT_DIR)
    alive = subprocess.run(["pgrep", "-f", str(out)], capture_output=True, text=True).stdout.split()
    assert not alive, f"children of the killed batch are still running: {alive}"

    run_grade(subs, out, "--jobs", "1")
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in state.glob("*.json")}
    for name, value in before.items():
        assert after[name] == value, f"{name} was graded again after the restart"
    totals = read_csv(out / "totals.csv")
    assert sorted(r["student_id"] for r in totals) == sorted(students)  # each exactly once
    resumed = [
        (r["student_id"], r["grade_id"], r["points"], r["status"], r["message"]) for r in read_csv(out / "grades.csv")
    ]
    uninterrupted = [
        (r["student_id"], r["grade_id"], r["points"], r["status"], r["message"])
        for r in read_csv(graded["out"] / "grades.csv")
        if r["student_id"] in students
    ]
    assert resumed == uninterrupted


def test_demo_grades_the_example_class(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "demo", "--course-root", str(FIXTURES), "--out", str(out), "--jobs", "2"],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for student, description in EXPECTED.items():
        assert any(line.startswith(student + " ") and description in line for line in proc.stdout.splitlines()), student
    totals = {r["student_id"]: r for r in read_csv(out / AID / "graded" / "totals.csv")}
    assert set(totals) == set(EXPECTED)
    for student, (points, status, _) in EXPECTED_GRADES.items():
        if student in totals:
            assert (float(totals[student]["points"]), totals[student]["status"]) == (points, status), student


def test_submission_layouts_are_all_found(tmp_path):
    from autograder.submissions import find_submissions

    (tmp_path / "a" / "alice").mkdir(parents=True)
    (tmp_path / "a" / "alice" / f"{AID}.ipynb").write_text("{}")
    (tmp_path / "a" / "bob.ipynb").write_text("{}")
    (tmp_path / "a" / "carol").mkdir()  # a student folder without this assignment's notebook
    (tmp_path / "a" / "bad name!.ipynb").write_text("{}")
    found, warnings = find_submissions(tmp_path / "a", AID)
    assert found == {
        "alice": tmp_path / "a" / "alice" / f"{AID}.ipynb",
        "bob": tmp_path / "a" / "bob.ipynb",
        "carol": None,
    }
    assert any("bad name!" in w for w in warnings)
    nb = tmp_path / "b" / "submitted" / "dave" / AID / f"{AID}.ipynb"
    nb.parent.mkdir(parents=True)
    nb.write_text("{}")
    assert find_submissions(tmp_path / "b", AID)[0] == {"dave": nb}
    assert find_submissions(tmp_path / "b" / "submitted", AID)[0] == {"dave": nb}


def test_unknown_assignment_is_a_clear_error(tmp_path):
    (tmp_path / "subs").mkdir()
    proc = run_grade(tmp_path / "subs", tmp_path / "out", check=False)
    assert proc.returncode == 0  # the fixture exists: an empty class is fine
    cmd = [
        sys.executable,
        "-m",
        "autograder",
        "grade",
        "no_such_assignment",
        str(tmp_path / "subs"),
        "--out",
        str(tmp_path / "out2"),
        "--course-root",
        str(FIXTURES),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "no_such_assignment" in proc.stderr and "ag_fixture" in proc.stderr
