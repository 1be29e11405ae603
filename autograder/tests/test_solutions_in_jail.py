"""Every assignment's solution, graded in its jail, gets full marks with no note at all, and each of
its cells prints what it prints outside the grader.

Points alone hid a broken jail: 06's solution got every point while its feedback told the student
"cell 4 of your notebook raised an error: FileNotFoundError: Can't open orphan path" (importlib.resources
could not read utils.data's corpus through the captured-utils loader), then NameErrors in the cells
after it. The tests check only what the student's functions return, so nothing failed. Here the same
solution must also come out of the grader silent: no note, nothing to review, no message on any test,
no error in any cell, nothing alarming in the feedback page, and every cell printing, in the jail,
exactly what it prints when the same cells run outside the grader.

One grading per assignment serves both checks: `autograder.grade.grade` (what the `grade` command runs:
jailed, here with one job and a fixed cell limit) in a child process whose `autograder.pool.run_jobs`
is wrapped to keep each finished job's cells and per-cell results (`output_digest`: the sha256 of what
the cell printed in the jail). The state record and the feedback page are read from OUT as the command
leaves them.

"Outside the grader" is the same student cells (as the grader received them, in the same order), run in
a fresh Python process in an empty folder, in the namespace of an IPython shell made as the grader's
engine makes it (IPython's input transformations, so magics work; `exec`, so a bare last expression is
not displayed, as in the grader), with stdout and stderr captured per cell, as the grader does. The test
cells are not run there: in the grader they run in the trusted process, not in the student's, so what
they do never reaches the student's namespace or output (utils.checks.score() in the last cell counts
the visible tests run in its own process: none, on both sides).

What is made equal, and why it is fair:
- imports: before the first cell, the outside process imports, silently, what the grader's engine
  imports before it forks (numpy, IPython, the assignment's frameworks, the course's utils): what a
  library prints when it is imported belongs to the engine's warm-up, not to a student's cell;
- threads: the grader's one job gets every core, as a plain process does, so floating-point sums are
  done the same way on both sides;
- nothing else is normalised. The solutions print no time and no progress bar (train_model(...,
  progress=False)), seed every generator they use, and filter warnings the same way on both sides (the
  IPython shell's filters, utils.setup_notebook's). A cell that prints something that cannot repeat (a
  tqdm bar's rate, a time) is to be fixed in the notebook, not by a looser test.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.assignment import detect_frameworks
from autograder.examples import build_class

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(
    os.environ,
    TF_CPP_MIN_LOG_LEVEL="3",
    TF_ENABLE_ONEDNN_OPTS="0",
    MPLBACKEND="Agg",
    PYTHONPATH=str(ROOT) + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""),
    PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
)
EVERY_ASSIGNMENT = sorted(p.parent.name for p in (ROOT / "source").glob("*/*.ipynb") if p.stem == p.parent.name)
CELL_OUTPUT_CAP = 100_000  # autograder.limits.CELL_OUTPUT_CAP: the jail's digest covers the first 100 000 characters
CELL_TIMEOUT = 60  # s; the solutions' slowest cell takes about 7 s in the jail here: a cell that hangs costs 60 s
STUDENT = "correct"
# words that, in the feedback a student reads, mean that something in their notebook went wrong
BAD_FEEDBACK = ("raised an error", "NameError", "Traceback")

# In a child process: grade as `python -m autograder grade AID SUBS --out OUT --jobs 1 --cell-timeout 60`
# does, keeping what each finished job's cells returned. A fixed cell limit spares the extra jailed run
# of the solution that only measures its time.
GRADE = r"""
import json, sys
from pathlib import Path
import autograder.pool as pool
from autograder.grade import grade

aid, subs, out, keep, cell_timeout = sys.argv[1:6]
kept, real_run_jobs = {}, pool.run_jobs

def run_jobs(engine, jobs_list, *, on_finish, **kw):
    def finished(job):
        kept[job.key] = {"cells": [{"kind": c["kind"], "label": c["label"], "source": c["source"]} for c in job.cells],
                         "results": {str(i): r for i, r in job.results.items()},
                         "killers": {str(i): [w.kind.value, w.detail] for i, w in job.killers.items()}}
        on_finish(job)
    return real_run_jobs(engine, jobs_list, on_finish=finished, **kw)

pool.run_jobs = run_jobs  # grade() imports it from autograder.pool when it is called
grade(aid, Path(subs), Path(out), jobs=1, cell_timeout=float(cell_timeout), timeout=600, progress=False,
      log=lambda *a: None)
Path(keep).write_text(json.dumps(kept), encoding="utf-8")
"""

# In a child process, in an empty folder: what the engine imports first (silently), then the student
# cells (JSON on stdin) one after the other in one namespace, each with its stdout and stderr captured.
OUTSIDE = r"""
import importlib, io, json, sys, traceback
real_out, real_err = sys.stdout, sys.stderr
sys.stdout = sys.stderr = io.StringIO()
frameworks = [f for f in sys.argv[1:] if f]
import numpy
if "matplotlib" in frameworks:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot
for name in frameworks:
    importlib.import_module(name)
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

config = Config()
config.HistoryManager.enabled = False
shell = InteractiveShell.instance(config=config)
adapters = {"torch": "utils.torch_utils", "tensorflow": "utils.tf_utils"}
for name in ("utils", "utils.checks", "utils.rnn", "utils.metrics", "utils.evaluation",
             *(adapters[f] for f in frameworks if f in adapters)):
    importlib.import_module(name)
sys.stdout, sys.stderr = real_out, real_err

shell.user_ns["__name__"] = "__main__"
cells, printed = json.load(sys.stdin), []
for cell in cells:
    buffer = io.StringIO()
    sys.stdout = sys.stderr = buffer
    error = None
    try:
        exec(compile(shell.transform_cell(cell["source"]), "<" + cell["label"] + ">", "exec", dont_inherit=True),
             shell.user_ns)
    except BaseException as exc:
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    finally:
        sys.stdout, sys.stderr = real_out, real_err
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
    printed.append({"text": buffer.getvalue(), "error": error})
real_out.write(json.dumps(printed))
"""


def _grade_keeping_cells(aid: str, subs: Path, out: Path, keep: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", GRADE, aid, str(subs), str(out), str(keep), str(CELL_TIMEOUT)],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(keep.read_text(encoding="utf-8"))


def _run_outside(cells: list, frameworks: tuple, folder: Path) -> list:
    folder.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", OUTSIDE, *frameworks],
        cwd=folder,
        env=ENV,
        input=json.dumps(cells),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _digest(text: str) -> str:
    return hashlib.sha256(text[:CELL_OUTPUT_CAP].encode("utf-8", "replace")).hexdigest()


def _around(text: str, word: str) -> str:
    at = text.find(word)
    return text[max(0, at - 150) : at + 250]


# Slow: each case grades a real notebook in its jail (nbgrader's generate_assignment, an engine that
# imports torch or tensorflow, the solution's training cells), then runs the solution's cells again
# outside: 3 to 25 s per assignment on 2 cores (a cell that hangs in the jail: 60 s more).
@pytest.mark.slow
@pytest.mark.parametrize("aid", EVERY_ASSIGNMENT)
def test_the_solution_graded_in_its_jail_is_silent_and_prints_what_it_prints_outside(aid, tmp_path):
    source_nb = ROOT / "source" / aid / f"{aid}.ipynb"
    release_nb = ROOT / "release" / aid / f"{aid}.ipynb"
    assert source_nb.is_file() and release_nb.is_file(), f"{aid} must exist in source/ and release/"
    subs, out = tmp_path / "subs", tmp_path / "out"
    build_class(source_nb, release_nb, subs, escape_path=tmp_path / "escaped.txt", only={STUDENT})
    started = time.monotonic()
    kept = _grade_keeping_cells(aid, subs, out, tmp_path / "cells.json")
    graded_in = time.monotonic() - started

    # 1. full marks, passed, and not one word of anything having gone wrong
    state = json.loads((out / ".state" / f"{STUDENT}.json").read_text(encoding="utf-8"))
    said = [f"note: {n}" for n in state["notes"]] + [f"to review: {r}" for r in state["review"]]
    said += [
        f"{c['grade_id']} ({c['status']}, {c['points']:g}/{c['max_points']:g}): {c['message']}"
        for c in state["cells"]
        if c["status"] != "passed" or c.get("message")
    ]
    page = out / "feedback" / STUDENT / f"{aid}.html"
    assert page.is_file(), f"no feedback page {page}"
    html = page.read_text(encoding="utf-8")
    said += [f"the feedback page says {word!r}: ...{_around(html, word)}..." for word in BAD_FEEDBACK if word in html]
    assert (
        (state["status"], state["points"]) == ("passed", state["max_points"]) and state["max_points"] > 0 and not said
    ), (
        f"{aid}'s solution in its jail: {state['status']}, {state['points']:g}/{state['max_points']:g} "
        "points; what the grader said:\n  " + "\n  ".join(said or ["(nothing)"])
    )

    # 2. every student cell ran, without an error, and printed what it prints outside the grader
    job = kept[STUDENT]
    assert not job["killers"], f"cells stopped by the grader: {job['killers']}"
    student = [(i, c) for i, c in enumerate(job["cells"]) if c["kind"] == "student"]
    started = time.monotonic()
    outside = _run_outside([c for _, c in student], detect_frameworks(source_nb), tmp_path / "outside")
    outside_in = time.monotonic() - started
    differ = []
    for (i, cell), there in zip(student, outside, strict=True):
        inside = job["results"].get(str(i))
        if inside is None or inside["status"] != "ok" or there["error"]:
            differ.append(
                f"{cell['label']}: in the jail {inside and (inside['status'], inside['message'][:300])}, "
                f"outside {there['error'] or 'ok'}"
            )
        elif "output_digest" not in inside:
            differ.append(f"{cell['label']}: the grader reported no output_digest")
        elif inside["output_digest"] != _digest(there["text"]) or inside["output_chars"] != len(there["text"]):
            differ.append(
                f"{cell['label']}: printed {inside['output_chars']} characters in the jail, "
                f"{len(there['text'])} outside, and not the same; outside it printed:\n"
                + "\n".join("      | " + line for line in there["text"][:2000].splitlines())
            )
    assert not differ, f"{aid}: {len(differ)} of {len(student)} student cells differ:\n  " + "\n  ".join(differ)
    slowest = max([r.get("seconds", 0.0) for r in job["results"].values()] or [0.0])
    print(f"{aid}: graded in {graded_in:.1f} s (slowest cell {slowest:.1f} s), run outside in {outside_in:.1f} s")
