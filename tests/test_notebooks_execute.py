"""Every lesson and every source notebook runs top to bottom, cleanly.

"Cleanly" means: no error, and nothing on stderr (nbgrader and learners both
trip over stderr noise), and no cell hangs (a per-cell timeout). Speed itself
is measured by `make bench` (benchmarks/notebooks.py, which runs notebooks the
same way), not asserted here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.notebooks import course_notebooks, execute

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = course_notebooks(ROOT)

#: A cell that runs longer than this is hung, not slow (the spec's whole-notebook budget is 60 s).
CELL_TIMEOUT_S = 120


def _stderr_outputs(nb) -> list[str]:
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                found.append(f"cell {i}: {out.get('text', '')[:500]}")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_runs_clean(path: Path, monkeypatch, record_property):
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb, seconds = execute(path, timeout=CELL_TIMEOUT_S)
    record_property("seconds", round(seconds, 1))
    print(f"{path.relative_to(ROOT)}: {seconds:.1f} s")
    stderr = _stderr_outputs(nb)
    assert not stderr, f"{path.name} wrote to stderr:\n" + "\n".join(stderr)
