"""What the autograder knows about one assignment, and how a submission is sanitised.

`prepare(...)` copies `source/<id>/` into a scratch nbgrader course and runs
nbgrader's own `generate_assignment`, which fills an nbgrader gradebook
(sqlite) with every source cell (test cells *with* their hidden tests) and
their checksums, and writes the student version with its checksums. Grading
reads both: the gradebook is the truth for what a test cell says, the
generated release is the truth for what a student should have received.

`sanitise(...)` turns one submitted file into a `Plan`: the cells to execute,
in the assignment's order, with the original test cells restored from the
gradebook by nbgrader's `OverwriteCells`, plus what was wrong with the file
(invalid, another assignment, missing / duplicated / reordered / edited cells,
changed metadata). Cells are matched by `grade_id` and nbgrader metadata,
never by position.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import ROOT, ensure_tools_on_path
from .limits import MAX_NOTEBOOK_BYTES

# nbformat (and nbgrader) are imported inside the functions that use them: the grading parent
# never needs them, and leaving them out of its start-up keeps them off the critical path.

HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
FRAMEWORK_PATTERN = re.compile(r"^\s*(?:import|from)\s+(torch|tensorflow|keras)\b", re.M)
PLOTTING_PATTERN = re.compile(r"matplotlib|\bplots\b|\bplot_\w+\(|\bplt\.")


@dataclass
class TestCell:
    grade_id: str
    points: float
    source: str  # the source version, hidden tests included
    hidden_lines: tuple  # hidden_blocks(source): ((first, last), ...) 1-based, or ()


@dataclass
class Assignment:
    id: str
    notebook: str  # notebook stem (== id in this course)
    db_url: str
    release_cells: list  # the generated student version's cells (NotebookNodes)
    tests: dict  # grade_id -> TestCell, in notebook order
    expected_meta: dict  # grade_id -> nbgrader metadata of the released cell
    frameworks: tuple  # frameworks the source imports, warmed up before forking
    fingerprint: str  # changes whenever source/<id> changes
    points: dict = field(default_factory=dict)  # grade_id -> (points if it passes, points if it fails)


def hidden_blocks(source: str) -> tuple:
    """Each hidden block of a test cell as (first, last) 1-based line numbers, BEGIN and END markers
    included: the exact ranges, not one span from the first BEGIN to the last END. A BEGIN without its
    END runs to the end of the cell."""
    blocks, begin = [], None
    lines = source.splitlines()
    for i, line in enumerate(lines, start=1):
        if line.strip() == HIDDEN_BEGIN and begin is None:
            begin = i
        elif line.strip() == HIDDEN_END and begin is not None:
            blocks.append((begin, i))
            begin = None
    if begin is not None:
        blocks.append((begin, len(lines)))
    return tuple(blocks)


def in_hidden_block(blocks: tuple, line) -> bool:
    return isinstance(line, int) and any(first <= line <= last for first, last in blocks)


def source_notebook(assignment_id: str, course_root: Path = ROOT) -> Path:
    """source/<id>/<id>.ipynb, or a ValueError that lists the assignments there are."""
    nb_path = course_root / "source" / assignment_id / f"{assignment_id}.ipynb"
    if not nb_path.is_file():
        known = sorted(p.name for p in (course_root / "source").glob("*") if p.is_dir())
        raise ValueError(
            f"assignment {assignment_id!r} has no source notebook {nb_path}; "
            f"known assignments: {', '.join(known) or 'none'}"
        )
    return nb_path


def source_fingerprint(nb_path: Path) -> str:
    """Changes whenever the source notebook changes (results graded against another version are redone)."""
    return hashlib.sha256(nb_path.read_bytes()).hexdigest()[:16]


def detect_frameworks(nb_path: Path) -> tuple:
    """The heavy frameworks the assignment's code cells import (they are imported once, before forking)."""
    cells = json.loads(Path(nb_path).read_text(encoding="utf-8")).get("cells", [])
    code = "\n".join(
        "".join(c.get("source", "")) if isinstance(c.get("source"), list) else c.get("source", "")
        for c in cells
        if c.get("cell_type") == "code"
    )
    found = {"tensorflow" if m == "keras" else m for m in FRAMEWORK_PATTERN.findall(code)}
    if PLOTTING_PATTERN.search(code):
        found.add("matplotlib")  # imported in the engine only for an assignment that plots
    return tuple(sorted(found))


def _quiet_nbgrader_logs() -> None:
    for name in ("nbgrader", "traitlets", "NbGraderAPI", "GenerateAssignment", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _fast_alembic_head() -> None:
    """nbgrader asks `alembic heads` (a subprocess, seconds) for the schema version of a new
    gradebook; read the same answer from nbgrader's migration scripts instead."""
    import nbgrader
    import nbgrader.api

    if getattr(nbgrader.api.get_alembic_version, "_autograder", False):
        return
    revisions, downs = set(), set()
    for script in (Path(nbgrader.__file__).parent / "alembic" / "versions").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        rev = re.search(r"^revision\s*=\s*['\"]([0-9a-f]+)['\"]", text, re.M)
        down = re.search(r"^down_revision\s*=\s*['\"]([0-9a-f]+)['\"]", text, re.M)
        if rev:
            revisions.add(rev.group(1))
        if down:
            downs.add(down.group(1))
    heads = sorted(revisions - downs)
    if len(heads) != 1:
        return  # unexpected layout: keep nbgrader's own way

    def head() -> str:
        return heads[0]

    head._autograder = True  # type: ignore[attr-defined]  # a mark on the function, read by getattr above
    nbgrader.api.get_alembic_version = head


def prepare(assignment_id: str, work: Path, course_root: Path = ROOT) -> Assignment:
    """Populate a fresh gradebook in `work` from `course_root/source/<id>` with nbgrader."""
    import nbformat

    nb_path = source_notebook(assignment_id, course_root)
    src = nb_path.parent
    ensure_tools_on_path()
    _quiet_nbgrader_logs()
    from nbgrader.apps import NbGraderAPI

    from .release import course_config

    course = work / "course"
    if course.exists():
        shutil.rmtree(course)
    shutil.copytree(src, course / "source" / assignment_id, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    db = work / "source-gradebook.db"
    db.unlink(missing_ok=True)
    config = course_config(course, db)
    config.Application.log_level = "ERROR"
    _fast_alembic_head()
    api = NbGraderAPI(config=config)
    api.log.setLevel(logging.ERROR)
    result = api.generate_assignment(assignment_id, force=True, create=True)
    if not result.get("success"):
        raise RuntimeError(f"nbgrader could not generate {assignment_id}:\n{result.get('error')}\n{result.get('log')}")

    from nbgrader.api import Gradebook

    release_nb = nbformat.read(course / "release" / assignment_id / f"{assignment_id}.ipynb", as_version=4)
    tests: dict = {}
    with Gradebook(f"sqlite:///{db}") as gb:
        notebook = gb.find_notebook(assignment_id, assignment_id)
        sources = {c.name: c for c in notebook.source_cells}
        grade_cells = {c.name: c for c in notebook.grade_cells}
        solution_ids = {c.name for c in notebook.solution_cells}
        order = [c.metadata.get("nbgrader", {}).get("grade_id") for c in release_nb.cells]
        for gid in [g for g in order if g in grade_cells and g not in solution_ids]:
            if sources[gid].cell_type != "code":
                continue  # manually graded markdown answers are not autograded
            text = sources[gid].source
            tests[gid] = TestCell(gid, float(grade_cells[gid].max_score), text, hidden_blocks(text))
    expected_meta = {
        c.metadata["nbgrader"]["grade_id"]: dict(c.metadata["nbgrader"])
        for c in release_nb.cells
        if c.metadata.get("nbgrader", {}).get("grade_id")
    }
    frameworks = detect_frameworks(nb_path)
    fingerprint = source_fingerprint(nb_path)
    points = {
        gid: (nbgrader_points(gid, t.points, True), nbgrader_points(gid, t.points, False)) for gid, t in tests.items()
    }
    return Assignment(
        assignment_id,
        assignment_id,
        f"sqlite:///{db}",
        list(release_nb.cells),
        tests,
        expected_meta,
        frameworks,
        fingerprint,
        points,
    )


def nbgrader_points(grade_id: str, max_points: float, passed: bool) -> float:
    """Score an autograded test cell with nbgrader.utils.determine_grade: the cell's output is an
    error when the test failed and nothing when it passed (so a warning printed to stderr by a
    correct answer does not cost its points, unlike a plain `nbgrader autograde`)."""
    from nbformat.v4 import new_code_cell, new_output
    from nbgrader.utils import determine_grade

    cell = new_code_cell(
        source="",
        metadata={
            "nbgrader": {
                "grade": True,
                "solution": False,
                "locked": True,
                "grade_id": grade_id,
                "points": max_points,
                "schema_version": 3,
            }
        },
    )
    if not passed:
        cell.outputs = [new_output("error", ename="TestFailed", evalue="", traceback=[])]
    points, _ = determine_grade(cell)
    return float(points or 0.0)


# ----------------------------------------------------------------------------
# sanitising one submission
# ----------------------------------------------------------------------------


@dataclass
class Plan:
    """What to execute for one submission and what was already decided without running it."""

    cells: list = field(default_factory=list)  # dicts: kind ('student'|'test'), grade_id, source, label
    preset: dict = field(default_factory=dict)  # grade_id -> (status, message) decided before running
    tampered: dict = field(default_factory=dict)  # grade_id -> why (the original test still runs)
    notes: list = field(default_factory=list)  # notebook-level remarks for feedback
    invalid: str | None = None  # the notebook could not be graded at all: why
    status_hint: str | None = None  # 'missing' when there is no notebook, 'invalid' when unreadable


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _invalid(message: str, status: str = "invalid") -> Plan:
    return Plan(invalid=message, status_hint=status)


# Path itself cannot be subclassed before Python 3.12: its concrete class (PosixPath) can
if TYPE_CHECKING:
    _ConcretePath = Path
else:
    _ConcretePath = type(Path())


class SymlinkSubmission(_ConcretePath):
    """A submission reached through a symbolic link at any depth below SUBMISSIONS, or that is not a regular
    file: never followed nor read (a link could point at a classmate's work or the instructor's files).
    `why` says which."""

    why = "the submission is a symbolic link, not a file: the grader never follows links (submit the notebook itself)"


def not_plain_file(folder: Path, path: Path) -> str | None:
    """Why `path` (below `folder`) cannot be graded as it stands: a symbolic link in any of its components
    below `folder`, or not a regular file. None when it is a plain file reached without a link."""
    import stat

    try:
        rel = Path(path).relative_to(folder)
    except ValueError:
        return "the submission is not inside the submissions folder"
    current = Path(folder)
    for part in rel.parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            return None  # not there (a missing notebook says so itself)
        if stat.S_ISLNK(mode):
            where = "" if current == Path(path) else f" ({current.relative_to(folder)} is a link)"
            return (
                f"the submission is reached through a symbolic link{where}: the grader never follows links "
                "(submit the notebook itself, in a folder of its own)"
            )
    if not stat.S_ISREG(os.lstat(path).st_mode):
        return "the submission is not a regular file (a device, a pipe or a folder): it was not read"
    return None


def marked(path: Path, why: str) -> SymlinkSubmission:
    link = SymlinkSubmission(path)
    link.why = why
    return link


def check_file(path: Path | None, assignment: Assignment) -> Plan | None:
    """The checks that need the file itself, not its bytes: None, or the Plan that says why it is not graded.
    (On a cluster the client makes them, and a worker that gets the bytes reads everything else.)"""
    if isinstance(path, SymlinkSubmission):
        return _invalid(path.why)
    if path is not None and path.is_symlink():
        return _invalid(SymlinkSubmission.why)
    if path is None or not path.exists():
        return _invalid(f"no notebook {assignment.notebook}.ipynb was submitted", "missing")
    return None


def read_submission(path: Path | None, assignment: Assignment):
    """Return (notebook, None) or (None, Plan-with-the-reason)."""
    import nbformat
    from nbformat.warnings import DuplicateCellId

    failed = check_file(path, assignment)
    if failed is not None:
        return None, failed
    assert path is not None  # check_file refused a missing one
    size = path.stat().st_size
    if size == 0:
        return None, _invalid("the submitted file is empty (0 bytes): nothing can be graded")
    if size > MAX_NOTEBOOK_BYTES:
        return None, _invalid(
            f"the submitted file is {size / 2**20:.0f} MB, more than the "
            f"{MAX_NOTEBOOK_BYTES // 2**20} MB a notebook may have; it was not read"
        )
    try:  # the file itself, never a link put in its place since it was found, never a pipe
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return None, _invalid(f"the submitted file could not be opened ({exc.strerror}): it was not read")
    with os.fdopen(fd, "rb") as fh:
        import stat

        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None, _invalid("the submission is not a regular file: it was not read")
        raw = fh.read(MAX_NOTEBOOK_BYTES + 1)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, _invalid(f"the submitted file is not a notebook (not valid JSON: {str(exc)[:200]})")
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return None, _invalid("the submitted file is JSON but not a Jupyter notebook (no list of cells)")
    try:
        with warnings.catch_warnings():
            # nbformat repairs duplicated cell ids itself; the grader reports duplicated cells in its own words
            warnings.simplefilter("ignore", DuplicateCellId)
            nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:  # any reader failure means "not a notebook"
        return None, _invalid(f"the submitted file is not a readable notebook: {str(exc)[:200]}")
    clean = []
    for cell in nb.cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue
        if not isinstance(cell.get("source", ""), str):
            cell["source"] = "".join(cell["source"]) if isinstance(cell.get("source"), list) else ""
        cell.setdefault("metadata", nbformat.NotebookNode())
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = nbformat.NotebookNode()
        if not isinstance(cell["metadata"].get("nbgrader", {}), dict):
            del cell["metadata"]["nbgrader"]
        clean.append(cell)
    nb.cells = clean
    return nb, None


def _same_flags(got: dict, expected: dict) -> list:
    changed = []
    for key in ("grade", "solution", "locked"):
        if bool(got.get(key, False)) != bool(expected.get(key, False)):
            changed.append(f"{key} {bool(expected.get(key, False))} -> {bool(got.get(key, False))}")
    if expected.get("grade") and got.get("grade"):
        try:
            # no points (None) raises the TypeError caught below
            if float(got.get("points", -1)) != float(expected.get("points")):  # type: ignore[arg-type]
                changed.append(f"points {expected.get('points')} -> {got.get('points')}")
        except (TypeError, ValueError):
            changed.append(f"points {expected.get('points')} -> {got.get('points')!r}")
    return changed


def sanitise(path: Path | None, assignment: Assignment, other_assignments: dict | None = None) -> Plan:
    """Read, check and repair one submission with nbgrader's sanitising preprocessors."""
    import nbformat

    nb, failed = read_submission(path, assignment)
    if failed is not None:
        return failed
    from nbgrader import utils as nbutils
    from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteCells

    plan = Plan()
    expected = assignment.expected_meta
    ids = [_meta(c).get("grade_id") for c in nb.cells]
    known = [g for g in ids if g in expected]
    if not known:
        foreign = sorted({g for g in ids if g})
        guess = ""
        for other, other_ids in (other_assignments or {}).items():
            if other != assignment.id and foreign and set(foreign) <= set(other_ids):
                guess = f" It looks like a notebook of {other!r}."
                break
        return _invalid(
            f"this notebook has none of the cells of {assignment.id!r}"
            + (f" (its graded cells are {', '.join(foreign[:6])})." if foreign else ".")
            + guess
            + " Was the wrong file submitted?"
        )

    resources = {
        "nbgrader": {"notebook": assignment.notebook, "assignment": assignment.id, "db_url": assignment.db_url}
    }
    log = logging.getLogger("autograder.sanitise")
    log.setLevel(logging.CRITICAL)
    nb, resources = ClearOutput(log=log).preprocess(nb, resources)

    # duplicated cells: nbgrader keeps the last copy; a student duplicating a
    # cell usually edits the copy, so note it before DeduplicateIds strips it.
    counts: dict = {}
    for g in ids:
        if g in expected:
            counts[g] = counts.get(g, 0) + 1
    for g, n in counts.items():
        if n > 1:
            plan.notes.append(
                f"cell {g!r} appears {n} times; the copies run as your own code and the original cell is graded"
            )
    nb, resources = DeduplicateIds(log=log).preprocess(nb, resources)
    for cell in nb.cells:  # DeduplicateIds leaves an empty nbgrader dict on the copies
        if "nbgrader" in cell.metadata and not cell.metadata["nbgrader"]:
            del cell.metadata["nbgrader"]

    # changed nbgrader metadata: restore what was released (and say so)
    for cell in nb.cells:
        meta = _meta(cell)
        gid = meta.get("grade_id")
        if gid is None:
            continue
        if gid not in expected:
            del cell.metadata["nbgrader"]  # an unknown id is just the student's own cell
            continue
        changed = _same_flags(meta, expected[gid])
        if cell.cell_type != assignment_cell_type(assignment, gid):
            changed.append(f"cell type {assignment_cell_type(assignment, gid)} -> {cell.cell_type}")
        if changed:
            plan.tampered[gid] = "its nbgrader metadata was changed (" + ", ".join(changed) + ")"
            cell.metadata["nbgrader"] = nbformat.NotebookNode(dict(expected[gid]))
        elif gid in assignment.tests or expected[gid].get("locked"):
            released = expected[gid].get("checksum")
            if released and nbutils.compute_checksum(cell) != released:
                what = "emptied" if not cell.source.strip() else "edited"
                plan.tampered[gid] = f"this read-only cell was {what} in the submission"

    # the source version of locked cells (test cells with their hidden tests) comes back from the gradebook
    try:
        nb, resources = OverwriteCells(log=log).preprocess(nb, resources)
        nb, resources = CheckCellMetadata(log=log).preprocess(nb, resources)
    except Exception as exc:  # nbgrader's own refusal: grade nothing, say why
        return _invalid(f"nbgrader could not repair this notebook's metadata: {str(exc)[:300]}", "tampered")

    # order: the assignment's cells in the released order; the student's own
    # cells stay right after the graded cell they followed in the submission.
    anchored: dict = {None: []}
    present: dict = {}
    anchor = None
    for cell in nb.cells:
        gid = _meta(cell).get("grade_id")
        if gid in expected and gid not in present:
            present[gid] = cell
            anchored.setdefault(gid, [])
            anchor = gid
        else:
            anchored.setdefault(anchor, []).append(cell)
    order = [_meta(c).get("grade_id") for c in assignment.release_cells if _meta(c).get("grade_id")]
    seen = [g for g in [_meta(c).get("grade_id") for c in nb.cells] if g in expected]
    if [g for g in order if g in seen] != seen:
        plan.notes.append("the graded cells were out of order; they were run in the assignment's order")

    # a cell is named as the student sees it: its exercise, or its place in the notebook as handed in
    position = {id(c): i + 1 for i, c in enumerate(nb.cells)}
    after: dict = {}
    last = None
    for c in nb.cells:
        after[id(c)] = last
        last = _meta(c).get("grade_id") or last

    def add(cell, gid=None):
        if cell.cell_type != "code":
            return
        if gid in assignment.tests:
            plan.cells.append({"kind": "test", "grade_id": gid, "source": assignment.tests[gid].source, "label": gid})
        elif gid:
            plan.cells.append(
                {"kind": "student", "grade_id": gid, "source": cell.source, "label": f"your answer cell {gid}"}
            )
        else:
            where = f"cell {position[id(cell)]} of your notebook"
            if after.get(id(cell)):
                where += f" (after {after[id(cell)]})"
            plan.cells.append({"kind": "student", "grade_id": gid, "source": cell.source, "label": where})

    for cell in anchored[None]:
        add(cell)
    for gid in order:
        if gid in present:
            add(present[gid], gid)
            for extra in anchored.get(gid, []):
                add(extra)
        elif gid in assignment.tests:
            plan.preset[gid] = ("missing", "this test cell was deleted from the submission, so it was not run")
        elif expected[gid].get("solution"):
            plan.notes.append(f"the answer cell {gid!r} is missing")
    return plan


def assignment_cell_type(assignment: Assignment, gid: str) -> str:
    for cell in assignment.release_cells:
        if _meta(cell).get("grade_id") == gid:
            return cell.cell_type
    return "code"
