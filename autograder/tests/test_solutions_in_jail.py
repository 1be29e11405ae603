"""Every assignment's solution, graded in its jail, gets full marks with no note at all, and each of
its cells prints what it prints outside the grader.

Points alone hid a broken jail: 06's solution got every point while its feedback told the student
"cell 4 of your notebook raised an error: FileNotFoundError: Can't open orphan path" (importlib.resources
could not read utils.data's corpus through the captured-utils loader), then NameErrors in the cells
after it. The tests tested only what the student's functions return, so nothing failed. Here the same
solution must also come out of the grader silent: no note, nothing to review, no error in any cell, and
every cell printing, in the jail, exactly what it prints when the same cells run outside the grader.

One grading per assignment serves both checks: `autograder.grade.grade` (what the `grade` command runs,
jailed, with one job) in a child process whose `autograder.worker.run_jobs` is wrapped to keep each
finished job's cells and per-cell results (`output_digest`: the sha256 of what the cell printed in the
jail). The state record and the feedback HTML are read from OUT as the CLI leaves them.

"Outside the grader" is the same student cells (as the grader received them, in the same order), run
in a fresh Python process in an empty folder, in the namespace of an IPython shell made as the grader's
engine makes it (IPython's input transformations, so magics work; `exec`, so a bare last expression is
not displayed, as in the grader), with stdout and stderr captured per cell, as the grader does. The test
cells are not run there: in the grader they run in the trusted process, not in the student's, so
running them in the student's namespace would be the comparison that is unfair (utils.checks.score()
in the last cell counts the visible tests run in its own process: none, on both sides).

Normalisation: none. The solutions print no timing and no progress bar (train_model(progress=False)),
seed every generator they use, and use the same thread count on both sides (the grader gives its one job
every core; so does a plain process); warnings are filtered the same way (the IPython shell's filters,
and utils.setup_notebook's). Should a cell print something that cannot repeat (a tqdm bar's rate, a
time), the fix is in the notebook (progress=False), not a looser test.
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

from autograder.examples import build_class

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0", MPLBACKEND="Agg",
           PYTHONPATH=str(ROOT) + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""),
           PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
EVERY_ASSIGNMENT = sorted(p.parent.name for p in (ROOT / "source").glob("*/*.ipynb") if p.stem == p.parent.name)
CELL_OUTPUT_CAP = 100_000  # autograder.worker.CELL_OUTPUT_CAP: the jail's digest covers the first 100 000 characters
STUDENT = "correct"
# words that, in the feedback a student reads, mean that something of their notebook went wrong
BAD_FEEDBACK = ("raised an error", "NameError", "Traceback")

# In a child process: grade as `python -m autograder grade AID SUBS --out OUT --jobs 1 --cell-timeout 120`
# does, keeping what each finished job's cells returned. An explicit cell timeout spares the extra jailed
# run of the solution that only measures its time.
GRADE = r"""
import json, sys
from pathlib import Path
import autograder.worker as worker
from autograder.grade import grade

aid, subs, out, keep = sys.argv[1:5]
kept, real_run_jobs = {}, worker.run_jobs

def run_jobs(engine, jobs_list, *, on_finish, **kw):
    def finished(job):
        kept[job.key] = {"cells": [{"kind": c["kind"], "label": c["label"], "source": c["source"]} for c in job.cells],
                         "results": {str(i): r for i, r in job.results.items()},
                         "killers": {str(i): w for i, w in job.killers.items()}}
        on_finish(job)
    return real_run_jobs(engine, jobs_list, on_finish=finished, **kw)

worker.run_jobs = run_jobs  # grade() imports it from autograder.worker when it is called
grade(aid, Path(subs), Path(out), jobs=1, cell_timeout=120, timeout=600, progress=False, log=lambda *a: None)
Path(keep).write_text(json.dumps(kept), encoding="utf-8")
"""

# In a child process, in an empty folder: the student cells (JSON on stdin) run one after the other in
# one namespace, each with its stdout and stderr captured, as the grader's student process runs them.
OUTSIDE = r"""
import io, json, sys, traceback
import matplotlib
matplotlib.use("Agg")
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

config = Config()
config.HistoryManager.enabled = False
shell = InteractiveShell.instance(config=config)
shell.user_ns["__name__"] = "__main__"
cells, printed = json.load(sys.stdin), []
real_out, real_err = sys.stdout, sys.stderr
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


def _grade_keeping_cells(aid: str, subs: Path, out: Path, keep: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", GRADE, aid, str(subs), str(out), str(keep)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _run_outside(cells: list, folder: Path) -> list:
    folder.mkdir()
    proc = subprocess.run([sys.executable, "-c", OUTSIDE], cwd=folder, env=ENV, input=json.dumps(cells),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _digest(text: str) -> str:
    return hashlib.sha256(text[:CELL_OUTPUT_CAP].encode("utf-8", "replace")).hexdigest()


# Slow: each case grades a real notebook in its jail (nbgrader's generate_assignment, an engine that
# imports torch or tensorflow, the solution's training cells), then runs the solution's cells again
# outside: 10 to 40 s per assignment on 2 cores.
@pytest.mark.slow
@pytest.mark.parametrize("aid", EVERY_ASSIGNMENT)
def test_the_solution_graded_in_its_jail_is_silent_and_prints_what_it_prints_outside(aid, tmp_path):
    source_nb = ROOT / "source" / aid / f"{aid}.ipynb"
    release_nb = ROOT / "release" / aid / f"{aid}.ipynb"
    assert source_nb.is_file() and release_nb.is_file(), f"{aid} must exist in source/ and release/"
    subs, out, keep = tmp_path / "subs", tmp_path / "out", tmp_path / "cells.json"
    build_class(source_nb, release_nb, subs, escape_path=tmp_path / "escaped.txt", only={STUDENT})
    started = time.monotonic()
    _grade_keeping_cells(aid, subs, out, keep)
    graded_in = time.monotonic() - started

    # 1. full marks, passed, and not one word of anything having gone wrong
    state = json.loads((out / ".state" / f"{STUDENT}.json").read_text(encoding="utf-8"))
    said = [f"note: {n}" for n in state["notes"]] + [f"review: {r}" for r in state["review"]]
    said += [f"{c['grade_id']} ({c['status']}, {c['points']:g}/{c['max_points']:g}): {c['message']}"
             for c in state["cells"] if c["status"] != "passed" or c.get("message")]
    feedback = sorted((out / "feedback" / STUDENT).glob("*.html"))
    assert feedback, f"no feedback was written for {STUDENT} in {out / 'feedback'}"
    for page in feedback:
        html = page.read_text(encoding="utf-8")
        said += [f"{page.name} says {word!r}: ...{html[max(0, html.find(word) - 200):html.find(word) + 300]}..."
                 for word in BAD_FEEDBACK if word in html]
    assert (state["status"], state["points"]) == ("passed", state["max_points"]) and not said, (
        f"{aid}'s solution in its jail: {state['status']}, {state['points']:g}/{state['max_points']:g} points; "
        "what the grader said:\n  " + "\n  ".join(said or ["(nothing)"]))

    # 2. every student cell ran, without an error, and printed what it prints outside the grader
    (job,) = json.loads(keep.read_text(encoding="utf-8")).values()
    student = [(int(i), c) for i, c in enumerate(job["cells"]) if c["kind"] == "student"]
    assert not job["killers"], job["killers"]
    started = time.monotonic()
    outside = _run_outside([c for _, c in student], tmp_path / "outside")
    outside_in = time.monotonic() - started
    differ = []
    for (i, cell), there in zip(student, outside):
        inside = job["results"].get(str(i))
        if inside is None or inside["status"] != "ok" or there["error"]:
            differ.append(f"{cell['label']}: in the jail {inside and (inside['status'], inside['message'][:300])}, "
                          f"outside {there['error'] or 'ok'}")
        elif "output_digest" not in inside:
            differ.append(f"{cell['label']}: the grader reported no output_digest")
        elif inside["output_digest"] != _digest(there["text"]) or inside["output_chars"] != len(there["text"]):
            differ.append(f"{cell['label']}: printed {inside['output_chars']} characters in the jail, "
                          f"{len(there['text'])} outside, and not the same; outside it printed:\n"
                          + "\n".join("      | " + line for line in there["text"][:2000].splitlines()))
    assert not differ, f"{aid}: {len(differ)} of {len(student)} student cells differ:\n  " + "\n  ".join(differ)
    print(f"{aid}: graded in {graded_in:.1f} s, run outside in {outside_in:.1f} s")
