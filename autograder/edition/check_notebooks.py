"""Run every notebook of the course once, top to bottom, as `make test` does in the student edition.

    python tools/check_notebooks.py            # every lesson and every exercise notebook
    python tools/check_notebooks.py 01 03      # only the notebooks whose file name contains 01 or 03

A lesson must run without an error and without anything on stderr. An exercise notebook runs with its
stubs (`raise NotImplementedError()`) still in place: it passes when every error it shows comes from an
unanswered exercise (a NotImplementedError, or a name that only an answer cell defines), so a broken
notebook or library shows up while an untouched exercise does not. Once you have written an answer, its
test cell prints [PASS] or [FAIL] as usual. The `utils` of this folder is the one the notebooks import.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CELL_TIMEOUT_S = 300


def notebooks(only: list[str]) -> list[Path]:
    found = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "release").glob("*/*.ipynb"))
    return [p for p in found if not only or any(o in p.name for o in only)]


def _answer_words(nb) -> set[str]:
    """The words of the answer cells (stubs included: `# Set answer_x to ...`): the names only an answer defines."""
    words = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", cell.source))
    return words


def _stubbed(name: str, value: str, answers: set[str]) -> bool:
    """An error that an unanswered exercise explains."""
    if name == "NotImplementedError":
        return True
    if name == "NameError":
        missing = re.search(r"name '([^']+)' is not defined", value)
        return bool(missing and missing.group(1) in answers)
    # a check that expected another error (check_raises) and met the stub's NotImplementedError instead,
    # or a form check that met a structured answer still holding the release's "..." placeholders
    return name in ("CheckFailure", "AssertionError") and ("raised NotImplementedError" in value or "'...'" in value)


def run(path: Path) -> tuple[float, list[str], int]:
    """Execute one notebook; return (seconds, problems, number of cells that stopped at a stub)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    exercise = path.parent.parent.name == "release"
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        allow_errors=exercise,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    problems: list[str] = []
    try:
        client.execute(stderr=subprocess.DEVNULL)
    except Exception as exc:  # reported, not raised: the other notebooks still run
        problems.append(f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"[:300])
    answers = _answer_words(nb) if exercise else set()
    stubbed = 0
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr" and not exercise:
                problems.append(f"cell {index} wrote to stderr: {out.get('text', '')[:200]}")
            if out.get("output_type") != "error":
                continue
            name, value = out.get("ename", ""), out.get("evalue", "")
            if exercise and _stubbed(name, value, answers):
                stubbed += 1
            else:
                problems.append(f"cell {index}: {name}: {value}"[:300])
    return time.perf_counter() - start, problems, stubbed


def main(argv=None) -> int:
    only = list(sys.argv[1:] if argv is None else argv)
    # the notebooks import this folder's utils, whatever else is installed
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    os.environ.setdefault("MPLBACKEND", "Agg")
    failed = 0
    for path in notebooks(only):
        seconds, problems, stubbed = run(path)
        rel = path.relative_to(ROOT).as_posix()
        note = f", {stubbed} cell(s) stopped at an unanswered exercise" if stubbed else ""
        print(f"{'ok  ' if not problems else 'FAIL'} {rel} ({seconds:.1f} s{note})", flush=True)
        for problem in problems:
            print(f"       {problem}")
        failed += bool(problems)
    if failed:
        print(f"{failed} notebook(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
