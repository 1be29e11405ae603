"""Grading speed: `python -m autograder grade` vs `nbgrader autograde` run serially (spec section 8, first row).

Both grade the same N submissions of an assignment whose notebook imports
torch and tensorflow (the autograder's fixture `ag_frameworks`: two graded
functions, one per framework), on this machine, one after the other:

- nbgrader: a fresh course directory, `nbgrader generate_assignment`, then
  `nbgrader autograde` over submitted/<student>/ -- one fresh kernel per
  notebook, as nbgrader does; only the autograde command is timed;
- ours: `python -m autograder grade` on the same files, timed as a whole
  (its own nbgrader generate_assignment included), every core.

    python -m benchmarks grading            # 16 submissions
    python -m benchmarks.grading --n 16
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "autograder" / "tests" / "fixtures"
AID = "ag_frameworks"


def _env() -> dict:
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0", MPLBACKEND="Agg",
                PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def _nbgrader(course: Path, *args: str) -> None:
    cmd = [str(Path(sys.executable).parent / "nbgrader"), *args, f"--CourseDirectory.root={course}",
           f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}", "--CourseDirectory.include=['*.ipynb']",
           "--log-level=ERROR"]
    proc = subprocess.run(cmd, cwd=course, env=_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


def _submissions(release_nb: Path, n: int, folder: Path) -> list[str]:
    """n students: most answer correctly, every third gets one answer wrong."""
    import nbformat

    source = nbformat.read(FIXTURES / "source" / AID / f"{AID}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    students = [f"student{i:02d}" for i in range(n)]
    for i, student in enumerate(students):
        nb = nbformat.read(release_nb, as_version=4)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                cell.source = answers[gid]
                if i % 3 == 2 and gid == "torch_row_means":
                    cell.source = "def torch_row_means(x):\n    return x.sum(dim=1)"
        path = folder / student / AID / f"{AID}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    return students


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grading")
    parser.add_argument("--n", type=int, default=16, help="number of submissions (default 16)")
    args = parser.parse_args(argv or [])
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        course = tmp / "course"
        shutil.copytree(FIXTURES / "source" / AID, course / "source" / AID)
        _nbgrader(course, "generate_assignment", AID, "--force")
        students = _submissions(course / "release" / AID / f"{AID}.ipynb", args.n, course / "submitted")
        ours_subs = tmp / "submissions"
        shutil.copytree(course / "submitted", ours_subs)

        print(f"grading {args.n} submissions of {AID} (imports torch and tensorflow) on "
              f"{len(os.sched_getaffinity(0))} cores", flush=True)
        start = time.perf_counter()
        _nbgrader(course, "autograde", AID, "--force")
        t_nbgrader = time.perf_counter() - start
        print(f"  nbgrader autograde (serial):   {t_nbgrader:7.1f} s  ({t_nbgrader / args.n:.2f} s per notebook)",
              flush=True)

        out = tmp / "out"
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "autograder", "grade", AID, str(ours_subs), "--out", str(out),
                               "--course-root", str(FIXTURES)], cwd=ROOT, env=_env(), capture_output=True, text=True)
        t_ours = time.perf_counter() - start
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr)
            return 1
        print(f"  python -m autograder grade:    {t_ours:7.1f} s  ({t_ours / args.n:.2f} s per notebook)")

        # the two must agree on every score
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            theirs = {s: gb.find_submission(AID, s).score for s in students}
        with open(out / "totals.csv", newline="") as fh:
            ours = {r["student_id"]: float(r["points"]) for r in csv.DictReader(fh)}
        agree = all(abs(theirs[s] - ours[s]) < 1e-9 for s in students)
        print(f"  scores agree with nbgrader:    {agree}  (total {sum(ours.values()):g} of "
              f"{2 * args.n} points)")
        ratio = t_nbgrader / t_ours
        print(f"  speed-up: {ratio:.1f}x  (target >= 10x)")
        return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
