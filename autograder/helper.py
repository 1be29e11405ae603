"""The nbgrader helper: a forked process that runs generate_assignment, sanitises every submission (one plan
at a time, as each is ready) and later writes the gradebook, while the grading process grades."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

from . import die_with_parent, skip_slow_optional_imports
from .assignment import prepare
from .batch import SOLUTION, read_plan


def other_assignment_ids(course_root: Path) -> dict:
    """grade ids of every released notebook (to recognise a notebook of another assignment)."""
    import nbformat

    out = {}
    for folder in (course_root / "release", course_root / "source"):
        for path in folder.glob("*/*.ipynb"):
            if path.parent.name in out:
                continue
            try:
                nb = nbformat.read(path, as_version=4)
            except Exception:
                continue
            out[path.parent.name] = [
                c.metadata.get("nbgrader", {}).get("grade_id")
                for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id")
            ]
    return out


def helper_main(assignment_id, work, course_root, submissions, conn, full: bool = False) -> None:
    """In the helper process: nbgrader's generate_assignment, then every submission sanitised.
    `full` (a cluster's batch): send the assignment with its released cells, and only check each student's
    file: the workers read and sanitise the notebooks, and send their plans back with the results."""
    die_with_parent()  # SIGTERM or SIGKILL on the grader never leaves it waiting on the pipe
    skip_slow_optional_imports()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import dataclasses

        assignment = prepare(assignment_id, work, course_root)
        others = other_assignment_ids(course_root)
        # plain data only (unless `full`): the parent must not need nbformat to read it
        conn.send(("ok", assignment if full else dataclasses.replace(assignment, release_cells=[]), others))
        # one plan at a time, as each is ready: the first submissions are graded while the rest are read
        for student, path in submissions.items():
            if full and student != SOLUTION:
                from .assignment import Plan, check_file

                conn.send(("plan", student, check_file(path, assignment) or Plan(cells=None)))  # type: ignore[arg-type]  # None: a worker reads it
            else:
                conn.send(("plan", student, read_plan(path, assignment, others)))
        conn.send(("plans", None, None))
    except Exception as exc:  # reported by the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}", None))
        conn.close()
        return
    # later, while the parent writes the CSV and HTML files: the nbgrader gradebook (nbgrader is imported here)
    try:
        request = conn.recv()
    except EOFError:  # the parent is gone
        return
    try:
        from .report import write_gradebook

        write_gradebook(request["out"], assignment, request["results"], work)
        conn.send(("ok",))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    conn.close()


class PlanStream:
    """The plans the nbgrader helper sends one by one, turned into jobs as they arrive (run_jobs polls it)."""

    def __init__(self, conn, plans: dict):
        self.conn, self.plans, self.done = conn, plans, False  # done: the helper said it sent every plan
        self.to_jobs: Callable[[list], list] = lambda students: []

    def fileno(self) -> int:
        return self.conn.fileno()

    def take(self, block: bool = False) -> list:
        """The jobs of every plan that has arrived (waiting for one when `block`)."""
        arrived = []
        while not self.done and (block or self.conn.poll()):
            block = False
            try:
                kind, student, plan = self.conn.recv()
            except EOFError:
                raise RuntimeError("the nbgrader helper process died") from None
            if kind == "error":
                raise RuntimeError(student)
            if kind == "plans":
                self.done = True
                break
            self.plans[student] = plan
            arrived.append(student)
        return self.to_jobs([s for s in arrived if s != SOLUTION])
