"""tools/device_check.py, the maintainer's tool for running the notebooks on a GPU machine, run here on the CPU.

It must report the device `get_device()` chose and fail loudly, naming the cell, when a notebook breaks or writes
to stderr: a green line from it is the proof that a notebook ran on a GPU, so it must never be green by accident.
"""

import json
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "device_check.py"


def _run(*paths, tmp_path):
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, str(TOOL), *map(str, paths), "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc, json.loads(report.read_text())


def test_a_lesson_runs_and_names_its_device(tmp_path):
    proc, [report] = _run(ROOT / "notebooks" / "02_rnn_shapes_pytorch.ipynb", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report["ok"] and report["failed_cell"] is None and report["stderr"] == ""
    import torch

    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert report["device"] == want
    assert "1 of 1 notebooks ran cleanly" in proc.stdout


def test_a_broken_cell_or_stderr_fails_and_is_named(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("x = 1"),
            nbformat.v4.new_code_cell("import sys\nprint('careful', file=sys.stderr)"),
        ]
    )
    noisy = tmp_path / "noisy.ipynb"
    nbformat.write(nb, noisy)
    nb.cells.append(nbformat.v4.new_code_cell("raise ValueError('the third cell breaks')"))
    broken = tmp_path / "broken.ipynb"
    nbformat.write(nb, broken)
    proc, reports = _run(noisy, broken, tmp_path=tmp_path)
    assert proc.returncode == 1
    by_name = {Path(r["notebook"]).name: r for r in reports}
    assert not by_name["noisy.ipynb"]["ok"] and by_name["noisy.ipynb"]["stderr"] == "careful"
    assert by_name["broken.ipynb"]["failed_cell"] == 2 and "the third cell breaks" in by_name["broken.ipynb"]["error"]
    assert "0 of 2 notebooks ran cleanly" in proc.stdout
