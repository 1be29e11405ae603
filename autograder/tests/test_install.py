"""The grader is an installed package: `python -m autograder` and the `rnn-autograder` command work from any
folder in the course's .venv (make setup's `pip install -e .`), with no PYTHONPATH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "autograder", "--help"],
        [str(Path(sys.executable).parent / "rnn-autograder"), "--help"],
        [str(Path(sys.executable).parent / "rnn-autograder"), "grade", "--help"],
    ],
)
def test_the_grader_runs_from_a_folder_outside_the_repository(command, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "grade" in proc.stdout and "usage:" in proc.stdout
    assert proc.stderr == ""


def test_the_student_edition_pyproject_has_no_grader():
    from autograder.publish import _student_pyproject

    text = _student_pyproject((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "autograder" not in text and "[project.scripts]" not in text and "pytest" not in text
    import tomllib

    data = tomllib.loads(text)
    assert data["tool"]["setuptools"]["packages"] == ["utils", "utils.data", "utils.torch_utils", "utils.tf_utils"]
