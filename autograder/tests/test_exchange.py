"""nbgrader's exchange loop, end to end, with the README's own commands.

release -> fetch -> submit (twice for one student) -> collect -> grade -> release_feedback ->
fetch_feedback. The commands are read from the README's exchange block: a line that starts with
`.venv/bin/` is the instructor's, run in the course folder (a copy of this repository); a line that
starts with `nbgrader` is what a student's Assignments tab does, run by each student in their own home.
A hub gives every student their own account; here each student has their own HOME whose
nbgrader_config.py names them (`CourseDirectory.student_id`), and every actor's config names the same
exchange folder, as a hub's /etc/jupyter/nbgrader_config.py does.
"""

from __future__ import annotations

import csv
import os
import re
import sqlite3
import subprocess
import time
from pathlib import Path

import nbformat

from autograder.tests.test_grading import ENV
from autograder.tests.test_readme import _copy_repository

ROOT = Path(__file__).resolve().parents[2]
AID = "01_hidden_state"


def exchange_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    body = text.split("<!-- exchange:start -->")[1].split("<!-- exchange:end -->")[0]
    block = re.findall(r"```bash\n(.*?)```", body, flags=re.S)[0]
    return [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


def _home(path: Path, exchange: Path, student: str | None) -> dict:
    (path / ".jupyter").mkdir(parents=True)
    lines = [f"c.Exchange.root = {str(exchange)!r}"]
    if student:
        lines.append(f"c.CourseDirectory.student_id = {student!r}")
    (path / ".jupyter" / "nbgrader_config.py").write_text("\n".join(lines) + "\n")
    return dict(ENV, HOME=str(path), PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{ENV['PATH']}")


def _run(command: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{command} (in {cwd}) failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _answer(notebook: Path, source: Path, correct: bool) -> None:
    nb = nbformat.read(notebook, as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nbformat.read(source, as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    if correct:
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                cell.source = answers[gid]
    nbformat.write(nb, notebook)


def test_the_exchange_loop_with_the_readme_commands(tmp_path):
    course = tmp_path / "course"
    _copy_repository(course)
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    instructor = _home(tmp_path / "home-instructor", exchange, None)
    students = {s: (tmp_path / f"home-{s}", _home(tmp_path / f"home-{s}", exchange, s)) for s in ("ada", "bob")}
    # bob also has a folder for another assignment in submitted/: he must not appear in this batch as missing
    (course / "submitted" / "carl" / "03_classification_metrics").mkdir(parents=True)
    (course / "submitted" / "carl" / "03_classification_metrics" / "x.txt").write_text("")

    commands = exchange_commands()
    assert [c.split()[0].split("/")[-1] for c in commands].count("nbgrader") >= 6
    source_nb = course / "source" / AID / f"{AID}.ipynb"
    for command in commands:
        if command.startswith(".venv/bin/"):
            _run(command, course, instructor)
            continue
        assert command.startswith("nbgrader "), command
        for student, (home, env) in students.items():
            if " submit " in f" {command} ":
                notebook = home / AID / f"{AID}.ipynb"
                # ada submits a wrong (as released) notebook first, then her correct one; bob hands in stubs
                _answer(notebook, source_nb, correct=False)
                _run(command, home, env)
                if student == "ada":
                    time.sleep(1.1)  # nbgrader's submissions are told apart by their time stamp
                    _answer(notebook, source_nb, correct=True)
                    _run(command, home, env)
            else:
                _run(command, home, env)

    out = course / "grading" / AID
    with open(out / "totals.csv", newline="", encoding="utf-8") as fh:
        totals = {r["student_id"]: (float(r["points"]), float(r["max_points"])) for r in csv.DictReader(fh)}
    assert set(totals) == {"ada", "bob"}, totals  # carl submitted another assignment only
    assert totals["ada"][0] == totals["ada"][1] > 0 and totals["bob"][0] == 0
    # every student fetched exactly their own feedback, for their last submission
    for student, (home, _) in students.items():
        fetched = sorted((home / AID / "feedback").glob("*/*.html"))
        assert len(fetched) == 1, (student, fetched)
        text = fetched[0].read_text(encoding="utf-8")
        assert f"Student <b>{student}</b>" in text
        stamp = (course / "submitted" / student / AID / "timestamp.txt").read_text().strip()
        assert fetched[0].parent.name == stamp
    # the gradebook knows when each submission was made (nbgrader's due dates and late penalties read it)
    with sqlite3.connect(out / "gradebook.db") as db:
        stamps = dict(
            db.execute(
                "select student.id, submitted_assignment.timestamp from submitted_assignment "
                "join student on student.id = submitted_assignment.student_id"
            )
        )
    for student in ("ada", "bob"):
        written = (course / "submitted" / student / AID / "timestamp.txt").read_text().strip()
        assert stamps[student] and stamps[student][:19] == written[:19].replace("T", " "), (stamps, written)
