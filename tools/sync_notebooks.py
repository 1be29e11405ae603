"""Generate the parts of notebooks and README that come from `course.toml`.

The repository address lives in one place, `course.toml`. From it this script
writes, in every notebook of `notebooks/` and `source/`:

- the "Open in Colab" badge cell (tag `colab-badge`), placed after the title;
- the setup cell (tag `colab-setup`): on Colab it installs the course's `utils`
  from the repository, elsewhere it checks that the course's own `utils` is the
  one imported; then `utils.setup_notebook(...)` seeds and quiets frameworks;

and in README.md the course map between the `course-map` markers. It also
strips outputs and execution counts.

    python tools/sync_notebooks.py          # rewrite what is out of date
    python tools/sync_notebooks.py --check  # exit 1 if anything would change (CI)
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
MAP_START, MAP_END = "<!-- course-map:start -->", "<!-- course-map:end -->"


def load_course() -> dict:
    with open(ROOT / "course.toml", "rb") as fh:
        return tomllib.load(fh)


def framework_of(stem: str) -> str | None:
    if stem.endswith("_pytorch"):
        return "torch"
    if stem.endswith("_tensorflow"):
        return "tensorflow"
    return None


def colab_url(course: dict, path: str) -> str:
    repo = course["course"]["repository"].rstrip("/")
    owner_repo = repo.split("github.com/", 1)[1]
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{course['course']['branch']}/{path}"


def badge(course: dict, path: str) -> str:
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(course, path)})"


def setup_source(course: dict, stem: str) -> str:
    c = course["course"]
    fw = framework_of(stem)
    fw_arg = f'"{fw}"' if fw else "None"
    return f'''# Setup. Generated from course.toml by tools/sync_notebooks.py: edit those, not this cell.
# On Google Colab this installs the course's `utils` package and nothing else
# (Colab's own torch and tensorflow are used as they are). Elsewhere it checks
# that `utils` is the course's own library.
import os, sys
COURSE_REPOSITORY = os.environ.get("COURSE_REPOSITORY", "{c["repository"]}")
if "google.colab" in sys.modules or os.environ.get("COURSE_FORCE_COLAB") == "1":
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    f"git+{{COURSE_REPOSITORY}}@{c["branch"]}"], check=True)
try:
    import utils
    assert getattr(utils, "COURSE", None) == "{c["id"]}", getattr(utils, "__file__", "?")
except ImportError:
    raise ImportError("The course library `utils` is not installed. From the course folder run "
                      "`make lab`, or: pip install git+" + COURSE_REPOSITORY) from None
except AssertionError as stray:
    raise ImportError(f"The `utils` found at {{stray}} is not this course's library: another module "
                      "named `utils` shadows it. Rename that module, or start Jupyter with `make lab`.") from None
course_env = utils.setup_notebook(seed=0, framework={fw_arg})'''


def _tagged(nb, tag: str):
    for i, cell in enumerate(nb.cells):
        if tag in cell.get("metadata", {}).get("tags", []):
            return i
    return None


def sync_notebook(path: Path, course: dict) -> bool:
    """Update one notebook in place; return True when it changed."""
    original = path.read_text(encoding="utf-8")
    nb = nbformat.reads(original, as_version=4)
    stem = path.stem
    rel = path.relative_to(ROOT).as_posix()
    if rel.startswith("source/"):
        rel = "release/" + rel[len("source/") :]  # students open the release version

    badge_md = badge(course, rel)
    i = _tagged(nb, "colab-badge")
    if i is None:
        cell = nbformat.v4.new_markdown_cell(badge_md, metadata={"tags": ["colab-badge"]})
        nb.cells.insert(1 if nb.cells else 0, cell)
    else:
        nb.cells[i].source = badge_md

    code = setup_source(course, stem)
    j = _tagged(nb, "colab-setup")
    if j is None:
        cell = nbformat.v4.new_code_cell(code, metadata={"tags": ["colab-setup"]})
        k = _tagged(nb, "colab-badge")
        # after the badge and the "what you will learn" markdown that follows it
        pos = k + 1
        while pos < len(nb.cells) and nb.cells[pos].cell_type == "markdown" and pos <= k + 1:
            pos += 1
        nb.cells.insert(pos, cell)
    else:
        nb.cells[j].source = code

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
    new = nbformat.writes(nb)
    new += "" if new.endswith("\n") else "\n"
    if new != original:
        path.write_text(new, encoding="utf-8")
        return True
    return False


def course_map(course: dict) -> str:
    rows = [
        "| topic | lesson | exercises | what it teaches | time |",
        "| --- | --- | --- | --- | --- |",
    ]
    for t in course["topics"]:
        stem = t["stem"]
        lesson = f"notebooks/{stem}.ipynb"
        exercise = f"release/{stem}/{stem}.ipynb"
        lesson_cell = f"[lesson]({lesson}) {badge(course, lesson)}" if (ROOT / lesson).exists() else "coming soon"
        ex_cell = (
            f"[exercises]({exercise}) {badge(course, exercise)}"
            if (ROOT / "source" / stem / f"{stem}.ipynb").exists()
            else "coming soon"
        )
        rows.append(f"| `{stem}` | {lesson_cell} | {ex_cell} | {t['teaches']} | {t['minutes']} min |")
    return "\n".join(rows)


def sync_readme(course: dict) -> bool:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    if MAP_START not in text or MAP_END not in text:
        return False
    head, rest = text.split(MAP_START, 1)
    _, tail = rest.split(MAP_END, 1)
    new = f"{head}{MAP_START}\n{course_map(course)}\n{MAP_END}{tail}"
    if new != text:
        readme.write_text(new, encoding="utf-8")
        return True
    return False


def notebook_paths() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "source").glob("*/*.ipynb"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything is out of date")
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks to sync (default: all)")
    args = parser.parse_args(argv)
    course = load_course()
    paths = [p.resolve() for p in args.paths] or notebook_paths()
    stale = []
    for path in paths:
        before = path.read_text(encoding="utf-8")
        if sync_notebook(path, course):
            stale.append(path.relative_to(ROOT).as_posix())
            if args.check:
                path.write_text(before, encoding="utf-8")
    readme_before = (ROOT / "README.md").read_text(encoding="utf-8") if (ROOT / "README.md").exists() else None
    if not args.paths and readme_before is not None and sync_readme(course):
        stale.append("README.md")
        if args.check:
            (ROOT / "README.md").write_text(readme_before, encoding="utf-8")
    if args.check and stale:
        print("Out of date (run `python tools/sync_notebooks.py`, or `make release`):", file=sys.stderr)
        for s in stale:
            print(f"  {s}", file=sys.stderr)
        return 1
    for s in stale:
        print(f"updated {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
