"""Build `release/` from `source/` with nbgrader's generate_assignment.

The student version of every assignment is generated, never edited: solutions
become stubs, hidden tests disappear, outputs are cleared. Generation happens in
a scratch course directory so that `--check` can compare the result with what
is committed without touching the working tree.
"""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import ROOT, ensure_tools_on_path, skip_slow_optional_imports

skip_slow_optional_imports()
import nbformat  # noqa: E402 - after the line above


def assignment_ids(root: Path = ROOT) -> list[str]:
    return sorted(p.parent.name for p in (root / "source").glob("*/*.ipynb") if p.stem == p.parent.name)


def course_config(course_root: Path, db_path: Path):
    """The nbgrader settings of a scratch course directory (the same as nbgrader_config.py's)."""
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(course_root)
    config.CourseDirectory.db_url = f"sqlite:///{db_path}"
    config.CourseDirectory.include = ["*.ipynb"]
    config.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    return config


def _nbgrader_api(course_root: Path):
    ensure_tools_on_path()
    from nbgrader.apps import NbGraderAPI

    return NbGraderAPI(config=course_config(course_root, course_root / "gradebook.db"))


def _normalise(path: Path) -> None:
    """Write a generated notebook in the same canonical form as source/ notebooks."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    text = nbformat.writes(nb)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def generate(assignments: list[str], out_release: Path) -> None:
    """Generate the release of `assignments` into `out_release/<id>/`."""
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        course = Path(tmp)
        for aid in assignments:
            shutil.copytree(
                ROOT / "source" / aid, course / "source" / aid, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
            )
        api = _nbgrader_api(course)
        for aid in assignments:
            result = api.generate_assignment(aid, force=True, create=True)
            if not result.get("success"):
                raise RuntimeError(f"nbgrader could not generate {aid}:\n{result.get('error')}\n{result.get('log')}")
            for nb in (course / "release" / aid).glob("*.ipynb"):
                _normalise(nb)
            dest = out_release / aid
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(course / "release" / aid, dest)


def _sync_sources(check: bool, assignments: list[str] | None = None) -> int:
    """Refresh generated cells; only the named assignments' notebooks when some are named."""
    paths = [str(ROOT / "source" / a / f"{a}.ipynb") for a in assignments or []]
    cmd = [sys.executable, str(ROOT / "tools" / "sync_notebooks.py")] + (["--check"] if check else []) + paths
    return subprocess.call(cmd)


def release(assignments: list[str] | None = None, check: bool = False) -> int:
    """Regenerate release/ (or, with `check`, report any difference). Returns an exit code."""
    all_ids = assignment_ids()
    named = list(assignments or [])
    assignments = named or all_ids
    unknown = sorted(set(assignments) - set(all_ids))
    if unknown:
        print(f"No such assignment in source/: {', '.join(unknown)}. Known: {', '.join(all_ids)}", file=sys.stderr)
        return 2
    if _sync_sources(check, named) != 0:
        return 1
    if not check:
        (ROOT / "release").mkdir(exist_ok=True)
        generate(assignments, ROOT / "release")
        for aid in assignments:
            print(f"released {aid} -> release/{aid}/")
        return 0
    with tempfile.TemporaryDirectory(prefix="course-release-check-") as tmp:
        fresh = Path(tmp)
        generate(assignments, fresh)
        problems = []
        for aid in assignments:
            committed = ROOT / "release" / aid
            if not committed.exists():
                problems.append(f"release/{aid}/ is missing")
                continue
            cmp = filecmp.dircmp(fresh / aid, committed)
            for name in cmp.left_only:
                problems.append(f"release/{aid}/{name} is missing")
            for name in cmp.right_only:
                problems.append(f"release/{aid}/{name} is not generated from source/")
            for name in cmp.common_files:
                if (fresh / aid / name).read_bytes() != (committed / name).read_bytes():
                    problems.append(f"release/{aid}/{name} differs from what source/ generates")
        stray = (
            sorted(p.name for p in (ROOT / "release").iterdir() if p.is_dir() and p.name not in all_ids)
            if (ROOT / "release").exists()
            else []
        )
        problems += [f"release/{s}/ has no source/{s}/" for s in stray]
        if problems:
            print("release/ is not what `make release` produces:", file=sys.stderr)
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            print("Run `make release` and commit the result.", file=sys.stderr)
            return 1
        print(f"release/ is up to date ({len(assignments)} assignments)")
        return 0
