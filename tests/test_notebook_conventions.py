"""The rules every notebook follows, checked on the files themselves.

nbgrader metadata is invisible in most diffs, so reviewers rely on this file:
outputs stripped; setup and badge cells generated from course.toml; release/
exactly what `make release` makes; every test cell with a one-line docstring,
points, a `test_<exercise>` grade_id and hidden tests; no reusable code in
lessons.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOURCES = sorted((ROOT / "source").glob("*/*.ipynb"))
RELEASES = sorted((ROOT / "release").glob("*/*.ipynb"))
ALL = LESSONS + SOURCES + RELEASES
ids = lambda p: str(p.relative_to(ROOT))


def _nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_outputs_are_stripped(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts; run `make sync`"


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_notebook_is_valid(path):
    nbformat.validate(nbformat.read(path, as_version=4))


def test_generated_cells_and_readme_are_in_sync():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "sync_notebooks.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_release_is_generated_from_source():
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "release", "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", LESSONS + SOURCES, ids=ids)
def test_setup_cell_comes_first(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), (
        f"{path.name}: the first cell is the title (a '# ' heading)"
    )
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and "colab-setup" in code[0].metadata.get("tags", []), (
        f"{path.name}: the first code cell must be the generated setup cell"
    )


def _defines(source: str) -> list[str]:
    try:
        tree = ast.parse(
            "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
        )
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


@pytest.mark.parametrize("path", LESSONS, ids=ids)
def test_lessons_define_no_reusable_code(path):
    nb = nbformat.read(path, as_version=4)
    defined = [name for c in nb.cells if c.cell_type == "code" for name in _defines(c.source)]
    assert not defined, f"{path.name} defines {defined}: reusable code belongs in utils/"


@pytest.mark.parametrize("path", SOURCES, ids=ids)
def test_exercise_cells_follow_the_contract(path):
    nb = nbformat.read(path, as_version=4)
    stem = path.stem
    assert path.parent.name == stem, "one notebook per assignment, named after it"
    solutions, tests = {}, {}
    for i, cell in enumerate(nb.cells):
        meta = _nbg(cell)
        if cell.cell_type == "code" and not meta.get("solution"):
            defined = _defines(cell.source)
            assert not defined, f"{stem} cell {i} defines {defined} outside a solution cell: put it in utils/"
        if not meta:
            continue
        gid = meta.get("grade_id", "")
        if meta.get("solution") and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, (
                f"{stem}/{gid}: solution cell without BEGIN/END SOLUTION markers"
            )
            assert not meta.get("grade"), f"{stem}/{gid}: solution and test are separate cells"
            solutions[gid] = cell
        elif meta.get("grade") and cell.cell_type == "code":
            assert gid.startswith("test_"), f"{stem}/{gid}: test cell grade_ids start with test_"
            assert meta.get("points", 0) > 0, f"{stem}/{gid}: a test cell carries points"
            assert meta.get("locked"), f"{stem}/{gid}: test cells are locked"
            first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
            assert first.startswith('"""') and first.endswith('"""') and len(first) > 6, (
                f"{stem}/{gid}: a test cell opens with a one-line docstring"
            )
            assert "### BEGIN HIDDEN TESTS" in cell.source and "### END HIDDEN TESTS" in cell.source, (
                f"{stem}/{gid}: every test cell has hidden checks"
            )
            assert f'"{gid}"' in cell.source and f"points={meta['points']}" in cell.source, (
                f'{stem}/{gid}: wrap the checks in `with exercise("{gid}", points={meta["points"]}):`'
            )
            tests[gid] = cell
    for gid in tests:
        exercise = gid[len("test_") :].split("__", 1)[0]
        assert exercise in solutions, f"{stem}/{gid}: no solution cell with grade_id {exercise!r}"
    for name in solutions:
        assert any(t[len("test_") :].split("__", 1)[0] == name for t in tests), (
            f"{stem}/{name}: a solution with no test cell"
        )
    assert len(set(tests)) == len(tests), f"{stem}: duplicate grade_ids"


# ----------------------------------------------------------------------------- issue 11: one evaluation protocol


def _validation_arguments(source: str) -> list[str]:
    """The text of every `validation=...` argument (or validation_data=) in a code cell."""
    found = []
    for keyword in ("validation=", "validation_data="):
        start = source.find(keyword)
        while start != -1:
            depth, end = 0, start + len(keyword)
            while end < len(source):
                ch = source[end]
                if ch in "([{":
                    depth += 1
                elif ch in ")]}":
                    if depth == 0:
                        break
                    depth -= 1
                elif ch == "," and depth == 0:
                    break
                end += 1
            found.append(source[start:end])
            start = source.find(keyword, end)
    return found


@pytest.mark.parametrize("path", LESSONS + SOURCES, ids=ids)
def test_no_choice_reads_the_test_split(path):
    """Epochs and early stopping are chosen on validation data: no training call watches the test split."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for argument in _validation_arguments(cell.source):
            assert "test" not in argument, (
                f"{path.name} cell {i}: `{argument}` watches the test split while training; "
                "choose on validation data and read the test split once, at the end"
            )
