"""Every command of the README's instructor and self-study sections runs, word for word.

The commands are read from the README's ```bash blocks between the section markers, so a command
that is edited there is tested as edited. They run one after the other from the root of a copy of
the repository (the course's .venv linked in), as an instructor would type them, after a small class
of the first assignment has been put where the README says: `path/to/submissions`. Relative paths
(`grading/01`) must work.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from autograder.tests.test_grading import ENV

ROOT = Path(__file__).resolve().parents[2]
AID = "01_hidden_state"
SECTIONS = ("instructors", "self-study")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for section in SECTIONS:
        body = text.split(f"<!-- {section}:start -->")[1].split(f"<!-- {section}:end -->")[0]
        body = re.sub(r"<!-- exchange:start -->.*?<!-- exchange:end -->", "", body, flags=re.S)  # test_exchange.py
        for block in re.findall(r"```bash\n(.*?)```", body, flags=re.S):
            joined = re.sub(r"\\\n\s*", " ", block)
            commands += [
                line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")
            ]
    return commands


def _copy_repository(dest: Path) -> None:
    files = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    (dest / ".venv").symlink_to(ROOT / ".venv")


def _class(repo: Path) -> dict:
    """path/to/submissions: one correct student, one who handed the release back as it was."""
    source = nbformat.read(repo / "source" / AID / f"{AID}.ipynb", as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    folder = repo / "path" / "to" / "submissions"
    for student in ("ada", "bob"):
        nb = nbformat.read(repo / "release" / AID / f"{AID}.ipynb", as_version=4)
        if student == "ada":
            for cell in nb.cells:
                gid = cell.metadata.get("nbgrader", {}).get("grade_id")
                if gid in answers:
                    cell.source = answers[gid]
        (folder / student).mkdir(parents=True)
        nbformat.write(nb, folder / student / f"{AID}.ipynb")
    return {"ada": "full", "bob": "zero"}


def test_the_readme_has_commands_to_test():
    commands = readme_commands()
    assert any(c.startswith("make grade") for c in commands)
    assert any("autograder grade" in c for c in commands)
    assert any("nbgrader export" in c for c in commands)


def test_every_readme_command_runs_verbatim(tmp_path):
    repo = tmp_path / "course"
    _copy_repository(repo)
    _class(repo)
    # the copy shares the course's .venv (a link): `make` in the copy must never reinstall into it (that would
    # point the editable install of utils and autograder at this temporary copy for every later test)
    env = dict(ENV, PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{ENV['PATH']}", MAKEFLAGS="--old-file=.venv/.installed")
    for command in readme_commands():
        assert "<" not in command and "path/to/" not in command.replace("path/to/submissions", ""), command
        proc = subprocess.run(command, shell=True, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"README command failed: {command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        if "autograder grade" in command or command.startswith("make grade"):
            with open(repo / "grading" / "01" / "totals.csv", newline="", encoding="utf-8") as fh:
                totals = {r["student_id"]: (float(r["points"]), float(r["max_points"])) for r in csv.DictReader(fh)}
            assert set(totals) == {"ada", "bob"}, command
            assert totals["ada"][0] == totals["ada"][1] > 0 and totals["bob"][0] == 0, (command, totals)
    exported = repo / "grading" / "01" / "nbgrader-grades.csv"
    assert exported.is_file() and "ada" in exported.read_text()
    assert not (repo / "grades.csv").exists(), "nbgrader export wrote grades.csv into the course root"


@pytest.mark.parametrize("section", SECTIONS)
def test_sections_are_marked(section):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"<!-- {section}:start -->" in text and f"<!-- {section}:end -->" in text
