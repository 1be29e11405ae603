"""How long every notebook of the course takes, top to bottom (spec §8).

Executes each lesson (`notebooks/*.ipynb`) and each source notebook
(`source/<id>/<id>.ipynb`) with nbclient and the `python3` kernel, one after
another, and prints a table of seconds per notebook against the 60 s budget,
and the total against the 8-minute budget of the whole course.

    python -m benchmarks notebooks            # every notebook
    python -m benchmarks.notebooks 03 04      # only the notebooks whose name contains 03 or 04

Returns 1 when a notebook raises an error (the table still lists every
notebook); a notebook over budget is flagged in the table but is not an
error, since the timing depends on the machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

NOTEBOOK_BUDGET_S = 60.0  # spec §8: each notebook, top to bottom, on a 2-core CPU
COURSE_BUDGET_S = 8 * 60.0  # spec §8: the whole course
CELL_TIMEOUT_S = 300  # a cell running longer than this is hung, not slow


def course_notebooks(root: Path = ROOT) -> list[Path]:
    return sorted((root / "notebooks").glob("*.ipynb")) + sorted((root / "source").glob("*/*.ipynb"))


def execute(path: Path, *, timeout: int = CELL_TIMEOUT_S):
    """Execute one notebook top to bottom in its own folder; return (executed notebook, seconds).

    Raises nbclient's error when a cell fails. Shared by this benchmark and
    tests/test_notebooks_execute.py.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    # The kernel process's own stderr (e.g. ipykernel's notice about TCP) is not
    # the notebook's: keep it out. Cell output, stderr streams included, is unaffected.
    client.execute(stderr=subprocess.DEVNULL)
    return nb, time.perf_counter() - start


def run_notebook(path: Path, *, timeout: int = CELL_TIMEOUT_S) -> tuple[float, str | None]:
    """Execute one notebook; return (seconds, error or None)."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    start = time.perf_counter()
    error = None
    try:
        execute(path, timeout=timeout)
    except CellExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}"[:200]
    except CellTimeoutError:
        error = f"a cell ran past {timeout} s"
    except DeadKernelError as exc:
        error = f"the kernel died: {exc}"[:200]
    return time.perf_counter() - start, error


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("only", nargs="*", help="run only notebooks whose file name contains one of these")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))

    # The same quiet, headless settings as the test suite and the Makefile.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")

    paths = [p for p in course_notebooks() if not args.only or any(s in p.name for s in args.only)]
    if not paths:
        print("no notebooks found under notebooks/ or source/" + (f" matching {args.only}" if args.only else ""))
        return 0

    width = max(len(p.relative_to(ROOT).as_posix()) for p in paths)
    print(f"{'notebook':<{width}}  {'seconds':>8}  {'budget':>7}  status", flush=True)
    total, failures, over = 0.0, 0, 0
    for path in paths:
        name = path.relative_to(ROOT).as_posix()
        seconds, error = run_notebook(path)
        total += seconds
        if error:
            failures += 1
            status = f"ERROR {error}"
        elif seconds > NOTEBOOK_BUDGET_S:
            over += 1
            status = f"over budget ({seconds / NOTEBOOK_BUDGET_S:.2f}x)"
        else:
            status = f"ok ({seconds / NOTEBOOK_BUDGET_S:.0%} of budget)"
        print(f"{name:<{width}}  {seconds:8.1f}  {NOTEBOOK_BUDGET_S:7.0f}  {status}", flush=True)
    course_status = "ok" if total <= COURSE_BUDGET_S else "over budget"
    print(
        f"{'total (' + str(len(paths)) + ' notebooks)':<{width}}  {total:8.1f}  {COURSE_BUDGET_S:7.0f}  "
        f"{course_status} ({total / COURSE_BUDGET_S:.0%} of the 8-minute course budget)"
    )
    print(f"{failures} notebook(s) failed, {over} over the {NOTEBOOK_BUDGET_S:.0f} s budget")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
