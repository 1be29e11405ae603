"""Grading speed: `python -m autograder grade` (jailed) vs `nbgrader autograde` run serially (spec section 8).

Both grade the same submissions of the course's `02_rnn_shapes_tensorflow`
(its notebook imports tensorflow; torch is warmed too when it does), on this
machine, one after the other:

- nbgrader: a fresh course directory, `nbgrader generate_assignment`, then
  `nbgrader autograde` over submitted/<student>/ -- one fresh kernel per
  notebook, as nbgrader does; only the autograde command is timed, on 12
  submissions; its time at 100 is extrapolated from its time per notebook
  (it grades one notebook after another, so its time grows linearly);
- ours: `python -m autograder grade` on the same files, timed as a whole
  (its own nbgrader generate_assignment included), every core, each
  submission in its own OS jail; at 12 and at 100 submissions;
- the jail's cost: the same 12 graded with `--unsafe-shared-process`;
- the channel's cost per test cell (trusted verdicts): the requests each test cell made, as the
  trusted process counted them, times the measured round trip of one request.

    python -m benchmarks grading
    python -m benchmarks.grading --n 12 --large 100
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
AID = "02_rnn_shapes_tensorflow"
SOURCE = ROOT / "source"


def _env() -> dict:
    return dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="3",
        TF_ENABLE_ONEDNN_OPTS="0",
        MPLBACKEND="Agg",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )


def _nbgrader(course: Path, *args: str) -> None:
    cmd = [
        str(Path(sys.executable).parent / "nbgrader"),
        *args,
        f"--CourseDirectory.root={course}",
        f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}",
        "--CourseDirectory.include=['*.ipynb']",
        "--log-level=ERROR",
    ]
    proc = subprocess.run(cmd, cwd=course, env=_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


def _submissions(release_nb: Path, n: int, folder: Path, prefix: str = "student") -> list[str]:
    """n students: most answer correctly; every third leaves its last answer as released."""
    import nbformat

    source = nbformat.read(SOURCE / AID / f"{AID}.ipynb", as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    last = list(answers)[-1]
    students = [f"{prefix}{i:03d}" for i in range(n)]
    for i, student in enumerate(students):
        nb = nbformat.read(release_nb, as_version=4)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers and not (i % 3 == 2 and gid == last):
                cell.source = answers[gid]
        path = folder / student / AID / f"{AID}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    return students


def timed_grade(subs: Path, out: Path, *flags: str) -> float:
    """Seconds `python -m autograder grade` takes on `subs` (a RuntimeError with its output if it fails)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", AID, str(subs), "--out", str(out), *flags],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout + proc.stderr)
    return seconds


def _ours(subs: Path, out: Path, *flags: str) -> tuple[float, dict]:
    seconds = timed_grade(subs, out, *flags)
    with open(out / "totals.csv", newline="") as fh:
        return seconds, {r["student_id"]: float(r["points"]) for r in csv.DictReader(fh)}


def _round_trip_us(payload, n: int = 500) -> float:
    """Microseconds for one call through the trusted verdicts' channel (autograder/channel.py) to a
    forked student's side that returns its argument doubled, `payload` crossing both ways."""
    import socket

    import numpy as np

    from autograder import channel

    mine, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        mine.close()
        channel.serve(theirs.detach(), {"f": lambda x: np.asarray(x) * 2}, None, None)
        os._exit(0)
    theirs.close()
    link = channel.TrustedChannel(mine.detach())
    f = link.request("get", name="f")
    f(payload)
    start = time.perf_counter()
    for _ in range(n):
        f(payload)
    per_call = (time.perf_counter() - start) / n * 1e6
    channel.send_message(link.fd, {"op": "end"}, [])
    os.waitpid(pid, 0)
    return per_call


def _channel_cost(out: Path) -> None:
    """The channel's cost per test cell: requests per cell (counted by the trusted process) x a round trip."""
    import json

    import numpy as np

    counts = []
    for state in sorted((out / ".state").glob("*.json")):
        counts.extend(v for k, v in json.loads(state.read_text()).get("requests", {}).items())
    if not counts:
        return
    small, large = _round_trip_us(3.0), _round_trip_us(np.zeros((8, 16, 32), "float32"))
    mean = sum(counts) / len(counts)
    print(
        f"  channel: {mean:.1f} requests per test cell (at most {max(counts)}); a round trip takes {small:.0f} us "
        f"(a number) to {large:.0f} us (a 16 KB array) -> about {mean * small / 1000:.1f} to "
        f"{mean * large / 1000:.1f} ms per test cell",
        flush=True,
    )


def floor_seconds(folder: Path, limit: int | None = None) -> float:
    """The floor: seconds per submission to run the same cells (the student's, and the source's test cells,
    hidden ones included) on the same answers in one warm process, with no jail, no channel, no fork and no
    nbgrader: what grading costs at the very least. Run in a fresh process (`--floor FOLDER`)."""
    import contextlib
    import io

    import nbformat

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy  # noqa: F401 - warm, as the engine is
    import tensorflow  # noqa: F401

    import utils.checks
    import utils.tf_utils  # noqa: F401

    source = nbformat.read(SOURCE / AID / f"{AID}.ipynb", as_version=4)
    tests = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")
    }
    paths = sorted(folder.glob(f"*/{AID}/{AID}.ipynb"))[:limit]
    cells_of = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cells_of.append(
            [
                tests.get(c.metadata.get("nbgrader", {}).get("grade_id"), c.source)
                for c in nb.cells
                if c.cell_type == "code"
            ]
        )
    start = time.perf_counter()
    for cells in cells_of:
        namespace: dict = {"__name__": "__main__"}
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for code in cells:
                try:
                    exec(compile(code, "<cell>", "exec"), namespace)  # the bench's own submissions
                except Exception:  # a wrong answer fails its test, as in grading
                    pass
    return (time.perf_counter() - start) / max(1, len(cells_of))


def _floor_in_fresh_process(folder: Path) -> float:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.grading", "--floor", str(folder)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout + proc.stderr)
    return float(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grading")
    parser.add_argument("--floor", type=Path, help=argparse.SUPPRESS)  # the floor's own process
    parser.add_argument("--n", type=int, default=12, help="submissions graded by both (default 12)")
    parser.add_argument("--large", type=int, default=100, help="submissions graded by ours (default 100)")
    args = parser.parse_args(argv or [])
    if args.floor is not None:
        print(floor_seconds(args.floor))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        course = tmp / "course"
        shutil.copytree(SOURCE / AID, course / "source" / AID)
        _nbgrader(course, "generate_assignment", AID, "--force")
        release_nb = course / "release" / AID / f"{AID}.ipynb"
        students = _submissions(release_nb, args.n, course / "submitted")
        ours_subs = tmp / "submissions"
        shutil.copytree(course / "submitted", ours_subs)

        print(f"grading submissions of {AID} on {len(os.sched_getaffinity(0))} cores", flush=True)
        start = time.perf_counter()
        _nbgrader(course, "autograde", AID, "--force")
        t_nbgrader = time.perf_counter() - start
        per_nb = t_nbgrader / args.n
        print(
            f"  nbgrader autograde (serial), {args.n}:  {t_nbgrader:7.1f} s  ({per_nb:.2f} s per notebook)", flush=True
        )
        t_ours, ours = _ours(ours_subs, tmp / "out")
        print(
            f"  python -m autograder grade, {args.n}:    {t_ours:7.1f} s  ({t_ours / args.n:.2f} s per notebook, "
            "jailed)",
            flush=True,
        )
        t_unsafe, unsafe = _ours(ours_subs, tmp / "out-unsafe", "--unsafe-shared-process")
        print(
            f"  the same, --unsafe-shared-process: {t_unsafe:7.1f} s  -> the jail costs "
            f"{(t_ours - t_unsafe) / args.n * 1000:+.0f} ms per submission",
            flush=True,
        )

        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            theirs = {s: gb.find_submission(AID, s).score for s in students}
        agree = all(abs(theirs[s] - ours[s]) < 1e-9 for s in students) and ours == unsafe
        print(f"  scores agree with nbgrader:    {agree}  (total {sum(ours.values()):g} points)")
        ratio = t_nbgrader / t_ours
        print(f"  speed-up at {args.n}: {ratio:.1f}x  (target >= 10x)", flush=True)
        _channel_cost(tmp / "out")

        large = tmp / "large"
        _submissions(release_nb, args.large, large)
        t_large, _ = _ours(large, tmp / "out-large")
        projected = per_nb * args.large
        print(
            f"  python -m autograder grade, {args.large}:   {t_large:7.1f} s  ({t_large / args.large:.2f} s per "
            f"notebook, jailed); nbgrader extrapolated: {projected:.0f} s"
        )
        print(f"  speed-up at {args.large}: {projected / t_large:.1f}x  (target >= 20x)")
        cores = len(os.sched_getaffinity(0))
        floor = _floor_in_fresh_process(large)
        ideal = floor * args.large / cores
        print(
            f"  floor: the same cells on the same answers in one warm process (no jail, no channel): "
            f"{floor:.3f} s per submission, {ideal:.1f} s for {args.large} on {cores} cores if perfectly "
            f"parallel -> ours is {t_large / ideal:.2f}x the floor (aim <= 1.5x)",
            flush=True,
        )
        return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
