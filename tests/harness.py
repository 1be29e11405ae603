"""Run an assignment's test cells against any version of one exercise.

The exercise tests of every topic prove four things about each graded
exercise (issue: "the same exercise-test guarantees"):

1. its test cells (visible and hidden) pass on the source solution;
2. they fail on the release stub (`raise NotImplementedError`);
3. they fail on typical wrong answers, with a message that teaches;
4. they pass on correct answers written differently.

`ExerciseNotebook(stem)` executes the source notebook once, top to bottom, in a
namespace of its own (the solutions in place), then `check(name, source)`
re-defines exercise `name` from `source` in a copy of that namespace and runs
only that exercise's test cells. Test cells therefore must call the graded
function themselves rather than read variables computed from it by earlier
cells (which is also what keeps grading honest).

Conventions the harness relies on (also checked by test_notebook_conventions):
- a solution cell has nbgrader metadata `solution: true` and a `grade_id` equal
  to the exercise name (the function or answer variable it defines);
- its test cells have `grade_id` `test_<name>` or `test_<name>__<part>`.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


@dataclass
class Result:
    grade_id: str
    passed: bool
    message: str  # the failure message ("" on a pass)
    error_type: str | None
    stdout: str

    def __repr__(self) -> str:  # readable in pytest's assertion output
        state = "PASS" if self.passed else f"FAIL ({self.error_type})"
        return f"<{self.grade_id}: {state}: {self.message[:400]!r}>"


def _python_source(source: str) -> str:
    """Drop IPython magics and shell escapes; the harness runs plain Python."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            lines.append(line[: len(line) - len(stripped)] + "pass")
        else:
            lines.append(line)
    return "\n".join(lines)


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def exercise_of(grade_id: str) -> str | None:
    """'test_rnn_step__hidden' -> 'rnn_step'; None for a cell that is not a test."""
    if not grade_id.startswith("test_"):
        return None
    return grade_id[len("test_") :].split("__", 1)[0]


class ExerciseNotebook:
    """The source notebook of one assignment, executed once, ready for variants."""

    def __init__(self, stem: str, *, root: Path = ROOT):
        self.stem = stem
        self.source_path = root / "source" / stem / f"{stem}.ipynb"
        self.release_path = root / "release" / stem / f"{stem}.ipynb"
        self.nb = nbformat.read(self.source_path, as_version=4)
        self.solutions: dict[str, str] = {}
        self.tests: dict[str, list] = {}
        for cell in self.nb.cells:
            meta = _meta(cell)
            if cell.cell_type != "code":
                continue
            if meta.get("solution"):
                self.solutions[meta["grade_id"]] = cell.source
            elif meta.get("grade") and exercise_of(meta.get("grade_id", "")):
                self.tests.setdefault(exercise_of(meta["grade_id"]), []).append(cell)
        self.namespace: dict | None = None
        self.baseline: dict[str, Result] = {}
        self.seconds = 0.0

    # -- running --------------------------------------------------------------

    def _exec(self, source: str, namespace: dict, name: str) -> None:
        code = compile(_python_source(source), f"<{self.stem}:{name}>", "exec")
        exec(code, namespace)  # running our own notebooks is the point

    def _run_test(self, cell, namespace: dict) -> Result:
        gid = _meta(cell)["grade_id"]
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                self._exec(cell.source, namespace, gid)
        except BaseException as exc:  # a failing test is data here
            if isinstance(exc, KeyboardInterrupt):
                raise
            return Result(gid, False, str(exc), type(exc).__name__, out.getvalue())
        return Result(gid, True, "", None, out.getvalue())

    def run(self) -> ExerciseNotebook:
        """Execute the whole source notebook once (cached)."""
        if self.namespace is not None:
            return self
        cwd = os.getcwd()
        os.chdir(self.source_path.parent)
        start = time.perf_counter()
        namespace: dict = {"__name__": "__main__"}
        try:
            for i, cell in enumerate(self.nb.cells):
                if cell.cell_type != "code":
                    continue
                meta = _meta(cell)
                gid = meta.get("grade_id", f"cell{i}")
                if meta.get("grade") and exercise_of(gid):
                    self.baseline[gid] = self._run_test(cell, namespace)
                else:
                    with contextlib.redirect_stdout(io.StringIO()):
                        self._exec(cell.source, namespace, gid)
        finally:
            os.chdir(cwd)
            import matplotlib.pyplot as plt

            plt.close("all")
        self.seconds = time.perf_counter() - start
        self.namespace = namespace
        return self

    def check(self, name: str, source: str) -> dict[str, Result]:
        """Define exercise `name` from `source`, run its test cells, return their results."""
        if name not in self.tests:
            raise KeyError(f"{self.stem} has no test cells for {name!r}; it has {sorted(self.tests)}")
        return self._check_cells(name, source, self.tests[name])

    def check_release(self, name: str, source: str) -> dict[str, Result]:
        """Like `check`, but run the RELEASE test cells of `name` (visible checks only, as a learner runs them)."""
        release = nbformat.read(self.release_path, as_version=4)
        cells = [
            c
            for c in release.cells
            if c.cell_type == "code" and _meta(c).get("grade") and exercise_of(_meta(c).get("grade_id", "")) == name
        ]
        if not cells:
            raise KeyError(f"release/{self.stem} has no test cells for {name!r}: run `make release`")
        return self._check_cells(name, source, cells)

    def _check_cells(self, name: str, source: str, cells: list) -> dict[str, Result]:
        self.run()
        namespace = dict(self.namespace)
        cwd = os.getcwd()
        os.chdir(self.source_path.parent)
        try:
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    self._exec(source, namespace, f"{name} (variant)")
            except Exception as exc:  # a variant that does not even define is a fail
                return {
                    _meta(c)["grade_id"]: Result(_meta(c)["grade_id"], False, str(exc), type(exc).__name__, "")
                    for c in cells
                }
            return {_meta(c)["grade_id"]: self._run_test(c, namespace) for c in cells}
        finally:
            os.chdir(cwd)
            import matplotlib.pyplot as plt

            plt.close("all")

    # -- the four guarantees, as helpers for the topic test files ---------------

    def release_stub(self, name: str) -> str:
        release = nbformat.read(self.release_path, as_version=4)
        for cell in release.cells:
            if _meta(cell).get("grade_id") == name:
                return cell.source
        raise KeyError(f"release/{self.stem} has no cell {name!r}: run `make release`")

    def assert_passes(self, name: str, source: str | None = None) -> None:
        results = self.check(name, source if source is not None else self.solutions[name])
        failed = [r for r in results.values() if not r.passed]
        assert not failed, f"{self.stem}/{name}: a correct answer failed: {failed}"

    def assert_fails(self, name: str, source: str, *, message_contains=()) -> dict[str, Result]:
        """At least one test cell fails; the failure messages teach (mention `message_contains`)."""
        results = self.check(name, source)
        failed = [r for r in results.values() if not r.passed]
        assert failed, f"{self.stem}/{name}: a wrong answer passed every test cell:\n{source}"
        text = "\n".join(r.message for r in failed)
        for fragment in message_contains:
            assert fragment in text, (
                f"{self.stem}/{name}: the failure message should mention {fragment!r}, got:\n{text}"
            )
        return results


_CACHE: dict[str, ExerciseNotebook] = {}


def exercise_notebook(stem: str) -> ExerciseNotebook:
    """One executed ExerciseNotebook per stem and test process."""
    if stem not in _CACHE:
        _CACHE[stem] = ExerciseNotebook(stem).run()
    return _CACHE[stem]
